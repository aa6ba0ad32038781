"""The reference interpreter: any valid network, run directly as an `nn.Module`.

It walks the DAG in topological order; a node is the sum of its incoming edges, an edge
applies its op pipeline. Modules and forward calls come from the op registry's source
strings (`init_src` / `call_src`), the same strings the compiler writes into generated
code — one definition of each op. This is the oracle every compiler pass and export is
checked against, so it does no optimisation whatsoever.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..genotype_dsl.analysis import NetInfo, OpInfo, analyze
from ..genotype_dsl.memory import check_memory
from ..genotype_dsl.model import Network
from ..genotype_dsl.ops import REGISTRY

NAMESPACE: dict[str, object] = {"torch": torch, "nn": nn, "F": F}
for _src in dict.fromkeys(h for _spec in REGISTRY.values() for h in _spec.helpers):  # one definition each
    exec(_src, NAMESPACE)  # noqa: S102 - registry source


def build_op(info: OpInfo) -> tuple[nn.Module | None, Callable[[Tensor, nn.Module | None], Tensor]]:
    """The module (or None) and forward function of one op, from its registry sources."""
    spec, p = info.call.spec, info.call.params
    src = spec.init_src(p, info.ctx)
    module = eval(src, NAMESPACE) if src is not None else None  # noqa: S307 - registry source
    fn = eval(f"lambda x, m: {spec.call_src(p, info.ctx, 'x', 'm')}", NAMESPACE)  # noqa: S307
    return module, fn


_PROBE = nn.ModuleDict()


def edge_keys(info: NetInfo) -> dict[int, str]:
    """Stable, readable module keys of a network's edges (edge index -> key): the edge's
    name with dots and dashes as underscores, or `e{index}`; a later edge whose key is
    taken gets `_2`, `_3`, ... These keys define the canonical weight layout of a
    genotype: `edges.{edge_key}.{op_index}.{tensor}`, used by the interpreter, the
    trainer's checkpoints, weight import and `compile --weights`.

    The mapping is injective over a network's edges, and a key never names an attribute
    of the module container (`forward`, `training`, `__init__`, ...): such a name gets a
    trailing `-`, a character no plain key has (dashes become underscores), so the
    escaped key cannot meet another edge's key and every other key stays as it was."""
    keys: dict[int, str] = {}
    taken: set[str] = set()
    for e in info.edges:
        base = e.edge.name.replace(".", "_").replace("-", "_") if e.edge.name else f"e{e.index}"
        if hasattr(_PROBE, base):
            base += "-"
        key, n = base, 1
        while key in taken:
            n += 1
            key = f"{base}_{n}"
        taken.add(key)
        keys[e.index] = key
    return keys


class Interpreter(nn.Module):
    """Runs a network. `forward(*inputs)` takes the inputs in declaration order and returns
    the single output tensor, or a tuple when the network has several outputs. Its
    state_dict is the genotype's canonical weight layout (see `edge_keys`)."""

    def __init__(self, net: Network | NetInfo, *, batch: int = 1, training: bool = False,
                 what: str | None = None) -> None:
        """Refuses (GccGanError) a network whose estimated memory at `batch` (`training`:
        with gradients and optimiser state) exceeds the limit, before allocating any of
        it (see genotype_dsl.memory); `what` names it in that message. Built on the meta
        device (shapes only, no memory: import's shape checks) it is not refused."""
        super().__init__()
        self.info = net if isinstance(net, NetInfo) else analyze(net)
        if torch.get_default_device().type != "meta":
            check_memory(self.info, batch, training, what)
        self.keys = edge_keys(self.info)
        self.edges = nn.ModuleDict()
        self._fns: dict[int, list[Callable[[Tensor, nn.Module | None], Tensor]]] = {}
        for e in self.info.edges:
            mods = nn.ModuleList()
            fns = []
            for op in e.ops:
                m, fn = build_op(op)
                mods.append(m if m is not None else nn.Identity())
                fns.append(fn)
            self.edges[self.keys[e.index]] = mods
            self._fns[e.index] = fns
        net_ = self.info.net
        self._input_names = [i.name for i in net_.inputs]
        self._output_nodes = [o.node for o in net_.outputs]
        self._srcs = {e.index: e.edge.src for e in self.info.edges}

    def run_edge(self, edge_index: int, x: Tensor) -> Tensor:
        for m, fn in zip(self.edges[self.keys[edge_index]], self._fns[edge_index]):
            x = fn(x, m)
        return x

    def forward(self, *inputs: Tensor) -> Tensor | tuple[Tensor, ...]:
        if len(inputs) != len(self._input_names):
            raise TypeError(f"expected {len(self._input_names)} input(s) {self._input_names}, got {len(inputs)}")
        values: dict[str, Tensor] = dict(zip(self._input_names, inputs))
        for name in self.info.order:
            if name in values:
                continue
            acc: Tensor | None = None
            for ei in self.info.in_edges.get(name, []):
                y = self.run_edge(ei, values[self._srcs[ei]])
                acc = y if acc is None else acc + y
            assert acc is not None, f"node {name} has no inputs"  # excluded by analyze()
            values[name] = acc
        outs = tuple(values[n] for n in self._output_nodes)
        return outs[0] if len(outs) == 1 else outs


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
