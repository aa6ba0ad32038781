"""The AutoGAN search space: three generator cells, one shared-weights generator holding
every candidate's weights, and the growing SNGAN-style discriminator.

A candidate is an AutoGAN arch vector (4 / 9 / 14 numbers after stage 0 / 1 / 2); its
network is exactly `genotype_dsl.encodings.autogan_generator(vector)` — the converter of
`gcc-gan convert autogan` — so search and convert can never disagree. The shared generator
follows the official code's module tree (models_search/building_blocks_search.py): per
cell separate pre- and post-activation blocks (`pre_conv1`, `post_conv1`, … each with its
own conv, BN and transposed conv), `c_sc` / `deconv_sc` for the shortcut, one 1×1
`skip_in_ops.j` per earlier cell and the `skip_deconvx2` / `skip_deconvx4` stacks; the
stem `l1` and `to_rgb` are shared by all stages. A child is the reference interpreter of its
genotype whose op modules ARE the shared slot modules (same objects: no copies, gradients
and BN running statistics land in the shared net), so its `state_dict()` is the genotype's
canonical weight layout and a plain-module child costs what the supernet child costs.
Every slot module is built from the op registry's source string of the op it serves.

Width search (gcc-gan's extension, not AutoGAN's; only under a compiled-cost budget). In
AutoGAN's space every child has the same two 3×3 convs per cell at gf channels and the same
to_rgb: the searched tokens only choose the upsampling, norms and the 1×1 side edges, so
the compiled MACs of all children lie within a narrow band (tiny preset: the cheapest
child is 0.87× the unconstrained result) and a budget of half that cost cannot be met by
any choice. So, as AutoGAN-Distiller (Fu et al. 2020) and FBNetV2 / slimmable networks
(Yu et al. 2019) search channel counts, a budgeted search adds one token per cell: its
width, a multiplier of gf from WIDTHS, sampled by the controller with the cell's other
tokens. The child runs the shared convs sliced to their first C channels (`Narrow`), so
all widths share one set of conv weights, with a private BN per slot and width
(slimmable networks' switchable BN: a slice of the full-width BN's running statistics
does not describe the narrower child's features, and in eval mode such a child collapsed
to a near-constant image in our runs), and its genotype is the converter's network with
those node widths (`autogan_generator(..., widths=...)`), compiled like any other. The
stem keeps gf (its linear layer is a negligible share of the MACs). Without a budget there
is no width token, and the search is exactly AutoGAN's.
"""

from __future__ import annotations

import functools
import itertools
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...compiler.cost import compiled_cost
from ...compiler.interpreter import Interpreter, build_op
from ...genotype_dsl.analysis import NetInfo, OpInfo, analyze
from ...genotype_dsl.encodings import (
    autogan_generator,
    parse_autogan_arch,
    sngan_discriminator,
)
from ...genotype_dsl.encodings.common import Native
from ...genotype_dsl.model import Network

STAGES = 3
CELL_TOKENS = (2, 3, 3, 2)  # conv type, norm, upsample, shortcut
TOKEN_NAMES = ("conv", "norm", "up", "shortcut", "skip")
WIDTHS = (1.0, 0.75, 0.5, 0.25)  # the width token's choices (budgeted search only), × gf
TOKEN_VALUES = {"conv": ("post", "pre"), "norm": ("none", "bn", "in"), "up": ("bilinear", "nearest", "deconv"),
                "shortcut": ("no", "yes"), "width": tuple(f"x{w:g}" for w in WIDTHS)}
CACHE = 512  # children kept built (an LRU: building one costs a few ms)


def stage_tokens(stage: int, widths: bool = False) -> list[int]:
    """Choices per token of the cell a stage adds: cell 1 has no skip token, cell s+1 one
    2^s-way skip token (official controller; the paper's s binary tokens are one token);
    with `widths` (a budgeted search) a last token picks the cell's width from WIDTHS."""
    return list(CELL_TOKENS) + ([2**stage] if stage else []) + ([len(WIDTHS)] if widths else [])


