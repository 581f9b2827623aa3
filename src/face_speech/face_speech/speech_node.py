"""speech_node: the face's voice. Say goals and a TTS stream in, sound out, /audio for the lips.

- Action `speech/say` (face_msgs/Say): text (synthesised sentence by sentence while the one
  before plays: speaking.SpeechJob), an audio file or raw samples. Goals queue or pre-empt
  (on_new_goal). Cancelling is barge-in: the output drops what it has not played (within
  one DAC period) and a short silence stamped at that moment goes on /audio (rest_silence),
  which replaces the lips the policy had scheduled ahead with the resting mouth.
- Topic `speech/audio_in` (face_msgs/AudioChunk): an external streaming TTS; its chunks are
  played when no goal is speaking (dropped and counted while one is) and republished.
- Topic `audio` (face_msgs/AudioChunk): every block played, stamped with the time its first
  sample leaves the speaker (output.py: the device's DAC time, or the null output's clock),
  published as soon as it is written, so `buffer` seconds ahead of playback.
- /diagnostics (`face_speech: output`) once a second: output kind, underruns, goals, chunks.

Stamps are on the system clock's timeline (use_sim_time is not supported: a speaker plays
in real time).
"""

import array
import collections
import math
import queue
import sys
import threading
import time

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.time import Time

from face_common import scheduling
from face_common.parameters import (
    Parameter,
    ParameterError,
    between,
    declare_parameters,
    diagnostics_rate_parameter,
    non_empty,
    one_of,
    scheduling_parameters,
)
from face_common.qos import audio_qos
from face_msgs.action import Say
from face_msgs.checks import MessageError, check_audio_chunk
from face_msgs.msg import AudioChunk
from face_speech.output import OUTPUTS, OutputError, open_output
from face_speech.sentences import split_sentences
from face_speech.speaking import SpeechJob, resample
from face_speech.tts import ENGINES, TtsError, make_engine

GOAL_MODES = ('queue', 'preempt')
CANCEL_STATE_WAIT = 1.0  # [s] longest wait for the action server to mark a cancel


PARAMETERS = {
    'engine': Parameter('espeak', 'TTS engine: espeak (espeak-ng in process), festival '
                        '(lip_policy.festival with festival_voice) or command (tts_command)',
                        one_of(ENGINES)),
    'voice': Parameter('en', 'voice for goals that name neither voice nor language '
                       '(espeak-ng voice or language code; {voice} of tts_command)'),
    'festival_voice': Parameter('cmu_us_slt_arctic_hts', 'festival voice for engine festival, '
                                'always selected explicitly (one of lip_policy.festival.VOICES)',
                                non_empty()),
    'rate_wpm': Parameter(175, 'espeak-ng speaking rate [words/min]', between(80, 450)),
    'tts_command': Parameter('', 'command template for engine command: "mytts --out {wav} '
                             '--voice {voice} {text}" ({text} {text_file} {wav} {voice} '
                             '{language}; no shell)'),
    'tts_timeout': Parameter(10.0, 'longest synthesis of one sentence by a TTS program [s]; a '
                             'longer one is killed and the goal aborted',
                             between(0.1, 600.0, 's')),
    'max_sentence_chars': Parameter(200, 'longer sentences are cut at a clause boundary '
                                    '[characters]', between(20, 10000)),
    'output': Parameter('auto', 'sound output: auto (PortAudio when a device exists, else '
                        'null), portaudio, or null (virtual DAC on the monotonic clock)',
                        one_of(OUTPUTS)),
    'output_device': Parameter('', 'PortAudio device name or index; "" = the default output'),
    'sample_rate': Parameter(22050, 'output sample rate [Hz]; every source is resampled to it',
                             between(8000, 192000)),
    'buffer': Parameter(0.2, 'audio written ahead of the DAC [s]: how far ahead of playback '
                        '/audio is published (lip_policy_node needs about 0.17: with 0.15 '
                        'its lips ran 25 ms late)',
                        between(0.01, 2.0, 's')),
    'lead_in': Parameter(0.2, 'silence before the first sound when the output is idle [s], so '
                         'the first words are published that far ahead of playback too',
                         between(0.0, 2.0, 's')),
    'speaker_latency': Parameter(0.0, 'measured time from the DAC to sound leaving the speaker '
                                 '[s], added to every stamp', between(0.0, 1.0, 's')),
    'null_period': Parameter(0.005, 'period of the null output\'s virtual DAC [s] (a stop '
                             'takes effect at the end of the period playing)',
                             between(0.0005, 0.1, 's')),
    'chunk_duration': Parameter(0.02, 'audio per /audio chunk [s]', between(0.005, 0.2, 's')),
    'on_new_goal': Parameter('queue', 'a goal arriving while one speaks: queue (after it) or '
                             'preempt (stop it, start the new one)', one_of(GOAL_MODES)),
    'rest_silence': Parameter(0.3, 'silence published on /audio at a stop, stamped when the '
                              'sound stopped, so the lip policy replaces what it scheduled '
                              'ahead with rest [s]; 0 = publish nothing (the policy then holds '
                              'the lips for its stall_timeout and eases them over ease_time)',
                              between(0.0, 2.0, 's')),
    'feedback_rate': Parameter(10.0, 'Say feedback messages per second [Hz]',
                               between(0.1, 100.0, 'Hz')),
    **diagnostics_rate_parameter(1.0),
    **scheduling_parameters(15, "a sound card's feeder: above the lip policy's, which "
                               'follows its audio'),
}


