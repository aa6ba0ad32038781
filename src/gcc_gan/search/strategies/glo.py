"""DEGAS's strategy: GLO training of the DEGAS supernet (`spaces/degas.py`), one latent per
image, L2 + Laplacian-pyramid L1, with alternating weight / architecture steps on
disjoint images.

Data parallel (`gcc_gan.distributed`): `idx` holds the global indices, each rank takes its
shard of each half-batch; every rank keeps all latents, and the (dense) gradients of weights, latents and α are
averaged over the ranks, so the replicas stay equal; the supernet's batch norms use the
global batch's statistics (DistBatchNorm), as GLO training on one process would."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...genotype_dsl.model import Network
from ..base import Searcher, adam, apply_grads
from ..config import SearchConfig
from ..budget import ExpectedCost, repair
from ..spaces.degas import DegasG, degas_builder, degas_choice, degas_edges, derive_degas
from ..supernet import temperature

# --------------------------------------------------------------------------- GLO losses

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


class DegasSearcher(Searcher):
    reads_images = False  # step() gets dataset indices: latents are per image

    def __init__(self, cfg: SearchConfig, device: torch.device) -> None:
        super().__init__(cfg, device)
        torch.manual_seed(cfg.seed)
        self.g = DegasG(cfg.gf, cfg.latent, cfg.bottom, cfg.n_normal).to(device)
        self.n = cfg.n_images
        z = torch.randn(self.n, cfg.latent, generator=torch.Generator().manual_seed(cfg.seed))
        self.z = nn.Parameter(F.normalize(z, dim=1).to(device))  # GLO: latents on the unit sphere
        self.zmod = nn.ParameterDict({"z": self.z})
        self.g_w, self.g_a = self.g.weight_parameters(), self.g.arch_parameters()
        self.opts = {"weights": adam(self.g_w + [self.z], cfg.lr, cfg.beta1, cfg.beta2),
                     "arch": adam(self.g_a, cfg.arch_lr, cfg.arch_beta1, cfg.arch_beta2, cfg.arch_wd)}
        self.hard = cfg.sampling == "hard"
        self.images: Tensor | None = None
        # budgets: the expected compiled cost's Lagrangian term on the architecture loss
        self.edges = degas_edges(self.g)  # α's edges and β's input choices
        self.cost: ExpectedCost | None = None
        if cfg.max_macs is not None or cfg.max_params is not None:
            self.cost = ExpectedCost(self.edges, degas_builder(self.g), cfg.budget, cfg.budget_lambda, cfg.budget_lr)

    def bind_data(self, data: Any) -> None:
        import numpy as np

        n = min(self.n, len(data))
        if n < 2 * self.cfg.batch_size:
            from ...errors import GccGanError

            raise GccGanError(f"DEGAS needs at least {2 * self.cfg.batch_size} images (two disjoint half-batches "
                              f"of {self.cfg.batch_size}); the data has {n}")
        self.images = data.batch(np.arange(n)).to(self.device)  # the GLO training set (one latent each)
        self.n = self.n_items = n

    def step(self, s: int, idx: Tensor) -> dict[str, float]:
        assert self.images is not None
        cfg, B = self.cfg, idx.shape[0] // 2
        tau = temperature(s, cfg.iters, cfg.tau_max, cfg.tau_min)
        # idx: the GLOBAL indices (every rank renormalises all of half A's latents, so the
        # replicas stay equal); each rank computes its shard of A and of B
        ia_all = idx[:B].to(self.device)
        ia, ib = self.dp.shard(ia_all), self.dp.shard(idx[B:].to(self.device))
        gen = self.gen(s, 0)
        loss = glo_loss(self.g(self.z[ia], self.g.sample_weights(tau, self.hard, gen), self.hard), self.images[ia])
        apply_grads(loss, self.g_w + [self.z], self.opts["weights"], self.dp)
        with torch.no_grad():
            self.z[ia_all] = F.normalize(self.z[ia_all], dim=1)
        aloss = glo_loss(self.g(self.z[ib].detach(), self.g.sample_weights(tau, self.hard, gen), self.hard),
                         self.images[ib])
        out = {"loss": float(loss.detach()), "arch_loss": float(aloss.detach()), "tau": tau}
        if self.cost is not None:  # + λ · (E[compiled cost] / budget − 1), equal on every rank
            pen, log = self.cost.penalty(self._dist(), degas_choice(self.g.probabilities(), self._beta()))
            aloss = aloss + pen
            out.update(log)
        apply_grads(aloss, self.g_a, self.opts["arch"], self.dp)
        return self.dp.mean(out)

    def modules(self) -> dict[str, nn.Module]:
        return {"g": self.g, "latents": self.zmod}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self.opts

    def probabilities(self) -> dict[str, dict[str, list[float]]]:
        return {"generator": self.g.probabilities()}

    def op_names(self) -> dict[str, dict[str, list[str]]]:
        return {"generator": self.g.op_names()}

    def _dist(self) -> dict[str, Tensor]:
        """The architecture distribution the expected cost is taken under: softmax(α) per
        edge and softmax(β) per map's input (differentiable)."""
        return {**self.g.mean_weights(), **{f"{k}.input": b for k, b in self.g.input_weights().items()}}

    def _beta(self) -> dict[str, list[float]]:
        return {k: [float(v) for v in b.detach()] for k, b in self.g.input_weights().items()}

    def extra_state(self) -> dict[str, Any]:
        return {"lambda": self.cost.state()} if self.cost is not None else {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if self.cost is not None and "lambda" in state:
            self.cost.load_state(state["lambda"])

    def pareto_candidates(self, out: Any) -> tuple[list[Any], str, bool]:
        from ..pareto import history_candidates

        def build(rec: dict[str, Any]) -> Network | None:
            try:
                return derive_degas(self.g, rec["derived"])[0]
            except ValueError:
                return None

        return history_candidates(out, "arch_loss", build, "degas"), "arch_loss", False

    def log_extra(self) -> dict[str, Any]:
        return {"derived": degas_choice(self.g.probabilities(), self._beta()),
                "input_weights": {k: [round(float(v), 5) for v in p.detach()] for k, p in self.g.input_weights().items()}}

    def derive(self) -> tuple[Network, Network | None, dict[str, Any], dict[str, float]]:
        net, enc = derive_degas(self.g)
        if self.cfg.budget.active:  # derive within budget: greedy next-cheaper-op repair
            probs = {**self.g.probabilities(), **{f"{k}.input": v for k, v in self._beta().items()}}
            choice, _, steps = repair(degas_choice(self.g.probabilities(), self._beta()), probs, self.edges,
                                      degas_builder(self.g), self.cfg.budget)
            if steps:
                net, enc = derive_degas(self.g, choice)
                enc["budget_repair"] = steps
        return net, None, enc, {}

    @torch.no_grad()
    def samples(self, n: int) -> Tensor:
        self.g.eval()
        try:
            return self.g(self.z[: min(n, self.n)], self.g.mean_weights()).cpu()
        finally:
            self.g.train()
