from setuptools import find_packages, setup

package_name = 'face_sim'

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
        'The virtual head: renders the face from actuator positions into camera images, a '
        'mirror without hardware.'
    ),
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'face_sim_node = face_sim.face_sim_node:main',
            'face-sim-sweep = face_sim.sweep:main',
        ],
    },
)
