"""Training-time augmentation keeps clips usable; level-invariant features stream exactly."""

import numpy as np
import pytest

from lip_policy import augment, train
from lip_policy.features import FeatureConfig, LogMel


def _speechlike(seconds=2.0, seed=2):
    t = np.arange(int(seconds * 16000)) / 16000
    rng = np.random.default_rng(seed)
    voiced = np.sin(2 * np.pi * 3 * t) > 0
    return ((0.3 * np.sin(2 * np.pi * 150 * t) + 0.1 * np.sin(2 * np.pi * 900 * t)) * voiced
            + 0.01 * rng.normal(size=t.shape)).astype(np.float32)


def test_peak_features_ignore_the_level_and_stream_like_whole_clips():
    log_mel = LogMel(FeatureConfig(level='peak'))
    audio = _speechlike()
    whole = log_mel(audio)
    for gain in (0.03, 0.3, 3.0):
        np.testing.assert_allclose(log_mel(audio * gain), whole, atol=1e-3)
    stream = log_mel.stream()
    rng = np.random.default_rng(0)
    pieces, i = [], 0
    while i < len(audio):
        n = int(rng.integers(1, 900))
        pieces.append(stream.push(audio[i:i + n]))
        i += n
    np.testing.assert_allclose(np.concatenate(pieces), whole, atol=1e-4)
    # The old features still follow the level (models trained on them load unchanged).
    absolute = LogMel(FeatureConfig())
    assert np.abs(absolute(audio * 0.1) - absolute(audio)).max() > 1.0


def test_noise_is_added_at_the_asked_snr():
    audio = _speechlike()
    rng = np.random.default_rng(1)
    for kind in augment.NOISES:
        noisy = augment.add_noise(audio, 10.0, kind, rng, voices=[_speechlike(1.3, 5)] * 3)
        noise = noisy - audio
        snr = 10 * np.log10(augment.active_power(audio) / np.mean(noise ** 2))
        assert abs(snr - 10.0) < 0.01, kind


def test_every_step_keeps_length_finite_and_in_range():
    audio = _speechlike()
    rng = np.random.default_rng(3)
    outputs = {
        'formant': augment.formant_warp(audio, 1.15),
        'reverb': augment.reverberate(audio, 0.6, 3.0, rng),
        'telephone': augment.telephone(audio),
        'laptop': augment.laptop_microphone(audio, rng),
        'mu-law': augment.mu_law(audio),
        'clip': augment.clip(audio, 0.3),
    }
    for name, out in outputs.items():
        assert out.shape == audio.shape and np.isfinite(out).all(), name
    assert np.abs(outputs['mu-law'] - audio).max() < 0.02
    # telephone: the 150 Hz voice is mostly gone (4th-order band edge at 300 Hz)
    freqs = np.fft.rfftfreq(len(audio), 1 / 16000)

    def low_share(x):
        spectrum = np.abs(np.fft.rfft(x)) ** 2
        return spectrum[freqs < 200].sum() / spectrum.sum()
    assert low_share(outputs['telephone']) < 0.05 * low_share(audio)


@pytest.mark.skipif(augment.ffmpeg_binary() is None, reason='no ffmpeg (imageio-ffmpeg)')
def test_codec_round_trips_stay_aligned():
    audio = _speechlike()
    for codec, kbps in (('mp3', 32), ('opus', 16)):
        out = augment.codec_round_trip(audio, codec, kbps)
        assert out.shape == audio.shape
        assert np.corrcoef(out, audio)[0, 1] > 0.9, codec  # not shifted by the codec delay


def test_speed_changes_audio_and_lips_together():
    audio = _speechlike()
    lips = np.cumsum(np.ones((len(audio) // 160, 40, 3)), axis=0)
    valid = np.ones(len(lips), bool)
    faster = augment.speed_and_pitch(audio, 1.2, 2.0)
    assert abs(len(faster) - len(audio) / 1.2) < 400
    new_lips, new_valid = augment.resample_lips(lips, valid, 1.2, len(faster) // 160)
    assert len(new_lips) == len(new_valid) == len(faster) // 160
    np.testing.assert_allclose(new_lips[10, 0, 0], lips[12, 0, 0])


def test_augmenter_chains_are_random_but_reproducible():
    audio = _speechlike()
    lips = np.zeros((len(audio) // 160, 40, 3))
    valid = np.ones(len(lips), bool)
    augmenter = augment.Augmenter(voices=[_speechlike(1.0, 7)], codecs=False)
    chains = set()
    for seed in range(12):
        out, new_lips, new_valid, steps = augmenter.apply(audio, lips, valid,
                                                          np.random.default_rng(seed))
        again = augmenter.apply(audio, lips, valid, np.random.default_rng(seed))[0]
        np.testing.assert_array_equal(out, again)
        assert abs(len(out) // 160 - len(new_lips)) <= 1 and len(new_lips) == len(new_valid)
        assert np.isfinite(out).all() and np.abs(out).max() <= 1.0
        chains.add(tuple(s.split()[0] for s in steps))
    assert len(chains) > 6


def test_conditions_are_fixed_per_clip():
    audio = _speechlike()
    noisy = augment.condition('noise20')
    np.testing.assert_array_equal(noisy(audio, 'a'), noisy(audio, 'a'))
    assert not np.array_equal(noisy(audio, 'a'), noisy(audio, 'b'))
    assert set(augment.CONDITIONS) == {'clean', 'noise20', 'noise10', 'reverb', 'telephone'}


def test_training_with_augmentation_uses_level_invariant_features(tiny_corpus, tmp_path):
    from lip_policy.predictor import load_checkpoint

    out = tmp_path / 'aug.pt'
    summary = train.train([tiny_corpus], out, train_config=train.TrainConfig(
        epochs=2, batch_clips=4, augment=True, augment_workers=1), progress=False)
    assert summary['train_config']['augment'] and summary['epochs_run'] == 2
    assert load_checkpoint(out)[2].level == 'peak'
