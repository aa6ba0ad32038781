"""Random search over any space with `sample`: the baseline every method is compared with
(AdversarialNAS's ablation; DGGAN's random routes; AutoGAN's uniform controller).

Each round asks `population` architectures drawn uniformly among the space's valid ones
(search/space.py `sample`: rejection over the validity rule), which the candidate loop
(search/candidates.py) filters by the budget, trains on their own and scores
(evaluators/standalone.py); the best healthy one is the genotype. Learns nothing from the
scores: `tell` is a no-op, so the draws are a pure function of the seed and the round.
"""

from __future__ import annotations

from typing import Any

from ..registry import register_strategy
from ..space import Arch
from ..strategy import Strategy


@register_strategy("random")
class RandomStrategy(Strategy):
    name = "random"
    needs = frozenset({"sample"})

    def ask(self, n: int) -> list[Arch]:
        out = [self.space.sample(self.rng(i)) for i in range(n)]
        self.asked += 1
        return out

    def tell(self, archs: list[Arch], results: list[Any]) -> None:
        """Nothing to learn: random search ignores the scores."""
