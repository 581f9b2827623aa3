"""FaceBus (official dynamixel-sdk) against the emulator in its own process, over a pty."""

import time

import pytest

from face_motor_driver.bus import (
    CommError,
    FaceBus,
    PortError,
    ServoMissingError,
    ServoRefusedError,
)
from face_motor_driver.control_table import RAD_PER_TICK
from face_motor_driver.emulator_process import apply_faults


def _open_bus(face_config, emulator):
    bus = FaceBus(face_config, port=emulator.port)
    bus.open()
    return bus


def _start(bus, face_config):
    bus.ping_all()
    for a in face_config.actuators:
        bus.configure(a)
        bus.set_online(a.id, True)
        bus.set_torque(a, True)


def test_start_up_and_commands_reach_servo_positions(face_config, emulator):
    bus = _open_bus(face_config, emulator)
    try:
        _start(bus, face_config)
        states = bus.read_states()
        assert set(states) == {a.id for a in face_config.actuators}
        for a in face_config.actuators:
            assert abs(states[a.id].position - a.neutral) <= RAD_PER_TICK
        goals = {a.id: a.min + 0.75 * (a.max - a.min) for a in face_config.actuators}
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            bus.write_goals(goals)
            states = bus.read_states()
            if all(abs(states[i].position - g) < 2 * RAD_PER_TICK for i, g in goals.items()):
                break
        for servo_id, goal in goals.items():
            assert abs(states[servo_id].position - goal) < 2 * RAD_PER_TICK
        health = bus.read_health()
        assert all(h.hardware_error == 0 and h.voltage > 4.0 for h in health.values())
        jaw = face_config.actuator('jaw_open')
        assert bus.read(jaw, 'return_delay_time') == 0
    finally:
        bus.close()


def test_values_that_need_byte_stuffing_survive_both_directions(face_config, emulator):
    bus = _open_bus(face_config, emulator)
    try:
        a = face_config.actuator('nose_wrinkle')
        # 0x00FDFFFF puts FF FF FD inside both the WRITE instruction and the READ reply.
        bus.write(a, 'homing_offset', 0x00FDFFFF)
        assert bus.read(a, 'homing_offset') == 0x00FDFFFF
    finally:
        bus.close()


def test_a_goal_outside_the_position_limits_is_refused(face_config, emulator):
    bus = _open_bus(face_config, emulator)
    try:
        a = face_config.actuator('nose_wrinkle')
        with pytest.raises(ServoRefusedError, match='nose_wrinkle .id 14. refused write of '
                                                    'goal_position=5000.*limit'):
            bus.write(a, 'goal_position', 5000)
    finally:
        bus.close()


def test_eeprom_write_with_torque_on_is_a_named_refusal(face_config, emulator):
    bus = _open_bus(face_config, emulator)
    try:
        a = face_config.actuator('jaw_open')
        bus.set_torque(a, True)
        with pytest.raises(ServoRefusedError, match='jaw_open .id 1. refused write of '
                                                    'operating_mode'):
            bus.write(a, 'operating_mode', 3)
    finally:
        bus.close()


def test_absent_servos_at_start_are_named(face_config, emulator, fault_file):
    apply_faults(fault_file, absent=[9, 17])
    bus = _open_bus(face_config, emulator)
    try:
        with pytest.raises(ServoMissingError) as info:
            bus.ping_all()
        assert [a.id for a in info.value.missing] == [9, 17]
        assert 'lower_lip_left_lower (id 9)' in str(info.value)
        assert 'eye_right_yaw (id 17)' in str(info.value)
    finally:
        bus.close()


def test_a_silent_servo_makes_the_sync_read_fail(face_config, emulator, fault_file):
    bus = _open_bus(face_config, emulator)
    try:
        _start(bus, face_config)
        apply_faults(fault_file, absent=[5])
        with pytest.raises(CommError):
            bus.read_states()
        bus.set_online(5, False)
        assert 5 not in bus.read_states()
    finally:
        bus.close()


def test_a_reply_the_sdk_cannot_parse_is_a_failed_exchange_not_a_crash(face_config, emulator):
    # The SDK's fast sync read indexes into the reply by the length it expects: a reply cut
    # short raised IndexError out of the control thread (seen under heavy load).
    bus = _open_bus(face_config, emulator)
    try:
        _start(bus, face_config)

        def fast_sync_read_of_a_short_reply():
            return bytearray(3)[7]

        with pytest.raises(CommError, match='malformed reply'):
            bus._call(fast_sync_read_of_a_short_reply)
        assert not bus.port.is_using  # the port is free for the next cycle
        assert set(bus.read_states()) == {a.id for a in face_config.actuators}
    finally:
        bus.close()


