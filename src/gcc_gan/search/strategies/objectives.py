"""The training objectives of the differentiable strategy (`--reward hinge | glo`): each owns
its weights' optimizers and the step's order of weight and architecture updates, and hands
every architecture loss to the strategy's one α-step (`DifferentiableSearcher.arch_step`).

hinge — AdversarialNAS's Algorithm 1 (and its fixed-D ablation). Each iteration reads
2 × batch real images and splits them into disjoint halves A and B:
1. D architecture step on A: α_D descends D's hinge loss (= ascends the adversarial value);
2. D weight step on B;
3. G architecture step (α_G descends G's hinge loss, through D);
4. G weight step.
Real and fake images go through D in one call (D has no batch norm, so that is exact).
Data parallel (`gcc_gan.distributed`): `reals` holds this rank's shard of A and of B, the
latents are the global batch's (same draw on every rank) sliced to the shard, and every
gradient — weights and α — is averaged over the ranks; G's to-RGB batch norm uses the
global batch's statistics (the run loop swaps in DistBatchNorm), D has none to sync.
`--fixed-d`: D is the SNGAN ResNet discriminator (spectral norm) the searched generators
are retrained against, its architecture fixed; step 1 is skipped (single-sided search).

glo — DEGAS's GLO training: one latent per image (kept on the unit sphere), L2 +
Laplacian-pyramid L1, with alternating weight / architecture steps on disjoint images.
Data parallel: `idx` holds the global indices, each rank takes its shard of each
half-batch; every rank keeps all latents, and the (dense) gradients of weights, latents
and α are averaged over the ranks, so the replicas stay equal; the supernet's batch norms
use the global batch's statistics (DistBatchNorm), as GLO training on one process would.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...distributed import DataParallel
from ...errors import GccGanError
from ...train.losses import d_loss, g_loss
from ..base import adam, apply_grads


class Caller(Protocol):
    """What an objective uses of the differentiable strategy that calls it
    (strategies/differentiable.py `DifferentiableSearcher`): a protocol, so that the
    objective does not import its caller."""

    cfg: Any
    device: torch.device
    space: Any
    hard: bool
    dp: DataParallel
    arch: dict[str, list[nn.Parameter]]
    opts: dict[str, torch.optim.Optimizer]

    def gen(self, s: int, sub: int) -> torch.Generator: ...

    def randn(self, n: int, dim: int, s: int, sub: int) -> Tensor: ...

    def arch_step(self, group: str, loss: Tensor, out: dict[str, float]) -> None: ...


class Objective:
    """What the differentiable strategy asks of an objective."""

    reads_images = True  # False: step() gets dataset indices
    n_items = 0
    arch_loss = "arch_loss"  # the history key scoring each step's derived architecture (pareto.csv)

    def __init__(self, s: Caller) -> None:
        self.s = s

    def bind_data(self, data: Any) -> None:
        """The training data, before the first step (an objective may keep images of its own)."""

    def modules(self) -> dict[str, nn.Module]:
        return {}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def step(self, s: int, batch: Tensor, tau: float, gen: torch.Generator) -> dict[str, float]:
        raise NotImplementedError

    def samples(self, n: int) -> Tensor:
        raise NotImplementedError


class Hinge(Objective):
    """AdversarialNAS's Algorithm 1 (module docstring)."""

    arch_loss = "g_arch_loss"

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        cfg, sp = self.s.cfg, self.s.space
        w = (cfg.lr, cfg.beta1, cfg.beta2)
        return {"g_weights": adam(sp.g.weight_parameters(), *w), "d_weights": adam(sp.d_weights(), *w)}

    def _d(self, real: Tensor, fake: Tensor, wd: dict[str, Tensor]) -> Tensor:
        out = self.s.space.d(torch.cat([real, fake]), wd, self.s.hard)
        return d_loss("hinge", out[: real.shape[0]], out[real.shape[0]:])

    def step(self, s: int, reals: Tensor, tau: float, gen: torch.Generator) -> dict[str, float]:
        st, sp = self.s, self.s.space
        cfg, B = st.cfg, reals.shape[0] // 2  # B: this rank's shard of each half-batch
        ra, rb = reals[:B], reals[B:]
        out: dict[str, float] = {}
        hard = st.hard

        def fake(sub: int, grad: bool) -> Tensor:
            z = st.dp.shard(st.randn(cfg.batch_size, cfg.latent, s, sub))
            wg = sp.g.sample_weights(tau, hard, gen)
            if grad:
                return sp.g(z, wg, hard)  # type: ignore[no-any-return]
            with torch.no_grad():
                return sp.g(z, wg, hard)  # type: ignore[no-any-return]

        def wd() -> dict[str, Tensor]:
            return sp.d_weights_sample(tau, hard, gen)  # type: ignore[no-any-return]

        if "d_arch" in st.arch:  # 1. D architecture (ascend V)
            loss = self._d(ra, fake(1, False), wd())
            out["d_arch_loss"] = float(loss.detach())
            st.arch_step("d_arch", loss, out)
        loss = self._d(rb, fake(2, False), wd())  # 2. D weights
        apply_grads(loss, sp.d_weights(), st.opts["d_weights"], st.dp)
        out["d_loss"] = float(loss.detach())
        sp.d.requires_grad_(False)
        try:
            loss = g_loss("hinge", sp.d(fake(3, True), wd(), hard))  # 3. G architecture (descend V)
            out["g_arch_loss"] = float(loss.detach())
            st.arch_step("g_arch", loss, out)
            loss = g_loss("hinge", sp.d(fake(4, True), wd(), hard))  # 4. G weights
            apply_grads(loss, sp.g.weight_parameters(), st.opts["g_weights"], st.dp)
            out["g_loss"] = float(loss.detach())
        finally:
            sp.d.requires_grad_(True)
            for p in st.arch.get("d_arch", []):  # requires_grad_ on the whole module also touched α_D
                p.requires_grad_(True)
        out["tau"] = tau
        return out

    def samples(self, n: int) -> Tensor:
        s = self.s
        z = torch.randn(n, s.cfg.latent, generator=s.gen(0, 999)).to(s.device)
        return s.space.g(z, s.space.g.mean_weights())  # type: ignore[no-any-return]


