"""The parameter table: typing like the default, checks, and errors that say what to fix."""

import math

import pytest

from face_common.parameters import (
    Check,
    Parameter,
    ParameterError,
    between,
    check_value,
    each_one_of,
    even_between,
    non_empty,
    one_of,
    positive,
)


def test_a_value_in_range_passes_and_an_int_is_taken_for_a_float():
    rate = Parameter(30.0, 'frame rate [Hz]', between(1.0, 120.0, 'Hz'))
    assert check_value('rate_hz', 60.0, rate, 'face_sim.yaml') == 60.0
    value = check_value('rate_hz', 60, rate, 'face_sim.yaml')
    assert value == 60.0 and isinstance(value, float)


def test_an_out_of_range_value_names_parameter_range_and_file():
    rate = Parameter(150.0, 'cycles per second', between(0.0, 5000.0))
    with pytest.raises(ParameterError) as error:
        check_value('cycle_rate', -5.0, rate, 'face_motor_driver.yaml')
    text = str(error.value)
    assert 'cycle_rate=-5.0 must be in [0.0, 5000.0]' in text
    assert 'config/face_motor_driver.yaml' in text


@pytest.mark.parametrize('value', ['fast', True, [1.0]])
def test_a_wrong_type_is_refused_like_its_default(value):
    with pytest.raises(ParameterError, match=r'must be a float, like its default 0\.5'):
        check_value('command_timeout', value, Parameter(0.5, 'timeout [s]'), 'x.yaml')


def test_a_bool_is_not_an_int():
    with pytest.raises(ParameterError, match='must be a int'):
        check_value('threads', True, Parameter(1, 'threads', between(1, 16)), 'x.yaml')


def test_no_check_takes_every_value_of_the_type():
    assert check_value('file', '', Parameter('', 'a path'), 'x.yaml') == ''


@pytest.mark.parametrize('check, good, bad, says', [
    (positive(60.0), 60.0, 0.0, '> 0 and <= 60.0'),
    (positive(), 1e9, math.inf, 'a finite number > 0'),
    (one_of(('realtime', 'normal')), 'normal', 'fifo', 'realtime or normal'),
    (non_empty(), 'camera', '', 'not empty'),
    (even_between(64, 1920), 480, 481, 'even and in [64, 1920]'),
    (each_one_of(('overload', 'overheating')), ['overload'], ['voltage'], 'overheating'),
    (Check(lambda v: 0.0 <= v < 0.5, 'in [0, 0.5) s'), 0.0, 0.5, 'in [0, 0.5) s'),
])
def test_checks_accept_and_refuse_with_their_text(check, good, bad, says):
    parameter = Parameter(good, 'something', check)
    assert check_value('name', good, parameter, 'x.yaml') == good
    with pytest.raises(ParameterError, match='must be ') as error:
        check_value('name', bad, parameter, 'x.yaml')
    assert says in str(error.value)


def test_a_table_entry_unpacks_as_default_description_check():
    default, description, check = Parameter(2, 'frames', between(0, 10))
    assert (default, description, check.accepts) == (2, 'frames', 'in [0, 10]')


def test_the_module_needs_no_ros():
    import subprocess
    import sys

    code = ('import sys, face_common.parameters, face_common.time, face_common.frames, '
            'face_common.workspace, face_common.scheduling, face_common.node_processes; '
            'assert not any(m.startswith(("rclpy", "rcl_interfaces")) for m in sys.modules)')
    subprocess.run([sys.executable, '-c', code], check=True)
