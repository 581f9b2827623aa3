"""Filters over a stream of lip poses (n, L) [rad]: zero-phase smoothing and pacing.

PoseSmoother (streamed) and smooth_poses (a whole clip) take out the frame-to-frame jitter
of per-frame inversion with a binomial kernel, the same frames either way. rate_limited and
pace_poses keep the poses to the actuators' speed limits: the mean of the poses rate-limited
forwards in time (which trails a fast move) and backwards (which starts it early) keeps
within the limits and centres each fast move on its time.
"""

import numpy as np

# [frames] how far ahead the backward pacing looks. A move reaches back at most its size over
# the speed limit: the jaw's whole range (about 0.6 rad) at 4 rad/s is 15 frames.
PACE_HORIZON = 50


def binomial_kernel(half_width):
    """(2 half_width + 1,) binomial weights summing to 1 (a Gaussian of sd sqrt(half_width / 2)
    frames that ends within its width)."""
    kernel = np.ones(1)
    for _ in range(2 * int(half_width)):
        kernel = np.convolve(kernel, [0.5, 0.5])
    return kernel


class PoseSmoother:
    """Zero-phase binomial smoothing of a stream of poses, frame by frame.

    Frame k is the kernel-weighted mean of frames k - h .. k + h (h = half_width), so it is
    final once frame k + h is in; beyond the stream's ends its first and last frames repeat.
    """

    def __init__(self, half_width):
        self.h = int(half_width)
        self.kernel = binomial_kernel(self.h)
        self.window = None  # (rows, L) raw poses from frame `next - h` on
        self.times = np.zeros(0)  # times of the frames not yet returned

    def _emit(self, available):
        """Every frame whose window lies within the first `available` rows."""
        count = max(available - 2 * self.h, 0)
        rows = np.arange(count)[:, None] + np.arange(2 * self.h + 1)[None, :]
        out = np.einsum('k,nkl->nl', self.kernel, self.window[rows])
        times, self.times = self.times[:count], self.times[count:]
        self.window = self.window[count:]
        return times, out

    def push(self, times, poses):
        """(n,) times and (n, L) poses in -> the (times, poses) that are final now."""
        poses = np.asarray(poses, np.float64)
        if len(times) == 0 or self.h == 0:
            return np.asarray(times, np.float64), poses
        if self.window is None:
            self.window = np.repeat(poses[:1], self.h, axis=0)
        self.window = np.concatenate([self.window, poses])
        self.times = np.concatenate([self.times, times])
        return self._emit(len(self.window))

    def finish(self):
        """The stream ended: the frames still waiting, with the last frame repeated after."""
        if self.window is None:
            return np.zeros(0), np.zeros((0, 0))
        self.window = np.concatenate([self.window, np.repeat(self.window[-1:], self.h, 0)])
        return self._emit(len(self.window))


def smooth_poses(poses, half_width):
    """Offline reference of PoseSmoother: (n, L) poses of a whole stream, smoothed."""
    poses = np.asarray(poses, np.float64)
    if half_width == 0 or len(poses) == 0:
        return poses
    h = int(half_width)
    padded = np.concatenate([np.repeat(poses[:1], h, 0), poses, np.repeat(poses[-1:], h, 0)])
    kernel = binomial_kernel(h)
    return np.stack([np.convolve(padded[:, j], kernel[::-1], mode='valid')
                     for j in range(poses.shape[1])], axis=1)


def rate_limited(poses, max_step, start, backwards=False):
    """(n, L) poses following `poses` but changing by at most max_step (L,) per frame,
    starting from `start` (L,) at the first frame (the last one when backwards)."""
    out = np.empty_like(poses)
    order = range(len(poses) - 1, -1, -1) if backwards else range(len(poses))
    previous = np.asarray(start, np.float64)
    for k in order:
        previous = out[k] = np.clip(poses[k], previous - max_step, previous + max_step)
    return out


def pace_poses(poses, max_step, start):
    """Offline reference of the policy's pacing: the mean of the poses rate-limited forwards
    from `start` and backwards from their last frame; changes by at most max_step (L,) per
    frame, and leaves poses that already keep to it alone."""
    poses = np.asarray(poses, np.float64)
    if len(poses) == 0:
        return poses
    return 0.5 * (rate_limited(poses, max_step, start)
                  + rate_limited(poses, max_step, poses[-1], backwards=True))
