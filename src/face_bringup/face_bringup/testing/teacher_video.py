"""Talking-head videos rendered from the teacher, to verify the video path end to end.

face_sim's MeshWarpRenderer warps the astronaut photo by mesh displacements and draws the mouth
cavity; here the displacements come straight from a teacher lip trajectory instead of the
robot's actuators: each lip point moves by (teacher lips - the astronaut's measured lips),
and the chin and lower face follow the lower lip's drop, as a jaw would. The espeak audio
is muxed in, so `lip-corpus video` can read the file like any human recording and its
lips can be compared with the teacher's (bench/lip_video_check.py, test_video_corpus.py).
"""

import numpy as np

from face_common.frames import FRAME_RATE, SAMPLE_RATE
from lip_policy import metrics
from lip_policy.neutral_mouth import neutral_lips


def teacher_renderer(width=320, height=240):
    """A face_sim renderer whose `render(lips)` takes (40, 3) teacher lip points."""
    # The warp alone: face_sim's skin model (FaceRenderer) stays hidden from the learner.
    from face_msgs import face_layout
    from face_sim.warp import MeshWarpRenderer

    class TeacherFaceRenderer(MeshWarpRenderer):
        def __init__(self):
            super().__init__(width, height)
            points, _ = face_layout.to_face_frame(self.mesh_px, range(len(self.mesh_px)))
            self.lip_index = list(face_layout.LIP_OUTER + face_layout.LIP_INNER)
            self.source_lips = neutral_lips()
            lips = points[self.lip_index]
            centre_x = lips[:, 0].mean()
            half_width = (lips[:, 0].max() - lips[:, 0].min()) / 2
            below = lips[:, 1].min()
            # Lower face that rides on the jaw: below the mouth, fading out sideways.
            sideways = np.clip(1.5 - np.abs(points[:, 0] - centre_x) / half_width, 0.0, 1.0)
            self.jaw_weight = np.where(points[:, 1] < below, sideways, 0.0)
            self.jaw_weight[self.lip_index] = 0.0

        def mesh_displacement(self, lips):
            delta = np.zeros((len(self.mesh_image), 2))
            moved = np.asarray(lips)[:, :2] - self.source_lips[:, :2]  # (40, 2) face frame
            delta[self.lip_index] = moved
            jaw_drop = min(moved[35, 1], 0.0)  # the inner lower lip centre (mesh 14) drops
            delta[:, 1] += self.jaw_weight * jaw_drop
            return None, delta @ self.frame_to_image

    return TeacherFaceRenderer()


def render_clip(path, audio, lips, fps=25.0, renderer=None):
    """Write an MP4 of the face speaking `lips` (100 Hz) with its 16 kHz audio."""
    from face_common.video import write_video

    renderer = renderer or teacher_renderer()
    n_video = int(len(lips) / FRAME_RATE * fps)
    frames = (renderer.render(lips[min(int(round(i / fps * FRAME_RATE)),
                                       len(lips) - 1)]) for i in range(n_video))
    return write_video(path, frames, fps=fps, audio=audio, sample_rate=SAMPLE_RATE)


def compare(observed, valid, teacher_lips):
    """How closely observed video lips follow the teacher's (valid frames only).

    MediaPipe sees the rendered face with a constant bias (photo, skin warp), so errors are
    measured after removing each point's mean offset over the clip; opening correlation and
    the sync offset (metrics.sync_offset_ms) need no such correction.
    """
    observed, truth = observed[valid], teacher_lips[:len(valid)][valid]
    ref = metrics.reference_width(truth)
    offset = (observed - truth).mean(axis=0)
    err, _ = metrics.frame_errors(observed - offset, truth, ref)
    seen, true = metrics.opening(observed), metrics.opening(truth)
    return {'frames': int(valid.sum()),
            'lip_error': float(err.mean()),
            'mouth_open_pcc': metrics.pearson(seen, true),
            'sync_offset_ms': metrics.sync_offset_ms(seen, true)}
