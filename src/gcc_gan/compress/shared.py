"""The shared, teacher-initialised weights every student slices (once-for-all, as slimmable
networks and GAN Compression share them).

The store holds the teacher's canonical-layout tensors at full width, the separable forms of
its convolutions (initialised by the best rank-1 factorisation per input channel: a depthwise
kernel and a pointwise column from the SVD of each input channel's `cout × k²` slice), and one
learned 1×1 projection per matched node (student channels → teacher channels, initialised as
the identity, GAN Compression's feature-distillation adaptor). A student's tensor is the
front slice of the shared one in every channel dimension and the centre crop in the kernel
dimensions (a 5×5 kernel's centre is its 3×3 form). Students run through the registry's own
modules (the interpreter, built on the meta device) with `torch.func.functional_call`, so
gradients of every sub-network flow into the one store.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

import torch
from torch import Tensor, nn

from ..compiler.interpreter import Interpreter, edge_keys
from ..errors import GccGanError
from ..genotype_dsl.analysis import NetInfo, analyze
from ..genotype_dsl.model import Network, Output
from .space import Arch, StudentSpace

_STATS = ("running_mean", "running_var", "num_batches_tracked")


def matched_nodes(net: Network) -> list[str]:
    """Nodes whose features are distilled: the last node of every cell, and every node
    outside a cell, the outputs excepted."""
    outputs = {o.node for o in net.outputs}
    last: dict[str, str] = {}
    loose = []
    for n in net.nodes:
        if n.name in outputs:
            continue
        if n.cell is None:
            loose.append(n.name)
        else:
            last[n.cell] = n.name
    keep = set(loose) | set(last.values())
    return [n.name for n in net.nodes if n.name in keep]


def probe(net: Network, nodes: list[str]) -> Network:
    """`net` with the matched nodes as extra outputs (after the image)."""
    return net.model_copy(update={"outputs": [*net.outputs, *(Output(name=f"feat{i}", node=n)
                                                            for i, n in enumerate(nodes))]})


def fit(t: Tensor, shape: tuple[int, ...], what: str) -> Tensor:
    """The front slice of `t` in every dimension, the centre crop in a conv kernel's."""
    if t.dim() != len(shape):
        raise GccGanError(f"{what}: cannot slice a {tuple(t.shape)} tensor to {shape}")
    idx = []
    for d, (have, want) in enumerate(zip(t.shape, shape)):
        if want > have:
            raise GccGanError(f"{what}: the student needs {shape}, wider than the teacher's {tuple(t.shape)}")
        off = (have - want) // 2 if t.dim() == 4 and d >= 2 else 0
        idx.append(slice(off, off + want))
    return t[tuple(idx)]


def separable_init(w: Tensor) -> tuple[Tensor, Tensor]:
    """(depthwise (cin, 1, k, k), pointwise (cout, cin, 1, 1)) closest to the full kernel `w`
    (cout, cin, k, k) in the separable form: rank 1 per input channel (SVD)."""
    cout, cin, k, _ = w.shape
    m = w.detach().double().permute(1, 0, 2, 3).reshape(cin, cout, k * k)
    u, s, vh = torch.linalg.svd(m, full_matrices=False)
    dw, pw = vh[:, 0, :], u[:, :, 0] * s[:, :1]
    sign = torch.where(dw.sum(-1) < 0, -1.0, 1.0).double()  # a fixed sign: deterministic
    dw, pw = dw * sign[:, None], pw * sign[:, None]
    return dw.reshape(cin, 1, k, k).float().contiguous(), pw.t().reshape(cout, cin, 1, 1).float().contiguous()


