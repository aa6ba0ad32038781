"""Ask/tell search strategies: propose architectures of a space, learn from their scores.

    s = Strategy(space, cfg, seed)
    archs = s.ask(n)                  # all randomness from the seed and an internal counter
    s.tell(archs, [Scored, ...])      # one result per asked architecture, in order
    s.state_dict() / load_state_dict  # JSON: a killed run resumes the same sequence

A strategy declares the space capabilities it `needs` (search/space.py); the registry
refuses a pair whose space lacks one. The candidate loop (search/candidates.py) drives any
of them: ask → budget filter → evaluate → tell.

`Scored` is one evaluated candidate: its reward (higher is better), the metric it came from
and that metric's raw value, its health (search/health.py: ok / collapsed / diverged), its
compiled cost and where its weights are. An unhealthy candidate's `fitness` is −inf, so no
strategy ever treats it as good (never selected as a parent, never on a front, never the
winner), however its metric read.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from ..seeding import mix_seed
from .health import OK
from .space import Arch, Need, Space


@dataclass(frozen=True)
class Scored:
    reward: float  # higher is better: -SWD, 1/FID, IS (search/rewards.py `reward_from`)
    metric: str  # "swd-real", "fid" or "is"
    value: float | None  # the metric in its own unit (None: not scored)
    status: str = OK  # search/health.py
    reason: str = ""
    macs: int = 0  # the compiled generator's
    params: int = 0
    weights: str | None = None  # where its trained weights are (None: not kept; the winner's: RUN/generator.safetensors)
    diversity: float | None = None  # samples' per-pixel std / the data's
    iters: int = 0  # training iterations spent on it

    @property
    def ok(self) -> bool:
        return self.status == OK and self.value is not None and math.isfinite(self.reward)

    @property
    def fitness(self) -> float:
        """The reward a strategy may learn from: −inf for an unhealthy candidate."""
        return self.reward if self.ok else -math.inf

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["reward"] = self.reward if math.isfinite(self.reward) else None
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Scored:
        return cls(**{**d, "reward": -math.inf if d.get("reward") is None else float(d["reward"])})


class Strategy:
    """The ask/tell base: `rng(k)` is the k-th draw's generator, a pure function of the seed."""

    name: ClassVar[str] = ""  # set by @register_strategy
    needs: ClassVar[frozenset[str]] = frozenset()
    # the evaluator it always uses; None: --evaluator (default: config.resolve)
    evaluator: ClassVar[str | None] = None

    @classmethod
    def searcher_class(cls, space: Any, evaluator: str) -> type:
        """The searcher class the run loop steps (what it reads: `Searcher.settings`): the
        evaluator's loop around this strategy."""
        from .registry import EVALUATORS

        return EVALUATORS.get(evaluator).searcher_class(space, cls)  # type: ignore[no-any-return]

    @classmethod
    def check_config(cls, cfg: Any, need: Need) -> None:
        """The settings this strategy reads, checked before anything runs (see
        `Space.check_config`). Default: nothing of its own."""

    def __init__(self, space: Space, cfg: Any, seed: int) -> None:
        missing = self.needs - space.capabilities
        if missing:
            raise ValueError(f"strategy {self.name} needs {', '.join(sorted(missing))}; space {space.name} lacks it")
        self.space, self.cfg, self.seed = space, cfg, seed
        self.asked = 0  # the number of ask() calls so far: seeds every draw

    def rng(self, *sub: int) -> np.random.Generator:
        return np.random.default_rng(mix_seed(self.seed, self.asked, *sub))

    def ask(self, n: int) -> list[Arch]:
        raise NotImplementedError

    def tell(self, archs: list[Arch], results: list[Scored]) -> None:
        """Default: nothing to learn (random search)."""

    def modules(self) -> dict[str, Any]:
        """Torch modules the strategy learns (a controller): checkpointed as tensors, not JSON."""
        return {}

    def optimizers(self) -> dict[str, Any]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {"asked": self.asked}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.asked = int(d["asked"])
