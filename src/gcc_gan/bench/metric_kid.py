"""The Kernel Inception Distance: the unbiased MMD² with the cubic polynomial kernel over
random subsets, drawn as torch-fidelity draws them."""

from __future__ import annotations

import numpy as np

from ..console import warn
from ..errors import GccGanError
from .features import SEED

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000


def _poly_mmd2_unbiased(x: np.ndarray, y: np.ndarray) -> float:
    """Unbiased MMD² with k(a, b) = (a·b / d + 1)³."""
    m, d = x.shape
    kxx = (x @ x.T / d + 1.0) ** 3
    kyy = (y @ y.T / d + 1.0) ** 3
    kxy = (x @ y.T / d + 1.0) ** 3
    sxx = kxx.sum() - np.trace(kxx)
    syy = kyy.sum() - np.trace(kyy)
    return float((sxx + syy) / (m * (m - 1)) - 2.0 * kxy.sum() / (m * m))


def kid(fake: np.ndarray, real: np.ndarray, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
        seed: int = SEED) -> tuple[float, float]:
    """Mean and std of the unbiased polynomial-kernel MMD² over random subsets (drawn as
    torch-fidelity draws them). The subset size shrinks to the smaller sample count."""
    fake = np.asarray(fake, dtype=np.float64)
    real = np.asarray(real, dtype=np.float64)
    m = min(subset_size, len(fake), len(real))
    if m < 2:
        raise GccGanError(f"KID needs at least 2 samples on each side, got {len(fake)} generated, {len(real)} real")
    if m < subset_size:
        warn(f"KID subsets of {m} samples (fewer than the usual {subset_size}, reduced to fit the smaller set): "
             "the value is noisier")
    rng = np.random.RandomState(seed)
    vals = np.empty(subsets)
    for i in range(subsets):
        a = fake[rng.choice(len(fake), m, replace=False)]
        b = real[rng.choice(len(real), m, replace=False)]
        vals[i] = _poly_mmd2_unbiased(a, b)
    return float(vals.mean()), float(vals.std())


def kid_subset_size(requested: int, n_fake: int, n_real: int) -> int:
    """The KID subset size `kid` uses: the requested one, reduced to the smaller set."""
    return min(requested, n_fake, n_real)
