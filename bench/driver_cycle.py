"""Benchmark of the face driver's control cycle against the bus emulator.

1. Bus cycles: one sync write of 26 goals + one (fast) sync read of 26 states, through the
   official dynamixel-sdk, against the emulator in its own process; without wire-time
   simulation (host + SDK cost only) and with it at 1 and 4 Mbps.
2. The driver node itself flat out (cycle_rate 0, port sim): the rate of face/joint_states
   a subscriber receives, with command shaping, publishing and health reads included.
   Then as on the robot (cycle_rate 150, wire time at 1 Mbps): the CPU time the node
   process and its emulator child use per second of wall time (driver_cpu_percent,
   emulator_cpu_percent; 100 = one core), from /proc, so others' work does not count.
   Then the same with one servo gone silent after start (a cable off, a dead servo): the
   joint-state rate must hold, because absent servos are pinged outside the cycle
   (absent_servo_joint_states_hz against driver_cpu_joint_states_hz).
3. The emulated servo's step response (the actuator lag, measured through the bus).

Prints its figures; the last line is one JSON object. A histogram of cycle times goes to
build/bench/driver_cycle.png. For comparison: common ROS 2 Dynamixel drivers
(dynamixel_hardware with ros2_control, dynamixel_workbench) run their control loops at
100-125 Hz.

Every figure comes with `machine` (bench/machine.py: CPU model, load before the run and a
reference workload time), printed first.

Usage: .venv/bin/python bench/driver_cycle.py [--cycles 2000] [--node-seconds 5]
       [--cpu-seconds 10]
"""

import argparse
import json
import os
import pathlib
import signal
import subprocess
import time

import numpy as np
from machine import machine_report  # bench/ is on sys.path when run as a script
from tqdm import tqdm

from face_motor_driver.bus import FaceBus, wire_seconds_per_cycle
from face_motor_driver.emulator_process import EmulatorProcess, apply_faults, write_faults
from face_motor_driver.face_config import default_face_config_path, load_face_config

ROOT = pathlib.Path(__file__).resolve().parents[1]


def bus_cycles(config, cycles, wire_time=False, baud=None, label=''):
    """Cycle times [s] of sync write + sync read of every servo."""
    baud = baud or config.bus.baud_rate
    with EmulatorProcess(default_face_config_path(), wire_time=wire_time, baud=baud) as emu:
        bus = FaceBus(config, port=emu.port, baud_rate=baud)
        bus.open()
        try:
            bus.ping_all()
            for a in config.actuators:
                bus.configure(a)
                bus.set_online(a.id, True)
                bus.set_torque(a, True)
            goals = {a.id: a.neutral for a in config.actuators}
            times = []
            for k in tqdm(range(cycles), desc=label or 'bus cycles', leave=False):
                for a in config.actuators:   # a slow sine so goals change every cycle
                    goals[a.id] = a.neutral + 0.1 * (a.max - a.neutral) * np.sin(k * 0.01)
                start = time.perf_counter()
                bus.exchange(goals)
                times.append(time.perf_counter() - start)
        finally:
            bus.close()
    return np.array(times)


def step_response(config, step=0.1, seconds=0.3):
    """Jaw position after a small goal step through the emulator: (times [s], positions [rad]).

    Shows the servo lag the lip policy has to lead by (first-order, `lag` time constant).
    """
    jaw = config.actuator('jaw_open')
    with EmulatorProcess(default_face_config_path()) as emu:
        bus = FaceBus(config, port=emu.port)
        bus.open()
        try:
            bus.ping_all()
            for a in config.actuators:
                bus.configure(a)
                bus.set_online(a.id, True)
                bus.set_torque(a, True)
            goals = {a.id: a.neutral for a in config.actuators}
            goals[jaw.id] = jaw.neutral + step
            times, positions = [], []
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                states = bus.exchange(goals)
                times.append(time.perf_counter() - start)
                positions.append(states[jaw.id].position - jaw.neutral)
        finally:
            bus.close()
    return np.array(times), np.array(positions)


def _cpu_seconds(pid):
    """CPU time [s] a process has used so far (user + system, all its threads)."""
    with open(f'/proc/{pid}/stat') as f:
        fields = f.read().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf('SC_CLK_TCK')


