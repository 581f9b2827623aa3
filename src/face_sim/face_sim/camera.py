"""The simulated camera: the rendered face plus the nuisances a real camera adds.

Each nuisance has its own switch so a test or an ablation can turn it on alone:
  head_motion  small slow rigid motion of the head in the image (rotation, shift, scale),
               as a robot head on a compliant mount sways; the face frame removes it
  lighting     slow change of overall brightness and a left-right light gradient
  noise        Gaussian sensor noise, independent per pixel and frame
  latency      one frame of delay: each capture shows the face as it was one frame ago
All motion is a deterministic function of the frame index and the seed, so a seed replays
exactly the same video.
"""

import math
from dataclasses import dataclass

import cv2
import numpy as np

HEAD_ROTATION_DEG = 2.0      # amplitude of the head's roll in the image
HEAD_SHIFT = 0.015           # amplitude of the head's shift [fraction of image width]
HEAD_SCALE = 0.02            # amplitude of the change of apparent size [fraction]
LIGHT_GAIN = 0.15            # amplitude of the brightness change [fraction]
LIGHT_GRADIENT = 0.12        # amplitude of the left-right brightness difference [fraction]
NOISE_STD = 4.0              # sensor noise standard deviation [8-bit levels]
NOISE_BANK = 4               # precomputed noise frames, sampled at random offsets
NOISE_MARGIN = 16            # [px] of extra noise frame to offset into


@dataclass(frozen=True)
class Nuisances:
    head_motion: bool = False
    lighting: bool = False
    noise: bool = False
    latency: bool = False


class SimCamera:
    """Captures frames of a FaceRenderer at a fixed rate with the chosen nuisances.

    renderer: face_sim.render.FaceRenderer; rate_hz: frame rate that paces the slow
    nuisances [Hz]; seed: their phases and the noise.
    """

    def __init__(self, renderer, nuisances=Nuisances(), rate_hz=30.0, seed=0):
        if not rate_hz > 0:
            raise ValueError(f'rate_hz must be > 0, got {rate_hz}')
        self.renderer = renderer
        self.nuisances = nuisances
        self.rate_hz = float(rate_hz)
        self.frame_index = 0
        self._rng = np.random.default_rng(seed)
        # Slow motions: two incommensurate sines per degree of freedom, seeded phases.
        self._phases = self._rng.uniform(0, 2 * math.pi, size=(6, 2))
        self._freqs = np.array([0.21, 0.57])   # [Hz]
        self._previous = None
        self._noise = None
        if nuisances.noise:
            h, w = renderer.height + NOISE_MARGIN, renderer.width + NOISE_MARGIN
            self._noise = np.round(self._rng.normal(0.0, NOISE_STD, (NOISE_BANK, h, w, 3))
                                   ).astype(np.int16)

    def _wave(self, k, t):
        """A smooth pseudo-random signal in about [-1, 1] for degree of freedom k at t [s]."""
        return float(np.dot([0.6, 0.4], np.sin(2 * math.pi * self._freqs * t + self._phases[k])))

    def capture(self, positions):
        """The next RGB frame (H, W, 3) uint8 of the face at positions (name -> [rad])."""
        frame = self.renderer.render(positions)
        if self.nuisances.latency:
            frame, self._previous = (self._previous if self._previous is not None
                                     else frame), frame
        t = self.frame_index / self.rate_hz
        self.frame_index += 1
        if self.nuisances.head_motion:
            frame = self._move_head(frame, t)
        if self.nuisances.lighting:
            frame = self._relight(frame, t)
        if self._noise is not None:
            frame = self._add_noise(frame)
        return frame

    def _move_head(self, frame, t):
        h, w = frame.shape[:2]
        centre = tuple(self.renderer.mesh_image.mean(axis=0))
        angle = HEAD_ROTATION_DEG * self._wave(0, t)
        scale = 1.0 + HEAD_SCALE * self._wave(1, t)
        affine = cv2.getRotationMatrix2D(centre, angle, scale)
        affine[0, 2] += HEAD_SHIFT * w * self._wave(2, t)
        affine[1, 2] += HEAD_SHIFT * w * self._wave(3, t)
        return cv2.warpAffine(frame, affine, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REFLECT)

    def _relight(self, frame, t):
        w = frame.shape[1]
        gain = 1.0 + LIGHT_GAIN * self._wave(4, t)
        slope = LIGHT_GRADIENT * self._wave(5, t)
        columns = gain * (1.0 + slope * np.linspace(-1.0, 1.0, w))
        # Gains in 1/128 steps as a uint8 image, so OpenCV's saturating SIMD multiply
        # does the work (float maths on a full frame costs several ms here).
        row = np.repeat(np.round(columns * 128.0).astype(np.uint8), 3).reshape(1, w, 3)
        return cv2.multiply(frame, cv2.repeat(row, frame.shape[0], 1), scale=1.0 / 128.0)

    def _add_noise(self, frame):
        h, w = frame.shape[:2]
        k = int(self._rng.integers(NOISE_BANK))
        oy, ox = (int(v) for v in self._rng.integers(NOISE_MARGIN, size=2))
        return cv2.add(frame, self._noise[k, oy:oy + h, ox:ox + w], dtype=cv2.CV_8U)
