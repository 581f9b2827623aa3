"""face-sim-sweep: a video of the simulated head moving each actuator through its range.

The quickest way to see what the hidden skin model does: every chosen actuator in turn
goes neutral -> max -> min -> neutral (a smooth cosine path) while the others rest, with
the actuator's name and position written on the frame.

Usage: face-sim-sweep OUT.mp4 [--actuators jaw_open lip_corner_left_raise ...]
       [--seconds-per-actuator 2] [--width 640 --height 480 --fps 30] [--nuisances]
"""

import argparse
import math
import pathlib
import sys

import cv2
import numpy as np
from tqdm import tqdm

from face_common.video import VideoError, write_video
from face_motor_driver.face_config import (
    ConfigError,
    default_face_config_path,
    load_face_config,
)
from face_sim.camera import Nuisances, SimCamera
from face_sim.photo import PhotoError
from face_sim.render import FaceRenderer


def sweep_path(actuator, frames):
    """Positions [rad] of one actuator over frames: neutral -> max -> min -> neutral."""
    phase = np.linspace(0.0, 1.0, frames, endpoint=False)
    wave = np.sin(2 * math.pi * phase)          # 0 -> 1 -> 0 -> -1 -> 0
    return np.where(wave >= 0, actuator.neutral + wave * (actuator.max - actuator.neutral),
                    actuator.neutral + wave * (actuator.neutral - actuator.min))


def sweep_frames(camera, actuators, frames_per_actuator):
    """Yield RGB frames of each actuator's sweep in turn, labelled."""
    for actuator in actuators:
        for position in sweep_path(actuator, frames_per_actuator):
            frame = camera.capture({actuator.name: float(position)})
            cv2.putText(frame, f'{actuator.name} {position:+.2f} rad', (10, 24),
                        cv2.FONT_HERSHEY_SIMPLEX, 0.6, (255, 255, 255), 2, cv2.LINE_AA)
            yield frame


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('out', type=pathlib.Path, help='MP4 file to write')
    parser.add_argument('--actuators', nargs='+', help='names (default: all 26)')
    parser.add_argument('--seconds-per-actuator', type=float, default=2.0)
    parser.add_argument('--width', type=int, default=640)
    parser.add_argument('--height', type=int, default=480)
    parser.add_argument('--fps', type=float, default=30.0)
    parser.add_argument('--seed', type=int, default=0, help='skin and nuisance seed')
    parser.add_argument('--nuisances', action='store_true',
                        help='head motion, lighting, noise and latency on')
    parser.add_argument('--face-config', type=pathlib.Path, default=None,
                        help='face_motors.yaml (default: the workspace config)')
    args = parser.parse_args(argv)
    if args.seconds_per_actuator <= 0 or args.fps <= 0:
        parser.error('--seconds-per-actuator and --fps must be > 0')
    try:
        config = load_face_config(args.face_config or default_face_config_path())
        actuators = ([config.actuator(n) for n in args.actuators] if args.actuators
                     else list(config.actuators))
        renderer = FaceRenderer(args.width, args.height, config, seed=args.seed)
    except (ConfigError, PhotoError) as exc:
        parser.exit(2, f'face-sim-sweep: {exc}\n')
    except KeyError as exc:
        parser.exit(2, f'face-sim-sweep: {exc.args[0]}\n')
    on = args.nuisances
    camera = SimCamera(renderer, Nuisances(on, on, on, on), args.fps, args.seed)
    per_actuator = max(4, round(args.seconds_per_actuator * args.fps))
    frames = tqdm(sweep_frames(camera, actuators, per_actuator), total=per_actuator *
                  len(actuators), desc='rendering', unit='frame', file=sys.stderr)
    try:
        count = write_video(args.out, frames, args.fps)
    except VideoError as exc:
        parser.exit(2, f'face-sim-sweep: {exc}\n')
    print(f'wrote {count} frames to {args.out}')


if __name__ == '__main__':
    main()
