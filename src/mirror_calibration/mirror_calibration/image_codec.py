"""sensor_msgs/Image fields <-> numpy RGB arrays, without cv_bridge (not on PyPI) or rclpy.

Only the encodings cameras and the simulator actually send are accepted; anything else is
an ImageFormatError that names the encodings to use instead.
"""

import numpy as np

_CHANNELS = {'rgb8': 3, 'bgr8': 3, 'rgba8': 4, 'bgra8': 4, 'mono8': 1}
SUPPORTED_ENCODINGS = tuple(_CHANNELS)


class ImageFormatError(ValueError):
    """An image message whose encoding or buffer size does not make a picture."""


def image_fields_to_rgb(encoding, height, width, step, data):
    """The picture of an Image message's fields as an (height, width, 3) uint8 RGB array."""
    if encoding not in _CHANNELS:
        raise ImageFormatError(f'image encoding {encoding!r} is not supported; publish one of '
                               f'{", ".join(SUPPORTED_ENCODINGS)}')
    channels = _CHANNELS[encoding]
    if height <= 0 or width <= 0:
        raise ImageFormatError(f'image is {width}x{height}; it must have at least one pixel')
    if step < width * channels:
        raise ImageFormatError(f'image step {step} is shorter than a {encoding} row of '
                               f'{width} pixels ({width * channels} bytes)')
    buffer = np.frombuffer(bytes(data) if not isinstance(data, (bytes, bytearray, memoryview))
                           else data, dtype=np.uint8)
    if buffer.size < step * height:
        raise ImageFormatError(f'image data has {buffer.size} bytes, expected step*height = '
                               f'{step * height}; the message is truncated')
    rows = buffer[:step * height].reshape(height, step)[:, :width * channels]
    pixels = rows.reshape(height, width, channels)
    if encoding == 'mono8':
        return np.repeat(pixels, 3, axis=2)
    if encoding in ('bgr8', 'bgra8'):
        return np.ascontiguousarray(pixels[:, :, 2::-1])
    return np.ascontiguousarray(pixels[:, :, :3])


def rgb_to_image_fields(rgb):
    """(encoding, height, width, step, data bytes) of an (H, W, 3) uint8 RGB array."""
    rgb = np.ascontiguousarray(rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ImageFormatError(f'expected an (H, W, 3) uint8 RGB array, got {rgb.shape} '
                               f'{rgb.dtype}')
    height, width = rgb.shape[:2]
    return 'rgb8', height, width, width * 3, rgb.tobytes()
