"""sensor_msgs/Image fields <-> RGB arrays."""

import numpy as np
import pytest

from mirror_calibration.image_codec import (
    ImageFormatError,
    image_fields_to_rgb,
    rgb_to_image_fields,
)

RGB = np.random.default_rng(0).integers(0, 255, (4, 5, 3), dtype=np.uint8)


def test_rgb_round_trip():
    encoding, height, width, step, data = rgb_to_image_fields(RGB)
    assert (encoding, height, width, step) == ('rgb8', 4, 5, 15)
    np.testing.assert_array_equal(image_fields_to_rgb(encoding, height, width, step, data), RGB)


def test_bgr_with_row_padding_and_mono():
    bgr = np.zeros((4, 8, 3), np.uint8)  # rows padded to 24 bytes, 5 pixels used
    bgr[:, :5] = RGB[:, :, ::-1]
    rgb = image_fields_to_rgb('bgr8', 4, 5, 24, bgr.tobytes())
    np.testing.assert_array_equal(rgb, RGB)
    mono = image_fields_to_rgb('mono8', 4, 5, 5, RGB[:, :, 0].tobytes())
    np.testing.assert_array_equal(mono, np.repeat(RGB[:, :, :1], 3, axis=2))
    bgra = np.concatenate([RGB[:, :, ::-1], np.full((4, 5, 1), 255, np.uint8)], axis=2)
    np.testing.assert_array_equal(image_fields_to_rgb('bgra8', 4, 5, 20, bgra.tobytes()), RGB)


@pytest.mark.parametrize('fields, message', [
    (('yuv422', 4, 5, 10, bytes(40)), 'yuv422.*rgb8'),
    (('rgb8', 4, 5, 15, bytes(30)), 'truncated'),
    (('rgb8', 4, 5, 10, bytes(60)), 'step'),
    (('rgb8', 0, 5, 15, b''), 'at least one pixel'),
])
def test_malformed_images_are_named(fields, message):
    with pytest.raises(ImageFormatError, match=message):
        image_fields_to_rgb(*fields)
