"""The neutral human mouth every teacher trajectory starts from.

It is the lip subset (face_subset_v1, 40 points) of a real face: MediaPipe face mesh run on
scikit-image's public-domain astronaut photo, moved into the normalised face frame. The
result is cached in data/neutral_lips.npy so corpus building needs neither MediaPipe nor
the photo; `python -m lip_policy.neutral_mouth` rebuilds the cache.
"""

import pathlib

import numpy as np

from face_msgs import face_layout

CACHE = pathlib.Path(__file__).resolve().parent / 'data' / 'neutral_lips.npy'


def measure_neutral_lips():
    """Run MediaPipe on the astronaut photo: lip points (40, 3) in the face frame."""
    import mediapipe as mp
    from skimage import data

    image = data.astronaut()
    height, width = image.shape[:2]
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, max_num_faces=1,
                                         refine_landmarks=True) as mesh:
        result = mesh.process(image)
    if not result.multi_face_landmarks:
        raise RuntimeError('MediaPipe found no face in the astronaut photo')
    marks = result.multi_face_landmarks[0].landmark
    normalised = np.array([[m.x, m.y, m.z] for m in marks])
    subset, _ = face_layout.to_face_frame(face_layout.mesh_to_pixels(normalised, width, height))
    return subset[face_layout.LIPS]


def neutral_lips():
    """The cached neutral lip points (40, 3) [face-frame units], measured if not cached."""
    if CACHE.exists():
        return np.load(CACHE, allow_pickle=False)
    lips = measure_neutral_lips()
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    np.save(CACHE, lips)
    return lips


if __name__ == '__main__':
    CACHE.unlink(missing_ok=True)
    print(neutral_lips())
