"""Dynamixel X-series control tables and unit conversions, as data per model.

Addresses and sizes are those of the ROBOTIS e-manual for Protocol 2.0 X-series servos
(XL330, XC330, XM430 share the layout of the fields the driver uses). Nothing here talks to
a bus: the bus class, the emulator and the tests all read the same tables, so an address
exists in exactly one place.

Joint convention (config/face_motors.yaml):
    joint [rad] = direction * (servo_angle [rad] - pi) - offset [rad]
    servo_angle [rad] = ticks * 2*pi / 4096
"""

import math
import struct
from dataclasses import dataclass

TICKS_PER_TURN = 4096
CENTRE_TICK = 2048
RAD_PER_TICK = 2 * math.pi / TICKS_PER_TURN
# Velocity registers count 0.229 rev/min per unit on every X-series model.
RAD_S_PER_VELOCITY_UNIT = 0.229 * 2 * math.pi / 60.0
# Profile Acceleration counts 214.577 rev/min^2 per unit (velocity-based profile).
RAD_S2_PER_ACCELERATION_UNIT = 214.577 * 2 * math.pi / 3600.0
VOLT_PER_UNIT = 0.1
OPERATING_MODE_POSITION = 3


@dataclass(frozen=True)
class Field:
    address: int
    size: int        # [bytes], little-endian
    eeprom: bool     # EEPROM fields are write-locked while torque is on
    signed: bool = False


# The fields of the X-series table the driver and the emulator use.
FIELDS = {
    'model_number': Field(0, 2, True),
    'firmware_version': Field(6, 1, True),
    'id': Field(7, 1, True),
    'baud_rate': Field(8, 1, True),
    'return_delay_time': Field(9, 1, True),          # [2 us]
    'drive_mode': Field(10, 1, True),
    'operating_mode': Field(11, 1, True),
    'homing_offset': Field(20, 4, True, signed=True),
    'temperature_limit': Field(31, 1, True),         # [deg C]
    'max_voltage_limit': Field(32, 2, True),         # [0.1 V]
    'min_voltage_limit': Field(34, 2, True),         # [0.1 V]
    'current_limit': Field(38, 2, True),             # [current unit]
    'velocity_limit': Field(44, 4, True),            # [0.229 rpm]
    'max_position_limit': Field(48, 4, True),        # [tick]
    'min_position_limit': Field(52, 4, True),        # [tick]
    'shutdown': Field(63, 1, True),                  # error bits that cut torque
    'torque_enable': Field(64, 1, False),
    'led': Field(65, 1, False),
    'status_return_level': Field(68, 1, False),
    'hardware_error_status': Field(70, 1, False),
    'bus_watchdog': Field(98, 1, False, signed=True),  # [20 ms]; 0 = off, -1 = tripped
    'profile_acceleration': Field(108, 4, False),    # [214.577 rev/min^2]
    'profile_velocity': Field(112, 4, False),        # [0.229 rpm]; 0 = unlimited
    'goal_position': Field(116, 4, False, signed=True),
    'moving': Field(122, 1, False),
    'present_current': Field(126, 2, False, signed=True),
    'present_velocity': Field(128, 4, False, signed=True),
    'present_position': Field(132, 4, False, signed=True),
    'present_input_voltage': Field(144, 2, False),   # [0.1 V]
    'present_temperature': Field(146, 1, False),     # [deg C]
}
CONTROL_TABLE_SIZE = 147  # bytes up to and including Present Temperature

# One contiguous block read every cycle: current (126), velocity (128), position (132),
# unpacked in one call (int16, int32, int32, little-endian).
STATE_BLOCK_ADDRESS = 126
STATE_BLOCK_SIZE = 10
STATE_BLOCK_LAYOUT = struct.Struct('<hii')
# One contiguous block read at a lower rate: hardware error status (70) is separate;
# voltage (144) and temperature (146) follow each other.
HEALTH_BLOCK_ADDRESS = 144
HEALTH_BLOCK_SIZE = 3

# Hardware Error Status bits (address 70).
ERROR_BITS = {
    0: 'input voltage',
    2: 'overheating',
    3: 'motor encoder',
    4: 'electrical shock',
    5: 'overload',
}
ERROR_OVERHEATING = 1 << 2
ERROR_OVERLOAD = 1 << 5

