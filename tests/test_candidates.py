"""The candidate search (issue 22): spaces (search/space.py, spaces/catalog.py), ask/tell
strategies (random, evolution, reinforce), the budget filter and the candidate loop
(search/candidates.py) with the standalone evaluator."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import assert_killed_search_resumes_identically

from gcc_gan.bench.budget import Budget
from gcc_gan.genotype_dsl.analysis import analyze_genotype
from gcc_gan.genotype_dsl.io import load_genotype
from gcc_gan.search.budget import BudgetFilter, BudgetUnreachable
from gcc_gan.search.config import make_config
from gcc_gan.search.health import COLLAPSED, DIVERGED, OK
from gcc_gan.search.strategies.evolution import EvolutionStrategy, survive, tournament
from gcc_gan.search.strategies.random import RandomStrategy
from gcc_gan.search.strategy import Scored

DATA = "synthetic?n=64"
MICRO = dict(gf=4, df=4, latent=6, bottom=2, batch_size=4, log_every=1, checkpoint_every=1, min_diversity=0.0,
             reward="swd", reward_images=16, population=2, candidate_iters=2, workers=1)


def _cfg(space: str = "adversarialnas", **over: Any) -> Any:
    return make_config("random", "tiny", {**MICRO, "space": space, **over})


def _space(name: str, **over: Any) -> Any:
    from gcc_gan.search.candidates import space_class

    return space_class(name)(_cfg(name, **over))


# --------------------------------------------------------------------------- NSGA-II


def test_nsga2_survival_ranks_a_hand_made_set() -> None:
    """(−reward, MACs) rows a..f: fronts {a, b, d}, {f}, {c} (f dominates it), {e}; survival
    keeps the first fronts whole, in order; a front's end points have infinite crowding distance."""
    F = np.array([[1, 2], [2, 1], [3, 3], [0.5, 4], [4, 4], [2.5, 2.5]], dtype=float)
    kept, rank, crowd = survive(F, 4, np.random.default_rng(0))
    assert sorted(kept) == [0, 1, 3, 5] and sorted(rank.tolist()) == [0, 0, 0, 1]
    full, rk, cd = survive(F, 6, np.random.default_rng(0))
    by = {i: int(r) for i, r in zip(full, rk)}
    assert by == {0: 0, 1: 0, 3: 0, 5: 1, 2: 2, 4: 3}
    cdi = dict(zip(full, cd))
    assert math.isinf(cdi[1]) and math.isinf(cdi[3]) and math.isfinite(cdi[0])  # the front's ends are kept first


def test_binary_tournament_prefers_the_dominating_candidate() -> None:
    F = np.array([[0.0, 0.0], [1.0, 1.0]])  # row 0 dominates row 1
    wins = tournament(F, np.array([0, 1]), np.array([np.inf, np.inf]), 200, np.random.default_rng(0))
    # a tournament draws two distinct rows: the dominating one always wins
    assert set(wins.tolist()) == {0}


