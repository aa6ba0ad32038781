"""The compiler's graph IR: a network with shapes known and weights attached.

It has the genotype's structure (nodes are sums of incoming edges, edges are op
pipelines from the registry) with two extensions the passes need:

* every op carries its concrete tensors (module state, spectral norm baked, eval mode),
  so weight-rewriting passes (BN folding, kernel merging, sub-pixel) are plain IR → IR;
* an edge may read several sources, concatenated along channels (merged convolutions).

`lower()` builds it from a validated network and a reference interpreter holding the
weights; `codegen` turns it back into standalone source.
"""

from __future__ import annotations

import copy
import functools
import heapq
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..genotype_dsl.analysis import NetInfo
from ..genotype_dsl.model import OpCall
from ..genotype_dsl.ops import OpCtx, OpSpec, Shape, fmt_shape
from .interpreter import Interpreter, edge_keys


def _same_tensor(a: Tensor, b: Tensor) -> bool:
    """Equal values; tensors on the meta device (the cost model's weightless IR) have no
    values, so only the same tensor equals itself: weights are taken to be generic."""
    if a.is_meta or b.is_meta:
        return a is b
    return torch.equal(a, b)


# eq=False: ops and edges are compared by identity (list.remove / index / `in` on the
# graph's lists); value comparison with tensors is IROp.same_as
@dataclass(eq=False)
class IROp:
    call: OpCall
    in_shape: Shape
    out_channels: int
    tensors: dict[str, Tensor] = field(default_factory=dict)  # local module state

    @property
    def spec(self) -> OpSpec:
        return self.call.spec

    @property
    def ctx(self) -> OpCtx:
        return OpCtx(self.in_shape, self.out_channels)

    @functools.cached_property
    def out_shape(self) -> Shape:
        # cached: an IROp is never changed in place (passes replace ops: dataclasses.replace),
        # and the passes and the cost model ask for it hundreds of times per graph
        return self.spec.shape(self.call.params, self.ctx)

    @property
    def macs(self) -> int:
        return self.spec.macs(self.call.params, self.ctx, self.out_shape)

    @property
    def n_params(self) -> int:
        return self.spec.n_params(self.call.params, self.ctx)

    def p(self, name: str) -> object:
        return getattr(self.call.params, name)

    def same_as(self, other: "IROp") -> bool:
        """Identical computation: same op, parameters, input shape and tensors."""
        return (self.call == other.call and self.in_shape == other.in_shape
                and self.out_channels == other.out_channels
                and self.tensors.keys() == other.tensors.keys()
                and all(_same_tensor(v, other.tensors[k]) for k, v in self.tensors.items()))


@dataclass(eq=False)
class IREdge:
    srcs: list[str]  # several sources: their channel concatenation is the edge's input
    dst: str
    ops: list[IROp]
    name: str  # a readable key used to name modules in generated code

    def in_shape(self, g: "IRGraph") -> Shape:
        shapes = [g.shape(s) for s in self.srcs]
        if len(shapes) == 1:
            return shapes[0]
        return (sum(s[0] for s in shapes), *shapes[0][1:])

    def out_shape(self, g: "IRGraph") -> Shape:
        return self.ops[-1].out_shape if self.ops else self.in_shape(g)


