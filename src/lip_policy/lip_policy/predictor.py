"""Running a trained lip model: checkpoints, whole-clip prediction and streaming.

A checkpoint is a plain dict loadable with torch.load(weights_only=True):

    format      'lip_policy.lip_model/1'
    config      LipModelConfig as a dict
    features    FeatureConfig as a dict
    state_dict  model weights and normalisation buffers
    basis_mean, basis_components   the lip space (LipBasis) as tensors
    training    how it was trained (corpora, held-out languages, seed, losses)

Streaming (for the policy node): `stream = predictor.stream()`, then
`stream.push(samples_16k)` returns the lip-space coefficients (n, coeffs) of every 10 ms
frame that the pushed audio completes (frame k needs audio up to (k + 1 + lookahead) * 10 ms);
`stream.flush()` ends an utterance. `predictor.to_lips(coefficients)` gives (n, 40, 3)
face-frame lip points. Pushing a clip in any chunks gives the same frames as `predict`.
"""

import dataclasses
import pathlib
import threading

import numpy as np
import torch

from face_common.files import replace_atomically
from face_common.frames import FRAME_PERIOD, HOP
from lip_policy.features import FeatureConfig, LogMel
from lip_policy.lip_space import LipBasis
from lip_policy.model import FrozenLipModel, LipModel, LipModelConfig

FORMAT = 'lip_policy.lip_model/1'


def limit_math_threads(threads=1):
    """Run this process's math on `threads` threads: torch's intra-op pool (OpenMP, MKL),
    its inter-op pool, and numpy's BLAS (OpenBLAS, through threadpoolctl).

    The lip policy's work is many small operations on a frame or two, which a second thread
    cannot speed up; on a 2-core machine every extra math thread only competes with the ROS
    threads and the other nodes. torch.set_num_threads alone leaves numpy's OpenBLAS at one
    thread per core. Call it once, early, in every process that runs the models; the
    threads that then run them follow it (follow_torch_threads).
    """
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(threads)
    except RuntimeError:
        pass  # the inter-op pool exists already (set once per process); it stays as it is
    threadpool_limits(limits=threads, user_api='blas')


_thread_state = threading.local()
_blas_limited = False  # numpy's BLAS follows torch's count (once per process)


def follow_torch_threads():
    """Give the calling thread the process's torch thread count for MKL and OpenMP, once,
    and numpy's BLAS the same count, once per process.

    MKL and OpenMP keep their count per thread, and torch.set_num_threads applies it only to
    the thread that calls it: another thread (a node's worker) runs MKL's matrix products on
    every core until torch applies the count to it, and on a frame or two each product then
    pays a fork and join, and an OpenMP thread spins between them. Measured on this 2-core
    machine, the policy pushed from a worker thread used twice the CPU in that thread and as
    much again in the spinning one. numpy's OpenBLAS ignores torch's count altogether: the
    log-mel of a 40-frame batch (a worker catching up) ran on both cores, at twice the CPU
    of one. The model's entry points call this.
    """
    global _blas_limited
    if getattr(_thread_state, 'follows', False):
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    _thread_state.follows = True
    if not _blas_limited:
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=threads, user_api='blas')
        _blas_limited = True


class CheckpointError(ValueError):
    """A lip model checkpoint is missing, corrupt or of another format."""


def save_checkpoint(path, model, basis, feature_config, training):
    path = pathlib.Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    config = dataclasses.asdict(model.config)
    config['dilations'] = list(config['dilations'])
    checkpoint = {
        'format': FORMAT,
        'config': config,
        'features': dataclasses.asdict(feature_config),
        'state_dict': model.state_dict(),
        'basis_mean': torch.as_tensor(basis.mean, dtype=torch.float32),
        'basis_components': torch.as_tensor(basis.components, dtype=torch.float32),
        'training': training,
    }
    with replace_atomically(path) as f:   # a crash keeps the previous model whole
        torch.save(checkpoint, f)


def load_checkpoint(path):
    """-> (LipModel in eval mode, LipBasis, FeatureConfig, training dict)."""
    path = pathlib.Path(path)
    if not path.is_file():
        raise CheckpointError(f'lip model {path} does not exist; train one with lip-train or '
                              'use models/lip_model.pt')
    try:
        data = torch.load(path, map_location='cpu', weights_only=True)
    except Exception as error:  # torch raises many types for truncated/garbage files
        raise CheckpointError(f'lip model {path} is corrupt or not a torch file ({error}); '
                              'retrain it with lip-train') from error
    if not isinstance(data, dict) or data.get('format') != FORMAT:
        raise CheckpointError(f'{path} is not a {FORMAT} checkpoint')
    config = dict(data['config'])
    config['dilations'] = tuple(config['dilations'])
    model = LipModel(LipModelConfig(**config))
    model.load_state_dict(data['state_dict'])
    model.eval()
    basis = LipBasis(data['basis_mean'].double().numpy(),
                     data['basis_components'].double().numpy())
    return model, basis, FeatureConfig(**data['features']), data.get('training', {})


class LipPredictor:
    """Audio (16 kHz) -> lip coefficients / lip points with a trained model."""

    def __init__(self, model, basis, feature_config):
        """model: a trained LipModel; its weights are read here, once (FrozenLipModel)."""
        self.model, self.basis = model, basis
        self.frozen = FrozenLipModel(model)
        self.log_mel = LogMel(feature_config)
        self.lookahead_frames = model.config.lookahead_frames

    @classmethod
    def load(cls, path):
        model, basis, features, _ = load_checkpoint(path)
        return cls(model, basis, features)

    @property
    def latency(self):
        """[s] audio needed after a frame's start before its lips are known."""
        return (1 + self.lookahead_frames) * FRAME_PERIOD

    def predict_coefficients(self, audio):
        """(samples,) -> (samples // HOP, coeffs): a whole clip, look-ahead padded by silence."""
        follow_torch_threads()
        tail = np.zeros(self.lookahead_frames * HOP)
        features = self.log_mel(np.concatenate([np.asarray(audio, np.float64), tail]))
        with torch.inference_mode():
            frozen = self.frozen
            out = frozen.step(torch.from_numpy(features), frozen.initial_state())[0]
        return out.double().numpy()[self.lookahead_frames:]

    def predict(self, audio):
        """(samples,) -> (samples // HOP, 40, 3) lip points."""
        return self.basis.decode(self.predict_coefficients(audio))

    def to_lips(self, coefficients):
        return self.basis.decode(coefficients)

    def stream(self):
        return LipStream(self)


class LipStream:
    """Incremental prediction over one audio stream (see the module docstring)."""

    def __init__(self, predictor):
        self.predictor = predictor
        self.features = predictor.log_mel.stream()
        self.state = predictor.frozen.initial_state()
        self.delay_left = predictor.lookahead_frames  # outputs still before lip frame 0

    def push(self, samples):
        """Audio chunk -> (n, coeffs) coefficients of the lip frames it completes."""
        follow_torch_threads()
        features = self.features.push(samples)
        if len(features) == 0:
            return np.zeros((0, self.predictor.model.config.n_coefficients))
        with torch.inference_mode():
            out, self.state = self.predictor.frozen.step(torch.from_numpy(features), self.state)
            out = out.double().numpy()
        skip = min(self.delay_left, len(out))
        self.delay_left -= skip
        return out[skip:]

    def flush(self):
        """End of utterance: pad the look-ahead with silence, return the last frames."""
        return self.push(np.zeros(self.predictor.lookahead_frames * HOP))
