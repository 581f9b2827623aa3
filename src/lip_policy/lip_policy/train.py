"""Training the audio -> lip model on one or more lip corpora (lip-train).

Data preparation (features, lip-space targets, speaker split) is separate from the loop.
The validation split is by speaker (a voice in the synthetic corpus, a person in video),
so validation measures generalisation to voices the model never heard. The best epoch by
validation loss is kept; training stops after `patience` epochs without improvement or
when the time budget runs out.

Augmentation (TrainConfig.augment, augment.py): before the first epoch every training clip
gets `augment_variants` augmented copies (one random augment.Augmenter chain each: speed,
pitch, formants, fan/babble/music noise at 10-30 dB SNR, reverberation, telephone or laptop
band, mu-law/MP3/Opus, clipping, loudness; the ranges are in augment.py), made in
`augment_workers` processes; in each epoch a clip is heard as one of its copies with
probability `augment_fraction`, else clean. Validation stays clean. With augmentation the
features are level-invariant (FeatureConfig.level 'peak'), so loudness is learnt from the
augmented gains, not from a feature shift.

Seals (TrainConfig.seal_weight, off at 0): a squared-error loss pulls a prediction towards
the mean, so on an unheard voice a /p b m/ comes out as a half-shut mouth. SealPenalty adds,
on every frame where the teacher's lips are sealed (inner-lip gap below
metrics.CLOSED_FRACTION of the mean mouth width), the square of how far the predicted gap
stands open above the teacher's, over the variance of the gap; the gap is linear in the
lip-space coefficients, so the term is exact and cheap. Its other side
(TrainConfig.open_weight, off at 0): on frames where the teacher's lips stand clearly open
(gap at least OPEN_FACTOR x that threshold), the square of how far the predicted gap falls
below OPEN_FACTOR x the threshold, so that sealing /p b m/ does not teach it to shut open
vowels.
"""

import dataclasses
import pathlib
import time

import numpy as np
import torch

from face_common.files import write_json
from face_common.frames import HOP
from face_msgs import face_layout
from lip_policy import corpus, metrics
from lip_policy.features import FeatureConfig, LogMel
from lip_policy.lip_space import LipBasis
from lip_policy.model import LipModel, LipModelConfig
from lip_policy.predictor import save_checkpoint

# Languages the default model never trains on, so lip-eval measures unseen languages:
# five families and four scripts (Germanic, Slavic, Romance, Turkic, Greek, Indo-Aryan,
# Iranian, Semitic, Austroasiatic, Korean).
HELD_OUT_LANGUAGES = ('nl', 'sv', 'pl', 'sk', 'ro', 'tr', 'el', 'hi', 'fa', 'he', 'vi', 'ko')
# Whole festival voices never trained on, so lip-eval measures unseen voices and methods:
# an English diphone voice (English is trained through slt's HTS voice), a child's Czech
# voice (adult Czech voices are trained) and the only Italian festival voice.
HELD_OUT_VOICES = ('ked_diphone', 'czech_krb', 'pc_diphone')


@dataclasses.dataclass
class TrainConfig:
    epochs: int = 40
    batch_clips: int = 16
    learning_rate: float = 2e-3
    lr_decay: float = 0.96  # per epoch
    patience: int = 8  # epochs without validation improvement before stopping
    validation_fraction: float = 0.15  # of speakers
    max_minutes: float = 25.0
    seed: int = 0
    gain_jitter: float = 1.0  # [log power] per-clip level shift; only without `augment`
    augment: bool = False  # augment.py's chain + level-invariant features (lip-train: on)
    augment_variants: int = 1  # augmented copies made per training clip
    augment_fraction: float = 0.6  # chance per epoch that a clip is heard augmented
    augment_workers: int = 2  # processes that make the copies
    seal_weight: float = 0.0  # weight of SealPenalty on sealed frames (0: off)
    open_weight: float = 0.0  # weight of SealPenalty on clearly open frames (0: off)


@dataclasses.dataclass
class Example:
    features: np.ndarray  # (frames + lookahead, mels)
    targets: np.ndarray  # (frames, coefficients)
    mask: np.ndarray  # (frames,) frames with a face
    speaker: str


class TrainingError(ValueError):
    """Training cannot start: not enough data or speakers."""


