"""The synthetic teacher: phoneme timing -> visemes -> lip landmark trajectories at 100 Hz.

No human video is reachable offline, so this documented model stands in for people. It
works in two stages:

1. Articulation (`lip_parameters`). Each viseme has a target for five lip parameters
   (PARAMETERS, units in TARGETS' comment) and a dominance: how strongly it imposes its
   target on its neighbours (Cohen & Massaro's coarticulation idea). At each 10 ms frame the
   parameter is the dominance-weighted mean of all targets, each weighted by a kernel that
   is 1 over the viseme's own interval and decays exponentially outside it: slowly before it
   (lips anticipate upcoming sounds; rounding spreads furthest, ROUND_ANTICIPATION) and
   quickly after it (carry-over). Every interval is moved VISUAL_LEAD earlier because lips
   lead the sound they shape. Two hard rules follow the blend: during /p b m/ the lips are
   fully closed and pressed, and during /f v/ the lower lip is tucked to the upper teeth,
   each with a short linear ramp in and out so trajectories stay continuous.
2. Geometry (`LipGeometry.points`). The five parameters deform a real neutral mouth (the
   astronaut photo's lips, closed) in the face frame: opening drops the lower lip (jaw) and
   raises the upper lip with an elliptic profile across the mouth; spread scales the mouth
   width; round narrows the mouth, protrudes the lips (+z) and everts them; tuck lifts the
   lower lip and draws it in; press thins both lips at the seam.
"""

import dataclasses

import numpy as np

from face_msgs import face_layout
from lip_policy import visemes
from lip_policy.neutral_mouth import neutral_lips

FRAME_RATE = 100.0  # [Hz] landmark frames, one per 10 ms audio hop
PARAMETERS = ('open', 'spread', 'round', 'tuck', 'press')

# viseme: (open [inner-lip gap / mouth width], spread [relative width change],
#          round [0..1], tuck [0..1], press [0..1]),
#         dominance over open/tuck/press, dominance over the lip shape (spread/round).
# Consonants made behind the lips (and /p b m f v/, which only need the lips to meet) barely
# constrain lip shape, so rounding of a neighbouring /u/ flows through them.
TARGETS = {
    'sil': ((0.00, 0.00, 0.0, 0.0, 0.0), 0.8, 0.8),
    'PP': ((0.00, 0.00, 0.0, 0.0, 1.0), 8.0, 0.3),
    'FF': ((0.04, 0.00, 0.0, 1.0, 0.0), 6.0, 0.3),
    'TH': ((0.12, 0.04, 0.0, 0.0, 0.0), 3.0, 1.0),
    'CH': ((0.10, -0.04, 0.5, 0.0, 0.0), 3.0, 3.0),
    'SS': ((0.06, 0.08, 0.0, 0.0, 0.0), 2.0, 1.0),
    'DD': ((0.12, 0.02, 0.0, 0.0, 0.0), 1.0, 0.3),
    'KK': ((0.16, 0.00, 0.0, 0.0, 0.0), 0.6, 0.3),
    'RR': ((0.12, -0.02, 0.3, 0.0, 0.0), 1.0, 1.0),
    'W': ((0.05, 0.00, 1.0, 0.0, 0.0), 6.0, 6.0),
    'J': ((0.08, 0.10, 0.0, 0.0, 0.0), 2.0, 2.0),
    'AA': ((0.48, 0.02, 0.0, 0.0, 0.0), 2.5, 1.5),
    'E': ((0.28, 0.06, 0.0, 0.0, 0.0), 2.0, 1.5),
    'I': ((0.14, 0.14, 0.0, 0.0, 0.0), 2.5, 2.5),
    'O': ((0.30, -0.02, 0.7, 0.0, 0.0), 3.0, 3.0),
    'U': ((0.10, 0.00, 1.0, 0.0, 0.0), 4.0, 5.0),
}
SHAPE_PARAMETERS = ('spread', 'round')
VISUAL_LEAD = 0.020  # [s] lips reach a target this long before its sound starts
ANTICIPATION = 0.050  # [s] decay of a target's weight before its interval
ROUND_ANTICIPATION = 0.120  # [s] the same for rounding, which spreads over consonants
CARRY_OVER = 0.035  # [s] decay of a target's weight after its interval
HARD_RULE_RAMP = 0.030  # [s] ramp into and out of bilabial closure and labiodental tuck


