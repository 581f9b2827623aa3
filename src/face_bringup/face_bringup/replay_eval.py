"""face-replay-eval BAG: run the lip policy on a recorded run and score it against the recording.

    face-record --topics /audio /face/landmarks /face/joint_states --out run1
    face-replay-eval run1 [--lip-model ...] [--self-model ...] [--retarget ...] [--realtime]

The bag's /audio chunks go through the policy core (the same code lip_policy_node runs,
with their recorded playback stamps, faster than real time), or with --realtime through a
lip_policy_node process over DDS at the recorded pace (face_bringup.live_replay; the
figures then also say how closely the live node agreed with the offline core, which shows
dropped chunks and scheduling delays); the poses it schedules are
turned into robot lips by the self-model's forward model and compared with the lips the
observer recorded (/face/landmarks): lip error (fraction of mouth width), mouth-opening
correlation and sync offset [ms] (+ = the recording lags the replayed policy). When the bag
has /face/joint_states (dense: every driver cycle), the lip actuators' recorded positions
are compared with the replayed poses too: RMS error [rad], jaw correlation and jaw sync
offset [ms], which include the actuators' lag net of the policy's lead. A plot goes beside
--out; the last line printed is one JSON object.
"""

import argparse
import json
import pathlib
import sys

import numpy as np

from face_bringup.bag import BagError, header_seconds, read_messages
from face_common.files import write_json


class ReplayError(RuntimeError):
    """The bag cannot be scored; the text says what is missing."""


def replay_policy(models, chunks):
    """(times [s], poses (n, L)) the policy commands for the recorded audio chunks (no lead),
    and how many chunks it rejected."""
    from lip_policy.lip_command import ChunkError, PolicyConfig

    policy = models.lip_policy(PolicyConfig(actuator_lag=0.0))
    rejected = 0
    for chunk in sorted(chunks, key=lambda m: m.sequence):
        stamp = header_seconds(chunk)
        try:
            policy.push(chunk, stamp, stamp)
        except ChunkError:
            rejected += 1
    policy.end_segment()
    if len(policy.times) < 10:
        raise ReplayError('the bag\'s /audio gave fewer than 10 lip frames; record at least '
                          'a second of speech')
    return *policy.paced_schedule(), rejected


def recorded_lips(landmarks):
    """(times, lips (n, 40, 3)) of the frames in which the observer saw the face."""
    from face_msgs import face_layout

    seen = [m for m in landmarks if m.detected and m.layout == face_layout.LAYOUT_NAME]
    if len(seen) < 10:
        raise ReplayError(f'the bag has {len(seen)} /face/landmarks frames with a face in '
                          f'layout {face_layout.LAYOUT_NAME}; at least 10 are needed')
    times = np.array([header_seconds(m) for m in seen])
    points = np.array([[(p.x, p.y, p.z) for p in m.points] for m in seen])
    return times, points[:, face_layout.LIPS]


def evaluate(bag, models, live=None):
    """(figures, times, predicted lips, recorded lips) of the bag; live = None for the
    offline replay, else {'params_file': ..., 'models': (lip, self, retarget paths)}."""
    from lip_policy import metrics
    from lip_policy.metrics import figures, sync_offset_ms

    wanted = ['/audio', '/face/landmarks']
    messages = read_messages(bag, wanted)
    try:
        joints = read_messages(bag, ['/face/joint_states'])['/face/joint_states']
    except BagError:
        joints = []
    if not messages['/audio']:
        raise ReplayError('the bag holds no /audio messages')
    times, poses, rejected = replay_policy(models, [m for _, m in messages['/audio']])
    extra = {'mode': 'offline'}
    if live is not None:
        from face_bringup.live_replay import live_replay

        jaw = list(models.to_actuators.names).index('jaw_open')
        offline_times, offline_poses = times, poses
        times, poses, rejected, extra = live_replay(
            messages['/audio'], models.to_actuators.names, models.to_actuators.neutral,
            live['params_file'], live['models'])
        agreed = metrics.on_times(offline_times, offline_poses, times)
        extra = {'mode': 'realtime', **extra,
                 'live_vs_offline_jaw_correlation': round(
                     metrics.pearson(agreed[:, jaw], poses[:, jaw]), 4),
                 'live_vs_offline_rms_rad': round(
                     float(np.sqrt(np.mean((agreed - poses) ** 2))), 4)}
    seen_times, seen_lips = recorded_lips([m for _, m in messages['/face/landmarks']])
    inside = (times >= seen_times[0]) & (times <= seen_times[-1])
    if inside.sum() < 10:
        raise ReplayError('the recorded landmarks do not overlap the recorded audio')
    times, poses = times[inside], poses[inside]
    predicted = models.robot_lips_of(poses)
    recorded = metrics.on_times(seen_times, seen_lips, times)
    span = seen_times[-1] - seen_times[0]
    result = {'bag': str(bag), **extra, **figures(recorded, predicted),
              'frames': int(len(times)), 'audio_chunks': len(messages['/audio']),
              'rejected_chunks': rejected,
              'landmark_rate_hz': round((len(seen_times) - 1) / span, 1) if span > 0 else 0.0}
    if result['landmark_rate_hz'] < 20:
        print(f'face-replay-eval: only {result["landmark_rate_hz"]} landmark frames per second '
              'were recorded; the landmark figures are coarse (the joint figures are not)',
              file=sys.stderr)
    if joints:
        names = list(models.to_actuators.names)
        joint_times = np.array([header_seconds(m) for _, m in joints])
        positions = np.array([[dict(zip(m.name, m.position)).get(n, np.nan) for n in names]
                              for _, m in joints])
        measured = metrics.on_times(joint_times, positions, times)
        # how many recorded joint states the speech spans (joint states are best effort: a
        # recorder starved of CPU misses some, and a jaw seen constant has no correlation)
        result['joint_states_in_speech'] = int(np.count_nonzero(
            (joint_times >= times[0]) & (joint_times <= times[-1])))
        jaw = names.index('jaw_open')
        result['lip_joint_rms_error_rad'] = round(
            float(np.sqrt(np.nanmean((measured - poses) ** 2))), 4)
        result['jaw_correlation'] = round(metrics.pearson(measured[:, jaw], poses[:, jaw]), 4)
        result['jaw_sync_offset_ms'] = round(sync_offset_ms(measured[:, jaw], poses[:, jaw]), 1)
    return result, times, predicted, recorded


