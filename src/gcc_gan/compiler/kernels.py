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


def dilated_conv(x: Tensor, weight: Tensor, bias: Tensor | None, dilation: int, stride: int = 1) -> Tensor:
    """`F.conv2d(x, weight, bias, stride, padding=dilation·(k-1)/2, dilation)` computed as
    dense convs where that is exact (odd k): a dilated conv only ever combines pixels of one
    polyphase component (x[i::d, j::d]), so
    * stride == dilation: one dense conv of the component x[::d, ::d];
    * stride 1 (H, W divisible by d): one dense conv of all d² components stacked on the
      batch dim, interleaved back.
    oneDNN runs dilated convs ~1.3-2× slower than dense ones with the same multiply-adds
    (measured on CPU, 5×5 dilation 2, 32 channels); other cases use F.conv2d directly."""
    k = weight.shape[-1]
    pad = dilation * (k - 1) // 2
    B, C, H, W = x.shape
    if dilation == 1 or k % 2 == 0 or weight.shape[-2] != k:
        return F.conv2d(x, weight, bias, stride=stride, padding=pad, dilation=dilation)
    d = dilation
    if stride == d:
        return F.conv2d(x[:, :, ::d, ::d], weight, bias, padding=(k - 1) // 2)
    if stride != 1 or H % d or W % d:
        return F.conv2d(x, weight, bias, stride=stride, padding=pad, dilation=dilation)
    phases = x.reshape(B, C, H // d, d, W // d, d).permute(3, 5, 0, 1, 2, 4).reshape(d * d * B, C, H // d, W // d)
    y = F.conv2d(phases, weight, bias, padding=(k - 1) // 2)
    co = y.shape[1]
    return y.reshape(d, d, B, co, H // d, W // d).permute(2, 3, 4, 0, 5, 1).reshape(B, co, H, W)
