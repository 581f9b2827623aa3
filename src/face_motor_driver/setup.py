from setuptools import find_packages, setup

package_name = 'face_motor_driver'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml', 'README.md']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='Face team',
    maintainer_email='dev@face-robot.invalid',
    description=(
        'Dynamixel Protocol 2.0 driver for the 26 face actuators, with a bus emulator to '
        'run without hardware.'
    ),
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'face_motor_driver_node = face_motor_driver.driver_node:main',
            'face-bus-emulator = face_motor_driver.emulator:main',
        ],
    },
)
