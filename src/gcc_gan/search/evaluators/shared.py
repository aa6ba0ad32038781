"""The shared-weights evaluator: candidates scored on the space's shared weights ("shared"):
AutoGAN's own shared-GAN schedule for the strategies it runs (strategies/reinforce.py: the
controller and its random baseline), single-path one-shot for any other ask/tell strategy
(evaluators/oneshot.py: a supernet trained one sampled path at a time, then the strategy's
candidates scored on it)."""

from __future__ import annotations

from typing import Any

from ..registry import register_evaluator


@register_evaluator("shared")
class SharedWeights:
    needs = frozenset({"shared"})

    @classmethod
    def searcher_class(cls, space: Any, strategy: Any) -> type:
        if strategy.name in space.shared_searchers:
            return space.shared_searcher_class()  # type: ignore[no-any-return]
        from .oneshot import OneShotSearcher

        return OneShotSearcher

    @classmethod
    def searcher(cls, space: Any, strategy: Any, cfg: Any, device: Any) -> Any:
        if strategy.name in space.shared_searchers:
            return space.shared_searcher_class()(cfg, device)
        return cls.searcher_class(space, strategy)(cfg, device, space, strategy)
