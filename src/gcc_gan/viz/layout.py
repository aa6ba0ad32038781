"""A small layered (Sugiyama-style) layout for DAGs with labelled edges, top to bottom.

No graphviz binary is needed. Steps:

1. layering: a node's layer is its longest path from a source; layer L sits on rank 2L,
2. every edge becomes a chain of virtual items, one per rank it crosses: its label box on
   the rank just above its destination (so the labels of a node's inputs sit side by side
   right above it) and thin dummies on the others, so long edges route between nodes and
   labels can never overlap (they take horizontal room like nodes do),
3. ordering: barycentric sweeps down and up, plus adjacent swaps, keeping the order with
   the fewest crossings,
4. x: repeated passes pulling each item toward the mean of its neighbours, solved per rank
   as an isotonic regression (pool adjacent violators) so items keep their order and never
   overlap; y: ranks stacked with fixed gaps.

Units are arbitrary (the renderer uses typographic points). Pure Python, no matplotlib.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Sequence


@dataclass
class Item:
    """Something placed on a rank: a node, an edge label, or a dummy point of a long edge."""

    key: str
    kind: str  # "node" | "label" | "dummy"
    w: float
    h: float
    rank: int = 0
    x: float = 0.0  # centre
    y: float = 0.0  # centre
    up: list["Item"] = field(default_factory=list, repr=False)  # neighbours on rank - 1
    down: list["Item"] = field(default_factory=list, repr=False)  # neighbours on rank + 1

    @property
    def top(self) -> float:
        return self.y - self.h / 2

    @property
    def bottom(self) -> float:
        return self.y + self.h / 2

    @property
    def left(self) -> float:
        return self.x - self.w / 2

    @property
    def right(self) -> float:
        return self.x + self.w / 2


@dataclass
class LaidEdge:
    index: int  # position in the input edge list
    src: Item
    dst: Item
    chain: list[Item]  # virtual items between src and dst, top to bottom
    label: Item | None


@dataclass
class Layout:
    nodes: dict[str, Item]
    edges: list[LaidEdge]
    ranks: list[list[Item]]
    rank_top: list[float]
    rank_bottom: list[float]
    width: float
    height: float
    crossings: int


def layered_layout(
    nodes: Sequence[tuple[str, float, float]],
    edges: Sequence[tuple[str, str, tuple[float, float] | None]],
    *,
    hgap: float = 14.0,
    vgap: float = 18.0,
    dummy_w: float = 6.0,
    sweeps: int = 12,
) -> Layout:
    """Lay out a DAG. `nodes`: (key, width, height); `edges`: (src, dst, label size or
    None). Raises ValueError on an unknown key or a cycle."""
    items = {k: Item(k, "node", w, h) for k, w, h in nodes}
    for s, d, _ in edges:
        for k in (s, d):
            if k not in items:
                raise ValueError(f"edge refers to unknown node {k!r}")

    # 1. longest-path layering (Kahn order, declaration order breaks ties)
    preds: dict[str, list[str]] = defaultdict(list)
    succs: dict[str, list[str]] = defaultdict(list)
    for s, d, _ in edges:
        preds[d].append(s)
        succs[s].append(d)
    indeg = {k: len(preds[k]) for k in items}
    queue = [k for k in items if indeg[k] == 0]
    layer: dict[str, int] = {}
    while queue:
        k = queue.pop(0)
        layer[k] = max((layer[p] + 1 for p in preds[k]), default=0)
        for m in succs[k]:
            indeg[m] -= 1
            if indeg[m] == 0:
                queue.append(m)
    if len(layer) < len(items):
        raise ValueError("the graph has a cycle")
    # a source feeding only deep nodes (a second input) sits just above its first reader
    for k in items:
        if not preds[k] and succs[k]:
            layer[k] = max(layer[k], min(layer[m] for m in succs[k]) - 1)
    for k, it in items.items():
        it.rank = 2 * layer[k]

    # 2. chains of virtual items
    n_ranks = max((it.rank for it in items.values()), default=0) + 1
    ranks: list[list[Item]] = [[] for _ in range(n_ranks)]
    for it in items.values():
        ranks[it.rank].append(it)
    laid: list[LaidEdge] = []
    for i, (s, d, lab) in enumerate(edges):
        src, dst = items[s], items[d]
        chain: list[Item] = []
        label = None
        for r in range(src.rank + 1, dst.rank):
            if lab is not None and r == dst.rank - 1:
                label = Item(f"label:{i}", "label", lab[0], lab[1], rank=r)
                chain.append(label)
            else:
                chain.append(Item(f"dummy:{i}:{r}", "dummy", dummy_w, 0.0, rank=r))
            ranks[r].append(chain[-1])
        path = [src, *chain, dst]
        for a, b in zip(path, path[1:]):
            a.down.append(b)
            b.up.append(a)
        laid.append(LaidEdge(i, src, dst, chain, label))

    # 3. ordering
    _order(ranks, sweeps)
    crossings = sum(_crossings(ranks[r], ranks[r + 1]) for r in range(n_ranks - 1))

    # 4. coordinates
    _place_x(ranks, hgap)
    for _ in range(3):
        _straighten(ranks, laid, hgap)
    heights = [max((it.h for it in rank), default=0.0) for rank in ranks]
    tops, bottoms = [], []
    y = 0.0
    for r, rank in enumerate(ranks):
        h = max(heights[r], 4.0)
        tops.append(y)
        bottoms.append(y + h)
        for it in rank:
            it.y = y + h / 2  # a dummy is a point (h 0) the edge's curve passes through
        y += h + vgap
    every = [it for rank in ranks for it in rank]
    left = min((it.left for it in every), default=0.0)
    for it in every:
        it.x -= left
    width = max((it.right for it in every), default=0.0)
    return Layout(items, laid, ranks, tops, bottoms, width, max(y - vgap, 0.0), crossings)


# ---------------------------------------------------------------------------------------
# ordering


def _crossings(upper: list[Item], lower: list[Item]) -> int:
    pos_u = {id(it): i for i, it in enumerate(upper)}
    pos_l = {id(it): i for i, it in enumerate(lower)}
    segs = sorted((pos_u[id(a)], pos_l[id(b)]) for a in upper for b in a.down if id(b) in pos_l)
    n = 0
    for i in range(len(segs)):
        for j in range(i + 1, len(segs)):
            if segs[i][0] < segs[j][0] and segs[i][1] > segs[j][1]:
                n += 1
    return n


def _total(ranks: list[list[Item]]) -> int:
    return sum(_crossings(ranks[r], ranks[r + 1]) for r in range(len(ranks) - 1))


def _sort_by_barycentre(rank: list[Item], neighbours: str, ref: list[Item]) -> None:
    pos = {id(it): i for i, it in enumerate(ref)}
    keys = {}
    for i, it in enumerate(rank):
        ns = [pos[id(n)] for n in getattr(it, neighbours) if id(n) in pos]
        # items without neighbours there keep their relative place
        keys[id(it)] = (sum(ns) / len(ns) * len(rank) / max(len(ref), 1)) if ns else float(i)
    rank.sort(key=lambda it: keys[id(it)])  # stable: ties keep the current order


def _transpose(ranks: list[list[Item]]) -> None:
    """Swap neighbours on a rank while that lowers the crossings around it."""
    improved = True
    rounds = 0
    while improved and rounds < 4:
        improved = False
        rounds += 1
        for r, rank in enumerate(ranks):
            for i in range(len(rank) - 1):
                def local() -> int:
                    c = _crossings(ranks[r - 1], rank) if r > 0 else 0
                    return c + (_crossings(rank, ranks[r + 1]) if r + 1 < len(ranks) else 0)
                before = local()
                rank[i], rank[i + 1] = rank[i + 1], rank[i]
                if local() < before:
                    improved = True
                else:
                    rank[i], rank[i + 1] = rank[i + 1], rank[i]


def _order(ranks: list[list[Item]], sweeps: int) -> None:
    # initial order: each rank by the barycentre of what it hangs from
    for r in range(1, len(ranks)):
        _sort_by_barycentre(ranks[r], "up", ranks[r - 1])
    best = [list(rank) for rank in ranks]
    best_c = _total(ranks)
    small = sum(len(rank) for rank in ranks) <= 400
    for s in range(sweeps):
        if best_c == 0:
            break
        if s % 2 == 0:
            for r in range(1, len(ranks)):
                _sort_by_barycentre(ranks[r], "up", ranks[r - 1])
        else:
            for r in range(len(ranks) - 2, -1, -1):
                _sort_by_barycentre(ranks[r], "down", ranks[r + 1])
        if small:  # adjacent swaps cost O(items × edges²): only for pictures a person can read
            _transpose(ranks)
        c = _total(ranks)
        if c < best_c:
            best_c, best = c, [list(rank) for rank in ranks]
    for r, rank in enumerate(best):
        ranks[r][:] = rank


# ---------------------------------------------------------------------------------------
# x coordinates


def _isotonic(targets: list[float], weights: list[float]) -> list[float]:
    """Weighted least-squares non-decreasing fit (pool adjacent violators)."""
    blocks: list[list[float]] = []  # [value, weight, count]
    for t, w in zip(targets, weights):
        blocks.append([t, w, 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            v2, w2, n2 = blocks.pop()
            v1, w1, n1 = blocks.pop()
            blocks.append([(v1 * w1 + v2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    out: list[float] = []
    for v, _, n in blocks:
        out.extend([v] * int(n))
    return out


def _fit_rank(rank: list[Item], desired: list[float], weights: list[float], hgap: float) -> None:
    """Closest positions to `desired` keeping the order and a gap between neighbours."""
    offsets = [0.0]
    for a, b in zip(rank, rank[1:]):
        offsets.append(offsets[-1] + a.w / 2 + b.w / 2 + (hgap if "dummy" not in (a.kind, b.kind) else hgap / 2))
    fitted = _isotonic([d - o for d, o in zip(desired, offsets)], weights)
    for it, f, o in zip(rank, fitted, offsets):
        it.x = f + o


def _place_x(ranks: list[list[Item]], hgap: float) -> None:
    for rank in ranks:  # start packed, centred on 0
        _fit_rank(rank, [0.0] * len(rank), [1.0] * len(rank), hgap)

    def pull(rank: list[Item], attr: str | None) -> None:
        desired, weights = [], []
        for it in rank:
            ns = (it.up + it.down) if attr is None else getattr(it, attr)
            if ns:
                desired.append(sum(n.x for n in ns) / len(ns))
                # dummies weigh more: long edges stay straight
                weights.append(4.0 if it.kind == "dummy" else 1.0 + 0.5 * (it.kind == "node"))
            else:
                desired.append(it.x)
                weights.append(0.2)
        _fit_rank(rank, desired, weights, hgap)

    for _ in range(6):
        for r in range(1, len(ranks)):
            pull(ranks[r], "up")
        for r in range(len(ranks) - 2, -1, -1):
            pull(ranks[r], "down")
    for _ in range(12):
        for r in range(len(ranks)):
            pull(ranks[r], None)


def _straighten(ranks: list[list[Item]], edges: list[LaidEdge], hgap: float) -> None:
    """Put each run of a long edge's dummies on one vertical line where the neighbours
    leave room, so long edges read as straight lines instead of wiggles."""
    index = {id(it): (r, i) for r, rank in enumerate(ranks) for i, it in enumerate(rank)}
    for e in edges:
        runs: list[list[Item]] = [[]]
        for it in e.chain:
            if it.kind == "dummy":
                runs[-1].append(it)
            elif runs[-1]:
                runs.append([])
        for run in runs:
            if len(run) < 2:
                continue
            lo, hi = float("-inf"), float("inf")
            for d in run:
                r, i = index[id(d)]
                rank = ranks[r]
                if i > 0:
                    lo = max(lo, rank[i - 1].right + hgap / 2 + d.w / 2)
                if i + 1 < len(rank):
                    hi = min(hi, rank[i + 1].left - hgap / 2 - d.w / 2)
            if lo > hi:
                continue
            # prefer lining up with what the run leads into (its label or destination)
            after = e.chain[e.chain.index(run[-1]) + 1] if run[-1] is not e.chain[-1] else e.dst
            target = after.x if lo <= after.x <= hi else sum(d.x for d in run) / len(run)
            for d in run:
                d.x = min(max(target, lo), hi)
