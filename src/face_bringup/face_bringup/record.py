"""face-record: record live topics of the face into a rosbag2 MCAP bag.

    face-record --topics /audio /face/landmarks /face/joint_states --out run1 [--duration 10]

Each topic is subscribed raw (CDR bytes, nothing decoded) as soon as it appears on the
graph, best effort (which matches reliable and best-effort publishers alike) with
RECORD_DEPTH messages of history, so a recorder the machine's load holds up for a while
loses nothing it was sent (with sensor-data depth 5, a loaded run recorded 16 of 180 audio
chunks). Every message is written with its receive time. Ctrl-C, SIGTERM
or --duration end the recording; the bag is closed properly in every case, so nothing
received is lost.
"""

import argparse
import importlib
import signal
import sys
import time

from face_bringup.bag import BagError, BagWriter

RECORD_DEPTH = 1000  # messages per topic a recorder may fall behind by
DISCOVERY_PERIOD = 0.2  # [s] between looks for topics not yet recorded


def _stop_like_ctrl_c(signum, frame):
    raise KeyboardInterrupt


class Recorder:
    """Subscribes to topics as they appear and writes what arrives into a BagWriter."""

    def __init__(self, node, topics, writer):
        self.node, self.topics, self.writer = node, list(topics), writer
        self.subscriptions = {}

    @staticmethod
    def qos():
        from rclpy.qos import QoSProfile, ReliabilityPolicy

        return QoSProfile(depth=RECORD_DEPTH, reliability=ReliabilityPolicy.BEST_EFFORT)

    def discover(self):
        """Subscribe to every wanted topic now on the graph; returns those still missing."""
        from rosbags.typesys.store import TypesysError

        for topic, types in self.node.get_topic_names_and_types():
            if topic not in self.topics or topic in self.subscriptions:
                continue
            msgtype = types[0]
            try:
                self.writer.add_topic(topic, msgtype)
            except TypesysError as exc:
                raise BagError(f'{topic} has type {msgtype}, unknown to the bag writer') from exc
            self.subscriptions[topic] = self.node.create_subscription(
                _message_class(msgtype), topic,
                lambda raw, t=topic: self.writer.write(t, time.time_ns(), raw),
                self.qos(), raw=True)
        return [t for t in self.topics if t not in self.subscriptions]


def _message_class(msgtype):
    """The rclpy class of 'pkg/msg/Name' (rosidl_runtime_py is not among the wheels)."""
    package, kind, name = msgtype.split('/')
    return getattr(importlib.import_module(f'{package}.{kind}'), name)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog='face-record',
                                     description='Record face topics into an MCAP bag.')
    parser.add_argument('--topics', nargs='+', required=True,
                        help='topics to record, e.g. /audio /face/landmarks /face/joint_states')
    parser.add_argument('--out', required=True, help='bag folder to create (must not exist)')
    parser.add_argument('--duration', type=float, default=0.0,
                        help='[s] stop after this long; 0 = until Ctrl-C')
    return parser.parse_args(argv)


def main(argv=None):
    import rclpy
    from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor

    args = parse_args(argv)
    topics = [t if t.startswith('/') else '/' + t for t in args.topics]
    try:
        writer = BagWriter(args.out)
    except BagError as error:
        print(f'face-record: {error}', file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, _stop_like_ctrl_c)
    rclpy.init()
    node = rclpy.create_node('face_record')
    recorder = Recorder(node, topics, writer)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    started = time.monotonic()
    missing_reported = 0.0
    next_discovery = 0.0
    code = 0
    try:
        while rclpy.ok():
            now = time.monotonic() - started
            # Asking the graph for its topics is slow: a few times a second, not per message
            # (per message, a recorder on a loaded machine fell seconds behind 230 msgs/s).
            if now >= next_discovery:
                subscribed = set(recorder.subscriptions)
                missing = recorder.discover()
                for topic in sorted(set(recorder.subscriptions) - subscribed):
                    # One line per topic as its recording starts, for supervisors and tests.
                    print(f'face-record: recording {topic}', flush=True)
                if missing and now - missing_reported > 5.0:
                    node.get_logger().info(f'waiting for {", ".join(missing)} to appear')
                    missing_reported = now
                next_discovery = now + DISCOVERY_PERIOD
            if args.duration and now >= args.duration:
                break
            executor.spin_once(timeout_sec=0.05)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except BagError as error:
        print(f'face-record: {error}', file=sys.stderr)
        code = 2
    except Exception:
        # Ctrl-C between rclpy.ok() and spin_once: rclpy's signal handler has shut the
        # context, and the wait set cannot be made (an RCLError). That is a stop, not a
        # failure; anything else is.
        if rclpy.ok():
            raise
    finally:
        writer.close()
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        counts = ', '.join(f'{t}: {n}' for t, n in writer.counts.items()) or 'nothing'
        print(f'face-record: wrote {args.out} ({counts})', flush=True)
    return code


if __name__ == '__main__':
    sys.exit(main())
