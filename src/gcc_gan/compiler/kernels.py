"""Kernel algebra shared by the compiler's conv merging and the search supernets' merged
mixed ops: a linear conv is fully described by its dense, centred kernel, so a (weighted)
sum of convs on the same input is one conv with the sum of their embedded kernels."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def effective_size(kernel: int, dilation: int = 1) -> int:
    return dilation * (kernel - 1) + 1


def embed_kernel(weight: Tensor, dilation: int, size: int) -> Tensor:
    """`weight` (Cout, Cin, k, k) with its dilation expanded into zeros and zero-padded
    (centred) to size×size. Differentiable, so supernets can use it in training."""
    k = weight.shape[-1]
    eff = effective_size(k, dilation)
    if size < eff or (size - eff) % 2:
        raise ValueError(f"cannot centre a {eff}x{eff} kernel in {size}x{size}")
    if dilation > 1:
        dense = weight.new_zeros(*weight.shape[:2], eff, eff)
        dense[:, :, ::dilation, ::dilation] = weight
    else:
        dense = weight
    pad = (size - eff) // 2
    return F.pad(dense, (pad, pad, pad, pad)) if pad else dense
