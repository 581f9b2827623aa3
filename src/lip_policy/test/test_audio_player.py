"""The audio player streams a clip onto /audio in real time, whole and correctly stamped."""

import subprocess
import time

import numpy as np
import pytest
import soundfile

from face_common import graphs
from lip_policy.audio_clip import AudioClipError, load_audio_file, speak, split_into_chunks


def _tone(path, seconds=0.5, rate=16000, channels=1):
    t = np.arange(int(seconds * rate)) / rate
    samples = np.stack([0.5 * np.sin(2 * np.pi * 220 * (c + 1) * t) for c in range(channels)], 1)
    soundfile.write(str(path), samples.astype(np.float32), rate, subtype='FLOAT')
    return samples.astype(np.float32)


def test_chunks_hold_every_sample_once(tmp_path):
    samples = _tone(tmp_path / 'tone.wav', seconds=0.105, channels=2)
    clip = load_audio_file(tmp_path / 'tone.wav')
    assert (clip.sample_rate, clip.channels) == (16000, 2)
    chunks = split_into_chunks(clip, 0.02)
    assert [start for start, _ in chunks] == list(range(0, 1680, 320))
    np.testing.assert_array_equal(np.concatenate([c for _, c in chunks]), samples)


def test_bad_audio_files_give_clear_errors(tmp_path):
    with pytest.raises(AudioClipError, match='does not exist'):
        load_audio_file(tmp_path / 'missing.wav')
    (tmp_path / 'junk.wav').write_bytes(b'RIFF\x00\x00not really a wave file')
    with pytest.raises(AudioClipError, match='cannot read'):
        load_audio_file(tmp_path / 'junk.wav')
    soundfile.write(str(tmp_path / 'empty.wav'), np.zeros((0, 1), np.float32), 16000)
    with pytest.raises(AudioClipError, match='no audio'):
        load_audio_file(tmp_path / 'empty.wav')
    nan = np.full((100, 1), np.nan, np.float32)
    soundfile.write(str(tmp_path / 'nan.wav'), nan, 16000, subtype='FLOAT')
    with pytest.raises(AudioClipError, match='NaN'):
        load_audio_file(tmp_path / 'nan.wav')


def test_espeak_text_becomes_a_clip():
    clip = speak('hello there', voice='en')
    assert clip.channels == 1 and 0.4 < clip.duration < 3.0
    assert np.abs(clip.samples).max() > 0.05


@pytest.mark.ros
@pytest.mark.parametrize('encoding, lookahead', [('float32', 0.0), ('int16', 0.3)])
@pytest.mark.realtime
def test_player_streams_the_clip_in_real_time(ros_context, tmp_path, encoding, lookahead):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.qos import qos_profile_sensor_data

    from face_msgs.checks import check_audio_chunk
    from face_msgs.msg import AudioChunk

    samples = _tone(tmp_path / 'tone.wav', seconds=0.6)
    node = rclpy.create_node('audio_listener', context=ros_context)
    executor = SingleThreadedExecutor(context=ros_context)
    executor.add_node(node)
    received = []
    node.create_subscription(
        AudioChunk, 'audio', lambda m: received.append((time.time(), m)),
        qos_profile_sensor_data)
    player = subprocess.Popen(graphs.command(graphs.node('audio_player_node', {
        'file': tmp_path / 'tone.wav', 'chunk_duration': 0.02, 'encoding': encoding,
        'lookahead': lookahead, 'wait_for_subscribers': 1, 'start_delay': 0.3,
        'exit_when_done': True}, params_file=False)))
    try:
        deadline = time.monotonic() + 20
        while len(received) < 30 and time.monotonic() < deadline:
            executor.spin_once(timeout_sec=0.05)
        assert player.wait(timeout=10) == 0
    finally:
        if player.poll() is None:
            player.kill()
            player.wait()
        node.destroy_node()
    assert [m.sequence for _, m in received] == list(range(30))
    for _, m in received:
        check_audio_chunk(m)
    if encoding == 'float32':
        audio = np.concatenate([np.asarray(m.samples_float32) for _, m in received])
        np.testing.assert_allclose(audio, samples[:, 0], atol=1e-7)
    else:
        audio = np.concatenate([np.asarray(m.samples_int16) for _, m in received]) / 32767
        np.testing.assert_allclose(audio, samples[:, 0], atol=1e-4)
    stamps = np.array([m.header.stamp.sec + m.header.stamp.nanosec * 1e-9 for _, m in received])
    np.testing.assert_allclose(np.diff(stamps), 0.02, atol=1e-6)
    # Each chunk arrives about `lookahead` before the time it is stamped to play.
    lead = stamps - np.array([t for t, _ in received])
    assert np.median(lead) == pytest.approx(lookahead, abs=0.03)
