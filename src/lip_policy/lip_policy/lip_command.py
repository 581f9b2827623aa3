"""The streaming lip policy core: audio chunks in, lip actuator commands out. No rclpy.

Audio arrives as face_msgs/AudioChunk-shaped objects (any rate, any channel count, any chunk
size, stamped with the time the first sample is played). The core

1. checks every chunk (face_msgs.checks.check_audio_chunk plus a size bound) and raises
   ChunkError for one it cannot use; the caller logs it and goes on, nothing else changes;
2. places the chunk on the playback timeline of the current *segment* (a stretch of
   contiguous audio): a small stamp gap (lost chunks) is filled with silence so later audio
   keeps its timing; a large gap, a jump back in time or a new sample rate starts a new
   segment;
3. mixes to mono, resamples to 16 kHz (resample.Resampler: windowed sinc, exact for any
   chunking), and pushes the audio through the lip model's stream (LipPredictor.stream),
   which yields lip frames every 10 ms hop as soon as their look-ahead audio is in;
4. retargets each lip frame to lip actuator positions (retarget.LipsToActuators) and pulls
   them towards neutral where the audio is silent (voice_gate.VoiceGate), so silence shows
   a resting mouth; the gate looks ahead as far as the model does, so lips still open before
   the voice; then smooths the poses over time (pose_filters.PoseSmoother: zero-phase,
   pose_smoothing frames each side), which takes out the frame-to-frame jitter of per-frame
   inversion that the servos' slew limits would otherwise turn into lag; a frame is final
   pose_smoothing frames later;
4b. holds each seal (seal_hold): where the retargeted lips read sealed (metrics.closed_at:
   inner-lip gap below seal_gap of the robot's rest mouth width, the notion of closure
   recall) with the voice fully on, that frame's unsmoothed pose is pinned over seal_hold
   around it (pose_filters.SealHold), so a /p b m/ shows long enough for a 30 Hz camera to
   see it; pins are decided seal_hold / 2 after their frame;
5. keeps the poses on a schedule keyed by playback time and paces them to the actuators'
   speed limits (when given; pose_filters): the mean of the poses rate-limited forwards in
   time (which trails every fast move) and backwards (which starts it early) keeps within
   the limits and centres each fast move on its time, where the driver's own slew limit
   alone would only trail it; then each pinned frame bounds every pose within reach to the
   pin +- the speed limit times their distance (pose_filters.hold_pins), so the lips reach a
   seal in time (moving earlier, with the look-ahead the schedule has), hold it, and leave it
   within the limits;
6. `command(now)` returns the paced pose
   for time now + actuator_lag (interpolated between frames): commands lead the audio by
   the actuators' lag, so the lips arrive when the sound does. When chunks come ahead of
   playback (look-ahead), those frames are simply there in time. When the frame for that
   time is not there yet (real-time audio, model latency) the newest pose is held, and after
   stall_timeout without audio the lips ease to neutral and the core goes idle.

Offline and streaming give the same poses: the resampler, the model stream and the gate
all compute per sample/hop/frame independently of how the audio was cut.
"""

import collections
import dataclasses
import time

import numpy as np

from face_common.frames import FRAME_PERIOD, HOP
from face_msgs.checks import MessageError, check_audio_chunk
from lip_policy import metrics
from lip_policy.pose_filters import (
    PACE_HORIZON,
    PoseSmoother,
    SealHold,
    hold_pins,
    pace_poses,
    rate_limited,
    seal_pins,
    smooth_poses,
)
from lip_policy.resample import Resampler
from lip_policy.voice_gate import SILENCE_DB, VoiceGate, hop_levels

ENCODING_FLOAT32, ENCODING_INT16 = 0, 1  # as face_msgs/AudioChunk
RECENT_SEQUENCES = 512  # chunk sequence numbers remembered to tell duplicates (10 s of 20 ms)
COMPUTE_HISTORY = 2000  # compute figures kept for the medians and percentiles
# Gate weight from which a sealed frame is held: the voice fully on (a frame on its way to
# neutral shows a neutral-ish mouth, and the model's closed mouth in silence is no /p b m/).
SEAL_MIN_WEIGHT = 0.999


