"""Rewards of a candidate generator, from the project's bench metrics (one definition each).

* `is`: the Inception Score (bench/metrics.py, torch-fidelity protocol, 10 splits) of
  `n` samples — AutoGAN's reward (functions.py:241-267: G in eval mode, shared BN stats).
  Needs the FID Inception weights (bench/inception.py: --inception-weights,
  $GCC_GAN_INCEPTION, the torch hub cache); without them the bench's clear error stops the
  search before any training.
* `fid`: 1 / FID against real statistics of the search data at the stage's resolution
  (the paper's FID⁻¹ ablation; same Inception).
* `swd`: −SWD×1e3 (bench/swd.py, ProGAN's multi-scale sliced Wasserstein distance) against
  as many real images; needs no weights — an explicit proxy, chosen by the user.

Samples come from `generated_batches` (the bench's latents: `np.random.RandomState(seed)`),
so a reward is a deterministic function of the weights and the seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..bench.metrics import (
    Gaussian,
    extract,
    frechet_distance,
    frechet_distance_low_rank,
    generated_batches,
    inception_score,
    statistics,
    to_uint8,
    warn,
)
from ..bench.swd import swd
from ..errors import GccGanError

REWARDS = ("is", "fid", "swd")
DESCRIPTION = {"is": "Inception Score (bench IS, 10 splits)", "fid": "1 / FID (bench FID)",
               "swd": "-SWD x 1e3 (ProGAN multi-scale sliced Wasserstein distance, bench/swd.py)"}


def resize(images: Tensor, size: int) -> Tensor:
    """Real images at a stage's resolution: box-filter downsampling (area), as an antialiased
    resize of the dataset (the official code re-creates the loader at 2^(stage+3))."""
    return images if images.shape[-1] == size else F.interpolate(images, size=(size, size), mode="area")


class Reward:
    """reward(generator, size, seed) -> float, higher is better."""

    def __init__(self, kind: str, n: int, data: Any, device: torch.device, batch_size: int = 64,
                 inception_weights: str | None = None, real_seed: int = 0) -> None:
        if kind not in REWARDS:
            raise GccGanError(f"--reward {kind!r}: expected one of {', '.join(REWARDS)}")
        if kind == "is" and n < 10:
            raise GccGanError(f"the IS reward over 10 splits needs at least 10 images, not {n}")
        self.kind, self.n, self.data, self.device, self.batch_size = kind, n, data, device, batch_size
        self.inception = None
        if kind in ("is", "fid"):
            from ..bench.inception import load_inception

            self.inception = load_inception(inception_weights, device)  # the clear error when missing
        if kind == "fid":
            warn(f"the FID reward from {n} samples is biased upward (rank-deficient covariance); it ranks "
                 "candidates, it is not a publishable FID")
        m = min(n, len(data))
        self._real_idx = np.sort(np.random.default_rng(real_seed).choice(len(data), m, replace=False))
        self._real: dict[int, Tensor | Gaussian] = {}

    def _real_images(self, size: int) -> Tensor:
        return to_uint8(resize(self.data.batch(self._real_idx), size))

    def _real_stats(self, size: int) -> Tensor | Gaussian:
        if size not in self._real:
            real = self._real_images(size)
            if self.kind == "swd":
                self._real[size] = real
            else:
                assert self.inception is not None
                batches = (real[i:i + self.batch_size] for i in range(0, len(real), self.batch_size))
                feats = extract(self.inception, batches, len(real), "real features", progress=False)
                self._real[size] = statistics(feats.pool)
        return self._real[size]

    @torch.no_grad()
    def __call__(self, g: nn.Module, latent: int, size: int, seed: int) -> float:
        was = g.training
        g.eval()
        try:
            fake = torch.cat(list(generated_batches(g, [latent], self.n, self.batch_size, seed, self.device)))
        finally:
            g.train(was)
        if self.kind == "swd":
            real = self._real_stats(size)
            assert isinstance(real, Tensor)
            return -swd(fake.cpu(), real, seed=seed).mean
        assert self.inception is not None
        batches = (fake[i:i + self.batch_size] for i in range(0, len(fake), self.batch_size))
        feats = extract(self.inception, batches, len(fake), "reward", progress=False)
        if self.kind == "is":
            return inception_score(feats.logits, seed=seed)[0]
        real = self._real_stats(size)
        assert isinstance(real, Gaussian)
        d = frechet_distance_low_rank(feats.pool, real) if len(feats) <= feats.pool.shape[1] \
            else frechet_distance(statistics(feats.pool), real)
        return 1.0 / max(d, 1e-8)
