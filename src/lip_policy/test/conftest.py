"""Shared by this package's tests: a tiny synthetic corpus (2 languages, a few short clips)
and the small real models trained on tiny data (lip_policy.testing.small_models)."""

import pytest


@pytest.fixture(scope='session')
def tiny_corpus(tmp_path_factory):
    from lip_policy import synth

    out = tmp_path_factory.mktemp('lip_corpus')
    synth.synthesise(['en', 'de'], clips_per_language=4, sung_per_language=1, seed=3,
                     out_dir=out, progress=False)
    return out


@pytest.fixture(scope='session')
def models(tmp_path_factory):
    from lip_policy.testing.small_models import build_small_models

    return build_small_models(tmp_path_factory.getbasetemp() / 'lip_small_models')


@pytest.fixture(scope='session')
def parts(models):
    """(LipPredictor, LipsToActuators) of the small models."""
    from lip_policy.predictor import LipPredictor
    from lip_policy.retarget import LipsToActuators

    return LipPredictor.load(models.lip_model), LipsToActuators.load(models.retarget,
                                                                     models.self_model)
