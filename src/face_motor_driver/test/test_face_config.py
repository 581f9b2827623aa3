import copy

import pytest
import yaml

from face_motor_driver.face_config import (
    ConfigError,
    default_face_config_path,
    load_face_config,
    parse_face_config,
)


@pytest.fixture
def raw():
    return yaml.safe_load(default_face_config_path().read_text())


def test_shipped_config_is_valid(face_config):
    assert len(face_config.actuators) == 26
    assert len(face_config.lip_actuators) == 10
    assert face_config.bus.port == 'sim'


def _break(raw, index, **fields):
    data = copy.deepcopy(raw)
    data['actuators'][index].update(fields)
    return data


@pytest.mark.parametrize('index, fields, expected', [
    (3, {'id': 1}, "bus id 1 is used by both 'jaw_open' and 'lip_corner_right_raise'"),
    (2, {'min': 0.5, 'max': 0.1}, "'lip_corner_left_stretch'"),
    (4, {'neutral': 2.0}, 'neutral 2.0 is outside'),
    (5, {'model': 'XL320'}, "unknown model 'XL320'"),
    (6, {'max_velocity': float('nan')}, 'must be finite'),
    (7, {'direction': 2}, 'direction must be 1 or -1'),
])
def test_bad_entries_are_named(raw, index, fields, expected):
    with pytest.raises(ConfigError) as info:
        parse_face_config(_break(raw, index, **fields), 'face_motors.yaml')
    assert expected in str(info.value)
    assert f'actuators[{index}]' in str(info.value) or 'used by both' in str(info.value)


def test_missing_and_corrupt_files(tmp_path):
    with pytest.raises(ConfigError, match='cannot read face config'):
        load_face_config(tmp_path / 'none.yaml')
    bad = tmp_path / 'bad.yaml'
    bad.write_text('bus: [unclosed')
    with pytest.raises(ConfigError, match='not valid YAML'):
        load_face_config(bad)
