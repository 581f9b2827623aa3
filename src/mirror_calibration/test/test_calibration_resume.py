"""calibration_node over real DDS with the real driver on the emulated bus: babble, kill
the node mid-session, resume, and check nothing written before the kill was lost.

The camera here replays a still photo (camera_node + observer_node), because this test is
about the dataset surviving a crash, not about the face moving; test_babble_graph.py runs
the moving simulated face.
"""

import pathlib
import subprocess
import sys

import cv2
import numpy as np
import pytest
import skimage.data

from face_common.graphs import node, running, start
from face_common.node_processes import wait_for_processes
from face_common.waiting import wait_until
from mirror_calibration.babble_client import run_babble
from mirror_calibration.dataset import load_dataset

pytestmark = pytest.mark.ros

FAST = {'transition_time': 0.05, 'settle_window': 0.04, 'frame_delay': 0.0}


@pytest.fixture
def photo_video(tmp_path):
    path = tmp_path / 'face.avi'
    face = cv2.resize(cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR), (192, 192))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'MJPG'), 10, (192, 192))
    for _ in range(5):
        writer.write(face)
    writer.release()
    return path


def _wait_for_samples(directory, count, timeout):
    def enough():
        try:
            return len(load_dataset(directory)) >= count
        except Exception:  # the directory may not exist yet
            return False

    wait_until(enough, timeout, f'{count} samples in {directory}', interval=0.2)


@pytest.mark.realtime
def test_killed_session_resumes_without_loss(ros_context, photo_video, tmp_path):
    dataset = tmp_path / 'babble'
    specs = [node('face_motor_driver_node', {'port': 'sim', 'calibration_mode': True},
                  params_file=False),
             node('camera_node', {'device': str(photo_video), 'width': 192, 'height': 192,
                                  'rate': 30.0}, params_file=False),
             node('observer_node', params_file=False)]
    with running(specs) as graph:
        wait_for_processes(graph, 2.0)
        calibration = start(node('calibration_node', FAST, params_file=False))
        # The first session's client runs in its own process: it is left hanging by the
        # kill and is stopped by the test.
        client = subprocess.Popen([str(pathlib.Path(sys.executable).parent / 'mirror-babble'),
                                   str(dataset), '--samples', '200', '--seed', '4'],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for_samples(dataset, 12, timeout=90)
            calibration.kill()
        finally:
            calibration.close()
            client.kill()
            client.wait()
        before = load_dataset(dataset)
        assert 12 <= len(before) < 200
        assert before.damaged <= 1
        np.testing.assert_array_equal(before.index, np.arange(len(before)))

        with start(node('calibration_node', FAST, params_file=False)) as resumed:
            wait_for_processes([resumed], 1.0)
            result = run_babble(ros_context, dataset, len(before) + 10, seed=4,
                                groups=['jaw', 'lips'], timeout=120)
            assert result.success, result.message
            target = len(before) + 10
            cancelled = run_babble(ros_context, dataset, target + 100, seed=4,
                                   groups=['jaw', 'lips'], timeout=120,
                                   stop_after=lambda f: f.samples_total >= target + 3)
        assert not cancelled.success and 'cancelled' in cancelled.message
        assert target + 3 <= cancelled.samples_total < target + 100
        assert len(load_dataset(dataset)) == cancelled.samples_total
    after = load_dataset(dataset)
    assert result.samples_total == len(before) + 10
    assert result.samples_written == 10
    kept = after.records[:len(before)]
    np.testing.assert_array_equal(kept, before.records)
    np.testing.assert_array_equal(after.index, np.arange(len(after)))
    assert after.detected.all(), 'the photo shows a face in every frame'
    lower = np.array(after.meta.lower)
    upper = np.array(after.meta.upper)
    assert np.all(after.commanded >= lower) and np.all(after.commanded <= upper)
    # The driver really moved: measured joints follow the commanded ones.
    jaw = list(after.meta.actuator_names).index('jaw_open')
    assert np.corrcoef(after.commanded[:, jaw], after.measured[:, jaw])[0, 1] > 0.9