def token_names(stage: int, widths: bool = False) -> list[str]:
    return [*TOKEN_NAMES[:4], *(["skip"] if stage else []), *(["width"] if widths else [])]


def vector_length(stage: int, widths: bool = False) -> int:
    return 4 + 5 * stage + (stage + 1 if widths else 0)


def stage_of(tokens: Sequence[int], widths: bool = False) -> int:
    return (len(tokens) - 5) // 6 if widths else (len(tokens) - 4) // 5


def split_tokens(tokens: Sequence[int], widths: bool = False) -> tuple[list[int], list[float] | None]:
    """A token vector → (AutoGAN arch vector, per-cell width multipliers or None)."""
    tokens = [int(t) for t in tokens]
    if not widths:
        return tokens, None
    arch: list[int] = []
    ws: list[float] = []
    i = 0
    for stage in range(stage_of(tokens, True) + 1):
        n = len(stage_tokens(stage))
        arch += tokens[i:i + n]
        ws.append(WIDTHS[tokens[i + n]])
        i += n + 1
    return arch, ws


def child_native(tokens: Sequence[int], gf: int, latent: int, bottom: int, widths: bool = False) -> Native:
    arch, ws = split_tokens(tokens, widths)
    return autogan_generator(arch, gf=gf, latent=latent, bottom=bottom, widths=ws)


@functools.lru_cache(maxsize=16)
def cheapest_cost(gf: int, latent: int, bottom: int, widths: bool) -> tuple[int, int]:
    """(fewest compiled MACs, fewest compiled parameters) of any full-depth child: every
    cell at its narrowest width, no norm, shortcut or skip (each only adds compiled cost,
    as does width), minimised over every cell's conv type and upsampling (216 children)."""
    w = WIDTHS.index(min(WIDTHS))
    best: tuple[int, int] | None = None
    for choice in itertools.product(itertools.product((0, 1), (0, 1, 2)), repeat=STAGES):
        tokens: list[int] = []
        for k, (conv, up) in enumerate(choice):
            tokens += [conv, 0, up, 0] + ([0] if k else []) + ([w] if widths else [])
        c = compiled_cost(child_native(tokens, gf, latent, bottom, widths).network)
        best = (c.macs, c.params) if best is None else (min(best[0], c.macs), min(best[1], c.params))
    assert best is not None
    return best


class Narrow(nn.Module):
    """A shared conv (or transposed conv) run at fewer channels: the first `cout` output and
    the first `cin` input channels of its weights (slimmable networks' weight sharing across
    widths; BN is not sliced but switched, see SharedGenerator). Its parameters are the
    shared module's (gradients land in the slices; the channels outside get a zero gradient,
    so Adam still moves them by their momentum, as in slimmable training with one shared
    optimizer — unlike a slot the child does not use at all); its state_dict holds the
    slices under the plain module's names, so a narrowed child's state_dict is its
    genotype's canonical weight layout."""

    def __init__(self, base: nn.Module, cin: int, cout: int) -> None:
        super().__init__()
        assert isinstance(base, (nn.Conv2d, nn.ConvTranspose2d)), type(base)
        assert base.groups == 1 and not hasattr(base, "parametrizations")
        self.base, self.cin, self.cout = base, cin, cout
        self._register_state_dict_hook(Narrow._sliced_state)

    def tensors(self) -> dict[str, Tensor]:
        b, i, o = self.base, self.cin, self.cout
        w = b.weight[:i, :o] if isinstance(b, nn.ConvTranspose2d) else b.weight[:o, :i]
        return {"weight": w} if b.bias is None else {"weight": w, "bias": b.bias[:o]}

    @staticmethod
    def _sliced_state(module: Narrow, state: dict[str, Any], prefix: str, _meta: Any) -> None:
        for k in [k for k in state if k.startswith(prefix + "base.")]:
            del state[k]
        for k, v in module.tensors().items():
            state[prefix + k] = v.detach()

    def forward(self, x: Tensor) -> Tensor:
        b, t = self.base, self.tensors()
        if isinstance(b, nn.ConvTranspose2d):
            return F.conv_transpose2d(x, t["weight"], t.get("bias"), b.stride, b.padding, b.output_padding, 1,
                                      b.dilation)
        return F.conv2d(x, t["weight"], t.get("bias"), b.stride, b.padding, b.dilation, 1)


