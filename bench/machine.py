"""What machine a benchmark ran on, and how fast it was during the run.

Every bench script puts `machine_report()` into its JSON line: the CPU model, the core
count, the load average before the run, and a reference figure measured in the same run:
the time of a fixed workload (a torch matmul + MLP step and a numpy FFT + einsum, one
thread each, the kinds of work the face's nodes do). A figure divided by the reference
compares across machines, and a slow reference says the machine was busy or slower, not
the code.

    from machine import machine_report     # bench/ is on sys.path for bench scripts
    summary['machine'] = machine_report()
"""

import os
import platform
import time

import numpy as np

REPEATS = 15  # reference workload runs; the median is reported


def cpu_model():
    """The processor's model name (from /proc/cpuinfo), or platform's best guess."""
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _numpy_work(rng_state):
    x = rng_state.standard_normal((64, 4096))
    spectrum = np.abs(np.fft.rfft(x, axis=1))  # a log-mel's first step, 64 frames
    return float(np.einsum('ij,kj->ik', spectrum[:, :512], spectrum[:, :512]).trace())


def _torch_work(torch, a, w1, w2):
    hidden = torch.tanh(a @ w1)  # an MLP forward + backward-sized matmul, as the inverse does
    return float((hidden @ w2).sum() + (hidden.T @ a).sum())


def reference_ms():
    """Median wall time [ms] of the fixed reference workload (one thread each)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        generator = torch.Generator().manual_seed(0)
        a = torch.randn(256, 256, generator=generator)
        w1 = torch.randn(256, 512, generator=generator)
        w2 = torch.randn(512, 64, generator=generator)
        rng = np.random.default_rng(0)
        _torch_work(torch, a, w1, w2)  # first calls pay for allocation
        _numpy_work(rng)
        times = []
        for _ in range(REPEATS):
            start = time.perf_counter()
            _torch_work(torch, a, w1, w2)
            _numpy_work(rng)
            times.append(time.perf_counter() - start)
    finally:
        torch.set_num_threads(threads)
    return 1000 * float(np.median(times))


def machine_report():
    """{'cpu', 'cores', 'load_1min', 'reference_ms'}: one dict for a bench's JSON line."""
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    return {'cpu': cpu_model(), 'cores': os.cpu_count(), 'load_1min': round(load, 2),
            'reference_ms': round(reference_ms(), 3)}


if __name__ == '__main__':
    import json

    print(json.dumps(machine_report()))
