"""Start and stop the bus emulator in its own process (for the driver's `port: sim`, the
benchmark and the tests)."""

import itertools
import json
import os
import select
import subprocess
import sys
import tempfile
import time

from .emulator import acknowledgement_path, fault_digest


class EmulatorError(RuntimeError):
    """The emulator process did not come up."""


class EmulatorProcess:
    """A running `face_motor_driver.emulator`; .port is the path to open: a symlink to its
    pty that follows the port when it comes back after a port_down_s fault."""

    def __init__(self, config_path, wire_time=False, baud=None, lag=None, fault_file='',
                 seed=0, startup_timeout=15.0):
        self._folder = tempfile.TemporaryDirectory(prefix='face_bus_')
        command = [sys.executable, '-m', 'face_motor_driver.emulator',
                   '--config', str(config_path), '--seed', str(seed),
                   '--parent-pid', str(os.getpid()),
                   '--link', os.path.join(self._folder.name, 'ttyFACE')]
        if wire_time:
            command.append('--wire-time')
        if baud:
            command += ['--baud', str(baud)]
        if lag is not None:
            command += ['--lag', str(lag)]
        if fault_file:
            command += ['--fault-file', str(fault_file)]
        # Its own session: a Ctrl-C to the driver's terminal must not stop the bus before
        # the driver has eased the face to neutral; --parent-pid ends it if we die.
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL, text=True,
                                        start_new_session=True)
        self.port = self._wait_for_port(startup_timeout)

    def _wait_for_port(self, timeout):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.process.stdout], [], [], 0.1)
            if ready:
                line = self.process.stdout.readline()
                if line.startswith('PORT '):
                    return line.split(' ', 1)[1].strip()
            if self.process.poll() is not None:
                break
        self.stop()
        raise EmulatorError(f'bus emulator did not start within {timeout} s; run '
                            'face-bus-emulator by hand to see why')

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        self._folder.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class FaultsNotAppliedError(RuntimeError):
    """The emulator did not acknowledge a fault file in time, or refused its content."""


_changes = itertools.count(1)


def write_faults(path, **faults):
    """Atomically replace a fault file (the emulator re-reads it when it changes).

    The content carries "change": "<pid>-<n>", numbering this process's writes, so every
    write differs and gets its own acknowledgement (see face_motor_driver.emulator).
    Returns the content's digest, as the emulator's acknowledgement will name it. Use
    apply_faults to also wait until an emulator watching the file has applied it.
    """
    content = json.dumps({**faults, 'change': f'{os.getpid()}-{next(_changes)}'}).encode()
    tmp = f'{path}.tmp{os.getpid()}'
    with open(tmp, 'wb') as f:
        f.write(content)
    os.replace(tmp, path)
    return fault_digest(content)


def apply_faults(path, timeout=10.0, **faults):
    """write_faults, then wait until the emulator watching path acknowledges this content.

    From the return on, every instruction the emulator answers sees these faults (after
    port_down_s: the port is gone). Tests call this instead of sleeping after a change. Raises
    FaultsNotAppliedError when the emulator refused the content or did not answer within
    timeout [s] (no emulator started with this --fault-file / sim_fault_file).
    """
    digest = write_faults(path, **faults)
    ack = acknowledgement_path(path)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(ack) as f:
                acknowledged, _, outcome = f.read().strip().partition(' ')
        except FileNotFoundError:
            acknowledged = outcome = ''
        if acknowledged == digest:
            if outcome != 'applied':
                raise FaultsNotAppliedError(f'the bus emulator {outcome} (fault file {path})')
            return
        if time.monotonic() > deadline:
            raise FaultsNotAppliedError(
                f'no bus emulator applied fault file {path} within {timeout:g} s (its '
                f'acknowledgement {ack} says {acknowledged or "nothing"}); start the emulator '
                'with --fault-file (driver: sim_fault_file) pointing at this file')
        time.sleep(0.002)   # the emulator looks at the file every 20 ms
