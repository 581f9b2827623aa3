"""Moved face mesh -> camera image: a dense warp of the face photo plus a drawn mouth.

This module knows nothing of actuators or skin: it renders the face photo with its 478
MediaPipe mesh points displaced by whatever the caller says. face_sim.render.FaceRenderer
drives it with the hidden skin model; other tools (a teacher rendering talking-head video)
may subclass MeshWarpRenderer and move the points themselves without seeing the skin.

The neutral face mesh and a ring of fixed points around the face are triangulated once;
every pixel near the face gets barycentric weights over that triangulation (a sparse
pixels x control-points matrix, on a grid of 64 samples per eye span). Per frame the
control points' displacements become a smooth displacement field W @ d, which cv2.remap
applies backwards (a pixel shows the photo at x - d(x), refined by one fixed-point step so
large jaw motions land where the mesh says). Where the inner lips part, a mouth cavity is
drawn with upper teeth fixed to the skull and lower teeth riding on the jaw. The cavity
covers each image column by at most the local gap between the inner lip lines [px]: lips
that touch (a gap under a pixel) show no antialiased outline of the cavity, as a sealed
silicone mouth shows none.
"""

import cv2
import numpy as np
from scipy import sparse
from scipy.spatial import Delaunay

from face_msgs.face_layout import LIP_INNER, face_frame
from face_sim.photo import neutral_face

GRID_EYE_SPAN = 64            # displacement field samples per eye span (2 px at 640x480)
RING_SCALE = 1.45             # fixed ring around the face, relative to the mesh hull
RING_POINTS = 32
CAVITY_RGB = np.array([58, 22, 28], dtype=np.float32)
TEETH_RGB = np.array([226, 220, 204], dtype=np.float32)
CHIN = 152
# Inner lip lines between the corners, both from the face's right to its left.
UPPER_INNER_LINE = LIP_INNER[1:10]
LOWER_INNER_LINE = LIP_INNER[11:20][::-1]
# The same lines with the mouth corners at both ends (where the gap closes).
MOUTH_CORNERS = (LIP_INNER[0], LIP_INNER[10])
UPPER_GAP_LINE = (MOUTH_CORNERS[0],) + UPPER_INNER_LINE + (MOUTH_CORNERS[1],)
LOWER_GAP_LINE = (MOUTH_CORNERS[0],) + LOWER_INNER_LINE + (MOUTH_CORNERS[1],)


