"""A Dynamixel Protocol 2.0 bus with the face's 26 servos, on a pseudo-terminal.

Run as `face-bus-emulator` (its own process, so the servos answer while the driver's
thread computes, as on a real bus). It prints `PORT <path>` on its
first stdout line; point the real dynamixel-sdk (or the driver with that port) at the path.

Instructions: PING (also broadcast), READ, WRITE, REBOOT, SYNC_READ, SYNC_WRITE,
FAST_SYNC_READ, BULK_READ; byte stuffing both ways; CRC checked on every instruction (a bad
CRC is dropped silently, as a real servo does). Fast-sync-read replies are one packet of
ERR ID DATA CRC segments, not byte-stuffed (each segment CRC is the running CRC of the
packet so far, the last one is the packet CRC).

Fault injection comes from a JSON file (--fault-file), re-read whenever it changes:
    {"absent": [ids],           servos that do not answer at all
     "corrupt_rate": 0.01,      probability that a status packet's CRC is broken
     "delay_ms": 50,            extra delay before replies of ...
     "delay_ids": [ids],        ... these servos (empty or missing = all)
     "overheating": [ids],      latch the overheating error bit (torque drops)
     "overload": [ids],         latch the overload error bit (torque drops)
     "port_down_s": 2.0}        the port disappears for this long (a USB adapter pulled
                                out and put back), once per change of the file
Removing a servo from overheating/overload removes the cause (it has cooled, the joint is
free); the error bit stays latched until the servo gets a REBOOT, as on X-series servos.
Other keys are ignored (emulator_process.write_faults adds "change", see below).

Every change of the fault file is acknowledged, so a test waits for the event instead of
sleeping: once the emulator has applied the content (or refused it) it atomically replaces
`<fault file>.applied` with one line, `<digest> applied` or `<digest> ignored: <reason>`,
where digest is fault_digest() of the bytes it read. From that line on, every instruction
the emulator answers sees the new faults; with port_down_s the line is written once the
port is gone. The writer (emulator_process.write_faults) numbers each write with a
"change" key (process id and sequence number), so rewriting the same faults, say a second
port_down_s, is still a new content with its own acknowledgement; apply_faults writes and
waits for that line, with a timeout and an error naming the file and the last answer. A
removed fault file clears every fault and is acknowledged as empty content.

With --link PATH the port is also a symlink at PATH (like /dev/serial/by-id/...): when the
port comes back after port_down_s it is a new pseudo-terminal, and the link follows it.

Wire time (--wire-time): each reply is held back until the instruction and the reply would
have crossed the wire at the bus baud rate (10 bits per byte) plus each answering servo's
Return Delay Time, so cycle timing matches a real bus at that rate.
"""

import argparse
import contextlib
import hashlib
import json
import os
import random
import select
import signal
import sys
import time
import tty

from . import protocol as p
from .control_table import ERROR_OVERHEATING, ERROR_OVERLOAD, joint_to_ticks
from .face_config import ConfigError, default_face_config_path, load_face_config
from .servo_model import AccessError, EmulatedServo

DEFAULT_LAG = 0.03  # [s] servo position lag time constant, see servo_model
EMULATOR_STALL = 0.06  # [s] a serving loop this late means the emulator itself was held up


class Faults:
    def __init__(self, data=None):
        data = data or {}
        self.absent = set(int(i) for i in data.get('absent', []))
        self.corrupt_rate = float(data.get('corrupt_rate', 0.0))
        self.delay = float(data.get('delay_ms', 0.0)) / 1000.0
        self.delay_ids = set(int(i) for i in data.get('delay_ids', []))
        self.overheating = set(int(i) for i in data.get('overheating', []))
        self.overload = set(int(i) for i in data.get('overload', []))
        self.port_down = float(data.get('port_down_s', 0.0))   # [s]

    def delay_for(self, servo_id):
        if self.delay and (not self.delay_ids or servo_id in self.delay_ids):
            return self.delay
        return 0.0


