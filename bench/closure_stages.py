"""Where /p b m/ closures and /w u/ puckers are lost, stage by stage (issue #17, item 1).

    .venv/bin/python bench/closure_stages.py [--languages nl sv pl ro tr vi | all]
                                             [--no-camera] [--seal-hold S]
                                             [--out build/bench/closure_stages]

Offline, without a ROS graph. Two parts:

1. Seal check on the hidden skin model (face_sim.skin, the geometry the camera sees):
   L-BFGS-B over the lip actuators' limits (config/face_motors.yaml) for the smallest
   inner-lip gap (the centre gap the metrics read, and the largest of the 9 facing pairs)
   and the narrowest mouth; then those poses rendered (face_sim.render) and read by the
   observer (MediaPipe, as on the running head), with and without the drawn mouth cavity.
   Gaps are fractions of the mouth width; lip_policy.metrics calls a mouth closed below
   CLOSED_FRACTION (5 %) of the clip's reference width and puckered below
   1 - PUCKER_FRACTION (88 %) of its wide width.
2. Stage table: the demo sentence (espeak-ng, en) and held-out sentences
   (bench/heldout_sentences.yaml, languages the lip model never heard) through every
   stage of the chain with the real models of models/ (loaded as the policy loads them,
   lip_policy.runtime_models): teacher -> lip model -> retargeting -> inverse + forward
   self-model -> voice gate, smoothing, pacing and the seal hold (--seal-hold, the node's
   default unless given; 0 = off) -> commands (actuator lead, feed-forward)
   -> the driver's slew limit (max_velocity, cycle_rate) -> first-order servos (the
   emulator's 30 ms) -> hidden skin -> camera (render + observer, tracking, at
   --camera-rate, interpolated to 10 ms frames as lip-e2e-eval does). Each stage is
   scored with lip_policy.metrics (event_hits) against the teacher: human-space stages
   against the teacher's lips, robot-space stages against the teacher retargeted (as
   lip-e2e-eval does). Besides the recalls: open vowels (visemes AA, E, O) whose middle
   frame reads closed, the median smallest gap in each /p b m/ window (fraction of the
   reference width) and the median narrowest width in each /w u/ window (fraction of the
   wide width), how long the lips stay closed in the /p b m/ windows where they close
   (median, ms), and /o/ (not one of the metrics' puckers) rounded by the same test.
   Variants that isolate one cause: the policy without pacing, the driver without its slew
   limit, the camera at every 10 ms frame and at the unfiltered inverse's poses, the teacher
   instead of the lip model (t rows), and face_sim's renderer as it was before it covered
   the drawn mouth cavity by the local lip gap (fo: its antialiased cavity outline stayed
   visible along touching lips, and the observer read a sealed mouth as 6 % open). The
   camera rows (f) render with face_sim's renderer. The live figures recorded by
   bench/e2e_heldout.py (models/e2e_heldout.json) and the last `make demo`
   (build/demo/demo.json) are printed beside them when present.

Prints progress, the seal check, the table, and ends with one JSON line (machine report of
bench/machine.py included). The JSON also goes to --out/closure_stages.json.
"""

import argparse
import json
import os
import pathlib
import sys
import time

import numpy as np
import yaml
from machine import machine_report  # bench/ is on sys.path when run as a script

from face_motor_driver import driver_node, emulator
from lip_policy import metrics, policy_node
from lip_policy.e2e_eval import DEMO_TEXT

ROOT = pathlib.Path(__file__).resolve().parents[1]
SENTENCES = ROOT / 'bench' / 'heldout_sentences.yaml'
# Six of the lip model's 12 held-out languages (bench/e2e_heldout.py runs all of them):
# four families, and the two weakest live (tr, vi). `--languages all` runs the 12.
DEFAULT_LANGUAGES = ('nl', 'sv', 'pl', 'ro', 'tr', 'vi')
ROUNDED_O = ('O',)  # /o/: rounded (teacher round 0.7) but not among metrics' puckers (W, U)
# The driver's cycle rate and the policy's command rate are the nodes' defaults (equal to
# their YAML, test_params_files); the servo lag is the bus emulator's time constant.
DRIVER_CYCLE_RATE = driver_node.PARAMETERS['cycle_rate'].default  # [Hz]
COMMAND_RATE = policy_node.PARAMETERS['command_rate'].default  # [Hz]
SERVO_LAG = emulator.DEFAULT_LAG  # [s]
SEARCH_STARTS = 5  # L-BFGS-B starts per seal-check search (the first at neutral)
SEALED = 0.01  # skin poses whose 9 inner-lip gaps are all below this share of the width

