"""camera_node and observer_node as real processes over DDS: a video file in, landmarks out."""

import time

import cv2
import numpy as np
import pytest
import skimage.data

from face_common.node_processes import NodeProcess
from face_common.waiting import wait_until
from face_msgs import face_layout

pytestmark = pytest.mark.ros


@pytest.fixture
def face_video(tmp_path):
    """An MJPG video: 10 frames of the astronaut photo, then 10 blank frames, 160x160."""
    path = tmp_path / 'face.avi'
    face = cv2.resize(cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR), (256, 256))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 10, (256, 256))
    for _ in range(10):
        writer.write(face)
    for _ in range(10):
        writer.write(np.zeros_like(face))
    writer.release()
    return path


def _collect(context, count, timeout):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node

    from face_common.qos import LANDMARK_QOS
    from face_msgs.msg import FaceLandmarks

    node = Node('landmark_listener', context=context)
    received = []
    node.create_subscription(FaceLandmarks, 'face/landmarks', received.append, LANDMARK_QOS)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    deadline = time.monotonic() + timeout
    try:
        while len(received) < count and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
    finally:
        executor.shutdown()
        node.destroy_node()
    return received


@pytest.mark.realtime
def test_video_through_camera_and_observer(ros_context, face_video):
    from face_msgs.checks import check_face_landmarks

    with NodeProcess('observer_node') as observer, \
            NodeProcess('camera_node', {'device': str(face_video), 'width': 256,
                                        'height': 256, 'rate': 20.0, 'frame_id': 'mirror'}) \
            as camera:
        received = _collect(ros_context, 40, timeout=30)
        observer.check_running()
        camera.check_running()
    assert len(received) >= 40, 'observer must publish one message per camera frame'
    for msg in received:
        check_face_landmarks(msg, len(face_layout.FACE_SUBSET) if msg.detected else None)
        assert msg.header.frame_id == 'mirror'
        assert msg.layout == 'face_subset_v1'
    faces = [m for m in received if m.detected]
    blanks = [m for m in received if not m.detected]
    assert len(faces) >= 10 and len(blanks) >= 10, 'the looping video has faces and blanks'
    points = np.array([[p.x, p.y, p.z] for p in faces[0].points])
    assert 0.5 < face_layout.mouth_width(points) < 1.2
    assert all(np.isnan(m.face_size_px) and m.confidence == 0.0 for m in blanks)
    stamps = [m.header.stamp.sec + 1e-9 * m.header.stamp.nanosec for m in received]
    assert all(s > 0 for s in stamps), 'landmarks carry the camera frame stamp'


def test_camera_that_cannot_open_fails_clearly(tmp_path):
    node = NodeProcess('camera_node', {'device': str(tmp_path / 'missing.avi')})
    try:
        code = node.process.wait(timeout=30)
        text = node.output()
    finally:
        node.close()
    assert code == 2
    assert 'does not exist' in text and 'camera index' in text


def test_bad_parameter_fails_clearly():
    node = NodeProcess('observer_node', {'min_detection_confidence': 1.5})
    try:
        code = node.process.wait(timeout=30)
        text = node.output()
    finally:
        node.close()
    assert code == 2
    assert 'min_detection_confidence' in text and '[0, 1]' in text


def test_params_file_is_accepted_by_every_node():
    params = face_layout_config_path()
    with NodeProcess('observer_node', params_file=params) as observer, \
            NodeProcess('calibration_node', params_file=params) as calibration:
        wait_until(lambda: (observer.check_running(), calibration.check_running(),
                            'observer ready' in observer.output())[-1], 60,
                   lambda: f'the observer announcing it is ready: {observer.output()[-2000:]}',
                   interval=0.1)
        observer.check_running()
        calibration.check_running()
    camera = NodeProcess('camera_node', params_file=params)
    try:
        code = camera.process.wait(timeout=30)  # the file names /dev/video0: absent here
        text = camera.output()
    finally:
        camera.close()
    assert code == 2 and 'cannot open camera device 0' in text


def face_layout_config_path():
    from face_common.workspace import config_dir
    return config_dir() / 'mirror_calibration.yaml'


@pytest.mark.realtime
def test_observer_survives_malformed_images_and_serves_the_full_mesh(ros_context):
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import Image

    from face_common.qos import LANDMARK_QOS
    from face_msgs.msg import FaceLandmarks
    from mirror_calibration.image_codec import rgb_to_image_fields

    face = cv2.resize(skimage.data.astronaut(), (256, 256))
    encoding, height, width, step, data = rgb_to_image_fields(face)
    good = Image(encoding=encoding, height=height, width=width, step=step, data=data)
    good.header.frame_id = 'good'
    odd = Image(encoding='yuv422', height=height, width=width, step=step, data=data)
    odd.header.frame_id = 'odd'
    short = Image(encoding=encoding, height=height, width=width, step=step, data=data[:1000])
    short.header.frame_id = 'short'
    with NodeProcess('observer_node', {'layout': 'mediapipe_face_mesh_478',
                                       'static_images': True}) as observer:
        node = Node('image_source', context=ros_context)
        received = {}
        node.create_subscription(FaceLandmarks, 'face/landmarks',
                                 lambda m: received.setdefault(m.header.frame_id, m),
                                 LANDMARK_QOS)
        publisher = node.create_publisher(Image, 'camera/image_raw', qos_profile_sensor_data)
        executor = SingleThreadedExecutor(context=ros_context)
        executor.add_node(node)
        deadline = time.monotonic() + 30
        try:
            while len(received) < 3 and time.monotonic() < deadline:
                for image in (odd, short, good):
                    if image.header.frame_id not in received:
                        publisher.publish(image)
                executor.spin_once(timeout_sec=0.2)
        finally:
            executor.shutdown()
            node.destroy_node()
        observer.check_running()
    assert not received['odd'].detected and not received['short'].detected
    assert received['good'].detected
    assert received['good'].layout == 'mediapipe_face_mesh_478'
    assert len(received['good'].points) == 478
