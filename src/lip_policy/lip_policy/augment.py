"""Training-time audio augmentation: the voices, rooms and microphones the robot will hear.

`Augmenter.apply(audio, lips, valid, rng)` draws one random chain per call. Each step runs
with its probability (PROBABILITY) and draws its setting from the range below; only the
speed step changes timing, and it resamples the lip targets with the audio.

Steps, in order (constants below hold the ranges):
- speed: phase-vocoder time stretch, pitch kept; lips resampled in time. SPEED_RANGE x.
- pitch: resampling (moves pitch and formants); the vocoder restores the timing.
  PITCH_RANGE semitones.
- formant (vocal-tract length): the spectral envelope (the first LIFTER cepstral
  coefficients of each STFT frame) warped in frequency, pitch kept. FORMANT_RANGE x.
- reverb: a synthetic room impulse response (direct sound, sparse early reflections, an
  exponentially decaying noise tail). RT60_RANGE s, DRR_RANGE_DB dB direct-to-reverberant.
- noise: fan (low-passed, slowly modulated noise with a hum), babble (3-6 other training
  clips summed) or music (synthetic chords of harmonic tones). SNR_RANGE_DB dB SNR against
  the speech's active level.
- band: telephone (300-3400 Hz through 8 kHz sampling) or a laptop microphone (high-pass
  150-400 Hz, a +3..+9 dB resonance at 2-5 kHz, low-pass 5-7.5 kHz).
- codec: mu-law 8 bit, MP3 (MP3_KBPS kbit/s) or Opus (OPUS_KBPS kbit/s) through the ffmpeg
  bundled with imageio-ffmpeg (mu-law only when there is none).
- clipping: hard clipping at CLIP_RANGE of the peak.
- loudness: an overall gain of GAIN_RANGE_DB dB (whatever then exceeds full scale clips).

`CONDITIONS` are the fixed degradations lip-eval scores on (`--condition`): noise20 and
noise10 (each clip gets one of the three noises at exactly 20 / 10 dB), reverb (RT60 0.6 s),
telephone; seeded by the clip id, so every system and model hears the same audio.
"""

import shutil
import subprocess
import zlib

import numpy as np
import scipy.signal

SAMPLE_RATE = 16000  # [Hz]
SPEED_RANGE = (0.85, 1.2)  # time-stretch factor (> 1 is faster)
PITCH_RANGE = (-4.0, 4.0)  # [semitones]
FORMANT_RANGE = (0.85, 1.18)  # envelope frequency factor (> 1: a shorter vocal tract)
SNR_RANGE_DB = (10.0, 30.0)
RT60_RANGE = (0.2, 0.9)  # [s] reverberation time
DRR_RANGE_DB = (-3.0, 10.0)  # direct-to-reverberant energy ratio
MP3_KBPS = (24, 32, 48, 64)
OPUS_KBPS = (12, 16, 24, 32)
CLIP_RANGE = (0.15, 0.6)  # clipping level as a fraction of the clip's peak
GAIN_RANGE_DB = (-30.0, 0.0)
LIFTER = 30  # cepstral coefficients that make the spectral envelope (< 1.9 ms quefrency)
PROBABILITY = {'speed': 0.4, 'pitch': 0.4, 'formant': 0.4, 'noise': 0.5, 'reverb': 0.3,
               'band': 0.25, 'codec': 0.2, 'clipping': 0.1, 'loudness': 1.0}
NOISES = ('fan', 'babble', 'music')
CHORDS = ((0, 4, 7), (0, 3, 7), (0, 4, 7, 11), (0, 5, 9), (0, 3, 7, 10))  # [semitones]
N_FFT, STFT_HOP = 512, 128


class AugmentError(RuntimeError):
    """An augmentation cannot run (e.g. no ffmpeg for a codec round trip)."""


# ---------------------------------------------------------------- timing and voice

def time_stretch(audio, rate):
    """Phase-vocoder stretch: rate > 1 is faster; the pitch is kept."""
    import librosa

    if abs(rate - 1.0) < 1e-3 or len(audio) < N_FFT:
        return audio
    return librosa.effects.time_stretch(audio, rate=rate, n_fft=N_FFT, hop_length=STFT_HOP)


