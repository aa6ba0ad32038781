"""DGGAN's search space (notes §2.2): a ProgGAN-style G and D at d0×d0 that grow by actions.

Every candidate is a pair of DSL networks (G: latent -> image, D: image -> logit), built from
the one op registry (pixel_norm, leaky_relu, minibatch_stddev, conv, upsample, avg_pool, …):

* `G-conv k f`: a conv k×k with f filters (+ leaky ReLU 0.2, pixel norm) before G's toRGB;
* `D-conv k f`: a conv k×k with f filters (+ leaky ReLU 0.2) right after D's fromRGB;
* `FADE`: both double their resolution with a ProgGAN block (G: upsample + 2× conv3×3 and a
  new toRGB; D: a new fromRGB + 2× conv3×3 + avg-pool), faded in. Its blocks are
  `dg_channels` wide, as in the paper; only under a compute budget may G's new block be
  narrower (`FADE w`, see `fade_widths`), the one extension of the paper's space.

The fade-in is the trainer's α schedule over the DSL network itself: while fading, the
grown network keeps the old path as a second edge into one node (G: the image node gets
`toRGB_old -> upsample`; D: the node after the old fromRGB gets `avg_pool -> fromRGB_old`).
A plain DSL node sums its edges; `FadeNet` weighs that node's two edges α and 1 − α
(`FADE_NODES` names them). At α = 1 the old edge contributes nothing, and `settle()` drops
it: the network every later step and the emitted genotype use is the grown one alone.

Edges carry stable names (`g_c3`, `g_torgb_r16`, `d_fromrgb_r8`, …), so weight keys
(`EDGE.OPINDEX.TENSOR`, the interpreter's canonical layout) survive growth: inheritance
copies every tensor whose key and shape survive and leaves the rest freshly initialised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ...compiler.interpreter import Interpreter
from ...genotype_dsl.builder import op
from ...genotype_dsl.model import Edge, ImageInput, Network, Node
from ...genotype_dsl.prune import prune_dead

LRELU = 0.2


@dataclass(frozen=True)
class Action:
    kind: str  # "G-conv", "D-conv" or "FADE"
    kernel: int = 0
    filters: int = 0  # FADE: the width of G's new block (0: the space's dg_channels)

    @property
    def label(self) -> str:
        if self.kind == "FADE":
            return f"FADE {self.filters}" if self.filters else "FADE"
        return f"{self.kind} {self.kernel}x{self.kernel} {self.filters}"

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "kernel": self.kernel, "filters": self.filters}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Action:
        return cls(str(d["kind"]), int(d["kernel"]), int(d["filters"]))


FADE = Action("FADE")


def actions(kernels: tuple[int, ...], filters: tuple[int, ...]) -> list[Action]:
    """The action set A: G-conv and D-conv for every (k, f), then FADE (|A| = 2·|k|·|f| + 1)."""
    return [Action(kind, k, f) for kind in ("G-conv", "D-conv") for k in kernels for f in filters] + [FADE]


# --------------------------------------------------------------------------- the base pair


def base_pair(d0: int, channels: int, latent: int) -> tuple[Network, Network]:
    """ProgGAN's first block at d0×d0 (pixel norm, leaky ReLU, minibatch stddev in D)."""
    c = channels
    g = Network(
        base_width=c, inputs=[{"name": "z", "kind": "latent", "dim": latent}],
        nodes=[Node(name="g_h0", channels=c), Node(name="g_h1", channels=c), Node(name="image", channels=3)],
        edges=[Edge(src="z", dst="g_h0", name="g_in",
                    ops=[op("pixel_norm"), op("linear", out_channels=c * d0 * d0), op("reshape", size=d0),
                         op("leaky_relu", slope=LRELU), op("pixel_norm")]),
               Edge(src="g_h0", dst="g_h1", name="g_b0", ops=_g_conv(3)),
               Edge(src="g_h1", dst="image", name=f"g_torgb_r{d0}", ops=[op("conv", kernel=1)])],
        outputs=[{"name": "image", "node": "image"}])
    d = Network(
        base_width=c, inputs=[{"name": "x", "kind": "image", "size": d0}],
        nodes=[Node(name=f"d_f_r{d0}", channels=c), Node(name="d_t1", channels=c), Node(name="d_t2", channels=c),
               Node(name="logit", channels=1)],
        edges=[Edge(src="x", dst=f"d_f_r{d0}", name=f"d_fromrgb_r{d0}", ops=_d_conv(1)),
               Edge(src=f"d_f_r{d0}", dst="d_t1", name="d_out_a", ops=[op("minibatch_stddev"), *_d_conv(3)]),
               Edge(src="d_t1", dst="d_t2", name="d_out_b", ops=[op("conv", kernel=d0, padding=0),
                                                               op("leaky_relu", slope=LRELU)]),
               Edge(src="d_t2", dst="logit", name="d_out_c", ops=[op("flatten"), op("linear", out_channels=1)])],
        outputs=[{"name": "logit", "node": "logit"}])
    return g, d


