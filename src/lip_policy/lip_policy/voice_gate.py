"""The voice gate: how much of the model's pose the lips show, from the audio's loudness.

Silence shows a resting mouth: per 10 ms hop the audio is voiced or silent (hop_levels, its
RMS level against a threshold), and VoiceGate turns that into a weight per lip frame that
opens a little before the voice (looking ahead as far as the model does), holds through
short pauses and eases to neutral in longer silence.
"""

import numpy as np

from face_common.frames import HOP

SILENCE_DB = -120.0  # [dBFS] level reported for digital silence


class VoiceGate:
    """Per lip frame, how much of the model's pose to show (0 = neutral, 1 = all of it).

    A hop is voiced when its RMS level exceeds threshold_db. Frame k wants the full pose
    when any hop in [k - hold, k + lookahead] is voiced, else neutral; the weight moves
    towards what is wanted by at most 1/attack per frame up and 1/release per frame down.
    """

    def __init__(self, threshold_db, hold_frames, lookahead_frames, attack_frames,
                 release_frames):
        self.threshold_db = threshold_db
        self.hold, self.lookahead = int(hold_frames), int(lookahead_frames)
        self.up, self.down = 1.0 / max(attack_frames, 1), 1.0 / max(release_frames, 1)
        self.voiced = []  # flags of hops [first_hop, first_hop + len)
        self.first_hop = 0
        self.next_frame = 0
        self.weight = 0.0

    def push_levels(self, levels_db):
        self.voiced.extend(bool(v > self.threshold_db) for v in levels_db)

    def weights(self, count):
        out = np.empty(count)
        for i in range(count):
            k = self.next_frame + i
            lo = max(k - self.hold, self.first_hop) - self.first_hop
            hi = k + self.lookahead + 1 - self.first_hop
            wanted = 1.0 if any(self.voiced[lo:hi]) else 0.0
            self.weight += min(max(wanted - self.weight, -self.down), self.up)
            out[i] = self.weight
        self.next_frame += count
        drop = max(0, self.next_frame - self.hold - self.first_hop)
        del self.voiced[:drop]
        self.first_hop += drop
        return out


def hop_levels(samples_16k):
    """(hops * HOP,) audio -> (hops,) RMS level of each hop [dBFS]."""
    hops = np.asarray(samples_16k, np.float64).reshape(-1, HOP)
    rms = np.sqrt((hops ** 2).mean(axis=1))
    return np.where(rms > 0, 20 * np.log10(np.maximum(rms, 1e-12)), SILENCE_DB)