def resample(audio, factor):
    """Resample to len / factor samples: played at the same rate, everything is `factor`
    higher and faster."""
    up, down = _ratio(factor)
    return scipy.signal.resample_poly(audio, up, down).astype(np.float32)


def _ratio(factor, denominator=200):
    up = max(int(round(denominator / factor)), 1)
    g = np.gcd(up, denominator)
    return up // g, denominator // g


def speed_and_pitch(audio, speed=1.0, semitones=0.0):
    """Speed factor (timing) and pitch shift [semitones] (pitch and formants) together: one
    resampling, one phase-vocoder stretch. The result has len(audio) / speed samples."""
    pitch = 2.0 ** (semitones / 12.0)
    if abs(pitch - 1.0) > 1e-3:
        up, down = _ratio(pitch)
        audio = resample(audio, pitch)
        pitch = down / up  # the factor the integer ratio really gave
    return time_stretch(audio, speed / pitch).astype(np.float32)


def formant_warp(audio, factor):
    """Vocal-tract length warping: the spectral envelope moves `factor` up in frequency, the
    harmonics (pitch) stay. The envelope is the liftered real cepstrum of each STFT frame."""
    import librosa

    if abs(factor - 1.0) < 1e-3 or len(audio) < N_FFT:
        return audio
    spec = librosa.stft(audio, n_fft=N_FFT, hop_length=STFT_HOP)  # (bins, frames)
    log_mag = np.log(np.abs(spec) + 1e-8)
    cepstrum = np.fft.irfft(log_mag, n=N_FFT, axis=0)
    cepstrum[LIFTER:N_FFT - LIFTER + 1] = 0.0
    envelope = np.fft.rfft(cepstrum, axis=0).real  # (bins, frames)
    bins = np.arange(envelope.shape[0])
    source = np.clip(bins / factor, 0, bins[-1])
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, bins[-1])
    frac = (source - low)[:, None]
    warped = (1 - frac) * envelope[low] + frac * envelope[high]
    out = librosa.istft(spec * np.exp(warped - envelope), hop_length=STFT_HOP,
                        length=len(audio))
    return out.astype(np.float32)


def resample_lips(lips, valid, speed, frames):
    """Lip targets for audio stretched by `speed`: frame j of the new clip is time j * speed
    of the old one (linear interpolation; frames past the old end repeat the last)."""
    old = np.arange(len(lips))
    at = np.clip(np.arange(frames) * speed, 0, len(lips) - 1)
    flat = lips.reshape(len(lips), -1)
    new = np.stack([np.interp(at, old, flat[:, k]) for k in range(flat.shape[1])], axis=1)
    new_valid = valid[np.clip(np.round(at).astype(int), 0, len(valid) - 1)]
    return new.reshape((frames,) + lips.shape[1:]), new_valid


# ---------------------------------------------------------------- noise

def active_power(audio):
    """Mean power of the 10 ms frames within 40 dB of the loudest (the speech, not the
    pauses), so an SNR means the same for clips with long and short silences."""
    frames = len(audio) // 160
    if frames == 0:
        return float(np.mean(audio ** 2)) if len(audio) else 0.0
    power = (audio[:frames * 160].reshape(frames, 160) ** 2).mean(axis=1)
    return float(power[power > power.max() * 1e-4].mean()) if power.max() > 0 else 0.0


def fan_noise(n, rng):
    """Broadband noise low-passed at 300-3000 Hz (a fan, an air vent), slowly modulated."""
    white = rng.standard_normal(n)
    cutoff = rng.uniform(300, 3000)
    sos = scipy.signal.butter(2, cutoff, 'lowpass', fs=SAMPLE_RATE, output='sos')
    noise = scipy.signal.sosfilt(sos, white)
    t = np.arange(n) / SAMPLE_RATE
    hum = 0.3 * np.sin(2 * np.pi * rng.uniform(40, 200) * t) * np.std(noise)
    return (noise * (1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.2, 2) * t)) + hum)


def babble_noise(n, rng, voices):
    """3-6 clips of other speech, each looped from a random offset, summed at equal level."""
    if not voices:
        return fan_noise(n, rng)
    total = np.zeros(n)
    for k in rng.choice(len(voices), size=min(int(rng.integers(3, 7)), len(voices)),
                        replace=False):
        voice = np.asarray(voices[k], np.float64)
        voice = np.roll(np.resize(voice, n), int(rng.integers(len(voice))))
        total += voice / np.sqrt(active_power(voice) + 1e-12)
    return total


