"""AdversarialNAS (Gao et al., CVPR 2020): a Super-G of 3 Up-Cells and a Super-D of 4
Down-Cells searched together, Algorithm 1 on disjoint half-batches, and the derivation of
both networks as a genotype.

Super-G is the AdversarialNAS genotype space exactly (`encodings.adversarialnas`): per
Up-Cell two up edges (cell input → n0, n1) over {nearest, bilinear, transposed conv} and
five normal edges (n0→n2, n1→n2, n0→n3, n1→n3, n2→n3) over {none, identity, conv1×1,
conv3×3, conv5×5, dilconv3×3, dilconv5×5} (convs as ReLU → conv); latent split in three
(linear stem to `bottom`², maps added to cells 2 and 3); cross-cell skip-ins; BN → ReLU →
conv3×3 → tanh. The derived generator is built by `adversarialnas_generator` from a
valid AdversarialNAS genotype array, less the nodes that reach no output (`derive_rows`
says which op each edge keeps and why).

Super-D: a fixed conv3×3 stem (RGB → df), then 4 Down-Cells. A Down-Cell with input x has
nodes n0 = e0(x), n1 = e1(x) + e2(n0) over the normal ops, and its output
out = d0(n0) + d1(n1) over the down ops {avg pool 3×3, conv3×3, conv5×5, max pool 3×3,
dilconv3×3, dilconv5×5} (convs as ReLU → conv, pools on the raw map) with stride 2.
For 32×32 images only the first two cells downsample (32 → 16 → 8) and the last two keep
8×8 with the same ops at stride 1 — the shape of the SNGAN ResNet D the searched
generators are retrained against (two downsampling blocks, two at 8×8); downsampling in
all four would leave 2×2 maps, too coarse for 3×3 / 5×5 / dilated convs to differ.
Head: ReLU → global sum pool → linear (no bias). No spectral norm inside the supernet
(the merged kernels need plain weights); the derived D has none either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ...genotype_dsl.builder import NetBuilder, op
from ...genotype_dsl.encodings import adversarialnas_generator
from ...genotype_dsl.encodings.adversarialnas import (
    CELL_UP_MODE,
    NORMAL_OPS,
    UP_OPS,
)
from ...genotype_dsl.model import Network, OpCall
from ..pipeline import Pipeline, calls
from ..supernet import Supernet

DOWN_OPS = ("avgpool3x3", "conv3x3", "conv5x5", "maxpool3x3", "dilconv3x3", "dilconv5x5")
D_CELLS = 4
D_EDGES = {"e0": ("x", "n0"), "e1": ("x", "n1"), "e2": ("n0", "n1")}  # normal; d0: n0→out, d1: n1→out


def up_candidates() -> list[tuple[OpCall, ...]]:
    """The up ops, exactly as `encodings.adversarialnas` writes them."""
    return [calls(op("upsample", mode="nearest"), "relu", op("conv", kernel=1)),
            calls(op("upsample", mode="bilinear"), "relu", op("conv", kernel=1)),
            calls("relu", op("conv_transpose", kernel=3, stride=2, padding=1, output_padding=1, depthwise=True,
                             bias=False), op("conv", kernel=1, bias=False))]


def _conv_op(name: str, stride: int = 1) -> OpCall:
    dil = 2 if name.startswith("dil") else 1
    return op("conv", kernel=int(name[-1]), dilation=dil, **({"stride": stride} if stride > 1 else {}))


def normal_candidates() -> list[tuple[OpCall, ...]]:
    out = []
    for name in NORMAL_OPS:
        out.append(calls(name) if name in ("none", "identity") else calls("relu", _conv_op(name)))
    return out


def down_candidates(stride: int) -> list[tuple[OpCall, ...]]:
    out = []
    for name in DOWN_OPS:
        if "pool" in name:
            kind = "avg_pool" if name.startswith("avg") else "max_pool"
            out.append(calls(op(kind, kernel=3, stride=stride, padding=1)))
        else:
            out.append(calls("relu", _conv_op(name, stride)))
    return out


@dataclass(frozen=True)
class AdvDims:
    gf: int = 256
    df: int = 128
    latent: int = 120
    bottom: int = 4

    @property
    def size(self) -> int:
        return self.bottom * 8


class SuperG(Supernet):
    def __init__(self, dims: AdvDims) -> None:
        super().__init__()
        self.dims = d = dims
        gf, b, part = d.gf, d.bottom, d.latent // 3
        self.stems = nn.ModuleList()
        for k in range(3):  # latent part k → linear → (gf, b·2^k, b·2^k)
            s = b * 2 ** k
            stop = part * (k + 1) if k < 2 else d.latent
            self.stems.append(Pipeline(calls(op("latent_slice", start=part * k, stop=stop), op("linear"),
                                             op("reshape", size=s)), (d.latent,), gf * s * s))
        self.skip_ins = nn.ModuleDict()
        for k in range(1, 4):
            s = b * 2 ** k  # the cell's output size
            for i in range(2):
                self.mixed(f"cell{k}.up{i}", up_candidates(), (gf, s // 2, s // 2), gf, UP_OPS)
            for i in range(2, 7):
                self.mixed(f"cell{k}.c{i - 2}", normal_candidates(), (gf, s, s), gf, NORMAL_OPS)
            for j in range(k - 1):  # skip-in from cell j+1's n2 (the encoding's exact ops)
                src = b * 2 ** (j + 1)
                self.skip_ins[f"cell{k}_{j}"] = Pipeline(
                    calls(op("upsample", mode=CELL_UP_MODE[k - 1], scale=s // src), op("conv", kernel=1)),
                    (gf, src, src), gf)
        self.to_rgb = Pipeline(calls(op("batch_norm"), "relu", op("conv", kernel=3), "tanh"),
                               (gf, d.size, d.size), 3)

    def forward(self, z: Tensor, w: dict[str, Tensor], hard: bool = False) -> Tensor:
        x = self.stems[0](z)
        skips: list[Tensor] = []
        for k in range(1, 4):
            if k > 1:
                x = x + self.stems[k - 1](z)
            c = f"cell{k}"
            n0 = self.run(f"{c}.up0", x, w, hard)
            n1 = self.run(f"{c}.up1", x, w, hard)
            n2 = self.run(f"{c}.c0", n0, w, hard) + self.run(f"{c}.c1", n1, w, hard)
            for j, s in enumerate(skips):
                n2 = n2 + self.skip_ins[f"cell{k}_{j}"](s)
            x = self.run(f"{c}.c2", n0, w, hard) + self.run(f"{c}.c3", n1, w, hard) + self.run(f"{c}.c4", n2, w, hard)
            skips.append(n2)
        return self.to_rgb(x)


def d_strides(size: int) -> list[int]:
    """Stride of each Down-Cell: the first two downsample (see the module docstring)."""
    return [2 if k < 2 and size >= 8 * 2 ** k else 1 for k in range(D_CELLS)]


class SuperD(Supernet):
    def __init__(self, dims: AdvDims) -> None:
        super().__init__()
        self.dims = d = dims
        df, s = d.df, d.size
        self.stem = Pipeline(calls(op("conv", kernel=3)), (3, s, s), df)
        for k, stride in enumerate(d_strides(s), start=1):
            for e in D_EDGES:
                self.mixed(f"dcell{k}.{e}", normal_candidates(), (df, s, s), df, NORMAL_OPS)
            for i in range(2):
                self.mixed(f"dcell{k}.d{i}", down_candidates(stride), (df, s, s), df, DOWN_OPS)
            s //= stride
        self.head = Pipeline(calls("relu", "global_sum_pool", op("linear", bias=False)), (df, s, s), 1)

    def forward(self, x: Tensor, w: dict[str, Tensor], hard: bool = False) -> Tensor:
        x = self.stem(x)
        for k in range(1, D_CELLS + 1):
            c = f"dcell{k}"
            n0 = self.run(f"{c}.e0", x, w, hard)
            n1 = self.run(f"{c}.e1", x, w, hard) + self.run(f"{c}.e2", n0, w, hard)
            x = self.run(f"{c}.d0", n0, w, hard) + self.run(f"{c}.d1", n1, w, hard)
        return self.head(x)


# --------------------------------------------------------------------------- derivation


def _best(p: Tensor, allow_none: bool = True) -> int:
    q = p.clone()
    if not allow_none:
        q[0] = -1.0
    return int(q.argmax())


def derive_rows(probs: dict[str, list[float]]) -> list[list[int]]:
    """The AdversarialNAS genotype array from Super-G's op probabilities.

    The paper keeps "the most likely operation" of every edge, 'None' included: a most
    likely 'None' removes the edge and so changes the cell's topology (its published cells
    have 'None' edges). Two things can then go wrong, and each has its own remedy:
    * a node left without any input — n2 (c0, c1 both 'None') or n3 (c2–c4 all 'None'):
      n3 is the cell's output, so without it no path crosses the cell; n2 is the cell's
      skip output, which the genotype array cannot leave out (the encoding rejects such a
      row). Here the next-best op is taken: the non-'None' (edge, op) of highest
      probability among the node's input edges;
    * a node left without a way to the output (n2 whose c4 is 'None' and whose skip-ins
      lead nowhere, n0 / n1 feeding only such an n2): `generator_network` removes it with
      its edges. The official code computes such a node and then drops it, so removal gives
      the same outputs, whereas a next-best op would add computation the search did not pick.
    """
    rows = []
    for k in range(1, 4):
        row = [int(torch.tensor(probs[f"cell{k}.up{i}"]).argmax()) for i in range(2)]
        p = {i: torch.tensor(probs[f"cell{k}.c{i - 2}"]) for i in range(2, 7)}
        row += [_best(p[i]) for i in range(2, 7)]
        for group in ((2, 3), (4, 5, 6)):
            if all(row[i] == 0 for i in group):
                i = max(group, key=lambda i: float(p[i][1:].max()))
                row[i] = _best(p[i], allow_none=False)
        rows.append(row)
    return rows


def generator_network(rows: list[list[int]], dims: AdvDims) -> tuple[Network, dict[str, Any]]:
    """(generator, encoding record) of a genotype array: the encoding's network, which
    already leaves out the nodes that reach no output (`genotype_dsl.prune`, as the
    official code drops them; see `derive_rows`). The record keeps the full array."""
    native = adversarialnas_generator(rows, gf=dims.gf, latent=dims.latent, bottom=dims.bottom)
    return native.network, dict(native.encoding)


def derive_d_choices(probs: dict[str, list[float]]) -> dict[str, int]:
    """Most likely op per Super-D edge, by the rule of `derive_rows`. The down ops (d0, d1)
    have no 'None', so n0 and n1 always reach the cell output and nothing is ever dead; a
    node without input is the only failure, and it takes the next-best op: n0's only input
    (e0) never derives 'None', and when e1 and e2 both do, n1 keeps the strongest
    non-'None' op of the two (without it, d1 would read a node that does not exist)."""
    out: dict[str, int] = {}
    for k in range(1, D_CELLS + 1):
        p = {e: torch.tensor(probs[f"dcell{k}.{e}"]) for e in (*D_EDGES, "d0", "d1")}
        out[f"dcell{k}.e0"] = _best(p["e0"], allow_none=False)
        e1, e2 = _best(p["e1"]), _best(p["e2"])
        if e1 == 0 and e2 == 0:
            e = max(("e1", "e2"), key=lambda e: float(p[e][1:].max()))
            (e1, e2) = (_best(p[e], False), 0) if e == "e1" else (0, _best(p[e], False))
        out[f"dcell{k}.e1"], out[f"dcell{k}.e2"] = e1, e2
        for e in ("d0", "d1"):
            out[f"dcell{k}.{e}"] = _best(p[e])
    return out


def build_discriminator(choices: dict[str, int], df: int, size: int) -> Network:
    """The derived D written with NetBuilder (one edge per chosen op; 'none' edges absent)."""
    b = NetBuilder(df)
    x = b.image("x", size)
    prev = b.node("stem", width=1)
    b.edge(x, prev, op("conv", kernel=3), name="stem")
    normal = normal_candidates()
    for k, stride in enumerate(d_strides(size), start=1):
        c = f"dcell{k}"
        names = {"x": prev, "n0": b.node(f"{c}.n0", width=1, cell=c), "n1": b.node(f"{c}.n1", width=1, cell=c)}
        for e, (src, dst) in D_EDGES.items():
            idx = choices[f"{c}.{e}"]
            if idx:
                b.edge(names[src], names[dst], *normal[idx], name=f"{c}.{e}")
        out = b.node(f"{c}.out", width=1, cell=c)
        down = down_candidates(stride)
        for i, src in enumerate(("n0", "n1")):
            b.edge(names[src], out, *down[choices[f"{c}.d{i}"]], name=f"{c}.d{i}")
        prev = out
    b.node("logit", channels=1)
    b.edge(prev, "logit", "relu", "global_sum_pool", op("linear", bias=False), name="head")
    b.output("logit", "logit")
    return b.build()


def derive(g: SuperG, d: SuperD | None) -> tuple[Network, Network | None, dict[str, Any]]:
    """(generator, discriminator or None, encoding record) from the supernets' α."""
    dims = g.dims
    gnet, enc = generator_network(derive_rows(g.probabilities()), dims)
    dnet = None
    if d is not None:
        ch = derive_d_choices(d.probabilities())
        dnet = build_discriminator(ch, dims.df, dims.size)
        enc["discriminator"] = {"format": "adversarialnas-d", "df": dims.df, "size": dims.size,
                                "ops": {k: (NORMAL_OPS if k.split(".")[1].startswith("e") else DOWN_OPS)[v]
                                        for k, v in ch.items()}}
    return gnet, dnet, enc


