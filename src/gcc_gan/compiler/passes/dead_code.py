"""Remove `none` edges (they contribute zeros) and everything that cannot reach an output.

`none` is only ever a whole edge (validation rejects it inside a pipeline, and no pass
puts one there), so an edge is zero exactly when its pipeline is `[none]`."""

from __future__ import annotations

from ..ir import IREdge, IRGraph


def is_zero(e: IREdge) -> bool:
    return len(e.ops) == 1 and e.ops[0].call.op == "none"


def run(g: IRGraph) -> bool:
    ins = g.in_edge_map()
    dead: list[IREdge] = []
    for node in g.nodes:
        zero = [e for e in ins[node] if is_zero(e)]
        # keep one zero edge if nothing else feeds the node: it still defines a (zero) tensor
        dead += zero[: len(zero) if len(zero) < len(ins[node]) else len(zero) - 1]
    g.remove_edges(dead)
    # liveness from the outputs backwards
    ins = g.in_edge_map()
    live = g.output_nodes()
    stack = list(live)
    while stack:
        for e in ins.get(stack.pop(), []):
            for s in e.srcs:
                if s not in live:
                    live.add(s)
                    stack.append(s)
    dead_edges = [e for e in g.edges if e.dst not in live]
    dead_nodes = [n for n in g.nodes if n not in live]
    g.remove_edges(dead_edges)
    for n in dead_nodes:
        del g.nodes[n]
    return bool(dead or dead_edges or dead_nodes)
