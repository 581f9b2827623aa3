"""Which facial landmarks the face stack uses, and the normalised face frame they live in.

Indices are MediaPipe face mesh indices (468 mesh points + 10 iris points). "Left" and
"right" are the face's own (its left eye appears on the right of a non-mirrored image).
The subset (layout "face_subset_v1" of face_msgs/FaceLandmarks) is, in this order:

    lip_outer   20 points, closed loop from the right mouth corner (61) over the upper lip
                to the left corner (291) and back along the lower lip
    lip_inner   20 points, the same loop on the inner lip line, 78 -> 308 -> 78
    jaw         17 points along the jaw line, from the right cheek over the chin (152)
    eye_right   16 points, closed loop around the right eye, from its outer corner (33)
    eye_left    16 points, closed loop around the left eye, from its outer corner (263)
    brow_right  10 points of the right brow
    brow_left   10 points of the left brow

The normalised face frame (see FaceLandmarks.msg) removes head pose and face size:
origin at the midpoint of the outer eye corners, +x from the right outer eye corner to
the left one, +y up the face (towards the forehead point 10, from the bottom of the nose
2), +z out of the face towards the camera, unit = the eye span. Those anchor points sit on
bone (eye corners, forehead, nose base), so lips, jaw, eyelids and brows move in this frame
while the frame itself follows only the head.
"""

import numpy as np

LIP_OUTER = (61, 185, 40, 39, 37, 0, 267, 269, 270, 409, 291,
             375, 321, 405, 314, 17, 84, 181, 91, 146)
LIP_INNER = (78, 191, 80, 81, 82, 13, 312, 311, 310, 415, 308,
             324, 318, 402, 317, 14, 87, 178, 88, 95)
JAW = (132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361)
EYE_RIGHT = (33, 246, 161, 160, 159, 158, 157, 173, 133, 155, 154, 153, 145, 144, 163, 7)
EYE_LEFT = (263, 466, 388, 387, 386, 385, 384, 398, 362, 382, 381, 380, 374, 373, 390, 249)
BROW_RIGHT = (70, 63, 105, 66, 107, 55, 65, 52, 53, 46)
BROW_LEFT = (300, 293, 334, 296, 336, 285, 295, 282, 283, 276)

REGIONS = {
    'lip_outer': LIP_OUTER,
    'lip_inner': LIP_INNER,
    'jaw': JAW,
    'eye_right': EYE_RIGHT,
    'eye_left': EYE_LEFT,
    'brow_right': BROW_RIGHT,
    'brow_left': BROW_LEFT,
}
LAYOUT_NAME = 'face_subset_v1'
MESH_POINT_COUNT = 478
FACE_SUBSET = tuple(i for region in REGIONS.values() for i in region)


def _region_slices():
    slices, start = {}, 0
    for name, region in REGIONS.items():
        slices[name] = slice(start, start + len(region))
        start += len(region)
    return slices


# Where each region sits in a subset array, e.g. subset[SUBSET_SLICES['lip_outer']].
SUBSET_SLICES = _region_slices()
LIPS = slice(SUBSET_SLICES['lip_outer'].start, SUBSET_SLICES['lip_inner'].stop)
LIP_POINT_COUNT = len(LIP_OUTER) + len(LIP_INNER)

# Positions inside the subset of the points that define mouth width and opening.
MOUTH_CORNER_RIGHT = FACE_SUBSET.index(61)
MOUTH_CORNER_LEFT = FACE_SUBSET.index(291)
INNER_LIP_TOP = FACE_SUBSET.index(13)
INNER_LIP_BOTTOM = FACE_SUBSET.index(14)
# The inner lip contour as facing pairs (upper point, lower point), corner to corner: their
# vertical gaps are where the lips part or touch along the whole mouth.
INNER_LIP_PAIRS = tuple((FACE_SUBSET.index(u), FACE_SUBSET.index(lo)) for u, lo in zip(
    (191, 80, 81, 82, 13, 312, 311, 310, 415), (95, 88, 178, 87, 14, 317, 402, 318, 324)))

# Anchor points of the face frame (MediaPipe indices).
EYE_CORNER_RIGHT_OUTER = 33
EYE_CORNER_LEFT_OUTER = 263
FOREHEAD = 10
NOSE_BASE = 2


class FaceFrameError(ValueError):
    """The landmarks cannot define a face frame (degenerate or non-finite anchors)."""


def mesh_to_pixels(normalised, width, height):
    """MediaPipe's image-normalised landmarks (N, 3) -> right-handed pixel coordinates (N, 3).

    MediaPipe gives x right and y down as fractions of the image, and z as depth in units
    of image width (smaller = nearer the camera). The result has x right, y up and z towards
    the camera, all in pixels, so a rotation maps it to the face frame.
    """
    normalised = np.asarray(normalised, dtype=np.float64)
    return np.stack([normalised[:, 0] * width,
                     -normalised[:, 1] * height,
                     -normalised[:, 2] * width], axis=1)


def face_frame(mesh_px):
    """The face frame of a full mesh in right-handed pixels: (origin (3,), rotation (3, 3), span).

    rotation's rows are the frame's +x, +y, +z axes expressed in pixel coordinates.
    """
    mesh_px = np.asarray(mesh_px, dtype=np.float64)
    if mesh_px.shape[0] < 468 or mesh_px.shape[1] != 3:
        raise FaceFrameError(f'need a (>=468, 3) face mesh, got {mesh_px.shape}')
    right, left = mesh_px[EYE_CORNER_RIGHT_OUTER], mesh_px[EYE_CORNER_LEFT_OUTER]
    up_hint = mesh_px[FOREHEAD] - mesh_px[NOSE_BASE]
    origin = (right + left) / 2.0
    x_axis = left - right
    span = float(np.linalg.norm(x_axis))
    if not np.isfinite(span) or span < 1e-6 or not np.all(np.isfinite(up_hint)):
        raise FaceFrameError('eye corners coincide or are not finite; no face frame')
    x_axis /= span
    y_axis = up_hint - np.dot(up_hint, x_axis) * x_axis
    y_norm = float(np.linalg.norm(y_axis))
    if y_norm < 1e-6:
        raise FaceFrameError('forehead and nose base are in line with the eyes; no face frame')
    y_axis /= y_norm
    z_axis = np.cross(x_axis, y_axis)
    return origin, np.stack([x_axis, y_axis, z_axis]), span


def to_face_frame(mesh_px, indices=FACE_SUBSET):
    """Points of a full mesh (right-handed pixels) in the normalised face frame.

    Returns (points (len(indices), 3), eye span [px]).
    """
    origin, rotation, span = face_frame(mesh_px)
    selected = np.asarray(mesh_px, dtype=np.float64)[list(indices)]
    return (selected - origin) @ rotation.T / span, span


def mouth_width(subset):
    """Distance between the mouth corners of subset points (..., n, 3) [face-frame units]."""
    subset = np.asarray(subset)
    return np.linalg.norm(subset[..., MOUTH_CORNER_LEFT, :] - subset[..., MOUTH_CORNER_RIGHT, :],
                          axis=-1)


def mouth_opening(subset):
    """Gap between the inner lips at the centre of subset points (..., n, 3) [face-frame units]."""
    subset = np.asarray(subset)
    return subset[..., INNER_LIP_TOP, 1] - subset[..., INNER_LIP_BOTTOM, 1]
