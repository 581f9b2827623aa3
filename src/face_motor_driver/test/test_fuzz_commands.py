"""No command stops the face or crosses a limit: FaceCommands with every field fuzzed
(negative and huge times, NaN, infinite and huge positions, unknown, repeated and odd names,
mismatched arrays, any source and priority, arrays of thousands) on each of the driver's two
command topics, over DDS, to a running face_motor_driver_node on the emulated bus. The node
stays up, every joint state it publishes stays inside the limits of config/face_motors.yaml,
and its cycle rate holds within 5 %.

Per topic: HYPOTHESIS_MESSAGES drawn by hypothesis (which explores the edges and shrinks a
failure to its smallest message) and the rest up to MESSAGES by a seeded generator over the
same values (hypothesis draws a few ms per message here, too slow for ten thousand).
"""

import math
import signal
import statistics
import subprocess
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from face_common import graphs
from face_common.waiting import wait_until
from face_motor_driver.face_config import default_face_config_path, load_face_config

pytestmark = [pytest.mark.ros, pytest.mark.realtime]
FACE = load_face_config(default_face_config_path())
MESSAGES = 10_000          # per topic
HYPOTHESIS_MESSAGES = 200  # of them drawn by hypothesis
CYCLE_RATE = 150.0

int32 = st.integers(-2**31, 2**31 - 1)
uint32 = st.integers(0, 2**32 - 1)
uint8 = st.integers(0, 255)
floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e308, -1e308, 5e-324, 0.3, -0.3])
names = st.sampled_from(FACE.names) | st.text(max_size=12)
# Arrays of thousands are drawn whole (hypothesis draws element by element: slow).
HUGE = 5000


@st.composite
def face_commands(draw):
    from face_msgs.msg import FaceCommand

    msg = FaceCommand()
    if draw(st.integers(0, 99)) == 0:
        msg.name = [FACE.names[k % len(FACE.names)] for k in range(HUGE)]
        msg.position = draw(st.sampled_from([[0.1] * HUGE, [math.nan] * HUGE, [0.1]]))
    else:
        msg.name = draw(st.lists(names, max_size=8))
        size = len(msg.name) + draw(st.sampled_from([0, 0, 0, -1, 1]))
        msg.position = draw(st.lists(floats, min_size=max(size, 0), max_size=max(size, 0)))
    msg.max_velocity = draw(st.just([]) | st.lists(floats, max_size=len(msg.name) + 1))
    msg.source, msg.priority = draw(uint8), draw(uint8)
    now = time.time()
    for stamp in (msg.header.stamp, msg.reach_time):
        stamp.sec = draw(int32 | st.just(int(now)) | st.just(0))
        stamp.nanosec = draw(uint32 | st.just(0))
    msg.header.frame_id = draw(st.text(max_size=8))
    return msg


def random_commands(count, seed=0):
    """count FaceCommands over the same values as face_commands, from a seeded generator."""
    import numpy as np

    from face_msgs.msg import FaceCommand

    rng = np.random.default_rng(seed)
    specials = [math.nan, math.inf, -math.inf, 1e308, -1e308, 5e-324, 0.0, -0.0]
    odd_names = ['', ' ', 'jaw_open ', 'JAW_OPEN', 'ünïcødé', 'a' * 300, '\x00', 'jaw_open\n']
    now = int(time.time())
    times = [-2**31, -1, 0, now, now - 5, now + 5, 2**31 - 1]
    for _ in range(count):
        msg = FaceCommand()
        size = int(rng.choice([0, 1, 2, 5, 10, 26, HUGE], p=[.1, .3, .2, .2, .1, .098, .002]))
        pool = list(FACE.names) + odd_names
        msg.name = [pool[i] for i in rng.integers(0, len(pool), size)]
        positions = rng.normal(0, 2, size + int(rng.choice([0, 0, 0, -1, 1])) if size else 0)
        mask = rng.random(len(positions)) < 0.2
        positions[mask] = rng.choice(specials, int(mask.sum()))
        msg.position = positions.tolist()
        if rng.random() < 0.3:
            msg.max_velocity = rng.choice(specials + [1.0, 0.5], len(msg.name)).tolist()
        msg.source, msg.priority = (int(v) for v in rng.integers(0, 256, 2))
        for stamp in (msg.header.stamp, msg.reach_time):
            stamp.sec = int(rng.choice(times))
            stamp.nanosec = int(rng.choice([0, 999_999_999, 1_000_000_000, 2**32 - 1]))
        yield msg


