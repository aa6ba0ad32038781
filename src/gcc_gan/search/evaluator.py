"""Evaluators as one protocol: how a proposed architecture is trained and scored.

An evaluator declares the space capabilities it `needs` (search/space.py; "shared": the
space's shared weights), checks the settings it reads (`check_config`, called by
SearchConfig.validate before anything runs) and names the run loop's searcher class around a
strategy (`searcher_class`; `Searcher.build` makes it). Registered by name with
`@register_evaluator` (search/registry.py).
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
        """What the run loop steps: this evaluator's searcher class around `strategy` on `space`
        (what it reads: `Searcher.settings`)."""
        raise NotImplementedError