def plot(path, times, predicted, recorded, result):
    import matplotlib

    matplotlib.use('Agg')
    from matplotlib import pyplot as plt

    from lip_policy import metrics

    t = times - times[0]
    fig, ax = plt.subplots(figsize=(10, 4))
    ax.plot(t, metrics.opening(recorded), color='k', label='recorded (observer)')
    ax.plot(t, metrics.opening(predicted), label='replayed policy (forward model)')
    ax.set_xlabel('time from first scored frame [s]')
    ax.set_ylabel('mouth opening [eye spans]')
    ax.set_title(f'face-replay-eval: r = {result["mouth_opening_correlation"]}, sync '
                 f'{result["sync_offset_ms"]:+.0f} ms')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(prog='face-replay-eval',
                                     description='Score the lip policy on a recorded bag.')
    parser.add_argument('bag', help='rosbag2 folder with /audio and /face/landmarks')
    parser.add_argument('--lip-model', default='', help='default models/lip_model.pt')
    parser.add_argument('--self-model', default='', help='default models/self_model_sim.pt')
    parser.add_argument('--retarget', default='', help='default models/retarget.npz')
    parser.add_argument('--realtime', action='store_true',
                        help='replay in real time through a lip_policy_node process over DDS '
                             'instead of the policy core, faster than real time')
    parser.add_argument('--config-dir', default='',
                        help='folder with lip_policy.yaml for --realtime (default: config/)')
    parser.add_argument('--out', default='', help='JSON figures (default BAG/../NAME.eval.json);'
                                                  ' the plot goes beside it')
    return parser.parse_args(argv)


def main(argv=None):
    from lip_policy.predictor import CheckpointError
    from lip_policy.retarget import RetargetError
    from lip_policy.runtime_models import load_runtime_models
    from mirror_calibration.self_model import SelfModelError

    args = parse_args(argv)
    bag = pathlib.Path(args.bag)
    out = pathlib.Path(args.out) if args.out else bag.parent / f'{bag.name}.eval.json'
    live = None
    if args.realtime:
        from face_common.workspace import config_dir

        params_file = pathlib.Path(args.config_dir or config_dir()) / 'lip_policy.yaml'
        if not params_file.is_file():
            print(f'face-replay-eval: {params_file} is missing; pass --config-dir with the '
                  'folder holding lip_policy.yaml', file=sys.stderr)
            return 2
        live = {'params_file': params_file,
                'models': (args.lip_model, args.self_model, args.retarget)}
    from face_bringup.live_replay import LiveReplayError
    from face_motor_driver.face_config import ConfigError

    try:
        models = load_runtime_models(args.lip_model, args.self_model, args.retarget)
        result, times, predicted, recorded = evaluate(bag, models, live)
    except (BagError, ReplayError, CheckpointError, SelfModelError, RetargetError,
            LiveReplayError, ConfigError) as error:
        print(f'face-replay-eval: {error}', file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    plot(out.with_suffix('.png'), times, predicted, recorded, result)
    result['plot'] = str(out.with_suffix('.png'))
    write_json(out, result)
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
