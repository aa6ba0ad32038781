"""The shared-weights evaluator: candidates scored on the space's shared weights (AutoGAN's
shared GAN, strategies/reinforce.py), where the space has them ("shared")."""

from __future__ import annotations

from typing import Any

from ..registry import register_evaluator


@register_evaluator("shared")
class SharedWeights:
    needs = frozenset({"shared"})

    @classmethod
    def searcher(cls, space: Any, strategy: Any, cfg: Any, device: Any) -> Any:
        return space.shared_searcher(cfg, device)
