"""The face on the simulated head: driver on the emulated bus, face_sim, observer, lip policy.

    ros2 launch launch/face_sim.launch.py [namespace:=head] [audio_topic:=/tts/audio]

No hardware needed; face_sim renders the face from the emulated servos' positions.
`face-bringup face_sim` starts the same nodes where ros2 launch is not installed.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node

from face_common.workspace import config_dir as workspace_config_dir

# $FACE_CONFIG_DIR, else share/face_bringup/config through the ament index (colcon install),
# else the source tree's config/ (the editable .venv): face_common.workspace, as face-bringup.
CONFIG_DIR = str(workspace_config_dir())
# One math thread per node (as face-bringup starts them: face_common.node_processes), so
# no node's numpy or torch fights the others for every core. The driver and the lip policy
# raise their own CPU priority (their `scheduling` parameter in config/).
ONE_MATH_THREAD = {'OMP_NUM_THREADS': '1', 'OPENBLAS_NUM_THREADS': '1', 'MKL_NUM_THREADS': '1'}


def generate_launch_description():
    namespace = LaunchConfiguration('namespace')
    config_dir = LaunchConfiguration('config_dir')
    return LaunchDescription([
        DeclareLaunchArgument('namespace', default_value='',
                              description='namespace for every node and topic of the face'),
        DeclareLaunchArgument('config_dir', default_value=CONFIG_DIR,
                              description='folder with the config/*.yaml parameter files'),
        DeclareLaunchArgument('lip_model', default_value='',
                              description='lip model checkpoint; empty = models/lip_model.pt'),
        DeclareLaunchArgument('self_model', default_value='',
                              description='self-model checkpoint; empty = the default one'),
        DeclareLaunchArgument('audio_topic', default_value='audio',
                              description='topic the speech stack publishes AudioChunk on'),
        Node(package='face_motor_driver', executable='face_motor_driver_node',
             namespace=namespace, output='screen', additional_env=ONE_MATH_THREAD,
             parameters=[PathJoinSubstitution([config_dir, 'face_motor_driver.yaml']),
                         {'port': 'sim'}]),
        Node(package='face_sim', executable='face_sim_node',
             namespace=namespace, output='screen', additional_env=ONE_MATH_THREAD,
             parameters=[PathJoinSubstitution([config_dir, 'face_sim.yaml'])]),
        Node(package='mirror_calibration', executable='observer_node',
             namespace=namespace, output='screen', additional_env=ONE_MATH_THREAD,
             parameters=[PathJoinSubstitution([config_dir, 'mirror_calibration.yaml'])]),
        Node(package='lip_policy', executable='lip_policy_node',
             namespace=namespace, output='screen', additional_env=ONE_MATH_THREAD,
             parameters=[PathJoinSubstitution([config_dir, 'lip_policy.yaml']),
                         {'lip_model': LaunchConfiguration('lip_model'),
                          'self_model': LaunchConfiguration('self_model')}],
             remappings=[('audio', LaunchConfiguration('audio_topic'))]),
    ])
