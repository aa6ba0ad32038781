"""The student space of a teacher generator, derived from its genotype by the DSL alone.

A student is the teacher's DAG with
* a width multiplier per channel group (×1, ×0.75, ×0.5, ×0.25): nodes whose channels must
  agree move together — the two ends of an edge that changes no channels (identity, an
  upsample-only skip, a depthwise conv), so every sum still adds equal shapes; nodes with
  absolute channels and output nodes (the image) keep theirs;
* per op site a cheaper form the registry offers: a k×k conv as `sep_conv` (depthwise k×k
  then 1×1), a 5×5 (any k > 3) as a 3×3 and as a separable 3×3, a bilinear upsample as a
  nearest one (which the compiler then makes sub-pixel);
* side edges dropped: a linear branch (no nonlinearity on it) into a node that has other
  inputs, from a node that has other consumers (shortcuts, skip-ins, identities); drops that would leave a node without inputs or
  consumers are undone (`normalized`).
Every student is a `Network` that validates; variant 0 of everything is the teacher.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import GccGanError
from ..genotype_dsl.analysis import analyze
from ..genotype_dsl.model import Edge, Network, Node, OpCall

WIDTHS = (1.0, 0.75, 0.5, 0.25)


@dataclass(frozen=True)
class Arch:
    """One student: a width index per channel group, a variant index per op site, a drop
    flag per droppable edge (all zero: the teacher)."""

    widths: tuple[int, ...]
    ops: tuple[int, ...]
    drops: tuple[bool, ...]

    def to_json(self) -> dict[str, Any]:
        return {"widths": list(self.widths), "ops": list(self.ops), "drops": [int(d) for d in self.drops]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Arch:
        return cls(tuple(int(w) for w in d["widths"]), tuple(int(o) for o in d["ops"]),
                   tuple(bool(x) for x in d["drops"]))

    def key(self) -> str:
        return "w" + "".join(map(str, self.widths)) + "-o" + "".join(map(str, self.ops)) + \
            "-d" + "".join(str(int(d)) for d in self.drops)


@dataclass(frozen=True)
class OpSite:
    edge: int  # teacher edge index
    op: int  # op index in the edge's pipeline
    variants: tuple[OpCall, ...]  # [0] is the teacher's op


class _UnionFind:
    def __init__(self, names: list[str]) -> None:
        self.parent = {n: n for n in names}

    def find(self, a: str) -> str:
        while self.parent[a] != a:
            self.parent[a] = self.parent[self.parent[a]]
            a = self.parent[a]
        return a

    def union(self, a: str, b: str) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _grouped(op: OpCall) -> bool:
    p = op.params
    return bool(getattr(p, "depthwise", False)) or getattr(p, "groups", 1) > 1


def channel_groups(net: Network) -> tuple[list[tuple[str, ...]], frozenset[str]]:
    """(groups of nodes whose channels must scale together, nodes whose channels are fixed).
    Every group is in topological-free but deterministic order (the nodes' declaration order)."""
    names = [n.name for n in net.nodes]
    uf = _UnionFind(names)
    fixed = {n.name for n in net.nodes if n.channels is not None} | {o.node for o in net.outputs}
    node_set = set(names)
    for e in net.edges:
        producing = [o for o in e.ops if o.spec.produces_channels]
        if e.src not in node_set:  # from an input: only its destination's channels matter
            continue
        if not producing or any(_grouped(o) for o in producing):
            uf.union(e.src, e.dst)  # channels pass through (or groups tie them)
        if any(_grouped(o) and not getattr(o.params, "depthwise", False) for o in producing):
            fixed |= {e.src, e.dst}  # a groups=g conv needs channels divisible by g: leave them
        if any(getattr(o.params, "sn", False) for o in producing):
            raise GccGanError(f"edge {e.src!r} → {e.dst!r}: spectral-normalised generator layers cannot be "
                              "sliced into students (compress supports plain conv / linear generators)")
    by_root: dict[str, list[str]] = {}
    for n in names:
        by_root.setdefault(uf.find(n), []).append(n)
    fixed_roots = {uf.find(n) for n in fixed}
    groups = [tuple(v) for r, v in by_root.items() if r not in fixed_roots]
    frozen = frozenset(n for r, v in by_root.items() if r in fixed_roots for n in v)
    return groups, frozen


def _conv_variants(op: OpCall) -> tuple[OpCall, ...]:
    p = op.params
    if p.kernel < 3 or _grouped(op) or p.stride != 1 or p.padding not in (None, p.dilation * (p.kernel - 1) // 2):
        return (op,)
    keep: dict[str, Any] = {}
    if p.out_width is not None:
        keep["out_width"] = p.out_width
    if p.out_channels is not None:
        keep["out_channels"] = p.out_channels
    if not p.bias:
        keep["bias"] = False
    dil = {"dilation": p.dilation} if p.dilation > 1 else {}
    out = [op]
    if p.kernel > 3:
        out.append(op.with_params(kernel=3))
    out.append(OpCall.of("sep_conv", kernel=p.kernel, **dil, **keep))
    if p.kernel > 3:
        out.append(OpCall.of("sep_conv", kernel=3, **dil, **keep))
    return tuple(out)


def op_sites(net: Network) -> list[OpSite]:
    """Every op with a cheaper registry form, in edge / pipeline order."""
    sites = []
    for ei, e in enumerate(net.edges):
        for j, op in enumerate(e.ops):
            if op.op == "conv":
                variants = _conv_variants(op)
            elif op.op == "upsample" and op.params.mode == "bilinear":
                variants = (op, op.with_params(mode="nearest"))
            else:
                continue
            if len(variants) > 1:
                sites.append(OpSite(ei, j, variants))
    return sites


#: the nonlinearities: an edge applying one is on a main path, not a side branch
_NONLINEAR = frozenset({"relu", "leaky_relu", "tanh"})


def droppable_edges(net: Network) -> list[int]:
    """Side edges: linear branches (no nonlinearity: shortcuts, skip-ins, identities) into a
    node with other inputs, from a node with other consumers."""
    ins: dict[str, int] = {}
    outs: dict[str, int] = {}
    for e in net.edges:
        ins[e.dst] = ins.get(e.dst, 0) + 1
        outs[e.src] = outs.get(e.src, 0) + 1
    nodes = {n.name for n in net.nodes}
    return [i for i, e in enumerate(net.edges) if e.src in nodes and ins[e.dst] > 1 and outs[e.src] > 1
            and not any(o.op in _NONLINEAR for o in e.ops)]


def _tied_reshape(e: Edge) -> int | None:
    """Index of the op whose explicit out_width/out_channels is the destination's channels ×
    positions (a linear stem followed by a reshape), else None."""
    for j, op in enumerate(e.ops):
        p = op.params
        if op.spec.produces_channels and (getattr(p, "out_width", None) is not None
                                          or getattr(p, "out_channels", None) is not None):
            rest = e.ops[j + 1:]
            if any(o.op == "reshape" for o in rest) and not any(o.spec.produces_channels for o in rest):
                return j
    return None


class StudentSpace:
    """The students of one teacher generator (see the module docstring)."""

    def __init__(self, teacher: Network) -> None:
        self.teacher = teacher
        self.info = analyze(teacher, "generator", role="generator")
        self.groups, self.fixed = channel_groups(teacher)
        self.sites = op_sites(teacher)
        self.droppable = droppable_edges(teacher)
        self._site_at = {(s.edge, s.op): (k, s) for k, s in enumerate(self.sites)}
        self._group_of = {n: k for k, g in enumerate(self.groups) for n in g}

    # -- the corners and random members ------------------------------------------------
    def largest(self) -> Arch:
        return Arch((0,) * len(self.groups), (0,) * len(self.sites), (False,) * len(self.droppable))

    def smallest(self) -> Arch:
        return self.normalized(Arch((len(WIDTHS) - 1,) * len(self.groups),
                                    tuple(len(s.variants) - 1 for s in self.sites), (True,) * len(self.droppable)))

    def sample(self, rng: np.random.Generator) -> Arch:
        return self.normalized(Arch(tuple(int(rng.integers(len(WIDTHS))) for _ in self.groups),
                                    tuple(int(rng.integers(len(s.variants))) for s in self.sites),
                                    tuple(bool(rng.integers(2)) for _ in self.droppable)))

    def mutate(self, arch: Arch, rng: np.random.Generator, p: float = 0.25) -> Arch:
        """Each choice redrawn with probability `p` (at least one changes)."""
        genes = [("w", i, len(WIDTHS)) for i in range(len(self.groups))] + \
                [("o", i, len(s.variants)) for i, s in enumerate(self.sites)] + \
                [("d", i, 2) for i in range(len(self.droppable))]
        if not genes:
            return arch
        w, o, d = list(arch.widths), list(arch.ops), [int(x) for x in arch.drops]
        pick = [g for g in genes if rng.random() < p] or [genes[int(rng.integers(len(genes)))]]
        for kind, i, n in pick:
            v = int(rng.integers(n))
            {"w": w, "o": o, "d": d}[kind][i] = v
        return self.normalized(Arch(tuple(w), tuple(o), tuple(bool(x) for x in d)))

    def widened(self, arch: Arch, fits: Callable[[Arch], bool], rng: np.random.Generator) -> Arch:
        """`arch` with channel groups widened one step at a time, in random order, while it
        still fits: a student that uses its budget (a random one mostly does not)."""
        w = list(arch.widths)
        for g in rng.permutation(len(w)):
            while w[g] > 0:
                w[g] -= 1
                if not fits(Arch(tuple(w), arch.ops, arch.drops)):
                    w[g] += 1
                    break
        return Arch(tuple(w), arch.ops, arch.drops)

    def normalized(self, arch: Arch) -> Arch:
        """`arch` with the drops undone (in edge order) that would leave a node without
        inputs or without consumers: every normalized arch is a valid network."""
        drops = list(arch.drops)
        net = self.teacher
        while True:
            gone = {self.droppable[i] for i, d in enumerate(drops) if d}
            ins: dict[str, int] = {}
            outs: dict[str, int] = {}
            for i, e in enumerate(net.edges):
                if i not in gone:
                    ins[e.dst] = ins.get(e.dst, 0) + 1
                    outs[e.src] = outs.get(e.src, 0) + 1
            outputs = {o.node for o in net.outputs}
            bad = {n.name for n in net.nodes if not ins.get(n.name) or (n.name not in outputs and not outs.get(n.name))}
            undo = next((k for k, i in enumerate(self.droppable) if drops[k]
                         and (net.edges[i].dst in bad or net.edges[i].src in bad)), None)
            if undo is None:
                return Arch(arch.widths, arch.ops, tuple(drops))
            drops[undo] = False

    # -- an arch as a network ------------------------------------------------------------
    def multiplier(self, arch: Arch, node: str) -> float:
        g = self._group_of.get(node)
        return 1.0 if g is None else WIDTHS[arch.widths[g]]

    def edge_map(self, arch: Arch) -> list[int]:
        """Teacher edge index of each student edge."""
        gone = {self.droppable[i] for i, d in enumerate(arch.drops) if d}
        return [i for i in range(len(self.teacher.edges)) if i not in gone]

    def network(self, arch: Arch) -> Network:
        t = self.teacher
        bw = t.base_width
        nodes = []
        for n in t.nodes:
            m = self.multiplier(arch, n.name)
            nodes.append(n if m == 1.0 else Node(name=n.name, channels=max(1, round(n.n_channels(bw) * m)), cell=n.cell))
        chans = {n.name: n.n_channels(bw) for n in nodes}
        edges = []
        for ei in self.edge_map(arch):
            e = t.edges[ei]
            ops = list(e.ops)
            for j in range(len(ops)):
                hit = self._site_at.get((ei, j))
                if hit is not None:
                    ops[j] = hit[1].variants[arch.ops[hit[0]]]
            tied = _tied_reshape(e)
            m = self.multiplier(arch, e.dst) if e.dst in self._group_of else 1.0
            if tied is not None and m != 1.0:
                # the stem's features are channels × positions: keep the positions, scale the channels
                positions = self.info.edges[self._info_index(ei)].ops[tied].ctx.out_channels // \
                    t.nodes[[n.name for n in t.nodes].index(e.dst)].n_channels(bw)
                ops[tied] = OpCall.of(ops[tied].op, **{k: v for k, v in ops[tied].params.model_dump(
                    exclude_defaults=True).items() if k not in ("out_width", "out_channels")},
                    out_channels=chans[e.dst] * positions)
            edges.append(e.model_copy(update={"ops": ops}))
        return Network(base_width=bw, inputs=t.inputs, nodes=nodes, edges=edges, outputs=t.outputs)

    def _info_index(self, edge_index: int) -> int:
        return next(k for k, e in enumerate(self.info.edges) if e.index == edge_index)

    def describe(self, arch: Arch) -> dict[str, Any]:
        """A readable account of a student's choices (report.json)."""
        kept = set(self.edge_map(arch))
        return {
            "widths": {"+".join(g): WIDTHS[arch.widths[k]] for k, g in enumerate(self.groups)},
            "ops": {f"{self._edge_name(s.edge)}[{s.op}]": s.variants[arch.ops[k]].label()
                    for k, s in enumerate(self.sites) if arch.ops[k] and s.edge in kept},
            "dropped": [self._edge_name(self.droppable[k]) for k, d in enumerate(arch.drops) if d],
        }

    def _edge_name(self, ei: int) -> str:
        e = self.teacher.edges[ei]
        return e.name or f"{e.src}->{e.dst}"

    def size(self) -> int:
        """How many students (before drop repairs merge some)."""
        n = len(WIDTHS) ** len(self.groups) * 2 ** len(self.droppable)
        for s in self.sites:
            n *= len(s.variants)
        return n


def narrowed(teacher: Network, base_width: int) -> Network:
    """The teacher uniformly narrowed: every width-given node scaled by one base width."""
    return teacher.model_copy(update={"base_width": base_width})
