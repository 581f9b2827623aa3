"""face-bringup starts the simulated face; speech turns into lip motion; record, replay; Ctrl-C.

Real processes over real Fast DDS: face-bringup face_sim (driver on the emulated bus,
face_sim, observer, lip policy with the committed default models), audio_player_node
speaking a sentence and face-record writing a bag, which face-replay-eval then scores.
The test watches face/joint_states from its own process.
"""

import json
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from face_motor_driver.face_config import default_face_config_path, load_face_config


def _descendants(pid):
    """Every process below pid (from /proc), so the test can prove none is left behind."""
    children = {}
    for entry in os.listdir('/proc'):
        if entry.isdigit():
            try:
                with open(f'/proc/{entry}/stat') as stat:
                    parent = int(stat.read().rsplit(')', 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def _alive(pid):
    try:
        with open(f'/proc/{pid}/stat') as stat:
            return stat.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


@pytest.mark.ros
def test_bringup_moves_the_lips_to_speech_and_stops_cleanly(ros_context, tmp_path):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import JointState

    config = load_face_config(default_face_config_path())
    lips = {a.name for a in config.lip_actuators}
    bringup = subprocess.Popen([shutil.which('face-bringup') or
                                os.path.join(os.path.dirname(sys.executable), 'face-bringup'),
                                'face_sim'], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    output = []  # face-bringup's lines (every node's output, prefixed), read as they come
    reader = threading.Thread(target=lambda: output.extend(bringup.stdout), daemon=True)
    reader.start()
    node = rclpy.create_node('bringup_watcher', context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    states = []
    node.create_subscription(JointState, 'face/joint_states',
                             lambda m: states.append((time.monotonic(), m)),
                             qos_profile_sensor_data)
    player = recorder = None
    bin_dir = os.path.dirname(sys.executable)
    bag = tmp_path / 'speech'
    try:
        deadline = time.monotonic() + 60
        while not states and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.1)
        assert states, 'face-bringup did not bring up the driver'
        # Speak only once the policy has loaded (and warmed up) its models.
        ready = time.monotonic() + 120
        while not any('lip policy ready' in line for line in output) and \
                time.monotonic() < ready:
            executor.spin_once(timeout_sec=0.1)
        assert any('lip policy ready' in line for line in output), ''.join(output)[-3000:]
        recorder = subprocess.Popen(
            [os.path.join(bin_dir, 'face-record'), '--topics', '/audio', '/face/landmarks',
             '/face/joint_states', '--out', str(bag)], stdout=subprocess.PIPE, text=True)
        time.sleep(3.0)
        states.clear()
        player = subprocess.Popen(
            [os.path.join(bin_dir, 'audio_player_node'), '--ros-args',
             '-p', 'text:=Bob bought a map. We will move it.', '-p', 'lookahead:=0.2',
             '-p', 'wait_for_subscribers:=2',  # the policy and face-record
             '-p', 'exit_when_done:=true'])
        deadline = time.monotonic() + 40
        while player.poll() is None and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        end = time.monotonic() + 1.0
        while time.monotonic() < end:
            executor.spin_once(timeout_sec=0.05)
        assert player.poll() == 0
    finally:
        if player is not None and player.poll() is None:
            player.kill()
        if recorder is not None:
            recorder.send_signal(signal.SIGINT)
            recorder.communicate(timeout=20)
        node.destroy_node()
        children = _descendants(bringup.pid)
        bringup.send_signal(signal.SIGINT)
        try:
            bringup.wait(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(bringup.pid, signal.SIGKILL)
            bringup.wait()
        reader.join(timeout=5)
        out = ''.join(output)
    names = list(states[0][1].name)
    positions = np.array([list(m.position) for _, m in states])
    travel = positions.max(axis=0) - positions.min(axis=0)
    moved = {n for n, t in zip(names, travel) if t > 0.02}
    assert moved & lips, f'no lip actuator moved to speech: travel {dict(zip(names, travel))}'
    assert moved <= lips, f'only lip actuators may move: {moved - lips} did'
    assert bringup.returncode == 0, out
    assert 'stopped' in out
    leftovers = [pid for pid in children if _alive(pid)]
    assert not leftovers, f'processes left behind: {leftovers}'

    # The recorded run, replayed through the policy offline, matches what the face did.
    replay = subprocess.run([os.path.join(bin_dir, 'face-replay-eval'), str(bag)],
                            capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0, replay.stderr
    figures = json.loads(replay.stdout.strip().splitlines()[-1])
    assert figures['audio_chunks'] > 50 and figures['rejected_chunks'] == 0
    # Joint states are recorded every driver cycle; camera landmarks only as fast as this
    # loaded machine renders and observes, so the joint figures carry the assertions.
    assert figures['jaw_correlation'] > 0.4, figures
    assert abs(figures['jaw_sync_offset_ms']) < 80, figures
    assert figures['lip_joint_rms_error_rad'] < 0.25, figures
    assert 0 <= figures['lip_error'] < 0.5 and figures['landmark_rate_hz'] > 0, figures
    assert pathlib.Path(figures['plot']).is_file()