def test_fuzzed_commands_neither_stop_the_face_nor_cross_a_limit(ros_context, tmp_path):
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from sensor_msgs.msg import JointState

    # Its log goes to a file: a pipe nobody reads during the flood fills up with warnings
    # and then blocks the node's logging (and the node with it) until the test ends.
    log = tmp_path / 'driver.log'
    with open(log, 'w') as out:
        driver = subprocess.Popen(
            graphs.command(graphs.node('face_motor_driver_node',
                                       {'port': 'sim', 'cycle_rate': CYCLE_RATE,
                                        'diagnostics_rate': 2.0}, params_file=False)),
            stdout=out, stderr=subprocess.STDOUT)
    node = rclpy.create_node('fuzz_commands', context=ros_context)
    crossed, rates, states = [], [], [0]
    limits = {a.name: (a.min, a.max) for a in FACE.actuators}

    def on_state(msg):
        states[0] += 1
        for name, position in zip(msg.name, msg.position):
            low, high = limits[name]
            if not (math.isnan(position) or low - 1e-3 <= position <= high + 1e-3):
                crossed.append((name, position))

    def on_diagnostics(msg):
        for status in msg.status:
            if status.name == 'face_motor_driver: bus':
                rates.append((time.monotonic(), float(next(
                    v.value for v in status.values if v.key == 'cycle_hz'))))
    try:
        executor = rclpy.executors.SingleThreadedExecutor(context=ros_context)
        executor.add_node(node)
        node.create_subscription(JointState, 'face/joint_states', on_state, 100)
        node.create_subscription(DiagnosticArray, '/diagnostics', on_diagnostics, 10)
        qos = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
        from face_msgs.msg import FaceCommand
        topics = [node.create_publisher(FaceCommand, f'face/{t}_command', qos)
                  for t in ('lip', 'expression')]
        wait_until(lambda: len(rates) >= 3, 60, 'three bus statuses of the new driver',
                   interval=0, step=lambda: executor.spin_once(timeout_sec=0.05))
        started = time.monotonic()
        sent = [0]

        def publish(msg):
            topics[sent[0] % 2].publish(msg)
            sent[0] += 1
            executor.spin_once(timeout_sec=0)
            if sent[0] % 20 == 0:
                executor.spin_once(timeout_sec=0.002)   # pace: the queues are 10 deep

        settings(max_examples=2 * HYPOTHESIS_MESSAGES, deadline=None, database=None,
                 derandomize=True, suppress_health_check=list(HealthCheck))(
            given(face_commands())(publish))()
        for msg in random_commands(2 * MESSAGES - sent[0]):
            publish(msg)
        during = [hz for t, hz in rates if t > started + 1.0]
        # the driver still cycles after the flood: 100 more joint states
        count = states[0]
        wait_until(lambda: states[0] >= count + 100 or driver.poll() is not None, 30,
                   lambda: f'100 joint states after the fuzzed commands (came '
                   f'{states[0] - count}); the node said: {log.read_text()[-2000:]}', interval=0,
                   step=lambda: executor.spin_once(timeout_sec=0.02))
        assert driver.poll() is None, 'the fuzzed commands took the driver down'
        assert sent[0] >= 2 * MESSAGES * 0.95
        assert crossed == [], f'limits crossed: {crossed[:5]}'
        assert states[0] > 100
        print(f'{sent[0]} commands in {time.monotonic() - started:.0f} s; cycle rate '
              f'{min(during, default=math.nan):.1f}-{max(during, default=math.nan):.1f} Hz '
              f'during (set {CYCLE_RATE:g})')
        # the node's own 1 s windows; their median (one window may meet someone else's load)
        assert during and abs(statistics.median(during) - CYCLE_RATE) <= 0.05 * CYCLE_RATE, \
            during
    finally:
        node.destroy_node()
        if driver.poll() is None:
            driver.send_signal(signal.SIGINT)
            try:
                driver.wait(timeout=15)
            except subprocess.TimeoutExpired:
                driver.kill()
                driver.wait()
    assert driver.returncode == 0, log.read_text()[-3000:]