# Bus Watchdog (98): with torque on, a servo that hears no instruction for value x 20 ms
# stops where it is and sets the register to -1; Goal Position is then read-only until the
# register is written 0 (which also disarms it).
WATCHDOG_UNIT = 0.02   # [s]
WATCHDOG_TRIPPED = -1


@dataclass(frozen=True)
class ModelSpec:
    model_number: int        # register 0, what PING answers
    current_unit: float      # [A] per Present Current unit
    nominal_voltage: float   # [V]
    no_load_speed: float     # [rad/s] at nominal voltage (e-manual, rounded)
    current_limit: int       # factory Current Limit [current unit]
    temperature_limit: int   # factory Temperature Limit [deg C]
    fast_sync_read: bool     # firmware answers FAST_SYNC_READ (0x8A)


def _rpm(rpm):
    return rpm * 2 * math.pi / 60.0


MODELS = {
    'XL330-M077': ModelSpec(1190, 0.001, 5.0, _rpm(383), 1750, 70, True),
    'XL330-M288': ModelSpec(1200, 0.001, 5.0, _rpm(103), 1750, 70, True),
    'XC330-T181': ModelSpec(1210, 0.001, 12.0, _rpm(129), 1750, 70, True),
    'XC330-T288': ModelSpec(1220, 0.001, 12.0, _rpm(81), 1750, 70, True),
    'XC330-M181': ModelSpec(1230, 0.001, 5.0, _rpm(129), 1750, 70, True),
    'XC330-M288': ModelSpec(1240, 0.001, 5.0, _rpm(81), 1750, 70, True),
    'XM430-W210': ModelSpec(1030, 0.00269, 12.0, _rpm(77), 1193, 80, True),
    'XM430-W350': ModelSpec(1020, 0.00269, 12.0, _rpm(46), 1193, 80, True),
}


def model_spec(model):
    try:
        return MODELS[model]
    except KeyError:
        raise KeyError(f'no control table for model {model!r}; known: '
                       f'{", ".join(MODELS)}') from None


def joint_to_ticks(actuator, position):
    """Goal Position register value [tick] for a joint position [rad]."""
    servo_angle = math.pi + actuator.direction * (position + actuator.offset)
    return int(round(servo_angle / RAD_PER_TICK))


def ticks_to_joint(actuator, ticks):
    """Joint position [rad] for a Present/Goal Position register value [tick]."""
    servo_angle = ticks * RAD_PER_TICK
    return actuator.direction * (servo_angle - math.pi) - actuator.offset


def velocity_to_joint(actuator, units):
    """Joint velocity [rad/s] from a Present Velocity register value."""
    return actuator.direction * units * RAD_S_PER_VELOCITY_UNIT


def current_to_amps(actuator, units):
    """Present Current register value to [A] (sign follows the joint direction)."""
    return actuator.direction * units * model_spec(actuator.model).current_unit


def to_signed(value, size):
    bits = 8 * size
    return value - (1 << bits) if value & (1 << (bits - 1)) else value


def encode(value, size):
    """Little-endian bytes of a register value (negative values as two's complement)."""
    return (int(value) & ((1 << (8 * size)) - 1)).to_bytes(size, 'little')


def decode(data, field):
    value = int.from_bytes(bytes(data[:field.size]), 'little')
    return to_signed(value, field.size) if field.signed else value


def error_bits(names):
    """Hardware Error Status bits of error names (ERROR_BITS values); KeyError names the
    unknown one."""
    by_name = {name: bit for bit, name in ERROR_BITS.items()}
    bits = 0
    for name in names:
        if name not in by_name:
            raise KeyError(f'no hardware error named {name!r}; known: {", ".join(by_name)}')
        bits |= 1 << by_name[name]
    return bits


def position_limit_ticks(actuator):
    """(Min, Max Position Limit) register values [tick] of an actuator's joint limits."""
    ends = joint_to_ticks(actuator, actuator.min), joint_to_ticks(actuator, actuator.max)
    return min(ends), max(ends)


def error_names(status):
    """Names of the bits set in a Hardware Error Status byte."""
    return [name for bit, name in ERROR_BITS.items() if status & (1 << bit)]
