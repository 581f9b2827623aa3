"""Retargeting: human lip motion -> the robot's own reachable lips -> lip actuator positions.

Human lips (from the lip model, face_subset_v1 lip points in the normalised face frame) and
the robot's lips (observed while babbling) live in the same frame and units, but not on the
same mouth: the robot's rest mouth sits elsewhere, its skin moves less (or more) along each
direction, and it cannot make every shape a person can. The mapping, fitted once from
human-corpus statistics and the babbling dataset, is

    d = human - human_rest                    displacement from the closed, relaxed mouth
    c = P d                                   along the robot's own principal lip directions P
                                              (PCA of the babbled lips: what the face CAN move)
    r = robot_rest + gain * c                 from the robot's closed, relaxed mouth, with
                                              per-direction range matching: gain = robot spread /
                                              human spread (2nd..98th percentile) along P
    r = clip(r, lower, upper)                 projection onto what the robot showed it reaches
                                              (1st..99th percentile box of babbled coefficients)
    robot = robot_mean + P^T r                back to 40 lip points

Both rest mouths are found the same way (rest_mouth): the median shape of the frames with
the least inner-lip opening (20 % of speech frames, 2 % of babbled ones), so a human closure
(/p b m/) lands on the robot's closed mouth, not on whatever its neutral pose shows.
Displacement the robot has no direction for is dropped by the projection onto P. Then the
inverse self-model (mirror_calibration.self_model) turns robot lips into lip actuator
positions, which are clamped to the actuator limits once more.

A fitted Retargeting is stored as an .npz (no pickles) with a format tag.
`python -m lip_policy.retarget --corpus DIR --dataset DIR --out FILE` fits one
and prints its figures as one JSON line.
"""

import argparse
import dataclasses
import json
import pathlib
import sys

import numpy as np

from face_common.files import replace_atomically
from face_msgs import face_layout
from lip_policy.lip_space import LIP_POINTS, LipBasis

FORMAT = 'lip_policy.retarget/1'
SPREAD_PERCENTILES = (2.0, 98.0)   # robust range of a coefficient (ignores outliers)
REACH_PERCENTILES = (1.0, 99.0)    # the box the robot is trusted to reach
GAIN_LIMITS = (0.1, 4.0)           # keep a nearly-still direction from exploding
# Share of frames with the least opening whose median shape is the rest mouth: speech closes
# the lips often, random babbling rarely (every lip actuator must press at once).
HUMAN_REST_QUANTILE = 0.2
ROBOT_REST_QUANTILE = 0.02


class RetargetError(ValueError):
    """The retargeting cannot be fitted or loaded; the text says what to do."""


def _flat(lips):
    lips = np.asarray(lips, np.float64)
    if lips.shape[-2:] != (LIP_POINTS, 3):
        raise RetargetError(f'lips must have shape (..., {LIP_POINTS}, 3), got {lips.shape}')
    return lips.reshape(*lips.shape[:-2], LIP_POINTS * 3)


def rest_mouth(lips, quantile=HUMAN_REST_QUANTILE):
    """The relaxed, closed mouth of a set of lip frames (frames, 40, 3): the median shape of
    the given share of frames with the least inner-lip opening (silence, closures)."""
    from lip_policy.metrics import opening

    lips = np.asarray(lips, np.float64)
    gap = opening(lips)
    closed = lips[gap <= np.quantile(gap, quantile)]
    return np.median(closed, axis=0)


