"""face-bringup: start one of the face's node graphs, as `ros2 launch` would, and stop it cleanly.

`ros2 launch` cannot be installed here (no launch/launch_ros wheels), so this starts the
nodes of face_common.graphs as separate processes from their console scripts, with the
same YAML files and arguments as launch/*.launch.py. Each node's output is prefixed with
its name. Ctrl-C (or SIGTERM) stops every node: SIGINT first so each one shuts down
cleanly (the driver eases to neutral and turns torque off), SIGKILL after a timeout. If a
node dies, the others are stopped too and the exit code says so.

--composed runs the same nodes with the same arguments in this one process on a
multi-threaded executor instead (face_bringup.composed).
"""

import argparse
import signal
import subprocess
import sys
import threading
import time

from face_common.graphs import GRAPHS, GraphError, graph, ros_arguments
from face_common.graphs import command as node_command
from face_common.node_processes import node_environment, stop_process_group

# A node that cannot be started: the text says which and why.
BringupError = GraphError


class RunningNode:
    def __init__(self, spec, command):
        self.spec = spec
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True,
                                        start_new_session=True, env=node_environment())
        self._echo = threading.Thread(target=self._prefix_output, daemon=True)
        self._echo.start()

    def _prefix_output(self):
        for line in self.process.stdout:
            sys.stdout.write(f'[{self.spec.executable}] {line}')
            sys.stdout.flush()

    def stop(self, timeout):
        code = stop_process_group(self.process, timeout)
        self._echo.join(timeout=1.0)
        return code


class Bringup:
    """A running graph: Bringup(specs, config_dir).start(), .wait(), .stop()."""

    def __init__(self, specs, config_dir, namespace=''):
        self.commands = [(spec, node_command(spec, config_dir, namespace)) for spec in specs]
        self.nodes = []

    def start(self):
        for spec, command in self.commands:
            self.nodes.append(RunningNode(spec, command))
        return self

    def first_exited(self):
        """The first node that is no longer running, or None."""
        return next((n for n in self.nodes if n.process.poll() is not None), None)

    def stop(self, timeout=10.0):
        """Stop every node, last started first; returns {executable: exit code}."""
        return {node.spec.executable: node.stop(timeout) for node in reversed(self.nodes)}

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


def _stop_like_ctrl_c(signum, frame):
    """SIGINT or SIGTERM (from a person, a supervisor or a test) stops the graph."""
    raise KeyboardInterrupt


def parse_args(argv=None):
    from face_common.workspace import config_dir

    parser = argparse.ArgumentParser(
        prog='face-bringup', description='Start a node graph of the face (as ros2 launch would).')
    parser.add_argument('graph', choices=GRAPHS, nargs='?', default='face_sim',
                        help='which graph: the robot (face), the simulated head (face_sim) '
                             'or babbling calibration (calibrate); default face_sim')
    parser.add_argument('--namespace', default='', help='namespace for every node and topic')
    parser.add_argument('--use-sim', action='store_true',
                        help='emulated bus and simulated head instead of hardware')
    parser.add_argument('--config-dir', default=str(config_dir()),
                        help='folder with the config/*.yaml parameter files')
    parser.add_argument('--lip-model', default='', help='lip model checkpoint ("" = default)')
    parser.add_argument('--self-model', default='', help='self-model checkpoint ("" = default)')
    parser.add_argument('--audio-topic', default='audio', help='topic the speech audio is on')
    parser.add_argument('--stop-timeout', type=float, default=10.0,
                        help='[s] per node to shut down cleanly before it is killed')
    parser.add_argument('--composed', action='store_true',
                        help='run every node in this one process on a multi-threaded executor '
                             'instead of one process per node')
    parser.add_argument('--threads', type=int, default=0,
                        help='executor threads for --composed (0 = number of nodes + 2)')
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    if not 0 <= args.threads <= 64:
        print('face-bringup: --threads must be in [0, 64]', file=sys.stderr)
        return 2
    try:
        specs = graph(args.graph, use_sim=args.use_sim, lip_model=args.lip_model,
                      self_model=args.self_model, audio_topic=args.audio_topic)
        if args.composed:
            composed = [(spec, ros_arguments(spec, args.config_dir, args.namespace))
                        for spec in specs]
        else:
            bringup = Bringup(specs, args.config_dir, args.namespace)
    except (BringupError, ValueError) as error:
        print(f'face-bringup: {error}', file=sys.stderr)
        return 2
    # Ctrl-C and SIGTERM stop the graph even where SIGINT came ignored (a background job of a
    # non-interactive shell starts with SIGINT ignored, and Python then raises no
    # KeyboardInterrupt: face-bringup would sit through Ctrl-C until it was killed).
    signal.signal(signal.SIGINT, _stop_like_ctrl_c)
    signal.signal(signal.SIGTERM, _stop_like_ctrl_c)
    if args.composed:
        from face_bringup.composed import run_composed

        print(f'face-bringup: starting {args.graph} composed', flush=True)
        return run_composed(composed, args.threads)
    names = ', '.join(spec.executable for spec in specs)
    print(f'face-bringup: starting {args.graph}: {names}', flush=True)
    bringup.start()
    code = 0
    try:
        while (dead := bringup.first_exited()) is None:
            time.sleep(0.2)
        print(f'face-bringup: {dead.spec.executable} exited with code '
              f'{dead.process.returncode}; stopping the others', file=sys.stderr, flush=True)
        code = 1
    except KeyboardInterrupt:
        print('face-bringup: stopping', flush=True)
    finally:
        codes = bringup.stop(args.stop_timeout)
        print('face-bringup: stopped ' + ', '.join(f'{n} ({c})' for n, c in codes.items()),
              flush=True)
    return code


if __name__ == '__main__':
    sys.exit(main())
