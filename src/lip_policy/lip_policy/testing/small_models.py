"""Small real models for the runtime policy, trained in seconds from tiny data.

The policy's tests and its latency bench need a lip model, a self-model and a retargeting.
When the workspace's default models (models/lip_model.pt, models/self_model_sim.pt) are not
there, these are built the real way, only small: a few espeak-ng clips through the lip
corpus synthesiser and lip-train's `train`, a babbling dataset through mirror_calibration's
DatasetWriter and mirror-fit's `run_fit`, then `Retargeting.fit`.

The babbling dataset comes from STAND_IN_FACE, a hand-written face (each lip actuator moves
its own part of the mouth, with saturation), because face_sim's rendered head and the
observer are not part of these unit-level builds; the end-to-end evaluation uses the real
simulated mirror instead.
"""

import dataclasses
import pathlib

import numpy as np

from lip_policy.lip_space import LIP_POINTS

# Lip point indices of face_subset_v1 (see face_msgs.face_layout): outer loop 0..19
# from the right corner (0) over the upper lip to the left corner (10) and back along the
# lower lip; inner loop 20..39 the same way.
RIGHT_CORNER, LEFT_CORNER = (0, 20), (10, 30)
UPPER_LEFT, UPPER_CENTRE, UPPER_RIGHT = (6, 7, 8, 9, 26, 27, 28, 29), (4, 5, 6, 24, 25, 26), \
    (1, 2, 3, 4, 21, 22, 23, 24)
LOWER = tuple(range(11, 20)) + tuple(range(31, 40))
# The lower-lip actuators share the lower lip's centre (15, 35), so together with the upper
# centre and a closed jaw they can press the lips shut for /p b m/.
LOWER_LEFT, LOWER_RIGHT = (11, 12, 13, 14, 15, 31, 32, 33, 34, 35), \
    (15, 16, 17, 18, 19, 35, 36, 37, 38, 39)


def _field(points, direction, size):
    field = np.zeros((LIP_POINTS, 3))
    field[list(points)] = np.asarray(direction, float) * size
    return field


# [eye spans per rad] how far each lip actuator moves which lip points.
STAND_IN_FACE = {
    'jaw_open': _field(LOWER, (0, -1, 0), 0.45) + _field(
        RIGHT_CORNER + LEFT_CORNER, (0, -1, 0), 0.2),
    'lip_corner_left_raise': _field(LEFT_CORNER, (0, 1, 0), 0.15),
    'lip_corner_left_stretch': _field(LEFT_CORNER, (1, 0, -0.3), 0.15),
    'lip_corner_right_raise': _field(RIGHT_CORNER, (0, 1, 0), 0.15),
    'lip_corner_right_stretch': _field(RIGHT_CORNER, (-1, 0, -0.3), 0.15),
    'upper_lip_left_raise': _field(UPPER_LEFT, (0, 1, 0.2), 0.1),
    'upper_lip_center_raise': _field(UPPER_CENTRE, (0, 1, 0.2), 0.1),
    'upper_lip_right_raise': _field(UPPER_RIGHT, (0, 1, 0.2), 0.1),
    'lower_lip_left_lower': _field(LOWER_LEFT, (0, -1, 0.2), 0.1),
    'lower_lip_right_lower': _field(LOWER_RIGHT, (0, -1, 0.2), 0.1),
}


def stand_in_landmarks(face_config, joints):
    """(n, actuators) joint positions -> (n, 109, 3) face_subset_v1 landmarks of the
    stand-in face: lips move by STAND_IN_FACE (saturating), everything else is still."""
    from face_msgs import face_layout
    from lip_policy.neutral_mouth import neutral_lips

    joints = np.atleast_2d(np.asarray(joints, np.float64))
    rng = np.random.default_rng(7)
    still = rng.normal(scale=0.3, size=(len(face_layout.FACE_SUBSET), 3))
    out = np.repeat(still[None], len(joints), axis=0)
    lips = np.repeat(neutral_lips()[None], len(joints), axis=0)
    for i, actuator in enumerate(face_config.actuators):
        if actuator.name in STAND_IN_FACE:
            q = np.tanh(1.5 * joints[:, i]) / 1.5  # skin stiffens towards the ends
            lips = lips + q[:, None, None] * STAND_IN_FACE[actuator.name]
    out[:, face_layout.LIPS] = lips
    return out


@dataclasses.dataclass
class SmallModels:
    lip_model: pathlib.Path
    self_model: pathlib.Path
    retarget: pathlib.Path
    corpus: pathlib.Path
    dataset: pathlib.Path


def build_small_models(workdir, languages=('en', 'de'), clips_per_language=6, seed=0,
                       lip_epochs=6, fit_steps=(800, 600)):
    """Build (or reuse, if already there) all three small models under workdir."""
    import torch

    from face_motor_driver.face_config import default_face_config_path, load_face_config
    from face_msgs import face_layout
    from lip_policy import synth, train
    from lip_policy.model import LipModelConfig
    from lip_policy.retarget import fit_from_files
    from mirror_calibration.babbling import babble_poses, babbled_actuators
    from mirror_calibration.dataset import DatasetMeta, DatasetWriter
    from mirror_calibration.fit import FitOptions, run_fit

    workdir = pathlib.Path(workdir)
    models = SmallModels(workdir / 'lip_model.pt', workdir / 'self_model.pt',
                         workdir / 'retarget.npz', workdir / 'corpus', workdir / 'babble')
    torch.set_num_threads(1)  # tiny nets: more threads only contend on 2 shared cores
    if not models.lip_model.exists():
        synth.synthesise(list(languages), clips_per_language, 1, seed, models.corpus,
                         progress=False)
        train.train([models.corpus], models.lip_model,
                    LipModelConfig(channels=32, dilations=(1, 2, 4, 8, 1)),
                    train.TrainConfig(epochs=lip_epochs, batch_clips=4, patience=lip_epochs,
                                      seed=seed),
                    progress=False)
    face = load_face_config(default_face_config_path())
    if not models.self_model.exists():
        meta = DatasetMeta.from_face_config(face, face_layout.LAYOUT_NAME,
                                            len(face_layout.FACE_SUBSET))
        joints = babble_poses(face, babbled_actuators(face, ['jaw', 'lips']), seed, 0, 500)
        landmarks = stand_in_landmarks(face, joints)
        with DatasetWriter(models.dataset, meta) as writer:
            for i, (q, marks) in enumerate(zip(joints, landmarks)):
                writer.append(index=i, seed=seed, detected=True, command_time=float(i),
                              image_time=float(i), confidence=1.0, face_size_px=100.0,
                              commanded=q, measured=q, landmarks=marks)
        run_fit(models.dataset, models.self_model,
                options=FitOptions(forward_steps=fit_steps[0], inverse_steps=fit_steps[1],
                                   hidden=96, layers=2, seed=seed),
                plots=False, progress=False)
    if not models.retarget.exists():
        fit_from_files([models.corpus], models.dataset).save(models.retarget)
    return models