# (key, label, space): the rows of the table, in chain order.
STAGES = (
    ('teacher', '(a) teacher lips (human space)', 'human'),
    ('teacher_robot', '(a2) teacher retargeted: the reference', 'robot'),
    ('model', '(b) lip model: predicted human lips', 'human'),
    ('retargeted', '(c) model retargeted: the inverse target', 'robot'),
    ('inverse_net', '(d0) inverse network alone -> forward', 'robot'),
    ('inverse', '(d1) inverse + 3 chord steps -> forward', 'robot'),
    ('smoothed', '(d2) + voice gate + smoothing -> forward', 'robot'),
    ('paced', '(d3) + pacing + seal hold = offline policy -> forward', 'robot'),
    ('servo_forward', '(d4) commands -> slew -> servos -> forward', 'robot'),
    ('servo_forward_unpaced', '(d4u) same, policy without pacing', 'robot'),
    ('servo_forward_noslew', '(d4n) same, paced, no driver slew limit', 'robot'),
    ('skin_inverse', '(e1) skin at d1 poses (no filters)', 'skin'),
    ('skin_paced', '(e3) skin at d3 poses (no servos)', 'skin'),
    ('skin_servo', '(e4) skin at servo positions', 'skin'),
    ('skin_servo_unpaced', '(e4u) same, policy without pacing', 'skin'),
    ('camera', '(f) camera: render + observer', 'camera'),
    ('camera_every_frame', '(f100) camera at 100 Hz', 'camera'),
    ('camera_inverse', '(f1) camera at d1 poses, 100 Hz', 'camera'),
    ('camera_outline', "(fo) f100 with face_sim's old cavity outline", 'camera'),
    ('oracle_forward', '(t1) teacher -> inverse + refine -> forward', 'robot'),
    ('oracle_skin', '(t2) teacher -> inverse + refine -> skin', 'skin'),
)


# --- metrics -----------------------------------------------------------------------------

def stage_events(pred, truth, phonemes, duration):
    """Per-event outcomes and margins of one stage's lips (n, 40, 3) against its truth."""
    from lip_policy import visemes

    n = len(pred)
    gap = metrics.opening(pred) / metrics.reference_width(truth)
    narrow = metrics.width(pred) / metrics.wide_width(truth)
    closure_windows = metrics.event_windows(phonemes, duration, n, (visemes.BILABIAL,))
    pucker_windows = metrics.event_windows(phonemes, duration, n, visemes.PUCKERED)
    closed = gap < metrics.CLOSED_FRACTION
    rounded = narrow < 1.0 - metrics.PUCKER_FRACTION  # event_hits' pucker test
    o_windows = metrics.event_windows(phonemes, duration, n, ROUNDED_O)
    return {
        'closure': metrics.event_hits(pred, phonemes, duration, truth, 'closure'),
        'pucker': metrics.event_hits(pred, phonemes, duration, truth, 'pucker'),
        'round_o': [bool(rounded[lo:hi].any()) for lo, hi in o_windows],
        'false_closed': metrics.false_closures(pred, phonemes, duration, truth),
        'closure_min_gap': [float(gap[lo:hi].min()) for lo, hi in closure_windows],
        'closure_hold_ms': [float(closed[lo:hi].sum() * 10.0) for lo, hi in closure_windows
                            if closed[lo:hi].any()],
        'pucker_min_width': [float(narrow[lo:hi].min()) for lo, hi in pucker_windows],
        'opening_r': metrics.pearson(metrics.opening(pred), metrics.opening(truth)),
    }


