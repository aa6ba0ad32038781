"""The official generators and discriminators, written again in the test suite from the
published code's structure (TAMU-VITA/AutoGAN `models/` and `models_search/`,
chengaopro/AdversarialNAS `archs/arch_cifar10*.py`): the same module names, the same
forward semantics. They build checkpoints in each official layout (random weights) and
the outputs an import must reproduce. Nothing here comes from gcc_gan.
"""

from __future__ import annotations

import argparse
import pickle
import types
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

# ---------------------------------------------------------------------------------------
# AutoGAN, models/ (hand-written: pre-activation cells, nearest / bilinear, dense skips)


class ModelsCell(nn.Module):
    def __init__(self, ch: int, up_mode: str, num_skip_in: int = 0, short_cut: bool = False,
                 norm: str | None = None) -> None:
        super().__init__()
        self.c1 = nn.Conv2d(ch, ch, 3, padding=1)
        self.c2 = nn.Conv2d(ch, ch, 3, padding=1)
        self.up_mode, self.norm = up_mode, norm
        if norm == "bn":
            self.n1, self.n2 = nn.BatchNorm2d(ch), nn.BatchNorm2d(ch)
        elif norm == "in":
            self.n1, self.n2 = nn.InstanceNorm2d(ch), nn.InstanceNorm2d(ch)
        self.c_sc = nn.Conv2d(ch, ch, 1) if short_cut else None
        self.skip_in_ops = nn.ModuleList([nn.Conv2d(ch, ch, 1) for _ in range(num_skip_in)]) if num_skip_in else None

    def forward(self, x: Tensor, skip_ft: Sequence[Tensor] = ()) -> tuple[Tensor, Tensor]:
        r = self.n1(x) if self.norm else x
        h = F.interpolate(F.relu(r), scale_factor=2, mode=self.up_mode)
        ht, wt = h.shape[-2:]
        h = self.c1(h)
        skip_out = h
        if self.skip_in_ops:
            for ft, op in zip(skip_ft, self.skip_in_ops, strict=True):
                h += op(F.interpolate(ft, size=(ht, wt), mode=self.up_mode))  # in place: skip_out too
        if self.norm:
            h = self.n2(h)
        out = self.c2(F.relu(h))
        if self.c_sc is not None:
            out += self.c_sc(F.interpolate(x, scale_factor=2, mode=self.up_mode))
        return skip_out, out


def to_rgb(ch: int) -> nn.Sequential:
    return nn.Sequential(nn.BatchNorm2d(ch), nn.ReLU(), nn.Conv2d(ch, 3, 3, 1, 1), nn.Tanh())


class AutoGANModels(nn.Module):
    """models/autogan_cifar10_*.Generator for an arch the hand-written cells can express:
    every cell pre-activation, up nearest / bilinear, skip mask 0 or all earlier cells."""

    def __init__(self, arch: Sequence[int], gf: int, latent: int, bottom: int = 4) -> None:
        super().__init__()
        cells = [arch[:4]] + [arch[i:i + 5] for i in range(4, len(arch), 5)]
        self.ch, self.bottom = gf, bottom
        self.l1 = nn.Linear(latent, bottom * bottom * gf)
        for k, c in enumerate(cells, start=1):
            assert c[0] == 1 and c[2] in (0, 1) and (k == 1 or c[4] in (0, 2 ** (k - 1) - 1)), c
            setattr(self, f"cell{k}", ModelsCell(gf, {0: "bilinear", 1: "nearest"}[c[2]],
                                                 num_skip_in=k - 1 if k > 1 and c[4] else 0, short_cut=bool(c[3]),
                                                 norm={0: None, 1: "bn", 2: "in"}[c[1]]))
        self.n_cells = len(cells)
        self.to_rgb = to_rgb(gf)

    def forward(self, z: Tensor) -> Tensor:
        h = self.l1(z).view(-1, self.ch, self.bottom, self.bottom)
        skips: list[Tensor] = []
        for k in range(1, self.n_cells + 1):
            cell = getattr(self, f"cell{k}")
            s, h = cell(h, tuple(skips) if cell.skip_in_ops else ())
            skips.append(s)
        return self.to_rgb(h)