class GoalError(ValueError):
    """A goal that cannot be played; the message goes into its result."""


def _chunk_message(stamp, samples, rate, sequence):
    msg = AudioChunk()
    msg.header.stamp = Time(nanoseconds=round(stamp * 1e9)).to_msg()
    msg.sample_rate, msg.channels = int(rate), 1
    msg.encoding = AudioChunk.ENCODING_FLOAT32
    # array.array from bytes: rclpy checks every element of any other sequence type.
    msg.samples_float32 = array.array('f', np.asarray(samples, np.float32).tobytes())
    msg.sequence = sequence
    return msg


def _mono(samples, channels):
    samples = np.asarray(samples, np.float32)
    return samples.reshape(-1, max(int(channels), 1)).mean(axis=1)


class SpeechNode(Node):
    def __init__(self, **kwargs):
        super().__init__('speech', **kwargs)
        self.p = declare_parameters(self, PARAMETERS, 'face_speech.yaml')
        p = self.p
        self.engine = make_engine(p['engine'], p['tts_command'], p['tts_timeout'],
                                  p['rate_wpm'])
        self.output, output_line = open_output(
            p['output'], p['sample_rate'], p['buffer'], p['speaker_latency'], p['null_period'],
            p['output_device'])
        self.rate = self.output.sample_rate
        self.get_logger().info(output_line)
        self.publisher = self.create_publisher(AudioChunk, 'audio', audio_qos())
        self.diagnostics = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self._publish_lock = threading.Lock()
        self.sequence = 0
        self.counts = collections.Counter()
        self.last_stop_latency = math.nan
        self._reported_underruns = 0
        # goals: one plays (active); the rest wait in order (pending)
        self._lock = threading.Lock()
        self.active, self.job = None, None
        self.pending = collections.deque()
        self.preempted, self.cancelled_waiting = set(), set()
        group = ReentrantCallbackGroup()
        self.action = ActionServer(
            self, Say, 'speech/say', execute_callback=self._execute,
            goal_callback=lambda goal: GoalResponse.ACCEPT,
            handle_accepted_callback=self._on_accepted, cancel_callback=self._on_cancel,
            callback_group=group)
        self.inbox = queue.Queue()
        self.create_subscription(AudioChunk, 'speech/audio_in', self.inbox.put, audio_qos(),
                                 callback_group=group)
        self._stopping = threading.Event()
        self._external = threading.Thread(target=self._play_external, daemon=True,
                                          name='face_speech_audio_in')
        self._external.start()
        self.create_timer(1.0 / p['diagnostics_rate'], self._report, callback_group=group)
        voice = p['festival_voice'] if p['engine'] == 'festival' else p['voice']
        self.get_logger().info(
            f'speech ready: engine {p["engine"]} (voice {voice}), {self.rate} Hz, buffer '
            f'{p["buffer"] * 1000:.0f} ms, lead-in {p["lead_in"] * 1000:.0f} ms, goals '
            f'{p["on_new_goal"]}, rest silence {p["rest_silence"] * 1000:.0f} ms')

    # --- /audio ------------------------------------------------------------------------
    def _publish(self, stamp, samples):
        with self._publish_lock:
            self.publisher.publish(_chunk_message(stamp, samples, self.rate, self.sequence))
            self.sequence += 1
            self.counts['chunks_published'] += 1

    def _stop(self, job, reason):
        """Stop a job's sound now and tell the lips (rest_silence)."""
        stopped_at = job.stop(reason)
        if stopped_at is None:
            return
        self.last_stop_latency = stopped_at - job.stop_requested
        if self.p['rest_silence'] > 0:
            self._publish(stopped_at, np.zeros(round(self.p['rest_silence'] * self.rate),
                                               np.float32))

    # --- goals -------------------------------------------------------------------------
    def _on_accepted(self, goal_handle):
        start, stop = [], None
        with self._lock:
            if self.p['on_new_goal'] == 'preempt':
                self.preempted.update(id(g) for g in self.pending)
                start += self.pending
                self.pending.clear()
                if self.active is not None:
                    self.preempted.add(id(self.active))
                    stop = self.job
            self.pending.append(goal_handle)
            if self.active is None:
                self.active = self.pending.popleft()
                start.append(self.active)
        if stop is not None:
            self._stop(stop, 'pre-empted by a newer goal')
        for handle in start:
            handle.execute()

    def _on_cancel(self, goal_handle):
        with self._lock:
            job = self.job if goal_handle is self.active else None
            waiting = goal_handle in self.pending
            if waiting:
                self.pending.remove(goal_handle)
                self.cancelled_waiting.add(id(goal_handle))
        if job is not None:
            self._stop(job, 'cancelled (barge-in)')
        if waiting:
            goal_handle.execute()  # ends at once as cancelled
        return CancelResponse.ACCEPT

    def _execute(self, goal_handle):
        key = id(goal_handle)
        with self._lock:
            if key in self.cancelled_waiting or key in self.preempted and \
                    goal_handle is not self.active:
                cancelled = key in self.cancelled_waiting
                self.cancelled_waiting.discard(key)
                self.preempted.discard(key)
                return self._finish(goal_handle, _result(
                    False, True, 'cancelled before it started' if cancelled
                    else 'pre-empted by a newer goal before it started'), cancelled)
        try:
            return self._speak(goal_handle)
        finally:
            with self._lock:
                self.preempted.discard(key)
                self.active, self.job = None, None
                if self.pending:
                    self.active = self.pending.popleft()
                    following = self.active
                else:
                    following = None
            if following is not None:
                following.execute()

    def _speak(self, goal_handle):
        goal = goal_handle.request
        try:
            labels, produce = self._pieces(goal)
        except GoalError as error:
            self.get_logger().warning(f'Say goal refused: {error}')
            return self._finish(goal_handle, _result(False, False, str(error)))
        job = SpeechJob(labels, produce, self.output, self._publish, self.p['chunk_duration'],
                        self.p['lead_in'])
        with self._lock:
            self.job = job
            if id(goal_handle) in self.preempted:
                job.stop('pre-empted by a newer goal')
        if goal_handle.is_cancel_requested:
            self._stop(job, 'cancelled (barge-in)')
        feedback = Say.Feedback()
        period, last = 1.0 / self.p['feedback_rate'], [0.0]

        def report():
            if goal_handle.is_cancel_requested and not job.stopped:
                self._stop(job, 'cancelled (barge-in)')  # a cancel that came before the job
            now = time.monotonic()
            if now - last[0] >= period:
                last[0] = now
                progress = job.progress()
                feedback.seconds_played = progress.seconds_played
                feedback.seconds_ready = progress.seconds_ready
                feedback.sentences_done = progress.pieces_done
                feedback.sentences_total = progress.pieces_total
                feedback.sentence = labels[progress.current] if progress.current >= 0 else ''
                goal_handle.publish_feedback(feedback)

        outcome = job.run(report)
        played = labels[:outcome.pieces_played]
        result = _result(outcome.completed, bool(outcome.stop_reason), '', labels,
                         outcome.pieces_played, ' '.join(played) if goal.text else '',
                         outcome.seconds_played, outcome.stop_latency)
        if outcome.error:
            result.message = outcome.error
            self.get_logger().error(f'Say goal aborted: {outcome.error}')
        elif outcome.stop_reason:
            result.message = (f'{outcome.stop_reason} after {outcome.seconds_played:.2f} s; '
                              f'sound stopped {outcome.stop_latency * 1000:.1f} ms after the '
                              'request (output clock)')
        else:
            result.message = f'played {len(labels)} piece(s), {outcome.seconds_played:.2f} s'
        self.get_logger().info(f'Say goal: {result.message}')
        return self._finish(goal_handle, result,
                            outcome.stop_reason.startswith('cancelled'))

    def _pieces(self, goal):
        """(labels, produce(index, stop) -> mono samples at the output rate) of a goal."""
        given = [bool(goal.text.strip()), bool(goal.audio_path), len(goal.samples) > 0]
        if sum(given) != 1:
            raise GoalError('set exactly one of text, audio_path and samples '
                            f'(got {sum(given)})')
        if goal.text.strip():
            sentences = split_sentences(goal.text, self.p['max_sentence_chars'])
            if self.p['engine'] == 'festival':
                voice = goal.voice or self.p['festival_voice']
            else:
                voice = goal.voice or goal.language or self.p['voice']

            def produce(index, stop):
                samples, rate = self.engine.synthesize(sentences[index], voice, goal.language,
                                                       stop)
                return resample(samples, rate, self.rate)

            return sentences, produce
        if goal.audio_path:
            from lip_policy.audio_clip import AudioClipError, load_audio_file

            try:
                clip = load_audio_file(goal.audio_path)
            except AudioClipError as error:
                raise GoalError(str(error)) from error
            audio = resample(clip.samples.mean(axis=1), clip.sample_rate, self.rate)
            return [goal.audio_path], lambda index, stop: audio
        channels = max(int(goal.channels), 1)
        samples = np.asarray(goal.samples, np.float32)
        if not 1000 <= goal.sample_rate <= 384000:
            raise GoalError(f'sample_rate {goal.sample_rate} Hz of the samples is outside '
                            '1000..384000 Hz')
        if len(samples) % channels or not np.isfinite(samples).all():
            raise GoalError(f'samples must be finite and a multiple of channels ({channels})')
        audio = resample(_mono(samples, channels), goal.sample_rate, self.rate)
        return ['samples'], lambda index, stop: audio

    def _finish(self, goal_handle, result, cancelled=False):
        if cancelled:
            deadline = time.monotonic() + CANCEL_STATE_WAIT
            while not goal_handle.is_cancel_requested and time.monotonic() < deadline:
                time.sleep(0.005)  # the server marks the cancel after our callback returned
        if cancelled and goal_handle.is_cancel_requested:
            goal_handle.canceled()
            self.counts['goals_cancelled'] += 1
        elif result.success:
            goal_handle.succeed()
            self.counts['goals_succeeded'] += 1
        else:
            goal_handle.abort()
            self.counts['goals_preempted' if result.interrupted else 'goals_aborted'] += 1
        return result

    # --- an external TTS stream ----------------------------------------------------------
    def _play_external(self):
        last_sequence = None
        while not self._stopping.is_set():
            try:
                msg = self.inbox.get(timeout=0.1)
            except queue.Empty:
                continue
            self.counts['audio_in_chunks'] += 1
            try:
                check_audio_chunk(msg, max_samples=int(msg.sample_rate) * 4 * msg.channels)
            except MessageError as error:
                self.counts['audio_in_rejected'] += 1
                self.get_logger().warning(f'speech/audio_in chunk dropped: {error}',
                                          throttle_duration_sec=5.0)
                continue
            if self.active is not None:
                self.counts['audio_in_dropped'] += 1
                self.get_logger().warning('speech/audio_in chunk dropped: a Say goal is '
                                          'speaking', throttle_duration_sec=5.0)
                continue
            raw = (np.asarray(msg.samples_int16, np.float32) / 32768.0
                   if msg.encoding == AudioChunk.ENCODING_INT16 else msg.samples_float32)
            audio = resample(_mono(raw, msg.channels), msg.sample_rate, self.rate)
            idle = self.output.end_time() <= self.output.now()
            if idle and self.p['lead_in'] > 0:
                self.output.write(np.zeros(round(self.p['lead_in'] * self.rate), np.float32),
                                  continuous=False)
            continuous = not idle and last_sequence is not None and \
                msg.sequence == last_sequence + 1
            last_sequence = msg.sequence
            stamp = self.output.write(audio, continuous)
            if stamp is not None:
                self._publish(stamp, audio)

    # --- health --------------------------------------------------------------------------
    def _report(self):
        underruns = self.output.underruns
        fresh = underruns - self._reported_underruns
        self._reported_underruns = underruns
        status = DiagnosticStatus(name='face_speech: output', hardware_id=self.output.kind)
        if fresh or self.counts['audio_in_dropped'] or self.counts['audio_in_rejected']:
            status.level = DiagnosticStatus.WARN
            status.message = (f'{fresh} underrun(s) since the last report' if fresh
                              else 'speech/audio_in chunks dropped')
        else:
            status.level, status.message = DiagnosticStatus.OK, 'ok'
        values = {'output': self.output.kind, 'underruns': underruns,
                  'speaking': self.active is not None, 'goals_waiting': len(self.pending),
                  'last_stop_latency_ms': round(self.last_stop_latency * 1000, 2),
                  **{k: self.counts[k] for k in (
                      'chunks_published', 'goals_succeeded', 'goals_aborted',
                      'goals_cancelled', 'goals_preempted', 'audio_in_chunks',
                      'audio_in_dropped', 'audio_in_rejected')}}
        status.values = [KeyValue(key=k, value=str(v)) for k, v in values.items()]
        array_msg = DiagnosticArray(status=[status])
        array_msg.header.stamp = self.get_clock().now().to_msg()
        self.diagnostics.publish(array_msg)

    def destroy_node(self):
        self._stopping.set()
        with self._lock:
            job = self.job
        if job is not None:
            job.stop('the node is shutting down')
        self.output.close()
        super().destroy_node()


def _result(success, interrupted, message, sentences=(), played=0, text='', seconds=0.0,
            stop_latency=math.nan):
    result = Say.Result()
    result.success, result.interrupted, result.message = success, interrupted, message
    result.sentences, result.sentences_played = list(sentences), played
    result.text_played, result.seconds_played = text, seconds
    result.stop_latency = stop_latency
    return result


def main(args=None):
    rclpy.init(args=args)
    node = None
    try:
        node = SpeechNode()
        node.get_logger().info(scheduling.apply(node.p['scheduling'],
                                                node.p['realtime_priority']))
        executor = MultiThreadedExecutor(num_threads=4)
        executor.add_node(node)
        executor.spin()
    except (ParameterError, OutputError, TtsError) as error:
        print(f'speech_node: {error}', file=sys.stderr)
        sys.exit(2)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
