"""observer_node: camera images -> face_msgs/FaceLandmarks on /face/landmarks.

Every image gives exactly one FaceLandmarks with the image's stamp and frame, so a frame
without a face (or an image that cannot be decoded) shows up as detected=false rather than
as a silent gap.
"""

from geometry_msgs.msg import Point
from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from face_common.parameters import Parameter, ParameterError, between, declare_parameters, one_of
from face_common.qos import LANDMARK_QOS
from face_common.spin import spin_node
from face_msgs import face_layout
from face_msgs.msg import FaceLandmarks
from mirror_calibration.image_codec import ImageFormatError, image_fields_to_rgb
from mirror_calibration.observer import FaceObserver

LAYOUTS = (FaceLandmarks.LAYOUT_FACE_SUBSET, FaceLandmarks.LAYOUT_MEDIAPIPE_478)

PARAMETERS = {
    'static_images': Parameter(False, 'true: detect the face afresh in every frame (photos, '
                               'shuffled frames); false: track it across a video stream '
                               '(faster)'),
    'min_detection_confidence': Parameter(0.5, 'face detector score needed to accept a new '
                                          'face [0..1]', between(0, 1)),
    'min_tracking_confidence': Parameter(0.5, 'landmark presence score needed to keep '
                                         'tracking a face [0..1]', between(0, 1)),
    'layout': Parameter(FaceLandmarks.LAYOUT_FACE_SUBSET, 'landmarks to publish: '
                        'face_subset_v1 (109 points: lips, jaw, eyes, brows) or '
                        'mediapipe_face_mesh_478 (the full mesh)', one_of(LAYOUTS)),
}


class ObserverNode(Node):

    def __init__(self, **kwargs):
        super().__init__('observer_node', **kwargs)
        p = declare_parameters(self, PARAMETERS, 'mirror_calibration.yaml')
        self.layout = p['layout']
        self.observer = FaceObserver(p['static_images'], p['min_detection_confidence'],
                                     p['min_tracking_confidence'])
        self.frames = 0
        self.faces = 0
        self.publisher = self.create_publisher(FaceLandmarks, 'face/landmarks', LANDMARK_QOS)
        self.create_subscription(Image, 'camera/image_raw', self.on_image,
                                 qos_profile_sensor_data)
        # Said once everything is set up, so a supervisor or test can wait for it.
        mode = 'detecting in every frame' if p['static_images'] else 'tracking'
        self.get_logger().info(f'observer ready: {self.layout}, {mode}')

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
    spin_node(ObserverNode, args, errors=(ParameterError,))
