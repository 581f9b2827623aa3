"""Benchmark of speech_node: from a Say goal sent to the first audio, and barge-in.

A speech_node process (null output, espeak-ng) runs in a random ROS domain; this process
sends a 10-word sentence as a Say goal --runs times and measures, from the moment the goal
is sent (wall clock, the same system clock the node stamps with):
- first_published_ms: the first /audio chunk arriving here;
- first_playback_ms: that chunk's stamp, when its first sample leaves the (null) speaker.
That includes the action round trip, the first sentence's synthesis and the lead-in
(lead_in parameter, 200 ms by default: the look-ahead the lips get). Target: <= 300 ms.

With --barge-in a lip_policy_node (the repo's models) runs too; each run cancels the goal
after a second of speech and measures the sound's stop (the result's stop_latency, on the
null DAC's clock) and the time from sending the cancel to the first lip command with every lip
actuator within 0.01 rad of neutral (lips_rest_ms). --rest-silence sets the speech node's
rest_silence (0 = publish nothing at a stop: the policy then holds and eases by itself).

Prints machine info first (bench/machine.py); the last line is one JSON object.

Usage: .venv/bin/python bench/say_latency.py [--runs 5] [--barge-in] [--rest-silence 0.3]
"""

import argparse
import json
import os
import pathlib
import sys
import threading
import time

import numpy as np
from machine import machine_report  # bench/ is on sys.path when run as a script

ROOT = pathlib.Path(__file__).resolve().parents[1]
SENTENCE = 'The little robot face said hello to every visitor this morning.'  # 10 words
LONG = ('Many mornings my mother made marmalade. Maybe we may manage more. '
        'Papa bought a bamboo boat.')
REST = 0.01  # [rad]


def _wait(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError('the speech node did not answer in time')
        time.sleep(0.002)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--runs', type=int, default=5)
    parser.add_argument('--barge-in', action='store_true', help='measure cancel and lips too')
    parser.add_argument('--rest-silence', type=float, default=0.3)
    args = parser.parse_args()
    for name, value in (('ROS_LOG_DIR', 'build/ros_log'), ('ROS_HOME', 'build/ros_home')):
        os.environ.setdefault(name, str(ROOT / value))
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ.setdefault('ROS_DOMAIN_ID', str(int.from_bytes(os.urandom(1), 'little') % 100
                                              + 1))
    machine = machine_report()
    print(f'machine: {json.dumps(machine)}', flush=True)

    import rclpy
    from rclpy.action import ActionClient
    from rclpy.executors import MultiThreadedExecutor

    from face_common.graphs import node, start
    from face_common.qos import audio_qos
    from face_motor_driver.face_config import default_face_config_path, load_face_config
    from face_msgs.action import Say
    from face_msgs.msg import AudioChunk, FaceCommand

    neutral = {a.name: a.neutral for a in
               load_face_config(default_face_config_path()).lip_actuators}
    nodes = [start(node('speech_node', {'output': 'null', 'scheduling': 'normal',
                                        'rest_silence': args.rest_silence}))]
    if args.barge_in:
        nodes.append(start(node('lip_policy_node', {'scheduling': 'normal'})))
    rclpy.init()
    node = rclpy.create_node('say_latency_bench')
    audio, commands, feedback = [], [], []
    node.create_subscription(AudioChunk, 'audio', lambda m: audio.append((time.time(), m)),
                             audio_qos())
    node.create_subscription(FaceCommand, 'face/lip_command',
                             lambda m: commands.append((time.time(), m)), 100)
    client = ActionClient(node, Say, 'speech/say')
    executor = MultiThreadedExecutor(num_threads=2)
    executor.add_node(node)
    threading.Thread(target=executor.spin, daemon=True).start()
    runs = []
    try:
        if not client.wait_for_server(timeout_sec=60.0):
            raise TimeoutError('no speech node')
        if args.barge_in:
            _wait(lambda: 'lip policy ready' in nodes[-1].output(), 120.0)
        time.sleep(1.0)
        for _ in range(args.runs):
            audio.clear()
            feedback.clear()
            sent = time.time()
            future = client.send_goal_async(
                Say.Goal(text=LONG if args.barge_in else SENTENCE),
                feedback_callback=lambda m: feedback.append(m.feedback))
            _wait(future.done)
            handle = future.result()
            _wait(lambda: audio)
            received, first = audio[0]
            stamp = first.header.stamp.sec + first.header.stamp.nanosec * 1e-9
            run = {'first_published_ms': round((received - sent) * 1000, 1),
                   'first_playback_ms': round((stamp - sent) * 1000, 1)}
            if args.barge_in:
                _wait(lambda: feedback and feedback[-1].seconds_played > 1.0)
                commands.clear()
                cancelled = time.time()
                handle.cancel_goal_async()
            result_future = handle.get_result_async()
            _wait(result_future.done)
            result = result_future.result().result
            if args.barge_in:
                _wait(lambda: any(_at_rest(c, neutral) for _, c in commands), 10.0)
                rest = next(t for t, c in commands if _at_rest(c, neutral))
                run.update(stop_latency_ms=round(result.stop_latency * 1000, 2),
                           lips_rest_ms=round((rest - cancelled) * 1000, 1))
            print(json.dumps(run), flush=True)
            runs.append(run)
            time.sleep(1.0)
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
        for process in nodes:
            process.close()
    summary = {'bench': 'say_latency', 'runs': len(runs), 'barge_in': args.barge_in,
               'rest_silence': args.rest_silence, 'machine': machine}
    for key in runs[0]:
        values = [r[key] for r in runs]
        summary[f'{key}_median'] = float(np.median(values))
        summary[f'{key}_max'] = float(np.max(values))
    summary['target_first_playback_ms'] = 300
    print(json.dumps(summary))
    return 0


def _at_rest(command, neutral):
    return all(abs(p - neutral[n]) <= REST for n, p in zip(command.name, command.position))


if __name__ == '__main__':
    sys.exit(main())
