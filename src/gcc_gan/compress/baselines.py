"""The comparisons every budget is reported with: the student trained from scratch (a GAN,
random initialisation, the same image-iterations) and the teacher uniformly narrowed to the
student's compiled MACs (distilled alone the same way)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from ..compiler.cost import compiled_cost
from ..compiler.interpreter import Interpreter
from ..genotype_dsl.model import Network
from ..train.config import make_config as train_config
from ..train.trainer import GanTrainer, mix_seed
from .config import CompressConfig
from .distill import SCRATCH, latents
from .space import narrowed


def narrowest_within(teacher: Network, max_macs: int) -> Network | None:
    """The teacher at the widest base width whose compiled MACs are ≤ `max_macs` (None when
    even base width 1 is over)."""
    lo, hi = 1, teacher.base_width
    if compiled_cost(narrowed(teacher, lo)).macs > max_macs:
        return None
    while lo < hi:  # compiled MACs grow with the base width
        mid = (lo + hi + 1) // 2
        if compiled_cost(narrowed(teacher, mid)).macs <= max_macs:
            lo = mid
        else:
            hi = mid - 1
    return narrowed(teacher, lo)


def train_from_scratch(student: Network, d_net: Network, reals: Callable[[int], Tensor], cfg: CompressConfig,
                       preset: str | None, iters: int, latent_dim: int, tag: int,
                       on_step: Callable[[int], None] | None = None) -> dict[str, Tensor]:
    """The student architecture as a GAN from a random initialisation, `iters` generator
    steps of `cfg.batch_size` (the train preset's recipe otherwise); the EMA generator's
    tensors. `reals(k)` is the k-th real batch (data, or the teacher's samples)."""
    tc = train_config(preset, dict(iters=max(1, iters), batch_size=cfg.batch_size, d_batch_size=cfg.batch_size,
                                   seed=int(mix_seed(cfg.seed, SCRATCH, tag) % 2**31)))
    with torch.random.fork_rng():
        torch.manual_seed(tc.seed)
        g, d = Interpreter(student, training=True), Interpreter(d_net, training=True)
    trainer = GanTrainer(g, d, latent_dim, tc)
    k = 0
    for step in range(iters):
        batch = []
        for _ in range(tc.n_critic):
            batch.append(reals(k))
            k += 1
        trainer.train_step(batch)
        if on_step is not None:
            on_step(step + 1)
    return {n: v.detach().clone() for n, v in trainer.g_ema.state_dict().items()}


def data_reals(dataset: object, cfg: CompressConfig, tag: int) -> Callable[[int], Tensor]:
    def real(k: int) -> Tensor:
        rng = np.random.default_rng(mix_seed(cfg.seed, SCRATCH, tag, k))
        return dataset.batch(np.sort(rng.integers(len(dataset), size=cfg.batch_size)))  # type: ignore[attr-defined]
    return real


def teacher_reals(teacher: Callable[[Tensor], Tensor], latent_dim: int, cfg: CompressConfig,
                  tag: int) -> Callable[[int], Tensor]:
    def real(k: int) -> Tensor:
        with torch.no_grad():
            return teacher(latents(cfg.batch_size, latent_dim, cfg.seed, SCRATCH, tag, k)).float()
    return real
