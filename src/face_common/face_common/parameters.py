"""Node parameters as one table: name -> Parameter(default, description, check).

Every node declares its parameters from such a table with declare_parameters(): each gets
a ParameterDescriptor with its description, a value of the wrong type or one its check
rejects stops the node with a ParameterError naming the parameter, what it accepts and
where to fix it. The same table is what the tests hold config/*.yaml and the READMEs to.

    PARAMETERS = {
        'rate_hz': Parameter(30.0, 'frame rate [Hz]', between(1.0, 120.0, 'Hz')),
        'frame_id': Parameter('camera', 'frame_id of every image', non_empty()),
    }
    values = declare_parameters(node, PARAMETERS, 'face_sim.yaml')

Values are typed by their default: an integer is taken for a float parameter (so
`-p rate_hz:=30` works), any other type is refused. Plain Python until a node declares
(rcl_interfaces is imported there).
"""

import math
from collections.abc import Callable
from typing import Any, NamedTuple


class ParameterError(ValueError):
    """A node parameter has a value the node cannot work with."""


class Check(NamedTuple):
    """test(value) -> True when usable; accepts: what is valid, completing 'must be ...'."""

    test: Callable[[Any], bool]
    accepts: str


class Parameter(NamedTuple):
    default: Any
    description: str
    check: Check | None = None   # None: every value of the default's type


def between(low, high, unit=''):
    """A number in [low, high] (unit: for the message, e.g. 'Hz', 's')."""
    return Check(lambda v: low <= v <= high, f'in [{low}, {high}]' + (f' {unit}' if unit
                                                                        else ''))


def positive(limit=math.inf, unit=''):
    """A finite number in (0, limit]."""
    accepts = f'> 0 and <= {limit}' if math.isfinite(limit) else 'a finite number > 0'
    return Check(lambda v: 0 < v <= limit and math.isfinite(v),
                 accepts + (f' {unit}' if unit else ''))


def one_of(choices):
    """One of the given values."""
    choices = tuple(choices)
    return Check(lambda v: v in choices, ' or '.join(str(c) for c in choices))


def non_empty():
    return Check(bool, 'not empty')


def even_between(low, high):
    """An even integer in [low, high]."""
    return Check(lambda v: low <= v <= high and v % 2 == 0, f'even and in [{low}, {high}]')


def each_one_of(choices):
    """A list whose every item is one of choices."""
    choices = tuple(choices)
    return Check(lambda v: all(item in choices for item in v),
                 f'a list of items among: {", ".join(choices)}')


def _typed_like(default, value, name):
    """value as the type of default (int -> float allowed); ParameterError otherwise."""
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if type(value) is not type(default):
        raise ParameterError(f'parameter {name}={value!r} must be a {type(default).__name__}, '
                             f'like its default {default!r}')
    return value


def check_value(name, value, parameter, params_file):
    """value typed like the parameter's default and accepted by its check, else
    ParameterError naming it, what it accepts and where to fix it."""
    value = _typed_like(parameter.default, value, name)
    if parameter.check is not None and not parameter.check.test(value):
        raise ParameterError(f'parameter {name}={value!r} must be {parameter.check.accepts}; '
                             f'fix it in config/{params_file} or on the command line')
    return value


def declare_parameters(node, table, params_file):
    """Declare every parameter of table on node; -> {name: checked value}.

    params_file: the config/ file that sets these parameters, named in error messages.
    Dynamic typing on declaration, so a wrong type reaches check_value (and its message)
    instead of an rclpy traceback.
    """
    from rcl_interfaces.msg import ParameterDescriptor

    values = {}
    for name, parameter in table.items():
        value = node.declare_parameter(name, parameter.default, ParameterDescriptor(
            description=parameter.description, dynamic_typing=True)).value
        values[name] = check_value(name, value, parameter, params_file)
    return values


def scheduling_parameters(priority, why=''):
    """The 'scheduling' and 'realtime_priority' rows of a node that keeps the face in time
    (face_common.scheduling); why: what sets its priority against the other nodes'."""
    from face_common.scheduling import PRIORITY_RANGE, SCHEDULING

    low, high = PRIORITY_RANGE
    return {
        'scheduling': Parameter('realtime', 'CPU scheduling of this node (and its child '
                                'processes): realtime (SCHED_RR where permitted, else nice '
                                '-10) or normal', one_of(SCHEDULING)),
        'realtime_priority': Parameter(priority, f'SCHED_RR priority with scheduling realtime '
                                       f'[{low}..{high}]' + (f'; {why}' if why else ''),
                                       between(low, high)),
    }


def diagnostics_rate_parameter(default):
    """The 'diagnostics_rate' row: /diagnostics messages per second."""
    return {'diagnostics_rate': Parameter(default, '/diagnostics messages per second [Hz]',
                                          between(0.1, 50.0, 'Hz'))}
