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
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..genotype_dsl.analysis import NetInfo
from ..genotype_dsl.model import OpCall
from ..genotype_dsl.ops import OpCtx, OpSpec, Shape, fmt_shape
from .interpreter import Interpreter


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

    @property
    def out_shape(self) -> Shape:
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
                and all(torch.equal(v, other.tensors[k]) for k, v in self.tensors.items()))


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
    def shape(self, name: str) -> Shape:
        return self.inputs[name] if name in self.inputs else self.nodes[name]

    def in_edges(self, node: str) -> list[IREdge]:
        return [e for e in self.edges if e.dst == node]

    def out_edges(self, node: str) -> list[IREdge]:
        return [e for e in self.edges if node in e.srcs]

    def is_output(self, node: str) -> bool:
        return any(n == node for _, n in self.outputs)

    @property
    def macs(self) -> int:
        return sum(o.macs for e in self.edges for o in e.ops)

    @property
    def n_params(self) -> int:
        return sum(o.n_params for e in self.edges for o in e.ops)

    def fresh_name(self, base: str) -> str:
        taken = set(self.inputs) | set(self.nodes)
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        return name

    def fresh_edge_name(self, base: str) -> str:
        taken = {e.name for e in self.edges}
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        return name

    def copy(self) -> "IRGraph":
        return copy.deepcopy(self)

    # -- edits ---------------------------------------------------------------------
    def add_node_before(self, name: str, shape: Shape, before: str) -> None:
        """Insert node `name` into the topological order just before node `before`."""
        items = list(self.nodes.items())
        idx = next((i for i, (n, _) in enumerate(items) if n == before), len(items))
        items.insert(idx, (name, shape))
        self.nodes = dict(items)

    def replace_uses(self, old: str, new: str) -> None:
        for e in self.edges:
            e.srcs = [new if s == old else s for s in e.srcs]
        self.outputs = [(o, new if n == old else n) for o, n in self.outputs]

    def toposort(self) -> None:
        """Re-establish a topological order of `nodes` (stable w.r.t. the current order)."""
        order = list(self.nodes)
        pos = {n: i for i, n in enumerate(order)}
        deps = {n: {s for e in self.in_edges(n) for s in e.srcs if s in self.nodes} for n in order}
        done: list[str] = []
        placed: set[str] = set()
        while len(done) < len(order):
            ready = [n for n in order if n not in placed and deps[n] <= placed]
            assert ready, "cycle in IR"
            n = min(ready, key=pos.__getitem__)
            done.append(n)
            placed.add(n)
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
        for n in self.nodes:
            assert self.in_edges(n), f"node {n} has no incoming edge"


def lower(info: NetInfo, module: Interpreter, role: str) -> IRGraph:
    """The IR of a validated network, with the (eval-mode) weights of `module`; spectral
    norm is baked into plain weights."""
    module = module.eval()
    edges: list[IREdge] = []
    for e in info.edges:
        key = module.keys[e.index]
        ops: list[IROp] = []
        for j, op in enumerate(e.ops):
            m = module.edges[key][j]
            call = op.call
            tensors = {k: v.detach().clone() for k, v in m.state_dict().items()}
            if getattr(call.params, "sn", False):
                with torch.no_grad():
                    w = m.weight.detach().clone()  # eval mode: W / sigma with the stored u, v
                tensors = {k: v for k, v in tensors.items() if not k.startswith("parametrizations.")}
                tensors["weight"] = w
                call = call.with_params(sn=False)
            ops.append(IROp(call, op.ctx.in_shape, op.ctx.out_channels, tensors))
        edges.append(IREdge([e.edge.src], e.edge.dst, ops, key))
    inputs = {i.name: info.shapes[i.name] for i in info.net.inputs}
    nodes = {n: info.shapes[n] for n in info.order if n not in inputs}
    outputs = [(o.name, o.node) for o in info.net.outputs]
    g = IRGraph(role, inputs, nodes, edges, outputs)
    g.check()
    return g
