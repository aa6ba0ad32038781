"""Evaluators as one protocol: how a proposed architecture is trained and scored.

An evaluator declares the space capabilities it `needs` (search/space.py; "shared": the
space's shared weights), checks the settings it reads (`check_config`, called by
SearchConfig.validate before anything runs) and builds the run loop's searcher around a
strategy (`searcher`). Registered by name with `@register_evaluator` (search/registry.py).
"""

from __future__ import annotations

from typing import Any, ClassVar

from .space import Need


class Evaluator:
    name: ClassVar[str] = ""  # set by @register_evaluator
    needs: ClassVar[frozenset[str]] = frozenset()

    @classmethod
    def check_config(cls, cfg: Any, need: Need) -> None:
        """The settings this evaluator reads, checked before anything runs (see
        `Space.check_config`). Default: nothing of its own."""

    @classmethod
    def searcher_class(cls, space: Any, strategy: Any) -> type:
        """The class `searcher` builds (what it reads: `Searcher.settings`)."""
        raise NotImplementedError

    @classmethod
    def searcher(cls, space: Any, strategy: Any, cfg: Any, device: Any) -> Any:
        """What the run loop steps: this evaluator's loop around `strategy` on `space`."""
        raise NotImplementedError
