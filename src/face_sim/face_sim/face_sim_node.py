"""face_sim_node: the virtual head in a mirror.

Subscribes face/joint_states (sensor_msgs/JointState, the driver's measured positions
[rad]) and publishes what a camera watching the face would see on camera/image_raw
(sensor_msgs/Image, rgb8) at a fixed rate. Each image is stamped with the time the face
looked like that: the stamp of the joint states it renders (the capture time before any
arrived). Actuators the joint states have not mentioned yet rest at neutral.

With `trigger` on it also captures a frame on request, as a machine-vision camera's software
trigger does: a std_msgs/Header on camera/trigger asks for a frame of the face as it is at
or after the header's stamp, rendered from the first joint states stamped then or later
(at once if those have arrived). Babbling asks so once the joints have settled, instead of
waiting up to a frame period for the next free-running frame.
"""

import math

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from rclpy.time import Time
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header

from face_common.parameters import (
    Parameter,
    ParameterError,
    between,
    declare_parameters,
    even_between,
    non_empty,
)
from face_common.qos import TRIGGER_QOS
from face_common.spin import spin_node
from face_motor_driver.face_config import (
    ConfigError,
    default_face_config_path,
    load_face_config,
)
from face_msgs.checks import MessageError, check_time
from face_sim.camera import Nuisances, SimCamera
from face_sim.photo import PhotoError
from face_sim.render import FaceRenderer

POSE_STALE = 0.1  # [s] joint states older than this no longer date the image
WARNED_LIMIT = 100  # kinds of bad input warned about (each once), so memory stays bounded

PARAMETERS = {
    'width': Parameter(480, 'image width [px], even, 64..1920', even_between(64, 1920)),
    'height': Parameter(360, 'image height [px], even, 48..1080', even_between(48, 1080)),
    'rate_hz': Parameter(30.0, 'frame rate [Hz], 1..120', between(1.0, 120.0, 'Hz')),
    'seed': Parameter(0, 'seed of the camera nuisances (head motion phases, noise), >= 0',
                      between(0, 2**63 - 1)),
    'skin_seed': Parameter(0, "seed of the hidden skin's per-head gain variation, >= 0",
                           between(0, 2**63 - 1)),
    'head_motion': Parameter(False, 'add small slow head motion (roll, shift, scale) to the '
                             'image'),
    'lighting': Parameter(False, 'add slow brightness change and a left-right light gradient'),
    'noise': Parameter(False, 'add Gaussian sensor noise'),
    'latency': Parameter(False, 'delay every frame by one frame period'),
    'trigger': Parameter(True, 'also capture a frame when asked on camera/trigger '
                         '(std_msgs/Header: a frame of the face at or after its stamp)'),
    'face_config': Parameter('', "path of face_motors.yaml; '' = the workspace's "
                             'config/face_motors.yaml'),
    'frame_id': Parameter('camera', 'frame_id written into every image header', non_empty()),
}


