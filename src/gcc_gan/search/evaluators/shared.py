"""The shared-weights evaluator: candidates scored on the space's shared weights ("shared"):
AutoGAN's own shared-GAN schedule for the strategies it runs (strategies/reinforce.py: the
controller and its random baseline), single-path one-shot for any other ask/tell strategy
(evaluators/oneshot.py: a supernet trained one sampled path at a time, then the strategy's
candidates scored on it)."""

from __future__ import annotations

from typing import Any

from ..evaluator import Evaluator
from ..registry import register_evaluator
from ..space import Need


@register_evaluator("shared")
class SharedWeights(Evaluator):
    needs = frozenset({"shared"})

    @classmethod
    def check_config(cls, cfg: Any, need: Need) -> None:
        """One-shot's settings (a strategy or space with its own shared-weights searcher —
        differentiable, AutoGAN's — checks its own)."""
        from ..registry import searcher_class
        from ..rewards import REWARDS
        from .oneshot import OneShotSearcher

        if searcher_class(cfg.space, cfg.strategy, cfg.evaluator) is not OneShotSearcher:
            return
        need("supernet_iters", cfg.supernet_iters >= 1, f"{cfg.supernet_iters}: must be at least 1")
        need("reward", cfg.reward in REWARDS, f"--reward {cfg.reward!r}: expected one of {', '.join(REWARDS)}")
        need("reward_images", cfg.reward_images >= 2, f"reward images {cfg.reward_images}: must be at least 2")

    @classmethod
    def searcher_class(cls, space: Any, strategy: Any) -> type:
        if strategy.name in space.shared_searchers:
            return space.shared_searcher_class()  # type: ignore[no-any-return]
        from .oneshot import OneShotSearcher

        return OneShotSearcher
