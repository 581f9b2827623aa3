"""lip-e2e-eval: sound in, robot lips out, through the whole running system.

    lip-e2e-eval --text "Bob, would you bump the map?" [--voice en] [--source speech]
    lip-e2e-eval --audio speech.wav

audio_player_node -> lip_policy_node -> face_motor_driver_node on the emulated bus (real servo
dynamics: lag and slew) -> robot lips, recorded in real time over DDS. The voice (--source):

  player   audio_player_node publishes the clip on /audio, --lookahead ahead of its
           playback stamps, once the policy and this recorder listen (the default)
  speech   speech_node, the face's voice, runs in the graph (null output: a virtual DAC on
           the monotonic clock) and this process sends it one Say goal holding the clip's
           samples (those espeak-ng made for --text, so the phoneme truth stays exact); the
           node plays them and publishes what it plays on /audio, stamped with playback
           time. The figures are computed from those chunks, and `say` in the figures holds
           the goal's result, how many feedback messages arrived, and whether the node
           published exactly the clip on a gapless timeline (make demo uses this)

The robot lips are read one of two ways (--through):

  camera   face_sim_node renders the face from the actual actuator positions and
           observer_node extracts landmarks (the full mirror; needs both console scripts)
  forward  the self-model's forward model applied to the measured joint positions of
           face/joint_states (a stand-in for camera + observer when face_sim is absent)
  auto     camera when face_sim_node is installed, else forward (the default)

Ground truth in robot space: for --text, the teacher's lips (espeak-ng phoneme timing ->
lip_policy.teacher) retargeted into the robot's lip space; for --audio there is no phoneme
timing, so the reference is the policy's own offline output (runtime fidelity only). Both
are also compared with the offline policy (model + retargeting + inverse + forward without
ROS, servos or timing) to separate model error from run-time error.

Figures: lip error (mean point distance / reference mouth width), mouth-opening Pearson
correlation, bilabial closure recall (/p b m/ within +-40 ms), and the audio-to-lip sync
offset [ms] (lag maximising the cross-correlation of mouth opening; positive = lips late),
which includes actuator lag: lip_policy.metrics.figures, as every evaluation reports them.
A plot goes next to --out; the last line is one JSON object. The recording over DDS is
e2e_recorder's.

Under load: the face's driver, policy and voice (audio player or speech node) run
real-time (their own `scheduling`); the instruments (face_sim, observer, the recorder in
this process) run at INSTRUMENT_NICE, above other work and below the face. The figures also
carry the policy's /diagnostics counts and live_commands_vs_offline_jaw_r; the exit code is
3 when audio was lost or that r is below 0.9, or (--source speech) when the Say goal did not
play the clip to the end, no feedback arrived, or the published audio is not the clip on a
gapless timeline.
"""

import argparse
import array
import json
import pathlib
import sys

import numpy as np

from face_common.files import write_json
from face_common.frames import FRAME_PERIOD
from face_common.scheduling import INSTRUMENT_NICE, niceness
from face_common.time import stamp_seconds
from lip_policy import metrics, visemes
from lip_policy.e2e_recorder import E2EError, Recorder, health_figures
from lip_policy.lip_command import Chunk

# The run fails (exit code FAILED) when audio was lost or the live commands follow the
# offline policy less closely than this: then the figures judge the machine, not the policy.
# the sentence `make demo` speaks (scripts/demo.sh) and the benches that measure the demo use
DEMO_TEXT = 'Bob, would you bring me the warm blue map? We will move it by noon.'
MIN_LIVE_VS_OFFLINE = 0.9
FAILED = 3
JAW = 'jaw_open'  # the actuator whose commands are compared with the offline policy's
COMMAND_GAP = 0.1  # [s] frames this far from any command had none in force
OFFLINE_CHUNK = 0.5  # [s] audio per chunk for the offline commands
# speech_node's overrides on top of config/face_speech.yaml for --source speech: the null
# output (a virtual DAC on the monotonic clock), so a run never depends on a sound device
SPEECH = {'output': 'null'}
SOURCES = {'player': 'audio_player_node', 'speech': 'speech_node'}
# [s] longest wait for the graph to come up (each wait ends as soon as it has): node start-up
# (imports, models) takes seconds on a quiet machine and much longer on a loaded one
STARTUP_TIMEOUT = 120.0
TIMELINE_TOLERANCE_MS = 1.0  # [ms] largest gap or overlap between consecutive /audio chunks


