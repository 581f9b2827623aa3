"""The far side of test_face_msgs.py, run in its own process.

Publishes one sample of every face_msgs message type, serves both face_msgs services and
the Babble action, and echoes what it received on /peer/echo_command so the test sees
both directions. Sample builders live here so test and peer agree on the field values.
"""

import math
import sys
import threading
import time

import rclpy
from builtin_interfaces.msg import Time
from geometry_msgs.msg import Point
from rclpy.action import ActionServer
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node
from rclpy.qos import QoSDurabilityPolicy, QoSProfile, QoSReliabilityPolicy

from face_msgs.action import Babble
from face_msgs.msg import AudioChunk, FaceCommand, FaceLandmarks
from face_msgs.srv import GoNeutral, SetTorque


def latched_qos():
    """Reliable, transient-local: a late subscriber still gets the last sample."""
    return QoSProfile(depth=1, reliability=QoSReliabilityPolicy.RELIABLE,
                      durability=QoSDurabilityPolicy.TRANSIENT_LOCAL)


def sample_face_command():
    msg = FaceCommand()
    msg.header.stamp = Time(sec=12, nanosec=345)
    msg.header.frame_id = 'face'
    msg.source = FaceCommand.SOURCE_LIP
    msg.priority = 7
    msg.name = ['jaw_open', 'lip_corner_left_raise']
    msg.position = [0.25, -0.125]
    msg.max_velocity = [3.0, 0.0]
    msg.reach_time = Time(sec=12, nanosec=80_000_000)
    return msg


def sample_face_landmarks():
    msg = FaceLandmarks()
    msg.header.stamp = Time(sec=3, nanosec=500)
    msg.header.frame_id = 'camera'
    msg.layout = FaceLandmarks.LAYOUT_FACE_SUBSET
    msg.detected = True
    msg.confidence = 0.875
    msg.points = [Point(x=0.1 * i, y=-0.05 * i, z=0.001 * i) for i in range(109)]
    msg.face_size_px = 61.5
    return msg


def sample_audio_chunk():
    msg = AudioChunk()
    msg.header.stamp = Time(sec=99, nanosec=1)
    msg.sample_rate = 22050
    msg.channels = 2
    msg.encoding = AudioChunk.ENCODING_FLOAT32
    msg.samples_float32 = [math.sin(i / 10.0) * 0.5 for i in range(441 * 2)]
    msg.sequence = 2**40 + 3
    return msg


class Peer(Node):
    def __init__(self):
        super().__init__('face_msgs_peer')
        self.publishers_ = [
            self.create_publisher(FaceCommand, 'peer/face_command', latched_qos()),
            self.create_publisher(FaceLandmarks, 'peer/face_landmarks', latched_qos()),
            self.create_publisher(AudioChunk, 'peer/audio', latched_qos()),
        ]
        for pub, msg in zip(self.publishers_, (sample_face_command(), sample_face_landmarks(),
                                               sample_audio_chunk())):
            pub.publish(msg)
        self.echo = self.create_publisher(FaceCommand, 'peer/echo_command', latched_qos())
        self.create_subscription(FaceCommand, 'peer/command_in', self.echo.publish, 10)
        self.create_service(SetTorque, 'peer/set_torque', self.on_set_torque)
        self.create_service(GoNeutral, 'peer/go_neutral', self.on_go_neutral)
        self.babble = ActionServer(self, Babble, 'peer/babble', self.on_babble)

    def on_set_torque(self, request, response):
        response.success = request.enable
        response.message = f'torque {"on" if request.enable else "off"}'
        return response

    def on_go_neutral(self, request, response):
        response.success = request.duration >= 0.0
        response.message = f'easing over {request.duration:.2f} s'
        return response

    def on_babble(self, goal_handle):
        goal = goal_handle.request
        for done in range(1, goal.sample_count + 1):
            feedback = Babble.Feedback()
            feedback.samples_total = done
            feedback.samples_requested = goal.sample_count
            feedback.progress = done / goal.sample_count
            feedback.eta = float(goal.sample_count - done)
            goal_handle.publish_feedback(feedback)
            time.sleep(0.1)  # paced like real babbling, so feedback discovery completes
        goal_handle.succeed()
        return Babble.Result(success=True, message=f'seed {goal.seed}',
                             dataset_path=goal.dataset_path, samples_written=goal.sample_count,
                             samples_total=goal.sample_count, frames_without_face=1)


def main():
    rclpy.init()
    node = Peer()
    executor = MultiThreadedExecutor()
    executor.add_node(node)
    # The test closes our stdin to ask us to stop.
    threading.Thread(target=lambda: (sys.stdin.read(), executor.shutdown()), daemon=True).start()
    print('ready', flush=True)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
