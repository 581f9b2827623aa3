"""camera_node: a camera device or video file -> sensor_msgs/Image on /camera/image_raw."""

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from face_common.parameters import (
    Check,
    Parameter,
    ParameterError,
    between,
    declare_parameters,
    non_empty,
    positive,
)
from face_common.spin import spin_node
from mirror_calibration.camera_source import CameraError, CameraSource
from mirror_calibration.image_codec import rgb_to_image_fields

MAX_RATE = 240.0  # [Hz] beyond any camera this stack expects

PARAMETERS = {
    'device': Parameter('0', 'camera index (e.g. "0" for /dev/video0) or the path of a video '
                        'file', Check(lambda v: v.strip() != '',
                                      'a camera index such as "0" or a video file path')),
    'width': Parameter(480, 'frame width [px]', between(16, 7680)),
    'height': Parameter(360, 'frame height [px]', between(16, 4320)),
    'rate': Parameter(30.0, 'frames published per second [Hz]', positive(MAX_RATE, 'Hz')),
    'loop': Parameter(True, 'restart a video file at its end (ignored for cameras)'),
    'frame_id': Parameter('camera', 'frame_id stamped on every image (the camera optical '
                          'frame)', non_empty()),
}


class CameraNode(Node):

    def __init__(self, **kwargs):
        super().__init__('camera_node', **kwargs)
        p = declare_parameters(self, PARAMETERS, 'mirror_calibration.yaml')
        device, width, height, rate = p['device'], p['width'], p['height'], p['rate']
        self.frame_id = p['frame_id']
        self.source = CameraSource(device, width, height, p['loop'])
        self.missed = 0
        self.publisher = self.create_publisher(Image, 'camera/image_raw',
                                               qos_profile_sensor_data)
        self.create_timer(1.0 / rate, self.capture)
        self.get_logger().info(f'publishing {device} at {width}x{height}, {rate:g} Hz')

    def capture(self):
        stamp = self.get_clock().now().to_msg()
        rgb = self.source.read()
        if rgb is None:
            self.missed += 1
            self.get_logger().warn(f'no frame from the camera ({self.missed} missed so far)',
                                   throttle_duration_sec=5)
            return
        encoding, height, width, step, data = rgb_to_image_fields(rgb)
        image = Image(encoding=encoding, height=height, width=width, step=step, data=data,
                      is_bigendian=0)
        image.header.stamp = stamp
        image.header.frame_id = self.frame_id
        self.publisher.publish(image)

    def destroy_node(self):
        if hasattr(self, 'source'):  # absent when a bad parameter stopped __init__
            self.source.close()
        return super().destroy_node()


def main(args=None):
    spin_node(CameraNode, args, errors=(ParameterError, CameraError))
