"""Packet conformance of the emulator's side of the wire, checked against the official SDK's
own packet code (CRC, stuffing) and against the Protocol 2.0 layout."""

import dynamixel_sdk as sdk
import pytest

from face_motor_driver import protocol as p
from face_motor_driver.control_table import RAD_PER_TICK
from face_motor_driver.emulator import BusEmulator, servos_from_config


def test_crc_matches_the_sdk_and_the_manual_example():
    handler = sdk.PacketHandler(2.0)
    # e-manual PING example: FF FF FD 00 01 03 00 01 19 4E
    assert p.build_packet(1, p.PING) == bytes.fromhex('FFFFFD000103000119 4E'.replace(' ', ''))
    data = bytes(range(256)) * 2
    assert p.crc16(data) == handler.updateCRC(0, list(data), len(data))
    # word-wise: odd lengths end with one byte step; a running CRC continues from its value
    for length in (0, 1, 2, 3, 11, 372, 373):
        part = data[length:2 * length]
        for start in (0, 0x1234, 0xFFFF):
            assert p.crc16(part, start) == handler.updateCRC(start, list(part), len(part))


def test_the_drivers_packet_handler_frames_like_the_sdk():
    from face_motor_driver.bus import FacePacketHandler
    sdk_handler, ours = sdk.PacketHandler(2.0), FacePacketHandler()
    for body in (bytes([p.SYNC_WRITE, 116, 0, 4, 0, 1, 0, 8, 0, 0]),          # nothing to stuff
                 bytes([p.WRITE, 0xFF, 0xFF, 0xFD, 0x01, 0xFF, 0xFF, 0xFD])):  # stuffed twice
        packet = [0xFF, 0xFF, 0xFD, 0x00, 3, (len(body) + 2) & 0xFF, 0] + list(body) + [0, 0]
        expected = sdk_handler.addStuffing(list(packet))
        assert ours.addStuffing(list(packet)) == expected
        assert ours.updateCRC(0, expected, len(expected) - 2) == \
            sdk_handler.updateCRC(0, expected, len(expected) - 2)


def test_stuffing_round_trips_and_matches_the_sdk():
    body = bytes([p.READ, 0xFF, 0xFF, 0xFD, 0x01, 0xFF, 0xFF, 0xFD, 0xFD])
    stuffed = p.stuff(body)
    assert stuffed == bytes([p.READ, 0xFF, 0xFF, 0xFD, 0xFD, 0x01, 0xFF, 0xFF, 0xFD, 0xFD,
                             0xFD])
    assert p.unstuff(stuffed) == body
    packet = p.build_packet(3, body[0], body[1:])
    sdk_packet = [0xFF, 0xFF, 0xFD, 0x00, 3, (len(body) + 2) & 0xFF, 0] + list(body) + [0, 0]
    handler = sdk.PacketHandler(2.0)
    sdk_packet = handler.addStuffing(sdk_packet)
    crc = handler.updateCRC(0, sdk_packet, len(sdk_packet) - 2)
    sdk_packet[-2:] = [crc & 0xFF, crc >> 8]
    assert packet == bytes(sdk_packet)


def test_reader_splits_resynchronises_and_rejects_bad_crc():
    reader = p.PacketReader()
    good = p.build_packet(5, p.READ, bytes([132, 0, 4, 0]))
    bad = bytearray(good)
    bad[-1] ^= 0x01
    reader.feed(b'\x00\x13' + good[:6])
    assert list(reader.packets()) == []
    reader.feed(good[6:] + bytes(bad))
    packets = reader.packets()
    assert next(packets) == (5, p.READ, bytes([132, 0, 4, 0]))
    with pytest.raises(p.PacketError, match='CRC'):
        next(packets)


@pytest.fixture
def bus(face_config):
    return BusEmulator(servos_from_config(face_config))


