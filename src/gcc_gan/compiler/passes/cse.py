"""Common-subexpression elimination: edges leaving the same node with an identical op
prefix (same ops, parameters and weights) share one computation of that prefix.

Linear in the graph size (times the size of each group of candidate edges): the edges
leaving each source are grouped once by their first op, and a shared prefix becomes a
new node whose own out-edges are examined in turn (a worklist, no rescans); the new
nodes are put in topological order once at the end."""

from __future__ import annotations

import hashlib
from collections import deque

import torch

from ..ir import IREdge, IRGraph, IROp


def _common_prefix(edges: list[IREdge]) -> int:
    n = min(len(e.ops) for e in edges)
    k = 0
    while k < n and all(e.ops[k].same_as(edges[0].ops[k]) for e in edges[1:]):
        k += 1
    return k


def _fingerprint(op: IROp) -> tuple:
    """A hashable digest of an op's computation: equal ops have equal fingerprints (and
    `same_as` confirms), so parallel ops with different weights never meet pairwise."""
    tensors = tuple((k, tuple(v.shape), str(v.dtype),
                     id(v) if v.is_meta else  # weightless IR (compiler.cost): generic weights
                     hashlib.blake2b(v.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy(),
                                     digest_size=16).digest())
                    for k, v in sorted(op.tensors.items()))
    return (op.call, op.in_shape, op.out_channels, tensors)


def _groups(outs: list[IREdge]) -> list[list[IREdge]]:
    """Edges whose first ops are the same computation, in edge order. Ops are bucketed by
    their fingerprint first; `same_as` is only asked within one bucket."""
    buckets: dict[tuple, list[list[IREdge]]] = {}
    order: list[list[IREdge]] = []
    for e in outs:
        first = e.ops[0]
        key = _fingerprint(first)
        for grp in buckets.setdefault(key, []):
            if grp[0].ops[0].same_as(first):
                grp.append(e)
                break
        else:
            grp = [e]
            buckets[key].append(grp)
            order.append(grp)
    return [grp for grp in order if len(grp) > 1]


def run(g: IRGraph) -> bool:
    outs = {s: [e for e in es if len(e.srcs) == 1 and e.ops] for s, es in g.out_edge_map().items()}
    names = {e.name for e in g.edges}
    work = deque([*g.inputs, *g.nodes])
    fired = False
    while work:
        src = work.popleft()
        for group in _groups(outs.get(src, [])):
            k = _common_prefix(group)
            shape = group[0].ops[k - 1].out_shape
            label = "_".join(op.call.op for op in group[0].ops[:k])
            t = g.fresh_name(f"{src}_{label}"[:48])
            g.nodes[t] = shape  # placed by the toposort below
            shared = IREdge([src], t, group[0].ops[:k], g.fresh_edge_name(t, names))
            g.edges.append(shared)
            for e in group:
                e.srcs, e.ops = [t], e.ops[k:]
            ids = {id(e) for e in group}
            outs[src] = [e for e in outs[src] if id(e) not in ids] + [shared]
            outs[t] = [e for e in group if e.ops]
            work.append(t)
            fired = True
    if fired:
        g.toposort()
    return fired