def _scored(reward: float, macs: int, status: str = OK) -> Scored:
    return Scored(reward, "swd-real", -reward if status == OK else None, status, macs=macs, params=macs // 10)


def test_evolution_never_keeps_an_unhealthy_candidate() -> None:
    sp = _space("adversarialnas")
    ev = EvolutionStrategy(sp, sp.cfg, 0)
    archs = ev.ask(4)
    assert len({sp.key(a) for a in archs}) == 4
    # the collapsed candidate has by far the best raw score and the fewest MACs: it would dominate all
    ev.tell(archs, [_scored(-100, 10**6), _scored(-5, 10, COLLAPSED), _scored(-50, 2 * 10**6),
                    _scored(-1, 5, DIVERGED)])
    keys = {sp.key(p["arch"]) for p in ev.population}
    assert keys == {sp.key(archs[0]), sp.key(archs[2])}
    kids = ev.ask(3)  # offspring of the healthy parents only, none a copy of a parent
    assert not {sp.key(k) for k in kids} & keys
    st = ev.state_dict()
    ev2 = EvolutionStrategy(sp, sp.cfg, 0)
    ev2.load_state_dict(st)
    assert ev2.ask(2) == ev.ask(2)  # the JSON state resumes the same sequence


def test_reinforce_moves_the_controller_toward_rewarded_tokens() -> None:
    """Candidates whose first token is 0 are rewarded: the controller's probability of it rises.
    An unhealthy candidate before any healthy reward teaches nothing (it is never 'good')."""
    from gcc_gan.search.strategies.reinforce_tokens import ReinforceTokens

    sp = _space("degas", ctrl_lr=0.1)
    rl = ReinforceTokens(sp, sp.cfg, 0)
    before = rl.distributions()[0][0]
    a = rl.ask(1)
    rl.tell(a, [_scored(-1.0, 10, COLLAPSED)])
    assert rl.distributions()[0][0] == before and rl.baseline is None
    for _ in range(5):
        archs = rl.ask(4)
        rl.tell(archs, [_scored(10.0 if sp.to_tokens(x)[0] == 0 else 0.0, 10) for x in archs])
    assert rl.distributions()[0][0] > before + 0.1


@pytest.mark.parametrize("space", ["adversarialnas", "degas", "autogan", "dggan"])
def test_mutation_and_crossover_stay_in_the_space(space: str) -> None:
    sp = _space(space, **({"max_steps": 4} if space == "dggan" else {}))
    rng = np.random.default_rng(1)
    for _ in range(20):
        a, b = sp.sample(rng), sp.sample(rng)
        m, c = sp.mutate(a, rng), sp.crossover(a, b, rng)
        assert sp.key(m) != sp.key(a)  # one real change
        for x in (a, m, c):
            g, d, _ = sp.to_genotype(x)
            from gcc_gan.genotype_dsl.model import Genotype

            analyze_genotype(Genotype(name="x", generator=g, discriminator=d))  # valid
            if space == "dggan":
                from gcc_gan.search.spaces.dggan import resolution

                assert len(x) == sp.cfg.max_steps and resolution(d) == sp.cfg.target  # every route reaches it


# --------------------------------------------------------------------------- the budget filter


def test_budget_filter_never_passes_an_over_budget_architecture() -> None:
    from gcc_gan.compiler.cost import compiled_cost

    sp = _space("adversarialnas")
    rng = np.random.default_rng(0)
    macs = sorted(compiled_cost(sp.to_genotype(sp.sample(rng))[0]).macs for _ in range(12))
    budget = Budget(max_macs=macs[len(macs) // 2])  # about half the space is over it
    flt = BudgetFilter(RandomStrategy(sp, sp.cfg, 0), sp, budget)
    got = flt.ask(6)
    assert len(got) == 6 and flt.rejected > 0
    assert all(compiled_cost(sp.to_genotype(a)[0]).macs <= budget.max_macs for a in got)
    with pytest.raises(BudgetUnreachable, match="were all over the budget"):
        BudgetFilter(RandomStrategy(sp, sp.cfg, 0), sp, Budget(max_macs=10), max_redraws=3).ask(2)


# --------------------------------------------------------------------------- the loop, end to end


def _run(out: Path, **over: Any) -> Path:
    from gcc_gan.search.run import SearchRequest, search

    search(SearchRequest(method="random", data=DATA, out=out, overrides={**MICRO, **over}, device="cpu", pareto=2))
    return out


def _compiles(out: Path) -> Any:
    from gcc_gan.compiler.pipeline import compile_network

    g = load_genotype(out / "genotype.json")  # validates
    for role, info in analyze_genotype(g).items():
        assert compile_network(info, role=role).report["params"] > 0
    return g


def test_budgeted_random_search_trains_only_what_fits(tmp_path: Path) -> None:
    """Half the space's generators are over --max-macs: none is ever trained (candidates.csv
    lists every trained one), the redraws are counted, and the genotype fits."""
    import csv

    from gcc_gan.compiler.cost import compiled_cost

    sp = _space("adversarialnas")
    rng = np.random.default_rng(0)
    limit = int(np.median([compiled_cost(sp.to_genotype(sp.sample(rng))[0]).macs for _ in range(8)]))
    out = _run(tmp_path / "run", iters=1, population=2, max_macs=limit)
    rows = list(csv.DictReader((out / "candidates.csv").open()))
    assert len(rows) == 2 and all(int(r["compiled_macs"]) <= limit for r in rows)
    g = _compiles(out)
    assert g.provenance.search_cost["compiled_macs"] <= limit
    assert g.provenance.encoding["candidate_search"]["over_budget_redrawn"] > 0


# --------------------------------------------------------------------------- the loop's runs
# every working pair runs, compiles, meets half its MACs and keeps the trust rule: tests/test_pairs.py

DGGAN_MICRO = dict(d0=4, target=8, max_steps=2, dg_kernels=(3,), dg_filters=(8,), dg_channels=8, latent=8)


def _search(out: Path, strategy: str, space: str, **over: Any) -> Any:
    from gcc_gan.search.run import SearchRequest, search

    extra = DGGAN_MICRO if space == "dggan" else {}
    return search(SearchRequest(data=DATA, out=out, device="cpu", pareto=2, overrides={
        **MICRO, **extra, "space": space, "strategy": strategy, **over}))


def test_evolution_resumed_after_sigkill_gives_the_same_front(tmp_path: Path) -> None:
    over = {**MICRO, "space": "adversarialnas", "strategy": "evolution", "iters": 3, "candidate_iters": 1}
    assert_killed_search_resumes_identically(tmp_path, DATA, over, 2,  # killed after round 2's checkpoint
                                            ("pareto.csv", "candidates.csv", "generator.safetensors"))


@pytest.mark.parametrize("space", ["adversarialnas", "degas", "autogan", "dggan"])
def test_an_unreachable_budget_is_refused_before_anything_is_trained(tmp_path: Path, space: str) -> None:
    """Below the space's floor (budget.space_floor: of THIS space, whatever the strategy) no
    architecture fits: the error says so before -o is made or data loaded."""
    from gcc_gan.search.budget import BudgetUnreachable

    with pytest.raises(BudgetUnreachable, match="no architecture within the budget"):
        _search(tmp_path / "run", "evolution", space, max_macs=1000)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow  # fast twin: every other test here runs the same jobs in the run's process (InlineExecutor)
def test_jobs_in_worker_processes_equal_inline_jobs() -> None:
    """The standalone evaluator's jobs are deterministic functions of their spec: two local
    worker processes (loading the data from its spec) give the inline jobs' scores and bytes."""
    import torch

    from gcc_gan.search.evaluators.training import StandaloneEvaluator
    from gcc_gan.train.data import load_dataset

    sp = _space("adversarialnas", workers=2)
    data = load_dataset(DATA, sp.cfg.size)
    rng = np.random.default_rng(0)
    archs = [sp.sample(rng) for _ in range(2)]
    remote = StandaloneEvaluator(sp, sp.cfg, torch.device("cpu"), data, DATA).evaluate(archs, [1, 2], ["a", "b"])
    inline = StandaloneEvaluator(sp, sp.cfg, torch.device("cpu"), data, None).evaluate(archs, [1, 2], ["a", "b"])
    assert [r["status"] for r in remote] == [OK, OK]
    assert [(r["score"], r["g_weights"]) for r in remote] == [(r["score"], r["g_weights"]) for r in inline]


def test_cli_runs_evolution_and_names_its_outputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gcc_gan.cli.main import run as cli

    out = tmp_path / "run"
    assert cli(["search", "--space", "degas", "--strategy", "evolution", "--iters", "1", "--population", "2",
                "--candidate-iters", "1", "--workers", "1", "--min-diversity", "0", "--data", DATA, "-o", str(out)]) == 0
    cap = capsys.readouterr()
    assert "evolution search (tiny preset, degas space, 1 rounds x 2 candidates x 1 iterations" in cap.err
    assert f"pictures: {out / 'genotype.png'}, {out / 'candidates.png'}" in cap.out and "--weights" in cap.out
    assert (out / "candidates.png").is_file()
    assert load_genotype(out / "genotype.json").provenance.encoding["candidate_search"]["strategy"] == "evolution"
    _compiles(out)
    assert cli(["search", "--space", "dggan", "--strategy", "reinforce", "-o", str(tmp_path / "x")]) == 2
    assert "lacks what reinforce needs" in capsys.readouterr().err
    # shared weights: a one-shot supernet where the space has one (tests/test_oneshot.py); DGGAN has none
    assert cli(["search", "--space", "dggan", "--strategy", "evolution", "--evaluator", "shared", "-o",
                str(tmp_path / "y")]) == 2
    assert "the dggan space lacks shared weights" in capsys.readouterr().err and not (tmp_path / "y").exists()
