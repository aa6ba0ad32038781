"""Precision, recall, density and coverage (Naeem et al. 2020) of Inception features, with
k-nearest-neighbour balls, as the reference `prdc` package computes them."""

from __future__ import annotations

import numpy as np

from ..errors import GccGanError

PRDC_K = 5
PRDC_MAX = 10_000  # samples per side (Naeem et al. 2020 use 10k real and 10k fake)


def _kth_nn_radii(x: np.ndarray, k: int, chunk: int = 1024) -> np.ndarray:
    """Distance of each row of x to its k-th nearest other row (the row itself is the 0th,
    as in the reference `prdc` package), in row chunks so n×n never lives in memory."""
    out = np.empty(len(x))
    for i in range(0, len(x), chunk):
        d = _pairwise(x[i:i + chunk], x)
        out[i:i + chunk] = np.partition(d, k, axis=1)[:, k]
    return out


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances, float64."""
    import scipy.spatial.distance

    return scipy.spatial.distance.cdist(a, b, "euclidean")


def prdc(real: np.ndarray, fake: np.ndarray, k: int = PRDC_K, chunk: int = 1024) -> dict[str, float]:
    """Precision, recall, density and coverage (Naeem et al. 2020) of the fake features
    against the real ones with k-nearest-neighbour balls, as the reference `prdc` package
    computes them (same definitions; distances in float64, in chunks)."""
    real = np.asarray(real, dtype=np.float64)
    fake = np.asarray(fake, dtype=np.float64)
    if min(len(real), len(fake)) <= k:
        raise GccGanError(f"PRDC with k={k} needs more than {k} samples on each side, got {len(fake)} generated, "
                          f"{len(real)} real")
    r_real = _kth_nn_radii(real, k, chunk)
    r_fake = _kth_nn_radii(fake, k, chunk)
    inside = np.zeros(len(fake))  # per fake: how many real balls hold it
    recalled = np.zeros(len(real), dtype=bool)
    covered = np.zeros(len(real), dtype=bool)
    for i in range(0, len(real), chunk):
        d = _pairwise(real[i:i + chunk], fake)  # (chunk of real, fake)
        inside += (d < r_real[i:i + chunk, None]).sum(axis=0)
        recalled[i:i + chunk] = (d < r_fake[None, :]).any(axis=1)
        covered[i:i + chunk] = d.min(axis=1) < r_real[i:i + chunk]
    return {"precision": float((inside > 0).mean()), "recall": float(recalled.mean()),
            "density": float(inside.mean() / k), "coverage": float(covered.mean())}
