"""Frames from a camera device or a video file through OpenCV (plain Python, no rclpy)."""

import pathlib

import cv2
import numpy as np


class CameraError(RuntimeError):
    """The camera or video file cannot be opened or read."""


def parse_device(device):
    """'0' -> device index 0; anything else is a video file path (or a capture URL)."""
    device = str(device).strip()
    if not device:
        raise CameraError('device is empty: give a camera index such as 0, or a video file path')
    return int(device) if device.isdigit() else device


class CameraSource:
    """An opened capture that yields RGB frames of the requested size.

    For a camera, width/height are asked of the driver (it may pick the nearest mode) and
    frames are resized if it did not comply, so consumers always get the size they asked
    for. A video file restarts from its first frame when loop is true.
    """

    def __init__(self, device, width, height, loop=True):
        if width <= 0 or height <= 0:
            raise CameraError(f'frame size {width}x{height} must be positive')
        self.source = parse_device(device)
        self.width, self.height, self.loop = int(width), int(height), loop
        self.is_file = isinstance(self.source, str)
        if self.is_file and '://' not in self.source and not pathlib.Path(self.source).is_file():
            raise CameraError(f'video file {self.source} does not exist; give a camera index '
                              'such as 0 or the path of a readable video file')
        self._capture = cv2.VideoCapture(self.source)
        if not self._capture.isOpened():
            self._capture.release()
            what = 'video file' if self.is_file else 'camera device'
            raise CameraError(f'cannot open {what} {self.source!r}: check that it exists, is '
                              'not used by another program and that you may read it '
                              '(for /dev/videoN: the video group)')
        if not self.is_file:
            self._capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            self._capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)

    def read(self):
        """The next frame as (height, width, 3) uint8 RGB, or None when none is available."""
        ok, bgr = self._capture.read()
        if not ok and self.is_file and self.loop:
            self._capture.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, bgr = self._capture.read()
        if not ok or bgr is None:
            return None
        if bgr.ndim == 2:
            bgr = cv2.cvtColor(bgr, cv2.COLOR_GRAY2BGR)
        if bgr.shape[:2] != (self.height, self.width):
            bgr = cv2.resize(bgr, (self.width, self.height), interpolation=cv2.INTER_AREA)
        return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def close(self):
        self._capture.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
