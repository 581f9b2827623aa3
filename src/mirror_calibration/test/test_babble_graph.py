"""The mirror stage end to end over real DDS: driver on the emulated bus, face_sim rendering
the face, observer, calibration_node. A tiny babbling session gives a dataset and a
self-model that beats a mean predictor by a wide margin, and the inverse model, sent round
the real loop, brings the observed lips closer to targets than the resting face does.
Every sample's landmarks are those the observer published for a frame of the face settled at
that sample's pose, though the next move starts as soon as that frame is asked for
(calibration_node's frame_overlap, on by default): a frame face_sim rendered after the next
move had set the joints moving would show up here as joints away from the sample's pose
between settling and the frame.
"""

import threading

import numpy as np
import pytest
import torch

from face_common.time import stamp_seconds
from face_msgs.msg import FaceLandmarks
from mirror_calibration.babble_client import run_babble
from mirror_calibration.dataset import load_dataset
from mirror_calibration.fit import FitOptions, run_fit
from mirror_calibration.node_graph import mirror_graph

pytestmark = pytest.mark.ros

SAMPLES = 240


class Recorder:
    """Every joint state and landmarks message of the session, by stamp, on its own thread."""

    def __init__(self, context):
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.qos import qos_profile_sensor_data
        from sensor_msgs.msg import JointState

        from face_common.qos import landmark_reader_qos

        self.joints, self.landmarks = [], {}
        self.heard = threading.Event()   # the observer's landmarks reach this recorder
        self.node = Node('babble_recorder', context=context)
        self.node.create_subscription(JointState, 'face/joint_states', self._on_joints,
                                      qos_profile_sensor_data)
        self.node.create_subscription(FaceLandmarks, 'face/landmarks', self._on_landmarks,
                                      landmark_reader_qos(5000))
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.thread = threading.Thread(target=self.executor.spin, daemon=True)
        self.thread.start()

    def _on_joints(self, msg):
        self.joints.append((stamp_seconds(msg.header.stamp), dict(zip(msg.name, msg.position))))

    def _on_landmarks(self, msg):
        self.heard.set()
        self.landmarks.setdefault(stamp_seconds(msg.header.stamp), np.array(
            [[p.x, p.y, p.z] for p in msg.points]) if msg.detected else None)

    def joints_between(self, start, end, names):
        """(stamps, positions (n, names)) of the joint states stamped in [start, end]."""
        inside = [(t, p) for t, p in self.joints if start <= t <= end]
        return ([t for t, _ in inside],
                np.array([[p[n] for n in names] for _, p in inside]).reshape(-1, len(names)))

    def close(self):
        self.executor.shutdown()
        self.thread.join()
        self.node.destroy_node()


@pytest.mark.realtime
def test_tiny_babbling_session_learns_the_face(ros_context, tmp_path):
    import rclpy

    from mirror_calibration.evaluate import evaluate

    dataset = tmp_path / 'babble'
    recorder = Recorder(ros_context)
    try:
        # As bench/self_model.py babbles: each sample's frame asked for on camera/trigger,
        # the free-running camera at 10 Hz.
        with mirror_graph(calibration={'transition_time': 0.1, 'settle_window': 0.04},
                          face_sim={'rate_hz': 10.0}) as graph:
            assert recorder.heard.wait(60), 'the recorder never heard the observer'
            result = run_babble(ros_context, dataset, SAMPLES, seed=11,
                                groups=['jaw', 'lips'], timeout=400)
            for node in graph:
                node.check_running()
    finally:
        recorder.close()
    assert result.success, result.message
    data = load_dataset(dataset)
    assert len(data) == SAMPLES == result.samples_total
    np.testing.assert_array_equal(data.index, np.arange(SAMPLES))

    # Each sample's frame: face_sim stamps an image with the joint state it rendered, and the
    # observer copies the stamp, so the sample's landmarks are the ones published under
    # image_time and the face in that frame is the joint state of that stamp.
    names = list(data.meta.actuator_names)
    babbled = [names.index(n) for n in ('jaw_open', 'lip_corner_left_raise',
                                        'lower_lip_right_lower')]
    seen = 0
    for k in range(SAMPLES):
        assert data.image_time[k] in recorder.landmarks, (
            f'sample {k}: the recorder has no landmarks stamped {data.image_time[k]:.4f} '
            f'({len(recorder.landmarks)} frames recorded)')
        published = recorder.landmarks[data.image_time[k]]
        if data.detected[k]:
            np.testing.assert_array_equal(data.landmarks[k], published)
        assert data.image_time[k] >= data.command_time[k] + 0.03   # frame_delay after settling
        # From settling to the frame the face held this sample's pose (a frame of the move to
        # the next pose would be up to the whole distance away). Joint states are best
        # effort: on a busy machine the recorder misses some, now and then all of a sample's.
        stamps, held = recorder.joints_between(data.command_time[k], data.image_time[k], names)
        seen += bool(stamps)
        np.testing.assert_allclose(held[:, babbled], np.broadcast_to(
            data.commanded[k, babbled], (len(stamps), len(babbled))), atol=0.01)
        if stamps and stamps[-1] == data.image_time[k]:   # the joint state face_sim rendered
            # (within a tick: one stamp can come with two states a tick apart)
            np.testing.assert_allclose(held[-1], data.measured[k], atol=0.0016)
    assert seen > 0.9 * SAMPLES, 'the recorder saw the face between settling and the frame'
    assert data.detected.mean() > 0.95, 'the simulated face is seen in almost every frame'
    jaw = list(data.meta.actuator_names).index('jaw_open')
    assert np.corrcoef(data.commanded[:, jaw], data.measured[:, jaw])[0, 1] > 0.95

    torch.set_num_threads(1)
    report = run_fit(dataset, tmp_path / 'self_model.pt', progress=False,
                     options=FitOptions(forward_steps=800, inverse_steps=500))
    # ~220 training poses in 10 dimensions: about half the mean predictor's error.
    assert report['forward_lip_error'] < 0.65 * report['mean_predictor_lip_error']

    rclpy.init()
    try:
        with mirror_graph(with_calibration=False):
            figures = evaluate(tmp_path / 'self_model.pt', targets=6, progress=False)
    finally:
        rclpy.try_shutdown()
    assert figures['roundtrip_frames_without_face'] == 0
    assert figures['roundtrip_lip_error'] < 0.7 * figures['neutral_face_lip_error']
