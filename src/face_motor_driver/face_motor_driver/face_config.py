"""The face's actuator configuration (config/face_motors.yaml): loading and validation.

Every other package learns the actuator names, groups and limits from here, so there is
one place that says what the face has. Loading fails on the first problem with a
ConfigError that names the offending entry and says what to fix.
"""

import math
import pathlib
from dataclasses import dataclass

import yaml

from face_common.workspace import config_dir

from .control_table import ERROR_BITS

# Models with a control table in face_motor_driver.control_table.
KNOWN_MODELS = ('XL330-M077', 'XL330-M288', 'XC330-M181', 'XC330-M288', 'XC330-T181',
                'XC330-T288', 'XM430-W210', 'XM430-W350')
# Groups the lip policy owns; every other group belongs to expressions.
LIP_GROUPS = ('jaw', 'lips')
SIM_PORT = 'sim'


class ConfigError(ValueError):
    """config/face_motors.yaml is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class Actuator:
    name: str            # face-terms name, e.g. 'lip_corner_left_raise'
    id: int              # Dynamixel bus ID [1..252]
    model: str           # one of KNOWN_MODELS
    group: str           # 'jaw', 'lips', 'eyes', 'eyelids', 'brows', ...
    min: float           # lower joint limit [rad]
    max: float           # upper joint limit [rad]
    neutral: float       # resting position [rad]
    max_velocity: float  # slew-rate limit [rad/s]
    direction: int       # +1 or -1: joint sign relative to the servo's
    offset: float        # joint zero relative to the servo centre [rad]

    def clamp(self, position):
        """position limited to [min, max] [rad]."""
        return min(max(position, self.min), self.max)


# Hardware errors that cut a servo's torque when bus.shutdown is not given (factory setting).
DEFAULT_SHUTDOWN = ('overheating', 'electrical shock', 'overload')
WATCHDOG_RANGE = (0.02, 2.54)   # [s] what Bus Watchdog (1..127 x 20 ms) can hold


@dataclass(frozen=True)
class BusConfig:
    port: str            # serial device path, or 'sim' for the emulator
    baud_rate: int       # [bit/s]
    protocol: float      # always 2.0
    # [s] servos stop where they are when no instruction reaches them for this long (Bus
    # Watchdog); 0 = off. Rounded to 20 ms.
    watchdog: float = 0.1
    shutdown: tuple = DEFAULT_SHUTDOWN   # hardware errors that cut torque (Shutdown register)


@dataclass(frozen=True)
class FaceConfig:
    bus: BusConfig
    actuators: tuple     # of Actuator, in file order

    @property
    def names(self):
        return tuple(a.name for a in self.actuators)

    def actuator(self, name):
        for a in self.actuators:
            if a.name == name:
                return a
        raise KeyError(f'no actuator named {name!r}; see config/face_motors.yaml')

    def in_groups(self, groups):
        return tuple(a for a in self.actuators if a.group in groups)

    @property
    def lip_actuators(self):
        """The jaw and lip actuators, which the lip policy commands."""
        return self.in_groups(LIP_GROUPS)


_ACTUATOR_FIELDS = {
    'name': str, 'id': int, 'model': str, 'group': str, 'min': float, 'max': float,
    'neutral': float, 'max_velocity': float, 'direction': int, 'offset': float,
}


def _actuator(entry, index):
    where = f'actuators[{index}]' + (f' ({entry.get("name")!r})' if isinstance(entry, dict)
                                     and 'name' in entry else '')
    if not isinstance(entry, dict):
        raise ConfigError(f'{where} must be a mapping of {", ".join(_ACTUATOR_FIELDS)}')
    missing = [f for f in _ACTUATOR_FIELDS if f not in entry]
    if missing:
        raise ConfigError(f'{where} lacks {", ".join(missing)}')
    unknown = sorted(set(entry) - set(_ACTUATOR_FIELDS))
    if unknown:
        raise ConfigError(f'{where} has unknown fields {", ".join(unknown)}')
    values = {}
    for field, kind in _ACTUATOR_FIELDS.items():
        value = entry[field]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool):
            raise ConfigError(f'{where}: {field} must be {kind.__name__}, got {value!r}')
        if kind is float and not math.isfinite(value):
            raise ConfigError(f'{where}: {field} must be finite, got {value!r}')
        values[field] = value
    a = Actuator(**values)
    if not a.name.isidentifier():
        raise ConfigError(f'{where}: name must be a lower_case identifier in face terms')
    if not 1 <= a.id <= 252:
        raise ConfigError(f'{where}: id {a.id} is outside the Dynamixel range 1..252')
    if a.model not in KNOWN_MODELS:
        raise ConfigError(f'{where}: unknown model {a.model!r}; known: {", ".join(KNOWN_MODELS)}')
    if a.min > a.max:
        raise ConfigError(f'{where}: min {a.min} > max {a.max}')
    if not a.min <= a.neutral <= a.max:
        raise ConfigError(f'{where}: neutral {a.neutral} is outside [min {a.min}, max {a.max}]')
    if a.max_velocity <= 0:
        raise ConfigError(f'{where}: max_velocity must be > 0 rad/s, got {a.max_velocity}')
    if a.direction not in (1, -1):
        raise ConfigError(f'{where}: direction must be 1 or -1, got {a.direction}')
    # A joint range must map inside the servo's one-turn position range (0..2*pi).
    for limit in (a.min, a.max):
        servo_angle = math.pi + a.direction * (limit + a.offset)
        if not 0.0 <= servo_angle <= 2 * math.pi:
            raise ConfigError(f'{where}: limit {limit} rad with offset {a.offset} falls '
                              'outside the servo turn; fix offset or limits')
    return a


def parse_face_config(data, source='face config'):
    """A FaceConfig from already-parsed YAML data; raises ConfigError naming the problem."""
    if not isinstance(data, dict):
        raise ConfigError(f'{source}: top level must be a mapping with bus and actuators')
    bus = data.get('bus')
    if not isinstance(bus, dict):
        raise ConfigError(f'{source}: missing bus section (port, baud_rate, protocol)')
    port, baud, protocol = bus.get('port'), bus.get('baud_rate'), bus.get('protocol', 2.0)
    if not isinstance(port, str) or not port:
        raise ConfigError(f'{source}: bus.port must be a device path or {SIM_PORT!r}')
    if not isinstance(baud, int) or baud <= 0:
        raise ConfigError(f'{source}: bus.baud_rate must be a positive integer [bit/s]')
    if float(protocol) != 2.0:
        raise ConfigError(f'{source}: bus.protocol {protocol} is not supported; use 2.0')
    watchdog = bus.get('watchdog', 0.1)
    if isinstance(watchdog, bool) or not isinstance(watchdog, (int, float)) or not (
            watchdog == 0 or WATCHDOG_RANGE[0] <= watchdog <= WATCHDOG_RANGE[1]):
        raise ConfigError(f'{source}: bus.watchdog {watchdog!r} must be 0 (off) or '
                          f'{WATCHDOG_RANGE[0]}..{WATCHDOG_RANGE[1]} s')
    shutdown = bus.get('shutdown', list(DEFAULT_SHUTDOWN))
    if not isinstance(shutdown, list) or not all(n in ERROR_BITS.values() for n in shutdown):
        raise ConfigError(f'{source}: bus.shutdown {shutdown!r} must be a list of hardware '
                          f'errors from: {", ".join(ERROR_BITS.values())}')
    entries = data.get('actuators')
    if not isinstance(entries, list) or not entries:
        raise ConfigError(f'{source}: actuators must be a non-empty list')
    actuators = tuple(_actuator(e, i) for i, e in enumerate(entries))
    seen_names, seen_ids = {}, {}
    for a in actuators:
        if a.name in seen_names:
            raise ConfigError(f'{source}: actuator name {a.name!r} is used twice')
        if a.id in seen_ids:
            raise ConfigError(f'{source}: bus id {a.id} is used by both '
                              f'{seen_ids[a.id]!r} and {a.name!r}')
        seen_names[a.name], seen_ids[a.id] = a, a.name
    return FaceConfig(BusConfig(port, baud, float(protocol), float(watchdog), tuple(shutdown)),
                      actuators)


def load_face_config(path):
    """Load and validate config/face_motors.yaml (or another file of the same shape)."""
    path = pathlib.Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f'cannot read face config {path}: {exc.strerror}; pass the path '
                          'of config/face_motors.yaml') from exc
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f'{path} is not valid YAML: {exc}') from exc
    return parse_face_config(data, str(path))


def default_face_config_path():
    """config/face_motors.yaml of the workspace (face_common.workspace.config_dir)."""
    return config_dir() / 'face_motors.yaml'
