from setuptools import find_packages, setup

package_name = 'mirror_calibration'

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
        'Self-observation: camera and landmark observer nodes, motor babbling, and the '
        'learned self-model of the face.'
    ),
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'observer_node = mirror_calibration.observer_node:main',
            'camera_node = mirror_calibration.camera_node:main',
            'mirror-fit = mirror_calibration.fit:main',
            'mirror-babble = mirror_calibration.babble_client:main',
            'mirror-eval = mirror_calibration.evaluate:main',
            'mirror-lag = mirror_calibration.lag:main',
            'calibration_node = mirror_calibration.calibration_node:main',
        ],
    },
)
