"""Lip accuracy and sync metrics, all on face_subset_v1 lip points (frames, 40, 3).

Distances are fractions of the clip's reference mouth width (the median true width), so
they compare across faces and corpora.
- lip_error: mean over frames of the mean point distance.
- lip_max_error: mean over frames of the largest point distance (LVE style).
- mouth-opening Pearson correlation, over all frames of a group of clips.
- bilabial closure recall: share of /p b m/ during which (widened by +-40 ms) the lips
  close (inner-lip gap below CLOSED_FRACTION of the width) at least once.
- pucker recall: share of /w u/ (visemes W, U) during which (+-40 ms) the mouth narrows
  below (1 - PUCKER_FRACTION) of the clip's wide width (90th percentile of the true width,
  i.e. its unrounded mouth; the median would shrink in clips full of rounded vowels).
- sync offset: the lag [ms] maximising the cross-correlation of predicted and true mouth
  opening; positive means the prediction lags the truth.
"""

import numpy as np

from lip_policy import teacher, visemes
from mirror_calibration import face_layout

CLOSED_FRACTION = 0.05
PUCKER_FRACTION = 0.12
EVENT_TOLERANCE = 0.040  # [s]
MAX_LAG_FRAMES = 20  # [10 ms frames] sync search range


def _subset(lips):
    full = np.zeros(lips.shape[:-2] + (len(face_layout.FACE_SUBSET), 3))
    full[..., face_layout.LIPS, :] = lips
    return full


def opening(lips):
    return face_layout.mouth_opening(_subset(lips))


def width(lips):
    return face_layout.mouth_width(_subset(lips))


def reference_width(true_lips):
    return float(np.median(width(true_lips)))


def wide_width(true_lips):
    return float(np.percentile(width(true_lips), 90))


def frame_errors(pred, true, ref_width):
    """-> (mean point error per frame, max point error per frame), fractions of width."""
    dist = np.linalg.norm(pred - true, axis=-1) / ref_width  # (frames, 40)
    return dist.mean(axis=1), dist.max(axis=1)


def event_hits(pred, phonemes, duration, true, kind):
    """Per event of `kind` ('closure' for /p b m/, 'pucker' for /w u/): did pred do it?

    true: the clip's true lips, which set the width references.
    """
    wanted = (visemes.BILABIAL,) if kind == 'closure' else visemes.PUCKERED
    if kind == 'closure':
        happened = opening(pred) < CLOSED_FRACTION * reference_width(true)
    else:
        happened = width(pred) < (1.0 - PUCKER_FRACTION) * wide_width(true)
    hits = []
    for seg in teacher.segments_from_phonemes(phonemes, duration):
        if seg.viseme not in wanted:
            continue
        lo = max(int(np.floor((seg.start - EVENT_TOLERANCE) * teacher.FRAME_RATE)), 0)
        hi = min(int(np.ceil((seg.end + EVENT_TOLERANCE) * teacher.FRAME_RATE)) + 1,
                 len(pred))
        if lo < hi:
            hits.append(bool(happened[lo:hi].any()))
    return hits


def cross_correlation(pred_open, true_open, max_lag=MAX_LAG_FRAMES):
    """Unnormalised cross-correlation of mean-removed signals for lags -max..max frames."""
    p = pred_open - pred_open.mean()
    t = true_open - true_open.mean()
    n = len(p)
    values = []
    for lag in range(-max_lag, max_lag + 1):
        # lag > 0: prediction at frame k + lag matches truth at frame k.
        if lag >= 0:
            values.append(float(np.dot(p[lag:], t[:n - lag])))
        else:
            values.append(float(np.dot(p[:n + lag], t[-lag:])))
    return np.array(values)


def pearson(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or a.std() < 1e-12 or b.std() < 1e-12:
        return float('nan')
    return float(np.corrcoef(a, b)[0, 1])
