"""Multi-objective evolution (NSGA-II, Deb et al. 2002) over (reward, compiled cost): the
EAGAN / single-path one-shot family's strategy, for any space with `sample` and `mutate`.

Objectives, both minimised: −reward (search/rewards.py: −SWD, 1/FID, IS) and the compiled
generator's MACs (or parameters, `evolution_cost`), so the result is a Pareto front of
quality against cost, not one winner. NSGA-II's building blocks come from pymoo, not
written here: non-dominated sorting with crowding distance (`RankAndCrowding`: the
survival of the best `population` of parents ∪ offspring) and binary tournament selection
(`TournamentSelection` with NSGA-II's `binary_tournament`: the better rank, then the larger
crowding distance). Offspring: a tournament-chosen parent, crossed with a second one (with
probability 1/2, where the space defines `crossover`), then mutated (`mutate`: one small
valid change), re-drawn while it repeats an architecture already in the population.

Round 1 asks `population` uniform samples; every later round `population` offspring. An
unhealthy candidate (collapsed / diverged, search/health.py) never enters the population:
it is neither a parent nor a survivor. All randomness comes from the seed and the round.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..registry import register_strategy
from ..space import Arch, Space
from ..strategy import Scored, Strategy

COST_OBJECTIVES = ("macs", "params")


def objectives(rewards: list[float], costs: list[float]) -> np.ndarray:
    """The (n, 2) matrix NSGA-II minimises: −reward and compiled cost."""
    return np.column_stack([-np.asarray(rewards, dtype=float), np.asarray(costs, dtype=float)])


def survive(F: np.ndarray, n: int, rng: np.random.Generator) -> tuple[list[int], np.ndarray, np.ndarray]:
    """NSGA-II survival (pymoo `RankAndCrowding`): the indices of the `n` kept rows, and their
    non-domination rank and crowding distance."""
    from pymoo.core.population import Population
    from pymoo.core.problem import Problem
    from pymoo.operators.survival.rank_and_crowding import RankAndCrowding

    pop = Population.new("F", F, "CV", np.zeros((len(F), 1)), "index", np.arange(len(F)))
    kept = RankAndCrowding().do(Problem(n_var=1, n_obj=F.shape[1]), pop, n_survive=min(n, len(F)),
                                random_state=rng)
    return [int(i) for i in kept.get("index")], kept.get("rank").astype(int), kept.get("crowding").astype(float)


def tournament(F: np.ndarray, rank: np.ndarray, crowding: np.ndarray, n: int,
               rng: np.random.Generator) -> np.ndarray:
    """`n` binary tournaments among the rows of `F` (pymoo `TournamentSelection` with NSGA-II's
    `binary_tournament`): indices of the winners."""
    from pymoo.algorithms.moo.nsga2 import binary_tournament
    from pymoo.core.population import Population
    from pymoo.core.problem import Problem
    from pymoo.operators.selection.tournament import TournamentSelection

    pop = Population.new("F", F, "CV", np.zeros((len(F), 1)), "rank", rank, "crowding", crowding)

    class _Algo:  # the attributes binary_tournament reads from NSGA-II
        tournament_type = "comp_by_dom_and_crowding"
        random_state = rng

    sel = TournamentSelection(func_comp=binary_tournament)
    idx = sel.do(Problem(n_var=1, n_obj=F.shape[1]), pop, n, n_parents=1, to_pop=False, algorithm=_Algo(),
                 random_state=rng)
    return np.asarray(idx, dtype=int).reshape(-1)


@register_strategy("evolution")
class EvolutionStrategy(Strategy):
    name = "evolution"
    needs = frozenset({"sample", "mutate"})

    def __init__(self, space: Space, cfg: Any, seed: int) -> None:
        super().__init__(space, cfg, seed)
        self.size = int(cfg.population)
        self.cost_key = str(getattr(cfg, "evolution_cost", "macs"))
        # the parents: [{"arch", "reward", "cost"}], healthy candidates only
        self.population: list[dict[str, Any]] = []

    def _offspring(self, n: int, rng: np.random.Generator) -> list[Arch]:
        pop = self.population
        F = objectives([p["reward"] for p in pop], [p["cost"] for p in pop])
        order, rank, crowd = survive(F, len(pop), rng)  # every parent's rank and crowding, in survival order
        r = np.empty(len(pop), dtype=int)
        c = np.empty(len(pop))
        r[order], c[order] = rank, crowd
        seen = {self.space.key(p["arch"]) for p in pop}
        out: list[Arch] = []
        cross = self.space.has("crossover") and len(pop) > 1
        for _ in range(n):
            child = None
            for _try in range(100):  # a child that repeats a parent (or a sibling) is re-drawn
                a, b = tournament(F, r, c, 2, rng)
                child = pop[a]["arch"]
                if cross and rng.random() < 0.5:
                    child = self.space.crossover(child, pop[b]["arch"], rng)
                child = self.space.mutate(child, rng)
                if self.space.key(child) not in seen:
                    break
            assert child is not None
            seen.add(self.space.key(child))
            out.append(child)
        return out

    def ask(self, n: int) -> list[Arch]:
        rng = self.rng()
        archs = self._offspring(n, rng) if self.population else [self.space.sample(rng) for _ in range(n)]
        self.asked += 1
        return archs

    def tell(self, archs: list[Arch], results: list[Scored]) -> None:
        """Parents ∪ the healthy offspring (one entry per architecture), cut to `population`
        by NSGA-II survival."""
        pool = {self.space.key(p["arch"]): p for p in self.population}
        for a, r in zip(archs, results):
            if r.ok:  # collapsed / diverged: never a parent
                pool.setdefault(self.space.key(a), {"arch": a, "reward": r.reward,
                                                    "cost": float(getattr(r, self.cost_key))})
        cand = list(pool.values())
        if len(cand) > self.size:
            F = objectives([p["reward"] for p in cand], [p["cost"] for p in cand])
            kept, _, _ = survive(F, self.size, self.rng(1))
            cand = [cand[i] for i in sorted(kept)]
        self.population = cand

    def state_dict(self) -> dict[str, Any]:
        return {"asked": self.asked, "population": self.population}

    def load_state_dict(self, d: dict[str, Any]) -> None:
        self.asked = int(d["asked"])
        self.population = [dict(p) for p in d.get("population", [])]