class MeshWarpRenderer:
    """The face photo at width x height, warped by displacements of its mesh points.

    Attributes: photo (H, W, 3) uint8 (mouth closed), mesh_image (478, 2) neutral mesh in
    image pixels (x right, y down), eye_span_px, frame_to_image (2, 2) mapping face-frame
    (x, y) [eye spans] to an image displacement [px].
    """

    def __init__(self, width=640, height=480):
        self.width, self.height = int(width), int(height)
        photo, mesh_px = neutral_face(self.width, self.height)
        self.mesh_px = mesh_px
        self.mesh_image = np.stack([mesh_px[:, 0], -mesh_px[:, 1]], axis=1)     # (478, 2)
        self.photo = self._close_photo_mouth(photo)
        _, rotation, span = face_frame(mesh_px)
        self.eye_span_px = span
        # Face frame (x, y) [eye spans] -> image (x right, y down) [px].
        to_right_handed = rotation[:2].T * span          # (3, 2): columns = x, y axes in px
        self.frame_to_image = np.stack([to_right_handed[0], -to_right_handed[1]])  # (2, 2)
        self._build_warp()

    def _close_photo_mouth(self, photo):
        """The photo with its own mouth opening (teeth) filled in with lip colour.

        The renderer draws every mouth opening itself; teeth left in the photo would be
        dragged into view beside the drawn cavity when the corners draw in.
        """
        mask = np.zeros(photo.shape[:2], np.uint8)
        inner = np.round(self.mesh_image[list(LIP_INNER)]).astype(np.int32)
        cv2.fillPoly(mask, [inner], 255)
        mask = cv2.dilate(mask, np.ones((5, 5), np.uint8))
        closed = cv2.inpaint(photo, mask, 5, cv2.INPAINT_TELEA)
        closed.setflags(write=False)
        return closed

    def _build_warp(self):
        mesh = self.mesh_image
        centre = mesh.mean(axis=0)
        hull_radius = np.linalg.norm(mesh - centre, axis=1).max()
        angles = np.linspace(0, 2 * np.pi, RING_POINTS, endpoint=False)
        ring = centre + RING_SCALE * hull_radius * np.stack([np.cos(angles), np.sin(angles)], 1)
        limit = np.array([self.width - 1, self.height - 1], dtype=np.float64)
        ring = np.clip(ring, 0, limit)
        x0, y0 = np.floor(ring.min(axis=0)).astype(int)
        x1, y1 = np.ceil(ring.max(axis=0)).astype(int) + 1
        self.roi = (x0, y0, min(x1, self.width), min(y1, self.height))
        x0, y0, x1, y1 = self.roi
        corners = np.array([[x0, y0], [x1 - 1, y0], [x0, y1 - 1], [x1 - 1, y1 - 1]], float)
        controls = np.concatenate([mesh, ring, corners])
        self._n_mesh = len(mesh)
        self._n_controls = len(controls)
        triangulation = Delaunay(controls)
        # The field is smooth between mesh points: sample it at a fixed density on the face,
        # so large images cost little more than small ones.
        step = max(2, round(self.eye_span_px / GRID_EYE_SPAN))
        gx = np.arange(x0, x1, step, dtype=np.float64)
        gy = np.arange(y0, y1, step, dtype=np.float64)
        self._grid_shape = (len(gy), len(gx))
        pts = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
        simplex = triangulation.find_simplex(pts)
        inside = simplex >= 0
        transform = triangulation.transform[simplex[inside]]
        bary2 = np.einsum('nij,nj->ni', transform[:, :2], pts[inside] - transform[:, 2])
        bary = np.concatenate([bary2, 1 - bary2.sum(1, keepdims=True)], axis=1)
        rows = np.repeat(np.flatnonzero(inside), 3)
        cols = triangulation.simplices[simplex[inside]].ravel()
        self._weights = sparse.csr_matrix((bary.ravel(), (rows, cols)),
                                          shape=(len(pts), self._n_controls))
        rx, ry = np.meshgrid(np.arange(x0, x1, dtype=np.float32),
                             np.arange(y0, y1, dtype=np.float32))
        self._roi_x, self._roi_y = rx, ry
        self._roi_size = (x1 - x0, y1 - y0)

    def mesh_displacement(self, state):
        """(anything, (478, 2) image displacement [px] of the mesh points) for state.

        Subclasses say what moves the face: face_sim.render.FaceRenderer the hidden skin
        driven by actuator positions; a teacher or a retargeting tool may move the points
        directly.
        """
        raise NotImplementedError('subclass MeshWarpRenderer and define mesh_displacement')

    def render(self, state):
        """RGB (height, width, 3) uint8 image of the face in state (see mesh_displacement)."""
        _, moved = self.mesh_displacement(state)
        return self.render_displacement(moved)

    def render_displacement(self, moved):
        """RGB (height, width, 3) uint8 image of the face, mesh points moved by moved [px].

        moved: (478, 2) image displacement of each mesh point (x right, y down).
        """
        moved = np.asarray(moved, dtype=np.float64)
        if moved.shape != self.mesh_image.shape or not np.all(np.isfinite(moved)):
            raise ValueError(f'mesh displacement must be finite with shape '
                             f'{self.mesh_image.shape}, got {moved.shape}')
        controls = np.zeros((self._n_controls, 2))
        controls[:self._n_mesh] = moved
        field = (self._weights @ controls).astype(np.float32).reshape(*self._grid_shape, 2)
        field = cv2.resize(field, self._roi_size, interpolation=cv2.INTER_LINEAR)
        # Backward map: the pixel at x shows the photo at x - d(x); one fixed-point step
        # evaluates d where the skin came from rather than where it went.
        x0, y0, _, _ = self.roi
        map_x = self._roi_x - field[..., 0]
        map_y = self._roi_y - field[..., 1]
        refined = cv2.remap(field, map_x - x0, map_y - y0, cv2.INTER_LINEAR,
                            borderMode=cv2.BORDER_REPLICATE)
        map_x = self._roi_x - refined[..., 0]
        map_y = self._roi_y - refined[..., 1]
        image = self.photo.copy()
        x0, y0, x1, y1 = self.roi
        image[y0:y1, x0:x1] = cv2.remap(self.photo, map_x, map_y, cv2.INTER_LINEAR,
                                        borderMode=cv2.BORDER_REFLECT)
        self._draw_mouth(image, self.mesh_image + moved, moved[CHIN])
        return image

    def _draw_mouth(self, image, points, jaw_shift):
        cavity = points[list(LIP_INNER)]
        x0, y0 = np.floor(cavity.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(cavity.max(axis=0)).astype(int) + 3
        x0, y0 = max(x0, 0), max(y0, 0)
        x1, y1 = min(x1, self.width), min(y1, self.height)
        if x1 <= x0 or y1 <= y0:
            return
        shift = 4   # fixed-point bits: polygons drawn with 1/16 px precision
        offset = np.array([x0, y0])

        def polygon(pts):
            return [np.round((pts - offset) * (1 << shift)).astype(np.int32)]

        size = (y1 - y0, x1 - x0)
        cavity_mask = np.zeros(size, np.uint8)
        cv2.fillPoly(cavity_mask, polygon(cavity), 255, cv2.LINE_AA, shift)
        if not cavity_mask.any():
            return
        # Teeth: the upper row sits on the skull (neutral lip line), the lower row on the jaw.
        span = self.eye_span_px
        mouth_mid = self.mesh_image[list(UPPER_INNER_LINE) + list(LOWER_INNER_LINE)].mean(0)
        teeth_mask = np.zeros(size, np.uint8)
        for line, top, bottom, shift_px in (
                (UPPER_INNER_LINE, -0.04, 0.075, np.zeros(2)),
                (LOWER_INNER_LINE, -0.06, 0.04, jaw_shift)):
            edge = self.mesh_image[list(line)]
            edge = mouth_mid + (edge - mouth_mid) * np.array([0.85, 1.0]) + shift_px
            band = np.concatenate([edge + [0, top * span], edge[::-1] + [0, bottom * span]])
            cv2.fillPoly(teeth_mask, polygon(band), 255, cv2.LINE_AA, shift)
        teeth = (teeth_mask.astype(np.float32) / 255.0)[..., None]
        alpha = cavity_mask.astype(np.float32) / 255.0
        alpha *= self.cavity_coverage(points, np.arange(x0, x1, dtype=np.float64))
        alpha = alpha[..., None]
        colour = CAVITY_RGB * (1 - teeth) + TEETH_RGB * teeth
        patch = image[y0:y1, x0:x1].astype(np.float32)
        image[y0:y1, x0:x1] = (patch * (1 - alpha) + colour * alpha).astype(np.uint8)

    def cavity_coverage(self, points, columns):
        """(len(columns),) float32 in [0, 1]: how much of the drawn cavity a pixel column
        shows, the local gap between the inner lip lines clipped to one pixel.

        cv2.fillPoly's antialiasing draws every polygon edge about a pixel wide, so a cavity
        a twentieth of a pixel high (lips pressed together) came out as a full-length line
        of cavity colour that MediaPipe reads as a parted mouth. Scaling the cavity's alpha
        by the gap makes a column's cavity fade out as its lips meet: gaps of a pixel and
        more draw as before, touching lips (gap 0) draw none. points: (478, 2) moved mesh
        [image px]; columns: x of the pixel centres [px] (OpenCV's: the column index).
        """
        upper, lower = points[list(UPPER_GAP_LINE)], points[list(LOWER_GAP_LINE)]
        up, lo = np.argsort(upper[:, 0]), np.argsort(lower[:, 0])
        gap = (np.interp(columns, lower[lo, 0], lower[lo, 1])
               - np.interp(columns, upper[up, 0], upper[up, 1]))  # image y points down
        return np.clip(gap, 0.0, 1.0).astype(np.float32)
