"""Fold identity: drop `identity` ops from pipelines, and merge a node that is a plain copy
of another (its only input is an op-less edge) into that node. Linear in the graph size:
copies are resolved in one pass in topological order (a copy of a copy resolves to the
first), then every use is rewritten in one sweep."""

from __future__ import annotations

from ..ir import IREdge, IRGraph


def run(g: IRGraph) -> bool:
    fired = False
    for e in g.edges:
        kept = [op for op in e.ops if op.call.op != "identity"]
        if len(kept) != len(e.ops):
            e.ops = kept
            fired = True
    ins = g.in_edge_map()
    outputs = g.output_nodes()
    rep: dict[str, str] = {}  # merged node -> the node or input it copies
    dead: list[IREdge] = []
    for node in g.nodes:  # topological: a copy's source is resolved before it
        edges = ins[node]
        if len(edges) == 1 and not edges[0].ops and len(edges[0].srcs) == 1:
            src = rep.get(edges[0].srcs[0], edges[0].srcs[0])
            if node in outputs and src in g.inputs:
                continue  # keep an explicit node for an output that copies an input
            rep[node] = src
            dead.append(edges[0])
    if not rep:
        return fired
    g.remove_edges(dead)
    for n in rep:
        del g.nodes[n]
    for e in g.edges:
        e.srcs = [rep.get(s, s) for s in e.srcs]
    g.outputs = [(o, rep.get(n, n)) for o, n in g.outputs]
    return True
