"""Who may move what: the driver's admission rules for a FaceCommand, without ROS.

A command's source and priority come from the message, so they are checked against what
the driver was configured to allow before the command reaches the CommandShaper:

- Each topic carries its own sources. face/lip_command carries the lip policy (SOURCE_LIP,
  or SOURCE_OTHER); face/expression_command carries expressions, gaze and calibration
  (SOURCE_OTHER there counts as an expression). A source on the other topic is refused.
- Each source's configured priority is also its ceiling: a message may ask for less (to
  yield), never for more. With the defaults an expression (10) cannot take the lips or jaw
  from the lip policy (20) while the policy speaks, whatever priority it asks for; once the
  policy's claim expires (command_timeout) expressions may move them.
- The lip policy may name only the lip-policy groups' actuators (face_config.LIP_GROUPS).
- Calibration (babbling, which takes every actuator at the highest priority) is refused
  unless the driver runs in calibration mode.
- A command stamped (header.stamp non-zero) more than max_age ago, or that far in the
  future (a clock that disagrees), is stale and dropped; unstamped commands are taken as
  fresh. A reach_time more than max_reach_ahead ahead is refused.

Refusals raise CommandRefusedError with a sentence saying what to change; the driver logs it and
counts it by reason (stale commands are counted apart: they are expected under load).
"""

from dataclasses import dataclass

SOURCE_OTHER, SOURCE_LIP, SOURCE_EXPRESSION, SOURCE_GAZE, SOURCE_CALIBRATION = range(5)
SOURCE_NAMES = {SOURCE_OTHER: 'other', SOURCE_LIP: 'lip', SOURCE_EXPRESSION: 'expression',
                SOURCE_GAZE: 'gaze', SOURCE_CALIBRATION: 'calibration'}
# topic -> (the source SOURCE_OTHER stands for there, the sources the topic carries)
TOPICS = {
    'lip': (SOURCE_LIP, (SOURCE_LIP,)),
    'expression': (SOURCE_EXPRESSION, (SOURCE_EXPRESSION, SOURCE_GAZE, SOURCE_CALIBRATION)),
}


class CommandRefusedError(ValueError):
    """The driver does not take this command; the text says why and what to do."""


class StaleCommandError(CommandRefusedError):
    """The command's stamp is too old (or too far ahead) to act on."""


@dataclass(frozen=True)
class Admitted:
    source: int
    priority: int
    reach_in: float      # [s] from now until the pose should be reached (>= 0)


class CommandArbiter:
    """priorities: source -> configured priority (= ceiling); lip_names: actuators the lip
    policy may name; max_age, max_reach_ahead [s]."""

    def __init__(self, priorities, lip_names, calibration_mode=False, max_age=0.5,
                 max_reach_ahead=2.0):
        self.priorities = dict(priorities)
        self.lip_names = frozenset(lip_names)
        self.calibration_mode = bool(calibration_mode)
        self.max_age = float(max_age)
        self.max_reach_ahead = float(max_reach_ahead)

    def admit(self, topic, source, priority, names, stamp, reach_time, now):
        """Admitted for a command on `topic` ('lip' or 'expression'); stamp and reach_time
        are seconds on the driver's ROS clock (0 = unset), now that clock's time [s]."""
        own, carried = TOPICS[topic]
        source = source or own
        if source not in carried:
            raise CommandRefusedError(
                f'source {SOURCE_NAMES.get(source, source)} does not belong on '
                f'face/{topic}_command (it carries '
                f'{", ".join(SOURCE_NAMES[s] for s in carried)}); publish on the other topic')
        if source == SOURCE_CALIBRATION and not self.calibration_mode:
            raise CommandRefusedError('calibration commands are refused outside calibration mode; '
                                 'start the driver with calibration_mode:=true (the calibrate '
                                 'graph does) to babble or evaluate the self-model')
        if source == SOURCE_LIP:
            foreign = [n for n in names if n not in self.lip_names]
            if foreign:
                raise CommandRefusedError(
                    f'the lip policy may move only the jaw and lips; {", ".join(foreign)} '
                    'belong to expressions (publish them on face/expression_command)')
        if stamp and abs(now - stamp) > self.max_age:
            raise StaleCommandError(f'command stamped {now - stamp:+.3f} s from now (more than '
                               f'max_command_age {self.max_age} s): dropped as stale')
        reach_in = 0.0
        if reach_time:
            reach_in = reach_time - now
            if reach_in > self.max_reach_ahead:
                raise CommandRefusedError(
                    f'reach_time is {reach_in:.3f} s ahead, more than max_reach_ahead '
                    f'{self.max_reach_ahead} s; send the pose closer to when it is due')
            reach_in = max(reach_in, 0.0)   # already due: as soon as possible
        ceiling = self.priorities[source]
        return Admitted(source, min(priority, ceiling) if priority else ceiling, reach_in)