def music_noise(n, rng):
    """Synthetic music: chords of 3-4 harmonic tones (5 partials, 1/k amplitudes) that
    change every 0.25-1 s with plucked (exponentially decaying) envelopes."""
    out = np.zeros(n)
    start = 0
    while start < n:
        length = int(rng.uniform(0.25, 1.0) * SAMPLE_RATE)
        t = np.arange(min(length, n - start)) / SAMPLE_RATE
        root = 110.0 * 2 ** (rng.integers(0, 24) / 12)
        chord = CHORDS[rng.integers(len(CHORDS))]
        decay = np.exp(-t / rng.uniform(0.15, 0.8))
        for step in chord:
            f0 = root * 2 ** (step / 12)
            for k in range(1, 6):
                if k * f0 < SAMPLE_RATE / 2:
                    out[start:start + len(t)] += decay * np.sin(
                        2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi)) / k
        start += len(t)
    return out


def add_noise(audio, snr_db, kind, rng, voices=()):
    """audio + noise of a kind ('fan', 'babble', 'music') at snr_db [dB] (active speech
    power over mean noise power)."""
    n = len(audio)
    noise = {'fan': lambda: fan_noise(n, rng), 'music': lambda: music_noise(n, rng),
             'babble': lambda: babble_noise(n, rng, voices)}[kind]()
    speech, noise_power = active_power(audio), float(np.mean(noise ** 2))
    if speech <= 0 or noise_power <= 0:
        return audio
    scale = np.sqrt(speech / (noise_power * 10 ** (snr_db / 10)))
    return (audio + scale * noise).astype(np.float32)


# ---------------------------------------------------------------- rooms and microphones

def room_impulse_response(rt60, drr_db, rng):
    """A synthetic impulse response: a unit direct sound at 0, 4-10 early reflections in
    2-40 ms, and a tail of noise decaying 60 dB in rt60 [s], scaled to drr_db [dB]."""
    n = int(max(rt60 * 1.2, 0.05) * SAMPLE_RATE)
    t = np.arange(n) / SAMPLE_RATE
    tail = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    tail[:int(0.002 * SAMPLE_RATE)] = 0.0
    for _ in range(int(rng.integers(4, 11))):
        k = int(rng.uniform(0.002, 0.040) * SAMPLE_RATE)
        tail[k] += rng.choice([-1, 1]) * rng.uniform(0.3, 1.0) * 5 * np.exp(-6.9 * t[k] / rt60)
    # Air and walls absorb the highs: the tail is low-passed.
    tail = scipy.signal.sosfilt(scipy.signal.butter(1, 4000, fs=SAMPLE_RATE, output='sos'),
                                tail)
    tail *= np.sqrt(10 ** (-drr_db / 10) / np.sum(tail ** 2))
    tail[0] = 1.0
    return tail


def reverberate(audio, rt60, drr_db, rng):
    """Convolve with room_impulse_response (causal: the direct sound stays in place) and
    keep the clip's length and active level."""
    wet = scipy.signal.fftconvolve(audio, room_impulse_response(rt60, drr_db, rng))[:len(audio)]
    return _match_level(wet, audio)


def _match_level(audio, reference):
    level = active_power(audio)
    return (audio * np.sqrt(active_power(reference) / level) if level > 0
            else audio).astype(np.float32)


def telephone(audio):
    """Narrow-band telephone: 300-3400 Hz band-pass, through 8 kHz sampling and back."""
    sos = scipy.signal.butter(4, (300, 3400), 'bandpass', fs=SAMPLE_RATE, output='sos')
    narrow = scipy.signal.resample_poly(scipy.signal.sosfilt(sos, audio), 1, 2)
    return _match_level(scipy.signal.resample_poly(narrow, 2, 1)[:len(audio)], audio)


