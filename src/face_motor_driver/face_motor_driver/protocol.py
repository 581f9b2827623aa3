"""Dynamixel Protocol 2.0 framing: CRC-16, byte stuffing, instruction and status packets.

The driver itself talks through the official dynamixel-sdk; this module is the servo side
of the wire, used by the bus emulator and by the packet-conformance tests.

Packet: FF FF FD 00 | ID | LEN_L LEN_H | INSTRUCTION | PARAMS... | CRC_L CRC_H
LEN counts instruction, params and CRC. Inside the instruction+params part every
FF FF FD is followed by a stuffing byte FD so the header never appears in the body.
"""

import array
import struct

HEADER = b'\xff\xff\xfd\x00'
BROADCAST_ID = 0xFE

PING = 0x01
READ = 0x02
WRITE = 0x03
REBOOT = 0x08
STATUS = 0x55
SYNC_READ = 0x82
SYNC_WRITE = 0x83
FAST_SYNC_READ = 0x8A
BULK_READ = 0x92

# Status-packet error field (the low 7 bits), and the alert bit (hardware error pending).
ERR_RESULT_FAIL = 0x01  # e.g. torque on refused while a hardware error is latched
ERR_INSTRUCTION = 0x02  # unknown instruction
ERR_DATA_LIMIT = 0x06   # value outside the field's limits (Goal Position vs position limits)
ERR_ACCESS = 0x07       # bad address, read-only field, or EEPROM locked by torque
ALERT = 0x80


def _crc_table():
    # CRC-16 with polynomial 0x8005, no reflection, initial value 0 (the Dynamixel CRC).
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x8005) if crc & 0x8000 else (crc << 1)
        table.append(crc & 0xFFFF)
    return tuple(table)


_CRC_TABLE = _crc_table()


def _crc_word_table():
    # The CRC register after two bytes depends only on register XOR (first << 8 | second),
    # so one lookup per 16-bit word does the work of two byte steps.
    table = array.array('H', bytes(2 << 16))
    for word in range(1 << 16):
        crc = _CRC_TABLE[word >> 8]
        table[word] = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[(crc >> 8) ^ (word & 0xFF)]
    return table


_CRC_WORD_TABLE = _crc_word_table()


def crc16(data, crc=0):
    """Dynamixel CRC-16 of data (bytes-like) continuing from crc.

    Word by word: every cycle checks a few hundred bytes, and a Python loop per byte was
    a tenth of the driver's time per cycle.
    """
    table = _CRC_WORD_TABLE
    for word in struct.unpack_from(f'>{len(data) // 2}H', data):
        crc = table[crc ^ word]
    if len(data) % 2:
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[(crc >> 8) ^ data[-1]]
    return crc


def stuff(body):
    """Insert FD after every FF FF FD in the instruction+params bytes."""
    if b'\xff\xff\xfd' not in body:
        return bytes(body)   # the usual case, without a Python loop over every byte
    out = bytearray()
    for byte in body:
        out.append(byte)
        if byte == 0xFD and len(out) >= 3 and out[-3] == 0xFF and out[-2] == 0xFF:
            out.append(0xFD)
    return bytes(out)


def unstuff(body):
    """Remove the stuffing FD after every FF FF FD."""
    out = bytearray()
    i = 0
    while i < len(body):
        out.append(body[i])
        if (body[i] == 0xFD and len(out) >= 3 and out[-3] == 0xFF and out[-2] == 0xFF
                and i + 1 < len(body) and body[i + 1] == 0xFD):
            i += 1
        i += 1
    return bytes(out)


def build_packet(packet_id, instruction, params=b'', stuffing=True):
    """A complete packet with header, length and CRC; params already in wire order."""
    body = bytes([instruction]) + bytes(params)
    if stuffing:
        body = stuff(body)
    length = len(body) + 2
    frame = HEADER + bytes([packet_id, length & 0xFF, length >> 8]) + body
    crc = crc16(frame)
    return frame + bytes([crc & 0xFF, crc >> 8])


def build_status(servo_id, error, params=b''):
    return build_packet(servo_id, STATUS, bytes([error]) + bytes(params))


class PacketError(ValueError):
    """A received packet is malformed (bad CRC, truncated)."""


class PacketReader:
    """Splits a byte stream into packets; resynchronises on the header after garbage."""

    def __init__(self):
        self._buffer = bytearray()

    def feed(self, data):
        self._buffer.extend(data)

    def packets(self):
        """Yields (id, instruction, params) for complete packets; PacketError on a bad CRC."""
        while True:
            start = self._buffer.find(HEADER)
            if start < 0:
                # keep a possible partial header at the end
                del self._buffer[:max(0, len(self._buffer) - 3)]
                return
            del self._buffer[:start]
            if len(self._buffer) < 7:
                return
            length = self._buffer[5] | (self._buffer[6] << 8)
            total = 7 + length
            if length < 3:
                del self._buffer[:4]
                raise PacketError(f'packet length field {length} is below the minimum 3')
            if len(self._buffer) < total:
                return
            frame = bytes(self._buffer[:total])
            del self._buffer[:total]
            received = frame[-2] | (frame[-1] << 8)
            if crc16(frame[:-2]) != received:
                raise PacketError(f'CRC mismatch on packet for id {frame[4]}')
            body = unstuff(frame[7:-2])
            yield frame[4], body[0], body[1:]


def parse_status(frame):
    """(id, error, params) of one complete, stuffed status packet; PacketError if bad."""
    if frame[:4] != HEADER:
        raise PacketError('status packet does not start with FF FF FD 00')
    length = frame[5] | (frame[6] << 8)
    if len(frame) != 7 + length:
        raise PacketError(f'status packet is {len(frame)} bytes, its length says {7 + length}')
    if crc16(frame[:-2]) != (frame[-2] | (frame[-1] << 8)):
        raise PacketError('status packet CRC mismatch')
    body = unstuff(frame[7:-2])
    if body[0] != STATUS:
        raise PacketError(f'instruction 0x{body[0]:02X} is not STATUS 0x55')
    return frame[4], body[1], body[2:]
