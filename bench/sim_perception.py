"""Benchmark of the simulated head as seen by the landmark extractor (issue 4).

1. Renders --n random configurations drawn uniformly over every actuator's whole range
   and runs MediaPipe face mesh (mirror_calibration's FaceObserver, one frame at a time,
   no tracking) on each: detection rate, render time and landmark time per frame.
2. Sweeps each lip actuator alone over --levels positions across its range and measures
   how far the lip landmarks move (mean absolute displacement from neutral, face-frame
   units = eye spans), to show every lip actuator is visible to the camera.

Targets: detection_rate >= 0.99; render_ms_median < 15 at 640x480 (the node runs at 30 fps
on a shared 2-core machine); every lip response clearly above the extractor's jitter
(reported as lip_jitter: the same measure between two renders of the neutral face under
sensor noise). Writes a montage of random renders to --out. The last line is one JSON
object, with `machine` (bench/machine.py: CPU model, load before the run and a reference
workload timed in the same run, printed first too), so the times compare across machines
as a ratio to reference_ms.

Usage: .venv/bin/python bench/sim_perception.py [--n 300] [--nuisances] [--seed 0]
"""

import argparse
import json
import pathlib
import sys
import time

import cv2
import numpy as np
from machine import machine_report  # bench/ is on sys.path when run as a script
from tqdm import tqdm

from face_motor_driver.face_config import default_face_config_path, load_face_config
from face_msgs.face_layout import LIPS
from face_sim.camera import Nuisances, SimCamera
from face_sim.render import FaceRenderer
from mirror_calibration.observer import FaceObserver

ROOT = pathlib.Path(__file__).resolve().parents[1]


def random_positions(config, rng):
    return {a.name: float(rng.uniform(a.min, a.max)) for a in config.actuators}


def montage(frames, columns=4, tile_width=240):
    tiles = []
    for frame in frames:
        h, w = frame.shape[:2]
        tiles.append(cv2.resize(frame, (tile_width, round(h * tile_width / w))))
    while len(tiles) % columns:
        tiles.append(np.zeros_like(tiles[0]))
    rows = [np.concatenate(tiles[i:i + columns], axis=1) for i in range(0, len(tiles), columns)]
    return np.concatenate(rows, axis=0)


def lip_points(observer, frame):
    observation = observer.observe(frame)
    return observation.points[LIPS] if observation.detected else None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--n', type=int, default=300, help='random configurations')
    parser.add_argument('--levels', type=int, default=4,
                        help='positions per lip actuator in the response sweep (each side)')
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--nuisances', action='store_true',
                        help='turn on head motion, lighting, noise and latency')
    parser.add_argument('--out', type=pathlib.Path,
                        default=ROOT / 'build' / 'bench' / 'sim_perception.png')
    args = parser.parse_args()
    if args.n < 1 or args.levels < 1:
        parser.error('--n and --levels must be >= 1')
    machine = machine_report()  # before the run: the load others put on the machine
    print(f'machine: {machine["cpu"]}, {machine["cores"]} cores, load {machine["load_1min"]}, '
          f'reference workload {machine["reference_ms"]} ms', file=sys.stderr)

    config = load_face_config(default_face_config_path())
    rng = np.random.default_rng(args.seed)
    renderer = FaceRenderer(args.width, args.height, config, seed=args.seed)
    on = args.nuisances
    camera = SimCamera(renderer, Nuisances(on, on, on, on), seed=args.seed)
    render_ms, landmark_ms, detected, shown = [], [], 0, []
    with FaceObserver(static_images=True) as observer:
        for _ in tqdm(range(args.n), desc='random faces', unit='frame', file=sys.stderr):
            positions = random_positions(config, rng)
            started = time.perf_counter()
            frame = camera.capture(positions)
            render_ms.append((time.perf_counter() - started) * 1e3)
            started = time.perf_counter()
            observation = observer.observe(frame)
            landmark_ms.append((time.perf_counter() - started) * 1e3)
            detected += observation.detected
            if len(shown) < 12:
                shown.append(frame)

        neutral = lip_points(observer, renderer.render({}))
        noisy = SimCamera(renderer, Nuisances(noise=True), seed=args.seed + 1)
        jitter_lips = lip_points(observer, noisy.capture({}))
        jitter = (float(np.abs(jitter_lips - neutral).mean())
                  if neutral is not None and jitter_lips is not None else None)
        response = {}
        for actuator in tqdm(config.lip_actuators, desc='lip sweep', file=sys.stderr):
            levels = np.concatenate([np.linspace(actuator.min, actuator.neutral, args.levels,
                                                 endpoint=False),
                                     np.linspace(actuator.max, actuator.neutral, args.levels,
                                                 endpoint=False)])
            moves = []
            for level in levels:
                lips = lip_points(observer, renderer.render({actuator.name: float(level)}))
                if lips is not None and neutral is not None:
                    moves.append(float(np.abs(lips - neutral).mean()))
            response[actuator.name] = round(float(np.mean(moves)), 5) if moves else None

    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), cv2.cvtColor(montage(shown), cv2.COLOR_RGB2BGR))
    print(f'montage of random renders: {args.out}', file=sys.stderr)
    print(json.dumps({
        'n': args.n, 'width': args.width, 'height': args.height, 'nuisances': on,
        'detection_rate': detected / args.n,
        'render_ms_median': round(float(np.median(render_ms)), 3),
        'render_ms_p95': round(float(np.percentile(render_ms, 95)), 3),
        'landmark_ms_median': round(float(np.median(landmark_ms)), 3),
        'lip_jitter': None if jitter is None else round(jitter, 5),
        'lip_response': response,
        'machine': machine,
    }))


if __name__ == '__main__':
    main()