class BusEmulator:
    """The servos and the instruction set, without any I/O: packets in, reply bytes out."""

    def __init__(self, servos, baud_rate=1_000_000, wire_time=False, seed=0):
        self.servos = {s.id: s for s in servos}
        self.baud_rate = baud_rate
        self.wire_time = wire_time
        self.faults = Faults()
        self._random = random.Random(seed)
        self.pending_port_down = 0.0   # [s] of port loss the serving loop still owes

    def set_faults(self, faults):
        self.faults = faults
        self.pending_port_down = faults.port_down
        for servo_id, servo in self.servos.items():
            bits = ((ERROR_OVERHEATING if servo_id in faults.overheating else 0)
                    | (ERROR_OVERLOAD if servo_id in faults.overload else 0))
            if bits != servo.injected_errors:
                servo.inject_errors(bits)

    def _present(self, servo_id):
        return servo_id in self.servos and servo_id not in self.faults.absent

    def _status(self, servo, error=0, params=b''):
        if servo.hardware_error:
            error |= p.ALERT
        return p.build_status(servo.id, error, params)

    def _maybe_corrupt(self, packet):
        if self.faults.corrupt_rate and self._random.random() < self.faults.corrupt_rate:
            return packet[:-1] + bytes([packet[-1] ^ 0xFF])
        return packet

    def handle(self, servo_id, instruction, params, now):
        """Reply (bytes, extra_delay [s], answering servo count) for one instruction."""
        try:
            return self._dispatch(servo_id, instruction, params, now)
        except IndexError:
            return b'', 0.0, 0   # parameters too short for the instruction: ignored

    def _dispatch(self, servo_id, instruction, params, now):
        if instruction == p.PING:
            ids = sorted(self.servos) if servo_id == p.BROADCAST_ID else [servo_id]
            replies = [self._reply_ping(i, now) for i in ids if self._present(i)]
            return self._join(replies, ids)
        if instruction == p.READ:
            if not self._present(servo_id) or len(params) != 4:
                return b'', 0.0, 0
            address, length = _u16(params, 0), _u16(params, 2)
            return self._join([self._reply_read(servo_id, address, length, now)], [servo_id])
        if instruction == p.WRITE:
            return self._write(servo_id, _u16(params, 0), params[2:], now)
        if instruction == p.REBOOT:
            if not self._present(servo_id) or servo_id == p.BROADCAST_ID:
                return b'', 0.0, 0
            servo = self.servos[servo_id]
            reply = self._status(servo)    # the status goes out before the servo restarts
            servo.reboot(now)
            return self._join([reply], [servo_id])
        if instruction == p.SYNC_WRITE:
            address, length = _u16(params, 0), _u16(params, 2)
            body = params[4:]
            for start in range(0, len(body) - length, length + 1):
                target = body[start]
                if self._present(target):
                    try:
                        self.servos[target].write(address, body[start + 1:start + 1 + length],
                                                  now)
                    except AccessError:
                        pass  # sync write has no status packet to report it in
            return b'', 0.0, 0
        if instruction in (p.SYNC_READ, p.FAST_SYNC_READ):
            address, length = _u16(params, 0), _u16(params, 2)
            ids = list(params[4:])
            if instruction == p.FAST_SYNC_READ:
                return self._fast_sync_read(ids, address, length, now)
            replies = []
            for i in ids:
                if not self._present(i):
                    break  # the chain stalls: later servos wait for this one's reply
                replies.append(self._reply_read(i, address, length, now))
            return self._join(replies, ids[:len(replies)])
        if instruction == p.BULK_READ:
            replies, ids = [], []
            for start in range(0, len(params) - 4, 5):
                i = params[start]
                if not self._present(i):
                    break
                replies.append(self._reply_read(i, _u16(params, start + 1),
                                                _u16(params, start + 3), now))
                ids.append(i)
            return self._join(replies, ids)
        if servo_id != p.BROADCAST_ID and self._present(servo_id):
            return self._join([self._status(self.servos[servo_id], p.ERR_INSTRUCTION)],
                              [servo_id])
        return b'', 0.0, 0

    def _join(self, replies, ids):
        delay = max((self.faults.delay_for(i) for i in ids), default=0.0)
        return b''.join(self._maybe_corrupt(r) for r in replies), delay, len(replies)

    def _reply_ping(self, servo_id, now):
        servo = self.servos[servo_id]
        servo.heard(now)
        model = servo.spec.model_number
        return self._status(servo, 0, bytes([model & 0xFF, model >> 8, servo.get(
            'firmware_version')]))

    def _reply_read(self, servo_id, address, length, now):
        servo = self.servos[servo_id]
        try:
            return self._status(servo, 0, servo.read(address, length, now))
        except AccessError as exc:
            return self._status(servo, exc.code)

    def _write(self, servo_id, address, data, now):
        targets = sorted(self.servos) if servo_id == p.BROADCAST_ID else [servo_id]
        reply = b''
        for i in targets:
            if not self._present(i):
                continue
            try:
                self.servos[i].write(address, data, now)
                error = 0
            except AccessError as exc:
                error = exc.code
            if servo_id != p.BROADCAST_ID:
                reply = self._status(self.servos[i], error)
        if not reply:
            return b'', 0.0, 0
        return self._join([reply], [servo_id])

    def _fast_sync_read(self, ids, address, length, now):
        # One status packet from the broadcast id; each servo appends ERR ID DATA CRC.
        segments = []
        for i in ids:
            if not self._present(i):
                break  # the servos after a silent one never get their turn
            servo = self.servos[i]
            try:
                data, error = servo.read(address, length, now), 0
            except AccessError as exc:
                data, error = bytes(length), exc.code
            if servo.hardware_error:
                error |= p.ALERT
            segments.append((error, i, data))
        if not segments:
            return b'', 0.0, 0
        declared = 1 + (length + 4) * len(ids)  # as if every servo answered
        frame = bytearray(p.HEADER + bytes([p.BROADCAST_ID, declared & 0xFF, declared >> 8,
                                            p.STATUS]))
        crc = p.crc16(frame)
        for error, i, data in segments:
            segment = bytes([error, i]) + data
            crc = p.crc16(segment, crc)  # running CRC; after the last segment the packet CRC
            frame += segment + bytes([crc & 0xFF, crc >> 8])
            crc = p.crc16(frame[-2:], crc)
        reply = self._maybe_corrupt(bytes(frame))
        delay = max(self.faults.delay_for(s[1]) for s in segments)
        return reply, delay, len(segments)

    def wire_seconds(self, instruction_bytes, reply_bytes, answering):
        """Time the exchange takes on a real bus: 10 bits per byte plus return delays."""
        if not self.wire_time:
            return 0.0
        return_delay = 2e-6 * answering * (self._return_delay() if answering else 0)
        return 10.0 * (instruction_bytes + reply_bytes) / self.baud_rate + return_delay

    def _return_delay(self):
        # The servos the driver configures share one value; use the first servo's.
        return next(iter(self.servos.values())).get('return_delay_time')


