"""End to end on every held-out language: lip-e2e-eval once per language, then the summary.

    .venv/bin/python bench/e2e_heldout.py [--through camera] [--languages nl sv ...]
                                          [--lip-model CKPT] [--self-model CKPT]

The languages are the lip model's held-out ones (excluded_languages in its checkpoint),
each speaking its sentence of bench/heldout_sentences.yaml through the whole running
system on the simulated head (audio_player -> lip_policy -> driver on the emulated bus ->
face_sim -> observer), one after another (about a minute each). Prints one line per
language, writes each run's JSON and plot plus a summary plot (summary.png) to --out, and
ends with one JSON line: per-language figures (with bilabial closure recall, pucker recall
and open vowels falsely closed, live and offline), the mean and the lowest mouth-opening
correlation, the largest sync offset, and whether the issue's targets hold (mean
correlation at least 0.8, every sync offset within +-20 ms). `machine` (bench/machine.py: CPU
model, load before the run, a reference workload timed in the same run) is printed first
and goes into that line with the load at the end (load_1min_end): the live figures depend
on how busy the machine was. --self-model runs the policy on another self-model, whose
metadata (actuator_lag, servo_time_constant) also times the commands: a way to try another
lead or feed-forward without changing the shipped one.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

import numpy as np
import yaml
from machine import machine_report  # bench/ is on sys.path when run as a script

ROOT = pathlib.Path(__file__).resolve().parents[1]
SENTENCES = ROOT / 'bench' / 'heldout_sentences.yaml'
TARGET_CORRELATION = 0.8
TARGET_SYNC_MS = 20.0


def held_out_languages(lip_model):
    from lip_policy.predictor import load_checkpoint

    training = load_checkpoint(lip_model)[3]
    return list(training.get('excluded_languages', []))


def run_one(language, text, args):
    out = args.out / f'{language}.json'
    script = pathlib.Path(sys.executable).parent / 'lip-e2e-eval'
    command = [str(script), '--voice', language, '--text', text, '--through', args.through,
               '--lip-model', str(args.lip_model), '--self-model', str(args.self_model),
               '--out', str(out)]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return {'error': (done.stderr or done.stdout).strip().splitlines()[-1:]}
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    figures['seconds'] = round(time.monotonic() - started, 1)
    return figures


def plot(results, path):
    import matplotlib

    matplotlib.use('Agg')
    from matplotlib import pyplot as plt

    names = [k for k, v in results.items() if 'error' not in v]
    live = [results[k]['mouth_opening_correlation'] for k in names]
    offline = [results[k]['offline_policy']['mouth_opening_correlation'] for k in names]
    x = np.arange(len(names))
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.bar(x - 0.2, offline, 0.4, label='offline policy (no servos, no camera)')
    ax.bar(x + 0.2, live, 0.4, label='robot, live through the camera')
    ax.axhline(TARGET_CORRELATION, color='k', ls='--', lw=1, label='target')
    ax.set_xticks(x, names)
    ax.set_ylim(0.5, 1.0)
    ax.set_ylabel('mouth-opening correlation with the teacher')
    ax.set_title('Held-out languages, end to end on the simulated head')
    ax.legend(fontsize=8, loc='lower right')
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--through', choices=('camera', 'forward'), default='camera')
    parser.add_argument('--languages', nargs='+', default=None,
                        help='default: every held-out language of the lip model')
    parser.add_argument('--lip-model', type=pathlib.Path,
                        default=ROOT / 'models' / 'lip_model.pt')
    parser.add_argument('--self-model', type=pathlib.Path,
                        default=ROOT / 'models' / 'self_model_sim.pt',
                        help='self-model checkpoint (its actuator lag and servo time constant '
                        'time the commands)')
    parser.add_argument('--out', type=pathlib.Path, default=ROOT / 'build' / 'e2e_heldout')
    args = parser.parse_args()
    sentences = yaml.safe_load(SENTENCES.read_text(encoding='utf-8'))
    languages = args.languages or held_out_languages(args.lip_model)
    missing = [lang for lang in languages if lang not in sentences]
    if missing:
        parser.error(f'no sentence for {missing} in {SENTENCES}; add one per language')
    args.out.mkdir(parents=True, exist_ok=True)
    machine = machine_report()  # before the run: the load others put on the machine
    print(f'machine: {machine["cpu"]}, {machine["cores"]} cores, load {machine["load_1min"]}, '
          f'reference workload {machine["reference_ms"]} ms', flush=True)
    results = {}
    for i, language in enumerate(languages, 1):
        figures = run_one(language, sentences[language], args)
        results[language] = figures
        if 'error' in figures:
            print(f'[{i}/{len(languages)}] {language}: failed: {figures["error"]}', flush=True)
            continue
        print(f'[{i}/{len(languages)}] {language}: r {figures["mouth_opening_correlation"]:.3f} '
              f'(offline {figures["offline_policy"]["mouth_opening_correlation"]:.3f}), sync '
              f'{figures["sync_offset_ms"]:+.1f} ms, closures '
              f'{figures["bilabial_closure_recall"]} (offline '
              f'{figures["offline_policy"]["bilabial_closure_recall"]}), puckers '
              f'{figures["pucker_recall"]}, open vowels closed '
              f'{figures["open_vowels_falsely_closed"]}, lip error {figures["lip_error"]:.3f} '
              f'({figures["seconds"]:.0f} s)', flush=True)
    good = {k: v for k, v in results.items() if 'error' not in v}
    correlation = [v['mouth_opening_correlation'] for v in good.values()]
    sync = [v['sync_offset_ms'] for v in good.values()]
    events = ('bilabial_closure_recall', 'pucker_recall', 'open_vowels_falsely_closed')

    def mean_of(key, source=lambda v: v):
        values = [source(v)[key] for v in good.values() if source(v).get(key) is not None]
        return round(float(np.mean(values)), 4) if values else None

    summary = {
        'through': args.through,
        'languages': {k: {'mouth_opening_correlation': v['mouth_opening_correlation'],
                          'offline_correlation': v['offline_policy'][
                              'mouth_opening_correlation'],
                          'sync_offset_ms': v['sync_offset_ms'],
                          **{key: v.get(key) for key in events},
                          **{f'offline_{key}': v['offline_policy'].get(key) for key in events},
                          'lip_error': v['lip_error']} for k, v in good.items()},
        'failed': sorted(set(results) - set(good)),
        'machine': machine,
        'load_1min_end': round(os.getloadavg()[0], 2),
    }
    if good:
        plot(results, args.out / 'summary.png')
        summary.update({
            'mean_correlation': round(float(np.mean(correlation)), 4),
            'min_correlation': round(float(np.min(correlation)), 4),
            'languages_at_target': int(sum(c >= TARGET_CORRELATION for c in correlation)),
            'max_abs_sync_ms': round(float(np.max(np.abs(sync))), 1),
            'mean_closure_recall': mean_of('bilabial_closure_recall'),
            'mean_pucker_recall': mean_of('pucker_recall'),
            'mean_open_vowels_falsely_closed': mean_of('open_vowels_falsely_closed'),
            'offline_mean_closure_recall': mean_of('bilabial_closure_recall',
                                                   lambda v: v['offline_policy']),
            'offline_mean_pucker_recall': mean_of('pucker_recall', lambda v: v['offline_policy']),
            'meets_targets': bool(np.mean(correlation) >= TARGET_CORRELATION
                                  and np.max(np.abs(sync)) <= TARGET_SYNC_MS
                                  and not summary['failed']),
            'plot': str(args.out / 'summary.png'),
        })
    print(json.dumps(summary))
    return 0 if good and not summary['failed'] else 1


if __name__ == '__main__':
    sys.exit(main())
