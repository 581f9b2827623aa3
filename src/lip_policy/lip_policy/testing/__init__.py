"""Fixtures for tests and benchmarks, not used by the running face.

small_models builds small real models (lip model, self-model, retargeting) from tiny data;
teacher_video renders talking-head videos from teacher lips to check the video path.
"""
