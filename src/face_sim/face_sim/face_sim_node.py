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
import sys

import rclpy
from rcl_interfaces.msg import ParameterDescriptor
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy, qos_profile_sensor_data
from rclpy.time import Time
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Header

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
TRIGGER_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE)

PARAMETERS = (
    # name, default, description, check (returns an error message or None)
    ('width', 480, 'image width [px], even, 64..1920',
     lambda v: None if 64 <= v <= 1920 and v % 2 == 0 else 'must be even and in 64..1920'),
    ('height', 360, 'image height [px], even, 48..1080',
     lambda v: None if 48 <= v <= 1080 and v % 2 == 0 else 'must be even and in 48..1080'),
    ('rate_hz', 30.0, 'frame rate [Hz], 1..120',
     lambda v: None if 1.0 <= v <= 120.0 else 'must be in 1..120 Hz'),
    ('seed', 0, 'seed of the camera nuisances (head motion phases, noise), >= 0',
     lambda v: None if v >= 0 else 'must be >= 0'),
    ('skin_seed', 0, "seed of the hidden skin's per-head gain variation, >= 0",
     lambda v: None if v >= 0 else 'must be >= 0'),
    ('head_motion', False, 'add small slow head motion (roll, shift, scale) to the image', None),
    ('lighting', False, 'add slow brightness change and a left-right light gradient', None),
    ('noise', False, 'add Gaussian sensor noise', None),
    ('latency', False, 'delay every frame by one frame period', None),
    ('trigger', True, 'also capture a frame when asked on camera/trigger (std_msgs/Header: '
     'a frame of the face at or after its stamp)', None),
    ('face_config', '', "path of face_motors.yaml; '' = the workspace's config/face_motors.yaml",
     None),
    ('frame_id', 'camera', 'frame_id written into every image header',
     lambda v: None if v else 'must not be empty'),
)


class FaceSimNode(Node):

    def __init__(self, **kwargs):
        super().__init__('face_sim_node', **kwargs)
        values = {}
        for name, default, description, check in PARAMETERS:
            value = self.declare_parameter(
                name, default, ParameterDescriptor(description=description)).value
            problem = check(value) if check else None
            if problem:
                raise ValueError(f'parameter {name}={value!r} {problem} ({description})')
            values[name] = value
        config_path = values['face_config'] or default_face_config_path()
        try:
            config = load_face_config(config_path)
        except ConfigError as exc:
            raise ValueError(f'parameter face_config: {exc}') from exc
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
        if key not in self._warned:
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
    rclpy.init(args=args)
    node = None
    try:
        node = FaceSimNode()
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    except (ValueError, ParameterException, PhotoError) as exc:
        # A bad parameter, config or face photo: say which and how to fix it, no traceback.
        hint = (' (write floating-point parameters with a decimal point, e.g. 30.0)'
                if isinstance(exc, ParameterException) else '')
        print(f'face_sim_node: {exc}{hint}', file=sys.stderr)
        sys.exit(2)
    finally:
        if node is not None:
            node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
