"""The rendered face as MediaPipe sees it: detection, lip directions, determinism, nuisances."""

import numpy as np
import pytest

from face_msgs.face_layout import FACE_SUBSET
from face_sim.camera import Nuisances, SimCamera
from face_sim.render import FaceRenderer
from mirror_calibration.observer import FaceObserver


@pytest.fixture(scope='module')
def renderer():
    return FaceRenderer(640, 480, seed=0)


@pytest.fixture(scope='module')
def observer():
    with FaceObserver(static_images=True) as observer:
        yield observer


@pytest.fixture(scope='module')
def neutral(renderer, observer):
    observation = observer.observe(renderer.render({}))
    assert observation.detected
    return observation.points


def random_positions(config, rng):
    return {a.name: float(rng.uniform(a.min, a.max)) for a in config.actuators}


def test_image_is_camera_shaped_and_rest_is_the_photo(renderer):
    image = renderer.render({})
    assert image.shape == (480, 640, 3) and image.dtype == np.uint8
    # Away from the face nothing is warped: the frame there is the photo itself.
    assert np.array_equal(image[:, :renderer.roi[0]], renderer.photo[:, :renderer.roi[0]])


def test_a_face_is_detected_over_a_random_sweep_of_all_actuators(renderer, observer):
    rng = np.random.default_rng(11)
    camera = SimCamera(renderer, Nuisances(True, True, True, False), seed=4)
    detected = sum(observer.observe(camera.capture(random_positions(renderer.config, rng)))
                   .detected for _ in range(40))
    assert detected == 40   # bench/sim_perception.py measures the rate over hundreds


# actuator, position [rad], MediaPipe points it moves, axis (0 = x, 1 = y), direction.
# Directions from config/face_motors.yaml: +x is the face's left, +y is up.
LIP_DIRECTIONS = [
    ('jaw_open', 0.4, (14, 17), 1, -1),
    ('lip_corner_left_raise', 0.45, (291,), 1, +1),
    ('lip_corner_left_raise', -0.45, (291,), 1, -1),
    ('lip_corner_right_raise', 0.45, (61,), 1, +1),
    ('lip_corner_right_raise', -0.45, (61,), 1, -1),
    ('lip_corner_left_stretch', 0.45, (291,), 0, +1),
    ('lip_corner_left_stretch', -0.45, (291,), 0, -1),
    ('lip_corner_right_stretch', 0.45, (61,), 0, -1),
    ('lip_corner_right_stretch', -0.45, (61,), 0, +1),
    ('upper_lip_left_raise', 0.5, (267, 269, 312, 311), 1, +1),
    ('upper_lip_left_raise', -0.3, (267, 269, 312, 311), 1, -1),
    ('upper_lip_center_raise', 0.5, (0, 13), 1, +1),
    ('upper_lip_center_raise', -0.3, (0, 13), 1, -1),
    ('upper_lip_right_raise', 0.5, (37, 39, 82, 81), 1, +1),
    ('upper_lip_right_raise', -0.3, (37, 39, 82, 81), 1, -1),
    ('lower_lip_left_lower', 0.5, (314, 405, 317, 402), 1, -1),
    ('lower_lip_left_lower', -0.3, (314, 405, 317, 402), 1, +1),
    ('lower_lip_right_lower', 0.5, (84, 181, 87, 178), 1, -1),
    ('lower_lip_right_lower', -0.3, (84, 181, 87, 178), 1, +1),
]


@pytest.mark.parametrize('name, position, points, axis, sign', LIP_DIRECTIONS)
def test_each_lip_actuator_moves_its_lip_landmarks_its_documented_way(
        renderer, observer, neutral, name, position, points, axis, sign):
    observation = observer.observe(renderer.render({name: position}))
    assert observation.detected
    rows = [FACE_SUBSET.index(i) for i in points]
    shift = (observation.points[rows, axis] - neutral[rows, axis]).mean()
    # MediaPipe's frame-to-frame jitter on these points is about 0.003 eye spans.
    assert sign * shift > 0.008, f'{name}={position}: moved {shift:+.4f} eye spans'


def test_closing_the_upper_eyelid_closes_the_seen_eye(renderer, observer, neutral):
    observation = observer.observe(renderer.render({'eyelid_left_upper_close': 0.9}))
    assert observation.detected

    def opening(points, upper, lower):
        return points[FACE_SUBSET.index(upper), 1] - points[FACE_SUBSET.index(lower), 1]

    # MediaPipe under-reads lid closure on this face; a clear drop is what it reports.
    assert opening(observation.points, 386, 374) < 0.85 * opening(neutral, 386, 374)
    assert opening(observation.points, 159, 145) > 0.9 * opening(neutral, 159, 145)


