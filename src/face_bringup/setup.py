import glob
import os

from setuptools import find_packages, setup

package_name = 'face_bringup'
# config/, launch/ and the default models stay at the workspace root (one copy for every
# package); installed as this package's share data, found through the ament index
# (face_common.workspace; models/ beside config/ as lip_policy.runtime_models expects).
# Paths relative to this file's folder, where colcon and pip run setup.py.
WORKSPACE = os.path.join('..', '..')

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
        ('share/' + package_name + '/config',
         sorted(glob.glob(os.path.join(WORKSPACE, 'config', '*.yaml')))),
        ('share/' + package_name + '/launch',
         sorted(glob.glob(os.path.join(WORKSPACE, 'launch', '*.launch.py')))),
        ('share/' + package_name + '/models',
         sorted(glob.glob(os.path.join(WORKSPACE, 'models', '*.pt'))
                + glob.glob(os.path.join(WORKSPACE, 'models', '*.npz'))
                + glob.glob(os.path.join(WORKSPACE, 'models', '*.json')))),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='Face team',
    maintainer_email='dev@face-robot.invalid',
    description=(
        'Starts the face node graphs (hardware, simulated head, calibration) from '
        'config/*.yaml, records and replays them.'
    ),
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'face-bringup = face_bringup.bringup:main',
            'face-record = face_bringup.record:main',
            'face-replay-eval = face_bringup.replay_eval:main',
        ],
    },
)
