"""Every working (space, strategy) pair (issue 22's "Done when", parametrized from
`registry.working_pairs()`, so a new pair is covered without editing this file):

* each pair runs and its genotype compiles;
* `--max-macs` at half the unconstrained result is honoured, or refused before any
  training with the space's floor named, no run directory written;
* the trust rule holds in the one run loop: the winner's samples are checked and not
  collapsed, and a collapsed or diverged candidate never wins even when its metric reads
  the best value there is (planted through the one scoring function, `Reward.score`, that
  the candidate loop, DGGAN's growth and AutoGAN's shared-weights evaluation all call; the
  differentiable strategy has one candidate, its derivation, checked at the end).

One unconstrained run per pair (session fixture, micro settings) serves every fast test;
the same checks at `--preset tiny` are `-m slow`.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from test_candidates import _compiles

from gcc_gan.compiler.cost import compiled_cost
from gcc_gan.errors import GccGanError
from gcc_gan.genotype_dsl.io import load_genotype
from gcc_gan.search import registry
from gcc_gan.search.health import COLLAPSED, DIVERGED, Health
from gcc_gan.search.rewards import Reward, reward_from
from gcc_gan.search.run import SearchRequest, search

PAIRS = registry.working_pairs()
IDS = [f"{sp}-{st}" for sp, st in PAIRS]
DATA = "synthetic?n=64"
# the collapse threshold of the micro runs: a generator trained for 1-3 iterations keeps only a
# few percent of the data's per-pixel spread (the tiny preset's slow test uses the default 0.25);
# above 0, so the rule is applied
MIN_DIV = 0.005

# the smallest settings each code path allows (the run loop's searcher, search/run.make_searcher)
_NETS = {"gf": 4, "df": 4, "latent": 6, "bottom": 2, "batch_size": 4, "log_every": 1}
MICRO: dict[str, dict[str, Any]] = {
    "CandidateSearcher": {**_NETS, "checkpoint_every": 1, "reward": "swd", "reward_images": 16, "population": 4,
                          "candidate_iters": 1, "workers": 1, "iters": 1},  # 4: Plant's both kinds (2nd, 4th)
    "DifferentiableSearcher": {**_NETS, "checkpoint_every": 1, "iters": 1},
    "AutoGanSearcher": {**_NETS, "g_batch": 4, "hid": 8, "search_iters": 3, "grow_at": (1, 2), "shared_steps": 1,
                        "ctrl_steps": 1, "n_critic": 1, "num_candidate": 2, "topk": 2, "reward": "swd",
                        "reward_images": 8, "reset_window": 2, "checkpoint_every": 3,
                        "iters": 6},  # search_iters x (shared_steps + ctrl_steps)
    "GrowthSearcher": {"reward": "swd", "d0": 4, "target": 8, "max_steps": 2, "dg_kernels": (3,), "dg_filters": (8,),
                       "dg_channels": 8, "latent": 8, "init_iters": 2, "child_iters": 2, "reward_images": 16,
                       "batch_size": 4, "dg_p": 1.0, "dg_k": 1, "workers": 1},  # 3 children at step 1
}
DGGAN_SPACE = {k: MICRO["GrowthSearcher"][k] for k in ("d0", "target", "max_steps", "dg_kernels", "dg_filters",
                                                        "dg_channels", "latent")}


@functools.cache
def searcher_kind(space: str, strategy: str) -> str:
    """The run loop's searcher class for the pair (its code path)."""
    from gcc_gan.search.config import make_config
    from gcc_gan.search.run import make_searcher

    return type(make_searcher(make_config(None, "tiny", {"space": space, "strategy": strategy}),
                              torch.device("cpu"))).__name__


def micro(space: str, strategy: str) -> dict[str, Any]:
    kind = searcher_kind(space, strategy)
    assert kind in MICRO, f"{space} x {strategy} runs a new searcher ({kind}): give it micro settings here"
    extra = DGGAN_SPACE if space == "dggan" and kind == "CandidateSearcher" else {}
    return {**MICRO[kind], **extra, "space": space, "strategy": strategy}


class Plant:
    """`Reward.score` with every second call planted: the metric reads the best value there
    is (SWD 0: the largest reward) while the health says diverged (calls 2, 6, ...) or
    collapsed (calls 4, 8, ...). Every other call is scored for real; the first (DGGAN's
    base, which everything grows from) is never planted."""

    def __init__(self) -> None:
        self.calls = 0
        self.planted: list[str] = []

    def install(self, mp: pytest.MonkeyPatch) -> None:
        real = Reward.score

        def score(rw: Reward, g: Any, latent: int, size: int, seed: int) -> Any:
            sc = real(rw, g, latent, size, seed)
            self.calls += 1
            if self.calls % 2:
                return sc
            status = COLLAPSED if self.calls % 4 == 0 else DIVERGED
            self.planted.append(status)
            return dataclasses.replace(sc, value=0.0, reward=reward_from(sc.metric, 0.0),
                                       health=Health(status, "planted by the test", sc.health.diversity))

        mp.setattr(Reward, "score", score)


