"""face-record writes live face topics into an MCAP bag that reads back intact."""

import shutil
import signal
import subprocess
import time

import pytest

from face_bringup.bag import BagError, read_messages


def _spin_for(executor, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        executor.spin_once(timeout_sec=0.01)


@pytest.mark.ros
@pytest.mark.realtime
def test_record_then_read_back(ros_context, tmp_path):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import JointState

    from face_msgs.msg import AudioChunk, FaceLandmarks

    node = rclpy.create_node('record_source', context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    audio = node.create_publisher(AudioChunk, 'audio', qos_profile_sensor_data)
    joints = node.create_publisher(JointState, 'face/joint_states', 10)
    landmarks = node.create_publisher(FaceLandmarks, 'face/landmarks', qos_profile_sensor_data)
    bag = tmp_path / 'run'
    recorder = subprocess.Popen([shutil.which('face-record') or '.venv/bin/face-record',
                                 '--topics', '/audio', 'face/joint_states', '/face/landmarks',
                                 '--out', str(bag)], stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while (audio.get_subscription_count() == 0 or joints.get_subscription_count() == 0
               or landmarks.get_subscription_count() == 0) and time.monotonic() < deadline:
            _spin_for(executor, 0.05)
        _spin_for(executor, 0.3)
        for i in range(20):
            chunk = AudioChunk(sample_rate=16000, channels=1, sequence=i,
                               encoding=AudioChunk.ENCODING_FLOAT32)
            chunk.samples_float32 = [i / 100.0] * 160
            audio.publish(chunk)
            joints.publish(JointState(name=['jaw_open'], position=[i * 0.01]))
            landmarks.publish(FaceLandmarks(layout='face_subset_v1', detected=False))
            _spin_for(executor, 0.01)
        _spin_for(executor, 0.5)
    finally:
        recorder.send_signal(signal.SIGINT)
        out, _ = recorder.communicate(timeout=15)
        node.destroy_node()
    assert recorder.returncode == 0, out
    assert (bag / 'metadata.yaml').is_file()
    got = read_messages(bag, ['/audio', '/face/joint_states', '/face/landmarks'])
    assert [m.sequence for _, m in got['/audio']] == list(range(20))
    assert list(got['/audio'][7][1].samples_float32) == pytest.approx([0.07] * 160)
    assert [m.position[0] for _, m in got['/face/joint_states']] == pytest.approx(
        [i * 0.01 for i in range(20)])
    assert len(got['/face/landmarks']) == 20
    stamps = [t for t, _ in got['/audio']]
    assert stamps == sorted(stamps)


def test_foreign_truncated_and_missing_bags_are_clear_errors(tmp_path):
    with pytest.raises(BagError, match='does not exist'):
        read_messages(tmp_path / 'nope', ['/audio'])
    foreign = tmp_path / 'foreign'
    foreign.mkdir()
    (foreign / 'metadata.yaml').write_text('not: a rosbag\n')
    with pytest.raises(BagError, match='cannot read bag'):
        read_messages(foreign, ['/audio'])


@pytest.mark.ros
def test_bag_without_the_topic_names_what_it_holds(tmp_path):
    from face_bringup.bag import BagWriter

    writer = BagWriter(tmp_path / 'b')
    writer.add_topic('/face/joint_states', 'sensor_msgs/msg/JointState')
    writer.close()
    with pytest.raises(BagError, match='face-record'):
        read_messages(tmp_path / 'b', ['/audio'])
    with pytest.raises(BagError, match='never overwritten'):
        BagWriter(tmp_path / 'b')


@pytest.mark.ros
@pytest.mark.realtime
def test_a_recording_killed_after_10_s_opens_with_at_least_9_s(ros_context, tmp_path):
    """kill -9 runs no cleanup: the bag is what the segments already closed hold."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import JointState

    node = rclpy.create_node('record_killed_source', context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    joints = node.create_publisher(JointState, 'face/joint_states', 10)
    bag = tmp_path / 'killed'
    recorder = subprocess.Popen([shutil.which('face-record') or '.venv/bin/face-record',
                                 '--topics', '/face/joint_states', '--out', str(bag)],
                                stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while joints.get_subscription_count() == 0 and time.monotonic() < deadline:
            _spin_for(executor, 0.05)
        _spin_for(executor, 0.3)
        started, sent = time.monotonic(), 0
        while time.monotonic() - started < 10.0:
            joints.publish(JointState(name=['jaw_open'], position=[float(sent)]))
            sent += 1
            _spin_for(executor, 0.02)
        recorder.send_signal(signal.SIGKILL)
        recorder.wait(timeout=10)
    finally:
        if recorder.poll() is None:
            recorder.kill()
        recorder.stdout.close()
        node.destroy_node()
    got = read_messages(bag, ['/face/joint_states'])['/face/joint_states']
    stamps = [t for t, _ in got]
    assert (stamps[-1] - stamps[0]) * 1e-9 >= 9.0
    assert len(got) >= 0.9 * sent
    received = [int(m.position[0]) for _, m in got]
    assert received == list(range(received[0], received[0] + len(received))), 'gaps inside'
    assert (bag / 'metadata.yaml').is_file()   # joined in place: ros2 bag play reads it now