def summarise(events):
    """Pooled figures of a list of stage_events (one per clip)."""
    def pooled(key):
        values = [v for e in events for v in e[key]]
        return values

    def share(key):
        values = pooled(key)
        return (round(float(np.mean(values)), 3) if values else None), len(values)

    closure, n_closure = share('closure')
    pucker, n_pucker = share('pucker')
    false_closed, n_open = share('false_closed')
    round_o, n_o = share('round_o')
    gaps, widths, holds = pooled('closure_min_gap'), pooled('pucker_min_width'), \
        pooled('closure_hold_ms')
    r = [e['opening_r'] for e in events if np.isfinite(e['opening_r'])]
    return {
        'closure_recall': closure, 'closure_events': n_closure,
        'pucker_recall': pucker, 'pucker_events': n_pucker,
        'round_o_recall': round_o, 'round_o_events': n_o,
        'open_vowels_falsely_closed': false_closed, 'open_vowels': n_open,
        'closure_median_min_gap': round(float(np.median(gaps)), 4) if gaps else None,
        'closure_median_hold_ms': round(float(np.median(holds)), 1) if holds else None,
        'pucker_median_min_width': round(float(np.median(widths)), 4) if widths else None,
        'mean_opening_r': round(float(np.mean(r)), 3) if r else None,
    }


# --- the chain -----------------------------------------------------------------------------

