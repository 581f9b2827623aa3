"""Node plumbing shared by this package's nodes: declaring parameters with a default,
a description and a check, and running a node until shutdown.

Every parameter is declared the same way, and a bad value stops the node with a message
naming the parameter and what it accepts.
"""

import sys

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.executors import ExternalShutdownException


class ParameterError(ValueError):
    """A node parameter has a value the node cannot work with."""


def declare(node, name, default, description, check=None, accepts=''):
    """Declare name on node and return its value; raise ParameterError if check rejects it.

    check(value) -> bool says whether the value is usable; accepts describes valid values
    for the error message (e.g. 'a rate in (0, 1000] Hz').
    """
    node.declare_parameter(name, default, ParameterDescriptor(description=description))
    value = node.get_parameter(name).value
    if check is not None and not check(value):
        raise ParameterError(f'parameter {name}={value!r} is invalid: expected {accepts}; '
                             'fix it on the command line or in config/mirror_calibration.yaml')
    return value


def spin_node(factory, args=None, errors=(ParameterError,), executor=None):
    """Run the node factory() makes until shutdown; exit 2 with its message on a setup error.

    errors are the exceptions that mean "the node cannot start as configured" (bad
    parameters, a camera that does not open, ...): they end the process with a one-line
    reason instead of a traceback. executor() makes the executor (default: single-threaded).
    """
    rclpy.init(args=args)
    node = None
    exit_code = 0
    try:
        node = factory()
        rclpy.spin(node, executor=executor() if executor else None)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except errors as exc:
        print(f'[{getattr(factory, "__name__", "node")}] cannot start: {exc}', file=sys.stderr)
        exit_code = 2
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()
    if exit_code:
        sys.exit(exit_code)