@dataclasses.dataclass
class Retargeting:
    human_rest: np.ndarray   # (120,) human rest mouth, flattened lip points [eye spans]
    robot_mean: np.ndarray   # (120,) mean babbled lips
    components: np.ndarray   # (K, 120) robot principal lip directions, orthonormal rows
    robot_rest: np.ndarray   # (K,) robot rest mouth in those directions
    gain: np.ndarray         # (K,) robot spread / human spread per direction
    lower: np.ndarray        # (K,) reachable box, lower corner
    upper: np.ndarray        # (K,) reachable box, upper corner

    @classmethod
    def fit(cls, human_lips, robot_lips, n_directions=8):
        """human_lips (N, 40, 3) from a corpus; robot_lips (M, 40, 3) babbled."""
        human = _flat(human_lips)
        robot = _flat(robot_lips)
        human = human[np.isfinite(human).all(axis=1)]
        robot = robot[np.isfinite(robot).all(axis=1)]
        if len(human) < 20 or len(robot) < 20:
            raise RetargetError(f'retargeting needs at least 20 finite human and robot lip '
                                f'frames, got {len(human)} and {len(robot)}; use a larger '
                                'corpus or babble longer')
        n_directions = min(n_directions, len(robot) - 1, LIP_POINTS * 3)
        basis = LipBasis.fit(robot.reshape(-1, LIP_POINTS, 3), n_directions)
        human_rest = _flat(rest_mouth(human.reshape(-1, LIP_POINTS, 3)))
        robot_rest = basis.encode(rest_mouth(robot.reshape(-1, LIP_POINTS, 3),
                                             ROBOT_REST_QUANTILE))

        human_c = (human - human_rest) @ basis.components.T  # (N, K) displacement along P
        robot_c = basis.encode(robot.reshape(-1, LIP_POINTS, 3))  # (M, K)
        lo, hi = SPREAD_PERCENTILES
        human_spread = np.percentile(human_c, hi, axis=0) - np.percentile(human_c, lo, axis=0)
        robot_spread = np.percentile(robot_c, hi, axis=0) - np.percentile(robot_c, lo, axis=0)
        gain = np.clip(robot_spread / np.maximum(human_spread, 1e-9), *GAIN_LIMITS)
        lower = np.percentile(robot_c, REACH_PERCENTILES[0], axis=0)
        upper = np.percentile(robot_c, REACH_PERCENTILES[1], axis=0)
        return cls(human_rest, basis.mean, basis.components, robot_rest, gain, lower, upper)

    def robot_coefficients(self, human_lips):
        """(..., 40, 3) human lips -> (..., K) robot coefficients, inside the reachable box."""
        c = (_flat(human_lips) - self.human_rest) @ self.components.T
        return np.clip(self.robot_rest + self.gain * c, self.lower, self.upper)

    def robot_lips(self, coefficients):
        """(..., K) robot coefficients -> (..., 40, 3) robot lips."""
        flat = coefficients @ self.components + self.robot_mean
        return flat.reshape(*flat.shape[:-1], LIP_POINTS, 3)

    def __call__(self, human_lips):
        """(..., 40, 3) human lips -> (..., 40, 3) robot lips the robot can show."""
        return self.robot_lips(self.robot_coefficients(human_lips))

    def save(self, path):
        path = pathlib.Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with replace_atomically(path) as out:   # a crash keeps the previous file whole
            np.savez(out, format=np.array(FORMAT),
                     **{f.name: getattr(self, f.name) for f in dataclasses.fields(self)})

    @classmethod
    def load(cls, path):
        path = pathlib.Path(path)
        if not path.is_file():
            raise RetargetError(f'retargeting file {path} does not exist; fit one with '
                                '`python -m lip_policy.retarget --corpus DIR --dataset DIR '
                                '--out FILE`')
        try:
            with np.load(path, allow_pickle=False) as data:
                fmt = str(data['format'])
                arrays = {f.name: np.asarray(data[f.name], np.float64)
                          for f in dataclasses.fields(cls)}
        except Exception as error:  # zip, key and value errors of a damaged file
            raise RetargetError(f'{path} is not a readable retargeting file ({error}); '
                                're-fit it with python -m lip_policy.retarget') from error
        if fmt != FORMAT:
            raise RetargetError(f'{path} is a {fmt!r} file, not {FORMAT}; re-fit it')
        k = len(arrays['gain'])
        shapes = {'human_rest': (120,), 'robot_mean': (120,), 'components': (k, 120),
                  'robot_rest': (k,), 'lower': (k,), 'upper': (k,)}
        for name, shape in shapes.items():
            if arrays[name].shape != shape:
                raise RetargetError(f'{path}: {name} has shape {arrays[name].shape}, expected '
                                    f'{shape}; the file is damaged, re-fit it')
        if not all(np.isfinite(a).all() for a in arrays.values()):
            raise RetargetError(f'{path} holds non-finite values; re-fit it')
        return cls(**arrays)


class _FoldedInverse:
    """The self-model's inverse network in unit form, (n, 40, 3) robot lips -> (n, L) in
    [-1, 1] across the lip actuators' limits (SelfModel.inverse before its last mapping),
    with the lips' standardisation folded into the first layer: fewer tensor operations for
    the same numbers up to float rounding."""

    def __init__(self, self_model):
        import torch

        layers = list(self_model.inverse_net)
        lips = self_model._lip_slice()
        mean = self_model.landmark_mean[lips].flatten()
        std = self_model.landmark_std[lips].flatten()
        with torch.no_grad():
            first = layers[0]
            self._layers = [((first.weight / std).T.contiguous(),
                             first.bias - (first.weight / std) @ mean)]
            self._layers += [(x.weight.T.contiguous(), x.bias.clone()) for x in layers[2::2]]
        self._torch = torch

    def __call__(self, lips):
        torch = self._torch
        hidden = lips.flatten(1)
        for weight_t, bias in self._layers[:-1]:
            hidden = torch.nn.functional.silu(torch.addmm(bias, hidden, weight_t))
        weight_t, bias = self._layers[-1]
        return torch.tanh(torch.addmm(bias, hidden, weight_t))


