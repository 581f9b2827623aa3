"""spin_node: the main() of every face node, from rclpy.init to rclpy.try_shutdown.

    def main(args=None):
        spin_node(FaceSimNode, args, errors=(ParameterError, PhotoError))

Runs the node factory() makes until shutdown (Ctrl-C or an external shutdown end it
quietly). The exceptions in `errors` mean "this node cannot start as configured" (a bad
parameter, a missing checkpoint, a camera that does not open): they end the process with
one line, `<name>: cannot start: <reason>`, and exit code failure_code instead of a
traceback. Hooks: started(node) once it is built (e.g. to apply its CPU scheduling and log
it), spin(node) instead of rclpy.spin, stopping(node) before destroy_node (e.g. torque
off, a summary), which may return a non-zero exit code.
"""

import sys

import rclpy
from rclpy.executors import ExternalShutdownException


def spin_node(factory, args=None, errors=(), *, name=None, executor=None, started=None,
              spin=None, stopping=None, failure_code=2):
    """Run factory()'s node until shutdown; exit failure_code on one of errors.

    executor: makes the executor for rclpy.spin (default single-threaded).
    """
    name = name or getattr(factory, '__name__', 'node')
    rclpy.init(args=args)
    node = None
    code = 0
    try:
        node = factory()
        if started is not None:
            started(node)
        if spin is not None:
            spin(node)
        else:
            rclpy.spin(node, executor=executor() if executor else None)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except errors as exc:
        print(f'{name}: cannot start: {exc}', file=sys.stderr)
        code = failure_code
    finally:
        if node is not None:
            if stopping is not None:
                code = stopping(node) or code
            node.destroy_node()
        rclpy.try_shutdown()
    if code:
        sys.exit(code)
