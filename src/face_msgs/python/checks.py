"""Content checks for face_msgs messages that the type system cannot express.

rosidl checks types, not the rules the .msg comments state (parallel arrays of
equal length, finite positions, exactly one sample array in use). Every node
that receives a face_msgs message runs the matching check first and, on a
MessageError, logs its text and drops the message, so one bad publisher cannot
move a motor or crash a node. Plain Python and numpy: no rclpy import.
"""

import math

import numpy as np

MAX_AUDIO_SAMPLE_RATE = 384_000  # [Hz] above any real audio interface
MIN_AUDIO_SAMPLE_RATE = 4_000    # [Hz] below this there is no speech left
MAX_AUDIO_CHANNELS = 16


class MessageError(ValueError):
    """A message broke a rule of its .msg definition; the text says which and what to do."""


def check_face_command(msg, known_names=None):
    """Raise MessageError unless msg is a well-formed face_msgs/FaceCommand.

    known_names, when given, is the set of actuator names the driver knows.
    """
    names = list(msg.name)
    positions = list(msg.position)
    velocities = list(msg.max_velocity)
    if len(names) != len(positions):
        raise MessageError(
            f'FaceCommand has {len(names)} names but {len(positions)} positions; '
            'name and position are parallel arrays and must have the same length')
    if velocities and len(velocities) != len(names):
        raise MessageError(
            f'FaceCommand has {len(names)} names but {len(velocities)} max_velocity '
            'entries; leave max_velocity empty or give one limit per name')
    seen = set()
    for name, position in zip(names, positions):
        if name in seen:
            raise MessageError(f'FaceCommand names actuator {name!r} twice; name each once')
        seen.add(name)
        if not math.isfinite(position):
            raise MessageError(
                f'FaceCommand position for {name!r} is {position}; positions must be '
                'finite radians')
        if known_names is not None and name not in known_names:
            raise MessageError(
                f'FaceCommand names unknown actuator {name!r}; valid names are those '
                'in config/face_motors.yaml')
    for name, limit in zip(names, velocities):
        if limit < 0 or math.isinf(limit):
            raise MessageError(
                f'FaceCommand max_velocity for {name!r} is {limit}; use a positive '
                'limit in rad/s, or 0/NaN for the driver default')
    check_time(msg.header.stamp, 'FaceCommand header.stamp')
    check_time(msg.reach_time, 'FaceCommand reach_time')


def check_time(stamp, what):
    """Raise MessageError unless a builtin_interfaces/Time is a valid time (sec >= 0,
    nanosec < 1e9); rclpy's Time.from_msg raises on anything else."""
    if stamp.sec < 0 or stamp.nanosec >= 1_000_000_000:
        raise MessageError(
            f'{what} is sec={stamp.sec}, nanosec={stamp.nanosec}; a time needs sec >= 0 and '
            'nanosec < 1e9 (zero = unset)')


def check_face_landmarks(msg, expected_count=None):
    """Raise MessageError unless msg is a well-formed face_msgs/FaceLandmarks.

    expected_count, when given, is the number of points the layout holds.
    """
    points = list(msg.points)
    if not msg.detected:
        if points:
            raise MessageError(
                f'FaceLandmarks has detected=false but {len(points)} points; a frame '
                'without a face carries no points')
        return
    if not msg.layout:
        raise MessageError('FaceLandmarks has no layout; name the landmark layout used')
    if expected_count is not None and len(points) != expected_count:
        raise MessageError(
            f'FaceLandmarks layout {msg.layout!r} needs {expected_count} points, '
            f'got {len(points)}')
    if not points:
        raise MessageError('FaceLandmarks has detected=true but no points')
    if not (0.0 <= msg.confidence <= 1.0):
        raise MessageError(f'FaceLandmarks confidence {msg.confidence} is outside [0, 1]')
    for i, p in enumerate(points):
        if not (math.isfinite(p.x) and math.isfinite(p.y) and math.isfinite(p.z)):
            raise MessageError(f'FaceLandmarks point {i} is not finite: ({p.x}, {p.y}, {p.z})')


def check_audio_chunk(msg, max_samples=None):
    """Raise MessageError unless msg is a well-formed face_msgs/AudioChunk.

    Returns the number of frames (samples per channel). max_samples, when given,
    bounds the total sample count of one chunk.
    """
    if not (MIN_AUDIO_SAMPLE_RATE <= msg.sample_rate <= MAX_AUDIO_SAMPLE_RATE):
        raise MessageError(
            f'AudioChunk sample_rate {msg.sample_rate} Hz is outside '
            f'[{MIN_AUDIO_SAMPLE_RATE}, {MAX_AUDIO_SAMPLE_RATE}] Hz; send the real rate')
    if not (1 <= msg.channels <= MAX_AUDIO_CHANNELS):
        raise MessageError(
            f'AudioChunk channels {msg.channels} is outside [1, {MAX_AUDIO_CHANNELS}]')
    n_float, n_int = len(msg.samples_float32), len(msg.samples_int16)
    if msg.encoding == msg.ENCODING_FLOAT32:
        used, unused, unused_name = n_float, n_int, 'samples_int16'
    elif msg.encoding == msg.ENCODING_INT16:
        used, unused, unused_name = n_int, n_float, 'samples_float32'
    else:
        raise MessageError(
            f'AudioChunk encoding {msg.encoding} is unknown; use ENCODING_FLOAT32 (0) '
            'or ENCODING_INT16 (1)')
    if unused:
        raise MessageError(
            f'AudioChunk carries {unused} samples in {unused_name}, which its encoding '
            'does not use; fill only the array the encoding names')
    if used == 0:
        raise MessageError('AudioChunk has no samples')
    if used % msg.channels:
        raise MessageError(
            f'AudioChunk has {used} samples, not a multiple of its {msg.channels} '
            'interleaved channels')
    if max_samples is not None and used > max_samples:
        raise MessageError(
            f'AudioChunk has {used} samples, more than the {max_samples} allowed in one '
            'chunk; split long audio into chunks of at most a few hundred ms')
    if msg.encoding == msg.ENCODING_FLOAT32 and not np.isfinite(
            np.asarray(msg.samples_float32, dtype=np.float32)).all():
        raise MessageError('AudioChunk samples contain NaN or inf; send finite audio')
    return used // msg.channels
