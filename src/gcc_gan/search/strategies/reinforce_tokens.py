"""REINFORCE over any token space (`tokens`): AutoGAN's LSTM controller
(strategies/controller.py) samples a space's whole token vector, each candidate is trained
on its own and scored (the standalone evaluator), and the controller takes one policy-
gradient step per candidate with the clean REINFORCE update (`clean_loss`: entropy bonus in
the reward, scalar EMA baseline; Adam at `ctrl_lr`, betas (0, 0.999) as AutoGAN's
controller). AutoGAN's own search (shared weights, stage growth, top-K prefixes) is
strategies/reinforce.py; this is the same controller and update for the spaces without
shared weights (adversarialnas, degas).

An unhealthy candidate (collapsed / diverged) is given the worst reward any healthy
candidate has had so far, never more than the baseline, so the controller moves away from
it and is never told it was good; before any healthy reward exists it is skipped. A token
vector the space rejects (a node left without input) is re-sampled before it is proposed (up
to RESAMPLE draws, then a uniform valid architecture), and the first PUNISHED rejected
vectors of a round are told that same penalty, so the policy moves away from invalid ones.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..registry import register_strategy
from ..space import Arch, Space
from ..strategy import Scored, Strategy
from .controller import Controller, clean_loss

RESAMPLE = 50  # draws per proposal before falling back to a uniform valid architecture
PUNISHED = 8  # invalid vectors told per round (the worst healthy reward so far)


@register_strategy("reinforce")
class ReinforceTokens(Strategy):
    name = "reinforce"
    needs = frozenset({"tokens"})

    def __init__(self, space: Space, cfg: Any, seed: int) -> None:
        super().__init__(space, cfg, seed)
        with torch.random.fork_rng(devices=[]):  # the controller's initialisation, from the seed alone
            torch.manual_seed(seed)
            self.ctrl = Controller(space.token_sizes(), cfg.hid)
        self.opt = torch.optim.Adam(self.ctrl.parameters(), lr=cfg.ctrl_lr, betas=(0.0, 0.999), foreach=True)
        self.baseline: float | None = None
        self.worst: float | None = None
        self._gen = torch.Generator()
        self._invalid: list[list[int]] = []  # token vectors the space rejected since the last tell

    def ask(self, n: int) -> list[Arch]:
        out = []
        with torch.no_grad():
            for i in range(n):
                self._gen.manual_seed(int(self.rng(i).integers(2**62)))
                for _ in range(RESAMPLE):  # an invalid token vector is re-sampled (the space's validity rule)
                    tokens = self.ctrl.sample(self._gen).actions
                    if self.space.valid_tokens(tokens):
                        break
                    self._invalid.append(tokens)
                else:  # the policy has peaked on invalid vectors: a uniform valid one (punished below)
                    tokens = self.space.to_tokens(self.space.sample(self.rng(i, 1)))
                out.append(self.space.from_tokens(tokens))
        self.asked += 1
        return out

    def _update(self, tokens: list[int], reward: float) -> None:
        s = self.ctrl.sample(None, forced=tokens)
        loss, _, self.baseline = clean_loss(s, reward, self.baseline, self.cfg.entropy_coeff, self.cfg.baseline_decay)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()

    def _penalty(self) -> float | None:
        """What an unhealthy candidate or an invalid token vector is told: the worst healthy
        reward so far, never above the baseline (None before any healthy reward)."""
        if self.worst is None:
            return None
        return self.worst if self.baseline is None else min(self.worst, self.baseline)

    def tell(self, archs: list[Arch], results: list[Scored]) -> None:
        for a, r in zip(archs, results):
            if r.ok:
                self.worst = r.reward if self.worst is None else min(self.worst, r.reward)
                self._update(self.space.to_tokens(a), r.reward)
            elif (p := self._penalty()) is not None:
                self._update(self.space.to_tokens(a), p)
        invalid, self._invalid = self._invalid[:PUNISHED], []
        if (p := self._penalty()) is not None:
            for tokens in invalid:  # the first invalid vectors this round drew (each one update)
                self._update(tokens, p)

    def modules(self) -> dict[str, nn.Module]:
        return {"ctrl": self.ctrl}

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        return {"ctrl": self.opt}

    def distributions(self) -> list[list[float]]:
        return self.ctrl.distributions(None)

    def state_dict(self) -> dict[str, Any]:
        return {"asked": self.asked, "baseline": self.baseline, "worst": self.worst}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.asked = int(d["asked"])
        self.baseline = None if d.get("baseline") is None else float(d["baseline"])
        self.worst = None if d.get("worst") is None else float(d["worst"])
