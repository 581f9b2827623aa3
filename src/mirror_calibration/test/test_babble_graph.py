"""The mirror stage end to end over real DDS: driver on the emulated bus, face_sim rendering
the face, observer, calibration_node. A tiny babbling session gives a dataset and a
self-model that beats a mean predictor by a wide margin, and the inverse model, sent round
the real loop, brings the observed lips closer to targets than the resting face does.
"""


import numpy as np
import pytest
import torch

from mirror_calibration.babble_client import run_babble
from mirror_calibration.dataset import load_dataset
from mirror_calibration.fit import FitOptions, run_fit
from mirror_calibration.node_graph import mirror_graph

pytestmark = pytest.mark.ros

SAMPLES = 240


def test_tiny_babbling_session_learns_the_face(ros_context, tmp_path):
    import rclpy

    from mirror_calibration.evaluate import evaluate

    dataset = tmp_path / 'babble'
    with mirror_graph(calibration={'transition_time': 0.1, 'settle_window': 0.04}) as graph:
        result = run_babble(ros_context, dataset, SAMPLES, seed=11, groups=['jaw', 'lips'],
                            timeout=400)
        for node in graph:
            node.check_running()
    assert result.success, result.message
    data = load_dataset(dataset)
    assert len(data) == SAMPLES == result.samples_total
    assert data.detected.mean() > 0.95, 'the simulated face is seen in almost every frame'
    jaw = list(data.meta.actuator_names).index('jaw_open')
    assert np.corrcoef(data.commanded[:, jaw], data.measured[:, jaw])[0, 1] > 0.95

    torch.set_num_threads(1)
    report = run_fit(dataset, tmp_path / 'self_model.pt', progress=False,
                     options=FitOptions(forward_steps=800, inverse_steps=500))
    # ~220 training poses in 10 dimensions: about half the mean predictor's error.
    assert report['forward_lip_error'] < 0.65 * report['mean_predictor_lip_error']

    rclpy.init()
    try:
        with mirror_graph(with_calibration=False):
            figures = evaluate(tmp_path / 'self_model.pt', targets=6, progress=False)
    finally:
        rclpy.try_shutdown()
    assert figures['roundtrip_frames_without_face'] == 0
    assert figures['roundtrip_lip_error'] < 0.7 * figures['neutral_face_lip_error']