def _emulator_pid(driver_pid):
    """The bus emulator the driver node started as its child (port sim)."""
    for task in os.listdir(f'/proc/{driver_pid}/task'):
        with open(f'/proc/{driver_pid}/task/{task}/children') as f:
            for child in f.read().split():
                with open(f'/proc/{child}/cmdline', 'rb') as cmd:
                    if b'face_motor_driver.emulator' in cmd.read():
                        return int(child)
    raise RuntimeError('the driver node has no bus emulator child; is port sim?')


def run_node(seconds, parameters, desc, after_warmup=None):
    """Run face_motor_driver_node on the emulator and watch it for seconds [s]
    (after_warmup(): called once joint states flow, before the measurement).

    Returns (rate [Hz] at which a subscriber receives face/joint_states, the node process's
    CPU time / wall time [%], the emulator process's [%]). CPU times come from
    /proc/<pid>/stat, so other work on the machine does not count, only what it slows.
    """
    # A random domain, not the pid: pids repeat across containers sharing a loopback.
    os.environ.setdefault('ROS_DOMAIN_ID', str(int.from_bytes(os.urandom(2), 'little') % 100 + 1))
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    os.environ.setdefault('ROS_LOG_DIR', str(ROOT / 'build' / 'ros_log'))
    os.environ.setdefault('ROS_HOME', str(ROOT / 'build' / 'ros_home'))
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import JointState

    from face_common.graphs import command as node_command
    from face_common.graphs import graph

    spec, = graph('driver', parameters={'port': 'sim', **parameters})
    command = node_command(spec)
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    context = rclpy.Context()
    rclpy.init(context=context)
    try:
        node = rclpy.create_node('driver_cycle_bench', context=context)
        stamps = []
        node.create_subscription(JointState, 'face/joint_states',
                                 lambda _: stamps.append(time.monotonic()), 100)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        deadline = time.monotonic() + 60.0
        while len(stamps) < 50 and time.monotonic() < deadline:   # warm-up and discovery
            executor.spin_once(timeout_sec=0.05)
        if after_warmup is not None:
            after_warmup()
            settle = time.monotonic() + 1.0   # the driver notices and stops waiting on it
            while time.monotonic() < settle:
                executor.spin_once(timeout_sec=0.05)
        stamps.clear()
        emulator = _emulator_pid(process.pid)
        cpu_start = (_cpu_seconds(process.pid), _cpu_seconds(emulator), time.monotonic())
        end = cpu_start[2] + seconds
        with tqdm(total=seconds, desc=desc, leave=False) as bar:
            while time.monotonic() < end:
                executor.spin_once(timeout_sec=0.01)
                bar.n = round(seconds - (end - time.monotonic()), 1)
                bar.refresh()
        wall = time.monotonic() - cpu_start[2]
        driver_cpu = 100 * (_cpu_seconds(process.pid) - cpu_start[0]) / wall
        emulator_cpu = 100 * (_cpu_seconds(emulator) - cpu_start[1]) / wall
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    rate = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) >= 2 else 0.0
    return rate, driver_cpu, emulator_cpu


