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


# --- the seal hold ---------------------------------------------------------------------------

def hold_span(hold_frames):
    """(before, after) [frames]: a sealed frame holds its pose from `before` frames before it
    to `after` frames after it, hold_frames in all (centred; the extra frame after)."""
    hold_frames = max(int(hold_frames), 1)
    before = (hold_frames - 1) // 2
    return before, hold_frames - 1 - before


def _pin_choice(frames, sealed_frames, gaps, before, after):
    """For each frame of `frames` (m,): the position in sealed_frames (J,) of the sealed frame
    it holds, or -1: the nearest sealed frame j with frame - after <= j <= frame + before;
    ties to the smaller gap, then the earlier frame."""
    choice = np.full(len(frames), -1)
    if not len(sealed_frames) or not len(frames):
        return choice
    offset = frames[:, None] - sealed_frames[None, :]  # (m, J) frame - j
    covers = (offset >= -before) & (offset <= after)
    # By distance, then gap, then frame: rank the candidates by (gap, frame) (lexsort sorts by
    # its last key first); a subset of them keeps their order, so a stream's window of
    # candidates chooses as the whole stream does.
    order = np.lexsort((sealed_frames, gaps))
    rank = np.empty(len(order), int)
    rank[order] = np.arange(len(order))
    key = np.where(covers, np.abs(offset) * len(order) + rank[None, :], np.iinfo(np.int64).max)
    best = key.argmin(axis=1)
    return np.where(covers.any(axis=1), best, -1)


def seal_pins(sealed, gaps, poses, hold_frames):
    """Offline reference of SealHold: which frames hold a sealed pose, and which pose.

    sealed (n,) bool: frames whose lips read sealed; gaps (n,) their inner-lip gaps (ties);
    poses (n, L). Every sealed frame holds its pose over hold_span(hold_frames) frames around
    it; a frame covered by several takes the nearest (then the most closed). Returns (n, L)
    pins: the pose a frame must show, NaN rows for free frames.
    """
    poses = np.asarray(poses, np.float64)
    pins = np.full(poses.shape, np.nan)
    if hold_frames <= 0:
        return pins
    before, after = hold_span(hold_frames)
    sealed_frames = np.flatnonzero(sealed)
    gaps = np.asarray(gaps, np.float64)[sealed_frames]
    choice = _pin_choice(np.arange(len(poses)), sealed_frames, gaps, before, after)
    held = choice >= 0
    pins[held] = poses[sealed_frames[choice[held]]]
    return pins


class SealHold:
    """seal_pins for a stream: frames in as they come, each frame's pin once it is decided
    (when the frames `before` after it are in), the same pins as the whole stream gives."""

    def __init__(self, hold_frames):
        self.hold_frames = int(hold_frames)
        self.before, self.after = hold_span(hold_frames)
        self.frames = 0  # frames pushed
        self.decided = 0  # frames whose pin has been given
        self.times = np.zeros(0)  # times of the undecided frames
        self.sealed = []  # (frame, gap, pose) of sealed frames that may still be held
        self.width = 0  # L, once poses came

    def push(self, times, sealed, gaps, poses, final=False):
        """(n,) times, sealed flags and gaps, (n, L) poses -> (times (m,), pins (m, L)) of
        the frames decided now that hold a pose (free frames are left out)."""
        first = self.frames
        self.frames += len(times)
        self.times = np.concatenate([self.times, np.asarray(times, np.float64)])
        if len(poses):
            self.width = np.shape(poses)[1]
        for k in np.flatnonzero(sealed):
            self.sealed.append((first + int(k), float(gaps[k]), np.array(poses[k], np.float64)))
        upto = self.frames if final else max(self.frames - self.before, self.decided)
        frames = np.arange(self.decided, upto)
        decided_times, self.times = self.times[:len(frames)], self.times[len(frames):]
        self.decided = upto
        choice = np.full(len(frames), -1)
        if self.sealed:
            choice = _pin_choice(frames, np.array([s[0] for s in self.sealed]),
                                 np.array([s[1] for s in self.sealed]), self.before, self.after)
        held = np.flatnonzero(choice >= 0)
        pins = [self.sealed[choice[k]][2] for k in held]
        # sealed frames no later frame can hold any more
        self.sealed = [s for s in self.sealed if s[0] >= self.decided - self.after]
        return decided_times[held], (np.array(pins) if pins else np.zeros((0, self.width)))

    def finish(self):
        """The stream ended: the pins of the frames still undecided."""
        return self.push(np.zeros(0), np.zeros(0, bool), np.zeros(0),
                         np.zeros((0, 0)), final=True)


def hold_pins(poses, pins, max_step, offset=0, reach=PACE_HORIZON):
    """poses (n, L) for frames offset .. offset + n - 1 that reach and hold the pins.

    pins (m, L): the pose frame j must show (NaN rows: free). With speed limits max_step (L,)
    [rad per frame], a pin at frame j bounds frame k to pin +- max_step |k - j| (within
    reach frames of it), and each pose is clipped into those bounds: the poses move towards a
    pin early enough to reach it and leave it no faster than the limits. Max and min of
    sequences that change by at most max_step per frame change by at most that much too, so
    paced poses stay paced (as long as reach x max_step covers each actuator's range, which
    pacing's own look-ahead PACE_HORIZON also assumes). Without limits (max_step None) pinned
    frames simply show their pins. Only the pins within reach of a frame matter, so a
    window of them gives the same poses as the whole stream.
    """
    poses = np.asarray(poses, np.float64)
    pins = np.asarray(pins, np.float64)
    pinned = np.flatnonzero(np.isfinite(pins[:, 0])) if len(pins) else np.zeros(0, int)
    if not len(pinned) or not len(poses):
        return poses
    if max_step is None:
        out = poses.copy()
        inside = pinned[(pinned >= offset) & (pinned < offset + len(poses))]
        out[inside - offset] = pins[inside]
        return out
    out = np.empty_like(poses)
    block = 256  # frames at a time: (block, pins near it, L) bounds
    for a in range(0, len(poses), block):
        frames = offset + np.arange(a, min(a + block, len(poses)))
        near = pinned[(pinned >= frames[0] - reach) & (pinned <= frames[-1] + reach)]
        rows = poses[a:a + len(frames)]
        if not len(near):
            out[a:a + len(frames)] = rows
            continue
        distance = np.abs(frames[:, None] - near[None, :])  # (b, J)
        cone = distance[:, :, None] * np.asarray(max_step)[None, None, :]  # (b, J, L)
        far = (distance > reach)[:, :, None]
        lower = np.where(far, -np.inf, pins[near][None] - cone).max(axis=1)
        upper = np.where(far, np.inf, pins[near][None] + cone).min(axis=1)
        out[a:a + len(frames)] = np.minimum(np.maximum(rows, lower), upper)
    return out