# ---------------------------------------------------------------------------------------
# AutoGAN, models_search/ (what train_derived.py trains and saves: every cell holds every
# candidate block; set_arch picks)

UP_TYPE = {0: "bilinear", 1: "nearest", 2: "deconv"}


class PreGenBlock(nn.Module):
    def __init__(self, cin: int, cout: int, up_block: bool) -> None:
        super().__init__()
        self.bn, self.inn = nn.BatchNorm2d(cin), nn.InstanceNorm2d(cin)
        self.up_block = up_block
        self.deconv = nn.ConvTranspose2d(cin, cin, kernel_size=2, stride=2)
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        h = {"bn": self.bn, "in": self.inn}[self.norm](x) if self.norm else x
        h = F.relu(h)
        if self.up_block:
            h = self.deconv(h) if self.up == "deconv" else F.interpolate(h, scale_factor=2, mode=self.up)
        return self.conv(h)


class PostGenBlock(nn.Module):
    def __init__(self, cin: int, cout: int, up_block: bool) -> None:
        super().__init__()
        self.deconv = nn.ConvTranspose2d(cin, cin, kernel_size=2, stride=2)
        self.conv = nn.Conv2d(cin, cout, 3, padding=1)
        self.bn, self.inn = nn.BatchNorm2d(cout), nn.InstanceNorm2d(cout)
        self.up_block = up_block

    def forward(self, x: Tensor) -> Tensor:
        h = x
        if self.up_block:
            h = self.deconv(x) if self.up == "deconv" else F.interpolate(x, scale_factor=2, mode=self.up)
        h = self.conv(h)
        if self.norm:
            h = {"bn": self.bn, "in": self.inn}[self.norm](h)
        return F.relu(h)


class SearchCell(nn.Module):
    def __init__(self, ch: int, num_skip_in: int) -> None:
        super().__init__()
        self.post_conv1, self.pre_conv1 = PostGenBlock(ch, ch, True), PreGenBlock(ch, ch, True)
        self.post_conv2, self.pre_conv2 = PostGenBlock(ch, ch, False), PreGenBlock(ch, ch, False)
        self.deconv_sc = nn.ConvTranspose2d(ch, ch, kernel_size=2, stride=2)
        self.c_sc = nn.Conv2d(ch, ch, 1)
        self.skip_deconvx2 = nn.ConvTranspose2d(ch, ch, kernel_size=2, stride=2)
        self.skip_deconvx4 = nn.Sequential(nn.ConvTranspose2d(ch, ch, kernel_size=2, stride=2),
                                           nn.ConvTranspose2d(ch, ch, kernel_size=2, stride=2))
        self.num_skip_in = num_skip_in
        if num_skip_in:
            self.skip_in_ops = nn.ModuleList([nn.Conv2d(ch, ch, 1) for _ in range(num_skip_in)])

    def set_arch(self, conv_id: int, norm_id: int, up_id: int, short_cut: int, skip_ins: int) -> None:
        for blk in (self.post_conv1, self.pre_conv1, self.post_conv2, self.pre_conv2):
            blk.up, blk.norm = UP_TYPE[up_id], {0: None, 1: "bn", 2: "in"}[norm_id]
        bits = bin(skip_ins).replace("0b", "")[::-1] if self.num_skip_in else ""
        self.skip_ins = [0] * self.num_skip_in
        for i, b in enumerate(bits):
            self.skip_ins[-(i + 1)] = int(b)
        self.conv_type, self.up, self.short_cut = {0: "post", 1: "pre"}[conv_id], UP_TYPE[up_id], bool(short_cut)

    def forward(self, x: Tensor, skip_ft: Sequence[Tensor] = ()) -> tuple[Tensor, Tensor]:
        h = (self.post_conv1 if self.conv_type == "post" else self.pre_conv1)(x)
        ht, wt = h.shape[-2:]
        skip_out = h
        if self.num_skip_in:
            for flag, ft, op in zip(self.skip_ins, skip_ft, self.skip_in_ops, strict=True):
                if flag:
                    if self.up != "deconv":
                        h += op(F.interpolate(ft, size=(ht, wt), mode=self.up))
                    else:
                        h += op(getattr(self, f"skip_deconvx{wt // ft.shape[-1]}")(ft))
        out = (self.post_conv2 if self.conv_type == "post" else self.pre_conv2)(h)
        if self.short_cut:
            out += self.c_sc(F.interpolate(x, scale_factor=2, mode=self.up) if self.up != "deconv"
                             else self.deconv_sc(x))
        return skip_out, out