def test_a_seed_replays_the_same_video(renderer):
    rng = np.random.default_rng(5)
    positions = [random_positions(renderer.config, rng) for _ in range(4)]
    everything = Nuisances(True, True, True, True)

    def video(seed):
        camera = SimCamera(renderer, everything, seed=seed)
        return [camera.capture(p) for p in positions]

    first, again, other = video(7), video(7), video(8)
    for a, b, c in zip(first, again, other):
        assert np.array_equal(a, b)
        assert not np.array_equal(a, c)
    # The skin's seed matters too: another head shows the same pose differently.
    assert not np.array_equal(FaceRenderer(640, 480, seed=1).render(positions[0]),
                              renderer.render(positions[0]))


def test_latency_shows_the_previous_frame(renderer):
    camera = SimCamera(renderer, Nuisances(latency=True))
    open_jaw = {'jaw_open': 0.4}
    assert np.array_equal(camera.capture({}), renderer.render({}))
    assert np.array_equal(camera.capture(open_jaw), renderer.render({}))
    assert np.array_equal(camera.capture({}), renderer.render(open_jaw))


def test_nuisances_change_pixels_but_not_the_face_frame(renderer, observer, neutral):
    camera = SimCamera(renderer, Nuisances(head_motion=True, lighting=True, noise=True),
                       seed=2)
    for _ in range(20):       # 0.67 s in: the head has moved
        frame = camera.capture({})
    assert np.abs(frame.astype(int) - renderer.render({}).astype(int)).mean() > 3
    observation = observer.observe(frame)
    assert observation.detected
    assert np.abs(observation.points - neutral).mean() < 0.02


# A /p b m/ closure: jaw clenched, both lips pressed together. The hidden skin stops the
# lips where they meet (inner gap about 0.1 % of the mouth width, a tenth of a pixel).
SEALED = {'jaw_open': -0.05, 'upper_lip_left_raise': -0.3, 'upper_lip_center_raise': -0.3,
          'upper_lip_right_raise': -0.3, 'lower_lip_left_lower': -0.3,
          'lower_lip_right_lower': -0.3}


def _seen_opening(observer, image):
    """Inner-lip gap over mouth width, as lip_policy.metrics reads the observer's lips."""
    from face_msgs.face_layout import LIPS
    from lip_policy import metrics

    observation = observer.observe(image)
    assert observation.detected
    lips = observation.points[None, LIPS]
    return float(metrics.opening(lips)[0] / metrics.width(lips)[0])


@pytest.mark.parametrize('size', [(640, 480), (480, 360)])
def test_sealed_lips_are_seen_closed_and_parted_lips_open(renderer, observer, size):
    from lip_policy import metrics

    face = renderer if size == (640, 480) else FaceRenderer(*size, seed=0)
    pose, _ = face.mesh_displacement(SEALED)
    gap = pose.points[13, 1] - pose.points[14, 1]     # inner lips at the centre [eye spans]
    assert 0 <= gap < 0.002
    assert _seen_opening(observer, face.render(SEALED)) < metrics.CLOSED_FRACTION
    assert _seen_opening(observer, face.render({})) > 0.1          # at rest, lips apart
    assert _seen_opening(observer, face.render({'jaw_open': 0.1})) > 0.25


def test_the_cavity_fades_out_where_the_lips_touch(renderer):
    """No antialiased outline of the cavity along touching lips (what cv2.fillPoly alone
    draws for a polygon a tenth of a pixel high); open mouths keep their cavity."""
    class NoCavity(FaceRenderer):
        def _draw_mouth(self, image, points, jaw_shift):
            return None

    class Outline(FaceRenderer):          # the renderer before the gap coverage
        def cavity_coverage(self, points, columns):
            return np.ones(len(columns), np.float32)

    bare, outline = NoCavity(640, 480, seed=0), Outline(640, 480, seed=0)

    def drawn(face, pose):
        return np.abs(face.render(pose).astype(int) - bare.render(pose)).sum(-1)

    sealed, outlined = drawn(renderer, SEALED), drawn(outline, SEALED)
    assert (outlined > 60).sum() > 50                 # the old line along the lips
    assert sealed.sum() < 0.2 * outlined.sum() and (sealed > 60).sum() == 0
    opened = {'jaw_open': 0.2}
    assert (drawn(renderer, opened) > 100).sum() > 1000    # the cavity and teeth are drawn
    assert drawn(renderer, opened).sum() > 0.98 * drawn(outline, opened).sum()  # as before
    _, moved = renderer.mesh_displacement(SEALED)
    coverage = renderer.cavity_coverage(renderer.mesh_image + moved,
                                        np.arange(renderer.width, dtype=np.float64))
    assert coverage.max() < 0.5 and coverage.min() == 0.0
