"""AdversarialNAS's generator encoding (the published genotype array).

Each row is one Up-Cell of 7 op indices. Edges 0 and 1 go from the cell input to nodes
n0, n1 and choose from {0: nearest, 1: bilinear} ×2 -> ReLU -> 1x1 conv, or 2: ReLU ->
depthwise transposed conv 3x3 stride 2 (padding 1, output padding 1, no bias) -> 1x1 conv
(no bias). Edges 2–6 are n0→n2, n1→n2, n0→n3, n1→n3, n2→n3, each from {0: none,
1: identity, 2: conv1x1, 3: conv3x3, 4: conv5x5, 5: dilconv3x3, 6: dilconv5x5}, convs as
ReLU -> conv, no norm. Cell output n3, skip output n2. A node with no chosen input edge
does not exist; 'none' edges are absent.

The official `Cell.forward` computes both up-edges and n2 whatever reads them: an up-edge
whose node has only 'none' out-edges, or cell 3's n2 when its n2 -> n3 edge is 'none'
(with the edges and skip-ins feeding it), is computed and dropped. The network is built
that way (`Native.official`, which the official parameter and MAC counts describe) and
then pruned with `prune_dead`, so every genotype `alpha2genotype` can produce converts.

The latent is split in three (two for STL-10): the first part is the linear stem of cell 1,
the others are linear maps added to the inputs of cells 2 and 3. Cross-cell skip-ins
(upsample with the cell's mode, then 1x1 conv) go into n2 of later cells: cell 2 ← cell 1
(bilinear), cell 3 ← cells 1, 2 (nearest).

The reference adds the skip-ins to n2 in place after computing it, so a cell's skip
output includes them. (Its MixedOp returns `sum(op(x) for op in ops)`, a fresh tensor even
for identity, so that in-place add never leaks into n0/n1 — checked against the reference
outputs in tests/fixtures.)
"""

from __future__ import annotations

from typing import Any

from ...errors import GccGanError
from ..builder import NetBuilder, op
from .common import Native, as_ints, check_sizes, linear_stem, pruned, to_rgb

UP_OPS = ("nearest", "bilinear", "convT")
NORMAL_OPS = ("none", "identity", "conv1x1", "conv3x3", "conv5x5", "dilconv3x3", "dilconv5x5")
CELL_UP_MODE = ("nearest", "bilinear", "nearest")  # cell k's mode (used for its skip-ins)
# edge index -> (source node, destination node)
EDGES = {2: ("n0", "n2"), 3: ("n1", "n2"), 4: ("n0", "n3"), 5: ("n1", "n3"), 6: ("n2", "n3")}


def parse_adversarialnas_arch(arch: Any) -> list[list[int]]:
    try:
        rows = [as_ints(row, "a row") for row in arch]
    except (TypeError, GccGanError):
        raise GccGanError("an AdversarialNAS genotype is a list of rows of 7 integers, one row per cell, "
                          "e.g. [[1,1,1,0,3,3,1],[1,1,0,1,3,3,3],[0,1,0,3,3,0,3]]") from None
    if len(rows) != 3:
        raise GccGanError(f"an AdversarialNAS genotype has 3 rows (one per Up-Cell), got {len(rows)}")
    for k, row in enumerate(rows, start=1):
        if len(row) != 7:
            raise GccGanError(f"AdversarialNAS cell {k}: a row has 7 op indices, got {len(row)}: {row}")
        for i, v in enumerate(row):
            lim = len(UP_OPS) if i < 2 else len(NORMAL_OPS)
            if not 0 <= v < lim:
                names = UP_OPS if i < 2 else NORMAL_OPS
                raise GccGanError(f"AdversarialNAS cell {k}, edge {i}: op index must be in 0..{lim - 1} "
                                  f"({', '.join(names)}), got {v}")
        if row[2] == 0 and row[3] == 0:
            raise GccGanError(f"AdversarialNAS cell {k}: edges 2 and 3 are both 'none', so node n2 (the cell's "
                              f"skip output, which receives the skip-ins) does not exist")
        if row[4] == row[5] == row[6] == 0:
            raise GccGanError(f"AdversarialNAS cell {k}: edges 4, 5 and 6 are all 'none', so the cell has no output")
    return rows


