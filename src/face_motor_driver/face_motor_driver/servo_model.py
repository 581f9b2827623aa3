"""One emulated X-series servo: its control-table memory and its motion.

Dynamics (what face_sim renders and what the lip policy compensates):
    the position follows Goal Position as a first-order lag with time constant
    `lag` [s] (default 0.03 s, about what a small position-controlled servo with the
    factory P gain shows under a light skin load), with the speed limited to
    Profile Velocity when it is non-zero, else to the model's no-load speed, and the
    change of speed limited to Profile Acceleration when that is non-zero:
        v_wanted = (goal - position) * (1 - exp(-dt / lag)) / dt
        v = clip(v_wanted, v - a_max dt, v + a_max dt), then clip to +-v_max
        position += v * dt
    A step of size d therefore takes about 3 * lag to reach 95 % when the speed limit
    is not hit, and d / v_max + lag when it is.
Present Current is modelled as a proportional effort on the tracking error (half the
current limit at 0.35 rad error), Present Temperature as a first-order rise with
current squared (60 s time constant), Present Input Voltage as the nominal supply.
With torque off the joint stays where the skin left it.

Bus Watchdog (98) as the X-series firmware has it: armed with a value of 1..127 [20 ms] and
torque on, a servo that hears no instruction addressed to it for that long stops where it
is (its goal becomes its position at that moment) and the register reads -1; goal writes
are refused until the register is written 0. Checked lazily: whenever the servo is next
touched, the silence since the last instruction is looked at, and motion up to the trip is
integrated towards the old goal, after it towards the stop.
"""

import functools
import math
import struct

from .control_table import (
    CONTROL_TABLE_SIZE,
    ERROR_OVERHEATING,
    FIELDS,
    OPERATING_MODE_POSITION,
    RAD_PER_TICK,
    RAD_S2_PER_ACCELERATION_UNIT,
    RAD_S_PER_VELOCITY_UNIT,
    WATCHDOG_TRIPPED,
    WATCHDOG_UNIT,
    decode,
    model_spec,
)
from .protocol import ERR_ACCESS, ERR_DATA_LIMIT, ERR_RESULT_FAIL

AMBIENT_TEMPERATURE = 30.0     # [deg C]
THERMAL_TIME_CONSTANT = 60.0   # [s]
FULL_EFFORT_ERROR = 0.35       # [rad] tracking error at which current is half the limit


# Per field: its little-endian struct layout and its address. Every servo reads and writes
# several fields per instruction, hundreds of times a second: one C call each.
_FORMATS = {(1, False): '<B', (2, False): '<H', (4, False): '<I',
            (1, True): '<b', (2, True): '<h', (4, True): '<i'}
_REGISTERS = {name: (struct.Struct(_FORMATS[f.size, f.signed]), f.address)
              for name, f in FIELDS.items()}


@functools.cache
def _write_range(address, end):
    """(touches an EEPROM field, touches a read-only field) for a write of [address, end).

    Cached: every cycle writes the same range of every servo.
    """
    touched = [(n, f) for n, f in FIELDS.items()
               if f.address < end and address < f.address + f.size]
    eeprom = any(f.eeprom for _, f in touched)
    read_only = any(n.startswith(('present_', 'model_', 'hardware_error', 'moving'))
                    or n == 'firmware_version' for n, _ in touched)
    return eeprom, read_only


_WATCHDOG_ADDRESS = FIELDS['bus_watchdog'].address


