"""mirror-lag: timing the face's response to lip commands and storing it in the self-model.

The estimator is checked on signals with a known delay; the checkpoint update on the
committed default self-model (copied); the whole measurement on the simulated head over
real DDS (driver on the emulated bus with its servo dynamics, face_sim, observer).
"""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from mirror_calibration.lag_checkpoint import write_lag
from mirror_calibration.lag_estimate import LagError, estimate_lag, first_order, fit_servo
from mirror_calibration.lag_probe import jaw_trajectory
from mirror_calibration.self_model import SelfModelError, load_checkpoint

ROOT = pathlib.Path(__file__).resolve().parents[3]
DEFAULT_MODEL = ROOT / 'models' / 'self_model_sim.pt'


def test_jaw_trajectory_stays_in_range_under_the_speed_limit_and_rests_at_the_ends():
    t, jaw = jaw_trajectory(0.0, 0.5, max_velocity=2.0, seconds=8.0)
    assert jaw.min() >= 0.0 and jaw.max() <= 0.5 * 0.6 + 1e-9
    assert np.abs(np.gradient(jaw, t)).max() <= 0.8 * 2.0 + 1e-6
    assert abs(jaw[0]) < 1e-9 and abs(jaw[-1]) < 0.01
    assert jaw.max() > 0.1  # it does move


@pytest.mark.parametrize('delay, tau', [(0.0, 0.0), (0.03, 0.0), (0.02, 0.025)])
def test_estimate_lag_recovers_delay_plus_time_constant(delay, tau):
    t, jaw = jaw_trajectory(0.0, 0.6, max_velocity=3.0, seconds=8.0)
    response = first_order(t, jaw, tau)
    camera_t = np.arange(0.0, 8.0, 1 / 30) + delay  # 30 Hz frames, stamped at capture
    seen = np.interp(camera_t - delay, t, response)
    seen += np.random.default_rng(1).normal(0, 0.003, len(seen))
    lag, r = estimate_lag(t, jaw, camera_t, seen)
    # A first-order lag delays a smooth signal by about its time constant.
    assert lag == pytest.approx(delay + tau, abs=0.008)
    assert r > 0.95


def test_fit_servo_separates_time_constant_and_dead_time():
    t, jaw = jaw_trajectory(0.0, 0.6, max_velocity=3.0, seconds=10.0)
    measured_t = np.arange(0.0, 10.0, 1 / 150) + 0.015  # driver cycles, 15 ms dead time
    measured = np.interp(measured_t - 0.015, t, first_order(t, jaw, 0.025))
    tau, dead_time, r = fit_servo(t, jaw, measured_t, measured)
    assert tau == pytest.approx(0.025, abs=0.0051)
    assert dead_time == pytest.approx(0.015, abs=0.006)
    assert r > 0.99


def test_estimate_lag_refuses_a_face_that_did_not_move_or_too_little_data():
    t = np.arange(0, 5, 0.01)
    with pytest.raises(LagError, match='did not move'):
        estimate_lag(t, np.sin(t), t, np.zeros_like(t))
    with pytest.raises(LagError, match='overlapping'):
        estimate_lag(t, np.sin(t), t[:50] + 4.9, np.sin(t[:50]))


def test_write_lag_adds_metadata_and_keeps_the_model(tmp_path):
    path = tmp_path / 'self_model.pt'
    shutil.copy(DEFAULT_MODEL, path)
    before_model, before = load_checkpoint(path)
    write_lag(path, {'visible_lag_s': 0.052, 'servo_lag_s': 0.041,
                     'servo_time_constant_s': 0.027})
    after_model, after = load_checkpoint(path)
    assert after['metadata']['actuator_lag'] == pytest.approx(0.052)
    assert after['metadata']['servo_time_constant'] == pytest.approx(0.027)
    assert after['metadata']['actuator_lag_measurement']['servo_lag_s'] == 0.041
    written = ('actuator_lag', 'servo_time_constant', 'actuator_lag_measurement')
    kept = {k: v for k, v in before['metadata'].items() if k not in written}
    assert kept and all(after['metadata'][k] == v for k, v in kept.items())
    for name, tensor in before_model.state_dict().items():
        assert torch.equal(tensor, after_model.state_dict()[name]), name
    assert not list(tmp_path.glob('*.writing'))


def test_write_lag_refuses_a_corrupt_checkpoint_and_leaves_it_alone(tmp_path):
    path = tmp_path / 'broken.pt'
    path.write_bytes(DEFAULT_MODEL.read_bytes()[:5000])
    with pytest.raises(SelfModelError, match='re-run mirror-fit'):
        write_lag(path, {'visible_lag_s': 0.05, 'servo_time_constant_s': 0.03})
    assert path.read_bytes() == DEFAULT_MODEL.read_bytes()[:5000]


