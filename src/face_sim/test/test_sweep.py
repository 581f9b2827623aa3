"""face-sim-sweep: the actuator sweep video, and its errors."""

import numpy as np
import pytest

from face_common.video import probe_video
from face_motor_driver.face_config import default_face_config_path, load_face_config
from face_sim.sweep import main, sweep_path


def test_sweep_path_visits_both_limits_and_returns_to_neutral():
    jaw = load_face_config(default_face_config_path()).actuator('jaw_open')
    path = sweep_path(jaw, 40)
    assert path[0] == jaw.neutral
    assert path.max() == pytest.approx(jaw.max) and path.min() == pytest.approx(jaw.min)
    assert abs(path[-1] - jaw.neutral) < 0.05
    assert np.all((path >= jaw.min - 1e-12) & (path <= jaw.max + 1e-12))


def test_sweep_writes_a_labelled_video(tmp_path, capsys):
    out = tmp_path / 'sweep.mp4'
    main([str(out), '--actuators', 'jaw_open', 'eye_left_yaw', '--seconds-per-actuator',
          '0.5', '--fps', '10', '--width', '320', '--height', '240'])
    info = probe_video(out)
    assert info['frames'] == 10 and (info['width'], info['height']) == (320, 240)
    assert 'wrote 10 frames' in capsys.readouterr().out


def test_unknown_actuator_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path / 'x.mp4'), '--actuators', 'jaw_opne'])
    assert stop.value.code == 2
    assert "'jaw_opne'" in capsys.readouterr().err
    assert not (tmp_path / 'x.mp4').exists()
