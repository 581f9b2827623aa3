"""Streaming equals whole-clip inference; checkpoints describe themselves and fail clearly."""

import json

import numpy as np
import pytest
import torch

from lip_policy.features import FeatureConfig, LogMel
from lip_policy.lip_space import LipBasis
from lip_policy.model import FrozenLipModel, LipModel, LipModelConfig
from lip_policy.predictor import CheckpointError, LipPredictor, load_checkpoint, save_checkpoint


def _predictor(lookahead=6):
    torch.manual_seed(1)
    config = LipModelConfig(lookahead_frames=lookahead, channels=32)
    model = LipModel(config).eval()
    rng = np.random.default_rng(0)
    basis = LipBasis.fit(rng.normal(size=(200, 40, 3)), config.n_coefficients)
    return LipPredictor(model, basis, FeatureConfig())


def _speechlike(seconds=2.3):
    t = np.arange(int(seconds * 16000)) / 16000
    rng = np.random.default_rng(2)
    return (0.3 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 3 * t) > 0)
            + 0.02 * rng.normal(size=t.shape))


def test_log_mel_stream_matches_whole_clip():
    audio = _speechlike()
    log_mel = LogMel()
    whole = log_mel(audio)
    stream = log_mel.stream()
    pieces = [stream.push(audio[i:i + 999]) for i in range(0, len(audio), 999)]
    assert whole.shape == (len(audio) // 160, 40)
    np.testing.assert_allclose(np.concatenate(pieces), whole, atol=1e-4)


@pytest.mark.parametrize('lookahead', [0, 6])
def test_chunked_inference_equals_whole_clip(lookahead):
    predictor = _predictor(lookahead)
    audio = _speechlike()
    whole = predictor.predict_coefficients(audio)
    stream = predictor.stream()
    rng = np.random.default_rng(5)
    pieces, i = [], 0
    while i < len(audio):
        n = int(rng.integers(1, 2500))  # chunks shorter and longer than a 10 ms hop
        pieces.append(stream.push(audio[i:i + n]))
        i += n
    pieces.append(stream.flush())
    chunked = np.concatenate(pieces)
    assert chunked.shape == whole.shape == (len(audio) // 160, 12)
    np.testing.assert_allclose(chunked, whole, atol=1e-4)


def test_frozen_model_computes_what_the_model_does():
    """FrozenLipModel (folded weights, shifted residual stream) gives the LipModel's lip
    coefficients, whole and in chunks of one or two frames."""
    torch.manual_seed(4)
    model = LipModel(LipModelConfig(channels=32)).eval()
    with torch.no_grad():  # statistics and biases away from their defaults
        model.feature_mean.normal_()
        model.feature_std.uniform_(0.5, 2.0)
        model.coefficient_std.uniform_(0.5, 2.0)
        for block in model.blocks:
            block.mix.bias.normal_(std=0.3)
    frozen = FrozenLipModel(model)
    features = torch.randn(120, model.config.n_mels) * 2
    with torch.inference_mode():
        expected = model.coefficients(model(features[None])[0])
        whole = frozen.step(features, frozen.initial_state())[0]
        state, pieces, i = frozen.initial_state(), [], 0
        while i < len(features):
            out, state = frozen.step(features[i:i + 1 + i % 2], state)
            pieces.append(out)
            i += 1 + i % 2
    scale = float(expected.abs().max())
    torch.testing.assert_close(whole, expected, atol=1e-5 * scale, rtol=1e-4)
    torch.testing.assert_close(torch.cat(pieces), expected, atol=1e-5 * scale, rtol=1e-4)


def test_model_is_causal_up_to_its_lookahead():
    predictor = _predictor(6)
    audio = _speechlike()
    changed = audio.copy()
    changed[16000:] += 0.5  # alter everything from 1.0 s on
    a, b = predictor.predict_coefficients(audio), predictor.predict_coefficients(changed)
    # Frame k hears audio up to (k + 1 + 6) * 10 ms, so frames before 93 cannot change.
    np.testing.assert_allclose(a[:93], b[:93], atol=1e-6)
    assert np.abs(a[95:] - b[95:]).max() > 1e-3


def test_checkpoint_round_trip_and_bad_files(tmp_path):
    predictor = _predictor()
    path = tmp_path / 'lip.pt'
    save_checkpoint(path, predictor.model, predictor.basis, FeatureConfig(), {'seed': 0})
    model, basis, features, training = load_checkpoint(path)
    assert model.config.lookahead_frames == 6 and training == {'seed': 0}
    audio = _speechlike(0.7)
    np.testing.assert_allclose(LipPredictor.load(path).predict(audio), predictor.predict(audio),
                               atol=1e-5)
    with pytest.raises(CheckpointError, match='does not exist'):
        load_checkpoint(tmp_path / 'missing.pt')
    (tmp_path / 'bad.pt').write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match='corrupt'):
        load_checkpoint(tmp_path / 'bad.pt')
    torch.save({'format': 'something else'}, tmp_path / 'other.pt')
    with pytest.raises(CheckpointError, match='not a lip_policy'):
        load_checkpoint(tmp_path / 'other.pt')


def test_limit_math_threads_leaves_one_thread_to_torch_and_numpy():
    """In a fresh process (the pools are per process): torch's intra- and inter-op pools and
    numpy's BLAS all end at one thread, and a second call is harmless."""
    import subprocess
    import sys

    code = ('import json, torch\n'
            'from threadpoolctl import threadpool_info\n'
            'from lip_policy.predictor import limit_math_threads\n'
            'limit_math_threads(1)\n'
            'limit_math_threads(1)\n'
            'print(json.dumps([torch.get_num_threads(), torch.get_num_interop_threads(),\n'
            '                  [i["num_threads"] for i in threadpool_info()\n'
            '                   if i["user_api"] == "blas"]]))\n')
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=120, check=True)
    intra, inter, blas = json.loads(done.stdout.strip().splitlines()[-1])
    assert (intra, inter) == (1, 1) and blas and set(blas) == {1}


