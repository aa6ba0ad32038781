"""Common-subexpression elimination: edges leaving the same node with an identical op
prefix (same ops, parameters and weights) share one computation of that prefix."""

from __future__ import annotations

from ..ir import IREdge, IRGraph


def _common_prefix(edges: list[IREdge]) -> int:
    n = min(len(e.ops) for e in edges)
    k = 0
    while k < n and all(e.ops[k].same_as(edges[0].ops[k]) for e in edges[1:]):
        k += 1
    return k


def run(g: IRGraph) -> bool:
    fired = False
    changed = True
    while changed:
        changed = False
        for src in [*g.inputs, *g.nodes]:
            outs = [e for e in g.edges if e.srcs == [src] and e.ops]
            for i, first in enumerate(outs):
                group = [first] + [e for e in outs[i + 1:] if e.ops[0].same_as(first.ops[0])]
                if len(group) < 2:
                    continue
                k = _common_prefix(group)
                shape = group[0].ops[k - 1].out_shape
                label = "_".join(op.call.op for op in group[0].ops[:k])
                t = g.fresh_name(f"{src}_{label}"[:48])
                order = list(g.nodes)
                first_dst = min((e.dst for e in group), key=order.index)
                g.add_node_before(t, shape, first_dst)
                g.edges.insert(g.edges.index(group[0]), IREdge([src], t, group[0].ops[:k], g.fresh_edge_name(t)))
                for e in group:
                    e.srcs, e.ops = [t], e.ops[k:]
                fired = changed = True
                break
            if changed:
                break
    return fired
