"""The face driver without ROS: start-up, the control cycle, fault handling, diagnostics.

Port loss (a USB adapter pulled, a cable, a hub resetting): any failure of the port itself
(PortError) in a cycle closes it, clears every reading (NaN: nothing stale goes out),
reports the port as lost, and reopens it with back-off (RECONNECT_BACKOFF, doubling up to
RECONNECT_BACKOFF_MAX); when it opens and servos answer, each is configured again, torque
comes back if it was on, the watchdogs are armed and the goals start from where the servos
are. Servos that do not answer then are retried like any silent servo.

One cycle = shape goals -> one sync write + one sync read, sent together. A servo that
stops answering is taken out of the sync groups (the others keep running), reported as
ERROR and pinged again every `retry_interval`; when it answers it is configured again, its
goal starts from where it is, and it rejoins. A single failed sync read (a corrupt reply)
is retried once before any servo is blamed. Health (error bits, voltage, temperature) is
read at a lower rate. The node wraps this class; the tests and the benchmark drive it
directly.
"""

import math
import time
from dataclasses import dataclass

import numpy as np

from .bus import BusError, CommError, PortError
from .command_shaper import CommandShaper
from .control_table import WATCHDOG_UNIT, model_spec

OK, WARN, ERROR, STALE = 0, 1, 2, 3  # diagnostic_msgs/DiagnosticStatus levels
RECONNECT_BACKOFF = 0.05       # [s] first wait before reopening a lost port
RECONNECT_BACKOFF_MAX = 0.4    # [s] longest wait between attempts (recovery within ~0.5 s)
WATCHDOG_CHECK_INTERVAL = 0.5  # [s] between reads of the servos' Bus Watchdog state


@dataclass
class DriverSettings:
    command_timeout: float = 0.5          # [s] without commands before easing to neutral
    neutral_duration: float = 1.0         # [s] default easing time to neutral
    health_rate: float = 5.0              # [Hz] error bits, voltage, temperature reads
    retry_interval: float = 1.0           # [s] between pings of a silent servo
    temperature_warn_margin: float = 10.0  # [deg C] below the servo's limit: WARN
    load_warn: float = 0.8                # fraction of the current limit: WARN
    profile_velocity: float = 0.0         # [rad/s] servo-side speed cap; 0 = none
    profile_acceleration: float = 0.0     # [rad/s^2] servo-side acceleration cap; 0 = none
    shutdown_timeout: float = 3.0         # [s] longest wait for neutral at shutdown
    # Hardware errors the driver clears with a REBOOT (then configures the servo again and
    # restores torque); overheating only once cooled temperature_warn_margin below the limit.
    reboot_on: tuple = ('overload', 'overheating')
    reboot_interval: float = 5.0          # [s] at least this long between reboots of a servo


@dataclass
class ActuatorStatus:
    name: str
    servo_id: int
    level: int
    message: str
    values: dict          # str -> str, for diagnostic_msgs/KeyValue


