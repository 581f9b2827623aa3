"""The MP4 writer: H.264/AAC files that read back with the right frames and audio."""

import numpy as np
import pytest

from face_common.video import VideoError, probe_video, read_audio, write_video


def frames(count, width=64, height=48):
    for i in range(count):
        frame = np.zeros((height, width, 3), np.uint8)
        frame[:, : (i * 7) % width] = (200, 60, 30)     # a bar that moves frame by frame
        yield frame


def test_frames_and_audio_read_back(tmp_path):
    path = tmp_path / 'talk.mp4'
    rate = 16000
    audio = 0.3 * np.sin(2 * np.pi * 220 * np.arange(rate) / rate)   # 1 s
    assert write_video(path, frames(30), fps=30, audio=audio, sample_rate=rate) == 30
    info = probe_video(path)
    assert info['frames'] == 30
    assert (info['width'], info['height']) == (64, 48)
    assert info['fps'] == pytest.approx(30.0)
    assert info['video_codec'] == 'h264' and info['pixel_format'] == 'yuv420p'
    assert info['has_audio'] and info['audio_codec'] == 'aac'
    heard = read_audio(path, rate)
    assert abs(len(heard) - rate) < 0.05 * rate          # AAC pads a few ms
    spectrum = np.abs(np.fft.rfft(heard))
    assert np.argmax(spectrum) * rate / len(heard) == pytest.approx(220, abs=3)
    assert 0.25 < np.abs(heard).max() < 0.35


def test_video_without_audio_has_no_audio_stream(tmp_path):
    path = tmp_path / 'silent.mp4'
    write_video(path, frames(5))
    info = probe_video(path)
    assert info['frames'] == 5 and not info['has_audio']
    with pytest.raises(VideoError, match='audio stream'):
        read_audio(path)


@pytest.mark.parametrize('bad, match', [
    (lambda: [np.zeros((47, 64, 3), np.uint8)], 'even'),
    (lambda: [], 'no frames'),
    (lambda: [np.zeros((48, 64), np.uint8)], r'\(H, W, 3\)'),
    (lambda: [np.zeros((48, 64, 3), np.uint8), np.zeros((50, 64, 3), np.uint8)], 'one size'),
])
def test_bad_frames_are_refused_and_leave_no_file(tmp_path, bad, match):
    path = tmp_path / 'bad.mp4'
    with pytest.raises(VideoError, match=match):
        write_video(path, bad())
    assert list(tmp_path.iterdir()) == []


def test_bad_audio_is_refused(tmp_path):
    with pytest.raises(VideoError, match='NaN'):
        write_video(tmp_path / 'a.mp4', frames(3), audio=np.array([0.0, np.nan]),
                    sample_rate=16000)
    with pytest.raises(VideoError, match='sample_rate'):
        write_video(tmp_path / 'a.mp4', frames(3), audio=np.zeros(10))
    assert not (tmp_path / 'a.mp4').exists()


def test_missing_or_corrupt_video_is_a_clear_error(tmp_path):
    with pytest.raises(VideoError, match='no video'):
        probe_video(tmp_path / 'absent.mp4')
    corrupt = tmp_path / 'corrupt.mp4'
    corrupt.write_bytes(b'not a video at all')
    with pytest.raises(VideoError, match='not a readable video'):
        probe_video(corrupt)
