"""The face's Dynamixel bus on the official dynamixel-sdk (Protocol 2.0). No rclpy.

Every (comm_result, error) pair the SDK returns becomes a named exception, so callers
decide what a failure means (the driver retries a silent servo; a missing servo at start
is fatal). Positions, velocities and currents leave this module in joint units (rad,
rad/s, A); ticks stay inside.
"""

import os
import select
import struct
import termios
from dataclasses import dataclass

import dynamixel_sdk as sdk
import numpy as np
import serial

from .control_table import (
    FIELDS,
    HEALTH_BLOCK_ADDRESS,
    HEALTH_BLOCK_SIZE,
    OPERATING_MODE_POSITION,
    RAD_S2_PER_ACCELERATION_UNIT,
    RAD_S_PER_VELOCITY_UNIT,
    STATE_BLOCK_ADDRESS,
    STATE_BLOCK_LAYOUT,
    STATE_BLOCK_SIZE,
    VOLT_PER_UNIT,
    WATCHDOG_TRIPPED,
    WATCHDOG_UNIT,
    current_to_amps,
    encode,
    error_bits,
    error_names,
    joint_to_ticks,
    model_spec,
    position_limit_ticks,
    ticks_to_joint,
    to_signed,
    velocity_to_joint,
)
from .protocol import (
    BROADCAST_ID,
    FAST_SYNC_READ,
    HEADER,
    PING,
    STATUS,
    SYNC_WRITE,
    PacketError,
    PacketReader,
    build_packet,
    crc16,
)

ALERT_BIT = 0x80
# What a port that went away raises: pyserial's SerialException is an OSError; termios calls
# (tcflush in clearPort, tcsetattr) raise termios.error, which is not.
PORT_FAILURES = (OSError, termios.error)


class BusError(RuntimeError):
    """Base of every failure on the face bus."""


class PortError(BusError):
    """The serial port cannot be opened or configured."""


class CommError(BusError):
    """An instruction got no valid answer (timeout, corrupt packet, port busy)."""

    def __init__(self, what, result_text, servo_ids=()):
        super().__init__(f'{what}: {result_text}')
        self.servo_ids = tuple(servo_ids)


class ServoMissingError(BusError):
    """Configured servos did not answer a ping."""

    def __init__(self, missing):
        self.missing = tuple(missing)  # of Actuator
        names = ', '.join(f'{a.name} (id {a.id})' for a in self.missing)
        super().__init__(f'no answer from {names}; check power, cabling, ids and baud rate '
                         'of these servos, or fix config/face_motors.yaml')


class ServoModelError(BusError):
    """A servo answered with a different model than configured."""


class ServoRefusedError(BusError):
    """A servo answered with an error in its status packet (access, range, ...)."""

    def __init__(self, actuator, what, error_text):
        super().__init__(f'{actuator.name} (id {actuator.id}) refused {what}: {error_text}')
        self.actuator = actuator


class ServoSettingError(BusError):
    """A fail-safe setting written to a servo did not read back as written."""


class ServoHardwareError(BusError):
    """A servo reports hardware error bits (overheating, overload, ...)."""


