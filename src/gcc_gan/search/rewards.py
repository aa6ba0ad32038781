"""Rewards of a candidate generator, from the project's bench metrics (one definition each).

* `is`: the Inception Score (bench/metric_is.py, torch-fidelity protocol, 10 splits) of
  `n` samples — AutoGAN's reward (functions.py:241-267: G in eval mode, shared BN stats).
  Needs the FID Inception weights (bench/inception.py: --inception-weights,
  $GCC_GAN_INCEPTION, the torch hub cache); without them the bench's clear error stops the
  search before any training.
* `fid`: 1 / FID against real statistics of the search data at the stage's resolution
  (the paper's FID⁻¹ ablation; same Inception).
* `swd`: the search's SWD reward, scored by the metric `swd-real` (bench/swd.py with
  `norm="real"`: ProGAN's multi-scale sliced Wasserstein distance with both descriptor
  sets normalised by the REAL set's per-channel statistics, so wrong colours and contrast
  count — ProGAN's own-set normalisation lets a flat one-colour generator score best);
  needs no weights — an explicit proxy, chosen by the user. ProGAN's `swd` itself is kept
  for reported figures (`gcc-gan bench`) and recorded beside it.

Units: every SWD is ×1e3, lower is better, wherever printed or stored; FID lower is better;
IS higher is better. `Scored` carries the metric's value in its own unit (`value`, named by
`metric`) and the reward derived from it (`reward`, higher is better: −SWD, 1/FID, IS) —
searchers store both, named apart — plus the candidate's health (search/health.py: the
same fake images' diversity against the real images').

Samples come from `generated_batches` (the bench's latents: `np.random.RandomState(seed)`),
so a reward is a deterministic function of the weights and the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..bench.features import extract, generated_batches
from ..bench.metric_fid import (
    Gaussian,
    frechet_distance,
    frechet_distance_low_rank,
    statistics,
)
from ..bench.metric_is import inception_score
from ..bench.swd import swd
from ..console import warn
from ..errors import GccGanError
from ..pixels import to_uint8
from .health import Health, collapse_health, combine, diversity, score_health

REWARDS = ("is", "fid", "swd")
METRIC = {"is": "is", "fid": "fid", "swd": "swd-real"}  # the metric a reward is computed from
DESCRIPTION = {"is": "Inception Score (bench IS, 10 splits)", "fid": "1 / FID (bench FID)",
               "swd": "-swd-real x 1e3 (multi-scale sliced Wasserstein distance, descriptors normalised by the real "
                      "set's statistics, bench/swd.py norm='real')"}


@dataclass(frozen=True)
class Scored:
    metric: str  # "swd-real", "fid" or "is"
    value: float  # in the metric's unit: SWD x 1e3 / FID (lower is better), IS (higher is better)
    reward: float  # higher is better: -SWD, 1 / FID, IS
    health: Health = field(default_factory=Health)
    swd: float | None = None  # with the SWD reward: ProGAN's SWD x 1e3 of the same images (for reports)

    def record(self) -> dict[str, Any]:
        """The scores as stored in histories and tables: `swd_real` / `fid` / `is`, `reward`, status."""
        out: dict[str, Any] = {self.metric.replace("-", "_"): _round(self.value), "reward": _round(self.reward),
                               **self.health.to_json()}
        if self.swd is not None:
            out["swd"] = _round(self.swd)
        return out


def _round(v: float) -> float | None:
    return round(v, 6) if np.isfinite(v) else None


def reward_from(metric: str, value: float) -> float:
    return value if metric == "is" else (-value if metric.startswith("swd") else 1.0 / max(value, 1e-8))


def resize(images: Tensor, size: int) -> Tensor:
    """Real images at a stage's resolution: box-filter downsampling (area), as an antialiased
    resize of the dataset (the official code re-creates the loader at 2^(stage+3))."""
    return images if images.shape[-1] == size else F.interpolate(images, size=(size, size), mode="area")


def reward_protocol(kind: str, n_generated: int, n_real: int, data: str, latent_seed: int,
                    inception_weights: str | None = None) -> dict[str, Any]:
    """How a search reward was measured, for the emitted genotype's provenance (as the bench's
    protocol record travels with every bench number): a reward compares candidates of one run,
    so its figures are comparable only under the same record."""
    rec: dict[str, Any] = {"reward": kind, "metric": METRIC.get(kind, kind), "num_generated": n_generated,
                           "num_real": n_real, "real": data, "resize": "area (box filter) to each stage's resolution",
                           "latent_seed": latent_seed, "truncation": None}
    if kind == "is":
        rec["is_splits"] = 10
    if kind == "swd":
        rec["swd"] = "x1e3, both descriptor sets normalised by the real set's statistics (swd-real)"
    if kind in ("is", "fid"):
        from ..bench.inception import file_sha256, is_fid_inception, resolve_weights

        path = resolve_weights(inception_weights)
        sha = file_sha256(path)
        rec["inception"] = {"path": str(path), "sha256": sha, "fid_inception": is_fid_inception(sha)}
    return rec


def preflight_weights(kind: str, inception_weights: str | None) -> str | None:
    """The Inception weights an `is` / `fid` reward needs, resolved before any training (a
    missing file is an error that says how to score without them); other rewards: as given."""
    if kind not in ("is", "fid"):
        return inception_weights
    from ..bench.inception import resolve_weights

    try:
        return str(resolve_weights(inception_weights))
    except GccGanError as e:
        raise GccGanError(f"{e} Without them, score by the explicit SWD proxy: --reward swd") from None


class Reward:
    """reward(generator, size, seed) -> float, higher is better."""

    def __init__(self, kind: str, n: int, data: Any, device: torch.device, batch_size: int = 64,
                 inception_weights: str | None = None, real_seed: int = 0, min_diversity: float | None = None) -> None:
        if kind not in REWARDS:
            raise GccGanError(f"--reward {kind!r}: expected one of {', '.join(REWARDS)}")
        if kind == "is" and n < 10:
            raise GccGanError(f"the IS reward over 10 splits needs at least 10 images, not {n}")
        self.kind, self.n, self.data, self.device, self.batch_size = kind, n, data, device, batch_size
        self.min_diversity = min_diversity  # the collapse threshold (search/health.py; None: its default)
        self.inception = None
        if kind in ("is", "fid"):
            from ..bench.inception import load_inception

            self.inception = load_inception(inception_weights, device)  # the clear error when missing
        if kind == "fid":
            warn(f"the FID reward from {n} samples is biased upward (rank-deficient covariance); it ranks "
                 "candidates, it is not a publishable FID")
        m = min(n, len(data))
        self._inception_weights = inception_weights
        self._real_idx = np.sort(np.random.default_rng(real_seed).choice(len(data), m, replace=False))
        self._real: dict[int, Tensor | Gaussian] = {}
        self._diversity: dict[int, float] = {}

    def protocol(self, data: str, latent_seed: int) -> dict[str, Any]:
        """`reward_protocol` of this reward: `data` is the search's data spec."""
        return reward_protocol(self.kind, self.n, len(self._real_idx), data, latent_seed, self._inception_weights)

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

    def real_diversity(self, size: int) -> float:
        """The real images' per-pixel std at `size` (search/health.py), the collapse reference."""
        if size not in self._diversity:
            self._diversity[size] = diversity(self._real_images(size))
        return self._diversity[size]

    @torch.no_grad()
    def __call__(self, g: nn.Module, latent: int, size: int, seed: int) -> float:
        return self.score(g, latent, size, seed).reward

    @torch.no_grad()
    def score(self, g: nn.Module, latent: int, size: int, seed: int, report_swd: bool = True) -> Scored:
        """The candidate's metric, reward and health from one batch of `n` samples (`report_swd`
        False: the SWD reward without ProGAN's own-normalised SWD beside it, half the cost)."""
        was = g.training
        g.eval()
        try:
            fake = torch.cat(list(generated_batches(g, [latent], self.n, self.batch_size, seed, self.device))).cpu()
        finally:
            g.train(was)
        collapse = collapse_health(fake, self.real_diversity(size), self.min_diversity)
        metric, progan = METRIC[self.kind], None
        if self.kind == "swd":
            real = self._real_stats(size)
            assert isinstance(real, Tensor)
            value = swd(fake, real, seed=seed, norm="real").mean
            progan = swd(fake, real, seed=seed).mean if report_swd else None
        else:
            assert self.inception is not None
            batches = (fake[i:i + self.batch_size] for i in range(0, len(fake), self.batch_size))
            feats = extract(self.inception, batches, len(fake), "reward", progress=False)
            if self.kind == "is":
                value = inception_score(feats.logits, seed=seed)[0]
            else:
                real = self._real_stats(size)
                assert isinstance(real, Gaussian)
                value = frechet_distance_low_rank(feats.pool, real) if len(feats) <= feats.pool.shape[1] \
                    else frechet_distance(statistics(feats.pool), real)
        return Scored(metric, float(value), reward_from(metric, float(value)),
                      combine(collapse, score_health(metric, float(value))), progan)