class FaceSimNode(Node):

    def __init__(self, **kwargs):
        super().__init__('face_sim_node', **kwargs)
        values = declare_parameters(self, PARAMETERS, 'face_sim.yaml')
        config_path = values['face_config'] or default_face_config_path()
        try:
            config = load_face_config(config_path)
        except ConfigError as exc:
            raise ParameterError(f'parameter face_config: {exc}') from exc
        self._known = set(config.names)
        renderer = FaceRenderer(values['width'], values['height'], config, values['skin_seed'])
        nuisances = Nuisances(values['head_motion'], values['lighting'], values['noise'],
                              values['latency'])
        self._camera = SimCamera(renderer, nuisances, values['rate_hz'], values['seed'])
        self._frame_id = values['frame_id']
        self._positions = {}
        self._pose_stamp = None  # stamp of the joint states the face is rendered from
        self._last_stamp = None  # stamp of the last published frame
        self._wanted = None      # requested on camera/trigger: a frame at or after this Time
        self._warned = set()
        self._publisher = self.create_publisher(Image, 'camera/image_raw',
                                                qos_profile_sensor_data)
        # Best effort accepts both best-effort and reliable joint state publishers.
        self.create_subscription(JointState, 'face/joint_states', self._on_joint_states,
                                 qos_profile_sensor_data)
        if values['trigger']:
            self.create_subscription(Header, 'camera/trigger', self._on_trigger,
                                     TRIGGER_QOS)
        self.create_timer(1.0 / values['rate_hz'], self._capture)
        self.get_logger().info(
            f'rendering {values["width"]}x{values["height"]} at {values["rate_hz"]} Hz '
            f'({", ".join(k for k, v in vars(nuisances).items() if v) or "no nuisances"})')

    def _warn_once(self, key, text):
        if key in self._warned:
            return
        if len(self._warned) >= WARNED_LIMIT:  # a publisher inventing names: say so once
            key, text = 'limit', (f'more than {WARNED_LIMIT} kinds of bad joint states; '
                                  'not warning about further ones')
            if key in self._warned:
                return
        self._warned.add(key)
        self.get_logger().warning(text)

    def _on_joint_states(self, msg):
        try:
            check_time(msg.header.stamp, 'JointState header.stamp')
        except MessageError as error:
            self._warn_once('stamp', f'dropped a JointState: {error}')
            return
        if len(msg.position) != len(msg.name):
            self._warn_once('length', f'dropped a JointState with {len(msg.name)} names but '
                            f'{len(msg.position)} positions; they must be parallel arrays')
            return
        for name, position in zip(msg.name, msg.position):
            if name not in self._known:
                self._warn_once(('unknown', name), f'ignoring joint {name!r}: not an actuator '
                                'of config/face_motors.yaml')
            elif not math.isfinite(position):
                # NaN = not measured yet (driver convention): keep the last known position.
                self._warn_once(('nan', name), f'{name} position is {position}; keeping its '
                                'last finite position')
            else:
                self._positions[name] = position
        if msg.header.stamp.sec or msg.header.stamp.nanosec:
            self._pose_stamp = Time.from_msg(msg.header.stamp)
        if self._wanted is not None and self._pose_stamp is not None and \
                self._pose_stamp >= self._wanted:
            self._capture()

    def _on_trigger(self, msg):
        try:
            check_time(msg.stamp, 'camera/trigger stamp')
        except MessageError as error:
            self._warn_once('trigger', f'ignored a frame request: {error}')
            return
        self._wanted = Time.from_msg(msg.stamp)
        if self._pose_stamp is not None and self._pose_stamp >= self._wanted:
            self._capture()

    def _capture(self):
        # The image shows the face as the newest joint states measured it, so it is stamped
        # with their time, as a real camera stamps the moment its exposure saw the face.
        # (Stamped on rendering, a busy machine's delay in delivering joint states and
        # rendering would show as lips lagging the sound, which no real face has.)
        # Joint states older than POSE_STALE stopped coming: the face has held that pose
        # since, so the image shows it now.
        now = self.get_clock().now()
        fresh = self._pose_stamp is not None and \
            (now - self._pose_stamp).nanoseconds < POSE_STALE * 1e9
        stamp = self._pose_stamp if fresh else now
        if self._wanted is not None and stamp >= self._wanted:
            self._wanted = None
        if stamp == self._last_stamp:
            return   # the face of that stamp is out already (asked for, then the timer)
        self._last_stamp = stamp
        stamp = stamp.to_msg()
        frame = self._camera.capture(self._positions)
        msg = Image()
        msg.header.stamp = stamp
        msg.header.frame_id = self._frame_id
        msg.height, msg.width = frame.shape[:2]
        msg.encoding = 'rgb8'
        msg.is_bigendian = 0
        msg.step = msg.width * 3
        msg.data = frame.tobytes()
        self._publisher.publish(msg)


def main(args=None):
    import cv2

    cv2.setNumThreads(1)  # one math thread per node (its own pool ignores OMP_NUM_THREADS)
    # A bad parameter, config or face photo: say which and how to fix it, no traceback.
    spin_node(FaceSimNode, args, (ValueError, PhotoError), name='face_sim_node')


if __name__ == '__main__':
    main()