def _slot(edge_name: str, src: str, op: str, nth: int, cells: list[list[int]]) -> str:
    """The shared module (official module path) an op of a child's edge runs on; `nth` counts
    earlier ops of the same kind on the edge."""
    if edge_name == "l1":
        return "l1"
    if edge_name == "to_rgb":
        return "to_rgb.bn" if op == "batch_norm" else "to_rgb.conv"
    cell, part = edge_name.split(".", 1)
    k = int(cell.removeprefix("cell"))
    kind = {"batch_norm": "bn", "conv": "conv", "conv_transpose": "deconv"}[op]
    if part in ("c1", "c2"):
        act = "pre" if cells[k - 1][0] == 1 else "post"
        return f"{cell}.{act}_conv{part[1]}.{kind}"
    if part == "c_sc":
        return f"{cell}.c_sc" if op == "conv" else f"{cell}.deconv_sc"
    if part.startswith("skip_in"):
        j = int(src.split(".")[0].removeprefix("cell"))  # the earlier cell this skip comes from
        if op == "conv":
            return f"{cell}.skip_in_ops.{j - 1}"
        scale = 2 ** (k - j)
        return f"{cell}.skip_deconvx2" if scale == 2 else f"{cell}.skip_deconvx4.{nth}"
    raise AssertionError(f"unexpected AutoGAN edge {edge_name}")


def _covering_vectors() -> list[list[int]]:
    """Full-length vectors that together use every slot: both conv types × {interpolating,
    deconv} upsampling, BN, shortcut and every skip on (IN has no parameters)."""
    out = []
    for conv, up in itertools.product((0, 1), (0, 2)):
        out.append([conv, 1, up, 1] + [conv, 1, up, 1, 1] + [conv, 1, up, 1, 3])
    return out


