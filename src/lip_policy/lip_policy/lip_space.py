"""The lip landmark space models predict in: a PCA basis of the 40 lip points.

Points are face_subset_v1 lip points in the normalised face frame (head pose removed,
face size = eye span). The basis is fitted on training frames and stored with the model,
so a model's coefficients always decode with the basis it was trained with.
"""

import dataclasses

import numpy as np

LIP_POINTS = 40


@dataclasses.dataclass
class LipBasis:
    mean: np.ndarray  # (120,) mean lip shape, flattened (40, 3)
    components: np.ndarray  # (coefficients, 120) orthonormal rows

    @classmethod
    def fit(cls, lips, n_coefficients):
        """lips: (frames, 40, 3) valid frames -> basis of the top n principal directions."""
        flat = np.asarray(lips, np.float64).reshape(len(lips), -1)
        if len(flat) < n_coefficients:
            raise ValueError(f'need at least {n_coefficients} lip frames to fit the lip '
                             f'basis, got {len(flat)}')
        mean = flat.mean(axis=0)
        _, _, vt = np.linalg.svd(flat - mean, full_matrices=False)
        return cls(mean, vt[:n_coefficients])

    def encode(self, lips):
        """(..., 40, 3) -> (..., coefficients)."""
        flat = np.asarray(lips).reshape(*np.shape(lips)[:-2], -1)
        return (flat - self.mean) @ self.components.T

    def decode(self, coefficients):
        """(..., coefficients) -> (..., 40, 3)."""
        flat = np.asarray(coefficients) @ self.components + self.mean
        return flat.reshape(*flat.shape[:-1], LIP_POINTS, 3)