def edge_fed(rows: list[list[int]]) -> bool:
    """Every Up-Cell's n2 and n3 have an input (the validity rule of the encoding)."""
    return all((r[2] or r[3]) and (r[4] or r[5] or r[6]) for r in rows)


# --------------------------------------------------------------------------- budgets (search/budget.py)


def g_edges() -> dict[str, int]:
    """Super-G's edges in genotype-array order, with their number of ops."""
    return {(f"cell{k}.up{i}" if i < 2 else f"cell{k}.c{i - 2}"): (len(UP_OPS) if i < 2 else len(NORMAL_OPS))
            for k in range(1, 4) for i in range(7)}


def rows_to_choice(rows: list[list[int]]) -> dict[str, int]:
    return dict(zip(g_edges(), (v for row in rows for v in row)))


def choice_to_rows(choice: dict[str, int]) -> list[list[int]]:
    vals = [choice[e] for e in g_edges()]
    return [vals[7 * k: 7 * k + 7] for k in range(3)]


def g_builder(dims: AdvDims) -> Any:
    """choice → derived generator (None when a cell's n2 or n3 would have no input)."""
    def build(choice: dict[str, int]) -> Network | None:
        rows = choice_to_rows(choice)
        return generator_network(rows, dims)[0] if edge_fed(rows) else None
    return build