class FacePortHandler(sdk.PortHandler):
    """PortHandler that waits for replies without spinning, in few system calls.

    Reply timeout: the SDK assumes the FTDI default latency timer of 16 ms, so each absent
    servo costs about 34 ms; this one uses the adapter's real setting (1 ms on a tuned
    adapter and on the emulator's pty).

    Reading: the SDK calls readPort in a loop until a reply is complete or its packet
    timeout has passed, and its own readPort returns at once, so the loop spins for the
    whole wire time. Here readPort blocks in select() until bytes arrive or that timeout is
    over, and takes everything that arrived in one read, so a reply costs one wake-up and
    one read however the SDK splits it. Writing: one write() instead of pyserial's write
    plus select. At 150 cycles a second each system call saved is worth it: on a busy
    2-core machine the host's side of a cycle is dominated by them.
    """

    def __init__(self, port_name, latency_timer_ms):
        super().__init__(port_name)
        self.latency_timer_ms = latency_timer_ms
        self._received = bytearray()   # read from the port, not yet taken by the SDK

    def readPort(self, length):
        if length <= 0:
            return b''
        if not self._received:
            fd = self.ser.fileno()
            left_ms = self.packet_timeout - self.getTimeSinceStart()
            ready, _, _ = select.select([fd], [], [], max(left_ms, 0.0) / 1000.0)
            if ready:
                self._receive(fd)
        taken = bytes(self._received[:length])
        del self._received[:length]
        return taken

    def _receive(self, fd):
        try:
            chunk = os.read(fd, 4096)
        except BlockingIOError:
            return
        if not chunk:
            # What pyserial says for the same sign: readable, yet nothing to read.
            raise serial.SerialException('device reports readiness to read but returned no '
                                         'data (device disconnected?)')
        self._received += chunk

    def take_ready(self):
        """Every byte that has arrived by now, without waiting for more."""
        fd = self.ser.fileno()
        while select.select([fd], [], [], 0)[0]:
            before = len(self._received)
            self._receive(fd)
            if len(self._received) == before:
                break
        taken = bytes(self._received)
        self._received.clear()
        return taken

    def drop_received(self):
        """Forget bytes read but not taken (the port is being closed)."""
        self._received.clear()

    def getBytesAvailable(self):
        return len(self._received) + self.ser.in_waiting

    def clearPort(self):
        self._received.clear()
        super().clearPort()

    def writePort(self, packet):
        data = bytes(packet)
        try:
            return os.write(self.ser.fileno(), data)
        except BlockingIOError:
            return self.ser.write(data)   # output buffer full: pyserial waits for room

    def setPacketTimeout(self, packet_length):
        self.packet_start_time = self.getCurrentTime()
        self.packet_timeout = (self.tx_time_per_byte * packet_length
                               + self.latency_timer_ms * 2.0 + 2.0)


class FacePacketHandler(sdk.Protocol2PacketHandler):
    """The SDK's Protocol 2.0 handler without its per-byte Python loops on the cycle's path.

    Its CRC walks every packet byte by byte and its stuffing pass copies every instruction
    byte by byte: most of the host's time per cycle. The CRC here goes word by word
    (protocol.crc16) and packets without FF FF FD in them skip the stuffing copy.
    """

    def updateCRC(self, crc_accum, data_blk_ptr, data_blk_size):
        return crc16(bytes(data_blk_ptr[:data_blk_size]), crc_accum)

    def addStuffing(self, packet):
        length = sdk.DXL_MAKEWORD(packet[sdk.PKT_LENGTH_L], packet[sdk.PKT_LENGTH_H])
        # The same bytes the SDK's pass compares: from the length field to before the CRC.
        checked = bytes(packet[sdk.PKT_LENGTH_L:sdk.PKT_INSTRUCTION + length - 2])
        if b'\xff\xff\xfd' not in checked:
            return packet
        return super().addStuffing(packet)


# One servo's part of a fast sync read reply: error, id, the state block, running CRC.
STATE_SEGMENT = np.dtype([('error', 'u1'), ('id', 'u1'), ('current', '<i2'),
                          ('velocity', '<i4'), ('position', '<i4'), ('crc', '<u2')])


@dataclass
class _ServoTable:
    """Per-servo constants of a group of servos as arrays: ticks_to_joint and
    velocity_to_joint take it in place of one actuator and convert all at once."""
    direction: np.ndarray
    offset: np.ndarray      # [rad]
    current_unit: np.ndarray   # [A per Present Current unit]

    @classmethod
    def of(cls, actuators):
        return cls(np.array([a.direction for a in actuators], dtype=float),
                   np.array([a.offset for a in actuators]),
                   np.array([model_spec(a.model).current_unit for a in actuators]))


@dataclass
class ServoReading:
    position: float   # [rad]
    velocity: float   # [rad/s]
    effort: float     # motor current [A]


