"""Port loss: the emulator's port disappears for 2 s (a USB adapter pulled and put back).
The driver notices in the cycle that fails, reports it, leaves no stale reading, and is
running again soon after the port returns; the node stops joint states meanwhile and says
ERROR on /diagnostics."""

import math
import signal
import subprocess
import time

import numpy as np
import pytest

from face_common import graphs
from face_common.waiting import wait_until
from face_motor_driver.bus import FaceBus
from face_motor_driver.driver import ERROR, DriverSettings, FaceDriver
from face_motor_driver.emulator_process import apply_faults, write_faults

DOWN = 2.0   # [s]


def test_the_driver_survives_a_lost_port_and_runs_again_when_it_returns(
        face_config, emulator, fault_file):
    logs = []
    driver = FaceDriver(face_config, FaceBus(face_config, port=emulator.port),
                        DriverSettings(health_rate=20.0), log=logs.append)
    driver.start()
    jaw = face_config.names.index('jaw_open')
    fresh = []   # what each cycle returned (True: fresh states read)

    def cycle(command=False):
        if command:
            driver.submit(['jaw_open'], [0.2], [], 10, time.monotonic())
        fresh.append(driver.cycle(time.monotonic()))
    try:
        wait_until(lambda: len(fresh) >= 20, 10, '20 cycles', step=cycle)
        assert all(fresh), 'cycles failed before the port went'
        # acknowledged once the emulator has closed the port: the next cycle must notice
        apply_faults(fault_file, port_down_s=DOWN)
        gone, before = time.monotonic(), len(fresh)
        wait_until(lambda: driver.port_lost, 10, 'the lost port noticed', step=cycle)
        cycles = len(fresh) - before
        assert cycles <= 2, f'noticed after {cycles} cycles'
        assert np.isnan(driver.position).all(), 'readings of a lost port must not linger'
        assert all(s.level == ERROR for s in driver.statuses())
        lost = len(fresh)
        wait_until(lambda: any(fresh[lost:]), DOWN + 15, lambda: f'recovery: {driver.port_lost}',
                   step=lambda: cycle(command=True))
        back = time.monotonic()
        wait_until(lambda: abs(driver.position[jaw] - 0.2) < 0.01, 10, 'the jaw at 0.2',
                   step=lambda: cycle(command=True))
        print(f'recovered {back - gone - DOWN:.3f} s after the port returned')
        assert back - gone < DOWN + 1.0
        assert driver.position[jaw] == pytest.approx(0.2, abs=0.01), 'commands do not reach'
        assert np.isfinite(driver.position).all() and not driver.offline
        assert driver.port_losses == 1
        assert any('port lost' in line for line in logs)
        assert any('port back' in line for line in logs)
    finally:
        driver.shutdown()


@pytest.mark.ros
@pytest.mark.realtime
def test_the_node_reports_a_lost_port_and_publishes_nothing_stale(ros_context, fault_file):
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from sensor_msgs.msg import JointState

    write_faults(fault_file)
    node_process = subprocess.Popen(
        graphs.command(graphs.node('face_motor_driver_node',
                                   {'port': 'sim', 'sim_fault_file': fault_file},
                                   params_file=False)),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    node = rclpy.create_node('port_loss_probe', context=ros_context)
    try:
        executor = rclpy.executors.SingleThreadedExecutor(context=ros_context)
        executor.add_node(node)
        states, bus_status = [], []   # (arrival time, message)
        node.create_subscription(JointState, 'face/joint_states',
                                 lambda m: states.append((time.monotonic(), m)), 100)
        node.create_subscription(DiagnosticArray, '/diagnostics', lambda m: bus_status.extend(
            (time.monotonic(), s) for s in m.status if s.name == 'face_motor_driver: bus'), 50)

        def spin_until(condition, seconds, what):
            wait_until(condition, seconds, what, interval=0,
                       step=lambda: executor.spin_once(timeout_sec=0.01))

        spin_until(lambda: len(states) > 20 and bus_status, 60,
                   'the node to start (20 joint states and a bus status)')
        apply_faults(fault_file, port_down_s=DOWN)
        gone = time.monotonic()
        spin_until(lambda: bus_status[-1][1].level == b'\x02', 10.0, 'the bus status ERROR')
        error_at = next(t for t, s in bus_status if s.level == b'\x02')
        assert 'port lost' in bus_status[-1][1].message
        spin_until(lambda: bus_status[-1][1].level == b'\x00', DOWN + 15.0,
                   lambda: f'the bus status OK again (it says {bus_status[-1][1].message})')
        ok_at = next(t for t, s in bus_status if t > error_at and s.level == b'\x00')
        count = len(states)
        spin_until(lambda: len(states) > count + 20, 10.0, '20 joint states after recovery')
        print(f'ERROR {1000 * (error_at - gone):.0f} ms after the port went; OK again '
              f'{ok_at - gone - DOWN:.2f} s after it came back')
        # Between the first ERROR and the port coming back nothing went out, and every state
        # that did go out is fresh and complete.
        quiet = [t for t, _ in states if error_at + 0.1 < t < gone + DOWN]
        assert quiet == [], f'{len(quiet)} joint states published while the port was lost'
        assert all(math.isfinite(p) for _, m in states[-10:] for p in m.position)
        assert node_process.poll() is None
    finally:
        node.destroy_node()
        if node_process.poll() is None:
            node_process.send_signal(signal.SIGINT)
            try:
                output, _ = node_process.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                node_process.kill()
                output, _ = node_process.communicate()
    assert node_process.returncode == 0, output
    assert 'port lost' in output and 'port back' in output
