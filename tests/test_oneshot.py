"""The shared-weights evaluator for ask/tell strategies: single-path one-shot search
(search/evaluators/oneshot.py, search/supernet.py SinglePath / recalibrated, each space's
`one_shot`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from conftest import assert_killed_search_resumes_identically

from gcc_gan.genotype_dsl.io import load_genotype
from gcc_gan.search.config import make_config
from gcc_gan.search.run import SearchRequest, search

DATA = "synthetic?n=64"
MICRO = dict(gf=4, df=4, latent=6, bottom=2, batch_size=4, log_every=1, checkpoint_every=1, min_diversity=0.0,
             reward="swd", reward_images=16, population=3, supernet_iters=3, evaluator="shared")
SPACES = ["adversarialnas", "degas", "autogan"]


def _cfg(space: str, **over: Any) -> Any:
    return make_config(None, "tiny", {**MICRO, "space": space, "strategy": "evolution", **over})


def _nets(space: str) -> tuple[Any, Any]:
    from gcc_gan.search.registry import SPACES as REG

    sp = REG.get(space)(_cfg(space))
    torch.manual_seed(0)
    return sp, sp.one_shot(torch.device("cpu"))


# --------------------------------------------------------------------------- the single path


@pytest.mark.parametrize("space", ["adversarialnas", "degas"])
def test_a_path_runs_only_its_ops(space: str) -> None:
    """Gradients of one path's output reach exactly the weights of the ops it chose: every
    other candidate of every edge stays untouched (single path, not a weighted mixture), and
    changing an unchosen op's weights leaves the output unchanged."""
    sp, nets = _nets(space)
    arch = sp.sample(np.random.default_rng(3))
    g = nets.generator(arch)
    z = torch.randn(2, sp.cfg.latent, generator=torch.Generator().manual_seed(0))
    g(z).square().mean().backward()
    sup = nets.g
    if space == "degas":
        choice = dict(arch)
    else:
        from gcc_gan.search.spaces.adversarialnas import rows_to_choice

        choice = rows_to_choice(arch["g"])
    kept_edges = set(sup.edge_names)
    if space == "degas":
        from gcc_gan.search.spaces.degas import LEVELS, input_names, kept_inputs

        kept_edges = {n for n in sup.edge_names if ".res" not in n and ".direct" not in n}
        for lv in range(1, LEVELS + 1):
            kept_edges |= {input_names(lv)[k] for k in kept_inputs(arch, lv)}
    touched = unchosen = 0
    for name in sup.edge_names:
        edge = sup.edge(name)
        for i, cand in enumerate(edge.cands):
            grads = [p.grad for p in cand.parameters()]
            if name in kept_edges and i == choice[name] and edge.kinds[i] != "none":
                touched += any(gr is not None and bool(gr.abs().sum() > 0) for gr in grads)
            else:
                assert all(gr is None or not bool(gr.abs().sum()) for gr in grads), (name, i)
                unchosen += 1
    assert touched > 0 and unchosen > 0
    before = g(z).detach()
    with torch.no_grad():  # scramble every unchosen candidate
        for name in sup.edge_names:
            for i, cand in enumerate(sup.edge(name).cands):
                if not (name in kept_edges and i == choice[name]):
                    for p in cand.parameters():
                        p.add_(1.0)
    assert torch.equal(g(z).detach(), before)


