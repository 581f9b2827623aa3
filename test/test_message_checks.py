"""face_msgs.checks rejects every malformed message with a message that says what to fix."""

import importlib.util
import math
import pathlib

import pytest

from face_msgs.checks import (
    MessageError,
    check_audio_chunk,
    check_face_command,
    check_face_landmarks,
)
from face_msgs.msg import AudioChunk

HERE = pathlib.Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location('face_msgs_peer', HERE / 'face_msgs_peer.py')
peer = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(peer)

KNOWN = {'jaw_open', 'lip_corner_left_raise'}


def test_well_formed_samples_pass():
    check_face_command(peer.sample_face_command(), known_names=KNOWN)
    check_face_landmarks(peer.sample_face_landmarks(), expected_count=109)
    assert check_audio_chunk(peer.sample_audio_chunk()) == 441


@pytest.mark.parametrize('mutate, words', [
    (lambda m: setattr(m, 'position', [0.1]), 'same length'),
    (lambda m: setattr(m, 'max_velocity', [1.0, 2.0, 3.0]), 'max_velocity'),
    (lambda m: setattr(m, 'position', [math.nan, 0.0]), 'finite'),
    (lambda m: setattr(m, 'position', [0.0, math.inf]), 'finite'),
    (lambda m: setattr(m, 'name', ['jaw_open', 'jaw_open']), 'twice'),
    (lambda m: setattr(m, 'name', ['jaw_open', 'tail_wag']), 'unknown actuator'),
    (lambda m: setattr(m, 'max_velocity', [-1.0, 0.0]), 'positive'),
    # rclpy's Time.from_msg raises on these: a driver that used it went down on one message
    (lambda m: setattr(m.reach_time, 'sec', -5), 'reach_time is sec=-5'),
    (lambda m: setattr(m.reach_time, 'nanosec', 1_500_000_000), 'nanosec < 1e9'),
    (lambda m: setattr(m.header.stamp, 'sec', -1), 'header.stamp is sec=-1'),
])
def test_malformed_face_command_is_rejected(mutate, words):
    msg = peer.sample_face_command()
    mutate(msg)
    with pytest.raises(MessageError, match=words):
        check_face_command(msg, known_names=KNOWN)


def test_face_command_without_known_names_accepts_any_name():
    msg = peer.sample_face_command()
    msg.name = ['a', 'b']
    check_face_command(msg)


@pytest.mark.parametrize('mutate, words', [
    (lambda m: setattr(m, 'points', m.points[:50]), 'needs 109 points'),
    (lambda m: setattr(m, 'layout', ''), 'no layout'),
    (lambda m: setattr(m, 'confidence', 1.5), 'outside'),
    (lambda m: setattr(m.points[3], 'y', math.nan), 'point 3'),
    (lambda m: setattr(m, 'detected', False), 'carries no points'),
])
def test_malformed_face_landmarks_are_rejected(mutate, words):
    msg = peer.sample_face_landmarks()
    mutate(msg)
    with pytest.raises(MessageError, match=words):
        check_face_landmarks(msg, expected_count=109)


def test_frame_without_face_is_well_formed():
    msg = peer.sample_face_landmarks()
    msg.detected, msg.points, msg.confidence = False, [], 0.0
    check_face_landmarks(msg, expected_count=109)


@pytest.mark.parametrize('mutate, words', [
    (lambda m: setattr(m, 'samples_float32', m.samples_float32[:-1]), 'multiple'),
    (lambda m: setattr(m, 'samples_float32', []), 'no samples'),
    (lambda m: setattr(m, 'sample_rate', 0), 'sample_rate'),
    (lambda m: setattr(m, 'sample_rate', 10_000_000), 'sample_rate'),
    (lambda m: setattr(m, 'channels', 0), 'channels'),
    (lambda m: setattr(m, 'encoding', 9), 'encoding'),
    (lambda m: setattr(m, 'samples_int16', [1, 2]), 'does not use'),
    (lambda m: m.samples_float32.__setitem__(5, math.nan), 'NaN'),
])
def test_malformed_audio_chunk_is_rejected(mutate, words):
    msg = peer.sample_audio_chunk()
    mutate(msg)
    with pytest.raises(MessageError, match=words):
        check_audio_chunk(msg)


def test_oversized_audio_chunk_is_rejected_and_int16_counts_frames():
    msg = AudioChunk(sample_rate=16000, channels=1, encoding=AudioChunk.ENCODING_INT16)
    msg.samples_int16 = [0] * 1600
    assert check_audio_chunk(msg, max_samples=1600) == 1600
    with pytest.raises(MessageError, match='split long audio'):
        check_audio_chunk(msg, max_samples=1000)
