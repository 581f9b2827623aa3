"""lip_policy_node over real DDS: player -> policy -> driver on the emulated bus.

Every node is a real process (its console script); the test only talks to them through topics.
Models are the small real ones of lip_policy.testing.small_models.
"""

import contextlib
import os
import pathlib
import signal
import subprocess
import time

import numpy as np
import pytest

from face_common import graphs
from face_motor_driver.face_config import default_face_config_path, load_face_config

pytestmark = pytest.mark.ros
ROOT = pathlib.Path(__file__).resolve().parents[3]
FACE = load_face_config(default_face_config_path())
LIP_NAMES = [a.name for a in FACE.lip_actuators]


def _emulators_of(pid):
    found = []
    for entry in pathlib.Path('/proc').iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if f'--parent-pid\x00{pid}\x00' in (entry / 'cmdline').read_text():
                    found.append(int(entry.name))
    return found


@contextlib.contextmanager
def processes(*specs):
    """The NodeSpecs started in their own sessions (config/ of this workspace), always
    stopped, last first, and a bus emulator a killed driver left behind with them."""
    started = []
    try:
        for spec in specs:
            started.append(graphs.start(spec, config_dir=ROOT / 'config'))
        yield started
    finally:
        for process in reversed(started):
            process.stop(timeout=15)
            process.close()
            for pid in _emulators_of(process.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


def policy_spec(models, **extra):
    return graphs.node('lip_policy_node', {
        'lip_model': models.lip_model, 'self_model': models.self_model,
        'retarget': models.retarget, 'actuator_lag': 0.035, **extra}, params_file=False)


DRIVER = graphs.node('face_motor_driver_node', {'port': 'sim', 'command_timeout': 1.0})


class Probe:
    def __init__(self, context, audio_reliability='reliable'):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import JointState

        from face_common.qos import audio_qos
        from face_msgs.msg import AudioChunk, FaceCommand

        self.node = rclpy.create_node('policy_probe', context=context)
        self.executor = rclpy.executors.SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.states, self.commands = [], []
        self.node.create_subscription(JointState, 'face/joint_states', self.states.append, 50)
        self.node.create_subscription(
            FaceCommand, 'face/lip_command', lambda m: self.commands.append((time.time(), m)),
            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.audio = self.node.create_publisher(AudioChunk, 'audio',
                                                audio_qos(audio_reliability))
        self.health = []  # lip_policy_node's /diagnostics statuses
        self.node.create_subscription(
            DiagnosticArray, '/diagnostics',
            lambda m: self.health.extend(s for s in m.status if s.name == 'lip_policy: audio'),
            10)

    def health_values(self, index=-1):
        return {v.key: v.value for v in self.health[index].values}

    def spin(self, seconds, until=None, nodes=()):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.executor.spin_once(timeout_sec=0.02)
            for process in nodes:
                process.check_running()
            if until is not None and until():
                return True
        return False

    def positions(self):
        """(samples, actuators) joint positions in config order."""
        return np.array([[dict(zip(s.name, s.position))[n] for n in FACE.names]
                         for s in self.states])

    def close(self):
        self.node.destroy_node()


@pytest.mark.realtime
def test_player_policy_driver_moves_the_lips_and_only_them(ros_context, models):
    from face_msgs.checks import check_face_command

    probe = Probe(ros_context)
    try:
        with processes(DRIVER, policy_spec(models)) as nodes:
            assert probe.spin(30, lambda: len(probe.states) > 20 and
                              probe.audio.get_subscription_count() > 0, nodes), \
                'driver and policy came up'
            probe.spin(1.0, nodes=nodes)
            before = probe.positions()[-1]
            probe.states.clear()
            with processes(graphs.node('audio_player_node', {
                    'text': 'Bob, my baby, would you bump the map by the wall?',
                    'lookahead': 0.2, 'start_delay': 0.3,
                    # play only once discovery has matched it with the policy:
                    # best-effort chunks sent before that are lost
                    'wait_for_subscribers': 1, 'exit_when_done': True},
                    params_file=False)) as (player,):
                probe.spin(20, lambda: player.process.poll() is not None, nodes)
                assert player.process.returncode == 0, player.output()
            probe.spin(2.5, nodes=nodes)
            policy_log = nodes[1].output()
        assert 'dropped' not in policy_log
    finally:
        probe.close()
    assert len(probe.commands) > 50, policy_log
    for _, command in probe.commands:
        check_face_command(command, set(FACE.names))
        assert list(command.name) == LIP_NAMES
    moved = probe.positions()
    lip = [FACE.names.index(n) for n in LIP_NAMES]
    rest = [i for i in range(len(FACE.names)) if i not in lip]
    assert np.ptp(moved[:, FACE.names.index('jaw_open')]) > 0.03, 'the jaw follows speech'
    assert np.ptp(moved[:, lip], axis=0).max() > 0.05
    np.testing.assert_allclose(moved[:, rest], np.broadcast_to(before[rest], moved[:, rest].shape),
                               atol=2e-3, err_msg='non-lip actuators must not move')
    # After the speech the lips ease back to neutral.
    neutral = np.array([a.neutral for a in FACE.actuators])
    np.testing.assert_allclose(moved[-1, lip], neutral[lip], atol=0.02)


@pytest.mark.realtime
def test_bad_chunks_over_dds_are_logged_and_survived(ros_context, models):
    import array

    import rclpy.duration

    from face_msgs.msg import AudioChunk

    def chunk(samples, rate=16000, channels=1, sequence=0, stamp=None):
        msg = AudioChunk()
        msg.sample_rate, msg.channels, msg.sequence = rate, channels, sequence
        msg.samples_float32 = array.array('f', np.asarray(samples, np.float32).tobytes())
        msg.header.stamp = stamp or probe.node.get_clock().now().to_msg()
        return msg

    probe = Probe(ros_context)
    try:
        # Chunks of many seconds do not survive best-effort DDS reliably: the size bound is
        # lowered so that a 1 s chunk counts as huge here.
        with processes(policy_spec(models, max_chunk_duration=0.5)) as nodes:
            assert probe.spin(30, lambda: probe.audio.get_subscription_count() > 0, nodes)
            probe.spin(1.0, nodes=nodes)
            t = np.arange(320) / 16000
            voice = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 4 * t))
            for bad in (chunk(np.full(320, np.nan)), chunk([]), chunk(voice, rate=3),
                        chunk(voice[:301], channels=2), chunk(np.zeros(16000)),
                        chunk(voice, channels=0)):
                probe.audio.publish(bad)
                probe.spin(0.05, nodes=nodes)
            assert probe.commands == []
            # 1.2 s of audio with a lost chunk in the middle, sent 0.5 s ahead of playback:
            # a test process held up on a busy machine must not look like a stalled stream.
            start = probe.node.get_clock().now() + rclpy.duration.Duration(seconds=0.5)
            for k in range(60):
                if k != 30:
                    stamp = start + rclpy.duration.Duration(seconds=0.02 * k)
                    probe.audio.publish(chunk(voice, sequence=k, stamp=stamp.to_msg()))
                probe.spin(0.02, nodes=nodes)
            # /diagnostics counts every chunk: the policy reports once a second
            assert probe.spin(5.0, lambda: probe.health and
                              probe.health_values()['chunks_received'] == '59', nodes)
            log = nodes[0].output()
    finally:
        probe.close()
    assert log.count('dropped audio chunk') >= 3, log
    for reason in ('NaN', 'no samples', 'sample_rate 3 Hz', 'not a multiple', 'more than'):
        assert reason in log, reason
    assert 'sequence jumped' in log and '20 ms of audio missing' in log, log
    assert len(probe.commands) > 30
    assert all(np.isfinite(m.position).all() for _, m in probe.commands)
    values = probe.health_values()
    assert values['chunks_lost'] == '1' and values['chunks_rejected'] == '6', values
    assert float(values['hop_compute_p50_ms']) > 0
    # The report that saw the loss says ERROR, and says what happened.
    losing = [s for s in probe.health if 'lost' in s.message]
    assert losing and losing[0].level == bytes([2]), [s.message for s in probe.health]