def test_scoring_a_candidate_leaves_the_shared_statistics_as_they_were() -> None:
    """BN statistics are re-estimated for the scored path only (supernet.recalibrated)."""
    from gcc_gan.search.supernet import recalibrated

    sp, nets = _nets("adversarialnas")
    g = nets.generator(sp.sample(np.random.default_rng(0)))
    bn = [m for m in g.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert bn
    saved = [m.running_mean.clone() for m in bn]
    with recalibrated(g, sp.cfg.latent, 8, 4, seed=1, device="cpu"):
        assert any(not torch.equal(m.running_mean, s) for m, s in zip(bn, saved))
    assert all(torch.equal(m.running_mean, s) for m, s in zip(bn, saved))


# --------------------------------------------------------------------------- config and CLI


def test_the_evaluator_defaults_and_choices() -> None:
    """Standalone stays the default where it was; --evaluator shared selects one-shot, except
    for the strategies AutoGAN runs on its own shared GAN; dggan has no shared weights."""
    from gcc_gan.errors import BadValue
    from gcc_gan.search.config import resolve

    assert resolve(None, "adversarialnas", "evolution", None)[3] == "standalone"
    assert resolve(None, "autogan", "evolution", None)[3] == "standalone"
    assert resolve(None, "autogan", "random", None)[3] == "shared"  # AutoGAN's weight-sharing baseline
    c = _cfg("autogan")
    assert (c.evaluator, c.supernet_iters) == ("shared", 3)
    with pytest.raises(BadValue, match="dggan space lacks shared weights"):
        make_config(None, "tiny", {"space": "dggan", "strategy": "evolution", "evaluator": "shared"})


def test_searchers_behind_the_shared_evaluator() -> None:
    from gcc_gan.search.evaluators.oneshot import OneShotSearcher
    from gcc_gan.search.registry import SPACES, STRATEGIES, searcher_class
    from gcc_gan.search.strategies.reinforce import AutoGanSearcher

    for space in SPACES:
        for strategy in ("random", "evolution", "reinforce"):
            if "shared" not in SPACES.get(space).capabilities:
                continue
            cfg = make_config(None, "tiny", {"space": space, "strategy": strategy, "evaluator": "shared"})
            s = searcher_class(space, strategy, "shared").build(cfg, torch.device("cpu"), SPACES.get(space),
                                                               STRATEGIES.get(strategy))
            own = strategy in SPACES.get(space).shared_searchers
            assert isinstance(s, AutoGanSearcher if own else OneShotSearcher), (space, strategy)
            assert own == (space == "autogan" and strategy != "evolution")


# --------------------------------------------------------------------------- runs


@pytest.mark.parametrize("space", SPACES)
def test_evolution_on_shared_weights_emits_a_front_and_a_genotype_that_compiles(tmp_path: Path, space: str) -> None:
    from gcc_gan.compiler.cost import compiled_cost

    out = tmp_path / "run"
    res = search(SearchRequest(data=DATA, out=out, device="cpu", pareto=2,
                               overrides={**MICRO, "space": space, "strategy": "evolution", "iters": 2}))
    assert res.step == MICRO["supernet_iters"] + 2
    g = load_genotype(out / "genotype.json")
    compiled_cost(g.generator)  # compiles
    cs = g.provenance.encoding["candidate_search"]
    assert (cs["space"], cs["strategy"]) == (space, "evolution") and "shared weights" in cs["score"]
    rows = list(csv.DictReader((out / "candidates.csv").open()))
    assert len(rows) == 6 and {r["round"] for r in rows} == {"1", "2"}
    ok = [r for r in rows if r["status"] == "ok"]
    assert cs["kept"] == min(ok, key=lambda r: float(r["score"]))["id"]  # the best healthy score, lower SWD
    assert any(r["pareto"] == "1" for r in csv.DictReader((out / "pareto.csv").open()))
    assert g.provenance.search_cost["supernet_iters"] == MICRO["supernet_iters"]
    assert not (out / "generator.safetensors").exists()  # one-shot winners are retrained, not shipped
    hist = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert "d_loss" in hist[0] and "reward" in hist[-1]


def test_one_shot_resumed_after_sigkill_gives_the_same_result(tmp_path: Path) -> None:
    over = {**MICRO, "space": "adversarialnas", "strategy": "evolution", "iters": 2}
    # checkpoint 4: after the supernet's 3 steps and the first round
    assert_killed_search_resumes_identically(tmp_path, DATA, over, 4, ("pareto.csv", "candidates.csv"))


@pytest.mark.slow  # fast twin: test_evolution_on_shared_weights_emits_a_front_and_a_genotype_that_compiles
def test_autogan_evolution_on_shared_weights_under_a_budget_at_the_tiny_preset(tmp_path: Path) -> None:
    """The tiny preset (300 supernet steps, 6 rounds x 8) under --max-macs 1M: every
    candidate within the budget, a front of at least 3, the emitted genotype on it."""
    from gcc_gan.compiler.cost import compiled_cost

    out = tmp_path / "run"
    search(SearchRequest(data="synthetic?n=1024", out=out, device="cpu", pareto=3, overrides={
        "space": "autogan", "strategy": "evolution", "evaluator": "shared", "max_macs": 1_000_000}))
    rows = list(csv.DictReader((out / "pareto.csv").open()))
    front = [r for r in rows if r["pareto"] == "1"]
    assert len(front) >= 3 and all(int(r["compiled_macs"]) <= 1_000_000 for r in rows)
    g = load_genotype(out / "genotype.json")
    assert compiled_cost(g.generator).macs <= 1_000_000
    assert g.provenance.encoding["candidate_search"]["kept"] in {r["name"] for r in front}
    assert len(list((out / "pareto").glob("*.json"))) == 3
