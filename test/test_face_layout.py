"""The landmark subset is consistent and the face frame removes head pose and scale."""

import numpy as np
import pytest

from face_msgs import face_layout as fl


def test_subset_regions_are_disjoint_and_ordered():
    assert len(fl.FACE_SUBSET) == 109 == len(set(fl.FACE_SUBSET))
    assert all(0 <= i < 468 for i in fl.FACE_SUBSET)
    assert fl.LIP_POINT_COUNT == fl.LIPS.stop - fl.LIPS.start == 40
    for name, region in fl.REGIONS.items():
        assert fl.FACE_SUBSET[fl.SUBSET_SLICES[name]] == region
    assert fl.FACE_SUBSET[fl.MOUTH_CORNER_RIGHT] == 61
    assert fl.FACE_SUBSET[fl.INNER_LIP_BOTTOM] == 14


def _random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _plausible_mesh(rng):
    """A random cloud with the anchors where a face has them (eyes level, forehead above)."""
    mesh = rng.normal(scale=30.0, size=(478, 3))
    mesh[fl.EYE_CORNER_RIGHT_OUTER] = (-30.0, 0.0, 0.0)
    mesh[fl.EYE_CORNER_LEFT_OUTER] = (30.0, 0.0, 0.0)
    mesh[fl.FOREHEAD] = (0.0, 40.0, 5.0)
    mesh[fl.NOSE_BASE] = (0.0, -30.0, 15.0)
    return mesh


def test_face_frame_is_invariant_to_head_pose_and_distance():
    rng = np.random.default_rng(4)
    mesh = _plausible_mesh(rng)
    reference, span = fl.to_face_frame(mesh)
    assert span == pytest.approx(60.0)
    assert reference[fl.FACE_SUBSET.index(33)] == pytest.approx([-0.5, 0.0, 0.0])
    for _ in range(5):
        moved = (mesh @ _random_rotation(rng).T) * rng.uniform(0.3, 3.0) + rng.normal(size=3) * 200
        points, _ = fl.to_face_frame(moved)
        np.testing.assert_allclose(points, reference, atol=1e-9)


def test_mouth_measures_follow_the_lips():
    rng = np.random.default_rng(5)
    points, _ = fl.to_face_frame(_plausible_mesh(rng))
    opened = points.copy()
    opened[fl.INNER_LIP_BOTTOM, 1] -= 0.2
    assert fl.mouth_opening(opened) == pytest.approx(fl.mouth_opening(points) + 0.2)
    widened = points.copy()
    widened[fl.MOUTH_CORNER_LEFT] += (widened[fl.MOUTH_CORNER_LEFT]
                                      - widened[fl.MOUTH_CORNER_RIGHT]) * 0.5
    assert fl.mouth_width(widened) == pytest.approx(fl.mouth_width(points) * 1.5)


def test_mesh_to_pixels_makes_a_right_handed_frame_with_y_up():
    normalised = np.array([[0.5, 0.25, -0.1]])
    assert fl.mesh_to_pixels(normalised, 640, 480)[0] == pytest.approx([320.0, -120.0, 64.0])


def test_degenerate_mesh_is_refused():
    mesh = np.zeros((478, 3))
    with pytest.raises(fl.FaceFrameError, match='eye corners'):
        fl.to_face_frame(mesh)
    with pytest.raises(fl.FaceFrameError, match='468'):
        fl.to_face_frame(np.zeros((10, 3)))
