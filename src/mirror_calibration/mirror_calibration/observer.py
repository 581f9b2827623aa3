"""Camera image -> facial landmarks in the normalised face frame (plain Python, no rclpy).

MediaPipe's legacy face mesh (478 points with iris refinement, models inside the wheel,
fully offline) finds the face; face_layout turns its mesh into the documented subset with
head pose and face size removed. The same observer serves the robot's own face (mirror
stage) and human video (learning stage), so both land in one landmark space.

Confidence: the legacy solution does not report a landmark score, but its graph also
outputs the face detector's detections. While it tracks a face from the previous frame
the detector does not run, so the last detection score stands for the tracked face until
the face is lost.
"""

import math
from dataclasses import dataclass

import numpy as np
from mediapipe.python.solution_base import SolutionBase
from mediapipe.python.solutions import face_mesh as _mp_face_mesh

from face_msgs.face_layout import (
    FACE_SUBSET,
    MESH_POINT_COUNT,
    FaceFrameError,
    mesh_to_pixels,
    to_face_frame,
)

_DETECTION_THRESHOLD = ('facedetectionshortrangecpu__facedetectionshortrange__facedetection__'
                        'TensorsToDetectionsCalculator.min_score_thresh')
_TRACKING_THRESHOLD = 'facelandmarkcpu__ThresholdingCalculator.threshold'


@dataclass(frozen=True)
class Observation:
    detected: bool         # a face was found and a face frame could be built
    points: np.ndarray     # (109, 3) subset in the face frame [eye spans], or (0, 3)
    confidence: float      # face detection score [0..1]; 0 when not detected
    face_size_px: float    # eye span in the image [px]; NaN when not detected
    mesh_px: np.ndarray | None  # (478, 3) full mesh, right-handed pixels; None if no face


def no_face():
    """The observation of a frame without a (usable) face."""
    return Observation(False, np.zeros((0, 3)), 0.0, math.nan, None)


class _FaceMeshWithDetections(SolutionBase):
    """mp.solutions.face_mesh.FaceMesh that also returns the detector's scores."""

    def __init__(self, static_images, min_detection_confidence, min_tracking_confidence):
        super().__init__(
            binary_graph_path=_mp_face_mesh._BINARYPB_FILE_PATH,
            side_inputs={'num_faces': 1, 'with_attention': True,
                         'use_prev_landmarks': not static_images},
            calculator_params={_DETECTION_THRESHOLD: min_detection_confidence,
                               _TRACKING_THRESHOLD: min_tracking_confidence},
            outputs=['multi_face_landmarks', 'face_detections'])

    def process(self, image):
        return super().process(input_data={'image': image})


class FaceObserver:
    """Finds one face per RGB frame and expresses its landmarks in the face frame.

    static_images=True treats every frame as unrelated (runs detection each time, for
    photos and shuffled frames); False tracks a face across a video stream (faster).
    """

    def __init__(self, static_images=False, min_detection_confidence=0.5,
                 min_tracking_confidence=0.5):
        for label, value in (('min_detection_confidence', min_detection_confidence),
                             ('min_tracking_confidence', min_tracking_confidence)):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f'{label} must be in [0, 1], got {value}')
        self._mesh = _FaceMeshWithDetections(static_images, float(min_detection_confidence),
                                             float(min_tracking_confidence))
        self._last_score = 0.0

    def observe(self, rgb):
        """Landmarks of the face in rgb ((H, W, 3) uint8) as an Observation."""
        rgb = np.asarray(rgb)
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise ValueError(f'expected an (H, W, 3) uint8 RGB image, got shape {rgb.shape} '
                             f'dtype {rgb.dtype}; convert the frame to rgb8 first')
        if rgb.shape[0] < 2 or rgb.shape[1] < 2:
            return no_face()
        result = self._mesh.process(np.ascontiguousarray(rgb))
        if result.face_detections:
            self._last_score = float(max(d.score[0] for d in result.face_detections))
        if not result.multi_face_landmarks:
            self._last_score = 0.0
            return no_face()
        landmarks = result.multi_face_landmarks[0].landmark
        if len(landmarks) != MESH_POINT_COUNT:
            return no_face()
        normalised = np.array([(p.x, p.y, p.z) for p in landmarks], dtype=np.float64)
        height, width = rgb.shape[:2]
        mesh_px = mesh_to_pixels(normalised, width, height)
        try:
            points, span = to_face_frame(mesh_px, FACE_SUBSET)
        except FaceFrameError:
            return no_face()
        if not np.all(np.isfinite(points)):
            return no_face()
        confidence = min(max(self._last_score, 0.0), 1.0)
        return Observation(True, points, confidence, float(span), mesh_px)

    def close(self):
        self._mesh.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
