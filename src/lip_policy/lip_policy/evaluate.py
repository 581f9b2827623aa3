"""lip-eval: a lip model against the amplitude and viseme baselines on the same clips.

Every figure is computed overall, per language, per kind (speech / sung), per voice and per
engine (espeak-ng, festival, video); `--by voice|engine|language` also prints that table.
Event recalls need the clip's true phoneme timing, so they are reported for synthetic clips
only; the baselines never see those phonemes. `--condition` scores every system on the same
degraded audio (noise, reverberation, telephone band: augment.CONDITIONS).
"""

import collections
import pathlib
import time

import numpy as np

from face_common.files import write_json
from face_common.frames import SAMPLE_RATE
from lip_policy import baselines, corpus, metrics, teacher
from lip_policy.predictor import LipPredictor

HEADLINE = ('lip_error', 'lip_error_amplitude', 'lip_error_viseme', 'mouth_open_pcc',
            'bilabial_closure_recall', 'pucker_recall', 'sync_offset_ms', 'realtime_factor')
SYSTEMS = ('model', 'amplitude', 'viseme')
GROUPINGS = ('language', 'kind', 'voice', 'engine')
# Per group of --by: every system's lip error, opening r and closure recall, the model's rest.
BY_COLUMNS = ('clips', 'lip_error', 'lip_error_amplitude', 'lip_error_viseme', 'mouth_open_pcc',
              'mouth_open_pcc_amplitude', 'mouth_open_pcc_viseme', 'bilabial_closure_recall',
              'bilabial_closure_recall_amplitude', 'bilabial_closure_recall_viseme',
              'pucker_recall', 'open_vowels_closed', 'sync_offset_ms')


def engine_of(info):
    """The speech engine of a clip: its `engine` field, else its source (older corpora)."""
    return info.get('engine') or info.get('source') or 'unknown'


def group_keys(info):
    """The groups a clip counts in: overall and one per GROUPINGS ('voice:en+f3', ...)."""
    values = {'language': info.get('language'), 'kind': info.get('kind'),
              'voice': info.get('voice'), 'engine': engine_of(info)}
    return ('overall',) + tuple(f'{g}:{values[g] or "unknown"}' for g in GROUPINGS)


def by_table(report, by):
    """{group value: BY_COLUMNS} of a report's details for one of GROUPINGS."""
    prefix = f'{by}:'
    return {key[len(prefix):]: {c: summary[c] for c in BY_COLUMNS}
            for key, summary in report['details'].items() if key.startswith(prefix)}


def format_by_table(table, by):
    """The --by table as text: model / amplitude / viseme side by side per group."""
    lines = [f'{by:<24} clips  lip error (model amp vis)  opening r (model amp vis)  '
             'closure (model amp vis)  pucker  open shut  sync ms']
    for name, row in table.items():
        lines.append(
            f'{name:<24} {row["clips"]:5d}  {row["lip_error"]:.4f} '
            f'{row["lip_error_amplitude"]:.4f} {row["lip_error_viseme"]:.4f}     '
            f'{row["mouth_open_pcc"]:.3f} '
            f'{row["mouth_open_pcc_amplitude"]:.3f} {row["mouth_open_pcc_viseme"]:.3f}      '
            f'{row["bilabial_closure_recall"]:.2f} {row["bilabial_closure_recall_amplitude"]:.2f}'
            f' {row["bilabial_closure_recall_viseme"]:.2f}     {row["pucker_recall"]:.2f}  '
            f'     {row["open_vowels_closed"]:.2f}  {row["sync_offset_ms"]:+.0f}')
    return '\n'.join(lines)


class _Group:
    """Running sums of one group of clips for every system."""

    def __init__(self):
        self.err = collections.defaultdict(list)
        self.max_err = collections.defaultdict(list)
        self.open = collections.defaultdict(list)
        self.true_open = []
        self.closure = collections.defaultdict(list)
        self.pucker = collections.defaultdict(list)
        self.shut = collections.defaultdict(list)  # per open vowel: read closed at its middle
        self.xcorr = collections.defaultdict(lambda: 0.0)
        self.audio_seconds = 0.0
        self.model_seconds = 0.0
        self.clips = 0

    def summary(self):
        def mean(values):
            return float(np.mean(np.concatenate(values))) if values else float('nan')

        def recall(hits):
            return float(np.mean(hits)) if hits else float('nan')

        true_open = np.concatenate(self.true_open) if self.true_open else np.zeros(0)
        out = {'clips': self.clips, 'audio_seconds': round(self.audio_seconds, 2)}
        for system in SYSTEMS:
            suffix = '' if system == 'model' else f'_{system}'
            out[f'lip_error{suffix}'] = mean(self.err[system])
            out[f'lip_max_error{suffix}'] = mean(self.max_err[system])
            opened = np.concatenate(self.open[system]) if self.open[system] else np.zeros(0)
            out[f'mouth_open_pcc{suffix}'] = metrics.pearson(opened, true_open)
            out[f'bilabial_closure_recall{suffix}'] = recall(self.closure[system])
            out[f'pucker_recall{suffix}'] = recall(self.pucker[system])
            out[f'open_vowels_closed{suffix}'] = recall(self.shut[system])
            xcorr = self.xcorr[system]  # summed over the group's clips
            out[f'sync_offset_ms{suffix}'] = metrics.peak_lag_ms(xcorr) if np.ndim(xcorr) \
                else 0.0
        out['bilabial_events'] = len(self.closure['model'])
        out['pucker_events'] = len(self.pucker['model'])
        out['realtime_factor'] = (self.audio_seconds / self.model_seconds
                                  if self.model_seconds > 0 else float('nan'))
        return out