class AutoGANSearch(nn.Module):
    """models_search/shared_gan.Generator after set_arch(arch, cur_stage=2)."""

    def __init__(self, arch: Sequence[int], gf: int, latent: int, bottom: int = 4) -> None:
        super().__init__()
        self.ch, self.bottom = gf, bottom
        self.l1 = nn.Linear(latent, bottom * bottom * gf)
        cells = [list(arch[:4]) + [0]] + [list(arch[i:i + 5]) for i in range(4, len(arch), 5)]
        self.n_cells = len(cells)
        for k, c in enumerate(cells, start=1):
            cell = SearchCell(gf, k - 1)
            cell.set_arch(*c)
            setattr(self, f"cell{k}", cell)
        self.to_rgb = to_rgb(gf)

    def forward(self, z: Tensor) -> Tensor:
        h = self.l1(z).view(-1, self.ch, self.bottom, self.bottom)
        skips: list[Tensor] = []
        for k in range(1, self.n_cells + 1):
            s, h = getattr(self, f"cell{k}")(h, tuple(skips))
            skips.append(s)
        return self.to_rgb(h)


# ---------------------------------------------------------------------------------------
# AdversarialNAS, archs/arch_cifar10.py (the derived generator)

PRIMITIVES = ["none", "skip_connect", "conv_1x1", "conv_3x3", "conv_5x5", "dil_conv_3x3", "dil_conv_5x5"]


class Conv(nn.Module):  # ReLU -> conv, the conv registered twice (`conv` and `op.1`)
    def __init__(self, ch: int, k: int, pad: int, dil: int = 1) -> None:
        super().__init__()
        conv = nn.Conv2d(ch, ch, k, padding=pad, dilation=dil)
        if dil == 1:
            self.conv = conv
        else:
            self.dilconv = conv
        self.op = nn.Sequential(nn.ReLU(), conv)

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


class Identity(nn.Module):
    def forward(self, x: Tensor) -> Tensor:
        return x


def make_op(name: str, ch: int) -> nn.Module:
    return {"skip_connect": lambda: Identity(), "conv_1x1": lambda: Conv(ch, 1, 0), "conv_3x3": lambda: Conv(ch, 3, 1),
            "conv_5x5": lambda: Conv(ch, 5, 2), "dil_conv_3x3": lambda: Conv(ch, 3, 2, 2),
            "dil_conv_5x5": lambda: Conv(ch, 5, 4, 2)}[name]()


class MixedOp(nn.Module):
    def __init__(self, ch: int, name: str) -> None:
        super().__init__()
        self.ops = nn.ModuleList([make_op(name, ch)])

    def forward(self, x: Tensor) -> Tensor:
        return sum(op(x) for op in self.ops)  # a fresh tensor, even for identity