def _normal_edge(b: NetBuilder, cell: str, i: int, idx: int, names: dict[str, str]) -> None:
    """Edge i of a cell with normal op `idx`; convs are ReLU -> conv, registered under both
    reference names of the conv (`conv`/`dilconv` and the aliased `op.1`)."""
    src, dst = EDGES[i]
    name, pre = NORMAL_OPS[idx], f"{cell}.c{i - 2}.ops.0"
    if name == "identity":
        b.edge(names[src], names[dst], op("identity"), name=f"{cell}.c{i - 2}")
        return
    dil = 2 if name.startswith("dil") else 1
    attr = "dilconv" if dil > 1 else "conv"
    b.edge(names[src], names[dst], op("relu"), op("conv", kernel=int(name[-1]), dilation=dil),
           name=f"{cell}.c{i - 2}", refs={1: [f"{pre}.{attr}", f"{pre}.op.1"]})


def adversarialnas_generator(arch: Any, gf: int = 256, latent: int = 120, bottom: int = 4,
                             dataset: str = "cifar10") -> Native:
    rows = parse_adversarialnas_arch(arch)
    if dataset not in ("cifar10", "stl10"):
        raise GccGanError(f"AdversarialNAS dataset variant must be 'cifar10' or 'stl10', got {dataset!r}")
    parts = 3 if dataset == "cifar10" else 2
    check_sizes(gf=gf, latent=latent, bottom=bottom)
    if latent < parts:
        raise GccGanError(f"AdversarialNAS splits the latent in {parts} parts, so it needs at least {parts} "
                          f"dimensions, got {latent}")
    part = latent // parts
    b = NetBuilder(gf)
    z = b.latent("z", latent)
    prev = b.node("stem", width=1)
    linear_stem(b, z, prev, bottom, "l1", latent_slice=(0, part))
    skips: list[str] = []
    for k, row in enumerate(rows, start=1):
        c = f"cell{k}"
        if k > 1 and k - 1 < parts:  # latent map added to this cell's input
            stop = part * k if k < parts else latent
            linear_stem(b, z, prev, bottom * 2 ** (k - 1), f"l{k}", latent_slice=(part * (k - 1), stop))
        names = {n: f"{c}.{n}" for n in ("n0", "n1", "n2", "n3")}
        for i, n in enumerate(("n0", "n1")):
            # the official cell computes both up-edges whatever reads them (dead ones are pruned below)
            b.node(names[n], width=1, cell=c)
            pre = f"{c}.up{i}.ups.0"
            if UP_OPS[row[i]] == "convT":
                ops = [op("relu"), op("conv_transpose", kernel=3, stride=2, padding=1, output_padding=1,
                                      depthwise=True, bias=False), op("conv", kernel=1, bias=False)]
                refs = {1: f"{pre}.convT.1", 2: f"{pre}.convT.2"}
            else:
                ops = [op("upsample", mode=UP_OPS[row[i]]), op("relu"), op("conv", kernel=1)]
                refs = {2: f"{pre}.c.1"}
            b.edge(prev, names[n], *ops, name=f"{c}.up{i}", refs=refs)
        b.node(names["n2"], width=1, cell=c)
        b.node(names["n3"], width=1, cell=c)
        # n2 = c0(n0) + c1(n1), then the skip-ins (in place), then n3 = c2(n0) + c3(n1) + c4(n2)
        for i in (2, 3):
            if row[i]:
                _normal_edge(b, c, i, row[i], names)
        for j, ft in enumerate(skips):
            b.edge(ft, names["n2"], op("upsample", mode=CELL_UP_MODE[k - 1], scale=2 ** (k - 1 - j)),
                   op("conv", kernel=1), name=f"{c}.skip_in{j}", refs={1: f"{c}.skip_in_ops.{j}"})
        for i in (4, 5, 6):
            if row[i]:
                _normal_edge(b, c, i, row[i], names)
        skips.append(names["n2"])
        prev = names["n3"]
    to_rgb(b, prev)
    enc = {"format": "adversarialnas", "arch": rows, "gf": gf, "latent": latent, "bottom": bottom, "dataset": dataset}
    network, official = pruned(b.build())
    return Native(network, b.refs, enc, official=official)
