"""Semantic validation and shape inference of a network.

`analyze(net)` checks everything the type model cannot (names, references, cycles,
reachability, op applicability, channel/size agreement at every sum) and returns the
inferred shapes, the topological order and per-op costs. Every problem is reported with
the JSON path of what is wrong; all problems are collected before raising.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

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
    where: str = "network"  # its key in the genotype ("generator" / "discriminator")

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


@dataclass
class _Structure:
    """The graph of a network as far as names go (no ops, no shapes)."""

    kinds: dict[str, str]  # name -> "input" | "node"
    node_index: dict[str, int]
    in_edges: dict[str, list[int]]
    order: list[str] | None  # None: a cycle (or nothing to order)
    reach: set[str]  # reachable from an input
    edge_ok: list[bool]  # the edge's src and dst resolve


def _structure(inputs: list[tuple[str | None, str | None]], nodes: list[str | None],
               edges: list[tuple[str | None, str | None, str | None, list[str | None]]],
               outputs: list[tuple[str | None, str | None]], role: str | None,
               bad: Callable[[str, str], None]) -> _Structure:
    """Names, references, `none` placement, order, cycles and reachability of a network
    given as plain names: (name, kind) inputs, node names, (src, dst, name, op names)
    edges, (name, node) outputs. None stands for a value that failed type checking (its
    problem is reported there); everything checkable without it is checked, so one run
    reports every independent problem. Linear in the size of the graph."""
    kinds: dict[str, str] = {}
    for i, (name, kind) in enumerate(inputs):
        if name is not None:
            if name in kinds:
                bad(f"inputs[{i}].name", f"duplicate name {name!r}")
            kinds[name] = "input"
        if role == "generator" and kind == "image":
            bad(f"inputs[{i}]", "a generator's inputs must be latent vectors (kind 'latent')")
        if role == "discriminator" and kind == "latent":
            bad(f"inputs[{i}]", "a discriminator's inputs must be images (kind 'image')")
    node_index: dict[str, int] = {}
    for i, name in enumerate(nodes):
        if name is None:
            continue
        if name in kinds:
            user = "an input" if kinds[name] == "input" else "a node"
            bad(f"nodes[{i}].name", f"duplicate name {name!r} (already used by {user})")
            continue
        kinds[name] = "node"
        node_index[name] = i
    seen_edge_names: set[str] = set()
    for i, (_, _, ename, ops) in enumerate(edges):
        if ename is not None:
            if ename in seen_edge_names:
                bad(f"edges[{i}].name", f"duplicate edge name {ename!r}")
            seen_edge_names.add(ename)
        if len(ops) > 1:  # `none` means "no connection": it cannot be part of a pipeline
            for j, o in enumerate(ops):
                if o == "none":
                    bad(f"edges[{i}].ops[{j}]", "'none' (no connection) must be the only op of its edge; "
                        "remove the edge or the other ops")
    out_names: set[str] = set()
    for i, (oname, onode) in enumerate(outputs):
        if oname is not None:
            if oname in out_names:
                bad(f"outputs[{i}].name", f"duplicate output name {oname!r}")
            out_names.add(oname)
        if onode is not None and onode not in kinds:
            bad(f"outputs[{i}].node", f"output {oname!r} refers to unknown node {onode!r}")

    # -- references ---------------------------------------------------------------------
    in_edges: dict[str, list[int]] = defaultdict(list)
    succ: dict[str, list[str]] = defaultdict(list)
    pred: dict[str, list[str]] = defaultdict(list)
    edge_ok: list[bool] = []
    refs_ok = True
    for i, (src, dst, _, _) in enumerate(edges):
        ok = src is not None and dst is not None
        if src is not None and src not in kinds:
            bad(f"edges[{i}].src", f"unknown node {src!r}")
            ok = False
        if dst is not None and dst not in kinds:
            bad(f"edges[{i}].dst", f"unknown node {dst!r}")
            ok = False
        elif dst is not None and kinds[dst] == "input":
            bad(f"edges[{i}].dst", f"{dst!r} is an input; edges cannot feed an input")
            ok = False
        edge_ok.append(ok)
        refs_ok &= ok
        if ok:
            assert src is not None and dst is not None
            in_edges[dst].append(i)
            succ[src].append(dst)
            pred[dst].append(src)

    # -- order and cycles (Kahn, ties broken by declaration order: a heap keeps it linear) --
    names = [n for n, _ in inputs if n is not None and kinds.get(n) == "input"]
    names += [n for n in nodes if n is not None and node_index.get(n) is not None]
    names = list(dict.fromkeys(names))
    pos = {n: k for k, n in enumerate(names)}
    indeg = {n: 0 for n in names}
    for n, ins in in_edges.items():
        indeg[n] = len(ins)
    order: list[str] = []
    ready = [pos[n] for n in names if indeg[n] == 0]
    heapq.heapify(ready)
    while ready:
        n = names[heapq.heappop(ready)]
        order.append(n)
        for m in succ[n]:
            indeg[m] -= 1
            if indeg[m] == 0:
                heapq.heappush(ready, pos[m])
    if len(order) < len(names):
        cyc = _find_cycle({n for n in names if indeg[n] > 0}, succ)
        bad("edges", "cycle: " + " → ".join(cyc))
        return _Structure(kinds, node_index, dict(in_edges), None, set(), edge_ok)

    # -- reachability (skipped when an edge is broken: its problems would only echo) ----
    reach = _closure([n for n in names if kinds[n] == "input"], succ)
    if refs_ok and all(n is not None for n in nodes):
        live = _closure([o for _, o in outputs if o is not None and o in kinds], pred)
        for i, name in enumerate(nodes):
            if name is None or node_index.get(name) != i:
                continue
            if name not in reach:
                why = "it has no incoming edge" if not in_edges.get(name) else "no path leads to it from an input"
                bad(f"nodes[{i}]", f"node {name!r} is unreachable from the inputs ({why})")
            elif name not in live:
                bad(f"nodes[{i}]", f"node {name!r} is dead: it does not reach any output")
    return _Structure(kinds, node_index, dict(in_edges), order, reach, edge_ok)


def _where(where: str, bad_list: list[Problem]) -> Callable[[str, str], None]:
    def bad(path: str, msg: str) -> None:
        bad_list.append(Problem(f"{where}.{path}" if path else where, msg))
    return bad


def analyze(net: Network, where: str = "generator", role: str | None = None) -> NetInfo:
    """Validate `net` and infer its shapes; raises GenotypeError listing every problem.

    `where` prefixes JSON paths; `role` ("generator"/"discriminator") adds the input-kind
    check for that role.
    """
    problems: list[Problem] = []
    bad = _where(where, problems)
    st = _structure([(i.name, i.kind) for i in net.inputs], [n.name for n in net.nodes],
                    [(e.src, e.dst, e.name, [o.op for o in e.ops]) for e in net.edges],
                    [(o.name, o.node) for o in net.outputs], role, bad)
    if st.order is None:
        raise GenotypeError(problems)
    kinds, node_index, in_edges = st.kinds, st.node_index, st.in_edges

    # -- shapes (of everything an input reaches; independent of the problems above) -----
    shapes: dict[str, Shape] = {i.name: input_shape(i) for i in net.inputs}
    edge_infos: list[EdgeInfo | None] = [None] * len(net.edges)
    for name in st.order:
        if kinds[name] == "input":
            continue
        node = net.nodes[node_index[name]]
        want_c = node.n_channels(net.base_width)
        got: list[tuple[int, Shape]] = []
        for ei in in_edges.get(name, []):
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
    return NetInfo(net=net, shapes=shapes, order=st.order, edges=[e for e in edge_infos if e is not None],
                   in_edges=in_edges, where=where)


def raw_structure_problems(raw: Any, where: str, role: str | None = None) -> list[Problem]:
    """The structural problems (names, references, cycles, reachability, `none`
    placement) of a network given as decoded JSON that failed type checking: reported
    together with the type problems, so one bad op does not hide an unknown node."""
    if not isinstance(raw, dict):
        return []

    def items(key: str) -> list[Any]:
        v = raw.get(key)
        return v if isinstance(v, list) else []

    def s(d: Any, key: str) -> str | None:
        v = d.get(key) if isinstance(d, dict) else None
        return v if isinstance(v, str) else None

    def op_name(o: Any) -> str | None:
        return o if isinstance(o, str) else s(o, "op")

    problems: list[Problem] = []
    edges = [(s(e, "src"), s(e, "dst"), s(e, "name"),
              [op_name(o) for o in (e.get("ops") if isinstance(e, dict) and isinstance(e.get("ops"), list) else [])])
             for e in items("edges")]
    _structure([(s(i, "name"), s(i, "kind")) for i in items("inputs")], [s(n, "name") for n in items("nodes")],
               edges, [(s(o, "name"), s(o, "node")) for o in items("outputs")], role, _where(where, problems))
    return problems


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


def generator_at_width(infos: dict[str, NetInfo], spec: str, width: float | None, why: str) -> NetInfo:
    """The analysed generator of a genotype (`infos` from `analyze_genotype`), its base width
    multiplied by `width` when given; `why` ends the error when there is no generator."""
    from ..errors import GccGanError

    if "generator" not in infos:
        raise GccGanError(f"{spec}: has no generator{why}")
    info = infos["generator"]
    if width is not None:
        if not width > 0:
            raise GccGanError(f"--width must be a positive multiplier, not {width:g}")
        info = analyze(info.net.scaled(width), where="generator", role="generator")
    return info


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