class Up(nn.Module):
    def __init__(self, ch: int, mode: str) -> None:
        super().__init__()
        self.mode = mode
        if mode == "convT":
            self.convT = nn.Sequential(nn.ReLU(), nn.ConvTranspose2d(ch, ch, 3, stride=2, padding=1, output_padding=1,
                                                                     groups=ch, bias=False),
                                       nn.Conv2d(ch, ch, 1, bias=False))
        else:
            self.c = nn.Sequential(nn.ReLU(), nn.Conv2d(ch, ch, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.convT(x) if self.mode == "convT" else self.c(F.interpolate(x, scale_factor=2, mode=self.mode))


class MixedUp(nn.Module):
    def __init__(self, ch: int, mode: str) -> None:
        super().__init__()
        self.ups = nn.ModuleList([Up(ch, mode)])

    def forward(self, x: Tensor) -> Tensor:
        return sum(up(x) for up in self.ups)


class AdvCell(nn.Module):
    def __init__(self, ch: int, up_mode: str, row: Sequence[int], num_skip_in: int) -> None:
        super().__init__()
        self.up0 = MixedUp(ch, ("nearest", "bilinear", "convT")[row[0]])
        self.up1 = MixedUp(ch, ("nearest", "bilinear", "convT")[row[1]])
        for i in range(5):
            if row[2 + i] > 0:
                setattr(self, f"c{i}", MixedOp(ch, PRIMITIVES[row[2 + i]]))
        self.up_mode = up_mode
        self.skip_in_ops = nn.ModuleList([nn.Conv2d(ch, ch, 1) for _ in range(num_skip_in)]) if num_skip_in else None

    def forward(self, x: Tensor, skip_ft: Sequence[Tensor] = ()) -> tuple[Tensor, Tensor]:
        node0, node1 = self.up0(x), self.up1(x)  # both computed, whatever reads them
        ht, wt = node0.shape[-2:]
        terms2 = [getattr(self, c)(n) for c, n in (("c0", node0), ("c1", node1)) if hasattr(self, c)]
        node2 = terms2[0] + terms2[1] if len(terms2) == 2 else terms2[0]
        skip_out = node2
        if self.skip_in_ops:
            for ft, op in zip(skip_ft, self.skip_in_ops, strict=True):
                node2 += op(F.interpolate(ft, size=(ht, wt), mode=self.up_mode))
        terms3 = [getattr(self, c)(n) for c, n in (("c2", node0), ("c3", node1), ("c4", node2)) if hasattr(self, c)]
        node3 = terms3[0]
        for t in terms3[1:]:
            node3 = node3 + t
        return skip_out, node3


class AdversarialNASGen(nn.Module):
    def __init__(self, rows: Sequence[Sequence[int]], gf: int, latent: int, bottom: int = 4,
                 dataset: str = "cifar10") -> None:
        super().__init__()
        self.ch, self.bottom, self.dataset = gf, bottom, dataset
        self.base = latent // (3 if dataset == "cifar10" else 2)
        self.l1 = nn.Linear(self.base, bottom ** 2 * gf)
        self.l2 = nn.Linear(self.base, (bottom * 2) ** 2 * gf)
        if dataset == "cifar10":
            self.l3 = nn.Linear(self.base, (bottom * 4) ** 2 * gf)
        self.cell1 = AdvCell(gf, "nearest", rows[0], 0)
        self.cell2 = AdvCell(gf, "bilinear", rows[1], 1)
        self.cell3 = AdvCell(gf, "nearest", rows[2], 2)
        self.to_rgb = to_rgb(gf)

    def forward(self, z: Tensor) -> Tensor:
        b, w = self.base, self.bottom
        h = self.l1(z[:, :b]).view(-1, self.ch, w, w)
        n1 = self.l2(z[:, b:2 * b]).view(-1, self.ch, 2 * w, 2 * w)
        s1, h1 = self.cell1(h)
        s2, h2 = self.cell2(h1 + n1, (s1,))
        if self.dataset == "cifar10":
            n2 = self.l3(z[:, 2 * b:]).view(-1, self.ch, 4 * w, 4 * w)
            _, h3 = self.cell3(h2 + n2, (s1, s2))
        else:
            _, h3 = self.cell3(h2, (s1, s2))
        return self.to_rgb(h3)


# ---------------------------------------------------------------------------------------
# the discriminator both train with (AutoGAN models/ and models_search/, AdversarialNAS
# archs/arch_cifar10.py): SNGAN ResNet D, spectral norm through nn.utils.spectral_norm


def _sn(m: nn.Module, sn: bool) -> nn.Module:
    return nn.utils.spectral_norm(m) if sn else m


class OptimizedDisBlock(nn.Module):
    def __init__(self, cin: int, cout: int, sn: bool) -> None:
        super().__init__()
        self.c1 = _sn(nn.Conv2d(cin, cout, 3, padding=1), sn)
        self.c2 = _sn(nn.Conv2d(cout, cout, 3, padding=1), sn)
        self.c_sc = _sn(nn.Conv2d(cin, cout, 1), sn)

    def forward(self, x: Tensor) -> Tensor:
        return F.avg_pool2d(self.c2(F.relu(self.c1(x))), 2) + self.c_sc(F.avg_pool2d(x, 2))


class DisBlock(nn.Module):
    def __init__(self, ch: int, downsample: bool, sn: bool) -> None:
        super().__init__()
        self.c1 = _sn(nn.Conv2d(ch, ch, 3, padding=1), sn)
        self.c2 = _sn(nn.Conv2d(ch, ch, 3, padding=1), sn)
        self.downsample = downsample
        if downsample:
            self.c_sc = _sn(nn.Conv2d(ch, ch, 1), sn)

    def forward(self, x: Tensor) -> Tensor:
        h = self.c2(F.relu(self.c1(F.relu(x))))
        if self.downsample:
            return F.avg_pool2d(h, 2) + F.avg_pool2d(self.c_sc(x), 2)
        return h + x


class Discriminator(nn.Module):
    def __init__(self, df: int, sn: bool = True) -> None:
        super().__init__()
        self.block1 = OptimizedDisBlock(3, df, sn)
        self.block2 = DisBlock(df, True, sn)
        self.block3 = DisBlock(df, False, sn)
        self.block4 = DisBlock(df, False, sn)
        self.l5 = _sn(nn.Linear(df, 1, bias=False), sn)

    def forward(self, x: Tensor) -> Tensor:
        h = self.block4(self.block3(self.block2(self.block1(x))))
        return self.l5(F.relu(h).sum(2).sum(2))


# ---------------------------------------------------------------------------------------
# random weights and checkpoints as the official training scripts write them


def randomize(module: nn.Module, seed: int) -> nn.Module:
    """Every parameter and BN statistic drawn at random (seeded), then a few training-mode
    forwards for spectral norm's u / v; eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.is_floating_point():
                if name.endswith("running_var"):
                    t.copy_(torch.rand(t.shape, generator=g) + 0.5)
                elif name.endswith(("weight_u", "weight_v")):
                    t.copy_(F.normalize(torch.randn(t.shape, generator=g), dim=0))
                else:
                    t.copy_(torch.randn(t.shape, generator=g) * 0.1)
    return module.eval()


def training_checkpoint(gen: nn.Module | None = None, dis: nn.Module | None = None) -> dict[str, Any]:
    """What train.py / train_derived.py / MGPU_train_arch.py save (DataParallel `module.`
    prefixes; a numpy best FID; the run's arguments)."""
    ck: dict[str, Any] = {"epoch": 3, "best_fid": np.float64(31.7), "args": argparse.Namespace(gf_dim=8),
                          "path_helper": {"prefix": "logs/run"}}
    if gen is not None:
        sd = {f"module.{k}": v.clone() for k, v in gen.state_dict().items()}
        ck["gen_state_dict"] = {k: v + 0.5 if v.is_floating_point() else v for k, v in sd.items()}  # not the EMA
        ck["avg_gen_state_dict"] = sd
    if dis is not None:
        ck["dis_state_dict"] = {f"module.{k}": v.clone() for k, v in dis.state_dict().items()}
    return ck


class _Numpy1Pickler(pickle._Pickler):  # type: ignore[misc,name-defined]
    """Pickles numpy objects under the module names numpy 1.x uses (`numpy.core…`), as the
    official code's environment (PyTorch 1.x, numpy 1.x) writes them."""

    def save_global(self, obj: Any, name: str | None = None) -> None:
        module = getattr(obj, "__module__", "") or ""
        if module.startswith("numpy._core"):
            qual = name or obj.__qualname__
            self.write(pickle.GLOBAL + f"{module.replace('numpy._core', 'numpy.core')}\n{qual}\n".encode())
            self.memoize(obj)
            return
        super().save_global(obj, name)


NUMPY1 = types.SimpleNamespace(Pickler=_Numpy1Pickler, dump=pickle.dump, __name__="numpy1_pickle")


def save_checkpoint(obj: Any, path: Path, legacy: bool = False, numpy1: bool = True) -> Path:
    """torch.save in the zip or the legacy format, numpy objects named as numpy 1.x does."""
    kw: dict[str, Any] = {"_use_new_zipfile_serialization": not legacy}
    if numpy1:
        kw["pickle_module"] = NUMPY1
    torch.save(obj, path, **kw)
    return path
