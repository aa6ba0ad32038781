"""Searching the trained supernet for the best student within a budget.

The strategy is an ask/tell object (`ask() -> Arch | None`, `tell(arch, score)`; lower
scores are better), so another search system's strategies can replace it: `run_search`
only asks, evaluates and tells. The one here seeds with the uniform-width students and the
smallest one that fit, then random students, then a small evolution (tournament of two,
mutation), each widened group by group while it fits, never proposing a student twice or
one over the budget.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from ..errors import GccGanError
from .space import WIDTHS, Arch, StudentSpace


class Strategy(Protocol):
    def ask(self) -> Arch | None: ...

    def tell(self, arch: Arch, score: float) -> None: ...


class RandomEvolution:
    """Seeds, then `population` random students, then mutations of tournament winners; each
    random student and child widened while it fits (so students use their budget)."""

    def __init__(self, space: StudentSpace, fits: Callable[[Arch], bool], rng: np.random.Generator,
                 population: int, tries: int = 500) -> None:
        self.space, self.fits, self.rng, self.population, self.tries = space, fits, rng, population, tries
        self.seen: set[str] = set()
        self.told: list[tuple[float, Arch]] = []
        uniform = [Arch((k,) * len(space.groups), (0,) * len(space.sites), (False,) * len(space.droppable))
                   for k in range(len(WIDTHS))]
        self.seeds = [a for a in [*uniform, space.smallest()] if fits(a)]

    def _fresh(self, make: Callable[[], Arch]) -> Arch | None:
        for _ in range(self.tries):
            a = make()
            if self.fits(a):
                a = self.space.widened(a, self.fits, self.rng)
                if a.key() not in self.seen:
                    return a
        return None

    def ask(self) -> Arch | None:
        while self.seeds:
            a = self.seeds.pop(0)
            if a.key() not in self.seen:
                self.seen.add(a.key())
                return a
        if len(self.told) < self.population:
            a = self._fresh(lambda: self.space.sample(self.rng))
        else:
            def child() -> Arch:
                i, j = self.rng.integers(len(self.told), size=2)
                parent = min(self.told[int(i)], self.told[int(j)], key=lambda t: t[0])[1]
                return self.space.mutate(parent, self.rng)
            a = self._fresh(child)
        if a is not None:
            self.seen.add(a.key())
        return a

    def tell(self, arch: Arch, score: float) -> None:
        if np.isfinite(score):
            self.told.append((score, arch))


def run_search(strategy: Strategy, evaluate: Callable[[Arch], float], evaluations: int,
               on_eval: Callable[[int, Arch, float], None] | None = None) -> tuple[Arch, float, list[dict]]:
    """(best arch, its score, the history) after at most `evaluations` evaluations."""
    history: list[dict] = []
    best: tuple[float, Arch] | None = None
    for k in range(evaluations):
        arch = strategy.ask()
        if arch is None:
            break
        score = evaluate(arch)
        strategy.tell(arch, score)
        history.append({"arch": arch.to_json(), "score": score})
        if np.isfinite(score) and (best is None or score < best[0]):
            best = (score, arch)
        if on_eval is not None:
            on_eval(k + 1, arch, score)
    if best is None:
        raise GccGanError("the search found no student with a finite score within the budget")
    return best[1], best[0], history
