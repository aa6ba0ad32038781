"""The standalone evaluator: each candidate trained on its own and scored (the job:
evaluators/training.py), in the candidate loop (search/candidates.py) around any ask/tell strategy."""

from __future__ import annotations

from typing import Any

from ..evaluator import Evaluator
from ..registry import register_evaluator
from ..space import Need


@register_evaluator("standalone")
class Standalone(Evaluator):
    """Each candidate trained on its own and scored: the candidate loop (search/candidates.py)
    around any ask/tell strategy (and DGGAN's growth, whose children train the same way)."""

    @classmethod
    def check_config(cls, cfg: Any, need: Need) -> None:
        from ...executor import EXECUTORS

        need("reward", cfg.reward in ("is", "fid", "swd"), f"--reward {cfg.reward!r}: expected one of is, fid, swd")
        need("candidate_iters", cfg.candidate_iters >= 1, f"{cfg.candidate_iters}: must be at least 1")
        need("objective", cfg.objective in ("", "hinge", "wgan-gp"), f"{cfg.objective!r}: expected hinge or wgan-gp")
        need("reward_images", cfg.reward_images >= 2, f"reward images {cfg.reward_images}: must be at least 2")
        need("executor", cfg.executor in EXECUTORS,
             f"--executor {cfg.executor!r}: expected one of {', '.join(EXECUTORS)}")
        need("address", cfg.address is None or cfg.executor == "ray", "--address is for --executor ray")
        need("workers", cfg.workers is None or cfg.workers >= 1, f"--workers {cfg.workers}: must be at least 1")

    @classmethod
    def searcher_class(cls, space: Any, strategy: Any) -> type:
        from ..candidates import CandidateSearcher

        return CandidateSearcher

