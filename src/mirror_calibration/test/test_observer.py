"""The observer on a real face photo (scikit-image's astronaut) and on frames without a face."""

import cv2
import numpy as np
import pytest
import skimage.data

from face_msgs import face_layout
from mirror_calibration.observer import FaceObserver


@pytest.fixture(scope='module')
def astronaut():
    return skimage.data.astronaut()


@pytest.fixture(scope='module')
def observer():
    with FaceObserver(static_images=True) as obs:
        yield obs


def test_photo_gives_subset_in_face_frame(observer, astronaut):
    o = observer.observe(astronaut)
    assert o.detected
    assert o.points.shape == (len(face_layout.FACE_SUBSET), 3)
    assert o.mesh_px.shape == (478, 3)
    assert 0.5 <= o.confidence <= 1.0
    assert 20 < o.face_size_px < astronaut.shape[1]
    outer = face_layout.FACE_SUBSET.index(face_layout.EYE_CORNER_RIGHT_OUTER)
    left = face_layout.FACE_SUBSET.index(face_layout.EYE_CORNER_LEFT_OUTER)
    # The eye corners define the frame: (-0.5, 0, 0) and (+0.5, 0, 0) by construction.
    np.testing.assert_allclose(o.points[outer], [-0.5, 0, 0], atol=1e-9)
    np.testing.assert_allclose(o.points[left], [0.5, 0, 0], atol=1e-9)
    lips = o.points[face_layout.LIPS]
    assert np.all(lips[:, 1] < -0.5), 'the mouth lies well below the eyes'
    assert 0.5 < face_layout.mouth_width(o.points) < 1.2


def test_head_pose_and_scale_are_removed(observer, astronaut):
    reference = observer.observe(astronaut).points
    h, w = astronaut.shape[:2]
    centre = (w / 2, h / 3)
    turned = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D(centre, 15, 0.7), (w, h))
    o = observer.observe(turned)
    assert o.detected
    assert abs(o.face_size_px / observer.observe(astronaut).face_size_px - 0.7) < 0.05
    lip_error = np.linalg.norm(o.points[face_layout.LIPS, :2] - reference[face_layout.LIPS, :2],
                               axis=1)
    assert lip_error.mean() < 0.03, 'same face rotated and shrunk must give the same lips'


@pytest.mark.parametrize('frame', [np.zeros((240, 320, 3), np.uint8),
                                   np.full((240, 320, 3), 200, np.uint8),
                                   np.random.default_rng(0).integers(0, 255, (240, 320, 3),
                                                                     dtype=np.uint8),
                                   np.zeros((1, 1, 3), np.uint8)])
def test_frames_without_face_are_not_detected(observer, frame):
    o = observer.observe(frame)
    assert not o.detected
    assert o.points.shape == (0, 3)
    assert o.confidence == 0.0
    assert np.isnan(o.face_size_px)
    assert o.mesh_px is None


def test_tracking_mode_keeps_confidence_and_recovers(astronaut):
    with FaceObserver(static_images=False) as obs:
        first = obs.observe(astronaut)
        tracked = obs.observe(astronaut)
        lost = obs.observe(np.zeros_like(astronaut))
        again = obs.observe(astronaut)
    assert first.detected and tracked.detected and again.detected
    assert tracked.confidence == pytest.approx(first.confidence)
    assert not lost.detected


@pytest.mark.parametrize('bad', [np.zeros((10, 10), np.uint8), np.zeros((10, 10, 4), np.uint8),
                                 np.zeros((10, 10, 3), np.float32)])
def test_wrong_image_format_is_a_clear_error(observer, bad):
    with pytest.raises(ValueError, match='uint8 RGB'):
        observer.observe(bad)


def test_confidence_threshold_is_validated():
    with pytest.raises(ValueError, match='min_detection_confidence'):
        FaceObserver(min_detection_confidence=1.5)