@dataclasses.dataclass
class Segment:
    """One viseme held over [start, end) [s] of the audio."""

    viseme: str
    start: float
    end: float


def segments_from_phonemes(phonemes, duration):
    """(ipa, start [s]) pairs in time order, clip duration [s] -> list of Segment.

    Each phoneme lasts until the next one starts; a phoneme name with several visemes (a
    diphthong) shares its duration equally between them.
    """
    result = []
    for k, (ipa, start) in enumerate(phonemes):
        end = phonemes[k + 1][1] if k + 1 < len(phonemes) else duration
        if end <= start:
            continue
        parts = visemes.visemes_of(ipa)
        step = (end - start) / len(parts)
        for j, viseme in enumerate(parts):
            result.append(Segment(viseme, start + j * step, start + (j + 1) * step))
    return result


def frame_times(n_frames):
    """Times [s] of landmark frames 0..n-1 (frame k is at k * 10 ms)."""
    return np.arange(n_frames) / FRAME_RATE


def lip_parameters(segments, n_frames):
    """Segments -> (n_frames, 5) lip parameters (PARAMETERS) by coarticulated blending."""
    t = frame_times(n_frames)[:, None]  # (time, 1)
    if not segments:
        return np.tile(np.array(TARGETS['sil'][0]), (n_frames, 1))
    starts = np.array([s.start for s in segments])[None, :] - VISUAL_LEAD  # (1, segments)
    ends = np.array([s.end for s in segments])[None, :] - VISUAL_LEAD
    targets = np.array([TARGETS[s.viseme][0] for s in segments])  # (segments, 5)
    opening_dominance = np.array([TARGETS[s.viseme][1] for s in segments])[None, :]
    shape_dominance = np.array([TARGETS[s.viseme][2] for s in segments])[None, :]
    before = np.clip(starts - t, 0.0, None)  # (time, segments) distance before the interval
    after = np.clip(t - ends, 0.0, None)
    params = np.empty((n_frames, len(PARAMETERS)))
    for p, name in enumerate(PARAMETERS):
        anticipation = ROUND_ANTICIPATION if name == 'round' else ANTICIPATION
        dominance = shape_dominance if name in SHAPE_PARAMETERS else opening_dominance
        weight = dominance * np.exp(-before / anticipation - after / CARRY_OVER)
        params[:, p] = (weight @ targets[:, p]) / np.maximum(weight.sum(axis=1), 1e-12)
    _apply_hard_rules(params, segments, t[:, 0])
    return params


def _ramp(segments, viseme, t):
    """1 inside the (lead-shifted) intervals of a viseme, falling linearly to 0 outside."""
    strength = np.zeros_like(t)
    for s in segments:
        if s.viseme != viseme:
            continue
        distance = np.maximum(s.start - VISUAL_LEAD - t, t - (s.end - VISUAL_LEAD))
        strength = np.maximum(strength, np.clip(1.0 - distance / HARD_RULE_RAMP, 0.0, 1.0))
        strength[(t >= s.start - VISUAL_LEAD) & (t < s.end - VISUAL_LEAD)] = 1.0
    return strength


def _apply_hard_rules(params, segments, t):
    closure = _ramp(segments, 'PP', t)
    open_i, tuck_i, press_i = (PARAMETERS.index(n) for n in ('open', 'tuck', 'press'))
    params[:, open_i] *= 1.0 - closure
    params[:, press_i] = np.maximum(params[:, press_i], closure)
    tuck = _ramp(segments, 'FF', t)
    params[:, tuck_i] = np.maximum(params[:, tuck_i], tuck)
    params[:, open_i] = np.minimum(params[:, open_i],
                                   (1 - tuck) * params[:, open_i] + tuck * TARGETS['FF'][0][0])


