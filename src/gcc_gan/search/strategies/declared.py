"""Today's random and REINFORCE strategies and the two evaluators as registry entries
(search/registry.py).

Minimal declarations (branch `core`): the `cand` branch's ask/tell `random` and `reinforce`
strategies and its `standalone` evaluator take these names over (merge: keep the AutoGAN
shared-weights route of `shared`, delete the rest of this file). A strategy without a training
loop of its own runs through an evaluator: `Evaluator.searcher(space, strategy, cfg, device)`.
"""

from __future__ import annotations

from typing import Any

from ..registry import EVALUATORS, register_evaluator, register_strategy


class _ThroughEvaluator:
    """A strategy whose candidates an evaluator trains and scores."""

    needs: frozenset[str] = frozenset()
    evaluator: str | None = None  # None: chosen with --evaluator (default: shared where the space has it)

    @classmethod
    def searcher(cls, space: Any, cfg: Any, device: Any) -> Any:
        return EVALUATORS.get(cfg.evaluator).searcher(space, cls, cfg, device)


@register_strategy("random")
class RandomStrategy(_ThroughEvaluator):
    """Uniformly drawn architectures (the baseline every method is compared with)."""

    needs = frozenset({"sample"})


@register_strategy("reinforce")
class ReinforceStrategy(_ThroughEvaluator):
    """AutoGAN's LSTM controller trained with REINFORCE on the candidates' rewards."""

    needs = frozenset({"tokens"})


@register_evaluator("shared")
class SharedWeights:
    """Candidates scored on the space's shared weights (AutoGAN's shared GAN)."""

    needs = frozenset({"shared"})

    @classmethod
    def searcher(cls, space: Any, strategy: Any, cfg: Any, device: Any) -> Any:
        return space.shared_searcher(cfg, device)


@register_evaluator("standalone")
class Standalone:
    """Each candidate trained on its own and scored."""

    needs: frozenset[str] = frozenset()

    @classmethod
    def searcher(cls, space: Any, strategy: Any, cfg: Any, device: Any) -> Any:
        return space.random_searcher(cfg, device)
