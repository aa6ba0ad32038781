"""IS, FID and KID from Inception features, and feature extraction from a generator.

The numbers follow torch-fidelity's protocol: IS from the bias-free 1008 logits over 10
splits with the samples shuffled by a fixed seed; FID from float64 statistics of the 2048-d
pool features; KID as the unbiased MMD² with the cubic polynomial kernel over random
subsets. Generated images go [-1, 1] -> uint8 as the AutoGAN / AdversarialNAS evaluation
code does (`x * 127.5 + 127.5`, clamped, truncated), then through torch-fidelity's
TF-compatible resize inside the extractor.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Iterator, Literal

import numpy as np
import torch
from torch import Tensor, nn

from ..console import progress as phase
from ..console import stderr_console
from ..errors import GccGanError
from .inception import Inception

FID_MIN_SAMPLES = 2048  # below this the 2048-d covariance is rank-deficient
IS_SPLITS = 10
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
SEED = 2020  # torch-fidelity's default rng seed, so the same seed gives the same numbers

_ONCE: set[str] | None = None


@contextlib.contextmanager
def warnings_once() -> Iterator[None]:
    """Inside: each distinct warning is printed once (repeats of a measurement)."""
    global _ONCE
    before, _ONCE = _ONCE, set()
    try:
        yield
    finally:
        _ONCE = before


def warn(message: str) -> None:
    """A visible warning on stderr (not an error: the run goes on)."""
    if _ONCE is not None:
        if message in _ONCE:
            return
        _ONCE.add(message)
    stderr_console().print(f"[bold yellow]warning:[/bold yellow] {message}", highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------- features


@dataclass
class Features:
    pool: np.ndarray  # (N, 2048) float32
    logits: np.ndarray  # (N, 1008) float32, bias-free (torch-fidelity's 'logits_unbiased')

    def __len__(self) -> int:
        return int(self.pool.shape[0])


def to_uint8(images: Tensor) -> Tensor:
    """[-1, 1] float images -> uint8 RGB, as the papers' evaluation code converts them."""
    if images.dim() != 4:
        raise GccGanError(f"expected images (N, C, H, W), got shape {tuple(images.shape)}")
    if images.shape[1] == 1:
        images = images.expand(-1, 3, -1, -1)
    elif images.shape[1] != 3:
        raise GccGanError(f"IS / FID / KID need RGB (or grayscale) images, the generator makes {images.shape[1]} "
                          "channels")
    return images.mul(127.5).add_(127.5).clamp_(0.0, 255.0).to(torch.uint8)


def extract(inception: Inception, batches: Iterator[Tensor], total: int, description: str,
            progress: bool = True, fid_mode: str = "legacy-tf") -> Features:
    """Features of uint8 image batches (N, 3, H, W), with a progress bar; `fid_mode`: the
    resize to 299 (see `Inception.features`)."""
    pools: list[Tensor] = []
    logits: list[Tensor] = []
    with phase(description, total, enabled=progress, transient=True) as task:
        for x in batches:
            p, lg = inception.features(x, fid_mode)
            pools.append(p)
            logits.append(lg)
            task.advance(x.shape[0])
    if not pools:
        raise GccGanError("no images to compute features of")
    return Features(torch.cat(pools).numpy(), torch.cat(logits).numpy())


def generated_batches(generator: nn.Module | Callable[..., Tensor], dims: list[int], n: int, batch_size: int,
                      seed: int = SEED, device: str | torch.device = "cpu") -> Iterator[Tensor]:
    """uint8 images from `generator` fed standard-normal latents drawn batch by batch from one
    `np.random.RandomState(seed)`, as torch-fidelity draws them: the same seed, the same images."""
    rng = np.random.RandomState(seed)
    dev = torch.device(device)
    for start in range(0, n, batch_size):
        m = min(batch_size, n - start)
        zs = [torch.from_numpy(rng.randn(m, d)).float().to(dev) for d in dims]
        with torch.inference_mode():
            out = generator(*zs)
        if isinstance(out, (tuple, list)):
            out = out[0]
        yield to_uint8(out)


def generator_features(inception: Inception, generator: nn.Module, dims: list[int], n: int, batch_size: int = 64,
                       seed: int = SEED, progress: bool = True, fid_mode: str = "legacy-tf") -> Features:
    """Features of `n` generated images; `dims` are the generator's latent sizes, in input order."""
    if n < 1:
        raise GccGanError(f"--num-samples {n}: need at least one sample")
    was_training = generator.training
    generator.eval()
    try:
        batches = generated_batches(generator, dims, n, batch_size, seed, inception.device)
        return extract(inception, batches, n, f"generating + Inception ({n} samples)", progress, fid_mode)
    finally:
        generator.train(was_training)


# --------------------------------------------------------------------------- IS


def inception_score(logits: np.ndarray, splits: int = IS_SPLITS, seed: int = SEED,
                    shuffle: bool = True) -> tuple[float, float]:
    """Mean and std over `splits` of exp(E[KL(p(y|x) || p(y))]); samples shuffled with a
    fixed seed first (IS depends on which samples share a split)."""
    n = logits.shape[0]
    if n < splits:
        raise GccGanError(f"IS over {splits} splits needs at least {splits} samples, got {n}")
    x = torch.from_numpy(np.asarray(logits, dtype=np.float64))
    if shuffle:
        x = x[np.random.RandomState(seed).permutation(n)]
    p, log_p = x.softmax(dim=1), x.log_softmax(dim=1)
    scores = []
    for i in range(splits):
        lo, hi = i * n // splits, (i + 1) * n // splits
        q = p[lo:hi].mean(dim=0, keepdim=True)
        kl = (p[lo:hi] * (log_p[lo:hi] - q.log())).sum(dim=1).mean()
        scores.append(float(kl.exp()))
    return float(np.mean(scores)), float(np.std(scores))


# --------------------------------------------------------------------------- FID


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


# --------------------------------------------------------------------------- KID


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


# --------------------------------------------------------------------------- PRDC

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