class Chain:
    """The policy's models and the hidden face, offline."""

    def __init__(self, args):
        from face_sim.render import FaceRenderer
        from lip_policy.runtime_models import load_runtime_models

        self.args = args
        self.models = load_runtime_models(args.lip_model, args.self_model, args.retarget)
        self.to_actuators = self.models.to_actuators
        self.names = list(self.to_actuators.names)
        self.renderer = FaceRenderer(args.width, args.height, seed=args.skin_seed)
        self.outline = variant_renderer('outline', args.width, args.height, args.skin_seed)
        self.skin = self.renderer.skin
        config = {a.name: a for a in self.renderer.config.actuators}
        self.max_velocity = np.array([config[n].max_velocity for n in self.names])
        self.lead, _ = self.models.actuator_lag()
        self.servo_tau = self.models.servo_time_constant()
        from face_msgs import face_layout

        self.lip_mesh = list(face_layout.LIP_OUTER) + list(face_layout.LIP_INNER)

    # robot lips of actuator positions
    def forward(self, positions):
        return self.models.robot_lips_of(positions)

    def skin_lips(self, positions):
        """(n, L) lip actuator positions -> (n, 40, 3) lips of the hidden skin (z = 0)."""
        out = np.zeros((len(positions), len(self.lip_mesh), 3))
        for k, row in enumerate(positions):
            out[k, :, :2] = self.skin.pose(dict(zip(self.names, row))).points[self.lip_mesh]
        return out

    def camera_lips(self, positions, times, at, renderer=None):
        """Render the face at positions (m, L) taken at times (m,) [s], observe it with a
        tracking observer as the running observer_node does, and interpolate the detected
        lips onto the frame times at (n,)."""
        from face_msgs import face_layout
        from mirror_calibration.observer import FaceObserver

        seen, points = [], []
        with FaceObserver(static_images=False) as observer:
            for t, row in zip(times, positions):
                image = (renderer or self.renderer).render(dict(zip(self.names, row)))
                found = observer.observe(image)
                if found.detected:
                    seen.append(t)
                    points.append(found.points[face_layout.LIPS])
        if len(seen) < 2:
            raise RuntimeError('the observer found the face in fewer than 2 rendered frames')
        return metrics.on_times(np.array(seen), np.array(points), at)

    # the policy's commands and the driver and servos they go through
    def commands(self, audio, rate, frames, pacing=True):
        """(send times [s of audio time], (m, L) commands) as lip_policy_node sends them at
        COMMAND_RATE: each leads its pose by the actuator lag, fed forward by the servo
        time constant, paced unless pacing=False (lip-e2e-eval's offline_commands)."""
        from face_common.frames import FRAME_PERIOD
        from lip_policy.lip_command import Chunk, PolicyConfig

        config = PolicyConfig(actuator_lag=self.lead, servo_time_constant=self.servo_tau,
                              pacing=1.0 if pacing else 0.0, seal_hold=self.args.seal_hold)
        policy = self.models.lip_policy(config)
        origin = 1.0
        piece = int(rate * 0.5)
        for k, first in enumerate(range(0, len(audio), piece)):
            samples = np.asarray(audio[first:first + piece], np.float32)
            stamp = origin + first / rate
            policy.push(Chunk(int(rate), 1, samples, sequence=k), stamp, stamp - 0.5)
        policy.end_segment()
        period = 1.0 / COMMAND_RATE
        send = np.arange(-self.lead - 0.2, frames * FRAME_PERIOD + 0.3, period)
        out = []
        for s in send:
            command = policy.command(origin + s)
            out.append(policy.neutral if command is None else command.positions)
        return send, np.array(out)

    def servos(self, send, commands, at, slew=True):
        """Joint positions at times at (n,): the driver's goal slews to the newest command
        at each actuator's max_velocity every 1 / DRIVER_CYCLE_RATE, and each servo follows
        its goal as a first-order lag of SERVO_LAG (the emulator's model)."""
        dt = 1.0 / DRIVER_CYCLE_RATE
        cycles = np.arange(send[0], at[-1] + dt, dt)
        goal = commands[0].copy()
        position = goal.copy()
        step = self.max_velocity * dt
        decay = np.exp(-dt / SERVO_LAG)
        latest = np.searchsorted(send, cycles, side='right') - 1
        trace = np.empty((len(cycles), len(goal)))
        for k, j in enumerate(latest):
            target = commands[max(j, 0)]
            goal = goal + np.clip(target - goal, -step, step) if slew else target
            position = goal + (position - goal) * decay
            trace[k] = position
        return metrics.on_times(cycles, trace, at)

    def policy_poses(self, audio_16k, frames, smoothing, pacing, seal_hold=0.0):
        from lip_policy.lip_command import PolicyConfig, offline_poses

        config = PolicyConfig(pose_smoothing=smoothing, pacing=1.0 if pacing else 0.0,
                              seal_hold=seal_hold)
        return offline_poses(self.models.lip_policy(config), audio_16k)[1][:frames]

    def run_clip(self, text, voice, camera=True):
        """Every stage's lips for one sentence -> {stage key: stage_events}, extras."""
        from face_common.frames import FRAME_PERIOD
        from lip_policy import teacher
        from lip_policy.espeak import Speaker
        from lip_policy.resample import Resampler

        said = Speaker().say(text, voice=voice)
        audio, rate = np.asarray(said.audio, np.float64), said.sample_rate
        phonemes = [('', 0.0)] + [(p.ipa, p.start) for p in said.phonemes]
        duration = len(audio) / rate
        frames = int(duration / FRAME_PERIOD)
        resampler = Resampler(rate)
        audio_16k = np.concatenate([resampler.push(audio), resampler.flush()])
        human_truth, _ = teacher.teach(phonemes, duration, frames)
        retargeting = self.to_actuators.retargeting
        robot_truth = retargeting(human_truth)
        predictor = self.models.predictor
        model_lips = predictor.to_lips(predictor.predict_coefficients(audio_16k))[:frames]
        target = retargeting(model_lips)
        net = self.to_actuators.robot_lips_to_actuators(target, refine_steps=0)
        refined = self.to_actuators.robot_lips_to_actuators(target)
        smoothed = self.policy_poses(audio_16k, frames, 2, pacing=False)
        paced = self.policy_poses(audio_16k, frames, 2, pacing=True,
                                  seal_hold=self.args.seal_hold)
        at = np.arange(frames) * FRAME_PERIOD
        send, commands = self.commands(audio, rate, frames)
        servo = self.servos(send, commands, at)
        send_u, commands_u = self.commands(audio, rate, frames, pacing=False)
        servo_unpaced = self.servos(send_u, commands_u, at)
        servo_noslew = self.servos(send, commands, at, slew=False)
        oracle = self.to_actuators(human_truth)
        lips = {
            'teacher': human_truth, 'teacher_robot': robot_truth, 'model': model_lips,
            'retargeted': target, 'inverse_net': self.forward(net),
            'inverse': self.forward(refined), 'smoothed': self.forward(smoothed),
            'paced': self.forward(paced), 'servo_forward': self.forward(servo),
            'servo_forward_unpaced': self.forward(servo_unpaced),
            'servo_forward_noslew': self.forward(servo_noslew),
            'skin_inverse': self.skin_lips(refined), 'skin_paced': self.skin_lips(paced),
            'skin_servo': self.skin_lips(servo),
            'skin_servo_unpaced': self.skin_lips(servo_unpaced),
            'oracle_forward': self.forward(oracle), 'oracle_skin': self.skin_lips(oracle),
        }
        if camera:
            camera_times = np.arange(0.0, duration, 1.0 / self.args.camera_rate)
            lips['camera'] = self.camera_lips(
                self.servos(send, commands, camera_times), camera_times, at)
            lips['camera_every_frame'] = self.camera_lips(servo, at, at)
            lips['camera_inverse'] = self.camera_lips(refined, at, at)
            lips['camera_outline'] = self.camera_lips(servo, at, at, self.outline)
        spaces = {key: space for key, _, space in STAGES}
        events = {key: stage_events(value, human_truth if spaces[key] == 'human'
                                    else robot_truth, phonemes, duration)
                  for key, value in lips.items()}
        # how often the commands ask for more than the driver's slew limit allows
        speed = np.abs(np.diff(commands, axis=0)) * COMMAND_RATE
        speed_u = np.abs(np.diff(commands_u, axis=0)) * COMMAND_RATE
        extras = {
            'frames': frames,
            'commands_over_slew_limit': round(float((speed > self.max_velocity * 1.001)
                                                    .any(axis=1).mean()), 3),
            'unpaced_commands_over_slew_limit': round(float(
                (speed_u > self.max_velocity * 1.001).any(axis=1).mean()), 3),
        }
        return events, extras