def _u16(data, offset):
    return data[offset] | (data[offset + 1] << 8)


def servos_from_config(config, lag=DEFAULT_LAG, now=0.0):
    """Emulated servos at their neutral positions, one per configured actuator."""
    return [EmulatedServo(a.id, a.model, joint_to_ticks(a, a.neutral), lag=lag, now=now)
            for a in config.actuators]


def fault_digest(content):
    """Short identity of a fault file's bytes, as the acknowledgement names it."""
    return hashlib.sha256(content).hexdigest()[:16]


def acknowledgement_path(fault_path):
    """Where the emulator says which fault file content it has applied."""
    return f'{fault_path}.applied'


class FaultFileWatcher:
    """Re-reads the fault file when it changes, and acknowledges it (module docstring).

    poll() applies a changed file and returns True; acknowledge() then writes the
    acknowledgement, so the serving loop can first carry out what the faults ask for at
    once (a port_down_s closes the port) and only then say they are in force.
    """

    def __init__(self, path, emulator, log):
        self.path, self.emulator, self.log = path, emulator, log
        self._stamp = None
        self._unacknowledged = ''

    def poll(self):
        if not self.path:
            return False
        try:
            info = os.stat(self.path)
            # The inode too: a rewrite within one timestamp tick is a new file (os.replace).
            stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp == self._stamp:
            return False
        self._stamp = stamp
        content, outcome = b'', 'applied'
        try:
            if stamp is None:
                self.emulator.set_faults(Faults())
            else:
                with open(self.path, 'rb') as f:
                    content = f.read()
                self.emulator.set_faults(Faults(json.loads(content)))
        except FileNotFoundError:
            self.emulator.set_faults(Faults())   # removed between stat and open
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            outcome = f'ignored: {exc}; write a JSON object'
            self.log(f'fault file {self.path} {outcome}')
        self._unacknowledged = f'{fault_digest(content)} {outcome}\n'
        return True

    def acknowledge(self):
        """Write the acknowledgement of the last poll() that found a change, once."""
        if not self._unacknowledged:
            return
        line, self._unacknowledged = self._unacknowledged, ''
        ack = acknowledgement_path(self.path)
        tmp = f'{ack}.tmp{os.getpid()}'
        try:
            with open(tmp, 'w') as f:
                f.write(line)
            os.replace(tmp, ack)
        except OSError as exc:
            self.log(f'cannot acknowledge the fault file in {ack}: {exc}')


class Port:
    """The emulator's pseudo-terminal, optionally behind a stable symlink."""

    def __init__(self, link=''):
        self.link = link
        self.master = self.slave = None
        self.open()

    @property
    def path(self):
        return self.link or os.ttyname(self.slave)

    def open(self):
        # The slave stays open here too, so the SDK can close and reopen it.
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        tty.setraw(self.master)
        if self.link:
            tmp = f'{self.link}.tmp{os.getpid()}'
            os.symlink(os.ttyname(self.slave), tmp)
            os.replace(tmp, self.link)

    def close(self):
        """The adapter is gone: the link disappears and the driver's end hangs up."""
        if self.link:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.link)
        for fd in (self.master, self.slave):
            os.close(fd)