def _mirror_lag(*args, timeout=240):
    script = os.path.join(os.path.dirname(sys.executable), 'mirror-lag')
    return subprocess.run([script, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.ros
def test_without_a_running_face_it_says_what_to_start(tmp_path):
    path = tmp_path / 'self_model.pt'
    shutil.copy(DEFAULT_MODEL, path)
    done = _mirror_lag(str(path), '--wait', '1.5')
    assert done.returncode == 2
    assert 'face-bringup calibrate' in done.stderr and '--graph' in done.stderr
    assert path.read_bytes() == DEFAULT_MODEL.read_bytes()


@pytest.mark.ros
@pytest.mark.realtime
def test_measures_the_simulated_head_and_stores_the_lag(tmp_path):
    path = tmp_path / 'self_model.pt'
    shutil.copy(DEFAULT_MODEL, path)
    done = _mirror_lag(str(path), '--graph', '--seconds', '6', '--out',
                       str(tmp_path / 'lag.json'))
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    # The emulated servos trail their goals with a 30 ms time constant plus slew limits
    # and the driver's cycle; the camera sees the mouth no earlier than the servos move.
    assert 0.02 < figures['servo_lag_s'] < 0.1, figures
    assert figures['servo_lag_s'] - 0.01 <= figures['visible_lag_s'] < 0.15, figures
    assert figures['visible_correlation'] > 0.8, figures
    _, checkpoint = load_checkpoint(path)
    assert checkpoint['metadata']['actuator_lag'] == pytest.approx(figures['visible_lag_s'])
    # The emulator's servos are first-order lags of 30 ms (face_motor_driver sim_lag).
    assert 0.015 <= checkpoint['metadata']['servo_time_constant'] <= 0.05, figures
    assert pathlib.Path(figures['plot']).is_file()


class _StandInFace:
    """A face over DDS for the probe's readiness check, in this process: joint states that
    follow the jaw commands at once, and a camera at 30 Hz whose seen mouth opening follows
    the jaw (moving=True) or stays at rest (a camera on a face that does not move). A
    stand-in, because a camera frozen on a rest face cannot be made from the real graph."""

    def __init__(self, moving):
        import threading

        import rclpy
        from geometry_msgs.msg import Point
        from rclpy.executors import SingleThreadedExecutor
        from sensor_msgs.msg import JointState

        from face_common.qos import COMMAND_QOS
        from face_msgs import face_layout
        from face_msgs.msg import FaceCommand, FaceLandmarks

        self.moving, self.jaw = moving, 0.0
        self.node = rclpy.create_node('stand_in_face')
        self.node.create_subscription(FaceCommand, 'face/lip_command', self._on_command,
                                      COMMAND_QOS)
        joints = self.node.create_publisher(JointState, 'face/joint_states', 10)
        landmarks = self.node.create_publisher(FaceLandmarks, 'face/landmarks', 10)
        rest = np.zeros((len(face_layout.FACE_SUBSET), 3))

        def publish():
            stamp = self.node.get_clock().now().to_msg()
            state = JointState(name=['jaw_open'], position=[self.jaw])
            state.header.stamp = stamp
            joints.publish(state)
            points = rest.copy()
            points[face_layout.INNER_LIP_TOP, 1] = 0.5 * self.jaw if self.moving else 0.0
            msg = FaceLandmarks(layout=face_layout.LAYOUT_NAME, detected=True)
            msg.header.stamp = stamp
            msg.points = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in points]
            landmarks.publish(msg)

        self.node.create_timer(1 / 30, publish)
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _on_command(self, msg):
        self.jaw = dict(zip(msg.name, msg.position)).get('jaw_open', self.jaw)

    def close(self):
        self.executor.shutdown()
        self.node.destroy_node()


@pytest.mark.ros
@pytest.mark.parametrize('moving', [True, False])
def test_the_probe_starts_only_once_the_face_seen_moves_with_the_jaw(moving):
    """A camera that sees a face is not enough: the seen mouth must open with the jaw (a
    renderer that had not yet heard the driver showed its rest face for 1.2 s of a run)."""
    import rclpy

    from mirror_calibration.lag_probe import LagProbe

    rclpy.init()
    face, probe = _StandInFace(moving), None
    try:
        probe = LagProbe(['jaw_open'], [0.0])
        probe.wait_for_face(30)
        if moving:
            probe.wait_for_a_moving_face(0.5, 30)
            assert probe.joints[-1][1] == pytest.approx(0.0, abs=0.01)  # back at rest
        else:
            with pytest.raises(LagError, match='did not open with the jaw'):
                probe.wait_for_a_moving_face(0.5, 3)
    finally:
        if probe is not None:
            probe.close()
        face.close()
        rclpy.try_shutdown()