class LipsToActuators:
    """Human lips -> lip actuator positions [rad]: retargeting, then the inverse self-model.

    The inverse network's answer is refined by refine_steps damped Gauss-Newton
    (Levenberg-Marquardt with a fixed damping) steps on the actuator positions, kept inside
    their limits through a tanh, that bring the forward model's lips closer to the target;
    the self-model's Jacobian is taken once, at the network's answer, and reused by every
    step (a chord method: a step then costs one forward pass, not a linearisation):
    the inverse network averages, and shapes at the edge of what the face can do, such as
    lips pressed shut for /p b m/, are where averaging hurts most.
    The refinement's error is the standardised distance of all 40 lip points plus GAP_WEIGHT
    times the squared error of each of the 9 vertical gaps along the inner lip contour
    (face_layout.INNER_LIP_PAIRS, in units of their typical spread): where the lips part or
    touch is what a viewer reads first, and the point distance alone trades it away for
    small errors everywhere else.
    names are the lip actuators in the self-model's order; neutral their rest positions.
    """

    # Measured through the forward model against the teacher on six held-out languages
    # (nl sv pl tr ro sk, one sentence each, the policy's smoothing and pacing; without
    # pacing in brackets): 5 Adam steps with GAP_WEIGHT 3 gave mouth-opening r 0.886
    # (0.896), bilabial closure recall 0.29-0.58 (0.71-1.0), lip error 0.057 (0.055);
    # 2 Gauss-Newton steps with GAP_WEIGHT 300 and DAMPING 30 give r 0.904 (0.910), recall
    # 0.29-0.86 (0.70-1.0), lip error 0.056 (0.055). With GAP_WEIGHT 3 the Gauss-Newton
    # steps fitted the points better (lip error 0.051) and closed the lips less (recall
    # 0.10-0.57): a closure is a small part of the error unless the gaps weigh that much
    # more. Weights 100 and 1000 and damping 10-100 were measured too; 1 step closed fewer
    # /p b m/ (recall from 0.14) or fitted the points worse (lip error 0.059). Time per
    # 10 ms frame in lip_policy_node (bench/policy_latency.py, run alternately with the 5
    # Adam steps on this shared 2-core AMD EPYC at load 5-8): 1.7-2.5 ms against 2.8-3.7
    # ms, 0.59-0.73 of it, with the lip model's FrozenLipModel; the target is 2 ms.
    # The chord method (the Jacobian of the first guess for every step), measured offline
    # through the forward model on six sentences in training languages (en en de fr es it)
    # against the teacher: 2 Gauss-Newton steps r 0.920, bilabial closure recall 0.29, lip
    # error 0.073, 1.05 ms per call of two frames; 2 chord steps 0.913, 0.35, 0.075,
    # 0.57 ms; 3 chord steps 0.916, 0.35, 0.074, 0.72 ms.
    DEFAULT_REFINE_STEPS = 3
    GAP_WEIGHT = 300.0
    DAMPING = 30.0  # added to J^T J's diagonal, J with respect to the tanh-unbounded values
    _GAPS = np.array(face_layout.INNER_LIP_PAIRS) - face_layout.LIPS.start  # (9, 2) lip points

    def __init__(self, retargeting, self_model, actuator_names,
                 refine_steps=DEFAULT_REFINE_STEPS):
        import torch

        from lip_policy.predictor import follow_torch_threads
        from mirror_calibration.self_model import LipResponse

        self._torch = torch
        self._follow_torch_threads = follow_torch_threads
        self.retargeting = retargeting
        self.model = self_model
        self.refine_steps = int(refine_steps)
        index = [int(i) for i in self_model.lip_index]
        self.names = tuple(actuator_names[i] for i in index)
        # The self-model keeps the limits in float32, up to half a float32 step beyond the
        # configured (float64) ones (-0.3 is -0.30000001192): one step inwards, every
        # position is inside the configured limits, as the driver and the tests hold them.
        lower32 = self_model.lower[self_model.lip_index].numpy()
        upper32 = self_model.upper[self_model.lip_index].numpy()
        self.lower = np.nextafter(lower32, upper32).astype(np.float64)
        self.upper = np.nextafter(upper32, lower32).astype(np.float64)
        self.neutral = self_model.neutral[self_model.lip_index].double().numpy()
        lower, upper = (self_model.lower[self_model.lip_index],
                        self_model.upper[self_model.lip_index])
        self._centre, self._half = (upper + lower) / 2, (upper - lower) / 2
        self._inverse = _FoldedInverse(self_model)
        # The error as one sum of squares: the standardised lips stacked with the inner-lip
        # gaps [typical spreads] times sqrt(GAP_WEIGHT), a linear readout of the lips that
        # the self-model's LipResponse folds into its last layer.
        upper_lip, lower_lip = self._GAPS[:, 0].tolist(), self._GAPS[:, 1].tolist()
        lip_std = self_model.lips_of(self_model.landmark_std[None])[0]  # (40, 3)
        spread = lip_std[upper_lip + lower_lip, 1].mean()
        gaps = torch.zeros(len(self._GAPS), LIP_POINTS * 3)
        rows = torch.arange(len(self._GAPS))
        gaps[rows, self._GAPS[:, 0] * 3 + 1] = lip_std[upper_lip, 1] / spread
        gaps[rows, self._GAPS[:, 1] * 3 + 1] = -lip_std[lower_lip, 1] / spread
        readout = torch.cat([torch.eye(LIP_POINTS * 3), self.GAP_WEIGHT ** 0.5 * gaps])
        self._response = LipResponse(self_model, readout)
        self._damping = self.DAMPING * torch.eye(len(index))
        self._one = torch.ones(1)
        # torch's first calls are slow: pay them here, not on the first chunk of speech.
        self.robot_lips_to_actuators(
            self_model.lips_of(self_model(self_model.neutral[None])).detach().numpy())

    @classmethod
    def load(cls, retarget_path, self_model_path, refine_steps=None):
        from mirror_calibration.self_model import load_checkpoint

        model, checkpoint = load_checkpoint(self_model_path)
        return cls(Retargeting.load(retarget_path), model, checkpoint['actuator_names'],
                   cls.DEFAULT_REFINE_STEPS if refine_steps is None else refine_steps)

    def error(self, target, positions):
        """(n,) the refinement's error of positions (n, L) for robot lips target (n, 40, 3),
        both torch tensors."""
        torch = self._torch
        with torch.inference_mode():
            unit = (positions - self._centre) / self._half
            miss = self._response.miss(unit, self._response.offset(target))
            return torch.linalg.vecdot(miss, miss)

    def refine(self, target, positions, steps=None):
        """Better positions (n, L) for robot lips target (n, 40, 3) from a first guess (both
        torch tensors): `steps` (default refine_steps) damped Gauss-Newton steps on the error
        of the class docstring, each frame keeping the best positions it passed through
        (never worse than the guess)."""
        with self._torch.inference_mode():
            unit = self._refine_unit(target, (positions - self._centre) / self._half,
                                     self.refine_steps if steps is None else steps)
            return self._torch.addcmul(self._centre, unit, self._half)

    def _refine_unit(self, target, unit, steps):
        """refine() on positions in unit form (n, L), the limits at -1 and 1.

        The positions move as tanh of free values (so no step can leave the limits). Each
        step solves (J^T J + DAMPING I) step = -J^T miss for every frame, an L x L system,
        with J the Jacobian of the miss (the error's residuals, from the self-model's
        LipResponse) with respect to the free values. The self-model's part of J is the one
        at the first guess for every step; only the tanh's slope is taken afresh.
        """
        if steps <= 0:
            return unit
        torch = self._torch
        response = self._response
        offset = response.offset(target)
        inside = unit.clamp(-0.999, 0.999)  # tanh(free) of the free values below
        free = torch.atanh(inside)  # (n, L) unbounded
        best, best_error = unit, None  # the guess is scored as it is
        miss, response_jacobian = response.linearise(unit, offset)
        for step in range(steps + 1):
            if step:
                miss = response.miss(unit, offset)
            error = torch.linalg.vecdot(miss, miss)
            if best_error is None:
                best_error = error
            else:
                better = error < best_error
                best = torch.where(better[:, None], unit, best)
                if step == steps:
                    return best
                best_error = torch.minimum(error, best_error)
            # through the tanh: d unit / d free = 1 - tanh(free)^2
            slope = torch.addcmul(self._one, inside, inside, value=-1)
            jacobian = response_jacobian * slope[:, :, None]  # (n, L, R)
            normal = torch.baddbmm(self._damping, jacobian, jacobian.mT)
            free = free - torch.linalg.solve_ex(
                normal, torch.linalg.vecdot(jacobian, miss[:, None]))[0]
            unit = inside = torch.tanh(free)

    def robot_lips_to_actuators(self, robot_lips, refine_steps=None):
        """(n, 40, 3) robot lips -> (n, L) positions within the actuator limits; refine_steps
        overrides self.refine_steps for this call (0: the inverse network alone)."""
        self._follow_torch_threads()
        torch = self._torch
        target = torch.as_tensor(np.asarray(robot_lips), dtype=torch.float32)
        steps = self.refine_steps if refine_steps is None else int(refine_steps)
        with torch.inference_mode():
            unit = self._inverse(target)
            if len(target):
                unit = self._refine_unit(target, unit, steps)
            positions = torch.addcmul(self._centre, unit, self._half)
        return np.clip(positions.double().numpy(), self.lower, self.upper)

    def __call__(self, human_lips, refine_steps=None):
        """(n, 40, 3) human lips -> (n, L) lip actuator positions [rad]."""
        return self.robot_lips_to_actuators(self.retargeting(human_lips), refine_steps)