class SharedWeights:
    """Full-width tensors (`tensors`: name → tensor); `params` are the trained ones."""

    def __init__(self, space: StudentSpace, teacher_state: dict[str, Tensor], nodes: list[str]) -> None:
        self.space, self.nodes = space, nodes
        self.t_keys = edge_keys(space.info)
        t: dict[str, Tensor] = {f"edges.{k}": v.detach().clone().float() if v.is_floating_point() else v.clone()
                                for k, v in ((k[len("edges."):], v) for k, v in teacher_state.items())}
        for site in space.sites:
            if not any(v.op == "sep_conv" for v in site.variants):
                continue
            stem = f"edges.{self.t_keys[site.edge]}.{site.op}"
            dw, pw = separable_init(t[f"{stem}.weight"])
            t[f"sep:{stem}.0.weight"], t[f"sep:{stem}.1.weight"] = dw, pw
            if f"{stem}.bias" in t:
                t[f"sep:{stem}.1.bias"] = t[f"{stem}.bias"].clone()
        for n in nodes:
            c = space.info.shapes[n][0]
            t[f"proj:{n}"] = torch.eye(c)
        self.tensors = t
        self.params = [v.requires_grad_(True) for k, v in t.items()
                       if v.is_floating_point() and not k.endswith(_STATS)]
        self._cache: OrderedDict[str, tuple[NetInfo, nn.Module, dict[str, str]]] = OrderedDict()

    # -- students ----------------------------------------------------------------------
    def student(self, arch: Arch) -> tuple[NetInfo, nn.Module, dict[str, str]]:
        """(the student's probe network analysed, its interpreter on the meta device, each
        of its tensor names → the shared tensor it slices), cached."""
        key = arch.key()
        hit = self._cache.get(key)
        if hit is not None:
            self._cache.move_to_end(key)
            return hit
        net = self.space.network(arch)
        hit = self.build(net, self.space.edge_map(arch))
        self._cache[key] = hit
        if len(self._cache) > 64:
            self._cache.popitem(last=False)
        return hit

    def build(self, net: Network, edge_map: list[int]) -> tuple[NetInfo, nn.Module, dict[str, str]]:
        """As `student` for any network whose edge i is the teacher's edge `edge_map[i]` with
        the same pipeline length (an arch's network, or the uniformly narrowed teacher)."""
        info = analyze(probe(net, self.nodes), "generator", role="generator")
        with torch.device("meta"):
            meta = Interpreter(info)
        by_key = {k: ei for ei, k in edge_keys(info).items()}
        names: dict[str, str] = {}
        teacher_edges = self.space.teacher.edges
        for name in meta.state_dict():
            _, skey, j, rest = name.split(".", 3)
            ei = by_key[skey]
            t_edge = edge_map[ei]
            stem = f"edges.{self.t_keys[t_edge]}.{j}"
            is_sep = net.edges[ei].ops[int(j)].op == "sep_conv" and teacher_edges[t_edge].ops[int(j)].op == "conv"
            names[name] = f"sep:{stem}.{rest}" if is_sep else f"{stem}.{rest}"
        return info, meta, names

    def state_for(self, meta: nn.Module, names: dict[str, str]) -> dict[str, Tensor]:
        """The student's tensors: slices (views) of the shared ones."""
        return {k: fit(self.tensors[names[k]], tuple(v.shape), k) for k, v in meta.state_dict(keep_vars=True).items()}

    def projections(self, info: NetInfo) -> list[Tensor]:
        """Each matched node's projection, sliced to the student's channels there."""
        return [self.tensors[f"proj:{n}"][:, : info.shapes[n][0]] for n in self.nodes]

    def run(self, arch_or_built: Arch | tuple[NetInfo, nn.Module, dict[str, str]], z: Tensor
            ) -> tuple[Tensor, list[Tensor], NetInfo]:
        """(image, matched features, probe info) of a student on latents `z`, differentiable
        in the shared tensors (BatchNorm in training mode: batch statistics)."""
        info, meta, names = self.student(arch_or_built) if isinstance(arch_or_built, Arch) else arch_or_built
        meta.train()
        out = torch.func.functional_call(meta, self.state_for(meta, names), (z,), strict=True)
        return out[0], list(out[1:]), info

    def concrete(self, built: tuple[NetInfo, nn.Module, dict[str, str]]) -> tuple[dict[str, Tensor], list[Tensor]]:
        """A student's own copies of its tensors and projections (detached)."""
        info, meta, names = built
        state = {k: v.detach().clone().contiguous() for k, v in self.state_for(meta, names).items()}
        return state, [p.detach().clone().contiguous() for p in self.projections(info)]

    def named(self) -> dict[str, Tensor]:
        return {k: v.detach() for k, v in self.tensors.items()}

    def load(self, tensors: dict[str, Tensor]) -> None:
        missing = set(self.tensors) ^ set(tensors)
        if missing:
            raise KeyError(f"shared weights differ: {sorted(missing)[:3]}")
        with torch.no_grad():
            for k, v in self.tensors.items():
                v.copy_(tensors[k])


def params_of(tensors: Iterable[Tensor]) -> list[Tensor]:
    return [t for t in tensors if t.requires_grad]
