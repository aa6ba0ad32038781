"""Dead-computation removal on a genotype network (before any shape inference).

A `none`-only edge contributes zeros, so it is dropped; then every node that no input
reaches, or that reaches no output, is removed with all its edges. What is left computes
exactly what the original computes at its outputs. Searchers' derivations and the
published encodings (whose official code may compute a node and drop it) use this so
they always emit a valid genotype; the compiler's `dead_code` pass does the same on the
IR.
"""

from __future__ import annotations

from collections import defaultdict

from .analysis import _closure
from .model import Edge, Network


def is_none_edge(edge: Edge) -> bool:
    return len(edge.ops) == 1 and edge.ops[0].op == "none"


def dead_nodes(net: Network) -> list[str]:
    """Names of the nodes `prune_dead` would remove (in declaration order)."""
    edges = [e for e in net.edges if not is_none_edge(e)]
    succ: dict[str, list[str]] = defaultdict(list)
    pred: dict[str, list[str]] = defaultdict(list)
    for e in edges:
        succ[e.src].append(e.dst)
        pred[e.dst].append(e.src)
    reach = _closure([i.name for i in net.inputs], succ)
    live = _closure([o.node for o in net.outputs], pred)
    return [n.name for n in net.nodes if n.name not in reach or n.name not in live]


def prune_dead(net: Network) -> Network:
    """`net` without `none` edges and without the nodes (and their edges) that cannot
    contribute to an output. Returns `net` itself when nothing is dead."""
    dead = set(dead_nodes(net))
    if not dead and not any(is_none_edge(e) for e in net.edges):
        return net
    nodes = [n for n in net.nodes if n.name not in dead]
    edges = [e for e in net.edges if not is_none_edge(e) and e.src not in dead and e.dst not in dead]
    return net.model_copy(update={"nodes": nodes, "edges": edges})