def _wait_until(due):
    # Sleep, never spin: the driver's host needs the core. sleep() wakes within about
    # 0.1 ms of due on Linux, small against the 1.4-5.6 ms a 26-servo cycle takes on the
    # wire at 4-1 Mbps.
    rest = due - time.monotonic()
    if rest > 0:
        time.sleep(rest)


def _port_down(port, seconds, stop, watcher):
    port.close()
    watcher.acknowledge()   # the port is gone: the fault is in force
    back = time.monotonic() + seconds
    while not stop() and time.monotonic() < back:
        time.sleep(0.01)
    port.open()


def serve(emulator, port, watcher, stop):
    """Answer instructions on the port's pty master until stop() is true."""
    reader = p.PacketReader()
    last_poll = 0.0
    wire_free = 0.0   # when the last exchange is off the wire [time.monotonic()]
    last_loop = time.monotonic()
    while not stop():
        now = time.monotonic()
        if now - last_loop > EMULATOR_STALL:
            # This process was not scheduled for a while: the instructions waiting in the
            # pty reached the servos on time on a real bus, so no watchdog may trip for it.
            for servo in emulator.servos.values():
                servo.last_heard = max(servo.last_heard, now)
        last_loop = now
        if now - last_poll > 0.02:
            watcher.poll()
            last_poll = now
            if emulator.pending_port_down:
                seconds, emulator.pending_port_down = emulator.pending_port_down, 0.0
                _port_down(port, seconds, stop, watcher)
                reader = p.PacketReader()
            watcher.acknowledge()   # if poll() found a change (a no-op otherwise)
        master = port.master
        ready, _, _ = select.select([master], [], [], 0.02)
        if not ready:
            continue
        try:
            data = os.read(master, 4096)
        except OSError:
            continue  # no process has the slave open right now
        arrived = time.monotonic()
        reader.feed(data)
        try:
            for servo_id, instruction, params in reader.packets():
                # On a real bus an instruction starts when it has arrived and the previous
                # exchange is off the wire; the servos act on it once it is all in.
                start = max(arrived, wire_free)
                incoming = 10 + len(params)  # header, id, length, instruction, CRC
                acted = max(start + emulator.wire_seconds(incoming, 0, 0), time.monotonic())
                reply, delay, answering = emulator.handle(servo_id, instruction, params, acted)
                wire_free = start + delay + emulator.wire_seconds(incoming, len(reply),
                                                                  answering)
                if reply:   # an instruction without a reply needs no wake-up of its own
                    _wait_until(wire_free)
                    os.write(master, reply)
                    wire_free = max(wire_free, time.monotonic())
        except p.PacketError:
            pass  # a real servo ignores a packet it cannot verify


def main(argv=None):
    parser = argparse.ArgumentParser(
        description='Emulated Dynamixel Protocol 2.0 bus with the face servos on a pty.')
    parser.add_argument('--config', default=str(default_face_config_path()),
                        help='face_motors.yaml giving servo ids and models')
    parser.add_argument('--baud', type=int, default=None,
                        help='bus baud rate for wire-time simulation [bit/s] '
                             '(default: the config file)')
    parser.add_argument('--wire-time', action='store_true',
                        help='hold replies back by the time they take on a real wire')
    parser.add_argument('--lag', type=float, default=DEFAULT_LAG,
                        help='servo position lag time constant [s] (default 0.03)')
    parser.add_argument('--fault-file', default='',
                        help='JSON file with injected faults, re-read when it changes')
    parser.add_argument('--seed', type=int, default=0, help='seed of the corruption draws')
    parser.add_argument('--link', default='',
                        help='also offer the port as a symlink at this path, which follows '
                             'the port when it comes back after a port_down_s fault')
    parser.add_argument('--parent-pid', type=int, default=0,
                        help='exit when our parent is no longer this process (the driver died)')
    args = parser.parse_args(argv)
    if args.lag <= 0:
        parser.error('--lag must be > 0 s')
    try:
        config = load_face_config(args.config)
    except ConfigError as exc:
        parser.error(str(exc))
    baud = args.baud or config.bus.baud_rate
    emulator = BusEmulator(servos_from_config(config, args.lag, time.monotonic()),
                           baud_rate=baud, wire_time=args.wire_time, seed=args.seed)
    watcher = FaultFileWatcher(args.fault_file, emulator,
                               lambda m: print(m, file=sys.stderr, flush=True))
    watcher.poll()   # acknowledged by serve(), after a port_down_s in the file took the port
    port = Port(args.link)
    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    signal.signal(signal.SIGINT, lambda *_: stopping.append(True))
    print(f'PORT {port.path}', flush=True)
    try:
        parent = args.parent_pid
        serve(emulator, port, watcher,
              lambda: bool(stopping) or (parent and os.getppid() != parent))
    finally:
        port.close()
    return 0


if __name__ == '__main__':
    sys.exit(main())