def plot(results, step, path):
    import matplotlib
    matplotlib.use('Agg')
    import matplotlib.pyplot as plt
    fig, (ax, ax_step) = plt.subplots(1, 2, figsize=(13, 4.5))
    ax_step.plot(step[0] * 1e3, step[1], label='present position (emulator)')
    ax_step.axhline(0.1 * (1 - np.exp(-1)), ls=':', color='grey', label='63 % of the step')
    ax_step.set_xlabel('time after a 0.1 rad goal step of jaw_open [ms]')
    ax_step.set_ylabel('jaw_open - neutral [rad]')
    ax_step.legend()
    ax_step.set_title('servo lag the lip policy must lead by')
    for label, times in results.items():
        ax.hist(times * 1e3, bins=np.linspace(0, 10, 201), histtype='step', label=label)
    ax.set_xlabel('cycle time: sync write 26 goals + sync read 26 states [ms]')
    ax.set_ylabel('cycles')
    ax.set_yscale('log')
    ax.legend()
    ax.set_title('face_motor_driver bus cycle against the emulator')
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=100)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--cycles', type=int, default=2000, help='bus cycles per setting')
    parser.add_argument('--node-seconds', type=float, default=5.0,
                        help='how long to measure the flat-out node [s]')
    parser.add_argument('--cpu-seconds', type=float, default=10.0,
                        help='how long to measure the node\'s CPU use at 150 Hz [s]')
    args = parser.parse_args()
    machine = machine_report()   # before the run: the load others put on the machine
    print(f'machine: {machine["cpu"]}, {machine["cores"]} cores, load {machine["load_1min"]}, '
          f'reference workload {machine["reference_ms"]} ms')
    config = load_face_config(default_face_config_path())
    n = len(config.actuators)
    results = {
        'no wire time': bus_cycles(config, args.cycles, label='no wire time'),
        'wire time 1 Mbps': bus_cycles(config, args.cycles // 2, True, 1_000_000,
                                       'wire 1 Mbps'),
        'wire time 4 Mbps': bus_cycles(config, args.cycles // 2, True, 4_000_000,
                                       'wire 4 Mbps'),
    }
    hz = {k: float(np.median(1.0 / t)) for k, t in results.items()}
    p99 = {k: float(np.percentile(t, 99) * 1e3) for k, t in results.items()}
    step = step_response(config)
    reached = step[0][np.argmax(step[1] >= 0.1 * (1 - np.exp(-1)))]
    loop_hz, _, _ = run_node(args.node_seconds, {'cycle_rate': 0.0}, 'node flat out [s]')
    # The robot's configuration: 150 Hz on a 1 Mbps bus, wire time simulated.
    cpu_hz, driver_cpu, emulator_cpu = run_node(
        args.cpu_seconds, {'cycle_rate': 150.0, 'sim_wire_time': 'true',
                           'baud_rate': 1_000_000}, 'node CPU at 150 Hz [s]')
    # One servo silent after start (it must be present at start, or the driver refuses).
    fault_file = ROOT / 'build' / 'bench' / 'driver_cycle_faults.json'
    fault_file.parent.mkdir(parents=True, exist_ok=True)
    write_faults(fault_file, absent=[])
    absent_hz, _, _ = run_node(
        args.cpu_seconds, {'cycle_rate': 150.0, 'sim_wire_time': 'true',
                           'baud_rate': 1_000_000, 'sim_fault_file': str(fault_file)},
        'node with a silent servo [s]',
        after_warmup=lambda: apply_faults(fault_file, absent=[config.actuators[-1].id]))
    plot(results, step, ROOT / 'build' / 'bench' / 'driver_cycle.png')
    summary = {
        'servos': n,
        'cycle_hz_median': round(hz['no wire time'], 1),
        'cycle_ms_median': round(float(np.median(results['no wire time'])) * 1e3, 3),
        'cycle_ms_p99': round(p99['no wire time'], 3),
        'cycle_hz_median_wire_1mbps': round(hz['wire time 1 Mbps'], 1),
        'cycle_ms_p99_wire_1mbps': round(p99['wire time 1 Mbps'], 3),
        'cycle_hz_median_wire_4mbps': round(hz['wire time 4 Mbps'], 1),
        'cycle_ms_p99_wire_4mbps': round(p99['wire time 4 Mbps'], 3),
        'wire_ms_per_cycle_1mbps': round(wire_seconds_per_cycle(n, 1_000_000) * 1e3, 3),
        'wire_ms_per_cycle_4mbps': round(wire_seconds_per_cycle(n, 4_000_000) * 1e3, 3),
        'node_loop_hz': round(loop_hz, 1),
        'driver_cpu_percent': round(driver_cpu, 1),
        'emulator_cpu_percent': round(emulator_cpu, 1),
        'driver_cpu_joint_states_hz': round(cpu_hz, 1),
        'absent_servo': config.actuators[-1].name,
        'absent_servo_joint_states_hz': round(absent_hz, 1),
        'servo_step_63pct_ms': round(float(reached) * 1e3, 1),
        'load_average_1min': round(os.getloadavg()[0], 2),   # other work on the 2 cores
        'plot': 'build/bench/driver_cycle.png',
        'note': 'common ROS 2 Dynamixel drivers run 100-125 Hz control loops',
        'machine': machine,
    }
    for key, value in summary.items():
        print(f'{key}: {value}')
    print(json.dumps(summary))


if __name__ == '__main__':
    main()
