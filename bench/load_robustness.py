"""The demo under load: the demo sentence through the camera with 0, 1 and 2 CPU hogs.

Each hog is a process keeping one core busy at normal priority (face_bringup.cpu_load), as
vision, speech or navigation would on a robot's shared computer; this 2-core machine is then
oversubscribed by the face's own graph (driver + bus emulator, lip policy, face_sim,
observer, audio player, recorder) plus the hogs. Per level: lip-e2e-eval --through camera on
the demo sentence, its mouth-opening r against the teacher, sync offset, the lip policy's
lost chunks (its /diagnostics) and how closely the live commands follow the offline
policy's (live_vs_offline_r). The last line is one JSON object.

Targets (issue 13): with 2 hogs r >= 0.7 and no lost chunk.

Usage: .venv/bin/python bench/load_robustness.py [--hogs 0 1 2] [--runs 1]
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys

from machine import machine_report

from face_bringup.cpu_load import cpu_hogs
from lip_policy.e2e_eval import DEMO_TEXT

ROOT = pathlib.Path(__file__).resolve().parents[1]


def one_run(hogs, out):
    """lip-e2e-eval with `hogs` busy processes beside it -> its figures (or the failure)."""
    env = dict(os.environ)
    env.setdefault('ROS_DOMAIN_ID', str(int.from_bytes(os.urandom(2), 'little') % 100 + 1))
    env['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    command = [str(ROOT / '.venv' / 'bin' / 'lip-e2e-eval'), '--text', DEMO_TEXT,
               '--through', 'camera', '--out', str(out)]
    with cpu_hogs(hogs, seconds=600):
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    lines = done.stdout.strip().splitlines()
    if done.returncode not in (0, 3) or not lines:
        return {'error': done.stderr[-1500:], 'exit_code': done.returncode}
    figures = json.loads(lines[-1])
    return {'r': figures['mouth_opening_correlation'],
            'sync_ms': figures['sync_offset_ms'],
            'lost_chunks': figures['policy'].get('chunks_lost'),
            'live_vs_offline_r': figures['live_commands_vs_offline_jaw_r'],
            'hurried_frames': figures['policy'].get('hurried_frames'),
            'hop_compute_p99_ms': figures['policy'].get('hop_compute_p99_ms'),
            'observations_per_s': figures['observations_per_s'],
            'command_gap_max_ms': figures['command_gap_max_ms'],
            'observation_gap_max_ms': figures['observation_gap_max_ms'],
            'exit_code': done.returncode}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--hogs', type=int, nargs='+', default=[0, 1, 2])
    parser.add_argument('--runs', type=int, default=1, help='runs per level')
    parser.add_argument('--out', type=pathlib.Path, default=ROOT / 'build' / 'bench' / 'load')
    args = parser.parse_args()
    machine = machine_report()
    print(f'machine: {machine}', flush=True)
    levels = {}
    for hogs in args.hogs:
        runs = []
        for k in range(args.runs):
            figures = one_run(hogs, args.out / f'hogs{hogs}_{k}.json')
            print(f'{hogs} hogs, run {k + 1}: {figures}', flush=True)
            runs.append(figures)
        levels[str(hogs)] = runs[0] if args.runs == 1 else runs
    print(json.dumps({'sentence': DEMO_TEXT, 'levels': levels, 'machine': machine}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
