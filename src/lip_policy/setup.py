from setuptools import find_packages, setup

package_name = 'lip_policy'

setup(
    name=package_name,
    version='0.1.0',
    packages=find_packages(exclude=['test']),
    # The teacher's neutral mouth (measured once from the astronaut photo).
    package_data={package_name: ['data/*.npy']},
    data_files=[
        ('share/ament_index/resource_index/packages', ['resource/' + package_name]),
        ('share/' + package_name, ['package.xml']),
    ],
    install_requires=['setuptools'],
    zip_safe=True,
    maintainer='Face team',
    maintainer_email='dev@face-robot.invalid',
    description=(
        'Audio to lip motion: speech and song corpora, the audio-to-lip model, '
        'evaluation, and the streaming policy node.'
    ),
    license='Apache-2.0',
    entry_points={
        'console_scripts': [
            'lip-corpus = lip_policy.cli:corpus_main',
            'lip-train = lip_policy.cli:train_main',
            'lip-eval = lip_policy.cli:eval_main',
            'lip_policy_node = lip_policy.policy_node:main',
            'audio_player_node = lip_policy.audio_player_node:main',
            'lip-e2e-eval = lip_policy.e2e_eval:main',
        ],
    },
)