@pytest.mark.realtime
def test_a_best_effort_speech_stack_is_heard_with_best_effort_audio(ros_context, models):
    import array

    from face_msgs.msg import AudioChunk

    probe = Probe(ros_context, audio_reliability='best_effort')
    try:
        spec = policy_spec(models, audio_reliability='best_effort')
        with processes(spec) as nodes:
            assert probe.spin(30, lambda: probe.audio.get_subscription_count() > 0, nodes)
            probe.spin(1.0, nodes=nodes)
            t = np.arange(320) / 16000
            voice = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 4 * t))
            for k in range(40):
                msg = AudioChunk(sample_rate=16000, channels=1, sequence=k)
                msg.samples_float32 = array.array('f', voice.astype(np.float32).tobytes())
                msg.header.stamp = probe.node.get_clock().now().to_msg()
                probe.audio.publish(msg)
                probe.spin(0.02, nodes=nodes)
            assert probe.spin(5.0, lambda: probe.health and
                              int(probe.health_values()['chunks_received']) >= 30, nodes)
            log = nodes[0].output()
    finally:
        probe.close()
    assert 'audio best_effort depth 256' in log, log
    assert len(probe.commands) > 20


def test_params_file_lists_every_parameter_of_both_nodes(ros_context, models):
    import yaml
    from rclpy.parameter import Parameter

    from lip_policy.audio_player_node import AudioPlayerNode
    from lip_policy.policy_node import LipPolicyNode

    config = yaml.safe_load((ROOT / 'config' / 'lip_policy.yaml').read_text())
    overrides = {'lip_policy': [Parameter('lip_model', value=str(models.lip_model)),
                                Parameter('self_model', value=str(models.self_model)),
                                Parameter('retarget', value=str(models.retarget))],
                 'audio_player': [Parameter('text', value='hi')]}
    for name, factory in (('lip_policy', LipPolicyNode), ('audio_player', AudioPlayerNode)):
        node = factory(context=ros_context, parameter_overrides=overrides[name])
        try:
            declared = set(node._parameters) - {'use_sim_time', 'start_type_description_service'}
        finally:
            node.destroy_node()
        assert set(config[f'/**/{name}']['ros__parameters']) == declared, name


@pytest.mark.parametrize('parameter, message', [
    (('command_rate', '0.0'), 'command_rate'),
    (('silence_threshold_db', '5.0'), 'silence_threshold_db'),
    (('lip_model', '/nonexistent/lip.pt'), 'does not exist'),
    (('face_config', '/nonexistent/face_motors.yaml'), 'cannot read face config'),
    (('pacing', '1.5'), 'pacing'),
])
def test_bad_parameters_stop_the_node_with_a_reason(models, parameter, message):
    result = subprocess.run(
        graphs.command(graphs.node('lip_policy_node', (
            ('self_model', models.self_model), ('retarget', models.retarget),
            ('lip_model', models.lip_model), parameter), params_file=False)),
        capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert 'cannot start' in result.stderr and message in result.stderr