class LipGeometry:
    """Turns lip parameters into the 40 lip points of face_subset_v1 (face-frame units)."""

    def __init__(self, neutral=None):
        lips = np.array(neutral_lips() if neutral is None else neutral, dtype=np.float64)
        n_outer = len(face_layout.LIP_OUTER)
        # Loop order per ring: corner, 9 upper points, corner, 9 lower points (see face_layout).
        ring = np.arange(2 * n_outer) % n_outer
        self.upper = (ring >= 1) & (ring <= 9)  # (40,)
        self.lower = ring >= 11
        self.outer = np.arange(2 * n_outer) < n_outer
        corners = lips[[0, n_outer // 2]]
        self.centre = corners.mean(axis=0)
        self.width = float(np.linalg.norm(corners[1] - corners[0]))
        u = (lips[:, 0] - self.centre[0]) / (self.width / 2)
        self.profile = np.sqrt(np.clip(1.0 - u ** 2, 0.0, 1.0))  # (40,) 0 at corners
        # Close the neutral mouth: each inner upper/lower pair meets at its middle, and the
        # outer ring follows the inner ring of the same lip. The lower partner of upper point j
        # of a ring is point 20 - j of that ring.
        closed = lips.copy()
        for j in range(1, n_outer // 2):
            up, low = n_outer + j, n_outer + n_outer - j
            middle = (lips[up, 1] + lips[low, 1]) / 2
            for ring_offset in (0, n_outer):
                closed[ring_offset + j, 1] += middle - lips[up, 1]
                closed[ring_offset + n_outer - j, 1] += middle - lips[low, 1]
        self.rest = closed  # (40, 3)

    def points(self, params):
        """(time, 5) lip parameters -> (time, 40, 3) lip points in the face frame."""
        params = np.asarray(params, dtype=np.float64)
        open_, spread, round_, tuck, press = (params[:, k:k + 1] for k in range(5))  # (time, 1)
        w, profile = self.width, self.profile[None, :]
        upper, lower, outer = self.upper[None, :], self.lower[None, :], self.outer[None, :]
        pts = np.repeat(self.rest[None], len(params), axis=0)
        dy = np.zeros(pts.shape[:2])
        dz = np.zeros(pts.shape[:2])
        gap = open_ * w * profile
        dy += np.where(upper, 0.3 * gap, 0.0) - np.where(lower, 0.7 * gap, 0.0)
        seam = 0.03 * w * profile * press
        dy += np.where(upper & outer, -seam, 0.0) + np.where(lower & outer, seam, 0.0)
        evert = 0.03 * w * profile * round_
        dy += np.where(upper & outer, evert, 0.0) - np.where(lower & outer, evert, 0.0)
        dz += 0.10 * w * np.sqrt(profile) * round_
        dy += np.where(lower, 0.04 * w * profile * tuck, 0.0)
        dy += np.where(upper, 0.02 * w * profile * tuck, 0.0)
        dz -= np.where(lower, 0.08 * w * profile * tuck, 0.0)
        pts[..., 1] += dy
        pts[..., 2] += dz
        scale = 1.0 + spread - 0.3 * round_  # (time, 1)
        pts[..., 0] = self.centre[0] + (pts[..., 0] - self.centre[0]) * scale
        return pts


def teach(phonemes, duration, n_frames, geometry=None):
    """Phoneme timing of a clip -> ((n_frames, 40, 3) lip points, (n_frames, 5) parameters)."""
    geometry = geometry or LipGeometry()
    params = lip_parameters(segments_from_phonemes(phonemes, duration), n_frames)
    return geometry.points(params), params
