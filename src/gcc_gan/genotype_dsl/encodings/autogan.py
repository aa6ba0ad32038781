"""AutoGAN's generator encoding.

Per cell `[conv_type, norm, up, shortcut, skip]` (cell 1 has no skip): conv_type 0
post-activation / 1 pre-activation; norm 0 none / 1 batch / 2 instance; up 0 bilinear /
1 nearest / 2 transposed conv (kernel 2, stride 2); shortcut 0/1 (upsample + 1x1 conv);
skip = bitmask over the earlier cells' skip outputs, most significant bit = cell 1, each
skip-in upsampled (chains of transposed convs for up=2) then 1x1 conv, added after the
cell's first block. A cell's skip output is that sum (the reference adds skip-ins in
place, so its skip output includes them).

Pre-activation cell: [norm ->] ReLU -> up -> conv3x3 (=h, + skip-ins) -> [norm ->] ReLU ->
conv3x3. Post-activation: up -> conv3x3 -> [norm ->] ReLU (=h, + skip-ins) -> conv3x3 ->
[norm ->] ReLU. Stem: linear to bottom×bottom; head: BN -> ReLU -> conv3x3 -> tanh.

`widths` (not AutoGAN's: gcc-gan's width search under a compiled-cost budget, see
search/spaces/autogan.py) gives each cell's channels as a multiple of gf (its `h` and `out`
nodes); the stem stays at gf. Without it every cell is gf wide, as published.

Checkpoint layouts: `refs` are the hand-written `models/` names (`c1`, `c2`, `n1`, `n2`,
`c_sc`, `skip_in_ops.i` over the cell's skip-ins); `layouts["search"]` are the search
code's (`models_search/shared_gan.py`, what `train_derived.py` saves): `pre_conv1.conv`,
`post_conv1.deconv`, `pre_conv2.bn`, `deconv_sc`, `c_sc`, `skip_deconvx2`,
`skip_deconvx4.0/.1`, `skip_in_ops.i` indexed by the source cell.
"""

from __future__ import annotations

from typing import Sequence

from ...errors import GccGanError
from ..builder import NetBuilder, op
from ..model import OpCall
from .common import Layout, Native, as_ints, check_sizes, linear_stem, to_rgb

UP = {0: "bilinear", 1: "nearest", 2: "deconv"}
NORM = {0: None, 1: "batch_norm", 2: "instance_norm"}


def parse_autogan_arch(arch: Sequence[int]) -> list[list[int]]:
    """Split a flat AutoGAN vector into cells, checking every field."""
    arch = as_ints(arch, "an AutoGAN arch vector")
    if len(arch) < 4 or (len(arch) - 4) % 5:
        raise GccGanError(f"an AutoGAN arch vector has 4 numbers for cell 1 and 5 for each further cell "
                          f"(14 for 3 cells); got {len(arch)}: {arch}")
    cells = [arch[:4]] + [arch[i:i + 5] for i in range(4, len(arch), 5)]
    fields = ("conv_type", "norm", "up", "shortcut")
    limits = (2, 3, 3, 2)
    for k, cell in enumerate(cells, start=1):
        for name, lim, v in zip(fields, limits, cell):
            if not 0 <= v < lim:
                raise GccGanError(f"AutoGAN cell {k}: {name} must be in 0..{lim - 1}, got {v}")
        if k > 1 and not 0 <= cell[4] < 2 ** (k - 1):
            raise GccGanError(f"AutoGAN cell {k}: skip bitmask must be in 0..{2 ** (k - 1) - 1} "
                              f"(one bit per earlier cell), got {cell[4]}")
    return cells


def _up_ops(mode: str, scale: int) -> list[OpCall]:
    if mode == "deconv":
        return [op("conv_transpose", kernel=2, stride=2) for _ in range(scale.bit_length() - 1)]
    return [op("upsample", mode=mode, scale=scale)]


def parse_widths(widths: Sequence[float], n_cells: int) -> list[float]:
    """Per-cell width multipliers: one positive number per cell."""
    try:
        ws = [float(w) for w in widths]
        ok = all(not isinstance(w, (str, bytes, bool)) for w in widths)
    except (TypeError, ValueError):
        ok = False
    if not ok or len(ws) != n_cells or not all(0 < w <= 64 for w in ws):
        raise GccGanError(f"AutoGAN widths must be one positive multiplier of gf per cell ({n_cells}), got {widths!r}")
    return ws


