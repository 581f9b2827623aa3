"""The hidden skin model: softening, couplings, contact, rigid anchors, seeding, bad input."""

import numpy as np
import pytest

from face_motor_driver.face_config import default_face_config_path, load_face_config
from face_msgs.face_layout import to_face_frame
from face_sim.photo import neutral_face
from face_sim.skin import (
    ANCHORS,
    LOWER_INNER_LIP,
    MAX_TRAVEL,
    UPPER_INNER_LIP,
    SkinError,
    SkinModel,
    soft_travel,
)

CONFIG = load_face_config(default_face_config_path())


@pytest.fixture(scope='module')
def neutral_points():
    _, mesh_px = neutral_face(640, 480)
    points, _ = to_face_frame(mesh_px, range(len(mesh_px)))
    return points[:, :2]


@pytest.fixture(scope='module')
def skin(neutral_points):
    return SkinModel(neutral_points, CONFIG, seed=0)


def random_positions(rng):
    return {a.name: float(rng.uniform(a.min, a.max)) for a in CONFIG.actuators}


def test_travel_reaches_one_at_the_limits_and_softens_towards_them():
    assert soft_travel(0.5, -0.3, 0.5) == pytest.approx(1.0)
    assert soft_travel(-0.3, -0.3, 0.5) == pytest.approx(-1.0)
    assert soft_travel(0.0, -0.3, 0.5) == 0.0
    # Beyond a limit the skin goes no further.
    assert soft_travel(0.9, -0.3, 0.5) == pytest.approx(1.0)
    first = soft_travel(0.05, -0.3, 0.5) - soft_travel(0.0, -0.3, 0.5)
    last = soft_travel(0.5, -0.3, 0.5) - soft_travel(0.45, -0.3, 0.5)
    assert last < 0.6 * first


def test_neutral_and_missing_names_leave_the_face_at_rest(skin):
    pose = skin.pose({})
    assert np.allclose(pose.displacement, 0.0)
    neutral = {a.name: a.neutral for a in CONFIG.actuators}
    assert np.allclose(skin.pose(neutral).displacement, 0.0)


def test_bad_positions_are_refused_with_the_name(skin):
    with pytest.raises(SkinError, match='jaw_open'):
        skin.pose({'jaw_open': float('nan')})
    with pytest.raises(SkinError, match='jaw_opne'):
        skin.pose({'jaw_opne': 0.1})


def test_jaw_carries_the_lower_lip_not_the_upper(skin):
    d = skin.pose({'jaw_open': 0.4}).displacement
    lower = d[list(LOWER_INNER_LIP), 1].mean()
    upper = d[list(UPPER_INNER_LIP), 1].mean()
    assert lower < -0.2
    assert abs(upper) < 0.1 * abs(lower)


def test_lips_press_together_instead_of_crossing(skin, neutral_points):
    pressed = skin.pose({'upper_lip_left_raise': -0.3, 'upper_lip_center_raise': -0.3,
                         'upper_lip_right_raise': -0.3, 'lower_lip_left_lower': -0.3,
                         'lower_lip_right_lower': -0.3, 'chin_raise': 0.4}).points
    gap = pressed[list(UPPER_INNER_LIP), 1] - pressed[list(LOWER_INNER_LIP), 1]
    neutral_gap = (neutral_points[list(UPPER_INNER_LIP), 1]
                   - neutral_points[list(LOWER_INNER_LIP), 1])
    assert gap.min() > -0.01             # never crossed (within the saturation's rounding)
    assert gap.mean() < 0.3 * neutral_gap.mean()   # but closed


def test_coupling_is_not_additive(skin):
    """Stretching the corner makes raising it lift less: the map is not linear."""
    raise_alone = skin.pose({'lip_corner_left_raise': 0.45}).displacement
    stretch_alone = skin.pose({'lip_corner_left_stretch': 0.45}).displacement
    both = skin.pose({'lip_corner_left_raise': 0.45,
                      'lip_corner_left_stretch': 0.45}).displacement
    assert np.abs(both - (raise_alone + stretch_alone)).max() > 0.01


def test_anchors_stay_put_and_travel_saturates(skin):
    rng = np.random.default_rng(3)
    for _ in range(50):
        d = skin.pose(random_positions(rng)).displacement
        assert np.abs(d[list(ANCHORS)]).max() == 0.0
        assert np.linalg.norm(d, axis=1).max() <= MAX_TRAVEL + 1e-9


def test_seed_gives_each_head_its_own_reproducible_skin(neutral_points):
    positions = random_positions(np.random.default_rng(0))
    a = SkinModel(neutral_points, CONFIG, seed=1).pose(positions).displacement
    b = SkinModel(neutral_points, CONFIG, seed=1).pose(positions).displacement
    c = SkinModel(neutral_points, CONFIG, seed=2).pose(positions).displacement
    assert np.array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_a_wrong_mesh_is_refused():
    with pytest.raises(SkinError, match='478'):
        SkinModel(np.zeros((10, 2)), CONFIG)


def test_readme_documents_every_actuator():
    import itertools
    import pathlib
    import re

    readme = (pathlib.Path(__file__).resolve().parents[1] / 'README.md').read_text()
    skin_section = readme.split('## The skin model')[1].split('\n## ')[0]
    documented = set()
    for pattern in re.findall(r'^\| `([a-z_{},]+)` \|', skin_section, flags=re.MULTILINE):
        parts = re.split(r'\{([a-z,]+)\}', pattern)
        choices = [p.split(',') if i % 2 else [p] for i, p in enumerate(parts)]
        documented.update(''.join(c) for c in itertools.product(*choices))
    assert documented == set(CONFIG.names)
