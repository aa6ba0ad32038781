"""The shared-weights evaluator for ask/tell strategies: single-path one-shot search (Guo et
al., "Single Path One-Shot NAS with Uniform Sampling", 2020; SPOS), in the one run loop.

    steps 1 .. supernet_iters        train the space's shared weights (`Space.one_shot`): each
                                     step one architecture drawn uniformly (within the budget),
                                     one hinge D step and one G step on its path only
    then `iters` rounds              the candidate loop (search/candidates.py): the strategy
                                     asks `population` architectures (budget-filtered), each is
                                     scored on the trained shared weights — no training of its
                                     own —, the strategy is told

Scoring a candidate re-estimates its BN statistics on its own path first
(`supernet.recalibrated`, as SPOS does before evaluating a path) and scores its samples with
the run's reward (SWD / FID / IS) on the same latents for every candidate, with the same
health rule as every evaluator: a collapsed or diverged candidate is never told as good,
never on the front, never the winner. The supernet is frozen once the rounds start, so a
candidate's score depends on nothing but its architecture.

The emitted genotype is the best-scoring healthy candidate (evolution: the best front member,
every candidate being within the budget); it has no trained weights of its own — one-shot
scores rank architectures, and the winner is retrained from scratch (`gcc-gan train`), as
SPOS and every weight-sharing method retrain theirs. samples.png shows the winner's path on
the shared weights. Checkpoints hold the supernet, its optimizers, the strategy and every
scored candidate, so a killed run resumes exactly.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ...seeding import mix_seed
from ..base import adam, apply_grads
from ..budget import BudgetFilter
from ..candidates import CandidateSearcher
from ..config import SearchConfig
from ..health import loss_health
from ..rewards import Reward, resize
from ..space import Space
from ..strategies.random import RandomStrategy
from ..strategy import Strategy
from ..supernet import OneShotNets, recalibrated

SUB_Z_D, SUB_Z_G = 1, 2  # sub-streams of a supernet step's randomness (its path: `self.paths`' own stream)


class OneShotSearcher(CandidateSearcher):
    settings = frozenset({"population", "supernet_iters"})
    schedule = "oneshot"

    def __init__(self, cfg: SearchConfig, device: torch.device, space: type[Space] | None = None,
                 strategy: type[Strategy] | None = None) -> None:
        super().__init__(cfg, device, space, strategy)
        with torch.random.fork_rng(devices=[]):  # the shared weights' initialisation, from the seed alone
            torch.manual_seed(mix_seed(cfg.seed, 61))
            self.nets: OneShotNets = self.space.one_shot(device)
        self.g_params, self.d_params = self._params(self.nets.g), self._params(self.nets.d)
        self.opt_g = adam(self.g_params, cfg.lr, cfg.beta1, cfg.beta2)
        self.opt_d = adam(self.d_params, cfg.lr, cfg.beta1, cfg.beta2)
        # the supernet's training paths: uniform over the space, within the budget (SPOS samples
        # uniformly from the constrained space), a stream of their own
        self.paths = BudgetFilter(RandomStrategy(self.space, cfg, mix_seed(cfg.seed, 63)), self.space, cfg.budget)
        self.reward: Reward | None = None

    @staticmethod
    def _params(m: nn.Module) -> list[nn.Parameter]:
        """The weights (a supernet's architecture logits are not trained here: paths are sampled)."""
        arch = {id(p) for p in getattr(m, "arch_parameters", list)()}
        return [p for p in m.parameters() if id(p) not in arch]

    # --------------------------------------------------------------- run-loop hooks
    def bind_data(self, data: Any) -> None:
        self.evaluator = self  # the candidate loop's `evaluate` is this class's
        self.reward = Reward(self.cfg.reward, self.cfg.reward_images, data, self.device,
                             inception_weights=self.inception_weights, real_seed=self.cfg.seed,
                             min_diversity=self.cfg.min_diversity)

    def session(self) -> Any:
        import contextlib

        return contextlib.nullcontext()

    def steps(self) -> int:
        return self.cfg.supernet_iters + self.cfg.iters

    def round_of(self, s: int) -> int:
        return s - self.cfg.supernet_iters + 1

    def log_due(self, step: int) -> bool:  # every round, and the supernet steps every log_every
        return step > self.cfg.supernet_iters or super().log_due(step)

    def checkpoint_due(self, step: int) -> bool:
        return step >= self.cfg.supernet_iters or super().checkpoint_due(step)

    def describe(self) -> str:
        cfg = self.cfg
        return (f"({cfg.preset} preset, {self.space.name} space, one-shot: {cfg.supernet_iters} supernet steps "
                f"then {cfg.iters} rounds x {cfg.population} candidates scored on the shared weights, hinge loss, "
                f"reward {cfg.reward})")

    def step(self, s: int, reals: Tensor) -> dict[str, float]:
        if s < self.cfg.supernet_iters:
            return self._train_step(s, reals)
        return super().step(s, reals)

    def _train_step(self, s: int, reals: Tensor) -> dict[str, float]:
        """One hinge GAN step of one uniformly drawn path (D then G, as the AdversarialNAS /
        AutoGAN weight steps)."""
        cfg = self.cfg
        arch = self.paths.ask(1)[0]
        g, d = self.nets.generator(arch), self.nets.discriminator(arch)
        g.train()
        d.train()
        real = resize(reals[:cfg.batch_size], self.space.resolution)
        with torch.no_grad():
            fake = g(self.randn(real.shape[0], cfg.latent, s, SUB_Z_D))
        d_loss = F.relu(1.0 - d(real)).mean() + F.relu(1.0 + d(fake)).mean()
        apply_grads(d_loss, self.d_params, self.opt_d, self.dp)
        g_loss = -d(g(self.randn(real.shape[0], cfg.latent, s, SUB_Z_G))).mean()
        apply_grads(g_loss, self.g_params, self.opt_g, self.dp)
        losses = {"d_loss": d_loss.item(), "g_loss": g_loss.item()}
        health = loss_health(losses)
        if not health.ok:  # the shared weights diverged: every candidate would be scored on NaN
            from ...errors import GccGanError

            raise GccGanError(f"the one-shot supernet diverged at step {s + 1}: {health.reason}; try a lower "
                              "learning rate or another --seed")
        return losses

    # --------------------------------------------------------------- the candidate loop's evaluator
    @property
    def objective(self) -> str:
        return "hinge"

    def evaluate(self, archs: list[Any], seeds: list[int], keys: list[str]) -> list[dict[str, Any]]:
        """Each architecture scored on the frozen shared weights (the same latents for all)."""
        return [self._score(a) for a in archs]

    @torch.no_grad()
    def _score(self, arch: Any) -> dict[str, Any]:
        assert self.reward is not None, "bind_data() first"
        cfg = self.cfg
        g = self.nets.generator(arch)
        with recalibrated(g, cfg.latent, cfg.reward_images, cfg.batch_size, mix_seed(cfg.seed, 79), self.device):
            sc = self.reward.score(g, cfg.latent, self.space.resolution, cfg.seed % 2**32, report_swd=False)
        finite = math.isfinite(sc.value)
        return {"metric": sc.metric, "score": sc.value if finite else None, "reward": sc.reward if finite else None,
                "status": sc.health.status, "reason": sc.health.reason or None, "diversity": sc.health.diversity,
                "iters": 0, "g_weights": None}

    def protocol(self, data: str) -> dict[str, Any]:
        assert self.reward is not None
        return self.reward.protocol(data, self.cfg.seed % 2**32)

    # --------------------------------------------------------------- state and results
    def _load_best(self, blob: bytes | None) -> None:
        """No weights of its own: the winner runs on the shared weights (`samples`)."""

    def modules(self) -> dict[str, nn.Module]:
        return {**super().modules(), "oneshot.g": self.nets.g, "oneshot.d": self.nets.d}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {**super().optimizers(), "oneshot.g": self.opt_g, "oneshot.d": self.opt_d}

    def extra_state(self) -> dict[str, Any]:
        return {**super().extra_state(), "paths": {"strategy": self.paths.proposer.state_dict(),
                                                   "filter": self.paths.state_dict()}}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        super().load_extra_state(state)
        self.paths.proposer.load_state_dict(state["paths"]["strategy"])
        self.paths.load_state_dict(state["paths"]["filter"])

    def score_note(self) -> str:
        return (f"{self.cfg.reward_images} images, on the one-shot supernet's shared weights after "
                f"{self.cfg.supernet_iters} steps (BN re-estimated per candidate)")

    def provenance_extra(self) -> dict[str, Any]:
        cfg = self.cfg
        return {"search_cost": {"supernet_iters": float(cfg.supernet_iters), "candidates": float(len(self.cands)),
                                "over_budget_redrawn": float(self.filter.rejected)},
                "notes": f"gcc-gan search --space {self.space.name} --strategy {self.strategy.name} --evaluator shared "
                         f"--preset {cfg.preset} --reward {cfg.reward} (single-path one-shot: {cfg.supernet_iters} "
                         f"supernet steps, then population {cfg.population}, {cfg.iters} rounds scored on the shared "
                         "weights; retrain the genotype: gcc-gan train)"}

    @torch.no_grad()
    def samples(self, n: int) -> Tensor:
        """Images of the winner's path on the shared weights (its BN statistics re-estimated)."""
        cfg = self.cfg
        g = self.nets.generator(self._winner()["arch"])
        z = torch.randn(n, cfg.latent, generator=torch.Generator().manual_seed(mix_seed(cfg.seed, 7)))
        with recalibrated(g, cfg.latent, cfg.reward_images, cfg.batch_size, mix_seed(cfg.seed, 79), self.device):
            was = g.training
            g.eval()
            try:
                out = g(z.to(self.device)).clamp(-1, 1)
            finally:
                g.train(was)
        assert isinstance(out, Tensor)
        return out
