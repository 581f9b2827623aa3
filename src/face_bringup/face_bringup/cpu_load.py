"""Background CPU load for the load tests and bench/load_robustness.py (no rclpy).

`with cpu_hogs(2, seconds=120):` starts two processes that each keep one core busy with
plain Python arithmetic at the caller's own priority (normal scheduling, what other work on
a robot's computer gets), as vision or navigation would. Each stops by itself after
`seconds` even if this process dies, and all are stopped when the block ends.
"""

import contextlib
import os
import subprocess
import sys

_SPIN = ('import time\n'
         'end = time.monotonic() + {seconds}\n'
         'x = 0\n'
         'while time.monotonic() < end:\n'
         '    for i in range(10000):\n'
         '        x = (x * 31 + i) % 1000003\n')


@contextlib.contextmanager
def cpu_hogs(count, seconds=300.0):
    """count busy processes for at most `seconds` [s]; yields their Popen objects."""
    if count < 0 or not 0 < seconds <= 3600:
        raise ValueError('cpu_hogs needs count >= 0 and 0 < seconds <= 3600')
    hogs = [subprocess.Popen([sys.executable, '-c', _SPIN.format(seconds=float(seconds))],
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             env={**os.environ, 'OMP_NUM_THREADS': '1'})
            for _ in range(count)]
    try:
        yield hogs
    finally:
        for hog in hogs:
            hog.kill()
            hog.wait()
