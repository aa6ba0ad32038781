"""Inception features of real and generated images, the input of every Inception metric
(metric_is.py, metric_fid.py, metric_kid.py, metric_prdc.py).

Generated images go [-1, 1] -> uint8 (`gcc_gan.pixels.to_uint8`), then through torch-fidelity's
TF-compatible resize inside the extractor. Latents are drawn as torch-fidelity draws them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

import numpy as np
import torch
from torch import Tensor, nn

from ..console import progress as phase
from ..errors import GccGanError
from ..pixels import to_uint8
from .inception import Inception

SEED = 2020  # torch-fidelity's default rng seed, so the same seed gives the same numbers


@dataclass
class Features:
    pool: np.ndarray  # (N, 2048) float32
    logits: np.ndarray  # (N, 1008) float32, bias-free (torch-fidelity's 'logits_unbiased')

    def __len__(self) -> int:
        return int(self.pool.shape[0])


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
