"""observer_node: camera images -> face_msgs/FaceLandmarks on /face/landmarks.

Every image gives exactly one FaceLandmarks with the image's stamp and frame, so a frame
without a face (or an image that cannot be decoded) shows up as detected=false rather than
as a silent gap.
"""

from geometry_msgs.msg import Point
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from face_msgs import face_layout
from face_msgs.msg import FaceLandmarks
from mirror_calibration.image_codec import ImageFormatError, image_fields_to_rgb
from mirror_calibration.node_support import declare, spin_node
from mirror_calibration.observer import FaceObserver
from mirror_calibration.qos import LANDMARK_QOS

LAYOUTS = (FaceLandmarks.LAYOUT_FACE_SUBSET, FaceLandmarks.LAYOUT_MEDIAPIPE_478)


def _unit_interval(value):
    return isinstance(value, float) and 0.0 <= value <= 1.0


class ObserverNode(Node):

    def __init__(self, **kwargs):
        super().__init__('observer_node', **kwargs)
        static = declare(self, 'static_images', False,
                         'true: detect the face afresh in every frame (photos, shuffled '
                         'frames); false: track it across a video stream (faster)')
        detection = declare(self, 'min_detection_confidence', 0.5,
                            'face detector score needed to accept a new face [0..1]',
                            _unit_interval, 'a number in [0, 1]')
        tracking = declare(self, 'min_tracking_confidence', 0.5,
                           'landmark presence score needed to keep tracking a face [0..1]',
                           _unit_interval, 'a number in [0, 1]')
        self.layout = declare(self, 'layout', FaceLandmarks.LAYOUT_FACE_SUBSET,
                              'landmarks to publish: face_subset_v1 (109 points: lips, jaw, '
                              'eyes, brows) or mediapipe_face_mesh_478 (the full mesh)',
                              lambda v: v in LAYOUTS, ' or '.join(LAYOUTS))
        self.observer = FaceObserver(static, detection, tracking)
        self.frames = 0
        self.faces = 0
        self.publisher = self.create_publisher(FaceLandmarks, 'face/landmarks', LANDMARK_QOS)
        self.create_subscription(Image, 'camera/image_raw', self.on_image,
                                 qos_profile_sensor_data)
        # Said once everything is set up, so a supervisor or test can wait for it.
        self.get_logger().info(f'observer ready: {self.layout}, '
                               f'{"detecting in every frame" if static else "tracking"}')

    def on_image(self, image):
        out = FaceLandmarks(header=image.header, layout=self.layout, detected=False,
                            confidence=0.0, face_size_px=float('nan'))
        try:
            rgb = image_fields_to_rgb(image.encoding, image.height, image.width, image.step,
                                      image.data)
            observation = self.observer.observe(rgb)
        except ImageFormatError as exc:
            self.get_logger().error(f'cannot read camera frame: {exc}', throttle_duration_sec=5)
            observation = None
        self.frames += 1
        if observation is not None and observation.detected:
            self.faces += 1
            points = observation.points
            if self.layout == FaceLandmarks.LAYOUT_MEDIAPIPE_478:
                points, _ = face_layout.to_face_frame(observation.mesh_px,
                                                      range(face_layout.MESH_POINT_COUNT))
            out.detected = True
            out.confidence = observation.confidence
            out.face_size_px = observation.face_size_px
            out.points = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in points]
        elif observation is not None:
            self.get_logger().warn('no face in the camera frame', throttle_duration_sec=5)
        self.publisher.publish(out)

    def destroy_node(self):
        if hasattr(self, 'observer'):  # absent when a bad parameter stopped __init__
            self.observer.close()
        return super().destroy_node()


def main(args=None):
    spin_node(ObserverNode, args)
