"""How students are scored: the metric against a reference image set (real data with
--data, else the teacher's own samples on latents no student is scored on) and PSNR
against the teacher on the same latents. The metrics are bench's (one definition each):
SWD (bench.swd, no weights), FID / KID on the FID Inception's pool features."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import Tensor

from ..export.precision import psnr_db
from .config import CompressConfig
from .distill import EVAL, REFERENCE, generate, latents


class Scorer:
    """`score(images)`: the metric of generated images (float, [-1, 1]) against the
    reference set; lower is better for all three."""

    def __init__(self, cfg: CompressConfig, reference: Tensor, inception_weights: str | None = None) -> None:
        self.cfg, self.reference = cfg, reference
        self.inception: Any = None
        self._ref_features: np.ndarray | None = None
        if cfg.metric != "swd":
            from ..bench.inception import load_inception

            self.inception = load_inception(inception_weights)
            self._ref_features = self._features(reference)

    def _features(self, images: Tensor) -> np.ndarray:
        from ..pixels import to_uint8

        pools = [self.inception.features(to_uint8(images[i:i + 64].clone()))[0] for i in range(0, len(images), 64)]
        return torch.cat(pools).double().numpy()

    def score(self, images: Tensor) -> float:
        if self.cfg.metric == "swd":
            from ..bench.swd import swd

            return float(swd(images, self.reference, seed=self.cfg.seed).mean)
        from ..bench.features import Features
        from ..bench.metric_fid import fid, statistics
        from ..bench.metric_kid import kid

        feats = self._features(images)
        assert self._ref_features is not None
        if self.cfg.metric == "fid":
            # the generated side as features: FID's low-rank form when they are fewer than 2048
            fake = Features(feats.astype(np.float32), np.zeros((len(feats), 0), np.float32))
            return fid(fake, statistics(self._ref_features))
        return kid(feats, self._ref_features)[0]


def metric_latents(cfg: CompressConfig, latent_dim: int) -> Tensor:
    """The latents every generator is scored on (search and comparison alike)."""
    return latents(cfg.num_samples, latent_dim, cfg.seed, EVAL, 0)


def psnr_latents(cfg: CompressConfig, latent_dim: int) -> Tensor:
    return latents(cfg.eval_samples, latent_dim, cfg.seed, EVAL, 1)


def reference_images(cfg: CompressConfig, teacher: Callable[[Tensor], Tensor], latent_dim: int,
                     dataset: Any | None) -> Tensor:
    """`num_samples` real images (a seeded subset of --data), else the teacher's samples on
    latents of their own."""
    if dataset is not None:
        rng = np.random.default_rng(cfg.seed)
        n = min(cfg.num_samples, len(dataset))
        return dataset.batch(np.sort(rng.choice(len(dataset), size=n, replace=False))).float()
    return generate(teacher, latents(cfg.num_samples, latent_dim, cfg.seed, REFERENCE, 0))


def psnr(images: Tensor, teacher_images: Tensor) -> float:
    """PSNR (dB) of generated images against the teacher's on the same latents ([-1, 1])."""
    return psnr_db(images.numpy(), teacher_images.numpy())