def _workspace():
    from face_motor_driver.face_config import config_dir

    return config_dir().parent


def _script(name):
    """The path of console script `name`, or None when it is not installed."""
    from face_common.node_processes import NodeStartError, find_script

    try:
        return find_script(name)
    except NodeStartError:
        return None


def _running(specs):
    """The NodeSpecs running as NodeProcesses, all of them stopped (and their logs closed)
    on exit: face_common.graphs.running."""
    from face_common.graphs import running

    return running(specs)


class Evaluation:
    def __init__(self, args):
        from lip_policy.audio_clip import load_audio_file
        from lip_policy.runtime_models import load_runtime_models, model_path

        self.args = args
        self.lip_model = model_path(args.lip_model, 'lip_model')
        self.self_model_path = model_path(args.self_model, 'self_model')
        self.retarget_path = model_path(args.retarget, 'retarget')
        self.models = load_runtime_models(self.lip_model, self.self_model_path,
                                          self.retarget_path)
        self.predictor, self.self_model = self.models.predictor, self.models.self_model
        self.names = self.models.actuator_names
        self.to_actuators = self.models.to_actuators
        self.phonemes = None
        if args.text:
            from lip_policy.espeak import Speaker

            said = Speaker().say(args.text, voice=args.voice)
            self.audio, self.rate = said.audio, said.sample_rate
            self.phonemes = [('', 0.0)] + [(p.ipa, p.start) for p in said.phonemes]
        else:
            clip = load_audio_file(args.audio)
            self.audio, self.rate = clip.samples.mean(axis=1), clip.sample_rate
        self.duration = len(self.audio) / self.rate
        self.frames = int(self.duration / FRAME_PERIOD)

    # --- references ------------------------------------------------------------------------
    def robot_lips_of(self, lip_positions, rest=None):
        return self.models.robot_lips_of(lip_positions, rest)

    def offline_policy(self):
        """The policy without ROS or servos: (frames, L) poses at the audio's frame times."""
        from lip_policy.lip_command import offline_poses
        from lip_policy.resample import Resampler

        resampler = Resampler(self.rate)
        audio_16k = np.concatenate([resampler.push(self.audio), resampler.flush()])
        policy = self.models.lip_policy()  # as the live node builds it, with its defaults
        return offline_poses(policy, audio_16k)[1][:self.frames]

    def offline_commands(self, lag):
        """The commands the live node would send if nothing were late or lost: the policy
        core (with its actuator lead, feed-forward and pacing, as the node configures it) fed
        the whole clip ahead of time and asked at every frame; (frames, L) poses, frame k
        being the command for audio time k * FRAME_PERIOD."""
        from lip_policy.lip_command import PolicyConfig

        lead, _ = self.models.actuator_lag(-1.0 if lag is None else lag)
        config = PolicyConfig(actuator_lag=lead,
                              servo_time_constant=self.models.servo_time_constant())
        policy = self.models.lip_policy(config)
        piece = int(self.rate * OFFLINE_CHUNK)
        for k, first in enumerate(range(0, len(self.audio), piece)):
            samples = np.asarray(self.audio[first:first + piece], np.float32)
            chunk = Chunk(int(self.rate), 1, samples, sequence=k)
            stamp = first / self.rate + 1.0  # [s] after a clock origin of 1 s
            policy.push(chunk, stamp, stamp - OFFLINE_CHUNK)
        policy.end_segment()
        at = 1.0 + np.arange(self.frames) * FRAME_PERIOD
        commands = [policy.command(t - lead) for t in at]
        return np.array([policy.neutral if c is None else c.positions for c in commands])

    def teacher_truth(self):
        """Teacher lips for the phonemes, retargeted into robot space: (frames, 40, 3)."""
        from lip_policy import teacher

        human, _ = teacher.teach(self.phonemes, self.duration, self.frames)
        return self.to_actuators.retargeting(human)

    # --- the live run ----------------------------------------------------------------------
    def commands(self, through, lag):
        """The graph under test: face_common.graphs 'e2e' with these models."""
        from face_common.graphs import graph

        models = {'lip_model': self.lip_model, 'self_model': self.self_model_path,
                  'retarget': self.retarget_path}
        return graph('e2e', through=through, models=models, actuator_lag=lag,
                     camera_rate=self.args.camera_rate, instrument_nice=INSTRUMENT_NICE,
                     speech=self.speech_overrides() if self.args.source == 'speech' else None)

    def speech_overrides(self):
        """speech_node's parameters on top of config/face_speech.yaml for --source speech."""
        overrides = dict(SPEECH)
        if self.args.speech_buffer is not None:
            overrides |= {'buffer': self.args.speech_buffer,
                          'lead_in': self.args.speech_buffer}
        return overrides

    def player(self):
        """audio_player_node saying the text (or playing the file) once the policy and this
        recorder listen: face_common.graphs 'player'."""
        from face_common.graphs import graph

        source = {'text': self.args.text, 'voice': self.args.voice} if self.args.text else \
            {'file': pathlib.Path(self.args.audio).resolve()}
        return graph('player', source=source, lookahead=self.args.lookahead, listeners=2)

    def say(self, recorder, nodes):
        """The clip as one Say goal of raw samples to the graph's speech_node, spun until its
        result: -> e2e_recorder.SaidGoal."""
        from face_msgs.action import Say

        goal = Say.Goal(sample_rate=int(round(self.rate)), channels=1)
        # array.array from bytes: rclpy checks every element of any other sequence type
        goal.samples = array.array('f', np.asarray(self.audio, np.float32).tobytes())
        return recorder.say(goal, self.duration + 30, nodes)

    def run_live(self, through, lag):
        import rclpy

        speech = self.args.source == 'speech'
        context = rclpy.Context()
        rclpy.init(context=context)
        recorder = Recorder(context, images=bool(self.args.video) and through == 'camera',
                            say=speech)
        self.said = None
        try:
            # this process records: an instrument while it runs
            with niceness(INSTRUMENT_NICE), _running(self.commands(through, lag)) as nodes:
                ready = recorder.spin(STARTUP_TIMEOUT, lambda: len(recorder.joints) > 20 and (
                    through != 'camera' or len(recorder.landmarks) > 5) and (
                    not speech or recorder.say_client.server_is_ready()), nodes)
                if not ready:
                    raise E2EError('the driver (camera, speech node) did not come up in '
                                   f'{STARTUP_TIMEOUT:g} s:\n'
                                   + '\n'.join(n.output()[-1500:] for n in nodes))
                recorder.spin(2.0, nodes=nodes)  # the policy node loads its models
                own = {'face/joint_states': 1, 'face/lip_command': 1, 'audio': int(speech)}
                if through == 'camera':
                    own |= {'camera/image_raw': 1, 'face/landmarks': 1}
                recorder.require_alone(own)
                if speech:
                    # the speech node publishes volatile: the policy must listen before the
                    # first chunk (audio_player_node waits for its listeners itself)
                    if not recorder.spin(STARTUP_TIMEOUT, lambda: recorder.node.count_subscribers(
                            'audio') >= 2, nodes):
                        raise E2EError('lip_policy_node did not subscribe to audio in '
                                       f'{STARTUP_TIMEOUT:g} s:\n'
                                       + nodes[1].output()[-1500:])
                    recorder.spin(0.5, nodes=nodes)  # ... and the speech node has matched it
                    self.said = self.say(recorder, nodes)
                else:
                    with _running(self.player()) as (player,):
                        recorder.player = player
                        recorder.spin(self.duration + 30,
                                      lambda: player.process.poll() is not None, nodes)
                        if player.process.returncode != 0:
                            raise E2EError('audio_player_node failed:\n'
                                           f'{player.output()[-2000:]}')
                recorder.spin(1.5, nodes=nodes)
                # ... and until the policy has reported on every chunk the player sent
                recorder.spin(5.0, lambda: health_figures(recorder.policy_health).get(
                    'chunks_received', -1) >= len(recorder.audio), nodes)
                recorder.require_alone(own | {'audio': 1})  # the player may not be gone yet
                self.policy_log = nodes[1].output()
                if speech:
                    ended = ('goals_succeeded', 'goals_aborted')
                    recorder.spin(1.2, lambda: sum(health_figures(recorder.speech_health).get(
                        key, 0) for key in ended) >= 1, nodes)  # its report after the goal
        finally:
            recorder.node.destroy_node()
            rclpy.try_shutdown(context=context)
        return recorder

    @staticmethod
    def playback_start(chunks):
        """[s] when the clip's first sample played, from any received chunk (the player's
        chunks all hold the same number of samples but the last)."""
        size = max(len(m.samples_float32) + len(m.samples_int16) for m in chunks)
        rate = chunks[0].sample_rate * chunks[0].channels
        return min(stamp_seconds(m.header.stamp) - m.sequence * size / rate for m in chunks)

    @staticmethod
    def observations(recorder, through):
        """The recorded messages the robot's lips are read from: camera landmarks or joint
        states."""
        return recorder.landmarks if through == 'camera' else recorder.joints

    def observation_rate(self, recorder, through, start):
        """Robot lip observations per second during the clip (camera frames or joint
        states): below about 50 the sync offset is only as fine as their spacing."""
        times = np.array([stamp_seconds(m.header.stamp)
                          for m in self.observations(recorder, through)])
        inside = (times >= start) & (times <= start + self.duration)
        return inside.sum() / self.duration

    def longest_pause_ms(self, messages, start):
        """The longest time [ms] between consecutive messages (by stamp) over the clip,
        its edges included: where a stalled node or camera shows in a run's figures."""
        times = np.sort([stamp_seconds(m.header.stamp) for m in messages])
        end = start + self.duration
        inside = times[(times > start) & (times < end)]
        before, after = times[times <= start], times[times >= end]
        edges = np.concatenate([before[-1:] if len(before) else [start], inside,
                                after[:1] if len(after) else [end]])
        return round(float(np.diff(edges).max()) * 1000, 1)

    def frames_without_face(self, recorder, start):
        """Camera frames during the clip in which the observer found no face (their lips
        are interpolated from the neighbouring frames)."""
        inside = [m for m in recorder.landmarks
                  if start <= stamp_seconds(m.header.stamp) <= start + self.duration]
        return sum(not m.detected for m in inside)

    def observed_lips(self, recorder, through, start):
        """Robot lips at the audio's frame times (frames, 40, 3) from the recording."""
        at = start + np.arange(self.frames) * FRAME_PERIOD
        if through == 'camera':
            from face_msgs import face_layout

            seen = [m for m in recorder.landmarks if m.detected]
            if len(seen) < 10:
                raise E2EError('the observer saw the face in fewer than 10 frames')
            times = np.array([stamp_seconds(m.header.stamp) for m in seen])
            points = np.array([[(p.x, p.y, p.z) for p in m.points] for m in seen])
            return metrics.on_times(times, points[:, face_layout.LIPS], at)
        index = [self.names.index(n) for n in self.to_actuators.names]
        times = np.array([stamp_seconds(m.header.stamp) for m in recorder.joints])
        positions = np.array([[dict(zip(m.name, m.position))[n] for n in self.names]
                              for m in recorder.joints])
        measured = metrics.on_times(times, positions, at)
        import torch

        rest = torch.as_tensor(measured, dtype=torch.float32)
        return self.robot_lips_of(measured[:, index], rest)

    def commanded_poses(self, recorder, start, lag):
        """The lip commands as poses at the audio's frame times (frames, L): a command sent at
        s holds the pose for audio time s + actuator lag; neutral where none was in force."""
        lead, _ = self.models.actuator_lag(-1.0 if lag is None else lag)
        names = self.to_actuators.names
        times = np.array([stamp_seconds(m.header.stamp) for m in recorder.commands]) + lead - start
        poses = np.array([[dict(zip(m.name, m.position)).get(n, np.nan) for n in names]
                          for m in recorder.commands])
        order = np.argsort(times, kind='stable')
        times, poses = times[order], poses[order]
        at = np.arange(self.frames) * FRAME_PERIOD
        framed = metrics.on_times(times, poses, at)
        # Outside the commands' span (and across pauses longer than the driver's command
        # timeout) the lips were at rest, not at the nearest command.
        last = np.searchsorted(times, at, side='right') - 1
        nearest = np.minimum(np.abs(at - times[np.clip(last, 0, len(times) - 1)]),
                             np.abs(times[np.clip(last + 1, 0, len(times) - 1)] - at))
        framed[nearest > COMMAND_GAP] = self.to_actuators.neutral
        return framed

    def say_figures(self, recorder, start):
        """What speech_node did with the Say goal: its result, the feedback that arrived,
        its /diagnostics, and whether it published exactly the clip, gaplessly."""
        said, result = self.said, self.said.result
        chunks = sorted(recorder.audio, key=lambda m: m.sequence)
        rate = chunks[0].sample_rate
        published = np.concatenate([np.asarray(m.samples_float32, np.float32) for m in chunks])
        lengths = np.array([len(m.samples_float32) / rate for m in chunks])
        stamps = np.array([stamp_seconds(m.header.stamp) for m in chunks])
        gaps = np.abs(np.diff(stamps) - lengths[:-1]) if len(chunks) > 1 else np.zeros(1)
        sent = np.asarray(self.audio, np.float32)
        same_rate = int(round(self.rate)) == rate and len(published) == len(sent)
        seconds = [f.seconds_played for _, f in said.feedback]
        health = health_figures(recorder.speech_health, 'speech_node')
        return {
            'status': said.status,
            'success': bool(result.success),
            'interrupted': bool(result.interrupted),
            'message': result.message,
            'seconds_played': round(float(result.seconds_played), 3),
            'feedback_messages': len(said.feedback),
            'feedback_seconds_played_last': round(max(seconds), 3) if seconds else None,
            'feedback_in_order': seconds == sorted(seconds),
            'goal_to_sound_ms': round((start - said.sent) * 1000, 1),
            'goal_to_result_s': round(said.answered - said.sent, 2),
            'chunks': len(chunks),
            'published_s': round(len(published) / rate, 3),
            # the samples on /audio against the clip sent (None when resampled)
            'published_vs_clip_max_difference': (float(np.abs(published - sent).max())
                                                  if same_rate else None),
            'timeline_gap_max_ms': round(float(gaps.max()) * 1000, 3),
            'output': health.get('output'),
            'underruns': health.get('underruns'),
            'speech_level': health.get('level'),
        }

    def jaw_correlation(self, poses, reference_poses):
        """Pearson r of the jaw actuator in two (frames, L) pose sequences."""
        jaw = self.to_actuators.names.index(JAW)
        return round(float(metrics.pearson(poses[:, jaw], reference_poses[:, jaw])), 4)

    def evaluate(self, through, lag):
        offline_poses = self.offline_policy()
        offline = self.robot_lips_of(offline_poses)
        reference = self.teacher_truth() if self.phonemes is not None else offline
        recorder = self.run_live(through, lag)
        if not recorder.audio or not recorder.commands or not recorder.joints:
            raise E2EError(f'nothing recorded (audio {len(recorder.audio)}, commands '
                           f'{len(recorder.commands)}, joint states {len(recorder.joints)})')
        start = self.playback_start(recorder.audio)
        observed = self.observed_lips(recorder, through, start)
        phonemes = self.phonemes
        live = metrics.figures(observed, reference, phonemes, self.duration)
        commanded = self.commanded_poses(recorder, start, lag)
        offline_commands = self.offline_commands(lag)
        result = {
            'through': through,
            'source': SOURCES[self.args.source],
            'reference': 'teacher (retargeted)' if phonemes is not None else 'offline policy',
            **live,
            'offline_policy': metrics.figures(offline, reference, phonemes, self.duration),
            'live_vs_offline_policy': metrics.figures(observed, offline),
            'live_commands_vs_offline_jaw_r': self.jaw_correlation(commanded, offline_commands),
            'policy': health_figures(recorder.policy_health),
            'duration_s': round(self.duration, 2),
            'lip_commands': len(recorder.commands),
            'observations_per_s': round(self.observation_rate(recorder, through, start), 1),
            'observation_gap_max_ms': self.longest_pause_ms(
                self.observations(recorder, through), start),
            'command_gap_max_ms': self.longest_pause_ms(recorder.commands, start),
            'frames_without_face': (self.frames_without_face(recorder, start)
                                    if through == 'camera' else None),
            'policy_warnings': [line for line in self.policy_log.splitlines()
                                if '[WARN]' in line][-5:],
            'player_lookahead_s': self.args.lookahead if self.said is None else None,
            'actuator_lag_s': lag,
        }
        if self.said is not None:
            result['say'] = self.say_figures(recorder, start)
        self.plot(observed, offline, reference, result)
        if self.args.video and through == 'camera':
            result['video'] = self.write_video(recorder.images, start)
        return result

    def write_video(self, images, start):
        """The camera's view of the face during the clip, with the clip as its sound track.

        Frame k shows the newest camera image captured by start + k / fps, so picture and
        sound keep the timing they had on the robot.
        """
        from face_common.video import write_video

        if not images:
            raise E2EError('no camera images were recorded for --video')
        images = [m for m in images if m.encoding == 'rgb8']
        if not images:
            raise E2EError('no rgb8 camera images were recorded for --video')
        fps = self.args.camera_rate
        times = np.array([stamp_seconds(m.header.stamp) for m in images])
        at = start + np.arange(int(np.ceil(self.duration * fps))) / fps
        index = np.clip(np.searchsorted(times, at, side='right') - 1, 0, len(images) - 1)
        path = pathlib.Path(self.args.video)
        path.parent.mkdir(parents=True, exist_ok=True)
        frames = (np.frombuffer(bytes(images[i].data), np.uint8).reshape(
            images[i].height, images[i].width, 3) for i in index)
        write_video(path, frames, fps=fps, audio=self.audio, sample_rate=self.rate)
        return str(path)

    def plot(self, observed, offline, reference, result):
        import matplotlib

        matplotlib.use('Agg')
        from matplotlib import pyplot as plt

        t = np.arange(self.frames) * FRAME_PERIOD
        fig, (wave, ax) = plt.subplots(2, 1, figsize=(10, 5.5), sharex=True,
                                       gridspec_kw={'height_ratios': [1, 2.5]})
        wave.plot(np.arange(len(self.audio)) / self.rate, self.audio, color='0.4', lw=0.5)
        wave.set_ylabel('audio')
        ax.plot(t, metrics.opening(reference), label=f'reference ({result["reference"]})',
                color='k')
        ax.plot(t, metrics.opening(offline), label='offline policy', alpha=0.7)
        ax.plot(t, metrics.opening(observed), label=f'robot, live ({result["through"]})')
        if self.phonemes is not None:
            # each /p b m/ (widened as closure recall reads it): green where the robot's lips
            # sealed, red where they did not
            windows = metrics.event_windows(self.phonemes, self.duration, self.frames,
                                            (visemes.BILABIAL,))
            hits = metrics.event_hits(observed, self.phonemes, self.duration, reference,
                                      'closure')
            for (lo, hi), sealed in zip(windows, hits):
                ax.axvspan(t[lo], t[hi - 1], color='tab:green' if sealed else 'tab:red',
                           alpha=0.15, lw=0)
            ax.plot([], [], color='tab:green', alpha=0.3, lw=6, label='/p b m/: sealed')
            ax.plot([], [], color='tab:red', alpha=0.3, lw=6, label='/p b m/: not sealed')
        ax.set_xlabel('audio time [s]')
        ax.set_ylabel('mouth opening [eye spans]')
        ax.set_title(f'lip-e2e-eval ({result["source"]}): r = '
                     f'{result["mouth_opening_correlation"]}, sync '
                     f'{result["sync_offset_ms"]:+.0f} ms')
        ax.legend(fontsize=8)
        fig.tight_layout()
        out = pathlib.Path(self.args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(out.with_suffix('.png'), dpi=100)
        plt.close(fig)


def parse_args(argv):
    parser = argparse.ArgumentParser(prog='lip-e2e-eval', description=__doc__.split('\n')[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument('--text', help='text for espeak-ng to speak (gives teacher truth)')
    source.add_argument('--audio', help='WAV/FLAC file to play (no phoneme truth)')
    parser.add_argument('--voice', default='en', help='espeak-ng voice for --text')
    parser.add_argument('--through', choices=('auto', 'camera', 'forward'), default='auto')
    parser.add_argument('--source', choices=tuple(SOURCES), default='player',
                        help='the voice: player (audio_player_node, a stand-in publishing the '
                             'clip) or speech (speech_node playing a Say goal of the clip, as '
                             'the face speaks)')
    parser.add_argument('--lookahead', type=float, default=0.2,
                        help='how far ahead of playback the player sends audio [s] '
                             '(--source player; speech_node publishes its `buffer` ahead)')
    parser.add_argument('--speech-buffer', type=float, default=None,
                        help='speech_node buffer and lead_in [s] for --source speech: how far '
                             'ahead of playback it publishes (default: config/face_speech.yaml)')
    parser.add_argument('--camera-rate', type=float, default=30.0,
                        help='face_sim_node frame rate for --through camera [Hz]')
    parser.add_argument('--actuator-lag', type=float, default=None,
                        help='lip_policy_node actuator_lag [s] (default: its own)')
    parser.add_argument('--lip-model', default='', help='default models/lip_model.pt')
    parser.add_argument('--self-model', default='', help='default models/self_model_sim.pt')
    parser.add_argument('--retarget', default='', help='default models/retarget.npz')
    parser.add_argument('--video', default='',
                        help='write the camera view of the face with the sound to this MP4 '
                             '(--through camera only)')
    parser.add_argument('--out', default=str(_workspace() / 'build' / 'e2e' / 'lip_e2e.json'),
                        help='JSON figures to write; the plot goes beside it (.png)')
    args = parser.parse_args(argv)
    if args.text is not None and not args.text.strip():
        parser.error('--text is empty')
    if not 1 <= args.camera_rate <= 120:
        parser.error('--camera-rate must be within 1..120 Hz')
    if not 0 <= args.lookahead <= 5:
        parser.error('--lookahead must be within 0..5 s')
    if args.speech_buffer is not None and not 0.01 <= args.speech_buffer <= 2:
        parser.error('--speech-buffer must be within 0.01..2 s')
    if args.actuator_lag is not None and not 0 <= args.actuator_lag <= 1:
        parser.error('--actuator-lag must be within 0..1 s')
    return args


def main(argv=None):
    from face_motor_driver.face_config import ConfigError
    from lip_policy.audio_clip import AudioClipError
    from lip_policy.predictor import CheckpointError
    from lip_policy.retarget import RetargetError
    from mirror_calibration.self_model import SelfModelError

    args = parse_args(argv)
    through = args.through
    if through == 'auto':
        through = 'camera' if _script('face_sim_node') and _script('observer_node') \
            else 'forward'
    if through == 'camera' and not (_script('face_sim_node') and _script('observer_node')):
        print('lip-e2e-eval: --through camera needs the face_sim_node and observer_node '
              'console scripts; run `make setup`, or use --through forward', file=sys.stderr)
        return 2
    if args.source == 'speech' and not _script('speech_node'):
        print('lip-e2e-eval: --source speech needs the speech_node console script (package '
              'face_speech); run `make setup`, or use --source player', file=sys.stderr)
        return 2
    try:
        evaluation = Evaluation(args)
        print(f'evaluating {evaluation.duration:.1f} s of audio through {through}...',
              file=sys.stderr)
        result = evaluation.evaluate(through, args.actuator_lag)
        if result['observations_per_s'] < 20:
            print(f'lip-e2e-eval: only {result["observations_per_s"]} observations of the lips '
                  'per second: the sync offset is no finer than their spacing (machine busy, '
                  'or lower --camera-rate?)', file=sys.stderr)
    except (E2EError, CheckpointError, SelfModelError, RetargetError, AudioClipError,
            ConfigError) as error:
        print(f'lip-e2e-eval: {error}', file=sys.stderr)
        return 2
    write_json(args.out, result)
    print(json.dumps(result))
    problems = run_problems(result)
    for problem in problems:
        print(f'lip-e2e-eval: FAILED: {problem}', file=sys.stderr)
    return FAILED if problems else 0


def run_problems(result):
    """Why a run's figures cannot be trusted as the policy's (empty when they can)."""
    policy = result['policy']
    problems = []
    if policy.get('chunks_received') is None:
        problems.append('lip_policy_node reported nothing on /diagnostics; the run cannot be '
                        'checked for lost audio')
    elif policy.get('chunks_lost', 0) > 0:
        problems.append(f'{policy["chunks_lost"]} audio chunks were lost on the way to the '
                        'policy (the machine was too busy, or the audio QoS is best effort)')
    r = result['live_commands_vs_offline_jaw_r']
    if not r >= MIN_LIVE_VS_OFFLINE:
        problems.append(f'the live jaw commands follow the offline policy with r = {r} '
                        f'(< {MIN_LIVE_VS_OFFLINE}): the policy did not keep up with the audio; '
                        f'its report: {policy.get("message")}; the longest pause between lip '
                        f'commands was {result.get("command_gap_max_ms")} ms (the lips rest '
                        f'after {COMMAND_GAP * 1000:.0f} ms)')
    return problems + say_problems(result.get('say'), result['duration_s'])


def say_problems(say, duration):
    """Why speech_node's part of a --source speech run cannot be trusted (empty when it can,
    or for --source player)."""
    if say is None:
        return []
    problems = []
    if say['status'] != 'succeeded' or not say['success'] or say['interrupted']:
        problems.append(f'the Say goal did not play the clip to the end ({say["status"]}): '
                        f'{say["message"]}')
    elif abs(say['seconds_played'] - duration) > 0.02:
        problems.append(f'the Say result says {say["seconds_played"]} s were played of the '
                        f'{duration} s clip')
    if not say['feedback_messages']:
        problems.append('no Say feedback arrived while the goal played')
    difference = say['published_vs_clip_max_difference']
    if difference is not None and difference > 1e-6 or \
            abs(say['published_s'] - say['seconds_played']) > 0.002:
        problems.append(f'speech_node published {say["published_s"]} s on audio that are not '
                        f'the clip it played (max sample difference {difference})')
    if say['timeline_gap_max_ms'] > TIMELINE_TOLERANCE_MS or say['underruns']:
        problems.append(f'the stamps of speech_node\'s audio chunks have gaps of up to '
                        f'{say["timeline_gap_max_ms"]} ms ({say["underruns"]} output underruns): '
                        'the clip\'s timeline was not the one played')
    return problems


if __name__ == '__main__':
    sys.exit(main())
