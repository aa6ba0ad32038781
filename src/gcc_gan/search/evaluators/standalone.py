"""The standalone evaluator: each candidate trained on its own and scored (the job:
evaluators/training.py), in the candidate loop (search/candidates.py) around any ask/tell strategy."""

from __future__ import annotations

from typing import Any

from ..registry import register_evaluator


@register_evaluator("standalone")
class Standalone:
    """Each candidate trained on its own and scored: the candidate loop (search/candidates.py)
    around any ask/tell strategy."""

    needs: frozenset[str] = frozenset()

    @classmethod
    def searcher_class(cls, space: Any, strategy: Any) -> type:
        from ..candidates import CandidateSearcher

        return CandidateSearcher

    @classmethod
    def searcher(cls, space: Any, strategy: Any, cfg: Any, device: Any) -> Any:
        from ..candidates import CandidateSearcher

        return CandidateSearcher(cfg, device, space, strategy)
