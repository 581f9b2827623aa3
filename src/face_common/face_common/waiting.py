"""Waiting for an event with a deadline, for the tests of every package (no fixed sleeps).

A test that must see something happen (a fault in force, a first joint state, a status
on /diagnostics, a line a node prints when it is ready) polls for it with wait_until: it
returns as soon as the event is there, so a generous deadline costs nothing on a quiet
machine and keeps a loaded one from failing the test; when the deadline passes, the error
names what was awaited. emulator_process.apply_faults is the same for a fault change.
"""

import time


class WaitTimeoutError(AssertionError):
    """The awaited event did not come before the deadline."""


def wait_until(predicate, timeout, what, step=None, interval=0.005):
    """Return the first true value of predicate(), trying until timeout [s] has passed.

    step() runs before each try: it is what makes the event come (spin an executor, cycle
    a driver) and, if it blocks for a while itself, interval may be 0; otherwise the tries
    are interval [s] apart. what names the event for the error (a callable is asked only
    then, so it can describe the state it found). Raises WaitTimeoutError.
    """
    deadline = time.monotonic() + timeout
    while True:
        if step is not None:
            step()
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise WaitTimeoutError(f'waited {timeout:g} s for '
                              f'{what() if callable(what) else what}')
        if interval:
            time.sleep(interval)
