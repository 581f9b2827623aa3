"""A tiny synthetic corpus (2 languages, a few short clips) shared by this package's tests."""

import pytest


@pytest.fixture(scope='session')
def tiny_corpus(tmp_path_factory):
    from lip_policy import synth

    out = tmp_path_factory.mktemp('lip_corpus')
    synth.synthesise(['en', 'de'], clips_per_language=4, sung_per_language=1, seed=3,
                     out_dir=out, progress=False)
    return out
