"""The two baselines every lip model is scored against, on the same audio.

amplitude: the audio's RMS envelope per 10 ms frame drives mouth opening alone (the
    classic "jaw flap"); the envelope is scaled so the clip's 95th percentile opens the
    mouth as wide as the teacher's /a/.
viseme: phonemes RECOGNISED from the audio by pocketsphinx (its English phone loop; never
    the corpus's own phonemes) go through the same viseme table and coarticulation as the
    teacher - the animation-industry approach with an off-the-shelf recogniser.
"""

import os

import numpy as np

from face_common.frames import HOP, SAMPLE_RATE
from lip_policy import teacher, visemes


def amplitude_lips(audio, geometry):
    """(samples,) -> (samples // HOP, 40, 3) lips from the amplitude envelope."""
    frames = len(audio) // HOP
    power = (np.asarray(audio[:frames * HOP], np.float64).reshape(frames, HOP) ** 2).mean(1)
    envelope = np.sqrt(power)
    envelope = np.convolve(envelope, np.ones(3) / 3, mode='same')  # 30 ms smoothing
    reference = np.percentile(envelope, 95) if frames else 0.0
    level = np.clip(envelope / reference, 0.0, 1.0) if reference > 0 else envelope * 0
    params = np.zeros((frames, len(teacher.PARAMETERS)))
    params[:, 0] = teacher.TARGETS['AA'][0][0] * level
    return geometry.points(params)


class PhonemeRecogniser:
    """pocketsphinx all-phone decoding of 16 kHz audio -> [(ipa, start [s])]."""

    def __init__(self):
        from pocketsphinx import Decoder, get_model_path

        phone_lm = os.path.join(get_model_path(), 'en-us', 'en-us-phone.lm.bin')
        self.decoder = Decoder(allphone=phone_lm, lm=None, lw=2.0, beam=1e-20, pbeam=1e-20,
                               samprate=SAMPLE_RATE, loglevel='FATAL')

    def phonemes(self, audio):
        pcm = np.round(np.clip(audio, -1, 1) * 32767).astype('<i2').tobytes()
        self.decoder.start_utt()
        self.decoder.process_raw(pcm, full_utt=True)
        self.decoder.end_utt()
        # pocketsphinx frames are 10 ms.
        return [(visemes.arpabet_to_ipa(seg.word), seg.start_frame / 100.0)
                for seg in self.decoder.seg()]


def viseme_lips(audio, geometry, recogniser):
    """(samples,) -> (samples // HOP, 40, 3) lips from recognised phonemes."""
    frames = len(audio) // HOP
    phonemes = recogniser.phonemes(audio)
    lips, _ = teacher.teach(phonemes, len(audio) / SAMPLE_RATE, frames, geometry)
    return lips
