"""Sub-pixel rewrite: a k×k 'same' convolution reading a nearest-×2-upsampled tensor equals
four phase convolutions at the low resolution (2×2 kernels for 3×3), interleaved — the
`subpixel_conv` op. Exact; 2.25× fewer MACs for 3×3. (The commute pass has already moved
ReLUs and other elementwise ops ahead of the upsample.)"""

from __future__ import annotations

import torch
from torch import Tensor

from ...genotype_dsl.model import OpCall
from ..ir import IRGraph, IROp


def phase_matrix(k: int, a: int) -> Tensor:
    """R[t', t] = 1 where original tap t of a k-tap kernel lands on low-res tap t' for
    output phase a (0 = even, 1 = odd rows/columns)."""
    p = k // 2
    lo = (a - p) // 2
    r = torch.zeros(p + 1, k, dtype=torch.float64)
    for t in range(k):
        r[(a + t - p) // 2 - lo, t] = 1.0
    return r


def phase_weights(w: Tensor) -> Tensor:
    """(Cout, Cin, k, k) conv weights -> (4, Cout, Cin, kp, kp) phase weights: what the
    `subpixel_conv` op computes from its stored k×k weight (kept here as the float64
    reference of that computation)."""
    k = w.shape[-1]
    rs = [phase_matrix(k, a) for a in (0, 1)]
    w64 = w.double()
    # K_ab = R_a · W · R_bᵀ over the kernel axes (two small matmuls; einsum is slower here)
    phases = [rs[a] @ (w64 @ rs[b].T) for a in (0, 1) for b in (0, 1)]
    return torch.stack(phases).to(w.dtype)


def _eligible(up: IROp, conv: IROp) -> bool:
    if up.call.op != "upsample" or up.p("mode") != "nearest" or up.p("scale") != 2 or conv.call.op != "conv":
        return False
    p = conv.call.params
    return (p.kernel % 2 == 1 and p.stride == 1 and p.dilation == 1 and p.pad() == p.kernel // 2
            and p.groups == 1 and not p.depthwise)


def run(g: IRGraph) -> bool:
    fired = False
    for e in g.edges:
        i = 0
        while i < len(e.ops) - 1:
            up, conv = e.ops[i], e.ops[i + 1]
            if _eligible(up, conv):
                bias = conv.call.params.bias
                # the k×k kernel is kept: the op computes its phase kernels (see phase_weights)
                tensors = {"weight": conv.tensors["weight"]}
                if bias:
                    tensors["bias"] = conv.tensors["bias"]
                call = OpCall.of("subpixel_conv", kernel=conv.call.params.kernel, bias=bias)
                e.ops[i: i + 2] = [IROp(call, up.in_shape, conv.out_channels, tensors)]
                fired = True
            i += 1
    return fired