# --- the seal check ------------------------------------------------------------------------

def variant_renderer(kind, width, height, seed):
    """A FaceRenderer that draws the mouth cavity differently from face_sim's: kind
    'no_cavity' draws none (the photo's closed lips only), to tell what the observer reads
    from the drawn opening from what it reads from the lips; 'outline' draws it as face_sim
    did before it covered each column by the local lip gap (face_sim.warp's
    cavity_coverage), so touching lips keep a thin antialiased line of cavity colour."""
    from face_sim.render import FaceRenderer

    class _Variant(FaceRenderer):
        def _draw_mouth(self, image, points, jaw_shift):
            if kind == 'no_cavity':
                return None
            return super()._draw_mouth(image, points, jaw_shift)

        def cavity_coverage(self, points, columns):
            return np.ones(len(columns), np.float32)

    if kind not in ('no_cavity', 'outline'):
        raise ValueError(f'unknown renderer variant {kind!r}')
    return _Variant(width, height, seed=seed)


def seal_check(chain, args):
    """Smallest inner-lip gap and narrowest mouth the hidden skin reaches within the limits,
    and what the observer reads at those poses."""
    from scipy.optimize import minimize

    from face_msgs import face_layout
    from face_sim import skin as skin_module
    from mirror_calibration.observer import FaceObserver

    skin = chain.skin
    actuators = {a.name: a for a in chain.renderer.config.actuators}
    upper, lower = list(skin_module.UPPER_INNER_LIP), list(skin_module.LOWER_INNER_LIP)
    centre = upper.index(13)
    corners = (skin_module.MOUTH_CORNER_RIGHT, skin_module.MOUTH_CORNER_LEFT)
    neutral_points = skin.pose({}).points
    neutral_width = float(np.linalg.norm(neutral_points[corners[1]] - neutral_points[corners[0]]))

    def shape(names, x):
        points = skin.pose(dict(zip(names, x))).points
        gaps = points[upper, 1] - points[lower, 1]
        return gaps, float(np.linalg.norm(points[corners[1]] - points[corners[0]]))

    def search(names, objective, seed):
        lo = np.array([actuators[n].min for n in names])
        hi = np.array([actuators[n].max for n in names])
        rng = np.random.default_rng(seed)
        found = []
        for k in range(SEARCH_STARTS):
            start = np.array([actuators[n].neutral for n in names]) if k == 0 else \
                rng.uniform(lo, hi)
            result = minimize(lambda x: objective(*shape(names, x)), start, method='L-BFGS-B',
                              bounds=list(zip(lo, hi)))
            found.append(result)
        found.sort(key=lambda r: r.fun)
        return found

    lips_only = list(chain.names)
    with_chin = lips_only + ['chin_raise']
    results = {}
    poses_to_observe = {}
    for label, names, objective in (
            ('min_centre_gap', lips_only, lambda g, w: g[centre] / w),
            ('min_max_gap', lips_only, lambda g, w: g.max() / w),
            ('min_max_gap_with_chin', with_chin, lambda g, w: g.max() / w),
            ('narrowest', lips_only, lambda g, w: w / neutral_width)):
        print(f'seal check: searching {label} over {len(names)} actuators...', flush=True)
        found = search(names, objective, seed=len(results))
        gaps, width = shape(names, found[0].x)
        results[label] = {
            'centre_gap_over_width': round(float(gaps[centre] / width), 5),
            'max_pair_gap_over_width': round(float(gaps.max() / width), 5),
            'width_over_neutral_width': round(width / neutral_width, 4),
            'pose': {n: round(float(v), 3) for n, v in zip(names, found[0].x)},
        }
        poses_to_observe[label] = [dict(zip(names, r.x)) for r in found]
    pressed = {'jaw_open': actuators['jaw_open'].min}
    for name in lips_only:
        if name.startswith(('upper_lip', 'lower_lip')):
            pressed[name] = actuators[name].min
    gaps, width = shape(list(pressed), list(pressed.values()))
    results['pressed'] = {'centre_gap_over_width': round(float(gaps[centre] / width), 5),
                          'max_pair_gap_over_width': round(float(gaps.max() / width), 5),
                          'pose': pressed}
    poses_to_observe['pressed'] = [pressed]
    neutral_gaps, _ = shape([], [])
    results['neutral'] = {'centre_gap_over_width': round(float(neutral_gaps[centre]
                                                               / neutral_width), 4),
                          'width': round(neutral_width, 4)}

    # What the camera reads: every sealed pose the searches found (all 9 gaps below SEALED
    # of the width in the skin), and the narrowest ones, rendered with and without the cavity.
    plain = variant_renderer('no_cavity', args.width, args.height, args.skin_seed)
    outline = variant_renderer('outline', args.width, args.height, args.skin_seed)
    observed = {}
    with FaceObserver(static_images=True) as observer:
        def read(renderer, pose):
            found = observer.observe(renderer.render(pose))
            lips = found.points[None, face_layout.LIPS] if found.detected else None
            if lips is None:
                return None
            return (float(metrics.opening(lips)[0] / metrics.width(lips)[0]),
                    float(metrics.width(lips)[0]))

        neutral_seen = read(chain.renderer, {})
        for label, poses in poses_to_observe.items():
            sealed = []
            for pose in poses:
                gaps, width = shape(list(pose), list(pose.values()))
                if label == 'narrowest' or gaps.max() / width < SEALED:
                    sealed.append(pose)
            rows = [(read(chain.renderer, p), read(plain, p), read(outline, p))
                    for p in sealed]
            rows = [row for row in rows if None not in row]
            if not rows:
                continue
            observed[label] = {
                'poses': len(rows),
                'observed_gap_over_width': [round(a[0], 4) for a, _, _ in rows],
                'observed_gap_without_cavity': [round(b[0], 4) for _, b, _ in rows],
                'observed_gap_old_outline': [round(c[0], 4) for _, _, c in rows],
                'observed_width_over_neutral': [round(a[1] / neutral_seen[1], 4)
                                                for a, _, _ in rows],
            }
    sealed_reads = [v for k, o in observed.items() if k != 'narrowest'
                    for v in o['observed_gap_over_width']]
    summary = {
        'skin_min_gap_over_width': min(r['max_pair_gap_over_width'] for k, r in results.items()
                                       if k.startswith(('min_', 'pressed'))),
        'skin_min_centre_gap_over_width': min(r['centre_gap_over_width']
                                              for k, r in results.items()
                                              if k.startswith(('min_', 'pressed'))),
        'skin_narrowest_width_over_neutral': results['narrowest']['width_over_neutral_width'],
        'skin_has_depth': False,  # SkinPose is 2-D: no protrusion can be simulated
        'closed_threshold': metrics.CLOSED_FRACTION,
        'pucker_threshold_width': round(1 - metrics.PUCKER_FRACTION, 3),
        'observed_neutral_gap_over_width': round(neutral_seen[0], 4),
        'observed_sealed_gap_min': round(min(sealed_reads), 4) if sealed_reads else None,
        'observed_sealed_gap_median': round(float(np.median(sealed_reads)), 4)
        if sealed_reads else None,
        'observed_narrowest_width_over_neutral': min(
            observed.get('narrowest', {}).get('observed_width_over_neutral', [None]) or [None]),
    }
    return {'summary': summary, 'skin': results, 'observed': observed}