class AccessError(Exception):
    """A read or write the servo refuses (range or EEPROM lock); carries the status error."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


class EmulatedServo:
    def __init__(self, servo_id, model, position_ticks, lag=0.03, now=0.0):
        self.id = servo_id
        self.model = model
        self.spec = model_spec(model)
        self.lag = lag
        self.memory = bytearray(CONTROL_TABLE_SIZE)
        self._set('model_number', self.spec.model_number)
        self._set('firmware_version', 52)
        self._set('id', servo_id)
        self._set('baud_rate', 3)                 # 1 Mbps
        self._set('return_delay_time', 250)       # factory 500 us; the driver sets 0
        self._set('operating_mode', OPERATING_MODE_POSITION)
        self._set('temperature_limit', self.spec.temperature_limit)
        self._set('max_voltage_limit', int(self.spec.nominal_voltage * 14))
        self._set('min_voltage_limit', int(self.spec.nominal_voltage * 7))
        self._set('current_limit', self.spec.current_limit)
        self._set('velocity_limit', int(self.spec.no_load_speed / RAD_S_PER_VELOCITY_UNIT))
        self._set('max_position_limit', 4095)
        self._set('min_position_limit', 0)
        self._set('shutdown', 0x34)               # overheating, electrical shock, overload
        self._set('status_return_level', 2)
        self._set('present_input_voltage', int(round(self.spec.nominal_voltage * 10)))
        self.position = float(position_ticks)     # [tick], continuous
        self.velocity = 0.0                        # [tick/s]
        self.temperature = AMBIENT_TEMPERATURE
        self.injected_errors = 0
        self._current_units = 0.0
        self._set('goal_position', position_ticks)
        self._last_update = now
        self.last_heard = now                      # last instruction addressed to it
        self._publish_state()

    # -- memory ---------------------------------------------------------------------------
    def _set(self, name, value):
        layout, address = _REGISTERS[name]
        layout.pack_into(self.memory, address, value)

    def get(self, name):
        layout, address = _REGISTERS[name]
        return layout.unpack_from(self.memory, address)[0]

    @property
    def torque_on(self):
        return self.memory[FIELDS['torque_enable'].address] == 1

    @property
    def hardware_error(self):
        return self.memory[FIELDS['hardware_error_status'].address]

    def heard(self, now):
        """An instruction addressed to this servo arrived (resets the bus watchdog)."""
        self.update(now)
        self.last_heard = now

    def read(self, address, length, now):
        self.heard(now)
        if length < 1 or address + length > CONTROL_TABLE_SIZE:
            raise AccessError(ERR_ACCESS)
        return bytes(self.memory[address:address + length])

    def write(self, address, data, now):
        self.heard(now)
        end = address + len(data)
        if not data or end > CONTROL_TABLE_SIZE:
            raise AccessError(ERR_ACCESS)
        eeprom, read_only = _write_range(address, end)
        if self.torque_on and eeprom:
            raise AccessError(ERR_ACCESS)       # EEPROM is locked while torque is on
        if read_only:
            raise AccessError(ERR_ACCESS)       # read-only fields
        goal = FIELDS['goal_position']
        if address <= goal.address and goal.address + goal.size <= end:
            if self.get('bus_watchdog') == WATCHDOG_TRIPPED:
                raise AccessError(ERR_ACCESS)   # goals are read-only after a watchdog trip
            value = decode(data[goal.address - address:], goal)
            if not self.get('min_position_limit') <= value <= self.get('max_position_limit'):
                raise AccessError(ERR_DATA_LIMIT)
        torque_field = FIELDS['torque_enable'].address
        was_on = self.torque_on
        self.memory[address:end] = data
        if self.hardware_error and self.torque_on:
            self.memory[torque_field] = 0  # a latched error keeps torque off until reboot
            raise AccessError(ERR_RESULT_FAIL)
        if self.torque_on and not was_on:
            # Torque on holds the present position rather than jumping to a stale goal.
            self._set('goal_position', int(round(self.position)))

    # -- faults -------------------------------------------------------------------------
    def inject_errors(self, bits):
        """Set the causes of hardware errors (overheating/overload). A new cause latches its
        bit and drops torque, like a real servo; a cause that goes away (the servo cooled,
        the joint was freed) leaves the bit latched: only a REBOOT clears it."""
        if self.injected_errors & ERROR_OVERHEATING and not bits & ERROR_OVERHEATING:
            self.temperature = AMBIENT_TEMPERATURE  # the cause is gone: it has cooled down
        new = bits & ~self.injected_errors
        self.injected_errors = bits
        if bits & ERROR_OVERHEATING:
            self.temperature = max(self.temperature, self.spec.temperature_limit + 5.0)
        if new:
            self._latch(new)
        self._publish_state()

    def _latch(self, bits):
        self._set('hardware_error_status', self.hardware_error | bits)
        self._set('torque_enable', 0)

    def reboot(self, now):
        """REBOOT: torque off, hardware errors cleared (latched again at once when their
        cause persists), RAM settings back to their power-on values."""
        self.heard(now)
        self._set('hardware_error_status', 0)
        self._set('torque_enable', 0)
        self._set('bus_watchdog', 0)
        self._set('profile_velocity', 0)
        self._set('profile_acceleration', 0)
        self._set('goal_position', int(round(self.position)))
        self.velocity = 0.0
        if self.injected_errors:
            self._latch(self.injected_errors)
        self._publish_state()

    # -- motion ---------------------------------------------------------------------------
    def update(self, now):
        """Advance the motion to now, tripping the bus watchdog on the way if it is due."""
        watchdog = self.memory[_WATCHDOG_ADDRESS]   # unsigned here: -1 reads 255
        if 0 < watchdog < 128 and self.torque_on:
            trip = self.last_heard + watchdog * WATCHDOG_UNIT
            if trip < now:
                self._advance(max(trip, self._last_update))
                self._set('goal_position', int(round(self.position)))   # stop here
                self._set('bus_watchdog', WATCHDOG_TRIPPED)
        self._advance(now)

    def _advance(self, now):
        dt = now - self._last_update
        if dt <= 0.0:
            return
        self._last_update = now
        current_limit = self.get('current_limit')
        if self.torque_on:
            goal = self.get('goal_position')
            wanted = (goal - self.position) * (1.0 - math.exp(-dt / self.lag)) / dt
            profile = self.get('profile_acceleration') * RAD_S2_PER_ACCELERATION_UNIT
            if profile > 0:
                step = profile / RAD_PER_TICK * dt
                wanted = min(max(wanted, self.velocity - step), self.velocity + step)
            v_max = self.spec.no_load_speed
            profile_velocity = self.get('profile_velocity') * RAD_S_PER_VELOCITY_UNIT
            if profile_velocity > 0:
                v_max = min(v_max, profile_velocity)
            v_max /= RAD_PER_TICK
            self.velocity = min(max(wanted, -v_max), v_max)
            self.position += self.velocity * dt
            error = (goal - self.position) * RAD_PER_TICK
            effort = 0.5 * max(-1.0, min(1.0, error / FULL_EFFORT_ERROR))
            current_units = effort * current_limit
        else:
            self.velocity = 0.0
            current_units = 0.0
        heat = (abs(current_units) / max(1, current_limit)) ** 2
        target_temperature = AMBIENT_TEMPERATURE + 40.0 * heat
        if self.injected_errors & ERROR_OVERHEATING:
            target_temperature = self.spec.temperature_limit + 5.0
        self.temperature += (target_temperature - self.temperature) * (
            1.0 - math.exp(-dt / THERMAL_TIME_CONSTANT))
        self._current_units = current_units
        self._publish_state()

    def _publish_state(self):
        self._set('present_position', int(round(self.position)))
        self._set('present_velocity', int(round(self.velocity * RAD_PER_TICK
                                                / RAD_S_PER_VELOCITY_UNIT)))
        self._set('present_current', int(round(self._current_units)))
        self._set('present_temperature', int(round(self.temperature)))
        self._set('moving', int(abs(self.velocity) * RAD_PER_TICK > 0.01))