# --------------------------------------------------------------------------- the relaxed space


class FixedD(nn.Module):
    """A fixed discriminator network with the Super-D call signature (`--fixed-d`)."""

    def __init__(self, net: Network) -> None:
        from ...compiler.interpreter import Interpreter

        super().__init__()
        self.net = Interpreter(net)
        self.network = net

    def forward(self, x: Tensor, w: dict[str, Tensor] | None = None, hard: bool = False) -> Tensor:
        return self.net(x)  # type: ignore[no-any-return]


class Relaxed:
    """The space relaxed for the differentiable strategy (strategies/differentiable.py):
    Super-G and Super-D (or, with `--fixed-d`, the SNGAN ResNet D, its architecture fixed)."""

    G_ARCH = "g_arch"

    def __init__(self, cfg: Any, device: Any) -> None:
        from ...genotype_dsl.encodings import sngan_discriminator

        self.cfg = cfg
        self.dims = AdvDims(gf=cfg.gf, df=cfg.df, latent=cfg.latent, bottom=cfg.bottom)
        self.g = SuperG(self.dims).to(device)
        self.d: SuperD | FixedD
        if cfg.fixed_d:
            self.d = FixedD(sngan_discriminator(cfg.df, cfg.size, sn=True).network).to(device)
        else:
            self.d = SuperD(self.dims).to(device)
        self.searched_d = isinstance(self.d, SuperD)

    def modules(self) -> dict[str, nn.Module]:
        return {"g": self.g, "d": self.d}

    def arch_groups(self) -> dict[str, list[nn.Parameter]]:
        groups = {"g_arch": self.g.arch_parameters()}
        if isinstance(self.d, SuperD):
            groups["d_arch"] = self.d.arch_parameters()
        return groups

    def d_weights(self) -> list[nn.Parameter]:
        return self.d.weight_parameters() if isinstance(self.d, SuperD) else list(self.d.parameters())

    def d_weights_sample(self, tau: float, hard: bool, gen: torch.Generator) -> dict[str, Tensor]:
        return self.d.sample_weights(tau, hard, gen) if isinstance(self.d, SuperD) else {}

    def set_mode(self, mode: str) -> None:
        self.g.mode = mode
        if isinstance(self.d, SuperD):
            self.d.mode = mode

    def relaxation(self) -> Any:
        from ..budget import Relaxation

        g = self.g
        return Relaxation(g_edges(), g_builder(self.dims), g.mean_weights,
                          lambda: rows_to_choice(derive_rows(g.probabilities())), g.probabilities)

    def probabilities(self) -> dict[str, dict[str, list[float]]]:
        p = {"generator": self.g.probabilities()}
        if isinstance(self.d, SuperD):
            p["discriminator"] = self.d.probabilities()
        return p

    def op_names(self) -> dict[str, dict[str, list[str]]]:
        n = {"generator": self.g.op_names()}
        if isinstance(self.d, SuperD):
            n["discriminator"] = self.d.op_names()
        return n

    def log_extra(self) -> dict[str, Any]:
        return {}

    def derive(self, choice: None = None) -> tuple[Network, Network | None, dict[str, Any]]:
        gnet, dnet, enc = derive(self.g, self.d if isinstance(self.d, SuperD) else None)
        return gnet, (self.d.network if isinstance(self.d, FixedD) else dnet), enc

    def derive_choice(self, choice: dict[str, int], enc: dict[str, Any]) -> tuple[Network, dict[str, Any]]:
        """The generator of a repaired choice; the record keeps the rest of `enc` (its D)."""
        gnet, genc = generator_network(choice_to_rows(choice), self.dims)
        return gnet, {**enc, **genc}

    def finish_encoding(self, enc: dict[str, Any]) -> dict[str, Any]:
        if isinstance(self.d, FixedD):
            enc["discriminator"] = {"format": "sngan-d", "df": self.cfg.df, "size": self.cfg.size, "fixed": True}
        return enc
