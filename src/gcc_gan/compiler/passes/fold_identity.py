"""Fold identity: drop `identity` ops from pipelines, and merge a node that is a plain copy
of another (its only input is an op-less edge) into that node."""

from __future__ import annotations

from ..ir import IRGraph


def run(g: IRGraph) -> bool:
    fired = False
    for e in g.edges:
        kept = [op for op in e.ops if op.call.op != "identity"]
        if len(kept) != len(e.ops):
            e.ops = kept
            fired = True
    for node in list(g.nodes):
        ins = g.in_edges(node)
        if len(ins) == 1 and not ins[0].ops and len(ins[0].srcs) == 1:
            src = ins[0].srcs[0]
            if g.is_output(node) and src in g.inputs:
                continue  # keep an explicit node for an output that copies an input
            g.edges.remove(ins[0])
            del g.nodes[node]
            g.replace_uses(node, src)
            fired = True
    return fired
