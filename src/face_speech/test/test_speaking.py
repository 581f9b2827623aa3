"""SpeechJob on the null output: stamps, synthesis ahead, stop, errors."""

import math
import threading
import time

import numpy as np
import pytest

from face_speech.output import NullOutput
from face_speech.speaking import SpeechJob, resample
from face_speech.tts import TtsError

RATE = 8000


def tone(seconds):
    return (0.5 * np.sin(np.arange(int(seconds * RATE)) * 0.3)).astype(np.float32)


def job_of(pieces, output, published, lead_in=0.05, slow=0.0):
    def produce(index, stop):
        time.sleep(slow)
        if isinstance(pieces[index], Exception):
            raise pieces[index]
        return pieces[index]

    def publish(stamp, samples):
        published.append((time.time(), stamp, len(samples)))

    return SpeechJob([f'piece {i}' for i in range(len(pieces))], produce, output, publish,
                     chunk_duration=0.02, lead_in=lead_in)


def test_pieces_play_back_to_back_published_ahead_after_the_lead_in():
    output, published = NullOutput(RATE, buffer=0.06), []
    job = job_of([tone(0.2), tone(0.1), tone(0.15)], output, published, slow=0.02)
    began = output.now()
    outcome = job.run()
    stamps = np.array([s for _, s, _ in published])
    sizes = np.array([n for _, _, n in published])
    assert outcome.completed and outcome.pieces_played == 3 and not outcome.error
    assert sizes.sum() == int(0.45 * RATE)
    assert np.allclose(np.diff(stamps), sizes[:-1] / RATE, atol=1e-6)  # no gap, no overlap
    assert stamps[0] - began >= 0.05 - 1e-6  # the lead-in
    # every block published before it plays (first ones by the lead-in)
    assert all(stamp >= sent - 0.002 for sent, stamp, _ in published)
    assert outcome.seconds_played == pytest.approx(0.45, abs=0.003)
    assert math.isnan(outcome.stop_latency) and output.underruns == 0
    assert output.now() >= stamps[-1] + sizes[-1] / RATE - 1e-6  # run() waits for the end


def test_stop_silences_within_50_ms_and_nothing_is_published_after_it():
    output, published = NullOutput(RATE, buffer=0.1, period=0.005), []
    job = job_of([tone(1.0), tone(1.0)], output, published)
    done = []
    runner = threading.Thread(target=lambda: done.append(job.run()))
    runner.start()
    time.sleep(0.3)
    stopped_at = job.stop('cancelled (barge-in)')
    count = len(published)
    runner.join(timeout=2.0)
    outcome = done[0]
    assert not outcome.completed and outcome.stop_reason == 'cancelled (barge-in)'
    # one output period (5 ms) on a quiet machine; the barge-in budget (50 ms) on a busy one
    assert 0 <= outcome.stop_latency <= 0.05
    assert len(published) == count
    assert outcome.pieces_played == 0
    assert outcome.seconds_played == pytest.approx(stopped_at - published[0][1], abs=1e-6)
    # nothing is left in the DAC beyond the period being played when the stop came
    assert output.end_time() <= output.now() + output.period + 1e-6
    assert job.stop('again') is None


def test_a_failed_piece_ends_the_job_with_what_played_before_it():
    output, published = NullOutput(RATE, buffer=0.05), []
    job = job_of([tone(0.1), TtsError('the engine broke'), tone(0.1)], output, published)
    outcome = job.run()
    assert not outcome.completed and outcome.pieces_played == 1
    assert 'piece 2 of 3' in outcome.error and 'the engine broke' in outcome.error
    assert sum(n for *_, n in published) == int(0.1 * RATE)


def test_progress_counts_pieces_as_they_finish_playing():
    output, published = NullOutput(RATE, buffer=0.05), []
    job = job_of([tone(0.1), tone(0.1)], output, published)
    seen = []
    job.run(report=lambda: seen.append(job.progress()))
    assert seen[0].pieces_done == 0 and seen[-1].pieces_done == 2
    assert {p.pieces_total for p in seen} == {2}
    assert [p.pieces_done for p in seen] == sorted(p.pieces_done for p in seen)
    assert seen[-1].seconds_ready == pytest.approx(0.2)


def test_resample_keeps_duration_and_pitch():
    x = np.sin(2 * np.pi * 440 * np.arange(22050) / 22050).astype(np.float32)
    y = resample(x, 22050, 16000)
    assert len(y) == 16000
    assert np.argmax(np.abs(np.fft.rfft(y))) == 440
