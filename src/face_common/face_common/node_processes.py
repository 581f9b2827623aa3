"""Starting and stopping node processes from their console scripts (no launch here).

face-bringup, mirror-eval, mirror-lag, lip-e2e-eval, the benchmarks and the tests need
running nodes; launch/launch_ros are not installable here, so this starts each node as a
child process (one math thread, an optional nice value) and always stops it again: SIGINT
first (clean rclpy shutdown), then SIGKILL to its process group if it does not exit in
time. Plain Python, no rclpy. Which nodes make up a graph is said elsewhere
(face_common.graphs, the one definition of every graph).
"""

import contextlib
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from face_common.scheduling import set_niceness

# One math thread per node: on a robot's shared computer each node's numpy/torch/OpenCV
# spinning up a thread per core would have every node fight every other for all the cores.
ONE_MATH_THREAD = {'OMP_NUM_THREADS': '1', 'OPENBLAS_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'}


def node_environment():
    """The environment a node process starts with: this one, with one math thread."""
    return {**os.environ, **ONE_MATH_THREAD}


class NodeStartError(RuntimeError):
    """A node's console script is missing or the node exited during start-up."""


def find_script(script):
    """Path of a console script: the running venv's own first, then PATH."""
    local = pathlib.Path(sys.executable).parent / script
    if local.exists():
        return str(local)
    found = shutil.which(script)
    if found is None:
        raise NodeStartError(f'console script {script!r} not found; run `make setup` so the '
                             'package that provides it is installed')
    return found


def stop_process_group(process, timeout=10.0):
    """Stop a node started with start_new_session=True and return its exit code.

    SIGINT first, so rclpy shuts down cleanly (the driver eases to neutral, torque off);
    SIGKILL after timeout [s]. The whole group, because the venv's ROS bootstrapper may run
    the node as a child of the started process.
    """
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode


class NodeProcess:
    """One node process: NodeProcess('observer_node', {'layout': 'face_subset_v1'}), or
    NodeProcess('name', command=[...]) for a command line built elsewhere."""

    def __init__(self, script, parameters=None, params_file=None, command=None, nice=0):
        """nice: niceness to start the process with (negative needs CAP_SYS_NICE; where
        not permitted the process starts with the caller's)."""
        self.script = script
        if command is None:
            command = [find_script(script), '--ros-args']
            if params_file is not None:
                command += ['--params-file', str(params_file)]
            for name, value in (parameters or {}).items():
                if isinstance(value, bool):
                    value = 'true' if value else 'false'
                command += ['-p', f'{name}:={value}']
        self.command = command
        self._log = tempfile.TemporaryFile(mode='w+')
        self.process = subprocess.Popen(command, stdout=self._log, stderr=subprocess.STDOUT,
                                        start_new_session=True, env=node_environment(),
                                        preexec_fn=(lambda: set_niceness(nice)) if nice else None)

    @property
    def pid(self):
        return self.process.pid

    def output(self):
        """Everything the node printed so far."""
        self._log.flush()
        self._log.seek(0)
        return self._log.read()

    def check_running(self):
        code = self.process.poll()
        if code is not None:
            raise NodeStartError(f'{self.script} exited with code {code}:\n'
                                 f'{self.output()[-3000:]}')

    def stop(self, timeout=10.0):
        """Stop the node (SIGINT, then SIGKILL) and return its exit code."""
        return stop_process_group(self.process, timeout)

    def kill(self):
        """Kill the node at once, as a crash would (SIGKILL, no clean-up)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def close(self):
        self.stop()
        self._log.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


@contextlib.contextmanager
def running_nodes(*specs):
    """Start nodes given as (script, parameters) pairs; stop every one of them on exit."""
    nodes = []
    try:
        for script, parameters in specs:
            nodes.append(NodeProcess(script, parameters))
        yield nodes
    finally:
        for node in reversed(nodes):
            node.close()


def wait_for_processes(nodes, seconds):
    """Sleep while the nodes start, failing early if one of them exits."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for node in nodes:
            node.check_running()
        time.sleep(0.1)

