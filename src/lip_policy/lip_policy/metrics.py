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
- open vowels falsely closed: share of open vowels (visemes AA, E, O) whose middle frame
  reads closed (the same threshold as closure recall).
- sync offset: the lag [ms] maximising the cross-correlation of predicted and true mouth
  opening, refined between frames by the parabola through the peak and its neighbours;
  positive means the prediction lags the truth (the lips are late). One estimator for every
  evaluation (lip-eval, lip-e2e-eval, the teacher video check, bag replays); its peak finder
  is mirror-lag's (mirror_calibration.lag_estimate.refined_peak).

figures() gives all of these for one robot-lip trajectory against its truth, as lip-e2e-eval
and face-bringup's replay report them.
"""

import numpy as np

from face_msgs import face_layout
from lip_policy import teacher, visemes
from mirror_calibration.lag_estimate import refined_peak

CLOSED_FRACTION = 0.05
PUCKER_FRACTION = 0.12
EVENT_TOLERANCE = 0.040  # [s]
OPEN_VOWELS = ('AA', 'E', 'O')  # visemes whose teacher opening is 0.28-0.48 of the width
SYNC_MAX_LAG = 30  # [10 ms frames] +-300 ms sync search range (covers the actuators' lag)


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


def event_windows(phonemes, duration, frames, wanted, tolerance=EVENT_TOLERANCE):
    """[(lo, hi)] 100 Hz frame windows of the segments whose viseme is in `wanted`, widened
    by tolerance [s] on both sides and cut to `frames`."""
    out = []
    for seg in teacher.segments_from_phonemes(phonemes, duration):
        if seg.viseme not in wanted:
            continue
        lo = max(int(np.floor((seg.start - tolerance) * teacher.FRAME_RATE)), 0)
        hi = min(int(np.ceil((seg.end + tolerance) * teacher.FRAME_RATE)) + 1, frames)
        if lo < hi:
            out.append((lo, hi))
    return out


def closed_at(lips, ref_width, fraction=CLOSED_FRACTION):
    """Per frame: the lips read closed, their inner-lip gap below `fraction` of ref_width (the
    lip policy's seal hold asks this of its retargeted lips, against the robot's rest mouth)."""
    return opening(lips) < fraction * ref_width


def closed(pred, true):
    """Per frame: the lips read closed (inner-lip gap below CLOSED_FRACTION of the width)."""
    return closed_at(pred, reference_width(true))


def event_hits(pred, phonemes, duration, true, kind):
    """Per event of `kind` ('closure' for /p b m/, 'pucker' for /w u/): did pred do it?

    true: the clip's true lips, which set the width references.
    """
    wanted = (visemes.BILABIAL,) if kind == 'closure' else visemes.PUCKERED
    if kind == 'closure':
        happened = closed(pred, true)
    else:
        happened = width(pred) < (1.0 - PUCKER_FRACTION) * wide_width(true)
    return [bool(happened[lo:hi].any())
            for lo, hi in event_windows(phonemes, duration, len(pred), wanted)]


def false_closures(pred, phonemes, duration, true):
    """Per open vowel (visemes OPEN_VOWELS): True when pred reads closed at its middle frame
    (a mouth shut where it should be widest)."""
    shut = closed(pred, true)
    out = []
    for seg in teacher.segments_from_phonemes(phonemes, duration):
        middle = int(round((seg.start + seg.end) / 2 * teacher.FRAME_RATE))
        if seg.viseme in OPEN_VOWELS and middle < len(pred):
            out.append(bool(shut[middle]))
    return out


def cross_correlation(pred_open, true_open, max_lag=SYNC_MAX_LAG):
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


def peak_lag_ms(xcorr):
    """The sync offset [ms] of a cross_correlation (or of a sum of them over clips): the lag
    of its peak, refined between frames; + = prediction (lips) late."""
    max_lag = (len(xcorr) - 1) // 2
    return float((refined_peak(xcorr) - max_lag) / teacher.FRAME_RATE * 1000)


def sync_offset_ms(pred_open, true_open):
    """Lag [ms] of pred_open behind true_open (mouth openings, or any two 100 Hz series)
    maximising their cross-correlation, sub-frame; + = prediction (lips) late."""
    return peak_lag_ms(cross_correlation(pred_open, true_open))


def on_times(times, values, at):
    """A track of values (n, ...) sampled at times [s], linearly interpolated onto `at`:
    how recordings at their own rates (camera, joint states, commands) meet one time axis."""
    flat = values.reshape(len(values), -1)
    out = np.stack([np.interp(at, times, flat[:, j]) for j in range(flat.shape[1])], axis=1)
    return out.reshape(len(at), *values.shape[1:])


def pearson(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    if len(a) < 2 or a.std() < 1e-12 or b.std() < 1e-12:
        return float('nan')
    return float(np.corrcoef(a, b)[0, 1])


def figures(observed, truth, phonemes=None, duration=None):
    """Lip error, opening correlation, sync offset [ms] and (given the truth's phonemes and
    duration [s]) closure and pucker recalls of (n, 40, 3) observed lips against truth."""
    ref_width = reference_width(truth)
    mean_error, max_error = frame_errors(observed, truth, ref_width)
    out = {
        'lip_error': round(float(mean_error.mean()), 4),
        'lip_max_error': round(float(max_error.mean()), 4),
        'mouth_opening_correlation': round(pearson(opening(observed), opening(truth)), 4),
        'sync_offset_ms': round(sync_offset_ms(opening(observed), opening(truth)), 1),
    }
    if phonemes is not None:
        for kind, name in (('closure', 'bilabial_closure'), ('pucker', 'pucker')):
            hits = event_hits(observed, phonemes, duration, truth, kind)
            out[f'{name}_recall'] = round(float(np.mean(hits)), 4) if hits else None
            out[f'{name}_events'] = len(hits)
        shut = false_closures(observed, phonemes, duration, truth)
        out['open_vowels_falsely_closed'] = round(float(np.mean(shut)), 4) if shut else None
        out['open_vowel_events'] = len(shut)
    return out
