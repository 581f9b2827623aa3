"""face-bringup --composed: every node of a graph in this one process, on one executor.

The nodes are the same classes their console scripts run, made with the same ROS arguments
(params file, overrides, remappings, namespace) as node-local arguments, and spun by one
MultiThreadedExecutor, so messages between them skip the process boundary (they still go
through the DDS layer: rclpy has no intra-process shortcut). Shutdown order is the reverse of
the start order and runs each node's own clean-up: the driver eases to neutral, turns torque
off and stops its emulator; the camera and observer release their devices and models.

Python threads share one interpreter lock, so rendering, the face tracker and the models
take turns where separate processes would run side by side on two cores; this mode saves
memory and start-up time (one interpreter, one DDS participant set-up) rather than CPU,
and the separate processes stay the default.
"""

import importlib
import signal
import sys

# [s] how long a thread may hold the interpreter lock while others wait. Python's 5 ms
# default starves the lip policy: each of its ~100 torch calls per 10 ms frame gives the
# lock up and waits up to 5 ms to get it back from the rendering and driver threads
# (measured: 461 ms per frame, 3 of 45 audio chunks processed; at 0.2 ms: 3.3 ms per frame,
# every chunk processed).
SWITCH_INTERVAL = 0.0002


class ComposeError(RuntimeError):
    """A node of the graph could not be made; the text says which and why."""


def node_factory(spec):
    """The rclpy Node class named by spec.node_class ('module:Class')."""
    module_name, _, class_name = spec.node_class.partition(':')
    if not module_name or not class_name:
        raise ComposeError(f'{spec.executable} names no node class; it cannot be composed')
    try:
        return getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise ComposeError(f'{spec.node_class} for {spec.executable} cannot be imported '
                           f'({error}); run `make setup`') from error


def stop_node(node):
    """Run a node's own clean-up (as its main() would), then destroy it."""
    stop = getattr(node, 'stop', None)
    try:
        if callable(stop):
            stop()
        summary = getattr(node, 'summary', None)
        if callable(summary):
            print(f'{node.get_name()}: {summary()}', file=sys.stderr, flush=True)
    finally:
        node.destroy_node()


def run_composed(nodes_with_arguments, threads=0):
    """Make each (NodeSpec, ros arguments) node and spin them all until Ctrl-C or shutdown.

    Returns 0 after a clean stop, 2 when a node could not be made (the ones made before it
    are stopped again).
    """
    import rclpy
    from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

    rclpy.init()
    sys.setswitchinterval(SWITCH_INTERVAL)
    # The calibration node blocks one thread per babbling goal; leave room beside every node.
    threads = threads or len(nodes_with_arguments) + 2
    executor = MultiThreadedExecutor(num_threads=threads)
    made, code = [], 0
    try:
        for spec, arguments in nodes_with_arguments:
            factory = node_factory(spec)
            try:
                node = factory(cli_args=arguments)
            except Exception as error:  # a node's own start-up errors have many types
                raise ComposeError(f'{spec.executable} cannot start: {error}') from error
            made.append(node)
            executor.add_node(node)
        names = ', '.join(node.get_name() for node in made)
        print(f'face-bringup: composed {names} in one process, {threads} executor threads',
              flush=True)
        executor.spin()
    except ComposeError as error:
        print(f'face-bringup: {error}', file=sys.stderr, flush=True)
        code = 2
    except (KeyboardInterrupt, ExternalShutdownException):
        print('face-bringup: stopping', flush=True)
    finally:
        # A second Ctrl-C must not cut the driver's neutral pose and torque-off short.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        stopped = []
        for node in reversed(made):
            name = node.get_name()
            try:
                stop_node(node)
                stopped.append(name)
            except Exception as error:  # keep stopping the others
                print(f'face-bringup: stopping {name} failed: {error}', file=sys.stderr)
        executor.shutdown()
        rclpy.try_shutdown()
        if made:
            print('face-bringup: stopped ' + ', '.join(stopped), flush=True)
    return code
