"""face-replay-eval --realtime: the bag's audio through a running lip_policy_node over DDS.

A lip_policy_node process (face_common.graphs 'policy') is started with
config/lip_policy.yaml, the chosen models and actuator_lag 0 (so a command stamped t holds
the pose for audio time t, as the offline replay schedules it). The recorded /audio chunks
are published on /audio at the pace they were recorded (bag receive times), each restamped
by the same shift from recording time to now, which keeps their recorded look-ahead. Every
face/lip_command that comes back is shifted back to recording time and put on the 10 ms
frame grid of the audio; frames with no command (the node is silent while the lips rest)
are neutral.
"""

import pathlib
import re
import time

import numpy as np

from face_bringup.bag import header_seconds
from face_common.frames import FRAME_PERIOD
from face_common.graphs import graph, start
from face_common.node_processes import NodeStartError
from face_common.scheduling import INSTRUMENT_NICE, niceness

DISCOVERY_TIMEOUT = 120.0  # [s] model loading on a loaded machine included
TAIL = 1.0  # [s] listened for after the last chunk


class LiveReplayError(RuntimeError):
    """The live replay could not run; the text says why."""


def to_ros_chunk(recorded, stamp):
    """A face_msgs/AudioChunk from a chunk read out of a bag, stamped `stamp` [s]."""
    from builtin_interfaces.msg import Time

    from face_msgs.msg import AudioChunk

    msg = AudioChunk()
    msg.header.frame_id = recorded.header.frame_id
    whole = int(np.floor(stamp))
    msg.header.stamp = Time(sec=whole, nanosec=min(int(round((stamp - whole) * 1e9)),
                                                   999_999_999))
    msg.sample_rate = int(recorded.sample_rate)
    msg.channels = int(recorded.channels)
    msg.encoding = int(recorded.encoding)
    msg.samples_float32 = np.asarray(recorded.samples_float32, dtype=np.float32)
    msg.samples_int16 = np.asarray(recorded.samples_int16, dtype=np.int16)
    msg.sequence = int(recorded.sequence)
    return msg


def _rejected_chunks(output):
    """Rejected chunks from the node's shutdown summary ('N chunks, M rejected, ...')."""
    found = re.findall(r'(\d+) chunks, (\d+) rejected', output)
    return int(found[-1][1]) if found else -1


class _Link:
    """This process's end: publishes audio, collects lip commands."""

    def __init__(self):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor

        from face_common.qos import audio_qos, command_qos
        from face_msgs.msg import AudioChunk, FaceCommand

        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node('face_replay_eval', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.audio = self.node.create_publisher(AudioChunk, 'audio', audio_qos())
        self.commands = []  # (stamp [s], {name: position})
        self.node.create_subscription(
            FaceCommand, 'face/lip_command',
            lambda m: self.commands.append((header_seconds(m),
                                            dict(zip(m.name, m.position)))),
            command_qos(100))

    def now(self):
        return self.node.get_clock().now().nanoseconds * 1e-9

    def spin_until(self, deadline):
        """Process callbacks until time.monotonic() reaches deadline."""
        while (left := deadline - time.monotonic()) > 0:
            self.executor.spin_once(timeout_sec=min(left, 0.002))

    def close(self):
        import rclpy

        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


def _wait_for_policy(link, policy):
    """Until the node's audio subscription and command publisher are both matched."""
    deadline = time.monotonic() + DISCOVERY_TIMEOUT
    while time.monotonic() < deadline:
        policy.check_running()
        if link.audio.get_subscription_count() and \
                link.node.count_publishers('/face/lip_command'):
            link.spin_until(time.monotonic() + 0.5)  # let the reverse match settle too
            return
        link.spin_until(time.monotonic() + 0.1)
    raise LiveReplayError(f'lip_policy_node did not come up within {DISCOVERY_TIMEOUT:.0f} s:'
                          f'\n{policy.output()[-2000:]}')


def live_replay(audio, names, neutral, params_file, models=('', '', '')):
    """(times [s], poses (n, L), rejected chunks, figures) of a live lip_policy_node fed the
    recorded audio [(bag time ns, chunk)] in real time; times are recording-time frames."""
    lip_model, self_model, retarget = models
    audio = sorted(audio, key=lambda item: item[0])
    try:
        spec, = graph('policy', parameters={'lip_model': lip_model, 'self_model': self_model,
                                            'retarget': retarget, 'actuator_lag': 0.0})
        policy = start(spec, config_dir=pathlib.Path(params_file).parent)
    except NodeStartError as error:
        raise LiveReplayError(str(error)) from error
    link = _Link()
    # This process is the voice here (it publishes the recorded audio in real time) and the
    # recorder: an instrument, as lip-e2e-eval's recorder is.
    try:
        with niceness(INSTRUMENT_NICE):
            _wait_for_policy(link, policy)
            first_log = audio[0][0] * 1e-9
            start_wall = time.monotonic() + 0.1
            shift = link.now() + 0.1 - first_log  # recording time -> now
            for log_ns, chunk in audio:
                link.spin_until(start_wall + (log_ns * 1e-9 - first_log))
                link.audio.publish(to_ros_chunk(chunk, header_seconds(chunk) + shift))
            link.spin_until(time.monotonic() + TAIL)
            policy.check_running()
    finally:
        link.close()
        policy.stop()
        output = policy.output()
        policy.close()
    if not link.commands:
        raise LiveReplayError(f'lip_policy_node sent no lip command:\n{output[-2000:]}')
    stamps = np.array([t for t, _ in link.commands]) - shift
    order = np.argsort(stamps, kind='stable')
    stamps = stamps[order]
    poses = np.array([[link.commands[i][1].get(n, np.nan) for n in names] for i in order])
    begin = header_seconds(audio[0][1])
    end = max(header_seconds(c) for _, c in audio) + 0.5
    grid = np.arange(begin, end, FRAME_PERIOD)
    # The command in force at each frame: the last one sent at or before it, if recent.
    last = np.searchsorted(stamps, grid + 1e-6, side='right') - 1
    fresh = (last >= 0) & (grid - stamps[np.maximum(last, 0)] <= 3 * FRAME_PERIOD)
    framed = np.where(fresh[:, None], poses[np.maximum(last, 0)], np.asarray(neutral)[None])
    span = stamps[-1] - stamps[0]
    figures = {'live_commands': len(stamps),
               'live_command_rate_hz': round((len(stamps) - 1) / span, 1) if span > 0 else 0.0}
    return grid, framed, _rejected_chunks(output), figures
