"""Fixtures for tests and benchmarks that need more than one package, not used by the
running face.

teacher_video renders talking-head videos from teacher lips (lip_policy) with face_sim's
photo-warp renderer, to check the video path end to end.
"""
