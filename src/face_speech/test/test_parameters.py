"""config/face_speech.yaml holds every parameter of speech_node with its built-in default."""

import pathlib

import yaml

from face_common.parameters import check_value
from face_speech.speech_node import PARAMETERS

CONFIG = pathlib.Path(__file__).resolve().parents[3] / 'config' / 'face_speech.yaml'


def test_the_yaml_sets_every_parameter_to_its_default_and_each_passes_its_check():
    values = yaml.safe_load(CONFIG.read_text())['/**/speech']['ros__parameters']
    assert set(values) == set(PARAMETERS)
    for name, parameter in PARAMETERS.items():
        assert values[name] == parameter.default, name
        assert check_value(name, values[name], parameter, CONFIG.name) == parameter.default
        assert len(parameter.description) > 20, name
