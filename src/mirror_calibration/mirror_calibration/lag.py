"""mirror-lag CKPT: measure how long the face takes to show a lip command; store it in CKPT.

The lip policy leads the audio by the actuator lag so that the lips arrive with the sound.
This measures that lag on the running face the way the policy drives it: jaw_open commands
on face/lip_command at the policy's rate, each stamped to be reached by the next one, along
a smooth speech-like trajectory (sines of 0.7 to 4 Hz, within the jaw's velocity limit).
Two delays come out, each as the shift that best aligns the commanded jaw with what followed
(cross-correlation peak, parabolic sub-sample):

    servo_lag    command -> jaw position measured by the driver (face/joint_states)
    visible_lag  command -> mouth opening seen by the camera (face/landmarks, stamped at
                 capture, so the observer's processing time is not counted): servos, skin
                 and everything else between a command and a visible mouth

The servo response is also fitted as a first-order lag plus dead time (servo_time_constant,
servo_dead_time). visible_lag is written into the self-model checkpoint's metadata as
`actuator_lag` and the time constant as `servo_time_constant`, where lip_policy_node reads
them (its parameters of those names at -1): it leads the audio by the lag and feeds the
servos forward by the time constant. Run it with the calibration
graph up (driver, camera, observer), or with --graph on the simulated head:

    mirror-lag models/self_model_sim.pt --graph

This file is the command; the probe node is lag_probe, the estimator (plain numpy)
lag_estimate, and the checkpoint update lag_checkpoint.
"""

import argparse
import contextlib
import json
import pathlib
import sys

from face_common.files import write_json
from mirror_calibration.lag_checkpoint import write_lag
from mirror_calibration.lag_estimate import LagError
from mirror_calibration.lag_probe import LagProbe, measure


def plot(path, series, figures):
    import matplotlib

    matplotlib.use('Agg')
    from matplotlib import pyplot as plt

    sent_t, sent, joints, openings = series
    t0 = sent_t[0]

    def unit(x):
        return (x - x.min()) / max(x.max() - x.min(), 1e-9)

    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(sent_t - t0, unit(sent), label='jaw_open command')
    ax.plot(joints[:, 0] - t0, unit(joints[:, 1]),
            label=f'measured jaw (+{figures["servo_lag_s"] * 1000:.0f} ms)')
    ax.plot(openings[:, 0] - t0, unit(openings[:, 1]), '.', markersize=3,
            label=f'mouth opening seen (+{figures["visible_lag_s"] * 1000:.0f} ms)')
    ax.set_xlabel('time [s]')
    ax.set_ylabel('normalised')
    ax.set_title('mirror-lag: command -> servo -> camera')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog='mirror-lag', description=__doc__.split('\n')[0])
    parser.add_argument('checkpoint', help='self-model checkpoint (mirror-fit) to store it in')
    parser.add_argument('--graph', action='store_true',
                        help='start the simulated head (driver on the emulated bus, face_sim, '
                             'observer) instead of using a running graph')
    parser.add_argument('--seconds', type=float, default=15.0,
                        help='length of the jaw trajectory [s], 4..60')
    parser.add_argument('--rate', type=float, default=100.0,
                        help='command rate [Hz]: the lip policy\'s command_rate')
    parser.add_argument('--wait', type=float, default=60.0,
                        help='[s] to wait for joint states and a seen face before giving up')
    parser.add_argument('--dry-run', action='store_true',
                        help='measure and print, but leave the checkpoint unchanged')
    parser.add_argument('--out', default='',
                        help='JSON figures (default CKPT with .lag.json); the plot goes beside')
    args = parser.parse_args(argv)
    if not 4.0 <= args.seconds <= 60.0:
        parser.error('--seconds must be in [4, 60]')
    if not 0.5 <= args.wait <= 600.0:
        parser.error('--wait must be in [0.5, 600] s')
    if not 1.0 <= args.rate <= 1000.0:
        parser.error('--rate must be in [1, 1000] Hz')
    return args


def main(argv=None):
    import rclpy

    from face_common.node_processes import NodeStartError
    from face_motor_driver.face_config import (
        ConfigError,
        default_face_config_path,
        load_face_config,
    )
    from mirror_calibration.node_graph import mirror_graph
    from mirror_calibration.self_model import (
        SelfModelError,
        load_checkpoint,
        require_actuators,
    )

    args = parse_args(argv)
    out = pathlib.Path(args.out) if args.out else pathlib.Path(args.checkpoint).with_suffix(
        '.lag.json')
    rclpy.init()
    try:
        _, checkpoint = load_checkpoint(args.checkpoint)
        face = load_face_config(default_face_config_path())
        require_actuators(checkpoint, face.names)
        jaw = face.actuators[face.names.index('jaw_open')]
        graph = mirror_graph(with_calibration=False) if args.graph else contextlib.nullcontext()
        with graph:
            probe = LagProbe(face.names, [a.neutral for a in face.actuators], args.rate)
            try:
                probe.wait_for_face(args.wait)
                probe.wait_for_a_moving_face(jaw.max, args.wait)
                figures, series = measure(probe, jaw.max, jaw.max_velocity, args.seconds)
            finally:
                probe.close()
        if not args.dry_run:
            write_lag(args.checkpoint, figures)
    except (LagError, SelfModelError, ConfigError, NodeStartError, ValueError) as error:
        print(f'mirror-lag: {error}', file=sys.stderr)
        return 2
    finally:
        rclpy.try_shutdown()
    figures['written_to'] = '' if args.dry_run else str(args.checkpoint)
    out.parent.mkdir(parents=True, exist_ok=True)
    plot(out.with_suffix('.png'), series, figures)
    figures['plot'] = str(out.with_suffix('.png'))
    write_json(out, figures)
    print(json.dumps(figures))
    return 0


if __name__ == '__main__':
    sys.exit(main())
