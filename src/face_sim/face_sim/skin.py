"""The hidden skin model: 26 actuator positions -> where the face's skin goes.

This is the simulator's stand-in for silicone skin pulled by cables and magnets. It is
deliberately not a linear map: every actuator's travel softens towards its limits, the
jaw carries the lower lip, the corners stretch and thin the lips, the lips cannot pass
through each other (they press together instead), cheeks push the lower eyelids, brows
lift the upper lids, and the whole displacement of any patch of skin saturates. A seed
gives each simulated head its own small differences in gains, as two cast skins differ.

The learner must discover all of this through the camera, so mirror_calibration and
lip_policy never import this module (a test checks it). See src/face_sim/README.md for
what each actuator does.

Geometry is in the normalised face frame of face_msgs.face_layout, 2-D: +x from
the face's right outer eye corner to its left one, +y up, unit = eye span. The model is
built from the neutral face mesh (478 MediaPipe points) of the face being simulated.
"""

import math
from dataclasses import dataclass

import numpy as np

from face_motor_driver.face_config import FaceConfig

# MediaPipe mesh indices the model needs by name (the face's own left/right).
UPPER_INNER_LIP = (191, 80, 81, 82, 13, 312, 311, 310, 415)
LOWER_INNER_LIP = (95, 88, 178, 87, 14, 317, 402, 318, 324)   # pairs with UPPER_INNER_LIP
UPPER_OUTER_LIP = (185, 40, 39, 37, 0, 267, 269, 270, 409)
LOWER_OUTER_LIP = (146, 91, 181, 84, 17, 314, 405, 321, 375)
MOUTH_CORNER_RIGHT, MOUTH_CORNER_LEFT = 61, 291
INNER_CORNER_RIGHT, INNER_CORNER_LEFT = 78, 308
EYES = {
    # side: (upper lid loop, lower lid loop, iris points, iris centre)
    'right': ((246, 161, 160, 159, 158, 157, 173), (7, 163, 144, 145, 153, 154, 155),
              (468, 469, 470, 471, 472), 468),
    'left': ((466, 388, 387, 386, 385, 384, 398), (249, 390, 373, 374, 380, 381, 382),
             (473, 474, 475, 476, 477), 473),
}
BROW_INNER = {'right': 107, 'left': 336}
BROW_OUTER = {'right': 70, 'left': 300}
# The face frame's anchors sit on bone: the skin there never moves.
ANCHORS = (33, 263, 10, 2)

SIDES = {'right': -1.0, 'left': 1.0}   # sign of +x on each side of the face

# Travel [eye spans] of each effect at the end of an actuator's range, before the seed's
# per-head variation. Positive directions follow config/face_motors.yaml.
GAINS = {
    'jaw_open': 0.36,                 # lower lip and chin down
    'lip_corner_raise': 0.10,         # corner up (smile) / down
    'lip_corner_stretch': 0.11,       # corner outwards (wide) / inwards (pucker)
    'upper_lip_raise': 0.09,          # upper lip up / pressed down
    'lower_lip_lower': 0.10,          # lower lip down / pressed up
    'chin_raise': 0.05,               # chin pad and lower lip up (pout)
    'cheek_raise': 0.06,              # cheek up
    'nose_wrinkle': 0.035,            # sides of the nose up
    'eye_yaw': 0.05,                  # iris sideways
    'eye_pitch': 0.035,               # iris up/down
    'brow_raise': 0.09,               # brow end up
}
SOFTNESS = 1.6        # tanh knee of every actuator's travel: larger = softer near the limits
GAIN_SPREAD = 0.08    # relative standard deviation of the seeded per-head gain variation
MAX_TRAVEL = 0.42     # no patch of skin moves further than this [eye spans]


class SkinError(ValueError):
    """The skin model was given something it cannot turn into a face."""


@dataclass(frozen=True)
class SkinPose:
    displacement: np.ndarray    # (478, 2) per mesh point, face frame [eye spans]
    points: np.ndarray          # (478, 2) neutral + displacement, face frame [eye spans]


def soft_travel(position, lower, upper, neutral=0.0):
    """Normalised travel in [-1, 1] of a joint at position [rad], softening near its limits.

    The skin stiffens as it stretches, so the last part of an actuator's range moves the
    face less than the first: tanh with a knee of SOFTNESS, scaled so the limit maps to 1.
    """
    position = min(max(position, lower), upper)
    span = (upper - neutral) if position >= neutral else (neutral - lower)
    if span <= 0.0:
        return 0.0
    u = (position - neutral) / span
    return math.tanh(SOFTNESS * u) / math.tanh(SOFTNESS)


