"""Merge parallel linear convolutions feeding the same node, when it lowers cost.

Edges into one node of the form [same elementwise prefix..., conv] (stride 1, 'same'
padding, no groups):
* from the SAME source: one conv whose kernel is the sum of the zero-padded (dilation
  expanded) kernels — taken when its MACs are lower than the separate convs';
* from DIFFERENT sources of equal spatial size, with the same kernel size and dilation:
  one conv over the channel concatenation. MACs are equal, so it is taken only when it
  moves less data: the concatenation copies every input once, while separate convs need
  n - 1 sums of the output and n kernel calls (measured on CPU: for equal in/out channels
  the copy costs more than the calls it saves, e.g. AdversarialNAS cells 1-2).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from ...genotype_dsl.model import OpCall
from ..ir import IREdge, IRGraph, IROp
from ..kernels import effective_size, embed_kernel


def _conv_tail(e: IREdge) -> IROp | None:
    if not e.ops or e.ops[-1].call.op != "conv":
        return None
    conv = e.ops[-1]
    p = conv.call.params
    eff = effective_size(p.kernel, p.dilation)
    if p.stride != 1 or p.groups != 1 or p.depthwise or p.pad() * 2 != eff - 1:
        return None
    if not all(op.spec.elementwise and not op.tensors and op.call.op != "none" for op in e.ops[:-1]):
        return None
    return conv


def _prefix_key(e: IREdge) -> tuple:
    return tuple(op.call for op in e.ops[:-1])


def dense_kernel(conv: IROp, size: int) -> Tensor:
    return embed_kernel(conv.tensors["weight"], conv.call.params.dilation, size)


def _bias_sum(convs: list[IROp], cout: int) -> Tensor | None:
    biases = [c.tensors["bias"] for c in convs if "bias" in c.tensors]
    if biases and biases[0].is_meta:  # the weightless IR (compiler.cost): shapes only
        return torch.empty_like(biases[0])
    return torch.stack(biases).sum(0) if biases else None


def _weightless(convs: list[IROp], shape: tuple[int, ...]) -> Tensor | None:
    """A fresh meta tensor of the merged kernel's shape on the weightless IR (the cost
    model: no values to compute), else None."""
    w = convs[0].tensors["weight"]
    return torch.empty(shape, dtype=w.dtype, device="meta") if w.is_meta else None


def _new_conv(in_shape, cout: int, kernel: int, dilation: int, weight: Tensor, bias: Tensor | None) -> IROp:
    call = OpCall.of("conv", kernel=kernel, dilation=dilation, bias=bias is not None, out_channels=cout)
    tensors = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}
    return IROp(call, in_shape, cout, tensors)


def _merge_same_source(g: IRGraph, group: list[IREdge]) -> bool:
    convs = [_conv_tail(e) for e in group]
    size = max(effective_size(c.call.params.kernel, c.call.params.dilation) for c in convs)
    before = sum(c.macs for c in convs)
    cin, cout = convs[0].in_shape[0], convs[0].out_channels
    px = convs[0].out_shape[1] * convs[0].out_shape[2]
    after = px * cout * cin * size * size + px * cout
    if after >= before:
        return False
    w = _weightless(convs, (cout, cin, size, size))
    if w is None:
        w = sum(dense_kernel(c, size) for c in convs)
    keep = group[0]
    keep.ops[-1] = _new_conv(convs[0].in_shape, cout, size, 1, w, _bias_sum(convs, cout))
    g.remove_edges(group[1:])
    return True


CALL_COST = 20_000  # elements: the data-movement equivalent of one extra kernel call


def _concat_pays_off(convs: list[IROp]) -> bool:
    n = len(convs)
    out = math.prod(convs[0].out_shape)
    copied = 2 * sum(math.prod(c.in_shape) for c in convs)  # cat reads and writes every input
    saved = 3 * (n - 1) * out + (n - 1) * CALL_COST  # n - 1 output sums (2 reads, 1 write) and calls
    return copied < saved


def _merge_sources(g: IRGraph, group: list[IREdge], names: set[str]) -> bool:
    convs = [_conv_tail(e) for e in group]
    if not _concat_pays_off(convs):
        return False
    w0 = convs[0].tensors["weight"]
    w = _weightless(convs, (w0.shape[0], sum(c.tensors["weight"].shape[1] for c in convs), *w0.shape[2:]))
    if w is None:
        w = torch.cat([c.tensors["weight"] for c in convs], dim=1)
    srcs = [s for e in group for s in e.srcs]
    keep = group[0]
    cin = sum(c.in_shape[0] for c in convs)
    in_shape = (cin, *convs[0].in_shape[1:])
    p = convs[0].call.params
    prefix = [IROp(op.call, in_shape, cin, {}) for op in keep.ops[:-1]]
    keep.srcs = srcs
    keep.ops = [*prefix, _new_conv(in_shape, convs[0].out_channels, p.kernel, p.dilation, w,
                                   _bias_sum(convs, convs[0].out_channels))]
    keep.name = g.fresh_edge_name(f"{keep.dst}_merged".replace(".", "_"), names)
    g.remove_edges(group[1:])
    return True


def _conv_key(e: IREdge) -> tuple:
    p = _conv_tail(e).call.params  # type: ignore[union-attr]
    return (p.kernel, p.dilation)


def run(g: IRGraph) -> bool:
    # edges are grouped with dicts (hashable keys), never compared pairwise, and the edge
    # map is built once: linear in the graph size (merges only remove edges into the node
    # being processed)
    fired = False
    ins = g.in_edge_map()
    names = {e.name for e in g.edges}
    for node in g.nodes:
        # same source first (it lowers MACs), then across sources
        edges = [e for e in ins[node] if _conv_tail(e) is not None]
        same: dict[tuple, list[IREdge]] = {}
        for e in edges:
            if len(e.srcs) == 1:
                same.setdefault((e.srcs[0], _prefix_key(e)), []).append(e)
        merged: set[int] = set()
        for group in same.values():
            if len(group) > 1 and _merge_same_source(g, group):
                merged.update(id(e) for e in group[1:])
                fired = True
        cands = [e for e in edges if id(e) not in merged]
        across: dict[tuple, list[IREdge]] = {}
        for e in cands:
            across.setdefault((_prefix_key(e), _conv_key(e), g.shape(e.srcs[0])[1:]), []).append(e)
        for group in across.values():  # one attempt per node: the first group that qualifies
            if len(group) > 1 and len({s for f in group for s in f.srcs}) == sum(len(f.srcs) for f in group):
                fired |= _merge_sources(g, group, names)
                break
    return fired