def split_speakers(clips, fraction, seed):
    """-> (train clips, validation clips), whole speakers on each side."""
    speakers = sorted({c.info.get('speaker', c.id) for c in clips})
    if len(speakers) < 2:
        raise TrainingError('need clips from at least 2 speakers/voices to hold one out for '
                            'validation; add clips or another corpus')
    rng = np.random.default_rng(seed)
    count = min(max(1, round(fraction * len(speakers))), len(speakers) - 1)
    held = set(rng.choice(speakers, size=count, replace=False))
    return ([c for c in clips if c.info.get('speaker', c.id) not in held],
            [c for c in clips if c.info.get('speaker', c.id) in held])


def prepare(clips, log_mel, basis, lookahead_frames):
    examples = []
    for clip in clips:
        frames = min(len(clip.audio) // HOP, len(clip.lips))
        tail = np.zeros(lookahead_frames * HOP)
        feats = log_mel(np.concatenate([clip.audio[:frames * HOP], tail]))
        lips = np.where(clip.valid[:frames, None, None], clip.lips[:frames], basis.mean.reshape(
            40, 3))
        examples.append(Example(feats, basis.encode(lips).astype(np.float32),
                                clip.valid[:frames].copy(), clip.info.get('speaker', '')))
    return examples


_AUGMENT = {}  # the Augmenter and clips of the copies being made (inherited by the workers)


def _augmented_copy(job):
    index, seed = job
    clip = _AUGMENT['clips'][index]
    audio, lips, valid, _ = _AUGMENT['augmenter'].apply(
        clip.audio, clip.lips, clip.valid, np.random.default_rng(seed))
    return index, audio, lips, valid


def augmented_copies(clips, variants, seed, workers=1, progress=True):
    """-> [[augmented copy of clip i (a corpus.Clip)] * variants for each clip]: one random
    augment.Augmenter chain each; babble comes from the clips themselves."""
    import concurrent.futures
    import multiprocessing

    from tqdm import tqdm

    from lip_policy import augment

    _AUGMENT.update(clips=clips, augmenter=augment.Augmenter(
        voices=[c.audio for c in clips[:200]]))
    jobs = [(i, [seed, i, v]) for v in range(variants) for i in range(len(clips))]
    copies = [[] for _ in clips]
    bar = tqdm(total=len(jobs), desc='lip-train augment', unit='clip', disable=not progress)
    try:
        if workers > 1:
            context = multiprocessing.get_context('fork')
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
                results = pool.map(_augmented_copy, jobs, chunksize=8)
                for index, audio, lips, valid in results:
                    copies[index].append(corpus.Clip(clips[index].info, audio, lips, valid))
                    bar.update()
        else:
            for job in jobs:
                index, audio, lips, valid = _augmented_copy(job)
                copies[index].append(corpus.Clip(clips[index].info, audio, lips, valid))
                bar.update()
    finally:
        _AUGMENT.clear()
        bar.close()
    return copies


def batch(examples, lookahead, rng=None, gain_jitter=0.0):
    """Pad examples to one tensor batch: features (B, T+L, M), targets (B, T, C), mask (B, T)."""
    length = max(len(e.targets) for e in examples)
    n_mels, n_coef = examples[0].features.shape[1], examples[0].targets.shape[1]
    feats = np.zeros((len(examples), length + lookahead, n_mels), np.float32)
    targets = np.zeros((len(examples), length, n_coef), np.float32)
    mask = np.zeros((len(examples), length), np.float32)
    for i, e in enumerate(examples):
        shift = rng.uniform(-gain_jitter, gain_jitter) if rng is not None else 0.0
        feats[i, :len(e.features)] = e.features + shift
        feats[i, len(e.features):] = e.features[-1]
        targets[i, :len(e.targets)] = e.targets
        mask[i, :len(e.targets)] = e.mask
    return torch.from_numpy(feats), torch.from_numpy(targets), torch.from_numpy(mask)


def _length_batches(examples, batch_clips, rng):
    """Shuffled batches of similar-length clips, so little compute goes into padding."""
    order = rng.permutation(len(examples))
    pool = batch_clips * 8
    batches = []
    for i in range(0, len(order), pool):
        chunk = sorted(order[i:i + pool], key=lambda j: len(examples[j].targets))
        batches += [chunk[k:k + batch_clips] for k in range(0, len(chunk), batch_clips)]
    return [batches[k] for k in rng.permutation(len(batches))]


OPEN_FACTOR = 2.0  # x the sealed threshold: a gap this wide is clearly open


class SealPenalty:
    """seal_weight * (predicted gap - teacher gap, where it stands open)^2 / var(gap) on the
    frames the teacher seals, plus open_weight * (OPEN_FACTOR x threshold - predicted gap,
    where below)^2 / var(gap) on the frames the teacher holds clearly open; the inner-lip
    gap is face_layout.mouth_opening of the decoded lips, linear in the coefficients."""

    def __init__(self, basis, coefficients, seal_weight, open_weight=0.0):
        """basis: the model's LipBasis; coefficients: (frames, C) training targets (for the
        gap's variance); the weights: TrainConfig.seal_weight and open_weight."""
        first = face_layout.LIPS.start  # lip point i is subset point first + i
        top, bottom = face_layout.INNER_LIP_TOP - first, face_layout.INNER_LIP_BOTTOM - first
        left = face_layout.MOUTH_CORNER_LEFT - first
        right = face_layout.MOUTH_CORNER_RIGHT - first
        components = basis.components.reshape(len(basis.components), -1, 3)
        mean = basis.mean.reshape(-1, 3)
        direction = components[:, top, 1] - components[:, bottom, 1]  # gap: y(top) - y(bottom)
        self.offset = float(mean[top, 1] - mean[bottom, 1])
        self.direction = torch.as_tensor(direction, dtype=torch.float32)
        self.threshold = metrics.CLOSED_FRACTION * float(np.linalg.norm(mean[left] - mean[right]))
        gaps = self.offset + np.asarray(coefficients) @ direction
        variance = max(float(gaps.var()), 1e-12)
        self.seal_scale, self.open_scale = seal_weight / variance, open_weight / variance

    def gap(self, coefficients):
        """(..., coefficients) -> inner-lip gap (...) [face-frame units]."""
        return self.offset + coefficients @ self.direction

    def __call__(self, predicted, targets):
        """(B, T, C) predicted and teacher coefficients -> (B, T) penalty."""
        true, gap = self.gap(targets), self.gap(predicted)
        sealed = (true < self.threshold).float()
        penalty = self.seal_scale * sealed * torch.relu(gap - true) ** 2
        if self.open_scale > 0:
            wide = OPEN_FACTOR * self.threshold
            opened = (true >= wide).float()
            penalty = penalty + self.open_scale * opened * torch.relu(wide - gap) ** 2
        return penalty


def masked_loss(model, feats, targets, mask, weights, seal=None):
    """Mean squared lip-landmark error (coefficients weighted by their scale), plus the
    SealPenalty `seal` when given."""
    lookahead = model.config.lookahead_frames
    out = model.coefficients(model(feats)[:, lookahead:])  # (B, T, C)
    err = ((out - targets) ** 2 * weights).sum(dim=2)  # (B, T)
    if seal is not None:
        err = err + seal(out, targets)
    return (err * mask).sum() / mask.sum().clamp(min=1.0)


def evaluate_loss(model, examples, weights, batch_clips, seal=None):
    model.eval()
    total, count = 0.0, 0.0
    with torch.no_grad():
        for i in range(0, len(examples), batch_clips):
            feats, targets, mask = batch(examples[i:i + batch_clips],
                                         model.config.lookahead_frames)
            total += (float(masked_loss(model, feats, targets, mask, weights, seal))
                      * float(mask.sum()))
            count += float(mask.sum())
    return total / max(count, 1.0)


def train(corpus_dirs, out, model_config=None, train_config=None, exclude_languages=(),
          progress=True, exclude_voices=()):
    """Train on corpora (minus excluded languages and voices); writes the checkpoint, a .json
    summary and a .curve.png training curve next to `out`. Returns the summary dict."""
    from tqdm import tqdm

    model_config = model_config or LipModelConfig()
    tc = train_config or TrainConfig()
    torch.manual_seed(tc.seed)
    rng = np.random.default_rng(tc.seed)
    clips = [c for d in corpus_dirs for c in corpus.load_corpus(
        d, exclude_languages=exclude_languages, exclude_voices=exclude_voices)]
    train_clips, val_clips = split_speakers(clips, tc.validation_fraction, tc.seed)
    frames = np.concatenate([c.lips[c.valid] for c in train_clips])
    basis = LipBasis.fit(frames, model_config.n_coefficients)
    feature_config = FeatureConfig(n_mels=model_config.n_mels,
                                   level='peak' if tc.augment else 'absolute')
    log_mel = LogMel(feature_config)
    lookahead = model_config.lookahead_frames
    train_set = prepare(train_clips, log_mel, basis, lookahead)
    val_set = prepare(val_clips, log_mel, basis, lookahead)
    # variants[i]: the augmented copies of training clip i, as Examples
    variants = [[] for _ in train_set]
    if tc.augment and tc.augment_variants > 0:
        copies = augmented_copies(train_clips, tc.augment_variants, tc.seed,
                                  tc.augment_workers, progress)
        variants = [prepare(c, log_mel, basis, lookahead) for c in copies]
    gain_jitter = 0.0 if tc.augment else tc.gain_jitter

    model = LipModel(model_config)
    all_feats = np.concatenate([e.features for e in train_set])
    all_coef = np.concatenate([e.targets[e.mask] for e in train_set])
    with torch.no_grad():
        model.feature_mean.copy_(torch.from_numpy(all_feats.mean(axis=0)))
        model.feature_std.copy_(torch.from_numpy(all_feats.std(axis=0) + 1e-3))
        model.coefficient_std.copy_(torch.from_numpy(all_coef.std(axis=0) + 1e-6))
    # Coefficients are orthonormal projections, so an unweighted sum of their squared errors
    # is the squared landmark error; normalise by the total variance to keep it near 1.
    weights = 1.0 / float((all_coef.var(axis=0)).sum())
    seal = (SealPenalty(basis, all_coef, tc.seal_weight, tc.open_weight)
            if tc.seal_weight > 0 or tc.open_weight > 0 else None)
    optimiser = torch.optim.Adam(model.parameters(), lr=tc.learning_rate)
    scheduler = torch.optim.lr_scheduler.ExponentialLR(optimiser, gamma=tc.lr_decay)

    history, best, best_state, stale = [], float('inf'), None, 0
    started = time.monotonic()
    bar = tqdm(range(tc.epochs), desc='lip-train', unit='epoch', disable=not progress)
    for epoch in bar:
        model.train()
        losses = []
        heard = [variants[j][rng.integers(len(variants[j]))]
                 if variants[j] and rng.random() < tc.augment_fraction else train_set[j]
                 for j in range(len(train_set))]
        for batch_indices in _length_batches(heard, tc.batch_clips, rng):
            feats, targets, mask = batch([heard[j] for j in batch_indices],
                                         lookahead, rng, gain_jitter)
            loss = masked_loss(model, feats, targets, mask, weights, seal)
            optimiser.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimiser.step()
            losses.append(loss.item())
        scheduler.step()
        val = evaluate_loss(model, val_set, weights, tc.batch_clips, seal)
        history.append({'epoch': epoch, 'train': float(np.mean(losses)), 'validation': val})
        bar.set_postfix(train=f'{np.mean(losses):.4f}', val=f'{val:.4f}')
        if val < best:
            best, stale = val, 0
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        else:
            stale += 1
        if stale >= tc.patience or (time.monotonic() - started) / 60 > tc.max_minutes:
            break
    model.load_state_dict(best_state)
    summary = {
        'corpora': [str(d) for d in corpus_dirs],
        'excluded_languages': sorted(exclude_languages),
        'excluded_voices': sorted(exclude_voices),
        'train_clips': len(train_clips), 'validation_clips': len(val_clips),
        'train_speakers': sorted({c.info.get('speaker', '') for c in train_clips}),
        'validation_speakers': sorted({c.info.get('speaker', '') for c in val_clips}),
        'train_config': dataclasses.asdict(tc),
        'best_validation_loss': best, 'epochs_run': len(history),
        'minutes': round((time.monotonic() - started) / 60, 2),
        'history': history,
    }
    model.eval()
    save_checkpoint(out, model, basis, feature_config, summary)
    out = pathlib.Path(out)
    write_json(out.with_suffix('.json'), summary)
    plot_curve(history, out.with_suffix('.curve.png'))
    return summary


def plot_curve(history, path):
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = [h['epoch'] for h in history]
    ax.plot(epochs, [h['train'] for h in history], label='train')
    ax.plot(epochs, [h['validation'] for h in history], label='validation (held-out voices)')
    ax.set_xlabel('epoch')
    ax.set_ylabel('lip landmark MSE / variance')
    ax.set_yscale('log')
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