def _bump(distance_sq, sigma):
    return np.exp(-distance_sq / (2.0 * sigma * sigma))


class SkinModel:
    """Actuator positions [rad] by name -> displaced face mesh (face frame).

    neutral_points: (478, 2) the resting face in the face frame [eye spans].
    config: the FaceConfig whose limits define each actuator's range.
    seed: chooses this head's small gain differences (deterministic per seed).
    """

    def __init__(self, neutral_points, config: FaceConfig, seed=0):
        neutral_points = np.asarray(neutral_points, dtype=np.float64)
        if neutral_points.shape != (478, 2) or not np.all(np.isfinite(neutral_points)):
            raise SkinError('neutral_points must be a finite (478, 2) face mesh in the face '
                            f'frame, got shape {neutral_points.shape}')
        self.config = config
        self.neutral = neutral_points
        rng = np.random.default_rng(seed)
        names = sorted(a.name for a in config.actuators)
        spread = np.clip(rng.normal(1.0, GAIN_SPREAD, len(names)), 0.8, 1.2)
        self.gain_scale = dict(zip(names, spread.tolist()))
        self._build_fields()

    # -- fields: how strongly each patch of skin follows each actuator ------------------
    def _build_fields(self):
        p = self.neutral
        x, y = p[:, 0], p[:, 1]
        upper_inner, lower_inner = p[list(UPPER_INNER_LIP)], p[list(LOWER_INNER_LIP)]
        corner_r, corner_l = p[MOUTH_CORNER_RIGHT], p[MOUTH_CORNER_LEFT]
        self.mouth_centre = (corner_r + corner_l) / 2.0
        self.mouth_half_width = float(np.linalg.norm(corner_l - corner_r)) / 2.0
        # Mouth midline between the inner lips, flat beyond the corners.
        mid_x = np.concatenate([[corner_r[0]], (upper_inner[:, 0] + lower_inner[:, 0]) / 2,
                                [corner_l[0]]])
        mid_y = np.concatenate([[corner_r[1]], (upper_inner[:, 1] + lower_inner[:, 1]) / 2,
                                [corner_l[1]]])
        order = np.argsort(mid_x)
        above = y - np.interp(x, mid_x[order], mid_y[order])   # + above the mouth line
        upper = 1.0 / (1.0 + np.exp(-above / 0.012))
        lips_upper = list(UPPER_INNER_LIP) + list(UPPER_OUTER_LIP)
        lips_lower = list(LOWER_INNER_LIP) + list(LOWER_OUTER_LIP)
        upper[lips_upper], upper[lips_lower] = 1.0, 0.0
        lower = 1.0 - upper
        dx = x - self.mouth_centre[0]
        beyond_corner = np.maximum(np.abs(dx) - self.mouth_half_width, 0.0)
        along_mouth = _bump(beyond_corner ** 2, 0.07)
        # Upper lip skin: full on the lip, fading up the philtrum towards the nose.
        self.w_upper_lip = upper * along_mouth * _bump(np.maximum(above, 0.0) ** 2, 0.08)
        # Lower lip skin: full on the lip, fading towards the chin.
        self.w_lower_lip = lower * along_mouth * _bump(np.minimum(above, 0.0) ** 2, 0.09)
        # The jaw carries everything below the mouth, less towards its hinges.
        self.w_jaw = lower * _bump(np.maximum(np.abs(dx) - 0.25, 0.0) ** 2, 0.22)
        self.w_chin = lower * _bump(dx ** 2, 0.2) * _bump((above + 0.3) ** 2, 0.15)
        self.x_offset = dx
        # Corner patches: elongated along the lips, so a corner drags its half of the mouth.
        self.w_corner = {}
        for side, corner in (('right', corner_r), ('left', corner_l)):
            d = p - corner
            self.w_corner[side] = np.exp(-(d[:, 0] ** 2) / (2 * 0.22 ** 2)
                                         - (d[:, 1] ** 2) / (2 * 0.09 ** 2))
        self.w_cheek, self.w_nose = {}, {}
        for side, sign in SIDES.items():
            centre = np.array([sign * 0.42, corner_r[1] + 0.42])
            self.w_cheek[side] = _bump(((p - centre) ** 2).sum(1), 0.17)
            nose = np.array([sign * 0.13, corner_r[1] + 0.5])
            self.w_nose[side] = _bump(((p - nose) ** 2).sum(1), 0.07)
        self._build_eye_fields()
        # Bone under the anchors: pin the skin there (and fade pinning out within 0.05).
        pin = np.ones(len(p))
        for a in ANCHORS:
            pin *= 1.0 - _bump(((p - p[a]) ** 2).sum(1), 0.035)
        pin[list(ANCHORS)] = 0.0
        self.pin = pin

    def _build_eye_fields(self):
        p = self.neutral
        self.w_lid_upper, self.w_lid_lower, self.lid_gap = {}, {}, {}
        self.w_iris, self.w_brow_inner, self.w_brow_outer = {}, {}, {}
        for side, (upper_loop, lower_loop, iris, centre_index) in EYES.items():
            centre = p[centre_index]
            upper_pts, lower_pts = p[list(upper_loop)], p[list(lower_loop)]
            # Lid opening at the middle of the eye (the loops' 4th points face each other).
            gap = float(upper_pts[3, 1] - lower_pts[3, 1])
            self.lid_gap[side] = max(gap, 0.02)
            d = p - centre
            half_width = max(float(np.ptp(upper_pts[:, 0])) / 2.0, 0.05)
            across = _bump(d[:, 0] ** 2, half_width * 0.8)
            w_up = across * (d[:, 1] > 0) * _bump(np.maximum(d[:, 1] - gap / 2, 0) ** 2, 0.05)
            w_up[list(upper_loop)] = _bump(d[list(upper_loop), 0] ** 2, half_width * 0.8)
            w_low = across * (d[:, 1] < 0) * _bump(np.minimum(d[:, 1] + gap / 2, 0) ** 2, 0.05)
            w_low[list(lower_loop)] = _bump(d[list(lower_loop), 0] ** 2, half_width * 0.8)
            w_low[list(upper_loop)] = 0.0
            w_up[list(lower_loop)] = 0.0
            w_up[list(iris)], w_low[list(iris)] = 0.0, 0.0
            self.w_lid_upper[side], self.w_lid_lower[side] = w_up, w_low
            w_iris = np.zeros(len(p))
            w_iris[list(iris)] = 1.0
            self.w_iris[side] = w_iris
            self.w_brow_inner[side] = _bump(((p - p[BROW_INNER[side]]) ** 2).sum(1), 0.1)
            self.w_brow_outer[side] = _bump(((p - p[BROW_OUTER[side]]) ** 2).sum(1), 0.1)

    # -- the model ------------------------------------------------------------------------
    def travel(self, positions):
        """Softened travel of every actuator by name: [-1, 1] times this head's gain factor.

        Names missing from positions rest at neutral; unknown names are an error (a typo
        would otherwise silently freeze a part of the face).
        """
        unknown = sorted(set(positions) - set(self.config.names))
        if unknown:
            raise SkinError(f'unknown actuator names {unknown}; the face has '
                            f'{", ".join(self.config.names)}')
        travel = {}
        for a in self.config.actuators:
            q = positions.get(a.name, a.neutral)
            q = float(q)
            if not math.isfinite(q):
                raise SkinError(f'{a.name} position is {q}; give a finite angle [rad] or '
                                'leave the name out for neutral')
            travel[a.name] = soft_travel(q, a.min, a.max, a.neutral) * self.gain_scale[a.name]
        return travel

    def pose(self, positions):
        """SkinPose of the face at positions (mapping name -> joint position [rad])."""
        t = self.travel(positions)
        g = GAINS
        n = len(self.neutral)
        d = np.zeros((n, 2))
        jaw = t['jaw_open']
        chin = t['chin_raise']
        # Jaw: the chin drops, the lower lip rides along; opening also narrows the mouth.
        # Clenching (negative) has little travel: the teeth meet.
        jaw_drop = g['jaw_open'] * (max(jaw, 0.0) + 0.15 * min(jaw, 0.0))
        d[:, 1] -= jaw_drop * self.w_jaw
        d[:, 0] -= 0.12 * jaw_drop * np.tanh(self.x_offset / 0.2) * self.w_jaw
        # Chin pad pushes the lower lip up and out (pout); it fights the jaw's pull.
        d[:, 1] += g['chin_raise'] * chin * (self.w_chin + 0.6 * self.w_lower_lip)
        stretch_total = 0.0
        for side, sign in SIDES.items():
            raise_ = t[f'lip_corner_{side}_raise']
            stretch = t[f'lip_corner_{side}_stretch']
            cheek = t[f'cheek_{side}_raise']
            w = self.w_corner[side]
            # Raising a stretched corner lifts it less: the skin is already taut.
            d[:, 1] += g['lip_corner_raise'] * raise_ * (1.0 - 0.3 * max(stretch, 0.0)) * w
            # Pucker (negative stretch) draws in harder than it widens: the lips bunch up.
            pull = stretch if stretch >= 0 else 1.15 * stretch
            d[:, 0] += sign * g['lip_corner_stretch'] * pull * w
            stretch_total += stretch
            # The cheek bunches up over a raised corner, and lifts the corner a little.
            d[:, 1] += g['cheek_raise'] * (cheek + 0.35 * max(raise_, 0.0)) * self.w_cheek[side]
            d[:, 1] += 0.25 * g['cheek_raise'] * cheek * w
        # Stretching thins both lips towards the mouth line; puckering thickens them.
        thin = 0.025 * stretch_total / 2.0
        d[:, 1] -= thin * self.w_upper_lip
        d[:, 1] += thin * self.w_lower_lip
        for column, x_centre in (('left', 0.17), ('center', 0.0), ('right', -0.17)):
            lift = t[f'upper_lip_{column}_raise']
            across = _bump((self.x_offset - x_centre) ** 2, 0.14)
            d[:, 1] += g['upper_lip_raise'] * lift * across * self.w_upper_lip
        for side, x_centre in (('left', 0.15), ('right', -0.15)):
            drop = t[f'lower_lip_{side}_lower']
            across = _bump((self.x_offset - x_centre) ** 2, 0.16)
            d[:, 1] -= g['lower_lip_lower'] * drop * across * self.w_lower_lip
        nose = t['nose_wrinkle']
        for side in SIDES:
            d[:, 1] += g['nose_wrinkle'] * nose * self.w_nose[side]
        d[:, 1] += 0.3 * g['upper_lip_raise'] * nose * self.w_upper_lip
        self._lips_meet(d)
        self._eyes(d, t)
        d = self._saturate(d) * self.pin[:, None]
        return SkinPose(d, self.neutral + d)

    def _lips_meet(self, d):
        """Lips press together instead of passing through each other (soft contact)."""
        upper, lower = list(UPPER_INNER_LIP), list(LOWER_INNER_LIP)
        gap = (self.neutral[upper, 1] + d[upper, 1]) - (self.neutral[lower, 1] + d[lower, 1])
        overlap = np.maximum(-gap, 0.0)
        # Each lip yields half the overlap; the outer lip lines follow most of the way.
        d[upper, 1] += overlap / 2.0
        d[lower, 1] -= overlap / 2.0
        d[list(UPPER_OUTER_LIP), 1] += 0.7 * overlap / 2.0
        d[list(LOWER_OUTER_LIP), 1] -= 0.7 * overlap / 2.0

    def _eyes(self, d, t):
        g = GAINS
        for side in SIDES:
            gap = self.lid_gap[side]
            pitch = t[f'eye_{side}_pitch']
            close_up = t[f'eyelid_{side}_upper_close']
            close_low = t[f'eyelid_{side}_lower_close']
            cheek = t[f'cheek_{side}_raise']
            inner, outer = t[f'brow_{side}_inner_raise'], t[f'brow_{side}_outer_raise']
            brow = (inner + outer) / 2.0
            # The upper lid follows the gaze down a little and the brow up a little.
            upper_drop = gap * (close_up - 0.25 * min(pitch, 0.0) - 0.15 * max(brow, 0.0))
            lower_rise = gap * 0.45 * (close_low + 0.4 * max(cheek, 0.0))
            # Lids meet, they do not cross: the upper lid stops on the lower one.
            upper_drop = min(upper_drop, gap - max(lower_rise, 0.0) + 0.005)
            lower_rise = min(lower_rise, gap - max(upper_drop, 0.0) + 0.005)
            d[:, 1] -= upper_drop * self.w_lid_upper[side]
            d[:, 1] += lower_rise * self.w_lid_lower[side]
            # A closing lid slides over the eyeball: the iris, half-way between the lids,
            # is covered by skin arriving from above (and below), so it moves half as far.
            d[:, 1] += 0.5 * (max(lower_rise, 0.0) - max(upper_drop, 0.0)) * self.w_iris[side]
            d[:, 0] += g['eye_yaw'] * t[f'eye_{side}_yaw'] * self.w_iris[side]
            d[:, 1] += g['eye_pitch'] * pitch * self.w_iris[side]
            d[:, 1] += g['brow_raise'] * (inner * self.w_brow_inner[side]
                                          + outer * self.w_brow_outer[side])
            # Frowning draws the inner brow towards the nose.
            d[:, 0] += (SIDES[side] * 0.3 * g['brow_raise'] * min(inner, 0.0)
                        * self.w_brow_inner[side])

    @staticmethod
    def _saturate(d):
        norm = np.linalg.norm(d, axis=1, keepdims=True)
        scale = np.where(norm > 1e-9, MAX_TRAVEL * np.tanh(norm / MAX_TRAVEL) /
                         np.maximum(norm, 1e-9), 1.0)
        return d * scale