class ChunkError(ValueError):
    """An audio chunk the policy cannot use; it is dropped and nothing else changes."""


@dataclasses.dataclass
class Chunk:
    """A plain stand-in for face_msgs/AudioChunk (same fields), for code without ROS."""
    ENCODING_FLOAT32 = ENCODING_FLOAT32
    ENCODING_INT16 = ENCODING_INT16
    sample_rate: int
    channels: int
    samples_float32: np.ndarray
    sequence: int = 0
    encoding: int = ENCODING_FLOAT32
    samples_int16: np.ndarray = dataclasses.field(
        default_factory=lambda: np.zeros(0, np.int16))


@dataclasses.dataclass
class Arrival:
    """A checked audio chunk on the policy's clock (LipPolicy.accept)."""
    stamp: float  # [s] playback time of the first sample
    rate: int  # [Hz]
    mono: np.ndarray  # (samples,) mixed to mono, [-1, 1]
    sequence: int
    notes: list  # what is worth logging about it


# --- the policy ------------------------------------------------------------------------------

@dataclasses.dataclass
class PolicyConfig:
    actuator_lag: float = 0.045  # [s] commands lead the audio by this (pose reached in time)
    servo_time_constant: float = 0.0  # [s] first-order servo lag undone by feed-forward
    pose_smoothing: int = 2  # [frames] each side of the zero-phase pose smoothing; 0 = off
    pacing: float = 1.0  # fraction of the actuators' max_velocity the poses keep to; 0 = off
    seal_hold: float = 0.0  # [s] a sealed frame's pose is held this long around it; 0 = off
    seal_gap: float = metrics.CLOSED_FRACTION  # inner-lip gap / rest mouth width: sealed below
    stall_timeout: float = 0.25  # [s] without audio for the commanded time before easing
    ease_time: float = 0.3  # [s] easing to neutral after a stall
    silence_threshold_db: float = -45.0  # [dBFS] hop RMS below this is silence
    silence_hold: float = 0.25  # [s] silence shorter than this keeps the lips moving
    voice_attack: float = 0.05  # [s] neutral -> full pose when the voice starts
    silence_release: float = 0.3  # [s] full pose -> neutral in silence
    max_gap: float = 0.5  # [s] stamp gaps up to this are filled with silence
    stamp_tolerance: float = 0.005  # [s] stamp jitter accepted as contiguous audio
    max_chunk_duration: float = 2.0  # [s] longer chunks are rejected
    max_clock_offset: float = 10.0  # [s] stamps further from now are replaced by now
    history: float = 1.0  # [s] past poses kept on the schedule

    def validate(self):
        """Raise ValueError naming every bad value."""
        problems = []
        ranges = {'actuator_lag': (0.0, 1.0), 'servo_time_constant': (0.0, 0.5),
                  'pacing': (0.0, 1.0), 'seal_hold': (0.0, 0.5), 'seal_gap': (0.0, 0.5),
                  'stall_timeout': (0.02, 10.0),
                  'ease_time': (0.0, 10.0), 'silence_threshold_db': (-120.0, 0.0),
                  'silence_hold': (0.0, 10.0), 'voice_attack': (0.0, 2.0),
                  'silence_release': (0.0, 10.0), 'max_gap': (0.0, 10.0),
                  'stamp_tolerance': (0.0, 0.1), 'max_chunk_duration': (0.01, 60.0),
                  'max_clock_offset': (0.1, 3600.0), 'history': (0.1, 60.0)}
        for name, (lo, hi) in ranges.items():
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and lo <= value <= hi):
                problems.append(f'{name}={value!r} is outside [{lo}, {hi}]')
        if not (isinstance(self.pose_smoothing, int) and 0 <= self.pose_smoothing <= 10):
            problems.append(f'pose_smoothing={self.pose_smoothing!r} is not an integer in '
                            '[0, 10]')
        if problems:
            raise ValueError('; '.join(problems))
        return self


