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

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from lip_policy.testing.fuzzed_audio import audio_chunks, random_chunks


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
LIMITS = {a.name: (a.min, a.max) for a in FACE.lip_actuators}


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
