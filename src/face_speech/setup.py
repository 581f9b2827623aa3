from setuptools import find_packages, setup

package_name = 'face_speech'

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
        'The face\'s voice: the Say action (streaming TTS, files, raw audio) played on the '
        'speaker and published on /audio stamped with playback time; barge-in by cancel.'
    ),
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'speech_node = face_speech.speech_node:main',
            'face-say = face_speech.say_cli:say_main',
            'face-chat = face_speech.say_cli:chat_main',
        ],
    },
)
