"""AudioChunks with every field fuzzed, for the tests that flood a node's audio input.

Rates from 0 to 2**32 - 1, 0-255 channels, unknown encodings, both or neither sample array,
NaN/inf/huge samples, lengths from 0 to 20,000, negative and huge stamps, repeated and
jumping sequence numbers. audio_chunks is a hypothesis strategy (edges explored, a failure
shrunk to its smallest message); random_chunks draws many more from a seeded generator.
"""

import array
import math
import time

import numpy as np
from hypothesis import strategies as st

RATES = [0, 1, 3999, 4000, 8000, 16000, 22050, 48000, 384000, 384001, 10**9, 2**32 - 1]
SPECIAL = [math.nan, math.inf, -math.inf, 1e30, -1e30, 0.0, 1.0, -1.0]
SECONDS = [-2**31, -1, 0, 1, 2**31 - 1]
LENGTHS = {0: .1, 1: .1, 160: .27, 320: .27, 441: .12, 882: .12, 20000: .02}


def fill(msg, rng_samples, encoding_array):
    """Put samples into msg's float, int16, both or neither sample arrays."""
    if encoding_array == 'float':
        msg.samples_float32 = array.array('f', np.asarray(rng_samples, np.float32).tobytes())
    elif encoding_array == 'int':
        samples = np.clip(np.nan_to_num(np.asarray(rng_samples, float), posinf=2, neginf=-2),
                          -1.0, 1.0)
        msg.samples_int16 = array.array('h', (samples * 32767).astype(np.int16).tobytes())
    elif encoding_array == 'both':
        fill(msg, rng_samples, 'float')
        fill(msg, rng_samples, 'int')


@st.composite
def audio_chunks(draw):
    """A hypothesis strategy: one AudioChunk with any field at its edges."""
    from face_msgs.msg import AudioChunk

    msg = AudioChunk()
    msg.sample_rate = draw(st.sampled_from(RATES) | st.integers(0, 2**32 - 1))
    msg.channels = draw(st.integers(0, 255))
    msg.encoding = draw(st.integers(0, 255))
    length = draw(st.sampled_from([0, 1, 159, 160, 320, 441, 882, 20000]))
    value = draw(st.sampled_from(SPECIAL) | st.floats(-2, 2))
    fill(msg, np.full(length, value), draw(st.sampled_from(['float', 'int', 'both', 'none'])))
    msg.sequence = draw(st.integers(0, 2**63 - 1))   # rclpy converts through int64
    msg.header.stamp.sec = draw(st.sampled_from(SECONDS + [int(time.time())]))
    msg.header.stamp.nanosec = draw(st.sampled_from([0, 999_999_999]))
    return msg


def random_chunks(count, seed=0, lengths=LENGTHS):
    """count AudioChunks from a seeded generator over the same values (hypothesis draws
    a few ms per message, too slow for ten thousand); lengths: {samples: probability}."""
    from face_msgs.msg import AudioChunk

    rng = np.random.default_rng(seed)
    now = int(time.time())
    for k in range(count):
        msg = AudioChunk()
        msg.sample_rate = int(rng.choice(RATES))
        msg.channels = int(rng.choice([0, 1, 1, 1, 2, 255]))
        msg.encoding = int(rng.choice([0, 0, 1, 1, 2, 255]))
        length = int(rng.choice(list(lengths), p=list(lengths.values())))
        samples = rng.normal(0, 0.3, length)
        if rng.random() < 0.3 and length:
            samples[rng.integers(0, length, 3)] = rng.choice(SPECIAL, 3)
        fill(msg, samples, rng.choice(['float', 'int', 'both', 'none'], p=[.4, .4, .1, .1]))
        msg.sequence = int(rng.choice([k, k, 0, 2**63 - 1, int(rng.integers(0, 2**62))]))
        msg.header.stamp.sec = int(rng.choice(SECONDS + [now] * 4))
        msg.header.stamp.nanosec = int(rng.choice([0, 500_000_000, 999_999_999]))
        yield msg
