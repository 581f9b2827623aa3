"""audio_player_node: plays a sound file (or espeak-ng text) onto /audio in real time.

It stands in for the speech stack. Each face_msgs/AudioChunk is stamped with the time its
first sample is played; with lookahead > 0 chunks are published that much before their
playback time, as a TTS that knows what it will say would send them. Like a sound card's
feeder it runs real-time where permitted (scheduling): a player that falls behind would
send audio after its own playback time, which no listener can make up for.
"""

import array
import sys
import time

import numpy as np
import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node

from face_motor_driver import scheduling
from face_msgs.msg import AudioChunk
from lip_policy.audio_clip import AudioClipError, load_audio_file, speak, split_into_chunks
from lip_policy.qos import audio_qos

EXIT_LINGER = 0.5  # [s] between the last chunk and exiting, with exit_when_done
ENCODINGS = {'float32': AudioChunk.ENCODING_FLOAT32, 'int16': AudioChunk.ENCODING_INT16}


class AudioPlayerNode(Node):
    def __init__(self, **kwargs):
        super().__init__('audio_player', **kwargs)
        p = self._declare
        self.file = p('file', '', 'WAV/FLAC file to play; empty = speak `text` instead')
        self.text = p('text', '', 'text for espeak-ng to speak when `file` is empty')
        self.voice = p('voice', 'en', 'espeak-ng voice or language code for `text`')
        self.chunk_duration = p('chunk_duration', 0.02, 'audio per chunk [s], 0.001..1.0')
        self.lookahead = p('lookahead', 0.0,
                           'how long before playback each chunk is published [s], 0..5')
        self.start_delay = p('start_delay', 0.5,
                             'time from start (or from the first subscriber) to playback [s]')
        self.wait_for_subscribers = p('wait_for_subscribers', 0,
                                      'subscribers to wait for before playing, 0 = none')
        self.encoding = p('encoding', 'float32', 'sample encoding: float32 or int16')
        self.loop = p('loop', False, 'start again when the clip ends')
        self.exit_when_done = p('exit_when_done', False, 'shut the node down after the clip')
        self.scheduling = p('scheduling', 'realtime',
                            'CPU scheduling: realtime (SCHED_RR where permitted, else nice '
                            '-10), as a sound card\'s feeder runs, or normal')
        self.realtime_priority = p('realtime_priority', 15,
                                   'SCHED_RR priority with scheduling realtime [1..98]')
        self._validate()

        self.clip = load_audio_file(self.file) if self.file else speak(self.text, self.voice)
        self.chunks = split_into_chunks(self.clip, self.chunk_duration)
        self.publisher = self.create_publisher(AudioChunk, 'audio', audio_qos())
        self.sequence = 0
        self.next_chunk = 0
        self.start_time = None
        self.done = False
        self.done_at = None
        self.get_logger().info(
            f'playing {self.file or repr(self.text)}: {self.clip.duration:.2f} s, '
            f'{self.clip.sample_rate} Hz, {self.clip.channels} ch, {len(self.chunks)} chunks, '
            f'lookahead {self.lookahead * 1000:.0f} ms')
        self.timer = self.create_timer(min(self.chunk_duration / 2, 0.01), self._tick)

    def _declare(self, name, default, description):
        return self.declare_parameter(
            name, default, ParameterDescriptor(description=description)).value

    def _validate(self):
        problems = []
        if not self.file and not self.text.strip():
            problems.append('set `file` to a WAV/FLAC path or `text` to something to say')
        if not 0.001 <= self.chunk_duration <= 1.0:
            problems.append(f'chunk_duration {self.chunk_duration} s is outside 0.001..1.0')
        if not 0.0 <= self.lookahead <= 5.0:
            problems.append(f'lookahead {self.lookahead} s is outside 0..5')
        if not 0.0 <= self.start_delay <= 60.0:
            problems.append(f'start_delay {self.start_delay} s is outside 0..60')
        if self.wait_for_subscribers < 0:
            problems.append('wait_for_subscribers must be >= 0')
        if self.scheduling not in scheduling.SCHEDULING:
            problems.append(f'scheduling {self.scheduling!r} is not one of '
                            f'{", ".join(scheduling.SCHEDULING)}')
        if not 1 <= self.realtime_priority <= 98:
            problems.append(f'realtime_priority {self.realtime_priority} is outside 1..98')
        if self.encoding not in ENCODINGS:
            problems.append(f'encoding {self.encoding!r} is not one of {sorted(ENCODINGS)}')
        if problems:
            raise ValueError('audio_player: ' + '; '.join(problems))

    def _tick(self):
        now = self.get_clock().now()
        if self.start_time is None:
            if self.publisher.get_subscription_count() < self.wait_for_subscribers:
                return
            self.start_time = now + Duration(seconds=self.start_delay)
        while self.next_chunk < len(self.chunks):
            first_frame, samples = self.chunks[self.next_chunk]
            play_at = self.start_time + Duration(
                seconds=first_frame / self.clip.sample_rate)
            if now < play_at - Duration(seconds=self.lookahead):
                return
            self.publisher.publish(self._message(play_at, samples))
            self.next_chunk += 1
        if self.loop:
            self.start_time = self.start_time + Duration(seconds=self.clip.duration)
            self.next_chunk = 0
        elif not self.done:
            self.done = True
            self.done_at = time.monotonic()
            self.get_logger().info(f'clip finished after {self.sequence} chunks')

    def _message(self, play_at, samples):
        msg = AudioChunk()
        msg.header.stamp = play_at.to_msg()
        msg.sample_rate = self.clip.sample_rate
        msg.channels = self.clip.channels
        msg.encoding = ENCODINGS[self.encoding]
        interleaved = samples.reshape(-1)
        # array.array from bytes: rclpy checks every element of any other sequence type.
        if msg.encoding == AudioChunk.ENCODING_FLOAT32:
            msg.samples_float32 = array.array('f', interleaved.astype(np.float32).tobytes())
        else:
            ints = np.clip(np.round(interleaved * 32767), -32768, 32767).astype(np.int16)
            msg.samples_int16 = array.array('h', ints.tobytes())
        msg.sequence = self.sequence
        self.sequence += 1
        return msg


def main(args=None):
    rclpy.init(args=args)
    node = None
    try:
        node = AudioPlayerNode()
        node.get_logger().info(scheduling.apply(node.scheduling, node.realtime_priority))
        # With exit_when_done, linger briefly so DDS delivers the last chunks before exit.
        while rclpy.ok() and not (node.exit_when_done and node.done and
                                  time.monotonic() - node.done_at > EXIT_LINGER):
            rclpy.spin_once(node, timeout_sec=0.1)
    except (ValueError, AudioClipError) as error:
        print(f'audio_player_node: {error}', file=sys.stderr)
        sys.exit(2)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
