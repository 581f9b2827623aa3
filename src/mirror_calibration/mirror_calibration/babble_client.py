"""mirror-babble: ask a running calibration_node to babble into a dataset.

    mirror-babble DATASET --samples 2000 [--seed 0] [--groups jaw lips] [--graph]

--graph starts the simulated mirror graph first (driver on the emulated bus, face_sim,
observer, calibration_node) and stops it afterwards. Progress shows as a bar; the last
printed line is the action result as JSON.
"""

import argparse
import json
import sys
import time

import rclpy
from rclpy.action import ActionClient
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from tqdm import tqdm

from face_common.node_processes import NodeStartError
from face_msgs.action import Babble
from mirror_calibration.node_graph import mirror_graph


class BabbleFailedError(RuntimeError):
    """The Babble goal was rejected, aborted or timed out."""


def run_babble(context, dataset_path, sample_count, seed=0, groups=(), transition_time=0.0,
               settle_timeout=0.0, server_timeout=30.0, timeout=None, on_feedback=None,
               stop_after=None):
    """Send one Babble goal and wait for its result (Babble.Result).

    stop_after(feedback) -> True cancels the goal (used to interrupt a session on purpose).
    """
    node = Node('babble_client', context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    client = ActionClient(node, Babble, 'face/babble')
    try:
        if not client.wait_for_server(timeout_sec=server_timeout):
            raise BabbleFailedError('no Babble action server on /face/babble; start '
                               'calibration_node (or pass --graph)')
        goal = Babble.Goal(sample_count=sample_count, dataset_path=str(dataset_path),
                           seed=seed, transition_time=transition_time,
                           settle_timeout=settle_timeout, groups=list(groups))
        cancel = []

        def feedback(message):
            if on_feedback:
                on_feedback(message.feedback)
            if stop_after and not cancel and stop_after(message.feedback):
                cancel.append(True)

        handle = _send_goal(executor, client, goal, feedback, server_timeout)
        if not handle.accepted:
            raise BabbleFailedError('calibration_node rejected the goal; its log says why')
        result_future = handle.get_result_async()
        deadline = None if timeout is None else time.monotonic() + timeout
        cancelled = False
        while not result_future.done():
            executor.spin_once(timeout_sec=0.1)
            if cancel and not cancelled:
                handle.cancel_goal_async()
                cancelled = True
            if deadline is not None and time.monotonic() > deadline:
                handle.cancel_goal_async()
                executor.spin_once(timeout_sec=0.5)
                raise BabbleFailedError(f'babbling did not finish within {timeout:g} s')
        return result_future.result().result
    finally:
        client.destroy()
        executor.shutdown()
        node.destroy_node()


def _send_goal(executor, client, goal, feedback, timeout, attempt_timeout=3.0):
    """The goal handle once a server answered.

    A server that died without a goodbye stays discovered for a while, so the client may
    see "a server" before the live one has matched it; a request sent then is lost. Each
    unanswered attempt is therefore repeated until timeout.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sent = client.send_goal_async(goal, feedback_callback=feedback)
        executor.spin_until_future_complete(sent, timeout_sec=attempt_timeout)
        if sent.done() and sent.result() is not None:
            return sent.result()
    raise BabbleFailedError(f'calibration_node did not answer the goal within {timeout:g} s')


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='mirror-babble', description=__doc__.split('\n')[0])
    parser.add_argument('dataset', help='dataset directory (created, or resumed if present)')
    parser.add_argument('--samples', type=int, required=True,
                        help='samples wanted in the dataset in total')
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--groups', nargs='*', default=['jaw', 'lips'],
                        help='actuator groups to babble (default: jaw lips; none = all)')
    parser.add_argument('--transition-time', type=float, default=0.0,
                        help='seconds per move (0 = the node default)')
    parser.add_argument('--graph', action='store_true',
                        help='start the simulated graph (driver, face_sim, observer, '
                        'calibration_node) for this session')
    args = parser.parse_args(argv)
    if args.samples < 1:
        parser.error('--samples must be at least 1')
    return args


def main(argv=None):
    args = parse_args(argv)
    rclpy.init()
    bar = tqdm(total=args.samples, desc='babbling', unit='sample', file=sys.stderr)

    def progress(feedback):
        bar.n = feedback.samples_total
        bar.refresh()

    try:
        if args.graph:
            with mirror_graph():
                result = run_babble(None, args.dataset, args.samples, args.seed, args.groups,
                                    args.transition_time, on_feedback=progress)
        else:
            result = run_babble(None, args.dataset, args.samples, args.seed, args.groups,
                                args.transition_time, on_feedback=progress)
    except (BabbleFailedError, NodeStartError) as exc:
        print(f'mirror-babble: {exc}', file=sys.stderr)
        return 2
    finally:
        bar.close()
        rclpy.try_shutdown()
    print(json.dumps({'success': result.success, 'message': result.message,
                      'samples_written': result.samples_written,
                      'samples_total': result.samples_total,
                      'frames_without_face': result.frames_without_face}))
    return 0 if result.success else 1


if __name__ == '__main__':
    sys.exit(main())
