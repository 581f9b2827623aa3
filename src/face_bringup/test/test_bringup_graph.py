"""face-bringup starts the simulated face; speech turns into lip motion; record, replay; Ctrl-C.

Real processes over real Fast DDS: face-bringup face_sim (driver on the emulated bus,
face_sim, observer, lip policy with the committed default models), audio_player_node
speaking a sentence and face-record writing a bag, which face-replay-eval then scores.
The test watches face/joint_states from its own process.
"""

import contextlib
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

from face_common.graphs import command, node
from face_common.waiting import wait_until
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


def _start_bringup(*args):
    """face-bringup with args; (process, its output lines as they come, reader thread).

    It starts with SIGINT ignored, as a background job of a non-interactive shell does (a
    CI script, `make test &`): Ctrl-C must stop it all the same."""
    bringup = subprocess.Popen([shutil.which('face-bringup') or
                                os.path.join(os.path.dirname(sys.executable), 'face-bringup'),
                                *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    output = []  # face-bringup's lines (every node's output), read as they come
    reader = threading.Thread(target=lambda: output.extend(bringup.stdout), daemon=True)
    reader.start()
    return bringup, output, reader


def _policy_ready(output, bringup, executor, timeout=180):
    """Spin until face-bringup's lip policy says it has loaded (and warmed up) its models."""
    wait_until(lambda: any('lip policy ready' in line for line in output)
               or bringup.poll() is not None, timeout, 'the line "lip policy ready"',
               interval=0, step=lambda: executor.spin_once(timeout_sec=0.1))
    assert any('lip policy ready' in line for line in output), ''.join(output)[-3000:]


def _speak(executor, text, listeners, timeout=60):
    """audio_player_node says text once listeners subscribe; spin until it has exited."""
    player = subprocess.Popen(command(node(
        'audio_player_node', {'text': text, 'lookahead': 0.2,
                              'wait_for_subscribers': listeners, 'exit_when_done': True},
        params_file=False)))
    try:
        wait_until(lambda: player.poll() is not None, timeout, 'audio_player_node to finish',
                   interval=0, step=lambda: executor.spin_once(timeout_sec=0.05))
    finally:
        if player.poll() is None:
            player.kill()
            player.wait()
    assert player.returncode == 0


def _stop_bringup(bringup, reader):
    """Ctrl-C as a person would; returns the processes that were below face-bringup."""
    children = _descendants(bringup.pid)
    bringup.send_signal(signal.SIGINT)
    try:
        bringup.wait(timeout=40)
    except subprocess.TimeoutExpired:
        os.killpg(bringup.pid, signal.SIGKILL)
        bringup.wait()
        # The nodes run in sessions of their own: a face-bringup that did not stop must not
        # leave its graph running into the next tests (the test fails on the exit code).
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    reader.join(timeout=5)
    return children


@pytest.mark.ros
@pytest.mark.realtime
def test_bringup_moves_the_lips_to_speech_and_stops_cleanly(ros_context, tmp_path):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import JointState

    config = load_face_config(default_face_config_path())
    lips = {a.name for a in config.lip_actuators}
    bringup, output, reader = _start_bringup('face_sim')
    node = rclpy.create_node('bringup_watcher', context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    states = []
    node.create_subscription(JointState, 'face/joint_states',
                             lambda m: states.append((time.monotonic(), m)),
                             qos_profile_sensor_data)
    recorder = None
    bin_dir = os.path.dirname(sys.executable)
    bag = tmp_path / 'speech'
    try:
        wait_until(lambda: states or bringup.poll() is not None, 120,
                   'the first joint state of the driver face-bringup started', interval=0,
                   step=lambda: executor.spin_once(timeout_sec=0.1))
        assert states, 'face-bringup did not bring up the driver: ' + ''.join(output)[-3000:]
        # Speak only once the policy has loaded (and warmed up) its models.
        _policy_ready(output, bringup, executor)
        recorder = subprocess.Popen(
            [os.path.join(bin_dir, 'face-record'), '--topics', '/audio', '/face/landmarks',
             '/face/joint_states', '--out', str(bag)], stdout=subprocess.PIPE, text=True)
        # face-record says when it records each topic; /audio appears with the player, which
        # waits for face-record and the policy to subscribe (wait_for_subscribers).
        recording = []
        threading.Thread(target=lambda: recording.extend(recorder.stdout), daemon=True).start()
        wanted = ('recording /face/joint_states', 'recording /face/landmarks')
        wait_until(lambda: all(any(w in line for line in recording) for w in wanted), 60,
                   lambda: f'face-record recording {wanted} (it said {recording})',
                   interval=0, step=lambda: executor.spin_once(timeout_sec=0.05))
        states.clear()
        _speak(executor, 'Bob bought a map. We will move it.', 2)  # the policy, face-record
        # The lips' last moves come after the last audio chunk: 150 more joint states (1 s
        # at the driver's cycle rate) go into the recording and the travel below.
        count = len(states)
        wait_until(lambda: len(states) >= count + 150, 30, '150 joint states after the speech',
                   interval=0, step=lambda: executor.spin_once(timeout_sec=0.05))
    finally:
        if recorder is not None:
            recorder.send_signal(signal.SIGINT)
            recorder.wait(timeout=20)
        node.destroy_node()
        children = _stop_bringup(bringup, reader)
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
    assert figures['mode'] == 'offline'
    assert figures['audio_chunks'] > 50 and figures['rejected_chunks'] == 0
    # Joint states are recorded every driver cycle; camera landmarks only as fast as this
    # loaded machine renders and observes, so the joint figures carry the assertions.
    assert figures['jaw_correlation'] > 0.4, figures
    assert abs(figures['jaw_sync_offset_ms']) < 80, figures
    assert figures['lip_joint_rms_error_rad'] < 0.25, figures
    assert 0 <= figures['lip_error'] < 0.5 and figures['landmark_rate_hz'] > 0, figures
    assert pathlib.Path(figures['plot']).is_file()

    # The same bag in real time through a lip_policy_node process over DDS: the live node
    # follows the offline core and scores like it against the recording.
    live = subprocess.run([os.path.join(bin_dir, 'face-replay-eval'), str(bag), '--realtime',
                           '--out', str(tmp_path / 'live.json')],
                          capture_output=True, text=True, timeout=180)
    assert live.returncode == 0, live.stderr
    live_figures = json.loads(live.stdout.strip().splitlines()[-1])
    assert live_figures['mode'] == 'realtime' and live_figures['rejected_chunks'] == 0
    assert live_figures['live_commands'] > 50, live_figures
    assert live_figures['live_vs_offline_jaw_correlation'] > 0.8, live_figures
    assert live_figures['jaw_correlation'] > 0.4, live_figures
    assert abs(live_figures['jaw_sync_offset_ms'] - figures['jaw_sync_offset_ms']) < 40


@pytest.mark.ros
@pytest.mark.realtime
def test_composed_bringup_moves_the_lips_in_one_process_and_stops_cleanly(ros_context):
    """--composed: the same nodes in one process on a multi-threaded executor."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import JointState

    lips = {a.name for a in load_face_config(default_face_config_path()).lip_actuators}
    bringup, output, reader = _start_bringup('face_sim', '--composed')
    node = rclpy.create_node('composed_watcher', context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    states, landmarks = [], []
    node.create_subscription(JointState, 'face/joint_states', states.append,
                             qos_profile_sensor_data)
    from face_msgs.msg import FaceLandmarks

    node.create_subscription(FaceLandmarks, 'face/landmarks', landmarks.append, 10)
    try:
        _policy_ready(output, bringup, executor)
        # this watcher hears the face before the speech starts
        wait_until(lambda: states, 30, 'joint states at the watcher', interval=0,
                   step=lambda: executor.spin_once(timeout_sec=0.1))
        states.clear()
        _speak(executor, 'Bob bought a map.', 1)
    finally:
        node.destroy_node()
        children = _stop_bringup(bringup, reader)
    out = ''.join(output)
    # One process: the only process below face-bringup is the bus emulator the driver runs.
    assert 'in one process' in out and len(children) <= 2, (children, out[-2000:])
    names = list(states[0].name)
    positions = np.array([list(m.position) for m in states])
    travel = positions.max(axis=0) - positions.min(axis=0)
    moved = {n for n, t in zip(names, travel) if t > 0.02}
    assert moved & lips and moved <= lips, dict(zip(names, travel))
    assert any(m.detected for m in landmarks), 'the composed observer saw no face'
    assert bringup.returncode == 0, out[-3000:]
    assert 'stopped lip_policy, observer_node, face_sim_node, face_motor_driver_node' in out
    leftovers = [pid for pid in children if _alive(pid)]
    assert not leftovers, f'processes left behind: {leftovers}'