def test_status_packets_of_ping_and_read(bus):
    reply, _, count = bus.handle(7, p.PING, b'', 0.0)
    assert count == 1
    servo_id, error, params = p.parse_status(reply)
    assert (servo_id, error) == (7, 0)
    assert params[0] | (params[1] << 8) == 1200  # XL330-M288
    reply, _, _ = bus.handle(7, p.READ, bytes([132, 0, 4, 0]), 0.0)
    _, error, params = p.parse_status(reply)
    assert error == 0 and int.from_bytes(params, 'little') == 2048
    reply, _, _ = bus.handle(7, p.READ, bytes([200, 0, 4, 0]), 0.0)
    assert p.parse_status(reply)[1] == p.ERR_ACCESS


def test_broadcast_ping_answers_every_servo_in_id_order(bus):
    reply, _, count = bus.handle(p.BROADCAST_ID, p.PING, b'', 0.0)
    assert count == 26
    reader = p.PacketReader()
    reader.feed(reply)
    assert [packet[0] for packet in reader.packets()] == list(range(1, 27))


def test_eeprom_is_locked_while_torque_is_on(bus):
    assert p.parse_status(bus.handle(2, p.WRITE, bytes([9, 0, 0]), 0.0)[0])[1] == 0
    bus.handle(2, p.WRITE, bytes([64, 0, 1]), 0.0)
    assert p.parse_status(bus.handle(2, p.WRITE, bytes([9, 0, 0]), 0.0)[0])[1] == p.ERR_ACCESS
    assert p.parse_status(bus.handle(2, p.WRITE, bytes([132, 0, 0]), 0.0)[0])[1] == p.ERR_ACCESS


def test_fast_sync_read_is_one_unstuffed_packet_with_segment_crcs(bus):
    ids = [1, 2, 3]
    reply, _, count = bus.handle(p.BROADCAST_ID, p.FAST_SYNC_READ,
                                 bytes([126, 0, 10, 0] + ids), 0.0)
    assert count == 3
    assert reply[4] == p.BROADCAST_ID and reply[7] == p.STATUS
    assert len(reply) == 8 + 14 * 3
    assert p.crc16(reply[:-2]) == reply[-2] | (reply[-1] << 8)
    for n, servo_id in enumerate(ids):
        segment = 8 + 14 * n
        assert reply[segment] == 0 and reply[segment + 1] == servo_id
        crc = reply[segment + 12] | (reply[segment + 13] << 8)
        assert crc == p.crc16(reply[:segment + 12])


def test_a_silent_servo_stalls_the_reads_after_it(bus):
    bus.faults.absent = {2}
    reply, _, count = bus.handle(p.BROADCAST_ID, p.SYNC_READ, bytes([132, 0, 4, 0, 1, 2, 3]),
                                 0.0)
    assert count == 1
    assert bus.handle(2, p.PING, b'', 0.0) == (b'', 0.0, 0)


def test_position_follows_goal_with_lag_and_speed_limit(face_config):
    bus = BusEmulator(servos_from_config(face_config, lag=0.05))
    servo = bus.servos[2]   # XL330-M288, no-load speed about 10.8 rad/s
    servo.write(64, b'\x01', 0.0)
    servo.write(116, (2048 + 100).to_bytes(4, 'little'), 0.0)   # small step: lag-limited
    for step in range(1, 6):
        servo.update(step * 0.01)
    # first order: after one time constant 1 - e^-1 = 63 % of the step
    assert 55 <= servo.position - 2048 <= 70
    servo.write(116, (2048 + 1500).to_bytes(4, 'little'), 0.05)  # large step: speed-limited
    before = servo.position
    servo.update(0.06)
    assert (servo.position - before) * RAD_PER_TICK / 0.01 <= servo.spec.no_load_speed + 1e-6


@pytest.mark.parametrize('instruction, params', [
    (p.WRITE, b'\x74'), (p.SYNC_READ, b'\x84\x00'), (p.BULK_READ, b'\x01\x84'), (0x77, b'')])
def test_malformed_instructions_are_ignored_or_refused_not_fatal(bus, instruction, params):
    reply, _, _ = bus.handle(3, instruction, params, 0.0)
    if reply:
        assert p.parse_status(reply)[1] == p.ERR_INSTRUCTION