@dataclasses.dataclass
class Command:
    positions: np.ndarray  # (L,) lip actuator positions [rad], order of LipPolicy.names
    pose_time: float  # [s] when the lips should show the pose (now + actuator_lag)
    state: str  # 'speaking' | 'late' (holding the newest pose) | 'easing' (to neutral)


def _voice_gate(config, lookahead_frames):
    """The VoiceGate of a PolicyConfig (its times in seconds) for a model looking ahead
    lookahead_frames."""
    return VoiceGate(config.silence_threshold_db, round(config.silence_hold / FRAME_PERIOD),
                     lookahead_frames, round(config.voice_attack / FRAME_PERIOD),
                     round(config.silence_release / FRAME_PERIOD))


class _Segment:
    """Contiguous audio from one origin: resampler, model stream, gate.

    Audio is queued chunk by chunk and pushed through in one piece (drain), so a backlog
    costs one model pass. Stretches queued as concealed (lost audio) keep their time, but
    the gate hears them as the audio before them and their frames hold the last pose.
    """

    def __init__(self, policy, origin, rate):
        self.origin, self.rate = origin, rate
        self.resampler = Resampler(rate)
        self.stream = policy.predictor.stream()
        lookahead = policy.predictor.lookahead_frames
        c = policy.config
        self.gate = _voice_gate(c, lookahead)
        self.lookahead = lookahead
        self.smoother = PoseSmoother(c.pose_smoothing)
        self.hold = SealHold(policy.hold_frames) if policy.hold_frames else None
        self.hop_rest = np.zeros(0)  # 16 kHz samples not yet a whole hop
        self.hops = 0  # hop levels given to the gate
        self.last_level = SILENCE_DB
        self.input_frames = 0  # samples per channel received at `rate`
        self.queued = []  # mono pieces at `rate` not yet pushed through
        # [s] (hold from, lost from, end) of lost audio: frames hold their pose from one
        # model look-ahead before it (their look-ahead heard the loss), hops from the loss
        self.concealed = []
        self.last_pose = None  # the newest pose computed, held through lost audio
        self.frames = 0  # lip frames emitted

    @property
    def end_time(self):
        """[s] playback time just after the last received (or queued) sample."""
        return self.origin + self.input_frames / self.rate

    @property
    def next_frame_time(self):
        """[s] playback time of the next lip frame to come out."""
        return self.origin + self.frames * FRAME_PERIOD

    def queue(self, mono, concealed=False):
        """Audio at `rate` that follows what is queued; concealed = lost audio's place."""
        if concealed and len(mono):
            start = self.end_time
            self.concealed.append((start - self.lookahead * FRAME_PERIOD, start,
                                   start + len(mono) / self.rate))
        self.queued.append(np.asarray(mono, np.float64))
        self.input_frames += len(mono)

    def _levels(self, audio_16k):
        joined = np.concatenate([self.hop_rest, audio_16k])
        whole = len(joined) // HOP * HOP
        self.hop_rest = joined[whole:]
        levels = hop_levels(joined[:whole])
        if self.concealed:
            times = self.origin + (self.hops + np.arange(len(levels))) * FRAME_PERIOD
            for k in np.flatnonzero(self._in_concealed(times, hops=True)):
                levels[k] = levels[k - 1] if k else self.last_level  # lost: as before it
        if len(levels):
            self.last_level = levels[-1]
        self.hops += len(levels)
        self.gate.push_levels(levels)

    def _in_concealed(self, times, hops=False):
        inside = np.zeros(len(times), bool)
        for hold, lost, end in self.concealed:
            inside |= (times >= (lost if hops else hold)) & (times < end)
        return inside

    def _take_queued(self):
        """The queued audio at 16 kHz, as far as the resampler can give it."""
        mono = np.concatenate(self.queued) if self.queued else np.zeros(0)
        self.queued = []
        return self.resampler.push(mono)

    def drain(self):
        """Push the queued audio through -> (times (n,), coefficients (n, C), weights (n,))."""
        audio = self._take_queued()
        self._levels(audio)
        return self._frames(self.stream.push(audio))

    def finish(self):
        """The stream ended: the queued audio and the last frames, their look-ahead padded
        with silence."""
        audio = np.concatenate([self._take_queued(), self.resampler.flush()])
        self._levels(audio)
        coefficients = [self.stream.push(audio)]
        pad = (-len(self.hop_rest)) % HOP
        self._levels(np.zeros(pad + self.lookahead * HOP))
        coefficients.append(self.stream.flush())
        return self._frames(np.concatenate(coefficients))

    def conceal(self, times, poses):
        """poses (n, L) of frames at times (n,), those inside lost audio holding the pose
        before them -> (poses, (n,) True where held)."""
        if not len(times):
            return poses, np.zeros(0, bool)
        out = poses.copy()
        held = self._in_concealed(times) if self.concealed else np.zeros(len(times), bool)
        for k in np.flatnonzero(held):  # in order: a run of held frames holds one pose
            if k:
                out[k] = out[k - 1]
            elif self.last_pose is not None:
                out[k] = self.last_pose
        self.last_pose = out[-1]
        # lost stretches that every frame has passed are done with
        self.concealed = [c for c in self.concealed if c[2] > times[-1]]
        return out, held

    def _frames(self, coefficients):
        n = len(coefficients)
        times = self.origin + (self.frames + np.arange(n)) * FRAME_PERIOD
        self.frames += n
        return times, coefficients, self.gate.weights(n)


