"""CPU priority of a node process: real-time where permitted, nice otherwise (no rclpy).

The one place that sets process priority: apply() for a node's own `scheduling`
parameter, set_niceness() for a process started at a given nice value
(face_common.node_processes).

On a robot's shared computer (vision, speech, navigation) the nodes that keep the face in
time, the driver and the lip policy, must not wait behind bulk work. apply('realtime', N)
puts every thread of this process, and of its child processes (the driver's bus emulator),
under SCHED_RR at priority N; where that is not permitted (no CAP_SYS_NICE, no rtprio
limit) it lowers their nice value to NICE_FALLBACK instead; where neither is permitted it
leaves them alone. Threads started later inherit what their creator has. It returns one
line saying which, for the node to log.

The kernel keeps real-time threads from taking more than sched_rt_runtime_us of each
period (95 % by default), so a runaway real-time node still leaves the machine usable.
"""

import contextlib
import os

SCHEDULING = ('realtime', 'normal')
NICE_FALLBACK = -10
PRIORITY_RANGE = (1, 98)  # SCHED_RR priorities left to user processes (99 is the kernel's)
# The instruments of an evaluation (the simulated camera and face, the observer, the
# recorder, a replay's audio source) run at this niceness: above other work on the machine,
# below the face's real-time nodes, so a busy machine shows in the face's figures, not in
# how often the instruments look.
INSTRUMENT_NICE = -5


def _threads_of(pid):
    try:
        return [int(t) for t in os.listdir(f'/proc/{pid}/task')]
    except OSError:
        return []


def _children_of(pid):
    children = []
    for tid in _threads_of(pid):
        try:
            with open(f'/proc/{pid}/task/{tid}/children') as f:
                children += [int(c) for c in f.read().split()]
        except OSError:
            continue
    return children


def _family(pid):
    """Every thread of pid and of its descendants."""
    threads, queue = [], [pid]
    while queue:
        current = queue.pop()
        threads += _threads_of(current)
        queue += _children_of(current)
    return threads


def set_niceness(nice, pid=0):
    """Set a process's niceness (pid 0 = this one); False where that is not permitted."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, nice)
        return True
    except PermissionError:
        return False


@contextlib.contextmanager
def niceness(nice):
    """This process at `nice` (where permitted) for the with-block, then as it was."""
    usual = os.getpriority(os.PRIO_PROCESS, 0)
    set_niceness(nice)
    try:
        yield
    finally:
        set_niceness(usual)


def apply(kind, priority=10):
    """Set this process's scheduling ('realtime' or 'normal'); -> one line for the log."""
    if kind not in SCHEDULING:
        raise ValueError(f'scheduling {kind!r} is not one of {", ".join(SCHEDULING)}')
    if kind == 'normal':
        return 'scheduling: normal (as started)'
    threads = _family(os.getpid())
    try:
        for tid in threads:
            os.sched_setscheduler(tid, os.SCHED_RR, os.sched_param(priority))
        return f'scheduling: real-time (SCHED_RR priority {priority}, {len(threads)} threads)'
    except PermissionError:
        pass
    except ProcessLookupError:  # a thread ended meanwhile; the others are set
        return f'scheduling: real-time (SCHED_RR priority {priority})'
    try:
        for tid in threads:
            os.setpriority(os.PRIO_PROCESS, tid, NICE_FALLBACK)
        return (f'scheduling: nice {NICE_FALLBACK} (real-time not permitted; grant '
                'CAP_SYS_NICE or an rtprio limit for SCHED_RR)')
    except PermissionError:
        return ('scheduling: normal (neither real-time nor a negative nice value is '
                'permitted; grant CAP_SYS_NICE or an rtprio limit to keep the face in time '
                'under load)')
    except ProcessLookupError:
        return f'scheduling: nice {NICE_FALLBACK}'