def laptop_microphone(audio, rng):
    """A small microphone: high-pass 150-400 Hz, a +3..+9 dB resonance at 2-5 kHz, low-pass
    at 5-7.5 kHz."""
    sos = np.concatenate([
        scipy.signal.butter(2, rng.uniform(150, 400), 'highpass', fs=SAMPLE_RATE,
                            output='sos'),
        scipy.signal.butter(4, rng.uniform(5000, 7500), 'lowpass', fs=SAMPLE_RATE,
                            output='sos')])
    out = scipy.signal.sosfilt(sos, audio)
    b, a = scipy.signal.iirpeak(rng.uniform(2000, 5000), 2.0, fs=SAMPLE_RATE)
    gain = 10 ** (rng.uniform(3, 9) / 20) - 1
    out = out + gain * scipy.signal.lfilter(b, a, out)
    return _match_level(out, audio)


# ---------------------------------------------------------------- codecs and clipping

def mu_law(audio, bits=8):
    """mu-law companding to 2**bits levels and back (G.711's curve, mu = 255)."""
    mu = 255.0
    x = np.clip(audio, -1, 1)
    y = np.sign(x) * np.log1p(mu * np.abs(x)) / np.log1p(mu)
    levels = 2 ** (bits - 1)
    y = np.round(y * levels) / levels
    return (np.sign(y) * ((1 + mu) ** np.abs(y) - 1) / mu).astype(np.float32)


def ffmpeg_binary():
    """The ffmpeg bundled with imageio-ffmpeg (in the venv), else one on PATH, else None."""
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        return shutil.which('ffmpeg')


def codec_round_trip(audio, codec, kbps):
    """Encode with 'mp3' (libmp3lame) or 'opus' (libopus) at kbps and decode back to 16 kHz;
    the decoder's delay is removed by aligning with the input (cross-correlation)."""
    binary = ffmpeg_binary()
    if binary is None:
        raise AugmentError('no ffmpeg for codec round trips: imageio-ffmpeg is part of the '
                           'locked environment (make setup)')
    encoder = {'mp3': ('libmp3lame', 'mp3'), 'opus': ('libopus', 'ogg')}[codec]
    pcm = (np.clip(audio, -1, 1) * 32767).astype('<i2').tobytes()
    raw = ['-f', 's16le', '-ar', str(SAMPLE_RATE), '-ac', '1']
    encoded = subprocess.run([binary, '-v', 'error', *raw, '-i', 'pipe:0', '-c:a', encoder[0],
                              '-b:a', f'{kbps}k', '-f', encoder[1], 'pipe:1'], input=pcm,
                             capture_output=True, check=True, timeout=60).stdout
    decoded = subprocess.run([binary, '-v', 'error', '-i', 'pipe:0', *raw, 'pipe:1'],
                             input=encoded, capture_output=True, check=True,
                             timeout=60).stdout
    out = np.frombuffer(decoded, '<i2').astype(np.float32) / 32767.0
    return align(out, audio)


def align(processed, original, max_shift=0.1):
    """processed shifted (by at most max_shift [s]) to line up with original, same length."""
    limit = int(max_shift * SAMPLE_RATE)
    n = min(len(original), len(processed))
    corr = scipy.signal.correlate(processed[:n + limit], original[:n], mode='full', method='fft')
    lags = np.arange(-n + 1, len(processed[:n + limit]))
    keep = np.abs(lags) <= limit
    lag = int(lags[keep][np.argmax(corr[keep])])
    shifted = processed[lag:] if lag >= 0 else np.concatenate([np.zeros(-lag), processed])
    out = np.zeros(len(original), np.float32)
    out[:min(len(shifted), len(out))] = shifted[:len(out)]
    return out


def clip(audio, level):
    """Hard clipping at level x the clip's peak, scaled back to the old peak."""
    peak = float(np.abs(audio).max())
    if peak <= 0:
        return audio
    return (np.clip(audio, -level * peak, level * peak) / level).astype(np.float32)


# ---------------------------------------------------------------- the training chain