# --- reporting -----------------------------------------------------------------------------

def live_figures(languages):
    """Closure and pucker recall recorded live through the camera, when the files exist."""
    out = {}
    heldout = ROOT / 'models' / 'e2e_heldout.json'
    if heldout.is_file():
        data = json.loads(heldout.read_text())
        per = {k: v.get('bilabial_closure_recall') for k, v in data.get('languages', {}).items()
               if k in languages}
        values = [v for v in per.values() if v is not None]
        out['heldout'] = {'source': str(heldout.relative_to(ROOT)), 'closure_recall': per,
                          'mean_closure_recall': round(float(np.mean(values)), 3)
                          if values else None}
    demo = ROOT / 'build' / 'demo' / 'demo.json'
    if demo.is_file():
        data = json.loads(demo.read_text())
        out['demo'] = {'source': str(demo.relative_to(ROOT)),
                       'closure_recall': data.get('bilabial_closure_recall'),
                       'pucker_recall': data.get('pucker_recall'),
                       'offline_closure_recall': data.get('offline_policy', {}).get(
                           'bilabial_closure_recall'),
                       'observations_per_s': data.get('observations_per_s')}
    return out


def fmt(value, digits=2):
    return '-' if value is None else f'{value:.{digits}f}'


def print_table(table, stages_run):
    print('\n| stage | demo closure | demo pucker | demo open->closed | held-out closure '
          '| held-out pucker | held-out open->closed | min gap at /p b m/ (held-out, '
          'median) | closed hold [ms] | min width at /w u/ (held-out) | /o/ rounded '
          '(held-out) | r (held-out) |')
    print('|---|---|---|---|---|---|---|---|---|---|---|---|')
    for key, label, _ in STAGES:
        if key not in stages_run:
            continue
        d, h = table['demo'][key], table['heldout'][key]
        print(f'| {label} | {fmt(d["closure_recall"])} ({d["closure_events"]}) '
              f'| {fmt(d["pucker_recall"])} ({d["pucker_events"]}) '
              f'| {fmt(d["open_vowels_falsely_closed"])} ({d["open_vowels"]}) '
              f'| {fmt(h["closure_recall"])} ({h["closure_events"]}) '
              f'| {fmt(h["pucker_recall"])} ({h["pucker_events"]}) '
              f'| {fmt(h["open_vowels_falsely_closed"])} ({h["open_vowels"]}) '
              f'| {fmt(h["closure_median_min_gap"], 3)} '
              f'| {fmt(h["closure_median_hold_ms"], 0)} '
              f'| {fmt(h["pucker_median_min_width"], 3)} '
              f'| {fmt(h["round_o_recall"])} ({h["round_o_events"]}) '
              f'| {fmt(h["mean_opening_r"])} |')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--languages', nargs='+', default=list(DEFAULT_LANGUAGES),
                        help="held-out languages of bench/heldout_sentences.yaml, or 'all' "
                             "for the lip model's held-out list (default: %(default)s)")
    parser.add_argument('--no-camera', action='store_true',
                        help='skip the rendered camera stages (f)')
    parser.add_argument('--no-seal-check', action='store_true')
    parser.add_argument('--camera-rate', type=float, default=30.0, help='[Hz] as face_sim')
    parser.add_argument('--width', type=int, default=480)
    parser.add_argument('--height', type=int, default=360)
    parser.add_argument('--skin-seed', type=int, default=0)
    parser.add_argument('--seal-hold', type=float,
                        default=policy_node.PARAMETERS['seal_hold'].default,
                        help="[s] the policy's seal hold in the paced rows and the commands "
                             "(d3 on; d2 is smoothing alone); 0 = off (default: the node's, "
                             "%(default)s)")
    parser.add_argument('--lip-model', default='', help='default models/lip_model.pt')
    parser.add_argument('--self-model', default='', help='default models/self_model_sim.pt')
    parser.add_argument('--retarget', default='', help='default models/retarget.npz')
    parser.add_argument('--out', type=pathlib.Path,
                        default=ROOT / 'build' / 'bench' / 'closure_stages')
    args = parser.parse_args()
    from lip_policy.predictor import limit_math_threads

    limit_math_threads(1)
    sentences = yaml.safe_load(SENTENCES.read_text(encoding='utf-8'))
    if args.languages == ['all']:
        from lip_policy.predictor import load_checkpoint
        from lip_policy.runtime_models import model_path

        training = load_checkpoint(model_path(args.lip_model, 'lip_model'))[3]
        args.languages = list(training.get('excluded_languages', []))
    missing = [lang for lang in args.languages if lang not in sentences]
    if missing:
        parser.error(f'no sentence for {missing} in {SENTENCES}')
    machine = machine_report()
    print(f'machine: {machine["cpu"]}, {machine["cores"]} cores, load {machine["load_1min"]}, '
          f'reference workload {machine["reference_ms"]} ms', flush=True)
    started = time.monotonic()
    chain = Chain(args)
    print(f'models loaded: actuator lead {chain.lead * 1000:.0f} ms, servo feed-forward '
          f'{chain.servo_tau * 1000:.0f} ms, lip max_velocity {chain.max_velocity.tolist()}',
          flush=True)
    result = {'machine': machine, 'seal_hold': args.seal_hold}
    if not args.no_seal_check:
        seal = seal_check(chain, args)
        result['seal_check'] = seal
        s = seal['summary']
        print(f'seal check: skin neutral gap {seal["skin"]["neutral"]["centre_gap_over_width"]}'
              f' of the width; smallest gap the skin reaches {s["skin_min_gap_over_width"]} '
              f'(centre {s["skin_min_centre_gap_over_width"]}), closed below '
              f'{s["closed_threshold"]}; narrowest mouth {s["skin_narrowest_width_over_neutral"]}'
              f' of neutral (pucker below {s["pucker_threshold_width"]} of the wide width); the'
              f' observer reads sealed skin as {s["observed_sealed_gap_min"]}..'
              f'{s["observed_sealed_gap_median"]} (min..median) open, neutral as '
              f'{s["observed_neutral_gap_over_width"]}; narrowest as '
              f'{s["observed_narrowest_width_over_neutral"]} of neutral', flush=True)
        for label, o in seal['observed'].items():
            print(f'  {label}: observed gap {o["observed_gap_over_width"]}, without the drawn '
                  f'cavity {o["observed_gap_without_cavity"]}, with the old cavity outline '
                  f'{o["observed_gap_old_outline"]}, width / neutral '
                  f'{o["observed_width_over_neutral"]}', flush=True)
    clips = [('demo', 'en', DEMO_TEXT)] + [(lang, lang, sentences[lang])
                                           for lang in args.languages]
    per_clip, extras = {}, {}
    for i, (name, voice, text) in enumerate(clips, 1):
        t0 = time.monotonic()
        per_clip[name], extras[name] = chain.run_clip(text, voice, camera=not args.no_camera)
        paced, camera = per_clip[name]['paced'], per_clip[name].get('camera')
        print(f'[{i}/{len(clips)}] {name}: closures {sum(paced["closure"])}/'
              f'{len(paced["closure"])} offline policy, '
              f'{"-" if camera is None else sum(camera["closure"])} camera; '
              f'puckers {sum(paced["pucker"])}/{len(paced["pucker"])} offline '
              f'({time.monotonic() - t0:.0f} s)', flush=True)
    stages_run = [key for key, _, _ in STAGES if key in per_clip['demo']]
    table = {'demo': {k: summarise([per_clip['demo'][k]]) for k in stages_run},
             'heldout': {k: summarise([per_clip[lang][k] for lang in args.languages])
                         for k in stages_run}}
    per_language = {lang: {k: summarise([per_clip[lang][k]]) for k in stages_run}
                    for lang in args.languages}
    print_table(table, stages_run)
    live = live_figures(args.languages)
    if live:
        print('\nlive, through the camera (recorded runs): ' + json.dumps(live))
    result.update({'languages': args.languages, 'stages': {k: label for k, label, _ in STAGES
                                                           if k in stages_run},
                   'table': table, 'per_language': per_language, 'clip_extras': extras,
                   'live_recorded': live, 'seconds': round(time.monotonic() - started, 1),
                   'load_1min_end': round(os.getloadavg()[0], 2)})
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / 'closure_stages.json').write_text(json.dumps(result, indent=1))
    print(json.dumps(result))
    return 0


if __name__ == '__main__':
    sys.exit(main())
