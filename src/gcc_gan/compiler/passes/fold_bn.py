"""Fold eval-mode batch norm (a per-channel affine map) into an adjacent linear layer:
* [conv | conv_transpose | subpixel_conv | linear (+ reshape), batch_norm] in one edge;
* [batch_norm, conv] when the conv has no padding (with zero padding the border would see
  normalised zeros, which is not exact);
* a batch norm at the start of a node's only consumer, when every edge into the node ends
  in such a layer (BN of a sum is the sum of scaled terms plus one shift)."""

from __future__ import annotations

import dataclasses

import torch
from torch import Tensor

from ..ir import IREdge, IRGraph, IROp

PRODUCERS = ("conv", "conv_transpose", "subpixel_conv", "linear")


def bn_affine(bn: IROp) -> tuple[Tensor, Tensor]:
    """scale a and shift b with bn(x) = a * x + b per channel."""
    t, eps = bn.tensors, bn.call.params.eps
    if t["running_var"].is_meta:  # the weightless IR (compiler.cost): shapes only
        return (torch.empty(t["running_var"].shape, dtype=torch.float64, device="meta"),
                torch.empty(t["running_var"].shape, dtype=torch.float64, device="meta"))
    a = 1.0 / torch.sqrt(t["running_var"].double() + eps)
    if "weight" in t:
        a = a * t["weight"].double()
    b = -t["running_mean"].double() * a
    if "bias" in t:
        b = b + t["bias"].double()
    return a, b


def _out_axis(op: IROp) -> int:
    return {"conv": 0, "conv_transpose": 1, "subpixel_conv": 0, "linear": 0}[op.call.op]


def scale_output(op: IROp, a: Tensor, b: Tensor | None, spread: int = 1) -> IROp:
    """op followed by per-channel x*a + b. `spread`: consecutive outputs per channel (a
    linear whose output is reshaped to C×s×s has s² per channel)."""
    t = dict(op.tensors)
    axis = _out_axis(op)
    w0, bias = t["weight"], t.get("bias")
    if w0.is_meta:  # the weightless IR (compiler.cost): fresh tensors of the shapes below, no arithmetic
        t["weight"] = torch.empty_like(w0)
        if bias is not None or b is not None:
            t["bias"] = torch.empty(w0.shape[axis], dtype=w0.dtype, device="meta")
        call = op.call if bias is not None or b is None else op.call.with_params(bias=True)
        return dataclasses.replace(op, call=call, tensors=t)
    w = w0.double()
    a_full = a.repeat_interleave(spread)
    shape = [1] * w.dim()
    shape[axis] = -1
    w = w * a_full.view(shape)
    t["weight"] = w.to(op.tensors["weight"].dtype)
    nb = bias.double() * a_full if bias is not None else torch.zeros_like(a_full)
    if b is not None:
        nb = nb + b.repeat_interleave(spread)
    call = op.call
    if bias is None and (b is not None):
        call = call.with_params(bias=True)
    if bias is not None or b is not None:
        t["bias"] = nb.to(op.tensors["weight"].dtype)
    return dataclasses.replace(op, call=call, tensors=t)


def _convT_ok(op: IROp) -> bool:
    p = op.call.params
    return op.call.op != "conv_transpose" or (p.groups == 1 and not p.depthwise)


def _fold_after(e) -> bool:
    for i in range(len(e.ops) - 1):
        prod, nxt = e.ops[i], e.ops[i + 1]
        spread, j = 1, i + 1
        if prod.call.op == "linear" and nxt.call.op == "reshape" and i + 2 < len(e.ops):
            spread, j = nxt.call.params.size ** 2, i + 2
        bn = e.ops[j]
        if prod.call.op in PRODUCERS and bn.call.op == "batch_norm" and _convT_ok(prod):
            a, b = bn_affine(bn)
            e.ops[i] = scale_output(prod, a, b, spread)
            del e.ops[j]
            return True
    return False


def _fold_before(e) -> bool:
    for i in range(len(e.ops) - 1):
        bn, conv = e.ops[i], e.ops[i + 1]
        if bn.call.op != "batch_norm" or conv.call.op != "conv" or len(bn.in_shape) != 3:
            continue
        p = conv.call.params
        if p.pad() != 0 or p.groups != 1 or p.depthwise:
            continue
        t = dict(conv.tensors)
        w0 = t["weight"]
        if w0.is_meta:  # the weightless IR (compiler.cost): shapes only
            t["weight"] = torch.empty_like(w0)
            t["bias"] = torch.empty(w0.shape[0], dtype=w0.dtype, device="meta")
        else:
            a, b = bn_affine(bn)
            w = w0.double()
            shift = (w * b.view(1, -1, 1, 1)).sum(dim=(1, 2, 3))
            t["weight"] = (w * a.view(1, -1, 1, 1)).to(w0.dtype)
            old_bias = t["bias"].double() if "bias" in t else torch.zeros_like(shift)
            t["bias"] = (old_bias + shift).to(w0.dtype)
        call = conv.call if p.bias else conv.call.with_params(bias=True)
        e.ops[i: i + 2] = [dataclasses.replace(conv, call=call, tensors=t, in_shape=bn.in_shape)]
        return True
    return False


def _fold_into_node(node: str, ins: list[IREdge], outs: list[IREdge], outputs: set[str]) -> bool:
    if node in outputs or len(outs) != 1 or len(outs[0].srcs) != 1:
        return False
    consumer = outs[0]
    if not consumer.ops or consumer.ops[0].call.op != "batch_norm":
        return False
    tails = []
    for e in ins:
        if not e.ops:
            return False
        last, spread = e.ops[-1], 1
        if last.call.op == "reshape" and len(e.ops) > 1 and e.ops[-2].call.op == "linear":
            last, spread = e.ops[-2], last.call.params.size ** 2
        if last.call.op not in PRODUCERS or not _convT_ok(last):
            return False
        tails.append((e, last, spread))
    a, b = bn_affine(consumer.ops[0])
    for k, (e, last, spread) in enumerate(tails):
        idx = e.ops.index(last)
        e.ops[idx] = scale_output(last, a, b if k == 0 else None, spread)
    del consumer.ops[0]
    return True


def run(g: IRGraph) -> bool:
    fired = False
    for e in g.edges:
        while _fold_after(e) or _fold_before(e):
            fired = True
    ins, outs, outputs = g.in_edge_map(), g.out_edge_map(), g.output_nodes()  # structure is fixed here
    for node in g.nodes:
        fired |= _fold_into_node(node, ins[node], outs[node], outputs)
    return fired
