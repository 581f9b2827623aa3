from setuptools import find_packages, setup

package_name = 'face_bringup'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
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