@dataclass
class IRGraph:
    role: str
    inputs: dict[str, Shape]  # declaration order = forward() argument order
    nodes: dict[str, Shape]  # kept in a topological order
    edges: list[IREdge]
    outputs: list[tuple[str, str]]  # (output name, node)

    # -- queries -------------------------------------------------------------------
    # Passes must stay linear in the graph size: a per-node loop uses the maps below
    # (built once, O(E)), never `in_edges` / `out_edges` (O(E) each).
    def shape(self, name: str) -> Shape:
        return self.inputs[name] if name in self.inputs else self.nodes[name]

    def in_edges(self, node: str) -> list[IREdge]:
        return [e for e in self.edges if e.dst == node]

    def out_edges(self, node: str) -> list[IREdge]:
        return [e for e in self.edges if node in e.srcs]

    def in_edge_map(self) -> dict[str, list[IREdge]]:
        """node -> its incoming edges (in edge order), for every node; O(E)."""
        m: dict[str, list[IREdge]] = {n: [] for n in self.nodes}
        for e in self.edges:
            m.setdefault(e.dst, []).append(e)
        return m

    def out_edge_map(self) -> dict[str, list[IREdge]]:
        """input or node -> the edges reading it (each edge once), for every name; O(E)."""
        m: dict[str, list[IREdge]] = {n: [] for n in [*self.inputs, *self.nodes]}
        for e in self.edges:
            for s in dict.fromkeys(e.srcs):
                m.setdefault(s, []).append(e)
        return m

    def output_nodes(self) -> set[str]:
        return {n for _, n in self.outputs}

    def is_output(self, node: str) -> bool:
        return any(n == node for _, n in self.outputs)

    @property
    def macs(self) -> int:
        return sum(o.macs for e in self.edges for o in e.ops)

    @property
    def n_params(self) -> int:
        return sum(o.n_params for e in self.edges for o in e.ops)

    def fresh_name(self, base: str) -> str:
        name, n = base, 1
        while name in self.inputs or name in self.nodes:
            n += 1
            name = f"{base}_{n}"
        return name

    def fresh_edge_name(self, base: str, taken: set[str] | None = None) -> str:
        """An edge name not in `taken` (default: the current edges' names, O(E); a pass
        naming many edges passes one set and this adds the new name to it)."""
        names = {e.name for e in self.edges} if taken is None else taken
        name, n = base, 1
        while name in names:
            n += 1
            name = f"{base}_{n}"
        names.add(name)
        return name

    def copy(self) -> "IRGraph":
        return copy.deepcopy(self)

    # -- edits ---------------------------------------------------------------------
    def remove_edges(self, dead: list[IREdge]) -> None:
        """Remove these edges (by identity) in one O(E) sweep."""
        if dead:
            ids = {id(e) for e in dead}
            self.edges = [e for e in self.edges if id(e) not in ids]

    def toposort(self) -> None:
        """Re-establish a topological order of `nodes`, stable w.r.t. the current order
        (Kahn's algorithm with a heap of current positions: O((N + E) log N))."""
        order = list(self.nodes)
        pos = {n: i for i, n in enumerate(order)}
        indeg = dict.fromkeys(order, 0)
        succ: dict[str, list[str]] = {n: [] for n in order}
        for e in self.edges:
            for s in e.srcs:
                if s in pos:
                    succ[s].append(e.dst)
                    indeg[e.dst] += 1
        ready = [pos[n] for n in order if indeg[n] == 0]
        heapq.heapify(ready)
        done: list[str] = []
        while ready:
            n = order[heapq.heappop(ready)]
            done.append(n)
            for m in succ[n]:
                indeg[m] -= 1
                if indeg[m] == 0:
                    heapq.heappush(ready, pos[m])
        assert len(done) == len(order), "cycle in IR"
        self.nodes = {n: self.nodes[n] for n in done}

    def check(self) -> None:
        """Assert internal consistency (a failure here is a compiler bug)."""
        for e in self.edges:
            shape = e.in_shape(self)
            for op in e.ops:
                assert op.in_shape == shape, f"edge {e.name}: op {op.call.op} expects {op.in_shape}, gets {shape}"
                shape = op.out_shape
            want = self.nodes[e.dst]
            assert shape == want, f"edge {e.name} delivers {fmt_shape(shape)} into {e.dst} ({fmt_shape(want)})"
        fed = {e.dst for e in self.edges}
        for n in self.nodes:
            assert n in fed, f"node {n} has no incoming edge"


def lower(info: NetInfo, module: Interpreter | None, role: str) -> IRGraph:
    """The IR of a validated network, with the (eval-mode) weights of `module`; spectral
    norm is baked into plain weights. `module` None: weightless (the cost model), each op
    holding fresh meta tensors of the shapes its module would have (`meta_tensors`), as
    lowering an interpreter built on the meta device gives, without building one."""
    if module is not None:
        module = module.eval()
    edges: list[IREdge] = []
    keys = module.keys if module is not None else edge_keys(info)
    for e in info.edges:
        key = keys[e.index]
        ops: list[IROp] = []
        for j, op in enumerate(e.ops):
            call = op.call
            sn = bool(getattr(call.params, "sn", False))
            tensors = (meta_tensors(call.spec.init_src(call.params, op.ctx), sn) if module is None
                       else _module_tensors(module.edges[key][j], sn))
            if sn:
                call = call.with_params(sn=False)
            ops.append(IROp(call, op.ctx.in_shape, op.ctx.out_channels, tensors))
        edges.append(IREdge([e.edge.src], e.edge.dst, ops, key))
    inputs = {i.name: info.shapes[i.name] for i in info.net.inputs}
    nodes = {n: info.shapes[n] for n in info.order if n not in inputs}
    outputs = [(o.name, o.node) for o in info.net.outputs]
    g = IRGraph(role, inputs, nodes, edges, outputs)
    g.check()
    return g


def _module_tensors(m: torch.nn.Module, sn: bool) -> dict[str, Tensor]:
    """An op module's state as IR tensors (spectral norm: W / sigma, in eval mode)."""
    tensors = {k: v.detach().clone() for k, v in m.state_dict().items()}
    if sn:
        with torch.no_grad():
            w = m.weight.detach().clone()  # eval mode: W / sigma with the stored u, v
        tensors = {k: v for k, v in tensors.items() if not k.startswith("parametrizations.")}
        tensors["weight"] = w
    return tensors


_LAYOUTS: dict[tuple[str, bool], tuple[tuple[str, tuple[int, ...], torch.dtype], ...]] = {}


def meta_tensors(init_src: str | None, sn: bool) -> dict[str, Tensor]:
    """Fresh meta tensors laid out as `_module_tensors` of the module `init_src` builds:
    the module is built (on meta) once per source string, its layout kept. Fresh tensors
    per op, since the passes tell weightless ops apart by tensor identity (CSE)."""
    if init_src is None:
        return {}
    layout = _LAYOUTS.get((init_src, sn))
    if layout is None:
        from .interpreter import NAMESPACE

        with torch.device("meta"):
            m = eval(init_src, NAMESPACE).eval()  # noqa: S307 - registry source (as the interpreter)
        layout = tuple((k, tuple(v.shape), v.dtype) for k, v in _module_tensors(m, sn).items())
        _LAYOUTS[(init_src, sn)] = layout
    return {k: torch.empty(shape, dtype=dtype, device="meta") for k, shape, dtype in layout}
