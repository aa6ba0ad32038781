"""Semantic validation and shape inference of a network.

`analyze(net)` checks everything the type model cannot (names, references, cycles,
reachability, op applicability, channel/size agreement at every sum) and returns the
inferred shapes, the topological order and per-op costs. Every problem is reported with
the JSON path of what is wrong; all problems are collected before raising.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ..errors import GenotypeError, Problem
from .model import Edge, Genotype, ImageInput, LatentInput, Network, OpCall
from .ops import OpCtx, Shape, fmt_shape


@dataclass(frozen=True)
class OpInfo:
    call: OpCall
    ctx: OpCtx
    out_shape: Shape
    params: int
    macs: int


@dataclass
class EdgeInfo:
    index: int
    edge: Edge
    in_shape: Shape
    ops: list[OpInfo]

    @property
    def out_shape(self) -> Shape:
        return self.ops[-1].out_shape if self.ops else self.in_shape


@dataclass
class NetInfo:
    """A validated network with everything inferred about it."""

    net: Network
    shapes: dict[str, Shape]  # every input and node
    order: list[str]  # inputs and nodes, topologically sorted
    edges: list[EdgeInfo]
    in_edges: dict[str, list[int]] = field(default_factory=dict)  # node -> edge indices

    @property
    def params(self) -> int:
        return sum(o.params for e in self.edges for o in e.ops)

    @property
    def macs(self) -> int:
        return sum(o.macs for e in self.edges for o in e.ops)

    @property
    def input_shapes(self) -> dict[str, Shape]:
        return {i.name: self.shapes[i.name] for i in self.net.inputs}

    @property
    def output_shapes(self) -> dict[str, Shape]:
        return {o.name: self.shapes[o.node] for o in self.net.outputs}


def input_shape(inp: LatentInput | ImageInput) -> Shape:
    if isinstance(inp, LatentInput):
        return (inp.dim,)
    return (inp.channels, inp.size, inp.size)


def analyze(net: Network, where: str = "generator", role: str | None = None) -> NetInfo:
    """Validate `net` and infer its shapes; raises GenotypeError listing every problem.

    `where` prefixes JSON paths; `role` ("generator"/"discriminator") adds the input-kind
    check for that role.
    """
    problems: list[Problem] = []

    def bad(path: str, msg: str) -> None:
        problems.append(Problem(f"{where}.{path}" if path else where, msg))

    # -- names ------------------------------------------------------------------------
    kinds: dict[str, str] = {}
    for i, inp in enumerate(net.inputs):
        if inp.name in kinds:
            bad(f"inputs[{i}].name", f"duplicate name {inp.name!r}")
        kinds[inp.name] = "input"
        if role == "generator" and not isinstance(inp, LatentInput):
            bad(f"inputs[{i}]", "a generator's inputs must be latent vectors (kind 'latent')")
        if role == "discriminator" and not isinstance(inp, ImageInput):
            bad(f"inputs[{i}]", "a discriminator's inputs must be images (kind 'image')")
    node_index: dict[str, int] = {}
    for i, node in enumerate(net.nodes):
        if node.name in kinds:
            user = "an input" if kinds[node.name] == "input" else "a node"
            bad(f"nodes[{i}].name", f"duplicate name {node.name!r} (already used by {user})")
            continue
        kinds[node.name] = "node"
        node_index[node.name] = i
    seen_edge_names: set[str] = set()
    for i, e in enumerate(net.edges):
        if e.name is not None:
            if e.name in seen_edge_names:
                bad(f"edges[{i}].name", f"duplicate edge name {e.name!r}")
            seen_edge_names.add(e.name)
    out_names: set[str] = set()
    for i, o in enumerate(net.outputs):
        if o.name in out_names:
            bad(f"outputs[{i}].name", f"duplicate output name {o.name!r}")
        out_names.add(o.name)
        if o.node not in kinds:
            bad(f"outputs[{i}].node", f"output {o.name!r} refers to unknown node {o.node!r}")

    # -- references ---------------------------------------------------------------------
    in_edges: dict[str, list[int]] = defaultdict(list)
    succ: dict[str, list[str]] = defaultdict(list)
    for i, e in enumerate(net.edges):
        ok = True
        if e.src not in kinds:
            bad(f"edges[{i}].src", f"unknown node {e.src!r}")
            ok = False
        if e.dst not in kinds:
            bad(f"edges[{i}].dst", f"unknown node {e.dst!r}")
            ok = False
        elif kinds[e.dst] == "input":
            bad(f"edges[{i}].dst", f"{e.dst!r} is an input; edges cannot feed an input")
            ok = False
        if ok:
            in_edges[e.dst].append(i)
            succ[e.src].append(e.dst)
    if problems:
        raise GenotypeError(problems)

    # -- order and cycles (Kahn, ties broken by declaration order) ------------------------
    names = [i.name for i in net.inputs] + [n.name for n in net.nodes]
    indeg = {n: 0 for n in names}
    for e in net.edges:
        indeg[e.dst] += 1
    order: list[str] = []
    ready = [n for n in names if indeg[n] == 0]
    pos = {n: k for k, n in enumerate(names)}
    while ready:
        ready.sort(key=pos.__getitem__)
        n = ready.pop(0)
        order.append(n)
        for m in succ[n]:
            indeg[m] -= 1
            if indeg[m] == 0:
                ready.append(m)
    if len(order) < len(names):
        cyc = _find_cycle({n for n in names if indeg[n] > 0}, succ)
        bad("edges", "cycle: " + " → ".join(cyc))
        raise GenotypeError(problems)

    # -- reachability -------------------------------------------------------------------
    reach = _closure([i.name for i in net.inputs], succ)
    pred: dict[str, list[str]] = defaultdict(list)
    for e in net.edges:
        pred[e.dst].append(e.src)
    live = _closure([o.node for o in net.outputs if o.node in kinds], pred)
    for i, node in enumerate(net.nodes):
        if node.name not in reach:
            why = "it has no incoming edge" if not in_edges[node.name] else "no path leads to it from an input"
            bad(f"nodes[{i}]", f"node {node.name!r} is unreachable from the inputs ({why})")
        elif node.name not in live:
            bad(f"nodes[{i}]", f"node {node.name!r} is dead: it does not reach any output")
    if problems:
        raise GenotypeError(problems)

    # -- shapes -------------------------------------------------------------------------
    shapes: dict[str, Shape] = {i.name: input_shape(i) for i in net.inputs}
    edge_infos: list[EdgeInfo | None] = [None] * len(net.edges)
    for name in order:
        if kinds[name] == "input":
            continue
        node = net.nodes[node_index[name]]
        want_c = node.n_channels(net.base_width)
        got: list[tuple[int, Shape]] = []
        for ei in in_edges[name]:
            e = net.edges[ei]
            if e.src not in shapes:  # its source failed already
                continue
            info = _edge_info(ei, e, shapes[e.src], want_c, net.base_width, bad)
            if info is None:
                continue
            edge_infos[ei] = info
            got.append((ei, info.out_shape))
        if not got:
            continue
        first_ei, first = got[0]
        ok = True
        for ei, s in got:
            if s[0] != want_c:
                bad(f"edges[{ei}]", f"edge {net.edges[ei].src!r} → {name!r} delivers {s[0]} channels "
                    f"but node {name!r} has {want_c}" + _chan_hint(net.edges[ei]))
                ok = False
            elif s != first:
                bad(f"nodes[{node_index[name]}]", f"cannot sum the inputs of node {name!r}: edges[{first_ei}] "
                    f"gives {fmt_shape(first)} but edges[{ei}] gives {fmt_shape(s)}")
                ok = False
        if ok:
            shapes[name] = first
    if problems:
        raise GenotypeError(problems)
    return NetInfo(net=net, shapes=shapes, order=order, edges=[e for e in edge_infos if e is not None],
                   in_edges=dict(in_edges))


def _chan_hint(e: Edge) -> str:
    if any(op.spec.produces_channels for op in e.ops):
        return ""
    return " (no op on this edge changes channels: add a conv/linear or fix the node's width)"


def _edge_info(ei: int, e: Edge, shape: Shape, dst_c: int, base_width: int, bad) -> EdgeInfo | None:
    ops: list[OpInfo] = []
    cur = shape
    for j, call in enumerate(e.ops):
        spec, p = call.spec, call.params
        ctx = OpCtx(in_shape=cur, out_channels=spec.resolve_out_channels(p, cur[0], dst_c, base_width))
        try:
            out = spec.shape(p, ctx)
            ops.append(OpInfo(call, ctx, out, spec.n_params(p, ctx), spec.macs(p, ctx, out)))
        except ValueError as ex:
            bad(f"edges[{ei}].ops[{j}]", f"{ex} (input {fmt_shape(cur)}, edge {e.src!r} → {e.dst!r})")
            return None
        cur = out
    return EdgeInfo(ei, e, shape, ops)


def _closure(start: list[str], nxt: dict[str, list[str]]) -> set[str]:
    seen = set(start)
    stack = list(start)
    while stack:
        for m in nxt[stack.pop()]:
            if m not in seen:
                seen.add(m)
                stack.append(m)
    return seen


def _find_cycle(nodes: set[str], succ: dict[str, list[str]]) -> list[str]:
    """One cycle among `nodes`: those Kahn's sort could not order. Each of them has a
    predecessor among them, so walking predecessors must close a loop."""
    pred: dict[str, list[str]] = defaultdict(list)
    for a in nodes:
        for b in succ[a]:
            if b in nodes:
                pred[b].append(a)
    path: list[str] = []
    onpath: dict[str, int] = {}
    cur = min(nodes)
    while cur not in onpath:
        onpath[cur] = len(path)
        path.append(cur)
        cur = pred[cur][0]
    loop = path[onpath[cur]:][::-1]
    return loop + [loop[0]]


def analyze_genotype(g: Genotype) -> dict[str, NetInfo]:
    """Analyze every network of `g`; raises GenotypeError with the problems of all."""
    infos: dict[str, NetInfo] = {}
    problems: list[Problem] = []
    for key, net in g.networks().items():
        try:
            infos[key] = analyze(net, where=key, role=key)
        except GenotypeError as e:
            problems.extend(e.problems)
    if problems:
        raise GenotypeError(problems)
    return infos