def test_a_worker_thread_streams_on_the_process_thread_count(tmp_path):
    """A node's worker thread runs the model with the count the main thread set: OpenMP's
    (and with it MKL's) count is per thread, and without follow_torch_threads a new thread
    ran every small product on all cores, with a second thread spinning; numpy's BLAS
    follows the same count."""
    import subprocess
    import sys

    predictor = _predictor()
    path = tmp_path / 'lip.pt'
    save_checkpoint(path, predictor.model, predictor.basis, FeatureConfig(), {})
    code = ('import json, threading, time, numpy as np, torch\n'
            'from threadpoolctl import threadpool_info\n'
            'from lip_policy.predictor import LipPredictor, LipStream\n'
            'torch.set_num_threads(1)\n'
            f'predictor = LipPredictor.load({str(path)!r})\n'
            'audio = np.random.default_rng(0).normal(size=64000) * 0.1\n'
            'out = {}\n'
            'def work():\n'
            '    stream = LipStream(predictor)\n'
            '    stream.push(audio[:320])\n'
            '    out["omp"] = [i["num_threads"] for i in threadpool_info()\n'
            '                  if i["internal_api"] == "openmp"]\n'
            '    out["blas"] = [i["num_threads"] for i in threadpool_info()\n'
            '                   if i["user_api"] == "blas"]\n'
            '    cpu, own = time.process_time(), time.thread_time()\n'
            '    for start in range(320, len(audio), 320):\n'
            '        stream.push(audio[start:start + 320])\n'
            '    out["cpu"] = (time.process_time() - cpu) / (time.thread_time() - own)\n'
            'worker = threading.Thread(target=work)\n'
            'worker.start()\n'
            'worker.join()\n'
            'print(json.dumps(out))\n')
    done = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                          timeout=300, check=True)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert set(out['omp']) <= {1} and set(out['blas']) == {1}
    assert out['cpu'] < 1.3  # the process's CPU is the worker's own, no spinning thread