@dataclass
class ServoHealth:
    hardware_error: int   # Hardware Error Status bits
    voltage: float        # [V]
    temperature: float    # [deg C]
    torque_on: bool = True

    @property
    def error_names(self):
        return error_names(self.hardware_error)


class FaceBus:
    """All configured servos on one port: start-up, one sync write + one sync read per cycle."""

    def __init__(self, config, port=None, baud_rate=None, latency_timer_ms=16.0,
                 fast_sync_read=True):
        self.config = config
        self.actuators = {a.id: a for a in config.actuators}
        self.port_name = port or config.bus.port
        self.baud_rate = baud_rate or config.bus.baud_rate
        self.port = FacePortHandler(self.port_name, latency_timer_ms)
        self.packet = FacePacketHandler()
        self.fast_sync_read = fast_sync_read and all(
            model_spec(a.model).fast_sync_read for a in config.actuators)
        self._goal_ticks = {}   # online servo id -> last Goal Position sent [tick]
        self._servo_tables = {}   # servo ids -> their _ServoTable
        self._state_reader = sdk.GroupSyncRead(self.port, self.packet, STATE_BLOCK_ADDRESS,
                                               STATE_BLOCK_SIZE)
        # Torque Enable (64) .. Hardware Error Status (70) in one read: a servo that lost
        # torque without an error has been reset (brown-out, reboot) behind our back.
        torque, error = FIELDS['torque_enable'], FIELDS['hardware_error_status']
        self._error_reader = sdk.GroupSyncRead(self.port, self.packet, torque.address,
                                               error.address + error.size - torque.address)
        self._health_reader = sdk.GroupSyncRead(self.port, self.packet, HEALTH_BLOCK_ADDRESS,
                                                HEALTH_BLOCK_SIZE)
        watchdog = FIELDS['bus_watchdog']
        self._watchdog_reader = sdk.GroupSyncRead(self.port, self.packet, watchdog.address,
                                                  watchdog.size)
        # Servo-side fail-safes (config bus section): register values written at configure
        self.watchdog_units = round(config.bus.watchdog / WATCHDOG_UNIT)
        self.shutdown_bits = error_bits(config.bus.shutdown)
        self.online = set()
        self._opened = False

    # -- port ---------------------------------------------------------------------------
    def open(self):
        try:
            opened = self.port.openPort()
        except Exception as exc:  # pyserial raises SerialException/OSError subclasses
            raise PortError(f'cannot open {self.port_name}: {exc}; check the device path and '
                            'that your user is in the dialout group') from exc
        if not opened or not self.port.setBaudRate(self.baud_rate):
            raise PortError(f'cannot set {self.port_name} to {self.baud_rate} bit/s; use a '
                            'rate the adapter supports (57600, 1000000, 2000000, 4000000, ...)')
        self._opened = True

    def close(self):
        if self._opened:
            self._opened = False
            try:
                self.port.closePort()
            except PORT_FAILURES:
                pass   # a port that went away cannot be closed cleanly; it is closed enough
            self.port.is_using = False
            self.port.drop_received()

    # -- start-up -------------------------------------------------------------------------
    def ping(self, actuator):
        """Ping one servo; CommError if silent, ServoModelError if it is another model."""
        model, result, error = self._call(self.packet.ping, self.port, actuator.id)
        self._check(result, error, actuator, 'ping', raise_on_alert=False)
        expected = model_spec(actuator.model).model_number
        if model != expected:
            raise ServoModelError(f'{actuator.name} (id {actuator.id}) is model number {model}, '
                                  f'config says {actuator.model} ({expected}); fix the model '
                                  'in config/face_motors.yaml or the servo id')

    def send_ping(self, actuator):
        """Send a PING and return at once; ping_answered, called before the next exchange,
        looks at what came back. A silent servo so costs no reply timeout."""
        self._send(build_packet(actuator.id, PING), f'ping of {actuator.name}')

    def ping_answered(self, actuator):
        """True if actuator answered the last send_ping (its status packet has arrived),
        looking only at bytes already received. ServoModelError if it is another model."""
        try:
            reader = PacketReader()
            reader.feed(self.port.take_ready())
            for servo_id, instruction, params in reader.packets():
                if servo_id == actuator.id and instruction == STATUS and len(params) >= 3:
                    model = params[1] | params[2] << 8
                    expected = model_spec(actuator.model).model_number
                    if model != expected:
                        raise ServoModelError(
                            f'{actuator.name} (id {actuator.id}) answers as model number '
                            f'{model}, config says {actuator.model} ({expected})')
                    return True
        except PacketError:
            pass   # a garbled reply counts as none; the next retry asks again
        except PORT_FAILURES as exc:
            raise self._port_failed(exc) from exc
        return False

    def ping_all(self, attempts=3):
        """Ping every configured servo; ServoMissingError names all that did not answer.

        A servo is missing only after `attempts` silent pings, so one reply lost to a busy
        host (or a noisy cable) does not stop the face.
        """
        missing = []
        for actuator in self.config.actuators:
            for attempt in range(attempts):
                try:
                    self.ping(actuator)
                    break
                except CommError:
                    if attempt == attempts - 1:
                        missing.append(actuator)
        if missing:
            raise ServoMissingError(missing)

    def configure(self, actuator, profile_velocity=0.0, profile_acceleration=0.0):
        """Torque off, then Return Delay Time 0, position mode and motion profile.

        profile_velocity [rad/s] and profile_acceleration [rad/s^2]: 0 = unlimited (the
        driver does its own slew limiting; a servo-side profile adds a second safety net).
        """
        self.write(actuator, 'torque_enable', 0)
        self.write(actuator, 'return_delay_time', 0)
        self.write(actuator, 'operating_mode', OPERATING_MODE_POSITION)
        self.write(actuator, 'profile_velocity',
                   int(round(profile_velocity / RAD_S_PER_VELOCITY_UNIT)))
        self.write(actuator, 'profile_acceleration',
                   int(round(profile_acceleration / RAD_S2_PER_ACCELERATION_UNIT)))
        self.write_fail_safes(actuator)

    def write_fail_safes(self, actuator):
        """Min/Max Position Limit (the joint limits) and Shutdown, written and read back in
        one block; ServoSettingError if they did not stick. Also clears a Bus Watchdog trip
        (left by a driver that died) and disarms it: arm_watchdogs arms every servo at once
        once torque is on, so none trips while the others are configured. Needs torque
        off (EEPROM fields)."""
        low, high = position_limit_ticks(actuator)
        self.write(actuator, 'bus_watchdog', 0)
        limits = FIELDS['max_position_limit']          # Max (48) then Min (52): one write
        data = list(encode(high, 4) + encode(low, 4))
        result, error = self._call(self.packet.writeTxRx, self.port, actuator.id,
                                   limits.address, len(data), data)
        self._check(result, error, actuator, f'write of position limits {low}..{high}',
                    raise_on_alert=False)
        self.write(actuator, 'shutdown', self.shutdown_bits)
        shutdown = FIELDS['shutdown']
        block, result, error = self._call(self.packet.readTxRx, self.port, actuator.id,
                                          limits.address, shutdown.address + 1 - limits.address)
        self._check(result, error, actuator, 'read of position limits and shutdown',
                    raise_on_alert=False)
        block = bytes(block)
        found = {'max_position_limit': int.from_bytes(block[0:4], 'little'),
                 'min_position_limit': int.from_bytes(block[4:8], 'little'),
                 'shutdown': block[shutdown.address - limits.address]}
        wanted = {'max_position_limit': high, 'min_position_limit': low,
                  'shutdown': self.shutdown_bits}
        if found != wanted:
            raise ServoSettingError(
                f'{actuator.name} (id {actuator.id}): fail-safe registers read {found} after '
                f'writing {wanted}; check the servo model in config/face_motors.yaml and its '
                'firmware')

    def arm_watchdogs(self):
        """Arm the Bus Watchdog of every online servo in one sync write (after clearing any
        trip) and read it back; ServoSettingError names servos where it did not stick."""
        if not self.watchdog_units or not self.online:
            return
        self.rearm_watchdogs(self.online)
        self._group_read(self._watchdog_reader, 'sync read of bus watchdog')
        wrong = [i for i in sorted(self.online)
                 if self._get(self._watchdog_reader, i, 'bus_watchdog') != self.watchdog_units]
        if wrong:
            raise ServoSettingError(f'Bus Watchdog did not stick on ids {wrong}; check their '
                                    'firmware (it needs Bus Watchdog, address 98)')

    def tripped_watchdogs(self):
        """Ids of the online servos whose Bus Watchdog has stopped them (one sync read)."""
        if not self.watchdog_units or not self.online:
            return []
        self._group_read(self._watchdog_reader, 'sync read of bus watchdog')
        return [i for i in sorted(self.online)
                if self._get(self._watchdog_reader, i, 'bus_watchdog') == WATCHDOG_TRIPPED]

    def rearm_watchdogs(self, ids):
        """Clear and arm the Bus Watchdog of these servos: two sync writes, no replies to
        wait for, so re-arming after a stall does not stall the cycle again."""
        field = FIELDS['bus_watchdog']
        for value in (0, self.watchdog_units):
            body = struct.pack('<HH', field.address, field.size) + b''.join(
                bytes([i]) + encode(value, field.size) for i in sorted(ids))
            self._send(build_packet(BROADCAST_ID, SYNC_WRITE, body),
                       'sync write of bus watchdog')

    def reboot(self, actuator):
        """REBOOT one servo: it answers, restarts with torque off and its hardware errors
        cleared (configure it again before use)."""
        result, error = self._call(self.packet.reboot, self.port, actuator.id)
        self._check(result, error, actuator, 'reboot', raise_on_alert=False)

    def set_torque(self, actuator, enable):
        self.write(actuator, 'torque_enable', 1 if enable else 0)

    def write(self, actuator, field_name, value):
        field = FIELDS[field_name]
        data = list(encode(value, field.size))
        result, error = self._call(self.packet.writeTxRx, self.port, actuator.id, field.address,
                                   field.size, data)
        self._check(result, error, actuator, f'write of {field_name}={value}',
                    raise_on_alert=False)

    def read(self, actuator, field_name):
        field = FIELDS[field_name]
        data, result, error = self._call(self.packet.readTxRx, self.port, actuator.id,
                                         field.address, field.size)
        self._check(result, error, actuator, f'read of {field_name}', raise_on_alert=False)
        value = int.from_bytes(bytes(data), 'little')
        return to_signed(value, field.size) if field.signed else value

    def read_position(self, actuator):
        """Present position of one servo [rad] (one READ instruction)."""
        return ticks_to_joint(actuator, self.read(actuator, 'present_position'))

    # -- group membership -----------------------------------------------------------------
    def set_online(self, servo_id, online):
        """Add or remove a servo from the per-cycle sync read/write groups."""
        readers = (self._state_reader, self._error_reader, self._health_reader,
                   self._watchdog_reader)
        if online and servo_id not in self.online:
            self.online.add(servo_id)
            for reader in readers:
                reader.addParam(servo_id)
        elif not online and servo_id in self.online:
            self.online.discard(servo_id)
            for reader in readers:
                reader.removeParam(servo_id)
            self._goal_ticks.pop(servo_id, None)

    # -- per cycle ------------------------------------------------------------------------
    # The cycle's sync write and fast sync read are framed here with protocol.py (the
    # framing test_protocol checks against the SDK's) instead of by the SDK's groups, which
    # rebuild lists of every byte and unpack every field of every servo: that was most of
    # the host's time per cycle. exchange() also sends both in one write. Start-up, single
    # reads and writes, plain sync reads and the health reads stay on the SDK.
    def exchange(self, goals):
        """The cycle: write_goals(goals), then read_states(), the two sent in one write."""
        if not self.fast_sync_read:
            self.write_goals(goals)
            return self.read_states()
        return self._fast_read_states(self._goal_packet(goals))

    def write_goals(self, goals):
        """One sync write of Goal Position; goals maps servo id -> joint position [rad].

        Online servos without a goal yet are left out (they keep the goal they have).
        """
        packet = self._goal_packet(goals)
        if packet:
            self._send(packet, 'sync write of goal positions')

    def _goal_packet(self, goals):
        for servo_id, position in goals.items():
            if servo_id in self.online:
                self._goal_ticks[servo_id] = joint_to_ticks(self.actuators[servo_id], position)
        if not self._goal_ticks:
            return b''
        goal = FIELDS['goal_position']
        entries = [value for pair in self._goal_ticks.items() for value in pair]
        body = struct.pack('<HH' + 'Bi' * len(self._goal_ticks), goal.address, goal.size,
                           *entries)
        return build_packet(BROADCAST_ID, SYNC_WRITE, body)

    def _send(self, data, what):
        try:
            self.port.clearPort()   # nothing left over from an exchange that timed out
            written = self.port.writePort(data)
        except PORT_FAILURES as exc:
            raise self._port_failed(exc) from exc
        if written != len(data):
            raise CommError(what, f'the port took {written} of {len(data)} bytes')

    def _group_read(self, reader, what):
        if not self.online:
            return
        result = self._call(reader.fastSyncRead if self.fast_sync_read else reader.txRxPacket)
        if result != sdk.COMM_SUCCESS:
            raise CommError(what, self.packet.getTxRxResult(result), sorted(self.online))

    def read_states(self):
        """One (fast) sync read of current, velocity and position of every online servo."""
        if self.fast_sync_read:
            return self._fast_read_states(b'')
        self._group_read(self._state_reader, 'sync read of present state')
        states = {}
        for servo_id in self.online:
            block = bytes(self._state_reader.data_dict[servo_id])
            states[servo_id] = self._reading(servo_id, *STATE_BLOCK_LAYOUT.unpack(block))
        return states

    def _reading(self, servo_id, current, velocity, position):
        a = self.actuators[servo_id]
        return ServoReading(ticks_to_joint(a, position), velocity_to_joint(a, velocity),
                            current_to_amps(a, current))

    def _fast_read_states(self, before):
        """Send before + a FAST_SYNC_READ of the state block; parse the one reply packet."""
        what = 'fast sync read of present state'
        ids = sorted(self.online)
        if not ids:
            if before:
                self._send(before, 'sync write of goal positions')
            return {}
        request = build_packet(BROADCAST_ID, FAST_SYNC_READ, struct.pack(
            '<HH', STATE_BLOCK_ADDRESS, STATE_BLOCK_SIZE) + bytes(ids))
        self._send(before + request, what)
        # Header, id, length, instruction, then one segment per servo (the last one's CRC
        # is the packet's).
        length = 8 + STATE_SEGMENT.itemsize * len(ids)
        reply = self._receive(length, what, ids)
        if (reply[:4] != HEADER or reply[4] != BROADCAST_ID or reply[7] != STATUS
                or reply[5] | reply[6] << 8 != length - 7
                or crc16(reply[:-2]) != reply[-2] | reply[-1] << 8):
            raise CommError(what, self.packet.getTxRxResult(sdk.COMM_RX_CORRUPT), ids)
        segments = np.frombuffer(reply, dtype=STATE_SEGMENT, offset=8)
        if segments['id'].tolist() != ids:
            raise CommError(what, f'reply segments of ids {segments["id"].tolist()}, asked '
                            f'for {ids}', ids)
        # All servos converted at once; per servo the conversions cost more than the read.
        table = self._table(tuple(ids))
        positions = ticks_to_joint(table, segments['position']).tolist()
        velocities = velocity_to_joint(table, segments['velocity']).tolist()
        efforts = (table.direction * segments['current'] * table.current_unit).tolist()
        return dict(zip(ids, map(ServoReading, positions, velocities, efforts)))

    def _table(self, ids):
        table = self._servo_tables.get(ids)
        if table is None:
            # Few distinct groups ever occur (all servos, all but a silent one, ...).
            table = self._servo_tables[ids] = _ServoTable.of([self.actuators[i] for i in ids])
        return table

    def _receive(self, length, what, ids):
        """length bytes from the port within the reply timeout, else CommError."""
        port = self.port
        port.setPacketTimeout(length)
        reply = bytearray()
        try:
            while len(reply) < length:
                chunk = port.readPort(length - len(reply))
                if chunk:
                    reply += chunk
                elif port.isPacketTimeout():
                    result = sdk.COMM_RX_CORRUPT if reply else sdk.COMM_RX_TIMEOUT
                    raise CommError(what, self.packet.getTxRxResult(result), ids)
        except (*PORT_FAILURES, ValueError) as exc:   # ValueError: select() on a closed fd
            raise self._port_failed(exc) from exc
        return reply

    def read_health(self):
        """Hardware error bits, input voltage and temperature of every online servo."""
        self._group_read(self._error_reader, 'sync read of hardware error status')
        self._group_read(self._health_reader, 'sync read of voltage and temperature')
        health = {}
        for servo_id in self.online:
            errors = self._get(self._error_reader, servo_id, 'hardware_error_status')
            voltage = self._get(self._health_reader, servo_id, 'present_input_voltage')
            temperature = self._get(self._health_reader, servo_id, 'present_temperature')
            torque = self._get(self._error_reader, servo_id, 'torque_enable')
            health[servo_id] = ServoHealth(errors, voltage * VOLT_PER_UNIT, float(temperature),
                                           bool(torque))
        return health

    @staticmethod
    def _get(reader, servo_id, field_name):
        field = FIELDS[field_name]
        value = reader.getData(servo_id, field.address, field.size)
        return to_signed(value, field.size) if field.signed else value

    # -- errors ---------------------------------------------------------------------------
    def _call(self, sdk_function, *args):
        """Run one SDK exchange; an OS-level port failure becomes PortError.

        The SDK marks the port busy for the length of an exchange and only clears the mark
        on its own return paths, so an exception from pyserial would leave the port
        'in use' for ever; clear it here.
        """
        try:
            return sdk_function(*args)
        except PORT_FAILURES as exc:
            self.port.is_using = False
            raise self._port_failed(exc) from exc
        except (IndexError, ValueError) as exc:
            # The SDK parses a fast sync read reply by the length it expects; a reply cut
            # short (a servo that answered late, a busy host) raises here instead of
            # returning an error code. It is a failed exchange, not a crash of the driver.
            self.port.is_using = False
            raise CommError(f'{getattr(sdk_function, "__name__", "exchange")}',
                            f'malformed reply ({exc})') from exc

    def _port_failed(self, exc):
        return PortError(f'{self.port_name} failed: {exc}; check the USB adapter and its '
                         'cable')

    def _check(self, result, error, actuator, what, raise_on_alert=True):
        if result != sdk.COMM_SUCCESS:
            raise CommError(f'{what} on {actuator.name} (id {actuator.id})',
                            self.packet.getTxRxResult(result), [actuator.id])
        if error & ~ALERT_BIT:
            raise ServoRefusedError(actuator, what, self.packet.getRxPacketError(error))
        if raise_on_alert and error & ALERT_BIT:
            raise ServoHardwareError(f'{actuator.name} (id {actuator.id}) has a hardware '
                                     'error; read its Hardware Error Status')


def wire_seconds_per_cycle(servo_count, baud_rate, fast=True):
    """Bytes on the wire for one sync write of goals + one sync read of state, as time [s].

    Sync write: 14-byte frame + (1 id + 4 data) per servo. Sync read instruction: 14 + 1 per
    servo; fast reply: 11-byte frame - 2 + (ERR ID DATA CRC) per servo; a plain sync read
    gets one 11 + data status packet per servo. 10 bits per byte (start, 8 data, stop).
    """
    write = 14 + 5 * servo_count
    request = 14 + servo_count
    if fast:
        reply = 8 + (STATE_BLOCK_SIZE + 4) * servo_count
    else:
        reply = (11 + STATE_BLOCK_SIZE) * servo_count
    return 10.0 * (write + request + reply) / baud_rate