class Augmenter:
    """One random chain per call. voices: audio of training clips (for babble noise)."""

    def __init__(self, voices=(), probability=None, codecs=True):
        self.voices = list(voices)
        self.p = dict(PROBABILITY, **(probability or {}))
        self.codecs = codecs and ffmpeg_binary() is not None

    def _on(self, step, rng):
        return rng.random() < self.p[step]

    def apply(self, audio, lips, valid, rng):
        """-> (audio, lips, valid, steps): the augmented clip and the steps taken."""
        audio = np.asarray(audio, np.float32)
        steps = []
        speed = rng.uniform(*SPEED_RANGE) if self._on('speed', rng) else 1.0
        semitones = rng.uniform(*PITCH_RANGE) if self._on('pitch', rng) else 0.0
        if speed != 1.0 or semitones != 0.0:
            frames = len(lips)
            audio = speed_and_pitch(audio, speed, semitones)
            lips, valid = resample_lips(lips, valid, speed, int(round(frames / speed)))
            steps.append(f'speed {speed:.2f} pitch {semitones:+.1f}')
        if self._on('formant', rng):
            factor = rng.uniform(*FORMANT_RANGE)
            audio = formant_warp(audio, factor)
            steps.append(f'formant {factor:.2f}')
        if self._on('reverb', rng):
            rt60, drr = rng.uniform(*RT60_RANGE), rng.uniform(*DRR_RANGE_DB)
            audio = reverberate(audio, rt60, drr, rng)
            steps.append(f'reverb {rt60:.2f} s')
        if self._on('noise', rng):
            kind, snr = NOISES[rng.integers(len(NOISES))], rng.uniform(*SNR_RANGE_DB)
            audio = add_noise(audio, snr, kind, rng, self.voices)
            steps.append(f'{kind} {snr:.0f} dB')
        if self._on('band', rng):
            if rng.random() < 0.5:
                audio, name = telephone(audio), 'telephone'
            else:
                audio, name = laptop_microphone(audio, rng), 'laptop'
            steps.append(name)
        if self._on('codec', rng):
            choice = rng.integers(3) if self.codecs else 0
            if choice == 0:
                audio, name = mu_law(audio), 'mu-law'
            elif choice == 1:
                kbps = int(rng.choice(MP3_KBPS))
                audio, name = codec_round_trip(audio, 'mp3', kbps), f'mp3 {kbps}k'
            else:
                kbps = int(rng.choice(OPUS_KBPS))
                audio, name = codec_round_trip(audio, 'opus', kbps), f'opus {kbps}k'
            steps.append(name)
        if self._on('clipping', rng):
            level = rng.uniform(*CLIP_RANGE)
            audio = clip(audio, level)
            steps.append(f'clip {level:.2f}')
        gain_db = rng.uniform(*GAIN_RANGE_DB) if self._on('loudness', rng) else 0.0
        peak = float(np.abs(audio).max()) or 1.0
        # the gain, then whatever is above full scale is clipped as a sound card would
        audio = np.clip(audio / max(peak, 1.0) * 10 ** (gain_db / 20), -1, 1)
        steps.append(f'gain {gain_db:.0f} dB')
        return audio.astype(np.float32), lips, valid, steps


# ---------------------------------------------------------------- evaluation conditions

def _noisy(snr_db):
    def degrade(audio, rng):
        return add_noise(audio, snr_db, NOISES[rng.integers(len(NOISES))], rng,
                         voices=_babble_voices())
    return degrade


_BABBLE = []


def _babble_voices():
    """Babble for evaluation: espeak-ng sentences made here, so no corpus clip (and none of
    the voices reserved for the independent check) is needed."""
    if not _BABBLE:
        from lip_policy.espeak import Speaker

        speaker = Speaker()
        for text, voice in (('the weather is nice today and we walk', 'en+f3'),
                            ('ich habe heute keine Zeit dafür', 'de+m3'),
                            ('nous allons au marché demain matin', 'fr+f2'),
                            ('dove sono le chiavi della macchina', 'it+m5'),
                            ('vamos a comer juntos esta noche', 'es+f4'),
                            ('hij komt morgen weer naar huis', 'nl+m1')):
            said = speaker.say(text, voice)
            _BABBLE.append(scipy.signal.resample_poly(said.audio, 320, 441))
    return _BABBLE


CONDITIONS = {
    'clean': lambda audio, rng: audio,
    'noise20': _noisy(20.0),
    'noise10': _noisy(10.0),
    'reverb': lambda audio, rng: reverberate(audio, 0.6, 3.0, rng),
    'telephone': lambda audio, rng: telephone(audio),
}


def condition(name):
    """A fixed degradation: (audio, clip id) -> audio, seeded by the clip id and name."""
    degrade = CONDITIONS[name]

    def apply(audio, clip_id):
        rng = np.random.default_rng(zlib.crc32(f'{name}/{clip_id}'.encode()))
        return np.asarray(degrade(np.asarray(audio, np.float32), rng), np.float32)
    return apply
