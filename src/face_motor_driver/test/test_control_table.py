import math

import pytest

from face_motor_driver.control_table import (
    FIELDS,
    MODELS,
    RAD_PER_TICK,
    STATE_BLOCK_ADDRESS,
    STATE_BLOCK_LAYOUT,
    STATE_BLOCK_SIZE,
    decode,
    encode,
    error_names,
    joint_to_ticks,
    ticks_to_joint,
)
from face_motor_driver.face_config import KNOWN_MODELS, Actuator


def test_every_known_model_has_a_control_table():
    assert set(KNOWN_MODELS) == set(MODELS)
    assert len({spec.model_number for spec in MODELS.values()}) == len(MODELS)


def test_ticks_round_trip_for_all_26_actuators(face_config):
    assert len(face_config.actuators) == 26
    for a in face_config.actuators:
        for position in (a.min, a.neutral, a.max, 0.5 * (a.min + a.max)):
            ticks = joint_to_ticks(a, position)
            assert 0 <= ticks <= 4095, a.name
            assert abs(ticks_to_joint(a, ticks) - position) <= RAD_PER_TICK / 2 + 1e-12
            assert joint_to_ticks(a, ticks_to_joint(a, ticks)) == ticks


def test_direction_and_offset_follow_the_documented_formula():
    a = Actuator('x', 1, 'XL330-M288', 'lips', -1.0, 1.0, 0.0, 1.0, -1, 0.25)
    # joint = direction * (servo_angle - pi) - offset
    ticks = joint_to_ticks(a, 0.5)
    servo_angle = ticks * RAD_PER_TICK
    assert math.isclose(-(servo_angle - math.pi) - 0.25, 0.5, abs_tol=RAD_PER_TICK)
    assert joint_to_ticks(a, 0.0) < 2048  # negative direction, positive offset: below centre


def test_register_encoding_is_little_endian_twos_complement():
    assert encode(-1, 4) == b'\xff\xff\xff\xff'
    assert decode(encode(-300, 4), FIELDS['present_velocity']) == -300
    assert decode(encode(4000, 4), FIELDS['goal_position']) == 4000
    assert decode(b'\x34\x12', FIELDS['model_number']) == 0x1234


@pytest.mark.parametrize('bits, names', [(0, []), (0x04, ['overheating']),
                                         (0x24, ['overheating', 'overload'])])
def test_error_names(bits, names):
    assert error_names(bits) == names


def test_the_state_block_layout_unpacks_the_fields_where_they_are():
    names = ('present_current', 'present_velocity', 'present_position')
    values = (-300, -1234, 70000)
    block = bytearray(STATE_BLOCK_SIZE)
    for name, value in zip(names, values):
        field = FIELDS[name]
        offset = field.address - STATE_BLOCK_ADDRESS
        block[offset:offset + field.size] = encode(value, field.size)
    assert STATE_BLOCK_LAYOUT.size == STATE_BLOCK_SIZE
    assert STATE_BLOCK_LAYOUT.unpack(bytes(block)) == values


def test_the_fast_sync_read_segment_holds_the_state_fields_where_they_are():
    from face_motor_driver.bus import STATE_SEGMENT
    assert STATE_SEGMENT.itemsize == 1 + 1 + STATE_BLOCK_SIZE + 2
    for name in ('current', 'velocity', 'position'):
        field = FIELDS[f'present_{name}']
        assert STATE_SEGMENT.fields[name][1] == 2 + field.address - STATE_BLOCK_ADDRESS
        assert STATE_SEGMENT[name].itemsize == field.size and STATE_SEGMENT[name].kind == 'i'
