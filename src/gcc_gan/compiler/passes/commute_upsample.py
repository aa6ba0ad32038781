"""Move upsampling later, where it is exact, so the work before it runs at low resolution.

* Within an edge, an upsample moves right past ops that commute with it: 1×1 convolutions
  (stride 1, no padding; both modes — bilinear weights sum to one, so the bias commutes
  too), per-channel affine batch norm (eval mode; both modes), and elementwise ops and
  pixel norm (nearest only: a ReLU of a bilinear blend is not a blend of ReLUs).
* A node whose every input edge ends in the same upsample is computed at low resolution
  and the upsample moves onto its output edges (sums commute with upsampling), where it
  can keep moving.
"""

from __future__ import annotations

import dataclasses

from ..ir import IREdge, IRGraph, IROp


def _commutes(up: IROp, op: IROp) -> bool:
    name, p = op.call.op, op.call.params
    nearest = up.p("mode") == "nearest"
    if name == "conv":
        return p.kernel == 1 and p.stride == 1 and p.pad() == 0
    if name == "batch_norm":
        return True
    if name == "pixel_norm" or op.spec.elementwise:
        return nearest and name != "none"
    return False


def _bubble(e: IREdge) -> bool:
    fired = False
    i = 0
    while i < len(e.ops) - 1:
        up, op = e.ops[i], e.ops[i + 1]
        if up.call.op == "upsample" and _commutes(up, op):
            moved = dataclasses.replace(op, in_shape=up.in_shape)
            e.ops[i] = moved
            e.ops[i + 1] = dataclasses.replace(up, in_shape=moved.out_shape, out_channels=moved.out_shape[0])
            fired = True
            i = max(i - 1, 0)
        else:
            i += 1
    return fired


def _sink(g: IRGraph, node: str, ins: list[IREdge], outs: list[IREdge], outputs: set[str]) -> bool:
    if node in outputs or not outs or any(len(e.srcs) > 1 for e in outs):
        return False
    tails = [e.ops[-1] if e.ops else None for e in ins]
    if any(t is None or t.call.op != "upsample" for t in tails):
        return False
    if any(t.call != tails[0].call for t in tails):
        return False
    up = tails[0]
    for e in ins:
        e.ops.pop()
    g.nodes[node] = up.in_shape
    for e in outs:
        e.ops.insert(0, dataclasses.replace(up, in_shape=up.in_shape, tensors={}))
        if len(e.ops) > 1:
            e.ops[1] = dataclasses.replace(e.ops[1], in_shape=up.out_shape)
        _bubble(e)  # so the consumer, next in topological order, can sink it further
    return True


def run(g: IRGraph) -> bool:
    # the graph's structure does not change here (only pipelines and node shapes), so the
    # edge maps are built once; a sweep in topological order carries an upsample as far
    # as it goes, so the loop ends after one or two sweeps (linear in the graph size)
    ins, outs, outputs = g.in_edge_map(), g.out_edge_map(), g.output_nodes()
    fired = False
    changed = True
    while changed:
        changed = False
        for e in g.edges:
            changed |= _bubble(e)
        for node in g.nodes:
            changed |= _sink(g, node, ins[node], outs[node], outputs)
        fired |= changed
    return fired
