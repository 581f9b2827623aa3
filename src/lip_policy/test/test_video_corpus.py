"""lip-corpus video on videos the project renders itself (face_sim driven by the teacher)."""

import json

import numpy as np
import pytest

from face_bringup.testing import teacher_video
from face_common.frames import FRAME_RATE, HOP
from lip_policy import cli, corpus, video_corpus


@pytest.fixture(scope='module')
def teacher_video_file(tiny_corpus, tmp_path_factory):
    clip = corpus.load_corpus(tiny_corpus, languages=['en'])[0]
    n = int(1.6 * FRAME_RATE)  # 1.6 s keeps rendering and observing quick
    path = tmp_path_factory.mktemp('video') / 'talking.mp4'
    teacher_video.render_clip(path, clip.audio[:n * HOP], clip.lips[:n])
    return path, clip.lips[:n]


def test_video_lips_match_the_teacher_within_tolerance(teacher_video_file, tmp_path, capsys):
    path, teacher_lips = teacher_video_file
    out = tmp_path / 'corpus'
    assert cli.corpus_main(['video', str(path), '--out', str(out), '--language', 'en']) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report['written'] == ['video_talking'] and report['skipped'] == []
    clip = corpus.load_corpus(out)[0]
    assert clip.info['kind'] == 'video' and clip.info['language'] == 'en'
    assert len(clip.audio) == pytest.approx(len(teacher_lips) * HOP, abs=2 * 160)
    assert clip.valid.mean() > 0.95
    # Stated tolerance (README): opening correlation >= 0.9, |sync| <= 20 ms, lip error after
    # removing the constant rendering bias <= 0.08 mouth widths.
    frames = min(len(clip.lips), len(teacher_lips))
    match = teacher_video.compare(clip.lips[:frames], clip.valid[:frames], teacher_lips)
    assert match['mouth_open_pcc'] >= 0.9
    assert abs(match['sync_offset_ms']) <= 20
    assert match['lip_error'] <= 0.08


def test_bad_videos_are_reported_and_skipped(teacher_video_file, tmp_path):
    path, _ = teacher_video_file
    garbage = tmp_path / 'garbage.mp4'
    garbage.write_bytes(b'\x00not a video' * 100)
    silent = tmp_path / 'silent.mp4'
    from face_common.video import write_video

    write_video(silent, [np.full((64, 64, 3), 128, np.uint8)] * 5, fps=10.0)
    report = video_corpus.build([garbage, silent, tmp_path / 'absent.mp4', path],
                                tmp_path / 'corpus', progress=False)
    reasons = {pathlib_name(s['file']): s['reason'] for s in report['skipped']}
    assert report['written'] == ['video_talking']
    assert set(reasons) == {'garbage.mp4', 'silent.mp4', 'absent.mp4'}
    assert 'no audio' in reasons['silent.mp4'] and 'no such file' in reasons['absent.mp4']
    assert cli.corpus_main(['video', str(garbage), '--out', str(tmp_path / 'empty')]) == 1


def test_frames_without_a_face_are_marked_invalid():
    times = np.arange(5) / 25.0
    lips = np.random.default_rng(0).normal(size=(5, 40, 3))
    detected = np.array([True, True, False, True, True])
    out, valid = video_corpus.resample_lips(times, lips, detected, 20)
    assert valid[:4].all() and not valid[5:12].any() and valid[12:17].all()
    assert np.isnan(out[~valid]).all() and np.isfinite(out[valid]).all()
    np.testing.assert_allclose(out[2], 0.5 * lips[0] + 0.5 * lips[1])


def pathlib_name(text):
    return text.replace('\\', '/').rsplit('/', 1)[-1]
