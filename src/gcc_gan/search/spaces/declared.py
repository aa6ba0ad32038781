"""The four spaces as registry entries (search/registry.py), with what each can do today.

Minimal declarations (branch `core`): `capabilities` and the hooks the step strategies and the
shared-weights evaluator call. The `cand` branch's Space classes (sample / mutate / tokens /
to_genotype) take these names over: merge these hooks into them and delete this file.

Hooks (each a classmethod taking the search config and the torch device):
  relaxed(cfg, device)         "relax":  the supernet the differentiable strategy trains
                                          (spaces/adversarialnas.py, spaces/degas.py `Relaxed`)
  shared_searcher(cfg, device) "shared": the searcher that scores candidates on the space's
                                          shared weights (AutoGAN's shared GAN)
  random_searcher(cfg, device) "sample": today's random search with candidates trained on
                                          their own (replaced by cand's standalone evaluator)
"""

from __future__ import annotations

from typing import Any

from ..registry import register_space


@register_space("adversarialnas")
class AdversarialNasSpace:
    """AdversarialNAS's Up-/Down-Cells (spaces/adversarialnas.py)."""

    capabilities = frozenset({"sample", "relax"})

    @classmethod
    def relaxed(cls, cfg: Any, device: Any) -> Any:
        from .adversarialnas import Relaxed

        return Relaxed(cfg, device)

    @classmethod
    def random_searcher(cls, cfg: Any, device: Any) -> Any:
        from ..strategies.random import RandomSearcher

        return RandomSearcher(cfg, device)


@register_space("degas")
class DegasSpace:
    """DEGAS's global generator (spaces/degas.py)."""

    capabilities = frozenset({"relax"})

    @classmethod
    def relaxed(cls, cfg: Any, device: Any) -> Any:
        from .degas import Relaxed

        return Relaxed(cfg, device)


@register_space("autogan")
class AutoGanSpace:
    """AutoGAN's cells with a shared-weights generator and a growing D (spaces/autogan.py)."""

    capabilities = frozenset({"sample", "tokens", "shared"})

    @classmethod
    def shared_searcher(cls, cfg: Any, device: Any) -> Any:
        from ..strategies.reinforce import AutoGanSearcher  # cfg.strategy random: uniform tokens

        return AutoGanSearcher(cfg, device)

    @classmethod
    def random_searcher(cls, cfg: Any, device: Any) -> Any:
        from ...errors import BadValue

        raise BadValue("--space autogan --evaluator standalone: not available yet (the standalone evaluator is "
                       "the cand branch's); leave --evaluator out for AutoGAN's shared weights")


@register_space("dggan")
class DgganSpace:
    """DGGAN's grown G/D pairs (spaces/dggan.py)."""

    capabilities = frozenset({"sample", "grow"})

    @classmethod
    def random_searcher(cls, cfg: Any, device: Any) -> Any:
        from ..strategies.growth import GrowthSearcher  # random routes through the same growth

        return GrowthSearcher(cfg, device)