def evaluate(model_path, corpus_dir, languages=None, json_path=None, plot_dir=None,
             progress=True, max_plots=4, voices=None, condition=None, by=None):
    """Score the model and baselines; returns {'overall', 'details', ...} (+ 'by_<by>').

    voices: only these voices; condition: an augment.CONDITIONS name, applied to every
    clip's audio (seeded by the clip id) before any system hears it."""
    import torch
    from tqdm import tqdm

    torch.set_num_threads(1)  # the real-time factor is quoted for one core
    predictor = LipPredictor.load(model_path)
    clips = corpus.load_corpus(corpus_dir, languages=languages, voices=voices)
    degrade = None
    if condition:
        from lip_policy import augment

        degrade = augment.condition(condition)
    geometry = teacher.LipGeometry()
    recogniser = baselines.PhonemeRecogniser()
    predictor.predict(np.zeros(SAMPLE_RATE))  # warm up before timing
    groups = collections.defaultdict(_Group)
    samples = []
    for clip in tqdm(clips, desc='lip-eval', unit='clip', disable=not progress):
        if degrade is not None:
            clip.audio = degrade(clip.audio, clip.id)
        started = time.perf_counter()
        model_lips = predictor.predict(clip.audio)
        model_seconds = time.perf_counter() - started
        preds = {'model': model_lips,
                 'amplitude': baselines.amplitude_lips(clip.audio, geometry),
                 'viseme': baselines.viseme_lips(clip.audio, geometry, recogniser)}
        frames = min(len(clip.lips), *(len(p) for p in preds.values()))
        true, valid = clip.lips[:frames], clip.valid[:frames]
        if not valid.any():
            continue
        ref = metrics.reference_width(true[valid])
        keys = group_keys(clip.info)
        true_open = metrics.opening(true)
        for key in keys:
            group = groups[key]
            group.clips += 1
            group.audio_seconds += len(clip.audio) / SAMPLE_RATE
            group.model_seconds += model_seconds
            group.true_open.append(true_open[valid])
        for system, pred in preds.items():
            pred = pred[:frames]
            err, max_err = metrics.frame_errors(pred, true, ref)
            pred_open = metrics.opening(pred)
            xcorr = metrics.cross_correlation(np.where(valid, pred_open, 0.0),
                                              np.where(valid, true_open, 0.0))
            closure = pucker = shut = []
            if clip.phonemes is not None:
                duration = len(clip.audio) / SAMPLE_RATE
                closure = metrics.event_hits(pred, clip.phonemes, duration, true[valid], 'closure')
                pucker = metrics.event_hits(pred, clip.phonemes, duration, true[valid], 'pucker')
                shut = metrics.false_closures(pred, clip.phonemes, duration, true[valid])
            for key in keys:
                group = groups[key]
                group.err[system].append(err[valid])
                group.max_err[system].append(max_err[valid])
                group.open[system].append(pred_open[valid])
                group.closure[system] += closure
                group.pucker[system] += pucker
                group.shut[system] += shut
                group.xcorr[system] = group.xcorr[system] + xcorr
        # Plot the first clips of each kind (speech, sung), max_plots in all.
        kind = clip.info.get('kind')
        if len(samples) < max_plots and sum(s[0] == kind for s in samples) < max_plots // 2:
            samples.append((kind, clip.id, true_open / ref,
                            {s: metrics.opening(p[:frames]) / ref for s, p in preds.items()}))
    if 'overall' not in groups:
        raise corpus.CorpusError(f'{corpus_dir}: no clip has a frame with a face to score')
    report = {
        'overall': {k: groups['overall'].summary()[k] for k in HEADLINE},
        'details': {key: group.summary() for key, group in sorted(groups.items())},
        'model': str(model_path), 'corpus': str(corpus_dir), 'languages': languages,
        'voices': voices, 'condition': condition,
    }
    if by:
        report[f'by_{by}'] = by_table(report, by)
    if json_path:
        json_path = pathlib.Path(json_path)
        json_path.parent.mkdir(parents=True, exist_ok=True)
        write_json(json_path, report)
    plot_dir = plot_dir or (pathlib.Path(json_path).parent if json_path else None)
    if plot_dir:
        plot_openings(samples, pathlib.Path(plot_dir) / 'lip_eval_mouth_opening.png')
    return report


def plot_openings(samples, path):
    """Predicted vs true mouth opening over time for a few sample clips."""
    if not samples:
        return
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(len(samples), 1, figsize=(9, 2.4 * len(samples)), squeeze=False)
    for ax, (kind, clip_id, true_open, preds) in zip(axes[:, 0], samples):
        t = np.arange(len(true_open)) / teacher.FRAME_RATE
        ax.plot(t, true_open, 'k', lw=2, label='teacher (truth)')
        for system, style in (('model', 'C0'), ('amplitude', 'C1:'), ('viseme', 'C2--')):
            ax.plot(t, preds[system], style, lw=1.2, label=system)
        ax.set_title(f'{clip_id} ({kind})', fontsize=9)
        ax.set_ylabel('opening / width')
    axes[-1, 0].set_xlabel('time [s]')
    axes[0, 0].legend(fontsize=7, ncol=4, loc='upper right')
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
