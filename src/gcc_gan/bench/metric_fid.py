"""The Fréchet Inception Distance: float64 statistics of the 2048-d pool features and the
Fréchet distance between two Gaussians (torch-fidelity's protocol)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from ..console import warn
from ..errors import GccGanError
from .features import Features

FID_MIN_SAMPLES = 2048  # below this the 2048-d covariance is rank-deficient


@dataclass
class Gaussian:
    mu: np.ndarray  # (D,) float64
    sigma: np.ndarray  # (D, D) float64
    n: int


def statistics(features: np.ndarray) -> Gaussian:
    """Mean and (unbiased) covariance in float64."""
    f = np.asarray(features, dtype=np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise GccGanError(f"FID needs at least 2 samples, got {f.shape[0] if f.ndim == 2 else 0}")
    mu = f.mean(axis=0)
    c = f - mu
    sigma = (c.T @ c) / (f.shape[0] - 1)
    return Gaussian(mu, sigma, int(f.shape[0]))


TraceMethod = Literal["eigh", "eigvals", "sqrtm"]


def trace_sqrt_product(s1: np.ndarray, s2: np.ndarray, method: TraceMethod = "eigh") -> float:
    """tr((s1 s2)^½) for covariance matrices.

    eigh: the symmetric form tr((A s2 A)^½) with A = s1^½ — two symmetric eigensolves
    (fastest, and every eigenvalue is real by construction; tiny negative ones from
    rounding are clipped). eigvals: the eigenvalues of s1 s2 (torch-fidelity's form).
    sqrtm: scipy's matrix square root (pytorch-fid's form; the slow reference)."""
    if method == "eigh":
        w, v = np.linalg.eigh(s1)
        a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
        m = a @ s2 @ a
        ev = np.linalg.eigvalsh((m + m.T) / 2)
        return float(np.sqrt(np.clip(ev, 0.0, None)).sum())
    if method == "eigvals":
        ev = np.linalg.eigvals(s1 @ s2).astype(np.complex128)
        return float(np.sqrt(ev).real.sum())
    if method == "sqrtm":
        import scipy.linalg

        covmean = scipy.linalg.sqrtm(s1 @ s2)
        return float(np.trace(np.real(covmean)))
    raise ValueError(f"unknown method {method!r}")


def frechet_distance(a: Gaussian, b: Gaussian, method: TraceMethod = "eigh") -> float:
    if a.mu.shape != b.mu.shape:
        raise GccGanError(f"cannot compare statistics of {a.mu.shape[0]}-d and {b.mu.shape[0]}-d features")
    d = a.mu - b.mu
    tr = trace_sqrt_product(a.sigma, b.sigma, method)
    return float(d @ d + np.trace(a.sigma) + np.trace(b.sigma) - 2.0 * tr)


def frechet_distance_low_rank(features: np.ndarray, b: Gaussian) -> float:
    """The Fréchet distance of the features' Gaussian to `b` when there are no more samples
    than dimensions. With C the centred features / √(n−1), Σ = CᵀC, and ΣΣ_b has the same
    non-zero eigenvalues as the symmetric n×n matrix C Σ_b Cᵀ: an n×n eigensolve instead of
    d×d ones. Exact, not an approximation."""
    f = np.asarray(features, dtype=np.float64)
    n = f.shape[0]
    if n < 2:
        raise GccGanError(f"FID needs at least 2 samples, got {n}")
    mu = f.mean(axis=0)
    c = (f - mu) / np.sqrt(n - 1)
    m = c @ b.sigma @ c.T
    tr = float(np.sqrt(np.clip(np.linalg.eigvalsh((m + m.T) / 2), 0.0, None)).sum())
    d = mu - b.mu
    return float(d @ d + (c * c).sum() + np.trace(b.sigma) - 2.0 * tr)


def fid(fake: Features | Gaussian, real: Gaussian, method: TraceMethod = "eigh") -> float:
    """FID of generated features (or their statistics) against real statistics, with a
    warning when either side has too few samples for a full-rank covariance."""
    n = len(fake) if isinstance(fake, Features) else fake.n
    if min(n, real.n) < FID_MIN_SAMPLES:
        warn(f"FID from {min(n, real.n)} samples (fewer than {FID_MIN_SAMPLES}): the 2048-d covariance is "
             "rank-deficient, so the value is biased upward and not comparable with published FIDs "
             "(those use 50,000 samples)")
    if isinstance(fake, Features):
        if n <= fake.pool.shape[1] and method == "eigh":
            return frechet_distance_low_rank(fake.pool, real)
        fake = statistics(fake.pool)
    return frechet_distance(fake, real, method)