def fit_from_files(corpus_dirs, dataset_dir, n_directions=8, with_human=False):
    """Fit a Retargeting from lip corpora and a babbling dataset (with_human: also return
    the human lip frames it was fitted on)."""
    from face_msgs import face_layout
    from lip_policy import corpus
    from mirror_calibration.dataset import load_dataset

    human = np.concatenate([c.lips[c.valid] for d in corpus_dirs
                            for c in corpus.load_corpus(d)])
    data = load_dataset(dataset_dir)
    seen = data.detected.astype(bool)
    robot = data.landmarks[seen][:, face_layout.LIPS]
    fitted = Retargeting.fit(human, robot, n_directions=n_directions)
    return (fitted, human) if with_human else fitted


def plot_fit(retargeting, human_lips, path):
    """Per robot direction: the reachable box and where the human corpus lands after range
    matching (2nd..98th percentile, before clipping), as a PNG."""
    import matplotlib

    matplotlib.use('Agg')
    from matplotlib import pyplot as plt

    c = (_flat(human_lips) - retargeting.human_rest) @ retargeting.components.T
    mapped = retargeting.robot_rest + retargeting.gain * c
    lo, hi = np.percentile(mapped, SPREAD_PERCENTILES, axis=0)
    k = np.arange(len(retargeting.gain))
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.bar(k - 0.2, retargeting.upper - retargeting.lower, 0.4, bottom=retargeting.lower,
           label='robot reach (babbling, 1..99 %)')
    ax.bar(k + 0.2, hi - lo, 0.4, bottom=lo, label='human corpus, range-matched (2..98 %)')
    ax.plot(k, retargeting.robot_rest, 'k_', markersize=20, label='robot rest')
    for i, g in enumerate(retargeting.gain):
        ax.annotate(f'x{g:.2f}', (i, retargeting.upper[i]), ha='center', va='bottom',
                    fontsize=8)
    ax.set_xlabel('robot lip direction (PCA of babbled lips)')
    ax.set_ylabel('coefficient [eye spans]')
    ax.set_title('Retargeting: human lip motion in the robot\'s reachable lip space')
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(prog='python -m lip_policy.retarget',
                                     description='Fit the human -> robot lip retargeting.')
    parser.add_argument('--corpus', action='append', required=True,
                        help='lip corpus directory (repeatable)')
    parser.add_argument('--dataset', required=True, help='babbling dataset directory')
    parser.add_argument('--out', required=True, help='retargeting file to write (.npz)')
    parser.add_argument('--directions', type=int, default=8,
                        help='robot lip directions kept (default 8)')
    args = parser.parse_args(argv)
    from lip_policy.corpus import CorpusError
    from mirror_calibration.dataset import DatasetError
    try:
        retargeting, human = fit_from_files(args.corpus, args.dataset, args.directions,
                                            with_human=True)
    except (RetargetError, CorpusError, DatasetError) as error:
        print(f'retarget: {error}', file=sys.stderr)
        return 2
    retargeting.save(args.out)
    picture = pathlib.Path(args.out).with_suffix('.png')
    plot_fit(retargeting, human, picture)
    print(json.dumps({'out': args.out, 'plot': str(picture),
                      'directions': len(retargeting.gain), 'human_frames': len(human),
                      'gain': np.round(retargeting.gain, 4).tolist()}))
    return 0


if __name__ == '__main__':
    sys.exit(main())