class FaceDriver:
    def __init__(self, config, bus, settings=None, log=print):
        self.config = config
        self.bus = bus
        self.settings = settings or DriverSettings()
        self.log = log
        self.actuators = config.actuators
        self.shaper = CommandShaper(self.actuators, self.settings.command_timeout,
                                    self.settings.neutral_duration)
        n = len(self.actuators)
        self.position = np.full(n, math.nan)   # [rad] NaN until first read
        self.velocity = np.full(n, math.nan)   # [rad/s]
        self.effort = np.full(n, math.nan)     # [A] motor current
        self.health = {}                       # servo id -> ServoHealth
        self.offline = {}                      # servo id -> reason text
        self.torque_enabled = False
        self.cycles = 0
        self.failed_reads = 0                  # sync reads that needed a retry
        self.watchdog_trips = 0                # servos found stopped by their Bus Watchdog
        self._last_cycle = None                # [s] when the last cycle ran
        self._next_watchdog_check = 0.0
        self.reboots = 0                       # REBOOTs sent to clear hardware errors
        self.resets = 0                        # servos found with torque off on their own
        self._next_reboot = {}                 # servo id -> earliest next reboot [s]
        self._index_by_id = {a.id: i for i, a in enumerate(self.actuators)}
        self._next_health = 0.0
        self._next_retry = 0.0
        self._retry_turn = 0
        self._pinged = None                    # offline servo pinged at the end of a cycle
        self.port_lost = ''                    # why the port was lost; '' while it works
        self.port_lost_since = None            # [s] time.monotonic() of the loss
        self.port_losses = 0
        self._backoff = RECONNECT_BACKOFF
        self._next_reconnect = 0.0

    # -- start-up and shutdown ------------------------------------------------------------
    def start(self, now=None):
        """Open the port, ping every servo (fail naming the missing), configure, torque on."""
        now = time.monotonic() if now is None else now
        self.bus.open()
        try:
            self.bus.ping_all()
            self.torque_enabled = True
            self._run_servos(self.actuators, now)
        except BusError:
            self.bus.close()
            raise

    def _run_servos(self, actuators, now):
        """Configure these servos, start the goals from where they are, and, if the driver
        has torque on, give them torque and arm their watchdogs (at start and after the
        port came back)."""
        for a in actuators:
            self._bring_up(a)
        self.shaper.reset(self.position, now)
        if self.torque_enabled:
            for a in actuators:
                self.bus.set_torque(a, True)
            self.bus.arm_watchdogs()

    def _bring_up(self, actuator, attempts=2):
        """Configure one servo with torque off, read where it is and add it to the groups.

        A reply lost on the way (a busy host misses the reply timeout) costs one more try
        of the whole sequence, which only writes settings, before the servo counts as failed.
        """
        for attempt in range(attempts):
            try:
                self.bus.configure(actuator, self.settings.profile_velocity,
                                   self.settings.profile_acceleration)
                position = self.bus.read_position(actuator)
                break
            except CommError:
                if attempt == attempts - 1:
                    raise
        i = self._index_by_id[actuator.id]
        self.position[i] = position
        self.shaper.hold(i, self.position[i])
        self.bus.set_online(actuator.id, True)

    def shutdown(self, cycle_period=0.005):
        """Ease to neutral (bounded by shutdown_timeout), torque off, close the port."""
        try:
            if self.torque_enabled and self.bus.online:
                self.shaper.go_neutral(self.settings.neutral_duration)
                deadline = time.monotonic() + self.settings.shutdown_timeout
                # Wait for the servos, not only the goals: they lag behind (torque off
                # too early leaves the skin where the lag left it).
                while (self.shaper.holding_neutral or not self._settled()) and \
                        time.monotonic() < deadline:
                    self.cycle(time.monotonic())
                    time.sleep(cycle_period)
            self.set_torque(False)
        finally:
            self.bus.close()

    def _settled(self, tolerance=0.005):
        """Every answering servo within tolerance [rad] of its goal."""
        error = np.abs(self.position - self.shaper.goal)
        return bool(np.all(error[np.isfinite(error)] < tolerance))

    # -- commands -------------------------------------------------------------------------
    def submit(self, names, positions, max_velocities, priority, now, reach_in=0.0):
        """A validated command; returns (taken, clamped, refusal reason or '')."""
        if not self.torque_enabled:
            return [], [], 'torque is off; call set_torque(true) first (command ignored)'
        if self.shaper.holding_neutral:
            return [], [], 'going to neutral; commands resume when neutral is reached'
        taken, clamped = self.shaper.submit(names, positions, max_velocities, priority, now,
                                            reach_in)
        return taken, clamped, ''

    def go_neutral(self, duration):
        if not self.torque_enabled:
            return False, 'torque is off; enable torque before going to neutral'
        self.shaper.go_neutral(duration)
        return True, f'easing to neutral over {duration or self.settings.neutral_duration} s'

    def set_torque(self, enable):
        """Torque on/off for every online servo; (success, message)."""
        failed = []
        for a in self.actuators:
            if a.id not in self.bus.online:
                continue
            try:
                if enable:
                    # Start from where the skin left the joint, never from a stale goal.
                    self.shaper.hold(self._index_by_id[a.id], self.bus.read_position(a))
                self.bus.set_torque(a, enable)
            except BusError as exc:
                failed.append(f'{a.name}: {exc}')
        if enable:
            # No command is pending after torque comes on: ease from here to neutral.
            self.shaper.reset(self.shaper.goal.copy(), time.monotonic())
            try:
                self.bus.arm_watchdogs()   # clears trips of the loop above on a busy host
            except BusError as exc:
                failed.append(f'bus watchdog: {exc}')
        self.torque_enabled = enable
        state = 'on' if enable else 'off'
        if failed:
            return False, f'torque {state} failed for ' + '; '.join(failed)
        offline = ', '.join(self._name(i) for i in sorted(self.offline))
        suffix = f' (not answering: {offline})' if offline else ''
        return True, f'torque {state}{suffix}'

    # -- the cycle ------------------------------------------------------------------------
    def cycle(self, now):
        """One control cycle; returns True when fresh states were read."""
        if self.port_lost:
            self._reconnect(now)
            return False
        try:
            return self._cycle(now)
        except PortError as exc:
            self._lose_port(now, exc)
            return False

    def _lose_port(self, now, exc):
        self.port_lost, self.port_lost_since = str(exc), now
        self.port_losses += 1
        self._backoff, self._next_reconnect = RECONNECT_BACKOFF, now + RECONNECT_BACKOFF
        self._pinged = None
        self._close_port()
        self.position[:] = self.velocity[:] = self.effort[:] = math.nan
        self.health.clear()
        self.log(f'bus port lost ({exc}); reopening it every {RECONNECT_BACKOFF_MAX:g} s at '
                 'most')

    def _close_port(self):
        for servo_id in list(self.bus.online):
            self.bus.set_online(servo_id, False)
        self.bus.close()

    def _reconnect(self, now):
        if now < self._next_reconnect:
            return
        try:
            self.bus.open()
            answering = []
            for a in self.actuators:
                try:
                    self.bus.ping(a)
                    answering.append(a)
                except CommError:
                    self.offline[a.id] = 'no answer after the port came back'
            if not answering:
                raise CommError('ping after reopening the port', 'no servo answers')
            for a in answering:
                self.offline.pop(a.id, None)
            self._run_servos(answering, now)
        except BusError as exc:
            self._close_port()
            self._backoff = min(2 * self._backoff, RECONNECT_BACKOFF_MAX)
            self._next_reconnect = time.monotonic() + self._backoff
            self.port_lost = f'{self.port_lost.split("; still")[0]}; still failing: {exc}'
            return
        self.log(f'bus port back after {now - self.port_lost_since:.2f} s; '
                 f'{len(answering)}/{len(self.actuators)} servos answer and run again')
        self.port_lost, self.port_lost_since = '', None

    def _cycle(self, now):
        self.cycles += 1
        # Look for servos stopped by their watchdog (and re-arm them) after any silence that
        # may have tripped it: the first cycle after start, a cycle that came late (a stalled
        # host), and at least every WATCHDOG_CHECK_INTERVAL (a bus or servo that stalled).
        silent = self._last_cycle is None or \
            now - self._last_cycle > 0.8 * self.bus.watchdog_units * WATCHDOG_UNIT
        self._last_cycle = now
        if (silent or now >= self._next_watchdog_check) and self.torque_enabled:
            self._next_watchdog_check = now + WATCHDOG_CHECK_INTERVAL
            try:
                tripped = self.bus.tripped_watchdogs()
            except CommError:
                tripped = []   # a silent servo: the state read finds it; look again later
            if tripped:
                self._rearm(tripped)
        if self._pinged is not None:
            self._take_retry_answer()
        goals = None
        if self.torque_enabled:
            # Python floats: arithmetic on numpy scalars costs several times more per goal.
            goals = {a.id: g for a, g in zip(self.actuators, self.shaper.step(now).tolist())}
        fresh = self._read_states(goals)
        if now >= self._next_health:
            self._next_health = now + 1.0 / self.settings.health_rate
            self._read_health(now)
        if self.offline and now >= self._next_retry:
            self._next_retry = now + self.settings.retry_interval
            self._send_retry_ping()
        return fresh

    def _read_states(self, goals=None):
        """Read every online servo's state, writing goals first (one exchange) if given."""
        try:
            states = self.bus.read_states() if goals is None else self.bus.exchange(goals)
        except CommError:
            self.failed_reads += 1
            try:
                states = self.bus.read_states()   # a corrupt reply: retry once
            except CommError:
                self._find_silent_servos()
                return False
        for servo_id, reading in states.items():
            i = self._index_by_id[servo_id]
            self.position[i] = reading.position
            self.velocity[i] = reading.velocity
            self.effort[i] = reading.effort
        return True

    def _find_silent_servos(self):
        """Ask each online servo on its own; take the silent ones out of the groups."""
        for servo_id in sorted(self.bus.online):
            a = self.actuators[self._index_by_id[servo_id]]
            try:
                self.bus.read_position(a)
            except CommError:
                try:
                    self.bus.read_position(a)   # twice silent before it counts as gone
                except CommError as exc:
                    self._mark_offline(servo_id, f'no answer: {exc}')

    def _mark_offline(self, servo_id, reason):
        self.bus.set_online(servo_id, False)
        self.offline[servo_id] = reason
        i = self._index_by_id[servo_id]
        self.position[i] = self.velocity[i] = self.effort[i] = math.nan
        self.health.pop(servo_id, None)
        self.log(f'{self._name(servo_id)} stopped answering ({reason}); retrying every '
                 f'{self.settings.retry_interval} s while the others keep running')

    def _send_retry_ping(self):
        # The last thing in a cycle: its answer has until the next cycle to arrive and is
        # looked at then, so a silent servo never stalls the cycle for a reply timeout.
        ids = sorted(self.offline)
        servo_id = ids[self._retry_turn % len(ids)]
        self._retry_turn += 1
        self._pinged = self.actuators[self._index_by_id[servo_id]]
        self.bus.send_ping(self._pinged)

    def _take_retry_answer(self):
        a, self._pinged = self._pinged, None
        try:
            if not self.bus.ping_answered(a):
                return
            self._bring_up(a)
            if self.torque_enabled:
                self.bus.set_torque(a, True)
                self.bus.rearm_watchdogs([a.id])
        except PortError:
            raise
        except BusError as exc:
            self.offline[a.id] = f'no answer: {exc}'
            self.bus.set_online(a.id, False)
            return
        del self.offline[a.id]
        self.log(f'{self._name(a.id)} answers again and rejoined the cycle')

    def _read_health(self, now):
        try:
            health = self.bus.read_health()
        except CommError:
            return  # the state read finds a silent servo; health waits for the next round
        for servo_id, h in health.items():
            before = self.health.get(servo_id)
            self.health[servo_id] = h
            if h.hardware_error:
                self._maybe_reboot(servo_id, h, now)
                continue
            if not self.torque_enabled:
                continue
            if before and before.hardware_error:
                # The error is gone (it cleared by itself): re-enable from where it is.
                self._restore(servo_id, 'hardware error cleared; torque on again')
            elif not h.torque_on:
                # No error, yet torque is off: the servo restarted (brown-out, reboot).
                self.resets += 1
                self._restore(servo_id, 'came back with torque off (power dip or restart); '
                              'configured again, torque on')

    def _maybe_reboot(self, servo_id, health, now):
        a = self.actuators[self._index_by_id[servo_id]]
        if not set(health.error_names) <= set(self.settings.reboot_on) or \
                now < self._next_reboot.get(servo_id, 0.0):
            return
        limit = model_spec(a.model).temperature_limit
        if 'overheating' in health.error_names and \
                health.temperature > limit - self.settings.temperature_warn_margin:
            return   # let it cool first
        self._next_reboot[servo_id] = now + self.settings.reboot_interval
        self.reboots += 1
        try:
            self.bus.reboot(a)
        except BusError as exc:
            self.log(f'{self._name(servo_id)} REBOOT failed: {exc}')
            return
        self._restore(servo_id, f'rebooted to clear {", ".join(health.error_names)}; '
                      'configured again' + (', torque on' if self.torque_enabled else ''))

    def _restore(self, servo_id, what):
        """Configure a servo again (it lost its settings or was rebooted), hold it where it
        is and put torque and its watchdog back as the driver has them."""
        a = self.actuators[self._index_by_id[servo_id]]
        try:
            self._bring_up(a)
            if self.torque_enabled:
                self.bus.set_torque(a, True)
                self.bus.rearm_watchdogs([a.id])
            self.health.pop(servo_id, None)
            self.log(f'{self._name(servo_id)} {what}')
        except BusError as exc:
            self.log(f'{self._name(servo_id)} could not be restored ({what}): {exc}')

    def _rearm(self, ids):
        # The bus fell silent longer than the watchdog (a stalled host), so these servos
        # stopped and ignore goals; re-armed, they take the next cycle's goals.
        self.watchdog_trips += len(ids)
        names = ', '.join(self._name(i) for i in ids)
        try:
            self.bus.rearm_watchdogs(ids)
            self.log(f'stopped by their bus watchdog (the bus was silent too long for them), '
                     f're-armed: {names}')
        except BusError as exc:
            self.log(f'bus watchdog could not be re-armed on {names}: {exc}')

    # -- reporting ------------------------------------------------------------------------
    def _name(self, servo_id):
        return f'{self.actuators[self._index_by_id[servo_id]].name} (id {servo_id})'

    def statuses(self):
        """One ActuatorStatus per actuator, for /diagnostics."""
        result = []
        s = self.settings
        for i, a in enumerate(self.actuators):
            spec = model_spec(a.model)
            values = {'position_rad': f'{self.position[i]:.4f}',
                      'goal_rad': f'{self.shaper.goal[i]:.4f}'}
            if self.port_lost:
                result.append(ActuatorStatus(a.name, a.id, ERROR, 'the bus port is lost; '
                                             'reconnecting', values))
                continue
            if a.id in self.offline:
                result.append(ActuatorStatus(
                    a.name, a.id, ERROR, f'not answering; retrying every {s.retry_interval} s. '
                    'Check its cable and power', values | {'reason': self.offline[a.id]}))
                continue
            h = self.health.get(a.id)
            if h is None:
                result.append(ActuatorStatus(a.name, a.id, STALE, 'no health reading yet',
                                             values))
                continue
            load = abs(self.effort[i]) / (spec.current_limit * spec.current_unit)
            values |= {'temperature_c': f'{h.temperature:.0f}', 'voltage_v': f'{h.voltage:.1f}',
                       'load_percent': f'{100 * load:.0f}',
                       'hardware_error': ', '.join(h.error_names) or 'none'}
            level, problems = OK, []
            if h.hardware_error:
                level = ERROR
                problems.append(f'hardware error: {", ".join(h.error_names)}; torque is off '
                                'until the fault clears (let it cool or free the joint)')
            if h.temperature >= spec.temperature_limit:
                level = ERROR
                problems.append(f'temperature {h.temperature:.0f} C at its limit')
            elif h.temperature >= spec.temperature_limit - s.temperature_warn_margin:
                level = max(level, WARN)
                problems.append(f'temperature {h.temperature:.0f} C near its limit '
                                f'{spec.temperature_limit} C')
            if load >= s.load_warn:
                level = max(level, WARN)
                problems.append(f'load {100 * load:.0f} % of the current limit')
            if not 0.7 * spec.nominal_voltage <= h.voltage <= 1.4 * spec.nominal_voltage:
                level = max(level, WARN)
                problems.append(f'supply {h.voltage:.1f} V, nominal {spec.nominal_voltage} V')
            result.append(ActuatorStatus(a.name, a.id, level, '; '.join(problems) or 'ok',
                                         values))
        return result
