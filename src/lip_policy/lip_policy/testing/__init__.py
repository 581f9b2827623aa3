"""Fixtures for tests and benchmarks, not used by the running face.

small_models builds small real models (lip model, self-model, retargeting) from tiny data;
fuzzed_audio makes AudioChunks with every field at its edges. (Talking-head videos rendered
from teacher lips need face_sim: face_bringup.testing.teacher_video.)
"""