def _g_conv(k: int) -> list[Any]:
    return [op("conv", kernel=k), op("leaky_relu", slope=LRELU), op("pixel_norm")]


def _d_conv(k: int) -> list[Any]:
    return [op("conv", kernel=k), op("leaky_relu", slope=LRELU)]


# --------------------------------------------------------------------------- reading a pair


def doublings(res: int, target: int) -> int:
    """The FADEs (resolution doublings) from `res` to `target`."""
    return (target // res).bit_length() - 1


def resolution(d: Network) -> int:
    inp = d.inputs[0]
    assert isinstance(inp, ImageInput)
    return inp.size


def _edge(net: Network, name: str) -> Edge:
    return next(e for e in net.edges if e.name == name)


def _channels(net: Network, node: str) -> int:
    return next(n for n in net.nodes if n.name == node).n_channels(net.base_width)


def _counter(net: Network, prefix: str) -> int:
    """The next free index of grown edges named PREFIX{n}."""
    used = [int(e.name[len(prefix):]) for e in net.edges if e.name and e.name.startswith(prefix)
            and e.name[len(prefix):].isdigit()]
    return max(used, default=0) + 1


def _replace_edge(net: Network, name: str, new: Edge) -> list[Edge]:
    return [new if e.name == name else e for e in net.edges]


# --------------------------------------------------------------------------- actions


def grow(g: Network, d: Network, a: Action, fade_channels: int) -> tuple[Network, Network]:
    """The child pair of (g, d) under action `a` (FADE: the fading pair, see `settle`)."""
    if a.kind == "G-conv":
        return grow_g(g, a.kernel, a.filters), d
    if a.kind == "D-conv":
        return g, grow_d(d, a.kernel, a.filters)
    if a.kind == "FADE":  # a budget may narrow G's new block (a.filters); D's is never budgeted
        return fade_g(g, a.filters or fade_channels), fade_d(d, fade_channels)
    raise ValueError(f"unknown action {a.kind!r}")


def fade_widths(channels: int, filters: tuple[int, ...]) -> list[int]:
    """The widths a FADE may give G's new block under a compute budget, widest first: the
    paper's `channels`, then the narrower conv widths the action set already offers (tiny:
    16, 8; paper: 512 … 32). Without a budget every FADE is `channels` wide (the paper)."""
    return sorted({channels, *(f for f in filters if f < channels)}, reverse=True)


def cheapest_completion(g: Network, target: int, width: int) -> Network:
    """G grown from `g` to the target resolution by FADEs alone, each `width` wide (settled):
    the route's cheapest completion when `width` is the narrowest FADE width (G- and D-convs
    only add layers). The budgeted search admits a state only when this fits (reachability
    pruning, strategies/growth.py), so it never admits a dead end. The check is sufficient,
    not exact: a narrow G-conv narrows the next FADE's first conv's input, and could in
    principle complete a state this rejects (in the tiny space every G-conv costs more than
    it saves)."""
    g = settle(g)
    while _g_res(g) < target:
        g = settle(fade_g(g, width))
    return g


def grow_g(g: Network, k: int, f: int) -> Network:
    """Insert conv k×k (f filters) before G's toRGB; toRGB now reads f channels."""
    r = _g_res(g)
    torgb = _edge(g, f"g_torgb_r{r}")
    n = _counter(g, "g_c")
    node = Node(name=f"g_n{n}", channels=f)
    new = Edge(src=torgb.src, dst=node.name, name=f"g_c{n}", ops=_g_conv(k))
    edges = _replace_edge(g, torgb.name or "", torgb.model_copy(update={"src": node.name}))
    i = next(j for j, e in enumerate(edges) if e.name == torgb.name)
    return g.model_copy(update={"nodes": [*g.nodes[:-1], node, g.nodes[-1]], "edges": [*edges[:i], new, *edges[i:]]})


def grow_d(d: Network, k: int, f: int) -> Network:
    """Insert conv k×k (f filters) right after D's fromRGB; the next layer now reads f channels."""
    r = resolution(d)
    frgb = _edge(d, f"d_fromrgb_r{r}")
    n = _counter(d, "d_c")
    node = Node(name=f"d_n{n}", channels=f)
    new = Edge(src=frgb.dst, dst=node.name, name=f"d_c{n}", ops=_d_conv(k))
    edges = [e.model_copy(update={"src": node.name}) if e.src == frgb.dst else e for e in d.edges]
    i = next(j for j, e in enumerate(edges) if e.name == frgb.name) + 1
    j = next(j for j, x in enumerate(d.nodes) if x.name == frgb.dst) + 1
    return d.model_copy(update={"nodes": [*d.nodes[:j], node, *d.nodes[j:]], "edges": [*edges[:i], new, *edges[i:]]})


def _g_res(g: Network) -> int:
    return max(int(e.name.rsplit("_r", 1)[1]) for e in g.edges if e.name and e.name.startswith("g_torgb_r"))


def fade_g(g: Network, c: int) -> Network:
    """ProgGAN's new G block at 2r: upsample + conv3×3 ×2 and a new toRGB into the image node,
    whose old edge becomes toRGB_old -> upsample (the fade-in's low-resolution path)."""
    r = _g_res(g)
    old = _edge(g, f"g_torgb_r{r}")
    a, b = f"g_up{2 * r}_a", f"g_up{2 * r}_b"
    nodes = [*g.nodes[:-1], Node(name=a, channels=c), Node(name=b, channels=c), g.nodes[-1]]
    edges = [e for e in g.edges if e.name != old.name] + [
        Edge(src=old.src, dst=a, name=a, ops=[op("upsample"), *_g_conv(3)]),
        Edge(src=a, dst=b, name=b, ops=_g_conv(3)),
        Edge(src=b, dst="image", name=f"g_torgb_r{2 * r}", ops=[op("conv", kernel=1)]),
        old.model_copy(update={"ops": [*old.ops, op("upsample")]}),  # op 0 stays the conv: same weight key
    ]
    return g.model_copy(update={"nodes": nodes, "edges": edges})


def fade_d(d: Network, c: int) -> Network:
    """ProgGAN's new D block at 2r: a new fromRGB + conv3×3 ×2 + avg-pool into the node after
    the old fromRGB, which now reads avg_pool(image) (the fade-in's low-resolution path)."""
    r = resolution(d)
    old = _edge(d, f"d_fromrgb_r{r}")
    f2, m, p = f"d_f_r{2 * r}", f"d_dn{2 * r}_a", f"d_pool_r{r}"
    nodes = [Node(name=p, channels=3), Node(name=f2, channels=c), Node(name=m, channels=c), *d.nodes]
    edges = [Edge(src="x", dst=p, name=p, ops=[op("avg_pool")]),
             Edge(src="x", dst=f2, name=f"d_fromrgb_r{2 * r}", ops=_d_conv(1)),
             Edge(src=f2, dst=m, name=m, ops=_d_conv(3)),
             Edge(src=m, dst=old.dst, name=f"d_dn{2 * r}_b", ops=[*_d_conv(3), op("avg_pool")]),
             *[e.model_copy(update={"src": p}) if e.name == old.name else e for e in d.edges]]
    return d.model_copy(update={"inputs": [ImageInput(name="x", size=2 * r)], "nodes": nodes, "edges": edges})


def fade_edges(net: Network) -> dict[str, tuple[str, str]]:
    """{node: (new edge, old edge)} of a fading network (empty when it is not fading)."""
    out = {}
    for e in net.edges:
        if not e.name:
            continue
        if e.name.startswith("g_torgb_r") and e.ops[-1].op == "upsample":
            r = int(e.name.rsplit("_r", 1)[1])
            out[e.dst] = (f"g_torgb_r{2 * r}", e.name)
        if e.name.startswith("d_fromrgb_r") and e.src.startswith("d_pool_r"):
            r = int(e.name.rsplit("_r", 1)[1])
            out[e.dst] = (f"d_dn{2 * r}_b", e.name)
    return out


def settle(net: Network) -> Network:
    """The grown network alone: a fading network without its old paths (what α = 1 computes)."""
    old = {o for _, o in fade_edges(net).values()}
    if not old:
        return net
    return prune_dead(net.model_copy(update={"edges": [e for e in net.edges if e.name not in old]}))


# --------------------------------------------------------------------------- running a candidate


class FadeNet(Interpreter):
    """The interpreter of a (possibly fading) network with ProgGAN's blend at the fade node:
    α·new + (1 − α)·old instead of the plain sum. `alpha` is set by the trainer's schedule."""

    def __init__(self, net: Network) -> None:
        super().__init__(net)
        names = {e.edge.name: e.index for e in self.info.edges}
        self.fade = {node: (names[a], names[b]) for node, (a, b) in fade_edges(net).items()}
        self.alpha = 1.0

    def forward(self, *inputs: Tensor) -> Tensor | tuple[Tensor, ...]:
        if not self.fade:
            return super().forward(*inputs)
        values: dict[str, Tensor] = dict(zip(self._input_names, inputs))
        for name in self.info.order:
            if name in values:
                continue
            ys = {ei: self.run_edge(ei, values[self._srcs[ei]]) for ei in self.info.in_edges.get(name, [])}
            if name in self.fade:
                new, old = self.fade[name]
                values[name] = self.alpha * ys[new] + (1.0 - self.alpha) * ys[old]
            else:
                it = iter(ys.values())
                acc = next(it)
                for y in it:
                    acc = acc + y
                values[name] = acc
        outs = tuple(values[n] for n in self._output_nodes)
        return outs[0] if len(outs) == 1 else outs


def alpha_at(step: int, iters: int, share: float) -> float:
    """ProgGAN's linear fade-in: α from 0 to 1 over the first `share` of the iterations."""
    n = max(1, round(share * iters))
    return min(1.0, step / n)


def inherit(child: nn.Module, parent: dict[str, Tensor]) -> list[str]:
    """Copy every parent tensor whose key and shape survive into `child` (bit-exact);
    returns the keys copied. Everything else keeps its fresh initialisation."""
    sd = child.state_dict()
    copied = []
    with torch.no_grad():
        for k, v in sd.items():
            p = parent.get(k)
            if p is not None and p.shape == v.shape:
                v.copy_(p)
                copied.append(k)
    return copied


def net_cost(net: Network) -> tuple[int, int]:
    """(parameters, MACs) of the network alone."""
    from ...genotype_dsl.analysis import analyze

    info = analyze(settle(net))
    return info.params, info.macs


def he_scale(p: Tensor) -> float:
    """ProgGAN's equalized-LR constant sqrt(2 / fan_in) of a conv / linear weight."""
    fan_in = p[0].numel()
    return math.sqrt(2.0 / fan_in)


def equalized_lr(module: nn.Module, fresh: set[str], lr: float, betas: tuple[float, float]) -> torch.optim.Adam:
    """ProgGAN's equalized learning rate without a runtime weight scale: with w = c·ŵ, Adam on
    ŵ at lr η moves w by c·η per step (Adam ignores the gradient's scale), so Adam on w with a
    per-layer lr c·η and a He-normal N(0, c²) initialisation of the fresh weights (biases 0)
    trains the same function (up to Adam's ε), while the weights stay in the canonical layout
    `gcc-gan compile` loads. Inherited tensors keep their trained values."""
    groups = []
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() >= 2:  # conv / linear weights
                c = he_scale(p)
                if name in fresh:
                    p.normal_(0.0, c)
                groups.append({"params": [p], "lr": lr * c, "lr_mult": c})
            else:
                if name in fresh:
                    p.zero_()
                groups.append({"params": [p], "lr": lr, "lr_mult": 1.0})
    return torch.optim.Adam(groups, lr=lr, betas=betas, foreach=True)