def weights_init(m: nn.Module) -> None:
    """The official search's init (exps/autogan_search.sh: --init_type xavier_uniform): Conv2d
    weights xavier-uniform, BatchNorm2d weight N(1, 0.02) and bias 0; the rest (ConvTranspose2d,
    Linear, biases) keeps PyTorch's default, as the official `weights_init` leaves them."""
    if isinstance(m, nn.Conv2d):
        nn.init.xavier_uniform_(m.parametrizations.weight.original if hasattr(m, "parametrizations") else m.weight)
    elif isinstance(m, nn.BatchNorm2d):
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class SharedGenerator(nn.Module):
    """All candidates' generator weights; `child(arch)` is the candidate as a plain module."""

    def __init__(self, gf: int, latent: int, bottom: int, seed: int, widths: bool = False) -> None:
        super().__init__()
        self.gf, self.latent, self.bottom = gf, latent, bottom
        self.widths = widths  # children are token vectors with a width token per cell
        self.slots = nn.ModuleDict()
        self._src: dict[str, str] = {}
        self._children: OrderedDict[tuple[int, ...], Interpreter] = OrderedDict()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for arch in _covering_vectors():
                info = analyze(child_native(arch, gf, latent, bottom).network, role="generator")
                for slot, op in self._slots_of(info, arch):
                    src = op.call.spec.init_src(op.call.params, op.ctx)
                    if slot in self._src:
                        assert self._src[slot] == src, f"slot {slot}: {self._src[slot]} vs {src}"
                        continue
                    module, _ = build_op(op)
                    assert module is not None
                    self._src[slot] = src
                    self.slots[slot.replace(".", "__")] = module
            if widths:  # switchable BN: a private BN per slot and narrower channel count
                for slot, m in list(self.slots.items()):
                    if isinstance(m, nn.BatchNorm2d):
                        for c in sorted({max(1, round(w * gf)) for w in WIDTHS} - {m.num_features}):
                            self.slots[f"{slot}__c{c}"] = nn.BatchNorm2d(c, m.eps, m.momentum, m.affine)
            self.apply(weights_init)

    @staticmethod
    def _slots_of(info: NetInfo, arch: Sequence[int]) -> list[tuple[str, OpInfo]]:
        cells = parse_autogan_arch(arch)
        out = []
        for e in info.edges:
            seen: dict[str, int] = {}
            for op in e.ops:
                if op.call.spec.init_src(op.call.params, op.ctx) is None:
                    continue
                name = op.call.op
                out.append((_slot(e.edge.name, e.edge.src, name, seen.get(name, 0), cells), op))
                seen[name] = seen.get(name, 0) + 1
        return out

    def slot(self, name: str) -> nn.Module:
        return self.slots[name.replace(".", "__")]

    def child(self, tokens: Sequence[int]) -> Interpreter:
        """The candidate's reference interpreter running on the shared modules (narrower
        cells on their first channels)."""
        key = tuple(int(a) for a in tokens)
        got = self._children.get(key)
        if got is not None:
            self._children.move_to_end(key)
            return got
        arch, _ = split_tokens(key, self.widths)
        net = self.network(key)
        with torch.random.fork_rng(devices=[]):  # the throw-away modules must not move the global RNG
            interp = Interpreter(analyze(net, role="generator"))
        by_op = {id(op): s for s, op in self._slots_of(interp.info, arch)}
        for e in interp.info.edges:
            mods = interp.edges[interp.keys[e.index]]
            for j, op in enumerate(e.ops):
                s = by_op.get(id(op))
                if s is None:
                    continue
                if self._src[s] == op.call.spec.init_src(op.call.params, op.ctx):
                    mods[j] = self.slot(s)
                    continue
                # a narrower op: a conv runs on the slot's first channels, a BN is the slot's
                # private BN at that width (switchable BN); either must have the shapes of
                # the op's own module (built above from the registry, same type)
                base = self.slot(s)
                m: nn.Module = (self.slot(f"{s}.c{op.ctx.in_shape[0]}") if isinstance(base, nn.BatchNorm2d)
                                else Narrow(base, op.ctx.in_shape[0], op.ctx.out_channels))
                ref = m.base if isinstance(m, Narrow) else m
                have = m.tensors() if isinstance(m, Narrow) else m.state_dict()
                own = mods[j].state_dict()
                assert type(mods[j]) is type(ref) and own.keys() == have.keys() and all(
                    own[k].shape == v.shape for k, v in have.items()), (s, op.call)
                mods[j] = m
        interp.to(next(self.parameters()).device)
        self._children[key] = interp
        if len(self._children) > CACHE:
            self._children.popitem(last=False)
        return interp

    def network(self, tokens: Sequence[int]) -> Network:
        return child_native(tokens, self.gf, self.latent, self.bottom, self.widths).network

    def forward(self, z: Tensor, tokens: Sequence[int]) -> Tensor:
        out = self.child(tokens)(z)
        assert isinstance(out, Tensor)
        return out


class GrowingDiscriminator(nn.Module):
    """The official search D (models_search/shared_gan.py): SNGAN blocks b1 (optimized, ↓),
    b2 (↓), b3, b4, ReLU, global sum pool, linear; at stage s it runs [b1, b2, b3][:s+1] + b4.
    Built as the reference interpreter of `sngan_discriminator` (op registry), run block by
    block."""

    def __init__(self, df: int, size: int, sn: bool, seed: int) -> None:
        super().__init__()
        self.native = sngan_discriminator(df=df, size=size, sn=sn)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            self.net = Interpreter(analyze(self.native.network, role="discriminator"))
            self.net.apply(weights_init)
        self._edge = {e.edge.name: e.index for e in self.net.info.edges}
        self.stage = 0

    def _run(self, name: str, x: Tensor) -> Tensor:
        return self.net.run_edge(self._edge[name], x)

    def forward(self, x: Tensor) -> Tensor:
        h = x
        for b in ["block1", "block2", "block3"][: self.stage + 1] + ["block4"]:
            sc = f"{b}.c_sc" if f"{b}.c_sc" in self._edge else f"{b}.sc"
            h = self._run(f"{b}.c2", self._run(f"{b}.c1", h)) + self._run(sc, h)
        return self._run("l5", h)
