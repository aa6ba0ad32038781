"""The differentiable strategy: gradient steps on a relaxed space's architecture parameters,
with the training objective passed in — as DARTS's `Architect` sees only `arch_parameters()`
and a loss. AdversarialNAS is this strategy on the adversarialnas space with the hinge
objective; DEGAS, on the degas space with the GLO objective (strategies/objectives.py).

What the strategy owns (one copy for both): the Gumbel-softmax temperature schedule, the
architecture optimizers and their α-step (`arch_step`: under a budget, the Lagrangian
penalty of search/budget.py on the generator's step), the multipliers' state, the
derivation with the budget's repair, the op probabilities and the per-step derived
architecture (history, pareto.csv).

What a relaxed space gives it (`Space.relaxed(cfg, device)`, spaces/*.py `Relaxed`):
`g` (the generator supernet), `d` (a discriminator or None), `arch_groups()` (optimizer name →
α tensors; `G_ARCH` names the generator's), `relaxation()` (search/budget.py), `derive(choice)`,
`probabilities()` and `op_names()`.

What an objective gives it (strategies/objectives.py, `OBJECTIVES[cfg.reward]`): its own
modules and weight optimizers, `step(s, batch, tau, gen)` that calls `arch_step`, and
`samples(n)`.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from ...genotype_dsl.model import Network
from ..base import Searcher, adam, apply_grads
from ..budget import ArchPenalty, Relaxation, repair_relaxed
from ..config import SearchConfig
from ..registry import register_strategy
from ..space import Need
from ..supernet import temperature


class DifferentiableSearcher(Searcher):
    settings = frozenset({"sampling", "fixed_d"})
    """One differentiable search: `cfg.space`'s relaxation trained by the `cfg.reward` objective."""

    def __init__(self, cfg: SearchConfig, device: torch.device) -> None:
        from ..registry import SPACES
        from .objectives import OBJECTIVES

        super().__init__(cfg, device)
        torch.manual_seed(cfg.seed)
        self.space = SPACES.get(cfg.space).relaxed(cfg, device)
        self.objective = OBJECTIVES[cfg.reward](self)
        self.reads_images = self.objective.reads_images
        self.arch = self.space.arch_groups()
        a = (cfg.arch_lr, cfg.arch_beta1, cfg.arch_beta2, cfg.arch_wd)
        self.opts = {**self.objective.optimizers(), **{k: adam(v, *a) for k, v in self.arch.items()}}
        self.hard = cfg.sampling == "hard"
        self.tau = cfg.tau_max
        self.relax: Relaxation = self.space.relaxation()
        # budgets: the expected compiled cost's Lagrangian term on G's architecture loss
        self.penalty = ArchPenalty(self.relax, cfg) if cfg.max_macs is not None or cfg.max_params is not None \
            else None
        self.repaired: list[dict[str, Any]] = []

    @property
    def g(self) -> nn.Module:
        return self.space.g  # type: ignore[no-any-return]

    @property
    def d(self) -> nn.Module | None:
        return self.space.d  # type: ignore[no-any-return]

    def bind_data(self, data: Any) -> None:
        self.objective.bind_data(data)
        self.n_items = self.objective.n_items

    def describe(self) -> str:
        cfg = self.cfg
        return f"({cfg.preset} preset, {cfg.sampling} sampling{', fixed D' if cfg.fixed_d else ''})"

    def set_mode(self, mode: str) -> None:
        """'merged' (default) or 'separate' mixed-op evaluation (the benchmark compares them)."""
        self.space.set_mode(mode)

    # ------------------------------------------------------------------ the step
    def step(self, s: int, batch: Tensor) -> dict[str, float]:
        cfg = self.cfg
        self.tau = temperature(s, cfg.iters, cfg.tau_max, cfg.tau_min)
        return self.dp.mean(self.objective.step(s, batch, self.tau, self.gen(s, 0)))

    def arch_step(self, group: str, loss: Tensor, out: dict[str, float]) -> None:
        """One α step of `group` on `loss` (averaged over the data-parallel ranks); the
        generator's carries the budget's penalty (equal on every rank)."""
        if self.penalty is not None and group == self.space.G_ARCH:  # + λ · (E[compiled cost] / budget − 1)
            pen, log = self.penalty.term()
            loss = loss + pen
            out.update(log)
        apply_grads(loss, self.arch[group], self.opts[group], self.dp)

    # ------------------------------------------------------------------ state
    def modules(self) -> dict[str, nn.Module]:
        return {**self.space.modules(), **self.objective.modules()}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return self.opts

    def extra_state(self) -> dict[str, Any]:
        return {"lambda": self.penalty.state()} if self.penalty is not None else {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if self.penalty is not None and "lambda" in state:
            self.penalty.load_state(state["lambda"])

    # ------------------------------------------------------------------ records and results
    def probabilities(self) -> dict[str, dict[str, list[float]]]:
        return self.space.probabilities()  # type: ignore[no-any-return]

    def op_names(self) -> dict[str, dict[str, list[str]]]:
        return self.space.op_names()  # type: ignore[no-any-return]

    def log_extra(self) -> dict[str, Any]:
        # the architecture derived now: a candidate of pareto.csv (score: this step's arch loss)
        return {"derived": self.relax.context(), **self.space.log_extra()}

    def pareto_candidates(self, out: Any) -> tuple[list[Any], str, bool]:
        from ..pareto import history_candidates

        key = self.objective.arch_loss
        return history_candidates(out, key, lambda rec: self.relax.build(rec["derived"]), self.cfg.method), key, False

    def derive(self) -> tuple[Network, Network | None, dict[str, Any], dict[str, float]]:
        gnet, dnet, enc = self.space.derive(None)
        if self.cfg.budget.active:  # derive within budget: greedy next-cheaper-op repair
            choice, self.repaired = repair_relaxed(self.relax, self.cfg.budget)
            if self.repaired:
                gnet, enc = self.space.derive_choice(choice, enc)
                enc["budget_repair"] = self.repaired
        return gnet, dnet, self.space.finish_encoding(enc), {}

    @torch.no_grad()
    def samples(self, n: int) -> Tensor:
        self.g.eval()
        try:
            return self.objective.samples(n).cpu()
        finally:
            self.g.train()


@register_strategy("differentiable")
class Differentiable:
    """Gradient descent on the architecture parameters of the space's relaxed supernet."""

    needs = frozenset({"relax"})
    evaluator = "shared"  # the supernet's own weights

    @classmethod
    def searcher_class(cls, space: Any, evaluator: str) -> type[Searcher]:
        return DifferentiableSearcher

    @classmethod
    def check_config(cls, cfg: SearchConfig, need: Need) -> None:
        """Its training objective is the space's supernet's (`--reward` names it)."""
        from ..registry import METHOD_PRESETS, preset_of

        objective = METHOD_PRESETS[str(preset_of(cfg.space, cls.name, cls.evaluator))].reward
        need("reward", cfg.reward == objective, f"--reward {cfg.reward!r}: the differentiable strategy on the "
             f"{cfg.space} space trains with the {objective} objective (--reward {objective})")