def test_a_missing_port_is_a_port_error(face_config, tmp_path):
    bus = FaceBus(face_config, port=str(tmp_path / 'ttyUSB9'))
    with pytest.raises(PortError, match='cannot open'):
        bus.open()


def test_plain_sync_read_and_bulk_read_through_the_sdk(face_config, emulator):
    import dynamixel_sdk as sdk
    bus = FaceBus(face_config, port=emulator.port, fast_sync_read=False)
    bus.open()
    try:
        _start(bus, face_config)
        states = bus.read_states()     # SYNC_READ: one status packet per servo
        assert len(states) == 26
        bulk = sdk.GroupBulkRead(bus.port, bus.packet)
        assert bulk.addParam(1, 132, 4) and bulk.addParam(15, 146, 1)
        assert bulk.txRxPacket() == sdk.COMM_SUCCESS
        assert bulk.getData(1, 132, 4) == 2048          # jaw at neutral
        assert 20 <= bulk.getData(15, 146, 1) <= 60     # a temperature in deg C
    finally:
        bus.close()


def test_wire_time_simulation_costs_at_least_the_wire_time(face_config):
    from face_motor_driver.bus import wire_seconds_per_cycle
    from face_motor_driver.emulator_process import EmulatorProcess
    from face_motor_driver.face_config import default_face_config_path
    with EmulatorProcess(default_face_config_path(), wire_time=True) as emu:
        bus = FaceBus(face_config, port=emu.port)
        bus.open()
        try:
            _start(bus, face_config)
            goals = {a.id: a.neutral for a in face_config.actuators}
            times = []
            for _ in range(30):
                start = time.perf_counter()
                bus.write_goals(goals)
                bus.read_states()
                times.append(time.perf_counter() - start)
        finally:
            bus.close()
    # a lower bound only: the emulator must never answer faster than the wire allows
    assert min(times) >= wire_seconds_per_cycle(26, 1_000_000)


def test_fault_changes_are_acknowledged_or_refused_with_a_reason(face_config, emulator,
                                                                  fault_file):
    from face_motor_driver.emulator_process import FaultsNotAppliedError
    bus = _open_bus(face_config, emulator)
    try:
        _start(bus, face_config)
        apply_faults(fault_file, absent=[5])
        with pytest.raises(CommError):   # acknowledged means in force for the next reply
            bus.read_states()
        with pytest.raises(FaultsNotAppliedError, match="ignored: invalid literal"):
            apply_faults(fault_file, absent=['five'])
        apply_faults(fault_file)
        assert len(bus.read_states()) == 26
    finally:
        bus.close()


def test_a_port_loss_is_acknowledged_once_the_port_is_gone_each_time(emulator, fault_file):
    # The same fault written again is a change of its own: the port goes away again, and
    # the acknowledgement comes only once it has.
    import os

    from face_common.waiting import wait_until
    for _ in range(2):
        apply_faults(fault_file, port_down_s=0.3)
        assert not os.path.exists(emulator.port), 'acknowledged while the port was still up'
        wait_until(lambda: os.path.exists(emulator.port), 10, 'the port back')


def test_waiting_for_faults_without_an_emulator_fails_clearly(tmp_path):
    from face_motor_driver.emulator_process import FaultsNotAppliedError
    with pytest.raises(FaultsNotAppliedError, match='no bus emulator applied fault file'):
        apply_faults(tmp_path / 'faults.json', timeout=0.1, absent=[1])


@pytest.mark.parametrize('fast', [True, False])
def test_one_exchange_writes_the_goals_and_reads_every_servo(face_config, emulator, fast):
    bus = FaceBus(face_config, port=emulator.port, fast_sync_read=fast)
    bus.open()
    try:
        _start(bus, face_config)
        jaw, nose = face_config.actuator('jaw_open'), face_config.actuator('nose_wrinkle')
        goals = {a.id: a.neutral for a in face_config.actuators} | {jaw.id: 0.3}
        deadline = time.monotonic() + 3.0
        while time.monotonic() < deadline:
            states = bus.exchange(goals)
            if abs(states[jaw.id].position - 0.3) < 2 * RAD_PER_TICK:
                break
        assert set(states) == {a.id for a in face_config.actuators}
        assert abs(states[jaw.id].position - 0.3) < 2 * RAD_PER_TICK
        # a servo that is back online without a new goal keeps the one it has
        bus.set_online(nose.id, False)
        bus.write(nose, 'goal_position', 2100)
        bus.set_online(nose.id, True)
        for _ in range(20):
            bus.exchange({jaw.id: 0.3})
        assert bus.read(nose, 'goal_position') == 2100
    finally:
        bus.close()
