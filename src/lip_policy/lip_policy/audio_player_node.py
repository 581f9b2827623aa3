"""audio_player_node: plays a sound file (or espeak-ng text) onto /audio in real time.

It stands in for the speech stack. Each face_msgs/AudioChunk is stamped with the time its
first sample is played; with lookahead > 0 chunks are published that much before their
playback time, as a TTS that knows what it will say would send them. Like a sound card's
feeder it runs real-time where permitted (scheduling): a player that falls behind would
send audio after its own playback time, which no listener can make up for.
"""

import array
import time

import numpy as np
import rclpy
from rclpy.duration import Duration
from rclpy.node import Node

from face_common import scheduling
from face_common.parameters import (
    Parameter,
    ParameterError,
    between,
    declare_parameters,
    one_of,
    scheduling_parameters,
)
from face_common.qos import audio_qos
from face_common.spin import spin_node
from face_msgs.msg import AudioChunk
from lip_policy.audio_clip import AudioClipError, load_audio_file, speak, split_into_chunks

EXIT_LINGER = 0.5  # [s] between the last chunk and exiting, with exit_when_done
ENCODINGS = {'float32': AudioChunk.ENCODING_FLOAT32, 'int16': AudioChunk.ENCODING_INT16}

PARAMETERS = {
    'file': Parameter('', 'WAV/FLAC file to play; empty = speak `text` instead'),
    'text': Parameter('', 'text for espeak-ng to speak when `file` is empty'),
    'voice': Parameter('en', 'espeak-ng voice or language code for `text`'),
    'chunk_duration': Parameter(0.02, 'audio per chunk [s], 0.001..1.0',
                                between(0.001, 1.0, 's')),
    'lookahead': Parameter(0.0, 'how long before playback each chunk is published [s], 0..5',
                           between(0.0, 5.0, 's')),
    'start_delay': Parameter(0.5, 'time from start (or from the first subscriber) to playback '
                             '[s]', between(0.0, 60.0, 's')),
    'wait_for_subscribers': Parameter(0, 'subscribers to wait for before playing, 0 = none',
                                      between(0, 1_000_000)),
    'encoding': Parameter('float32', 'sample encoding: float32 or int16', one_of(ENCODINGS)),
    'loop': Parameter(False, 'start again when the clip ends'),
    'exit_when_done': Parameter(False, 'shut the node down after the clip'),
    **scheduling_parameters(15, "a sound card's feeder: above the lip policy's, which "
                               'follows its audio'),
}


class AudioPlayerNode(Node):
    def __init__(self, **kwargs):
        super().__init__('audio_player', **kwargs)
        p = declare_parameters(self, PARAMETERS, 'lip_policy.yaml')
        if not p['file'] and not p['text'].strip():
            raise ParameterError('set `file` to a WAV/FLAC path or `text` to something to say')
        for name, value in p.items():
            setattr(self, name, value)

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
    def play(node):
        # With exit_when_done, linger briefly so DDS delivers the last chunks before exit.
        while rclpy.ok() and not (node.exit_when_done and node.done and
                                  time.monotonic() - node.done_at > EXIT_LINGER):
            rclpy.spin_once(node, timeout_sec=0.1)

    spin_node(AudioPlayerNode, args, (ParameterError, AudioClipError),
              name='audio_player_node', spin=play,
              started=lambda node: node.get_logger().info(scheduling.apply(
                  node.scheduling, node.realtime_priority)))


if __name__ == '__main__':
    main()