def autogan_generator(arch: Sequence[int], gf: int = 256, latent: int = 128, bottom: int = 4,
                      widths: Sequence[float] | None = None) -> Native:
    cells = parse_autogan_arch(arch)
    check_sizes(gf=gf, latent=latent, bottom=bottom)
    ws = [1.0] * len(cells) if widths is None else parse_widths(widths, len(cells))
    b = NetBuilder(gf)
    z = b.latent("z", latent)
    prev = b.node("stem", width=1)
    linear_stem(b, z, prev, bottom, "l1")
    skips: list[str] = []
    # module paths of the search code (models_search/, as train_derived.py saves them):
    # every cell holds all blocks; set_arch picks which run
    search: dict[str, tuple[str, int]] = {"l1": ("l1", 0), "to_rgb.0": ("to_rgb", 0), "to_rgb.2": ("to_rgb", 2)}

    def sref(edge: str, ops: list[OpCall], names: dict[str, str]) -> None:
        """Register search-code paths for the parametrised ops of `edge`, in order:
        names maps an op kind (deconv / conv / norm) to its module path."""
        for j, call in enumerate(ops):
            kind = {"conv_transpose": "deconv", "conv": "conv", "batch_norm": "norm"}.get(call.op)
            if kind in names:
                search[names[kind]] = (edge, j)

    for k, cell in enumerate(cells, start=1):
        conv_type, norm_id, up_id, sc = cell[:4]
        mask = cell[4] if k > 1 else 0
        mode, norm = UP[up_id], NORM[norm_id]
        c = f"cell{k}"
        nrm = [op(norm)] if norm else []
        h = b.node(f"{c}.h", width=ws[k - 1], cell=c)
        if conv_type == 1:  # pre-activation
            up = _up_ops(mode, 2)
            ops1 = [*nrm, op("relu"), *up, op("conv", kernel=3)]
            refs1 = {len(ops1) - 1: f"{c}.c1", **({0: f"{c}.n1"} if norm == "batch_norm" else {})}
            if mode == "deconv":
                refs1[len(nrm) + 1] = f"{c}.pre_conv1.deconv"
        else:  # post-activation
            ops1 = [*_up_ops(mode, 2), op("conv", kernel=3), *nrm, op("relu")]
            refs1 = {len(ops1) - 2 - len(nrm): f"{c}.c1"}
            if norm == "batch_norm":
                refs1[len(ops1) - 2] = f"{c}.n1"
        b.edge(prev, h, *ops1, name=f"{c}.c1", refs=refs1)
        blk = f"{c}.{'pre' if conv_type == 1 else 'post'}_conv"
        sref(f"{c}.c1", ops1, {"deconv": f"{blk}1.deconv", "conv": f"{blk}1.conv", "norm": f"{blk}1.bn"})
        # skip-ins from earlier cells, MSB = cell 1, enumerated in cell order
        n_in = 0
        for j in range(1, k):
            if mask >> (k - 1 - j) & 1:
                up = _up_ops(mode, 2 ** (k - j))
                b.edge(skips[j - 1], h, *up, op("conv", kernel=1), name=f"{c}.skip_in{n_in}",
                       refs={len(up): f"{c}.skip_in_ops.{n_in}"})
                # search code: skip_in_ops indexed by source cell; deconv chains skip_deconvx2 / x4
                search[f"{c}.skip_in_ops.{j - 1}"] = (f"{c}.skip_in{n_in}", len(up))
                for t in range(len(up) if mode == "deconv" else 0):
                    x = f"{c}.skip_deconvx{2 ** (k - j)}"
                    search[x if len(up) == 1 else f"{x}.{t}"] = (f"{c}.skip_in{n_in}", t)
                n_in += 1
        skips.append(h)
        out = b.node(f"{c}.out", width=ws[k - 1], cell=c)
        if conv_type == 1:
            ops2 = [*nrm, op("relu"), op("conv", kernel=3)]
            refs2 = {len(ops2) - 1: f"{c}.c2", **({0: f"{c}.n2"} if norm == "batch_norm" else {})}
        else:
            ops2 = [op("conv", kernel=3), *nrm, op("relu")]
            refs2 = {0: f"{c}.c2", **({1: f"{c}.n2"} if norm == "batch_norm" else {})}
        b.edge(h, out, *ops2, name=f"{c}.c2", refs=refs2)
        sref(f"{c}.c2", ops2, {"conv": f"{blk}2.conv", "norm": f"{blk}2.bn"})
        if sc:
            up = _up_ops(mode, 2)
            b.edge(prev, out, *up, op("conv", kernel=1), name=f"{c}.c_sc", refs={len(up): f"{c}.c_sc"})
            sref(f"{c}.c_sc", [*up, op("conv", kernel=1)], {"deconv": f"{c}.deconv_sc", "conv": f"{c}.c_sc"})
        prev = out
    to_rgb(b, prev)
    enc = {"format": "autogan", "arch": [a for cell in cells for a in cell], "gf": gf, "latent": latent,
           "bottom": bottom, **({} if widths is None else {"widths": ws})}
    # the search code's cells hold every block; those set_arch did not pick are never run
    spare = tuple(f"cell{k}." for k in range(1, len(cells) + 1))
    return Native(b.build(), b.refs, enc, layouts={"search": Layout(search, spare)})
