"""The face the simulator wears: scikit-image's public-domain astronaut photo.

The photo (Eileen Collins, NASA, public domain; shipped inside scikit-image) is cropped
around the face and scaled to the camera's resolution. Its own MediaPipe face mesh gives
the control points that the skin model moves, so the rest pose is a real human face.
"""

import functools

import cv2
import mediapipe as mp
import numpy as np
from skimage import data

from face_msgs.face_layout import MESH_POINT_COUNT, mesh_to_pixels

# Where the face sits in the 512x512 photo [px]: centre and the crop width that frames it
# with a little hair, ear and neck around it (eye span about 0.22 of the image width).
FACE_CENTRE = (225.0, 125.0)
CROP_WIDTH = 280.0


class PhotoError(RuntimeError):
    """The face photo could not be prepared (wrong size, or no face found in it)."""


def face_photo(width, height):
    """The face photo cropped to width:height and scaled to (height, width, 3) uint8 RGB."""
    if width < 64 or height < 48:
        raise PhotoError(f'camera resolution {width}x{height} is too small to show a face; '
                         'use at least 64x48')
    photo = data.astronaut()
    crop_w = CROP_WIDTH
    crop_h = crop_w * height / width
    if crop_h > photo.shape[0]:
        crop_h = float(photo.shape[0])
        crop_w = crop_h * width / height
    x0 = min(max(FACE_CENTRE[0] - crop_w / 2, 0.0), photo.shape[1] - crop_w)
    y0 = min(max(FACE_CENTRE[1] - crop_h / 2, 0.0), photo.shape[0] - crop_h)
    # Sub-pixel crop and scale in one affine warp, so any aspect ratio frames the same face.
    scale = width / crop_w
    affine = np.array([[scale, 0.0, -x0 * scale], [0.0, scale, -y0 * scale]])
    return cv2.warpAffine(photo, affine, (width, height), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_REFLECT)


@functools.lru_cache(maxsize=4)
def neutral_face(width, height):
    """(photo (H, W, 3) uint8, mesh (478, 3) right-handed pixels) of the resting face."""
    photo = face_photo(width, height)
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True,
                                         max_num_faces=1) as mesh:
        result = mesh.process(photo)
    if not result.multi_face_landmarks:
        raise PhotoError(f'MediaPipe found no face in the {width}x{height} face photo; '
                         'use a larger resolution (640x480 is the default)')
    landmarks = result.multi_face_landmarks[0].landmark
    if len(landmarks) != MESH_POINT_COUNT:
        raise PhotoError('face mesh has no iris points; mediapipe must be 0.10.21 '
                         '(see requirements.lock)')
    normalised = np.array([(p.x, p.y, p.z) for p in landmarks])
    photo.setflags(write=False)
    return photo, mesh_to_pixels(normalised, width, height)
