"""No audio stops the lips: 10,000 AudioChunks with every field fuzzed (rates from 0 to 1e9,
0-255 channels, unknown encodings, both or neither sample array, NaN/inf/huge samples,
lengths from 0 to 20,000, negative and huge stamps, repeated and jumping sequence numbers)
over DDS to a running lip_policy_node (small real models). The node stays up, every command
it publishes is finite and inside the lip actuators' limits, and afterwards it still turns
a clean voice into lip motion.

HYPOTHESIS_MESSAGES are drawn by hypothesis (edges explored, a failure shrunk to its
smallest message), the rest by a seeded generator over the same values (hypothesis draws a
few ms per message here, too slow for ten thousand).
"""

import array
import importlib.util
import math
import os
import pathlib
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st


def _graph_helpers():
    # The node processes and the probe of test_policy_node (tests import in importlib mode).
    path = pathlib.Path(__file__).with_name('test_policy_node.py')
    spec = importlib.util.spec_from_file_location('policy_graph_helpers', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_helpers = _graph_helpers()
FACE, Probe, policy_spec, processes = (_helpers.FACE, _helpers.Probe, _helpers.policy_spec,
                                       _helpers.processes)
pytestmark = pytest.mark.ros
MESSAGES = int(os.environ.get('FUZZ_MESSAGES', 10_000))
HYPOTHESIS_MESSAGES = 200
RATES = [0, 1, 3999, 4000, 8000, 16000, 22050, 48000, 384000, 384001, 10**9, 2**32 - 1]
SPECIAL = [math.nan, math.inf, -math.inf, 1e30, -1e30, 0.0, 1.0, -1.0]
SECONDS = [-2**31, -1, 0, 1, 2**31 - 1]
LIMITS = {a.name: (a.min, a.max) for a in FACE.lip_actuators}


def _fill(msg, rng_samples, encoding_array):
    if encoding_array == 'float':
        msg.samples_float32 = array.array('f', np.asarray(rng_samples, np.float32).tobytes())
    elif encoding_array == 'int':
        samples = np.clip(np.nan_to_num(np.asarray(rng_samples, float), posinf=2, neginf=-2),
                          -1.0, 1.0)
        msg.samples_int16 = array.array('h', (samples * 32767).astype(np.int16).tobytes())
    elif encoding_array == 'both':
        _fill(msg, rng_samples, 'float')
        _fill(msg, rng_samples, 'int')


@st.composite
def audio_chunks(draw):
    from face_msgs.msg import AudioChunk

    msg = AudioChunk()
    msg.sample_rate = draw(st.sampled_from(RATES) | st.integers(0, 2**32 - 1))
    msg.channels = draw(st.integers(0, 255))
    msg.encoding = draw(st.integers(0, 255))
    length = draw(st.sampled_from([0, 1, 159, 160, 320, 441, 882, 20000]))
    value = draw(st.sampled_from(SPECIAL) | st.floats(-2, 2))
    _fill(msg, np.full(length, value), draw(st.sampled_from(['float', 'int', 'both', 'none'])))
    msg.sequence = draw(st.integers(0, 2**63 - 1))   # rclpy converts through int64
    msg.header.stamp.sec = draw(st.sampled_from(SECONDS + [int(time.time())]))
    msg.header.stamp.nanosec = draw(st.sampled_from([0, 999_999_999]))
    return msg


def random_chunks(count, seed=0):
    from face_msgs.msg import AudioChunk

    rng = np.random.default_rng(seed)
    now = int(time.time())
    for k in range(count):
        msg = AudioChunk()
        msg.sample_rate = int(rng.choice(RATES))
        msg.channels = int(rng.choice([0, 1, 1, 1, 2, 255]))
        msg.encoding = int(rng.choice([0, 0, 1, 1, 2, 255]))
        length = int(rng.choice([0, 1, 160, 320, 441, 882, 20000],
                                p=[.1, .1, .27, .27, .12, .12, .02]))
        samples = rng.normal(0, 0.3, length)
        if rng.random() < 0.3 and length:
            samples[rng.integers(0, length, 3)] = rng.choice(SPECIAL, 3)
        _fill(msg, samples, rng.choice(['float', 'int', 'both', 'none'], p=[.4, .4, .1, .1]))
        msg.sequence = int(rng.choice([k, k, 0, 2**63 - 1, int(rng.integers(0, 2**62))]))
        msg.header.stamp.sec = int(rng.choice(SECONDS + [now] * 4))
        msg.header.stamp.nanosec = int(rng.choice([0, 500_000_000, 999_999_999]))
        yield msg


@pytest.mark.realtime
def test_fuzzed_audio_neither_stops_nor_misdrives_the_lips(ros_context, models):
    import rclpy.duration

    from face_msgs.msg import AudioChunk

    probe = Probe(ros_context)
    try:
        with processes(policy_spec(models, max_chunk_duration=0.5)) as nodes:
            assert probe.spin(30, lambda: probe.audio.get_subscription_count() > 0, nodes)
            sent = [0]

            def publish(msg):
                probe.audio.publish(msg)
                sent[0] += 1
                if sent[0] % 10 == 0:
                    probe.spin(0.002, nodes=nodes)   # the reliable queue holds 256

            settings(max_examples=HYPOTHESIS_MESSAGES, deadline=None, database=None,
                     derandomize=True, suppress_health_check=list(HealthCheck))(
                given(audio_chunks())(publish))()
            for msg in random_chunks(MESSAGES - sent[0]):
                publish(msg)
            assert sent[0] >= 0.95 * MESSAGES
            # the node takes what is queued (the reliable history of 256 may drop some of a
            # flood this fast), then still hears a clean voice
            def heard():
                values = probe.health_values()
                return int(values['chunks_received']) + int(values['chunks_rejected'])
            counts = []
            assert probe.spin(60, lambda: probe.health and (
                counts.append(heard()) or len(counts) > 150 and counts[-1] == counts[-150]),
                nodes), 'the node did not settle'
            values = probe.health_values()
            print(f'{sent[0]} chunks sent, {values}')
            assert heard() >= 0.5 * sent[0], values
            assert int(values['chunks_rejected']) > 0.3 * sent[0], values
            before = len(probe.commands)
            t = np.arange(320) / 16000
            voice = 0.3 * np.sin(2 * np.pi * 180 * t) * (1 + np.sin(2 * np.pi * 4 * t))
            start = probe.node.get_clock().now() + rclpy.duration.Duration(seconds=0.5)
            for k in range(60):
                msg = AudioChunk(sample_rate=16000, channels=1, sequence=10**6 + k)
                msg.samples_float32 = array.array('f', voice.astype(np.float32).tobytes())
                msg.header.stamp = (start + rclpy.duration.Duration(seconds=0.02 * k)).to_msg()
                probe.audio.publish(msg)
                probe.spin(0.02, nodes=nodes)
            assert probe.spin(5, lambda: len(probe.commands) > before + 30, nodes), \
                'a clean voice after the fuzz moved no lips'
            for node in nodes:
                node.check_running()
    finally:
        probe.close()
    for _, command in probe.commands:
        for name, position in zip(command.name, command.position):
            low, high = LIMITS[name]
            assert math.isfinite(position) and low - 1e-9 <= position <= high + 1e-9, \
                (name, position)
