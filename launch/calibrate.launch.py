"""Mirror calibration: driver, camera (or the simulated head), observer and calibration_node.

    ros2 launch launch/calibrate.launch.py [use_sim:=true]
    then send a goal to the face/babble action (mirror-babble does it from the shell)

`face-bringup calibrate [--use-sim]` starts the same nodes where ros2 launch is not installed.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition, UnlessCondition
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
    use_sim = LaunchConfiguration('use_sim')
    config_dir = LaunchConfiguration('config_dir')
    return LaunchDescription([
        DeclareLaunchArgument('namespace', default_value='',
                              description='namespace for every node and topic of the face'),
        DeclareLaunchArgument('use_sim', default_value='false',
                              description='true: emulated bus and simulated head, no hardware'),
        DeclareLaunchArgument('config_dir', default_value=CONFIG_DIR,
                              description='folder with the config/*.yaml parameter files'),
        Node(package='face_motor_driver', executable='face_motor_driver_node',
             namespace=namespace, output='screen', additional_env=ONE_MATH_THREAD,
             condition=UnlessCondition(use_sim),
             parameters=[PathJoinSubstitution([config_dir, 'face_motor_driver.yaml']),
                         {'calibration_mode': True}]),
        Node(package='face_motor_driver', executable='face_motor_driver_node',
             namespace=namespace, output='screen', additional_env=ONE_MATH_THREAD,
             condition=IfCondition(use_sim),
             parameters=[PathJoinSubstitution([config_dir, 'face_motor_driver.yaml']),
                         {'port': 'sim', 'calibration_mode': True}]),
        Node(package='mirror_calibration', executable='camera_node',
             namespace=namespace, output='screen', additional_env=ONE_MATH_THREAD,
             condition=UnlessCondition(use_sim),
             parameters=[PathJoinSubstitution([config_dir, 'mirror_calibration.yaml'])]),
        Node(package='face_sim', executable='face_sim_node',
             namespace=namespace, output='screen', additional_env=ONE_MATH_THREAD,
             condition=IfCondition(use_sim),
             parameters=[PathJoinSubstitution([config_dir, 'face_sim.yaml'])]),
        Node(package='mirror_calibration', executable='observer_node',
             namespace=namespace, output='screen', additional_env=ONE_MATH_THREAD,
             parameters=[PathJoinSubstitution([config_dir, 'mirror_calibration.yaml'])]),
        Node(package='mirror_calibration', executable='calibration_node',
             namespace=namespace, output='screen', additional_env=ONE_MATH_THREAD,
             parameters=[PathJoinSubstitution([config_dir, 'mirror_calibration.yaml'])]),
    ])
