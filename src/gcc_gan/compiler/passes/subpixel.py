"""Sub-pixel rewrite: a k×k 'same' convolution reading a nearest-×2-upsampled tensor equals
four phase convolutions at the low resolution (2×2 kernels for 3×3), interleaved; the
`subpixel_conv` op runs all four as one stride-2 transposed convolution with a (k+1)×(k+1)
kernel. Exact; 2.25× fewer MACs for 3×3. (The commute pass has already moved
ReLUs and other elementwise ops ahead of the upsample.)"""

from __future__ import annotations

import torch
from torch import Tensor

from ...genotype_dsl.model import OpCall
from ..ir import IRGraph, IROp


def convt_matrix(k: int) -> Tensor:
    """A[r, t] = 1 where tap t of a k-tap kernel reads the same low-res pixel as tap r of
    the (k+1)-tap stride-2 transposed kernel (t in [k-1-r, k+1-r))."""
    a = torch.zeros(k + 1, k, dtype=torch.float64)
    for r in range(k + 1):
        for t in range(max(0, k - 1 - r), min(k, k + 1 - r)):
            a[r, t] = 1.0
    return a


def convt_weight(w: Tensor) -> Tensor:
    """(Cout, Cin, k, k) conv weights -> (Cin, Cout, k+1, k+1) stride-2 transposed-conv
    weights: what the `subpixel_conv` op computes from its stored k×k weight (kept here as
    the float64 reference of that computation)."""
    a = convt_matrix(w.shape[-1])
    return (a @ w.double() @ a.T).transpose(0, 1).to(w.dtype)


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
                # the k×k kernel is kept: the op computes its transposed kernel (see convt_weight)
                tensors = {"weight": conv.tensors["weight"]}
                if bias:
                    tensors["bias"] = conv.tensors["bias"]
                call = OpCall.of("subpixel_conv", kernel=conv.call.params.kernel, bias=bias)
                e.ops[i: i + 2] = [IROp(call, up.in_shape, conv.out_channels, tensors)]
                fired = True
            i += 1
    return fired
