"""AdversarialNAS's Algorithm 1 (and its fixed-D ablation) as a `Searcher`.

Each iteration reads 2 × batch real images and splits them into disjoint halves A and B:
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
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ...compiler.interpreter import Interpreter
from ...genotype_dsl.encodings import sngan_discriminator
from ...genotype_dsl.model import Network
from ...train.losses import d_loss, g_loss
from ..base import Searcher, adam, apply_grads
from ..budget import ExpectedCost, repair
from ..config import SearchConfig
from ..registry import register_strategy
from ..spaces.adversarialnas import (AdvDims, SuperD, SuperG, choice_to_rows, derive, derive_rows, g_builder, g_edges,
                                     generator_network, rows_to_choice)
from ..supernet import temperature


class FixedD(nn.Module):
    """A fixed discriminator network with the Super-D call signature."""

    def __init__(self, net: Network) -> None:
        super().__init__()
        self.net = Interpreter(net)
        self.network = net

    def forward(self, x: Tensor, w: dict[str, Tensor] | None = None, hard: bool = False) -> Tensor:
        return self.net(x)  # type: ignore[return-value]


class AdversarialSearcher(Searcher):
    def __init__(self, cfg: SearchConfig, device: torch.device) -> None:
        super().__init__(cfg, device)
        torch.manual_seed(cfg.seed)
        self.dims = AdvDims(gf=cfg.gf, df=cfg.df, latent=cfg.latent, bottom=cfg.bottom)
        self.g = SuperG(self.dims).to(device)
        self.d: SuperD | FixedD
        if cfg.fixed_d:
            self.d = FixedD(sngan_discriminator(cfg.df, cfg.size, sn=True).network).to(device)
        else:
            self.d = SuperD(self.dims).to(device)
        w = (cfg.lr, cfg.beta1, cfg.beta2)
        a = (cfg.arch_lr, cfg.arch_beta1, cfg.arch_beta2, cfg.arch_wd)
        self.g_w, self.g_a = self.g.weight_parameters(), self.g.arch_parameters()
        self.d_w = self.d.weight_parameters() if isinstance(self.d, SuperD) else list(self.d.parameters())
        self.d_a = self.d.arch_parameters() if isinstance(self.d, SuperD) else []
        self.opts = {"g_weights": adam(self.g_w, *w), "d_weights": adam(self.d_w, *w), "g_arch": adam(self.g_a, *a)}
        if self.d_a:
            self.opts["d_arch"] = adam(self.d_a, *a)
        self.hard = cfg.sampling == "hard"
        self.tau = cfg.tau_max
        # budgets: the expected compiled cost's Lagrangian term on G's architecture loss
        self.cost: ExpectedCost | None = None
        if cfg.max_macs is not None or cfg.max_params is not None:
            self.cost = ExpectedCost(g_edges(), g_builder(self.dims), cfg.budget, cfg.budget_lambda, cfg.budget_lr)
        self.repaired: list[dict[str, Any]] = []

    def set_mode(self, mode: str) -> None:
        """'merged' (default) or 'separate' mixed-op evaluation (the benchmark compares them)."""
        self.g.mode = mode
        if isinstance(self.d, SuperD):
            self.d.mode = mode

    def _wd(self, gen: torch.Generator) -> dict[str, Tensor]:
        return self.d.sample_weights(self.tau, self.hard, gen) if isinstance(self.d, SuperD) else {}

    def _d(self, real: Tensor, fake: Tensor, wd: dict[str, Tensor]) -> Tensor:
        out = self.d(torch.cat([real, fake]), wd, self.hard)
        return d_loss("hinge", out[: real.shape[0]], out[real.shape[0]:])

    def step(self, s: int, reals: Tensor) -> dict[str, float]:
        cfg, B = self.cfg, reals.shape[0] // 2  # B: this rank's shard of each half-batch
        self.tau = temperature(s, cfg.iters, cfg.tau_max, cfg.tau_min)
        ra, rb = reals[:B], reals[B:]
        gen = self.gen(s, 0)
        out: dict[str, float] = {}

        def fake(sub: int, grad: bool) -> Tensor:
            z = self.dp.shard(self.randn(cfg.batch_size, cfg.latent, s, sub))
            wg = self.g.sample_weights(self.tau, self.hard, gen)
            if grad:
                return self.g(z, wg, self.hard)
            with torch.no_grad():
                return self.g(z, wg, self.hard)

        if self.d_a:  # 1. D architecture (ascend V)
            loss = self._d(ra, fake(1, False), self._wd(gen))
            apply_grads(loss, self.d_a, self.opts["d_arch"], self.dp)
            out["d_arch_loss"] = float(loss.detach())
        loss = self._d(rb, fake(2, False), self._wd(gen))  # 2. D weights
        apply_grads(loss, self.d_w, self.opts["d_weights"], self.dp)
        out["d_loss"] = float(loss.detach())
        self.d.requires_grad_(False)
        try:
            loss = g_loss("hinge", self.d(fake(3, True), self._wd(gen), self.hard))  # 3. G architecture (descend V)
            out["g_arch_loss"] = float(loss.detach())
            if self.cost is not None:  # + λ · (E[compiled cost] / budget − 1)
                ctx = rows_to_choice(derive_rows(self.g.probabilities()))
                pen, log = self.cost.penalty(self.g.mean_weights(), ctx)
                loss = loss + pen
                out.update(log)
            apply_grads(loss, self.g_a, self.opts["g_arch"], self.dp)  # the penalty is equal on every rank
            loss = g_loss("hinge", self.d(fake(4, True), self._wd(gen), self.hard))  # 4. G weights
            apply_grads(loss, self.g_w, self.opts["g_weights"], self.dp)
            out["g_loss"] = float(loss.detach())
        finally:
            self.d.requires_grad_(True)
            for p in self.d_a:  # requires_grad_ on the whole module also touched α_D
                p.requires_grad_(True)
        out["tau"] = self.tau
        return self.dp.mean(out)

    def modules(self) -> dict[str, nn.Module]:
        return {"g": self.g, "d": self.d}

    def log_extra(self) -> dict[str, Any]:
        # the architecture derived now: a candidate of pareto.csv (score: this step's G arch loss)
        return {"derived": rows_to_choice(derive_rows(self.g.probabilities()))}

    def pareto_candidates(self, out: Any) -> tuple[list[Any], str, bool]:
        from ..pareto import history_candidates

        build = g_builder(self.dims)
        return (history_candidates(out, "g_arch_loss", lambda rec: build(rec["derived"]), "adversarial"),
                "g_arch_loss", False)

    def extra_state(self) -> dict[str, Any]:
        return {"lambda": self.cost.state()} if self.cost is not None else {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if self.cost is not None and "lambda" in state:
            self.cost.load_state(state["lambda"])

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self.opts

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

    def derive(self) -> tuple[Network, Network | None, dict[str, Any], dict[str, float]]:
        gnet, dnet, enc = derive(self.g, self.d if isinstance(self.d, SuperD) else None)
        if self.cfg.budget.active:  # derive within budget: greedy next-cheaper-op repair
            probs = self.g.probabilities()
            choice, _, self.repaired = repair(rows_to_choice(derive_rows(probs)), probs, g_edges(),
                                              g_builder(self.dims), self.cfg.budget)
            if self.repaired:
                gnet, genc = generator_network(choice_to_rows(choice), self.dims)
                enc = {**enc, **genc, "budget_repair": self.repaired}
        if isinstance(self.d, FixedD):
            dnet = self.d.network
            enc["discriminator"] = {"format": "sngan-d", "df": self.cfg.df, "size": self.cfg.size, "fixed": True}
        return gnet, dnet, enc, {}

    @torch.no_grad()
    def samples(self, n: int) -> Tensor:
        self.g.eval()
        try:
            z = torch.randn(n, self.cfg.latent, generator=self.gen(0, 999)).to(self.device)
            return self.g(z, self.g.mean_weights()).cpu()
        finally:
            self.g.train()


@register_strategy("differentiable")
class Differentiable:
    """Gradient descent on the architecture parameters of the space's relaxed supernet."""

    needs = frozenset({"relax"})
    evaluator = "shared"  # the supernet's own weights

    @classmethod
    def searcher(cls, space: Any, cfg: SearchConfig, device: torch.device) -> Searcher:
        return space.relaxed(cfg, device)  # type: ignore[no-any-return]