class LipPolicy:
    """Audio chunks -> scheduled lip poses -> commands (see the module docstring).

    predictor: lip_policy.predictor.LipPredictor; lips_to_actuators: callable (n, 40, 3)
    human lips -> (n, L) positions [rad] (retarget.LipsToActuators); names, neutral: the L
    lip actuators and their rest positions; max_velocity: their speed limits (L,) [rad/s]
    (config/face_motors.yaml), or None for no pacing. The seal hold needs the retargeting
    (lips_to_actuators.retargeting) to tell sealed lips; without one it is off.
    """

    def __init__(self, predictor, lips_to_actuators, names, neutral, config=None,
                 max_velocity=None):
        self.predictor = predictor
        self.lips_to_actuators = lips_to_actuators
        self.names = tuple(names)
        self.neutral = np.asarray(neutral, np.float64)
        self.config = (config or PolicyConfig()).validate()
        self.max_step = None  # (L,) [rad per frame] the pacing keeps to
        if max_velocity is not None and self.config.pacing > 0:
            limits = np.asarray(max_velocity, np.float64)
            if limits.shape != self.neutral.shape or not np.all(limits > 0):
                raise ValueError(f'max_velocity must be {len(self.names)} positive speeds '
                                 f'[rad/s] for {", ".join(self.names)}; got {max_velocity!r}')
            self.max_step = limits * self.config.pacing * FRAME_PERIOD
        # The seal hold: frames held around each sealed one, and the width the gaps are
        # fractions of (the robot's rest mouth, as retargeted lips land on it).
        retargeting = getattr(lips_to_actuators, 'retargeting', None)
        self.seal_width = None
        if retargeting is not None and self.config.seal_hold > 0:
            rest = retargeting.robot_lips(retargeting.robot_rest)
            self.seal_width = float(metrics.width(rest[None])[0])
        self.hold_frames = round(self.config.seal_hold / FRAME_PERIOD) if self.seal_width else 0
        self.segment = None
        self.last_sequence = None
        self.times = np.zeros(0)
        self.poses = np.zeros((0, len(self.names)))
        self.forward = self.poses.copy()  # the poses rate-limited forwards (pacing)
        # the pose each frame must show (seal hold, kept only when on); NaN: free
        self.pins = self.poses.copy()
        # pins decided for frames the smoother has not finished yet
        self.pending_times, self.pending_pins = np.zeros(0), self.poses.copy()
        self.published = self.neutral.copy()
        self.idle = True
        self.ease_start = None
        self.ease_from = self.neutral.copy()
        self.recent_sequences = collections.deque(maxlen=RECENT_SEQUENCES)
        # [s per frame] of recent model + retargeting passes, full and hurried
        self.compute_seconds = collections.deque(maxlen=COMPUTE_HISTORY)
        self.hurried_seconds = collections.deque(maxlen=COMPUTE_HISTORY)
        self.counts = {'chunks': 0, 'rejected': 0, 'gaps_filled': 0, 'segments': 0,
                       'lost_chunks': 0, 'lost_seconds': 0.0, 'duplicates': 0, 'late': 0,
                       'hurried_frames': 0}

    # --- audio in ------------------------------------------------------------------------
    def push(self, chunk, stamp, now, hurry=False):
        """Take one chunk stamped to play at `stamp` [s] (0 = on arrival) at time `now` [s].

        Returns a list of notes (strings) worth logging; raises ChunkError for a chunk that
        was dropped (the message says why and what to send instead).
        """
        return self.push_many([self.accept(chunk, stamp, now)], hurry)

    def accept(self, chunk, stamp, now):
        """Check one chunk and turn it into an Arrival (mono audio on this clock); raises
        ChunkError for a chunk the policy cannot use (counted as rejected)."""
        try:
            max_samples = int(self.config.max_chunk_duration * chunk.sample_rate
                              * max(int(chunk.channels), 1))
            check_audio_chunk(chunk, max_samples=max_samples)
        except MessageError as error:
            self.counts['rejected'] += 1
            raise ChunkError(str(error)) from error
        notes = []
        if stamp == 0 or abs(stamp - now) > self.config.max_clock_offset:
            if stamp != 0:
                notes.append(f'audio stamp is {stamp - now:+.1f} s from now; stamps must be '
                             'the playback time on this clock, using the arrival time')
            stamp = now
        if chunk.encoding == ENCODING_INT16:
            samples = np.asarray(chunk.samples_int16, np.float64) / 32768.0
        else:
            samples = np.asarray(chunk.samples_float32, np.float64)
        mono = samples.reshape(-1, int(chunk.channels)).mean(axis=1)
        return Arrival(float(stamp), int(chunk.sample_rate), mono, int(chunk.sequence), notes)

    def push_many(self, arrivals, hurry=False):
        """Put accepted chunks (Arrivals, in stamp order) on the timeline and push their
        audio through the model in one piece per stream, which costs less per frame than
        chunk by chunk. hurry: the caller is behind the audio; skip the costly inverse
        refinement for these frames (counted in counts['hurried_frames']).

        A chunk for audio already handled is dropped, not a restart: a duplicate (its
        sequence number was seen) or a late chunk (older than the newest one seen, its
        place already filled). Returns the notes worth logging.
        """
        notes = []
        for arrival in arrivals:
            notes += arrival.notes
            self.counts['chunks'] += 1
            if self._already_handled(arrival):
                continue
            if self.last_sequence is not None and arrival.sequence != self.last_sequence + 1:
                notes.append(f'audio sequence jumped from {self.last_sequence} to '
                             f'{arrival.sequence}: chunks were lost or the stream restarted')
            self.last_sequence = arrival.sequence
            self.recent_sequences.append(arrival.sequence)
            notes += self._place(arrival, hurry)
            self.segment.queue(arrival.mono)
        if self.segment is not None:
            self._schedule(self.segment, hurry=hurry)
        return notes

    def _already_handled(self, arrival):
        """True (and counted) for a duplicate or late chunk whose audio time is behind the
        current stream's end."""
        seg = self.segment
        if seg is None or seg.rate != arrival.rate or \
                arrival.stamp >= seg.end_time - self.config.stamp_tolerance:
            return False
        if arrival.sequence in self.recent_sequences:
            self.counts['duplicates'] += 1
            return True
        if self.last_sequence is not None and arrival.sequence < self.last_sequence and \
                arrival.stamp >= seg.end_time - self.config.max_gap - 1.0:
            self.counts['late'] += 1
            return True
        return False

    def _place(self, arrival, hurry):
        """Put audio stamped arrival.stamp on the current segment or start a new one."""
        c = self.config
        seg = self.segment
        if seg is not None and seg.rate == arrival.rate:
            gap = arrival.stamp - seg.end_time
            if abs(gap) <= c.stamp_tolerance:
                return []
            if 0 < gap <= c.max_gap:
                # Lost audio: its time is kept (silence to the model) and the lips hold
                # their pose through it instead of reading the silence as a closed mouth.
                missing = int(round(gap * arrival.rate))
                self.counts['gaps_filled'] += 1
                self.counts['lost_chunks'] += max(1, round(missing / max(len(arrival.mono), 1)))
                self.counts['lost_seconds'] += gap
                seg.queue(np.zeros(missing), concealed=True)
                return [f'{gap * 1000:.0f} ms of audio missing before this chunk; the lips '
                        'hold their pose through it']
        notes = [] if seg is None else [self._why_new(seg, arrival.stamp, arrival.rate)]
        self.end_segment(hurry)
        self.pending_times, self.pending_pins = self.pending_times[:0], self.pending_pins[:0]
        # Newer audio for the same playback time replaces what was scheduled.
        self._keep(self.times < arrival.stamp)
        self.segment = _Segment(self, arrival.stamp, arrival.rate)
        self.counts['segments'] += 1
        return notes

    @staticmethod
    def _why_new(seg, stamp, rate):
        if seg.rate != rate:
            return f'audio sample rate changed from {seg.rate} to {rate} Hz; new stream'
        return (f'audio stamp is {(stamp - seg.end_time) * 1000:+.0f} ms from where the '
                'stream ended; starting a new stream there')

    def end_segment(self, hurry=False):
        """The current audio stream ended: schedule its last frames."""
        if self.segment is not None:
            self._schedule(self.segment, hurry=hurry, last=True)
            self.segment = None

    def _schedule(self, segment, hurry=False, last=False):
        """Push the segment's queued audio through the model (and its end, when last) and
        put the finished poses on the schedule."""
        started = time.perf_counter()
        times, coefficients, weights = segment.finish() if last else segment.drain()
        final = []  # (times, poses) that the segment's smoother has finished
        pins = []  # (times, pins) that the segment's seal hold has decided
        if len(times):
            human_lips = self.predictor.to_lips(coefficients)
            positions = self._positions(human_lips, hurry)
            poses = self.neutral + weights[:, None] * (positions - self.neutral)
            poses, concealed = segment.conceal(times, poses)
            if segment.hold is not None:
                sealed, gaps = self.seals(human_lips, weights)
                pins.append(segment.hold.push(times, sealed & ~concealed, gaps, poses))
            per_frame = (time.perf_counter() - started) / len(times)
            (self.hurried_seconds if hurry else self.compute_seconds).append(per_frame)
            self.counts['hurried_frames'] += len(times) if hurry else 0
            final.append(segment.smoother.push(times, poses))
        if last:
            final.append(segment.smoother.finish())
            if segment.hold is not None:
                pins.append(segment.hold.finish())
        for times, poses in final:
            if len(times):
                self.times = np.concatenate([self.times, times])
                self.poses = np.concatenate([self.poses, poses])
                if self.hold_frames:
                    self.pins = np.concatenate([self.pins, np.full(poses.shape, np.nan)])
                if self.max_step is not None:
                    start = self.forward[-1] if len(self.forward) else self.published
                    self.forward = np.concatenate(
                        [self.forward, rate_limited(poses, self.max_step, start)])
        if self.hold_frames:
            self._pin(pins)

    def seals(self, human_lips, weights):
        """(sealed (n,), gaps (n,)) of human lips (n, 40, 3) and gate weights (n,): the gap
        of the retargeted lips [fractions of the robot's rest mouth width], sealed where
        metrics.closed_at reads it closed (below seal_gap) with the voice fully on."""
        robot = self.lips_to_actuators.retargeting(human_lips)
        gaps = metrics.opening(robot) / self.seal_width
        sealed = metrics.closed_at(robot, self.seal_width, self.config.seal_gap)
        return sealed & (np.asarray(weights) >= SEAL_MIN_WEIGHT), gaps

    def _pin(self, decided):
        """Put decided pins [(times (m,), pins (m, L))] (and those pending) on the schedule's
        frames; keep those of frames still to come pending."""
        width = len(self.names)
        times = np.concatenate([self.pending_times] + [t for t, _ in decided])
        pins = np.concatenate([self.pending_pins]
                              + [np.reshape(p, (len(t), width)) for t, p in decided])
        if not len(times):
            return
        at = np.searchsorted(self.times, times)
        found = at < len(self.times)
        found[found] = self.times[at[found]] == times[found]
        self.pins[at[found]] = pins[found]
        later = ~found & (times > (self.times[-1] if len(self.times) else -np.inf))
        self.pending_times, self.pending_pins = times[later], pins[later]

    def _positions(self, human_lips, hurry):
        """Lip actuator positions for human lips; without the inverse refinement when
        hurrying (the network's answer alone, a few times cheaper)."""
        if hurry and getattr(self.lips_to_actuators, 'refine_steps', 0):
            return self.lips_to_actuators(human_lips, refine_steps=0)
        return self.lips_to_actuators(human_lips)

    def _keep(self, mask):
        """Keep the scheduled frames where mask is True."""
        self.times, self.poses = self.times[mask], self.poses[mask]
        if self.hold_frames:
            self.pins = self.pins[mask]
        if self.max_step is not None:
            self.forward = self.forward[mask]

    # --- commands out --------------------------------------------------------------------
    def pose_at(self, t):
        """Interpolated scheduled pose for playback time t, or None outside the schedule."""
        return self._at(t, self.poses)

    def paced_at(self, t):
        """The pose for playback time t as commanded: paced (see pace_poses) when the
        policy has speed limits, else as scheduled; None outside the schedule."""
        return self._at(t, *self._commanded_rows(t, t))

    def _commanded_rows(self, t0, t1):
        """(rows, first): the schedule's frames that interpolation at times t0..t1 reads, as
        commanded (paced when the policy has speed limits), from schedule frame `first` on.
        One backward pass serves every time in the span."""
        first = max(int(np.searchsorted(self.times, t0, side='right')) - 1, 0)
        stop = int(np.searchsorted(self.times, t1, side='right')) + 1
        if self.max_step is None or len(self.times) == 0:
            return self._held(self.poses[first:stop], first), first
        ahead = self.poses[first:first + max(PACE_HORIZON, stop - first)]
        backward = rate_limited(ahead, self.max_step, ahead[-1], backwards=True)
        return self._held(0.5 * (self.forward[first:stop] + backward[:stop - first]), first), \
            first

    def _held(self, rows, first):
        """rows (the commanded poses of schedule frames from `first` on) reaching and holding
        the seal hold's pins (pose_filters.hold_pins: only pins within PACE_HORIZON count)."""
        if not self.hold_frames or not len(rows):
            return rows
        lo = max(first - PACE_HORIZON, 0)
        return hold_pins(rows, self.pins[lo:first + len(rows) + PACE_HORIZON], self.max_step,
                         offset=first - lo)

    def paced_schedule(self):
        """(times, poses) of the whole schedule as it is commanded (paced and held, as
        paced_at)."""
        if self.max_step is None or len(self.times) == 0:
            return self.times, self._held(self.poses, 0)
        backward = rate_limited(self.poses, self.max_step, self.poses[-1], backwards=True)
        return self.times, self._held(0.5 * (self.forward + backward), 0)

    def _at(self, t, poses, first=0):
        """poses (rows from schedule frame `first` on) interpolated at time t."""
        times = self.times
        if len(times) == 0 or not times[0] <= t <= times[-1]:
            return None
        i = int(np.searchsorted(times, t, side='right')) - 1
        if i >= len(times) - 1:
            return poses[i - first].copy()
        a = (t - times[i]) / (times[i + 1] - times[i])
        return (1 - a) * poses[i - first] + a * poses[i + 1 - first]

    def command(self, now):
        """The command to send at `now` [s], or None when the lips rest (nothing to send)."""
        c = self.config
        target = now + c.actuator_lag
        if self.segment is not None and now > self.segment.end_time + c.stall_timeout:
            self.end_segment()
        old = self.times < target - c.history
        if old.any():
            self._keep(~old)
        rows, first = self._commanded_rows(target - FRAME_PERIOD, target + FRAME_PERIOD)
        pose = self._at(target, rows, first)
        state = 'speaking'
        if pose is None and len(self.times) and \
                0 < target - self.times[-1] <= c.stall_timeout:
            pose, state = self.paced_at(self.times[-1]), 'late'
        if pose is None:
            if self.idle:
                return None
            if self.ease_start is None:
                self.ease_start, self.ease_from = now, self.published.copy()
            progress = 1.0 if c.ease_time == 0 else min((now - self.ease_start) / c.ease_time,
                                                        1.0)
            s = progress * progress * (3 - 2 * progress)  # smoothstep: no jerk at either end
            pose, state = self.ease_from + s * (self.neutral - self.ease_from), 'easing'
            self.idle = progress >= 1.0
        else:
            self.idle, self.ease_start = False, None
            if state == 'speaking' and c.servo_time_constant > 0:
                pose = self._feed_forward(pose, target, rows, first)
        self.published = pose
        return Command(pose, target, state)

    def _feed_forward(self, pose, target, rows, first):
        """pose + tau * its rate of change: a first-order servo fed this follows the pose
        itself instead of trailing it by tau (and losing amplitude at syllable rates).
        rows, first: the commanded frames around target (_commanded_rows)."""
        before, after = (self._at(target - FRAME_PERIOD, rows, first),
                         self._at(target + FRAME_PERIOD, rows, first))
        if before is None or after is None:
            return pose
        rate = (after - before) / (2 * FRAME_PERIOD)
        lead = pose + self.config.servo_time_constant * rate
        lower = getattr(self.lips_to_actuators, 'lower', None)
        return lead if lower is None else np.clip(lead, lower, self.lips_to_actuators.upper)

    def hop_compute_ms(self):
        """Median compute per 10 ms lip frame (model + retargeting) [ms]."""
        return 1000 * float(np.median(self.compute_seconds)) if self.compute_seconds else \
            float('nan')