@dataclasses.dataclass
class PairRun:
    space: str
    strategy: str
    kind: str
    over: dict[str, Any]
    out: Path
    planted: list[str]
    console: str

    @property
    def genotype(self) -> Any:
        return load_genotype(self.out / "genotype.json")


@pytest.fixture(scope="session", params=PAIRS, ids=IDS)
def pair_run(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> PairRun:
    """The pair's unconstrained micro run, with the collapse rule on and `Plant` in place."""
    import io

    from rich.console import Console

    space, strategy = request.param
    over = {**micro(space, strategy), "min_diversity": MIN_DIV}
    out = tmp_path_factory.mktemp(f"{space}-{strategy}") / "run"
    plant, buf = Plant(), io.StringIO()
    with pytest.MonkeyPatch.context() as mp:  # search() restores the thread count itself
        plant.install(mp)
        search(SearchRequest(data=DATA, out=out, overrides=over, device="cpu", threads=1, pareto=1),
               Console(file=buf, width=200))
    return PairRun(space, strategy, searcher_kind(space, strategy), over, out, plant.planted, buf.getvalue())


# --------------------------------------------------------------------------- runs and compiles


def test_pair_runs_and_its_genotype_compiles(pair_run: PairRun) -> None:
    g = _compiles(pair_run.out)
    assert json.loads((pair_run.out / "search.json").read_text())["status"] == "done"
    cfg = json.loads((pair_run.out / "search.json").read_text())["config"]
    assert (cfg["space"], cfg["strategy"]) == (pair_run.space, pair_run.strategy)
    assert g.provenance.search_cost["compiled_macs"] == compiled_cost(g.generator).macs
    front = list(csv.DictReader((pair_run.out / "pareto.csv").open()))
    assert front and any(r["pareto"] == "1" for r in front)
    for name in ("genotype.png", "pareto.png", "samples.png"):
        assert (pair_run.out / name).stat().st_size > 0
    if pair_run.kind == "CandidateSearcher":  # the candidate loop's own record and outputs
        cs = g.provenance.encoding["candidate_search"]
        assert (cs["space"], cs["strategy"]) == (pair_run.space, pair_run.strategy)
        assert g.provenance.searcher == pair_run.strategy
        rows = list(csv.DictReader((pair_run.out / "candidates.csv").open()))
        assert len(rows) == cs["candidates"] and cs["kept"] in {r["id"] for r in rows if r["status"] == "ok"}
        assert (g.discriminator is None) == (pair_run.space == "degas")  # DEGAS searches G only
        assert (pair_run.out / "generator.safetensors").stat().st_size > 0


# --------------------------------------------------------------------------- the budget at half


def check_half_budget(free: Path, space: str, strategy: str, over: dict[str, Any], out: Path, data: str = DATA,
                      preset: str = "tiny") -> dict[str, Any]:
    """Rerun with --max-macs = half the free run's compiled MACs: the genotype fits it, or the
    run is refused before any training naming the space's floor (no run directory). Returns
    the figures (for the slow test's table)."""
    from gcc_gan.search.budget import space_floor
    from gcc_gan.search.config import make_config

    free_macs = compiled_cost(load_genotype(free / "genotype.json").generator).macs
    half = free_macs // 2
    floor = space_floor(make_config(None, preset, {**over, "max_macs": half}))
    assert floor is not None and floor.macs <= free_macs  # the floor is a lower bound of the free result
    try:
        res = search(SearchRequest(data=data, out=out, overrides={**over, "max_macs": half, "min_diversity": 0.0},
                                   device="cpu", threads=1, preset=preset))  # the budget alone decides here
    except GccGanError as e:
        msg = str(e)
        assert floor.macs > half, f"{space} x {strategy}: refused a budget above the space's floor: {msg}"
        assert "Nothing was trained" in msg and not out.exists(), f"not refused before training: {msg}"
        assert f"{floor.macs:,} MACs (over --max-macs {half:,})" in msg and floor.space in msg, msg
        return {"free": free_macs, "half": half, "result": None, "floor": floor.macs, "error": msg}
    g = load_genotype(res.genotype)
    got = compiled_cost(g.generator).macs
    assert got <= half, f"{space} x {strategy}: the genotype compiles to {got:,} MACs, over --max-macs {half:,}"
    assert g.provenance.search_cost["compiled_macs"] == got and g.provenance.search_cost["budget_max_macs"] == half
    return {"free": free_macs, "half": half, "result": got, "floor": floor.macs, "error": None}


def test_half_the_unconstrained_macs_is_honoured_or_refused_before_training(pair_run: PairRun,
                                                                           tmp_path: Path) -> None:
    check_half_budget(pair_run.out, pair_run.space, pair_run.strategy, pair_run.over, tmp_path / "half")


# --------------------------------------------------------------------------- the trust rule


def test_the_winners_samples_were_checked_and_are_not_collapsed(pair_run: PairRun) -> None:
    """The emitted generator's diversity (per-pixel std over latents / the data's) is measured
    and recorded, and is above the run's collapse threshold."""
    g = pair_run.genotype
    div = g.provenance.metrics.get("diversity")
    assert div is not None, f"{pair_run.space} x {pair_run.strategy}: the winner's diversity was never measured"
    assert div >= MIN_DIV
    assert "final generator: ok (per-pixel std over 64 latents" in pair_run.console


def _winner_score(g: Any) -> float | None:
    """The winner's own metric as recorded (a scored candidate's: swd_real, fid or is)."""
    m = g.provenance.metrics
    return next((float(m[k]) for k in ("swd_real", "fid", "is") if k in m), None)


def test_an_unhealthy_candidate_never_wins_even_with_the_best_metric(pair_run: PairRun, tmp_path: Path) -> None:
    """Searchers that score candidates: half of them were planted collapsed / diverged with
    SWD 0 (the best there is); the winner is a real one and no front lists a planted one.
    A differentiable search has one candidate, its derivation: classified collapsed (a
    threshold no generator meets), it is refused with no genotype written."""
    if not pair_run.planted:  # nothing was scored with a reward: the derivation is the one candidate
        assert pair_run.kind == "DifferentiableSearcher", f"{pair_run.kind} scored no candidate"
        out = tmp_path / "collapsed"
        with pytest.raises(GccGanError, match=r"no healthy candidate: 1 final generators: 0 ok, 1 collapsed"):
            search(SearchRequest(data=DATA, out=out, overrides={**pair_run.over, "min_diversity": 1e9},
                                 device="cpu", threads=1))
        assert not (out / "genotype.json").exists()
        assert json.loads((out / "search.json").read_text())["status"] == "unhealthy"
        return
    g = pair_run.genotype
    score = _winner_score(g)
    assert score is not None and score > 0.0, f"the winner's metric {score} is a planted one"
    metric = next(k for k in ("swd_real", "fid", "is") if k in g.provenance.metrics)
    front = list(csv.DictReader((pair_run.out / "pareto.csv").open()))
    assert all(float(r[metric]) > 0.0 for r in front), "a planted candidate is on the front"
    if (pair_run.out / "candidates.csv").exists():  # every scored candidate, with its status
        rows = list(csv.DictReader((pair_run.out / "candidates.csv").open()))
        assert {r["status"] for r in rows} >= set(pair_run.planted)
    # a controller learning from rewards (AutoGAN's) never takes an unhealthy child's as one
    steps = [json.loads(x) for x in (pair_run.out / "history.jsonl").read_text().splitlines()]
    told = [r for r in steps if "last_status" in r]
    assert all(r["last_reward"] is None for r in told if r["last_status"] != "ok")
    if told and pair_run.strategy == "reinforce":
        assert any(r["last_status"] != "ok" for r in told), "no planted child reached the controller"


# --------------------------------------------------------------------------- the tiny preset


@pytest.mark.slow  # fast twins: every test above (one micro run per pair)
@pytest.mark.parametrize("space,strategy", PAIRS, ids=IDS)
def test_pair_at_the_tiny_preset(tmp_path: Path, space: str, strategy: str) -> None:
    """The tiny preset, synthetic data: the genotype compiles, the winner is not collapsed at
    the default threshold, and half its compiled MACs is honoured or refused before training."""
    over: dict[str, Any] = {"space": space, "strategy": strategy}
    if searcher_kind(space, strategy) in ("AutoGanSearcher", "GrowthSearcher"):
        over["reward"] = "swd"  # their presets' IS / FID need Inception weights (none here)
    data = "synthetic?n=256"
    out = search(SearchRequest(data=data, out=tmp_path / "free", overrides=over, pareto=3)).out
    g = _compiles(out)
    div = g.provenance.metrics.get("diversity")
    assert div is not None and div >= 0.25
    if searcher_kind(space, strategy) == "CandidateSearcher":
        assert g.provenance.encoding["candidate_search"]["candidates"] >= 12
    assert (out / "pareto.png").stat().st_size > 10_000
    fig = check_half_budget(out, space, strategy, over, tmp_path / "half", data)
    print(json.dumps({"pair": f"{space} x {strategy}", "diversity": div, **fig}))  # the README / report table
