"""Remove `none` edges (they contribute zeros) and everything that cannot reach an output."""

from __future__ import annotations

from ..ir import IRGraph


def is_zero(e) -> bool:
    return any(op.call.op == "none" for op in e.ops)


def run(g: IRGraph) -> bool:
    fired = False
    for node in list(g.nodes):
        ins = g.in_edges(node)
        zero = [e for e in ins if is_zero(e)]
        # keep one zero edge if nothing else feeds the node: it still defines a (zero) tensor
        for e in zero[: len(zero) if len(zero) < len(ins) else len(zero) - 1]:
            g.edges.remove(e)
            fired = True
    # liveness from the outputs backwards
    live = {n for _, n in g.outputs}
    stack = list(live)
    while stack:
        for e in g.in_edges(stack.pop()):
            for s in e.srcs:
                if s not in live:
                    live.add(s)
                    stack.append(s)
    dead_edges = [e for e in g.edges if e.dst not in live]
    dead_nodes = [n for n in g.nodes if n not in live]
    for e in dead_edges:
        g.edges.remove(e)
    for n in dead_nodes:
        del g.nodes[n]
    return fired or bool(dead_edges or dead_nodes)