# --------------------------------------------------------------------------- GLO

_K = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _blur_down(x: Tensor) -> Tensor:
    c = x.shape[1]
    k = (_K[:, None] * _K[None, :]).to(x)[None, None].expand(c, 1, 5, 5)
    return F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, stride=2, groups=c)


def laplacian_l1(x: Tensor, y: Tensor, levels: int = 3) -> Tensor:
    """Σ_j 2^(−2j)·|L_j(x) − L_j(y)|₁ over a Laplacian pyramid (GLO's Lap₁ loss), each
    level's L1 averaged over its elements; the last level is the low-pass residual."""
    loss = x.new_zeros(())
    for j in range(levels):
        if min(x.shape[-2:]) < 4:
            break
        dx, dy = _blur_down(x), _blur_down(y)
        lx = x - F.interpolate(dx, size=x.shape[-2:], mode="bilinear", align_corners=False)
        ly = y - F.interpolate(dy, size=y.shape[-2:], mode="bilinear", align_corners=False)
        loss = loss + 2.0 ** (-2 * j) * (lx - ly).abs().mean()
        x, y = dx, dy
    return loss + 2.0 ** (-2 * levels) * (x - y).abs().mean()


def glo_loss(fake: Tensor, real: Tensor) -> Tensor:
    return F.mse_loss(fake, real) + laplacian_l1(fake, real)


class Glo(Objective):
    """DEGAS's GLO training (module docstring)."""

    reads_images = False  # step() gets dataset indices: latents are per image

    def __init__(self, s: Caller) -> None:
        super().__init__(s)
        cfg = s.cfg
        self.n = cfg.n_images
        z = torch.randn(self.n, cfg.latent, generator=torch.Generator().manual_seed(cfg.seed))
        self.z = nn.Parameter(F.normalize(z, dim=1).to(s.device))  # GLO: latents on the unit sphere
        self.zmod = nn.ParameterDict({"z": self.z})
        self.images: Tensor | None = None

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        cfg = self.s.cfg
        return {"weights": adam(self.s.space.g.weight_parameters() + [self.z], cfg.lr, cfg.beta1, cfg.beta2)}

    def modules(self) -> dict[str, nn.Module]:
        return {"latents": self.zmod}

    def bind_data(self, data: Any) -> None:
        import numpy as np

        n, half = min(self.n, len(data)), self.s.cfg.batch_size
        if n < 2 * half:
            raise GccGanError(f"DEGAS needs at least {2 * half} images (two disjoint half-batches of {half}); "
                              f"the data has {n}")
        self.images = data.batch(np.arange(n)).to(self.s.device)  # the GLO training set (one latent each)
        self.n = self.n_items = n

    def step(self, s: int, idx: Tensor, tau: float, gen: torch.Generator) -> dict[str, float]:
        assert self.images is not None
        st, g = self.s, self.s.space.g
        B = idx.shape[0] // 2
        # idx: the GLOBAL indices (every rank renormalises all of half A's latents, so the
        # replicas stay equal); each rank computes its shard of A and of B
        ia_all = idx[:B].to(st.device)
        ia, ib = st.dp.shard(ia_all), st.dp.shard(idx[B:].to(st.device))
        loss = glo_loss(g(self.z[ia], g.sample_weights(tau, st.hard, gen), st.hard), self.images[ia])
        apply_grads(loss, g.weight_parameters() + [self.z], st.opts["weights"], st.dp)
        with torch.no_grad():
            self.z[ia_all] = F.normalize(self.z[ia_all], dim=1)
        aloss = glo_loss(g(self.z[ib].detach(), g.sample_weights(tau, st.hard, gen), st.hard), self.images[ib])
        out = {"loss": float(loss.detach()), "arch_loss": float(aloss.detach()), "tau": tau}
        st.arch_step("arch", aloss, out)
        return out

    def samples(self, n: int) -> Tensor:
        g = self.s.space.g
        return g(self.z[: min(n, self.n)], g.mean_weights())  # type: ignore[no-any-return]


OBJECTIVES: dict[str, type[Objective]] = {"hinge": Hinge, "glo": Glo}
