from setuptools import find_packages, setup

package_name = 'face_common'

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
    description=('The pieces every face package shares: crash-safe files, the parameter '
                 'table and spin_node, node processes and scheduling, QoS, stamps, the lip '
                 'frame, video, the workspace config.'),
    license='Apache-2.0',
)
