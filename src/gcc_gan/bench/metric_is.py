"""The Inception Score, as torch-fidelity computes it: from the bias-free 1008 logits over
10 splits, with the samples shuffled by a fixed seed."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import GccGanError
from .features import SEED

IS_SPLITS = 10


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
