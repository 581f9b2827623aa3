"""The driver's admission rules: topics carry their own sources, priorities have ceilings,
the lip policy names only lip actuators, calibration needs calibration mode, stale and
far-future commands are dropped."""

import pytest

from face_motor_driver.arbitration import (
    SOURCE_CALIBRATION,
    SOURCE_EXPRESSION,
    SOURCE_GAZE,
    SOURCE_LIP,
    SOURCE_OTHER,
    CommandArbiter,
    CommandRefusedError,
    StaleCommandError,
)
from face_motor_driver.face_config import default_face_config_path, load_face_config
from face_msgs.msg import FaceCommand

FACE = load_face_config(default_face_config_path())
LIPS = [a.name for a in FACE.lip_actuators]
PRIORITIES = {SOURCE_LIP: 20, SOURCE_EXPRESSION: 10, SOURCE_GAZE: 10, SOURCE_CALIBRATION: 30}
NOW = 1000.0


def arbiter(**options):
    return CommandArbiter(PRIORITIES, LIPS, **options)


def test_source_numbers_are_the_messages():
    assert (SOURCE_OTHER, SOURCE_LIP, SOURCE_EXPRESSION, SOURCE_GAZE, SOURCE_CALIBRATION) == (
        FaceCommand.SOURCE_OTHER, FaceCommand.SOURCE_LIP, FaceCommand.SOURCE_EXPRESSION,
        FaceCommand.SOURCE_GAZE, FaceCommand.SOURCE_CALIBRATION)


def test_a_message_can_lower_its_priority_but_never_raise_it():
    a = arbiter()
    assert a.admit('expression', SOURCE_EXPRESSION, 255, ['jaw_open'], 0, 0, NOW).priority == 10
    assert a.admit('expression', SOURCE_OTHER, 0, ['jaw_open'], 0, 0, NOW).priority == 10
    assert a.admit('expression', SOURCE_GAZE, 3, ['jaw_open'], 0, 0, NOW).priority == 3
    lip = a.admit('lip', SOURCE_OTHER, 0, ['jaw_open'], 0, 0, NOW)
    assert (lip.source, lip.priority) == (SOURCE_LIP, 20)
    # so no expression, whatever it asks for, outranks the speaking lip policy
    assert max(a.admit('expression', s, 255, ['jaw_open'], 0, 0, NOW).priority
               for s in (SOURCE_OTHER, SOURCE_EXPRESSION, SOURCE_GAZE)) < lip.priority


@pytest.mark.parametrize('topic, source', [('expression', SOURCE_LIP),
                                           ('lip', SOURCE_EXPRESSION),
                                           ('lip', SOURCE_CALIBRATION),
                                           ('lip', 17)])
def test_a_source_on_another_topic_is_refused(topic, source):
    with pytest.raises(CommandRefusedError, match='does not belong'):
        arbiter(calibration_mode=True).admit(topic, source, 0, ['jaw_open'], 0, 0, NOW)


def test_the_lip_policy_names_only_lip_actuators():
    a = arbiter()
    a.admit('lip', SOURCE_LIP, 0, LIPS, 0, 0, NOW)
    with pytest.raises(CommandRefusedError, match='brow_left_inner_raise'):
        a.admit('lip', SOURCE_LIP, 0, ['jaw_open', 'brow_left_inner_raise'], 0, 0, NOW)


def test_calibration_needs_calibration_mode():
    with pytest.raises(CommandRefusedError, match='calibration_mode:=true'):
        arbiter().admit('expression', SOURCE_CALIBRATION, 0, FACE.names, 0, 0, NOW)
    admitted = arbiter(calibration_mode=True).admit('expression', SOURCE_CALIBRATION, 0,
                                                    FACE.names, 0, 0, NOW)
    assert admitted.priority == 30


def test_stale_and_far_future_stamps_are_dropped_unstamped_taken():
    a = arbiter(max_age=0.5)
    assert a.admit('lip', SOURCE_LIP, 0, ['jaw_open'], NOW - 0.4, 0, NOW).priority == 20
    for stamp in (NOW - 0.6, NOW + 0.6, 1.0):
        with pytest.raises(StaleCommandError, match='stale'):
            a.admit('lip', SOURCE_LIP, 0, ['jaw_open'], stamp, 0, NOW)
    assert a.admit('lip', SOURCE_LIP, 0, ['jaw_open'], 0, 0, NOW).reach_in == 0


def test_reach_time_is_bounded():
    a = arbiter(max_reach_ahead=2.0)
    assert a.admit('lip', SOURCE_LIP, 0, ['jaw_open'], 0, NOW + 0.05, NOW).reach_in == \
        pytest.approx(0.05)
    assert a.admit('lip', SOURCE_LIP, 0, ['jaw_open'], 0, NOW - 3.0, NOW).reach_in == 0
    with pytest.raises(CommandRefusedError, match='max_reach_ahead'):
        a.admit('lip', SOURCE_LIP, 0, ['jaw_open'], 0, NOW + 3.0, NOW)