def offline_poses(policy, audio_16k):
    """Reference: the poses a whole clip at 16 kHz gets, computed in one piece.

    Uses the whole-clip model path (LipPredictor.predict_coefficients) and one gate pass;
    the streaming path must give the same poses (LipPolicy.paced_schedule). Returns (times
    from clip start, poses): smoothed, paced when the policy has speed limits, and holding
    each seal (seal_hold) when it is on.
    """
    c = policy.config
    predictor = policy.predictor
    coefficients = predictor.predict_coefficients(audio_16k)
    n = len(coefficients)
    padded = np.concatenate([np.asarray(audio_16k, np.float64),
                             np.zeros((n + predictor.lookahead_frames) * HOP - len(audio_16k))])
    gate = _voice_gate(c, predictor.lookahead_frames)
    gate.push_levels(hop_levels(padded[:(n + predictor.lookahead_frames) * HOP]))
    weights = gate.weights(n)
    human_lips = predictor.to_lips(coefficients)
    positions = policy.lips_to_actuators(human_lips)
    raw = policy.neutral + weights[:, None] * (positions - policy.neutral)
    poses = smooth_poses(raw, c.pose_smoothing)
    if policy.max_step is not None:
        poses = pace_poses(poses, policy.max_step, policy.neutral)
    if policy.hold_frames:
        sealed, gaps = policy.seals(human_lips, weights)
        poses = hold_pins(poses, seal_pins(sealed, gaps, raw, policy.hold_frames),
                          policy.max_step)
    return np.arange(n) * FRAME_PERIOD, poses
