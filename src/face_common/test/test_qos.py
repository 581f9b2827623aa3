"""The QoS of every topic, as the nodes and the READMEs describe them."""

from rclpy.qos import DurabilityPolicy, HistoryPolicy, ReliabilityPolicy

from face_common.qos import (
    AUDIO_DEPTH,
    COMMAND_QOS,
    LANDMARK_QOS,
    TRIGGER_QOS,
    audio_qos,
    command_qos,
    landmark_reader_qos,
)


def test_commands_landmarks_and_triggers_are_reliable():
    for profile, depth in ((COMMAND_QOS, 10), (LANDMARK_QOS, 10), (TRIGGER_QOS, 1),
                           (command_qos(100), 100), (landmark_reader_qos(300), 300)):
        assert profile.reliability == ReliabilityPolicy.RELIABLE
        assert profile.history == HistoryPolicy.KEEP_LAST
        assert profile.depth == depth


def test_audio_keeps_seconds_of_chunks_and_can_be_best_effort():
    audio = audio_qos()
    assert AUDIO_DEPTH == 256
    assert (audio.reliability, audio.depth, audio.durability) == (
        ReliabilityPolicy.RELIABLE, 256, DurabilityPolicy.VOLATILE)
    assert audio_qos('best_effort', 32).reliability == ReliabilityPolicy.BEST_EFFORT
    assert audio_qos('best_effort', 32).depth == 32
