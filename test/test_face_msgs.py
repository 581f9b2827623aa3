"""face_msgs over real Fast DDS between two processes, and the content checks."""

import importlib.util
import math
import pathlib
import subprocess
import sys
import time

import pytest

HERE = pathlib.Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location('face_msgs_peer', HERE / 'face_msgs_peer.py')
peer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(peer)


@pytest.fixture
def peer_process():
    proc = subprocess.Popen([sys.executable, str(HERE / 'face_msgs_peer.py')],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == 'ready'
        yield proc
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def spin_until(executor, done, timeout=15.0):
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.05)
    return done()


def _points(msg):
    return [(p.x, p.y, p.z) for p in msg.points]


@pytest.mark.ros
@pytest.mark.realtime
def test_every_message_type_crosses_processes(ros_context, peer_process):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from face_msgs.msg import AudioChunk, FaceCommand, FaceLandmarks

    node = rclpy.create_node('face_msgs_test', context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    got = {}
    for kind, topic in ((FaceCommand, 'peer/face_command'),
                        (FaceLandmarks, 'peer/face_landmarks'),
                        (AudioChunk, 'peer/audio'),
                        (FaceCommand, 'peer/echo_command')):
        node.create_subscription(kind, topic, lambda m, t=topic: got.setdefault(t, m),
                                 peer.latched_qos())
    sent = peer.sample_face_command()
    sent.name = ['brow_left_inner_raise']
    sent.position = [math.pi / 8]
    sent.max_velocity = []
    sent.source = FaceCommand.SOURCE_EXPRESSION
    command_out = node.create_publisher(FaceCommand, 'peer/command_in', 10)
    try:
        assert spin_until(executor, lambda: len(got) >= 3), f'received only {sorted(got)}'
        assert spin_until(executor, lambda: command_out.get_subscription_count() > 0)
        command_out.publish(sent)
        assert spin_until(executor, lambda: 'peer/echo_command' in got)

        command, expected = got['peer/face_command'], peer.sample_face_command()
        assert list(command.name) == list(expected.name)
        assert list(command.position) == list(expected.position)
        assert list(command.max_velocity) == list(expected.max_velocity)
        assert (command.source, command.priority) == (FaceCommand.SOURCE_LIP, 7)
        assert (command.reach_time.sec, command.reach_time.nanosec) == (12, 80_000_000)
        assert command.header.frame_id == 'face'

        landmarks, expected = got['peer/face_landmarks'], peer.sample_face_landmarks()
        assert landmarks.layout == 'face_subset_v1' and landmarks.detected
        assert landmarks.confidence == pytest.approx(0.875)
        assert landmarks.face_size_px == pytest.approx(61.5)
        assert _points(landmarks) == _points(expected)  # float64 survives CDR exactly

        audio, expected = got['peer/audio'], peer.sample_audio_chunk()
        assert (audio.sample_rate, audio.channels, audio.sequence) == (22050, 2, 2**40 + 3)
        assert audio.encoding == AudioChunk.ENCODING_FLOAT32
        assert list(audio.samples_float32) == pytest.approx(list(expected.samples_float32))
        assert len(audio.samples_int16) == 0

        echo = got['peer/echo_command']
        assert list(echo.name) == ['brow_left_inner_raise']
        assert list(echo.position) == [pytest.approx(math.pi / 8)]
        assert echo.source == FaceCommand.SOURCE_EXPRESSION
    finally:
        node.destroy_node()


@pytest.mark.ros
@pytest.mark.realtime
def test_services_and_babble_action_cross_processes(ros_context, peer_process):
    import rclpy
    from rclpy.action import ActionClient
    from rclpy.executors import SingleThreadedExecutor

    from face_msgs.action import Babble
    from face_msgs.srv import GoNeutral, SetTorque

    node = rclpy.create_node('face_msgs_service_test', context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    try:
        torque = node.create_client(SetTorque, 'peer/set_torque')
        neutral = node.create_client(GoNeutral, 'peer/go_neutral')
        assert torque.wait_for_service(timeout_sec=15) and neutral.wait_for_service(timeout_sec=15)
        future = torque.call_async(SetTorque.Request(enable=False))
        assert spin_until(executor, future.done)
        assert future.result().success is False and future.result().message == 'torque off'
        future = neutral.call_async(GoNeutral.Request(duration=1.5))
        assert spin_until(executor, future.done)
        assert future.result().success and '1.50 s' in future.result().message

        babble = ActionClient(node, Babble, 'peer/babble')
        assert babble.wait_for_server(timeout_sec=15)
        feedback = []
        goal = Babble.Goal(sample_count=4, dataset_path='/tmp/babble_ds', seed=11,
                           transition_time=0.3, settle_timeout=1.0, groups=['lips', 'jaw'])
        sent = babble.send_goal_async(goal, feedback_callback=lambda f: feedback.append(
            f.feedback.progress))
        assert spin_until(executor, sent.done) and sent.result().accepted
        result = sent.result().get_result_async()
        assert spin_until(executor, result.done)
        res = result.result().result
        assert res.success and res.message == 'seed 11'
        assert res.dataset_path == '/tmp/babble_ds'
        assert (res.samples_written, res.samples_total, res.frames_without_face) == (4, 4, 1)
        # Feedback travels on a topic, the result through a service: either may land first.
        assert spin_until(executor, lambda: feedback and feedback[-1] == pytest.approx(1.0))
        assert feedback == sorted(feedback)
    finally:
        node.destroy_node()
