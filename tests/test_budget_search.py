"""`gcc-gan search --max-macs / --max-params / --pareto` end to end (tiny runs)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import shown_macs

from gcc_gan.cli.main import run as cli
from gcc_gan.compiler.cost import compiled_cost
from gcc_gan.genotype_dsl.io import load_genotype
from gcc_gan.search.pareto import front


def rows(path: Path) -> list[dict[str, str]]:
    with open(path) as f:
        return list(csv.DictReader(f))


# random: behind -m slow (its candidates each scored on 256 images; adversarial and degas run by default)
@pytest.mark.parametrize("method,args", [("adversarial", ["--iters", "10"]),
                                         pytest.param("random", ["--iters", "2"], marks=pytest.mark.slow),
                                         ("degas", ["--iters", "10"])])
def test_budget_halves_compiled_macs(tmp_path: Path, capsys: pytest.CaptureFixture[str], method: str,
                                     args: list[str]) -> None:
    free = tmp_path / "free"
    args = [*args, "--min-diversity", "0"]  # 10 iterations: near-constant samples (tests/test_health.py)
    assert cli(["search", "--method", method, "--preset", "tiny", *args, "-o", str(free), "--pareto", "2"]) == 0
    m_free = shown_macs(free / "genotype.json", capsys)
    assert m_free == load_genotype(free / "genotype.json").provenance.search_cost["compiled_macs"]
    limit = m_free // 2
    out = tmp_path / "budget"
    assert cli(["search", "--method", method, "--preset", "tiny", *args, "-o", str(out),
                "--max-macs", str(limit), "--max-params", "1M"]) == 0
    g = load_genotype(out / "genotype.json")
    assert shown_macs(out / "genotype.json", capsys) <= limit
    sc = g.provenance.search_cost
    assert sc["budget_max_macs"] == limit and sc["budget_max_params"] == 1e6
    assert sc["compiled_macs"] <= limit and "budget" in (g.provenance.notes or "")

    # pareto.csv: every candidate's compiled cost as the cost model says, the front flagged right
    table = rows(free / "pareto.csv")
    assert table and (free / "pareto.png").stat().st_size > 10_000
    score = next(k for k in table[0] if k not in ("name", "step", "compiled_macs", "compiled_params", "pareto"))
    higher = score in ("is", "reward")

    class C:
        def __init__(self, r: dict[str, str]) -> None:
            self.macs, self.score = int(r["compiled_macs"]), float(r[score])

    on_front = set(front([C(r) for r in table], higher))  # type: ignore[misc]
    assert [int(r["pareto"]) for r in table] == [int(i in on_front) for i in range(len(table))]
    emitted = sorted((free / "pareto").glob("*.json"))
    assert 1 <= len(emitted) <= 2
    by_name = {r["name"]: r for r in table}
    for p in emitted:
        cand = load_genotype(p)
        assert cand.generator is not None and by_name[p.stem]["pareto"] == "1"
        assert compiled_cost(cand.generator).macs == int(by_name[p.stem]["compiled_macs"])


@pytest.mark.slow  # fast twins: test_dggan.py::test_reachability_pruning_never_walks_into_a_dead_end and
# test_budget_floor_of_an_enumerated_space_is_its_cheapest_network[dggan] (admission and floor, no training)
def test_dggan_budget_halves_compiled_macs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """DGGAN at half the unconstrained tiny result's compiled MACs: the tiny space (4x4 -> 16x16,
    13 actions, K 2, p 0.4, 5 steps) with fewer training iterations per candidate so it runs
    in seconds (the architectures and costs are the preset's; only the scores are rougher).
    Every 16x16 network with the paper's 16-wide FADEs costs >= 1,133,824 MACs, so the limit
    is reached only by the reachability pruning and narrower FADE blocks (spaces/dggan.py)."""
    from gcc_gan.search.run import SearchRequest, search
    from gcc_gan.search.spaces.dggan import cheapest_completion

    fast = {"reward": "swd", "init_iters": 4, "child_iters": 2, "reward_images": 16, "batch_size": 4, "workers": 1}
    free = search(SearchRequest(method="dggan", preset="tiny", out=tmp_path / "free", overrides=fast)).out
    m_free = shown_macs(free / "genotype.json", capsys)
    assert m_free >= 1_133_824  # base + two 16-wide FADEs (+ any G-convs)
    limit = m_free // 2
    out = search(SearchRequest(method="dggan", preset="tiny", out=tmp_path / "half",
                               overrides={**fast, "max_macs": limit})).out
    g = load_genotype(out / "genotype.json")
    assert shown_macs(out / "genotype.json", capsys) <= limit
    assert g.provenance.search_cost["compiled_macs"] <= limit and g.provenance.search_cost["budget_max_macs"] == limit
    assert "FADE 8" in g.provenance.encoding["actions"]  # two 16-wide FADEs are over any such limit
    table = rows(out / "candidates.csv")
    trained = [r for r in table if r["status"] == "ok"]
    assert any(r["status"] == "over budget" for r in table)
    for r in trained:  # every trained state could still reach 16x16 within the limit
        net = load_genotype(out / "candidates" / r["id"] / "genotype.json").generator
        assert compiled_cost(cheapest_completion(net, 16, 8)).macs <= limit


@pytest.mark.parametrize("method,extra", [("adversarial", []), ("random", []), ("degas", []),
                                          ("autogan", ["--reward", "swd"]), ("dggan", ["--reward", "swd"]),
                                          ("random", ["--space", "autogan", "--reward", "swd"])])
def test_budget_flags_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str], method: str,
                                extra: list[str]) -> None:
    """A limit below the space's floor (search/budget.space_floor) is refused before -o is
    made, data is loaded or anything trained: one message naming the bound and the limit."""
    out = tmp_path / "r"
    assert cli(["search", "--method", method, *extra, "-o", str(out), "--max-macs", "10", "--max-params", "5M"]) == 1
    (err,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert "no architecture within the budget (MACs ≤ 10, params ≤ 5,000,000) exists in the" in err
    assert "MACs (over --max-macs 10)" in err and "params (over" not in err and "Nothing was trained" in err
    assert not out.exists()


def test_budget_flags_unparsable_limits(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(["search", "--iters", "2", "-o", str(tmp_path / "a"), "--max-macs", "lots"]) == 1
    assert "--max-macs 'lots'" in capsys.readouterr().err
    assert not (tmp_path / "a").exists()
    assert cli(["search", "--iters", "2", "-o", str(tmp_path / "b"), "--max-latency", "fast"]) == 1
    assert not (tmp_path / "b").exists()
    assert cli(["search", "--iters", "2", "-o", str(tmp_path / "c"), "--max-params", "1"]) == 1
    assert "params (over --max-params 1)" in capsys.readouterr().err


@pytest.mark.slow  # trains one step, then the repair compiles swaps until none lowers the cost (~15 s)
def test_budget_above_the_floor_that_no_derivation_reaches(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Between the floor (125,568 MACs at the tiny preset: a lower bound, not tight) and the
    cheapest architecture the repair reaches, the search trains and the derivation fails:
    the advice is a new search, not a --resume that keeps the budget."""
    assert cli(["search", "--iters", "1", "-o", str(tmp_path / "d"), "--max-macs", "130000"]) == 1
    (err,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert "no architecture within the budget (MACs ≤ 130,000)" in err and "search again into a new -o" in err
    assert "--resume` finishes" not in err


def test_repair_says_what_the_cheapest_reached_costs() -> None:
    """The fast twin of the test above: from the cheapest architecture known at the tiny
    preset, no cheaper-op swap reaches a budget above the floor but below it."""
    from gcc_gan.bench.budget import Budget
    from gcc_gan.search.budget import BudgetUnreachable, repair
    from gcc_gan.search.spaces.adversarialnas import (
        AdvDims,
        g_builder,
        g_edges,
        rows_to_choice,
    )

    edges, build = g_edges(), g_builder(AdvDims(gf=8, df=8, latent=24, bottom=4))
    choice = rows_to_choice([[0, 0, 1, 0, 0, 0, 1]] * 3)
    probs = {e: [1.0 / n] * n for e, n in edges.items()}
    with pytest.raises(BudgetUnreachable, match=r"MACs ≤ 130,000.*the cheapest reached compiles to 293,376 MACs"):
        repair(choice, probs, edges, build, Budget(max_macs=130_000))


def _floor(method: str, **ov: object) -> object:
    from gcc_gan.search.budget import space_floor
    from gcc_gan.search.config import make_config

    return space_floor(make_config(method, "tiny", {"max_macs": 10**12, **ov}))


def test_budget_floor_is_a_lower_bound_of_every_derivation() -> None:
    """AdversarialNAS and DEGAS: random valid derivations (and the cheapest known) compile to
    at least the floor in MACs and in params; so a budget they meet is never refused."""
    import numpy as np

    from gcc_gan.bench.budget import Budget
    from gcc_gan.search.budget import refuse_unreachable
    from gcc_gan.search.spaces.adversarialnas import AdvDims, g_builder, g_edges
    from gcc_gan.search.spaces.degas import DegasG, degas_builder, degas_edges

    rng = np.random.default_rng(0)
    g = DegasG(16, 32, 4, 1)
    spaces = [(_floor("adversarial"), g_edges(), g_builder(AdvDims(gf=8, df=8, latent=24, bottom=4))),
              (_floor("degas"), degas_edges(g), degas_builder(g))]
    for floor, edges, build in spaces:
        costs = []
        while len(costs) < 12:
            net = build({e: int(rng.integers(n)) for e, n in edges.items()})
            if net is not None:
                costs.append(compiled_cost(net))
        if floor.space.startswith("the AdversarialNAS"):  # the cheapest known (test above): 293,376 MACs
            costs.append(compiled_cost(build({e: (0 if e.split(".")[1].startswith("up") or e.endswith(("c1", "c2", "c3"))
                                                  else 1) for e in edges})))
        for c in costs:
            assert c.macs >= floor.macs > 0 and c.params >= floor.params > 0
            refuse_unreachable(Budget(max_macs=c.macs, max_params=c.params), floor)  # feasible: accepted


@pytest.mark.parametrize("method", ["autogan", "dggan"])
def test_budget_floor_of_an_enumerated_space_is_its_cheapest_network(method: str) -> None:
    """AutoGAN and DGGAN: the floor is the cost of a network of the space itself; as the
    budget it is accepted, one MAC (or parameter) less is refused."""
    from gcc_gan.bench.budget import Budget
    from gcc_gan.search.budget import BudgetUnreachable, refuse_unreachable
    from gcc_gan.search.spaces.dggan import base_pair, cheapest_completion

    floor = _floor(method, reward="swd")
    if method == "dggan":
        c = compiled_cost(cheapest_completion(base_pair(4, 16, 32)[0], 16, 8))
        assert (c.macs, c.params) == (floor.macs, floor.params)
    refuse_unreachable(Budget(max_macs=floor.macs, max_params=floor.params), floor)
    for b in (Budget(max_macs=floor.macs - 1), Budget(max_params=floor.params - 1)):
        with pytest.raises(BudgetUnreachable, match="a lower bound from its cheapest"):
            refuse_unreachable(b, floor)


@pytest.mark.slow  # the whole tiny preset; fast twin: test_autogan_budget.py (the same check at gf 8)
def test_autogan_budget_penalises_and_derives_within(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The tiny preset at half the unconstrained seed-0 result's compiled MACs (1,431,872 / 2;
    README): out of reach of AutoGAN's own space (cheapest child 1,242,432), reached through
    the width search a budget adds (tests/test_autogan_budget.py computes the half itself)."""
    out = tmp_path / "ag"
    limit = 715_936
    assert cli(["search", "--method", "autogan", "--preset", "tiny", "--reward", "swd", "-o", str(out),
                "--max-macs", str(limit)]) == 0
    assert shown_macs(out / "genotype.json", capsys) <= limit
    assert load_genotype(out / "genotype.json").provenance.search_cost["compiled_macs"] <= limit
    assert rows(out / "pareto.csv")  # the rewarded full-depth children
    assert cli(["search", "--method", "autogan", "--preset", "tiny", "--reward", "swd", "-o", str(tmp_path / "x"),
                "--max-macs", "100k"]) == 1
    assert "no architecture within the budget" in capsys.readouterr().err


@pytest.mark.slow  # fast twins: test_search.py::test_resume_is_exact, test_autogan_budget.py (budgeted resume)
def test_budgeted_search_resumes_exactly(tmp_path: Path) -> None:
    """The Lagrange multipliers are checkpointed: stop + resume = one uninterrupted run."""
    from gcc_gan.search.run import SearchRequest, search

    ov = {"iters": 10, "max_macs": 400_000, "checkpoint_every": 5, "min_diversity": 0.0}
    search(SearchRequest(out=tmp_path / "a", overrides=ov))
    search(SearchRequest(out=tmp_path / "b", overrides=ov, stop_after=5))
    search(SearchRequest(out=tmp_path / "b", overrides=ov, resume=True))
    a, b = load_genotype(tmp_path / "a" / "genotype.json"), load_genotype(tmp_path / "b" / "genotype.json")
    assert a.generator == b.generator and a.provenance.encoding == b.provenance.encoding
    hist = [json.loads(x) for x in (tmp_path / "b" / "history.jsonl").read_text().splitlines()]
    assert hist[-1]["lambda_macs"] == [json.loads(x) for x in
                                       (tmp_path / "a" / "history.jsonl").read_text().splitlines()][-1]["lambda_macs"]


def test_slack_budget_changes_nothing(tmp_path: Path) -> None:
    """A budget far above anything the supernet can reach leaves the multiplier at 0, so the
    differentiable search derives exactly what it derives without one (a multiplier
    starting above 0 pushed α to cheaper ops for its first steps: a 4× cheaper result)."""
    from gcc_gan.search.run import SearchRequest, search

    search(SearchRequest(out=tmp_path / "free", overrides={"iters": 4, "min_diversity": 0.0}))
    search(SearchRequest(out=tmp_path / "slack", overrides={"iters": 4, "max_macs": 10**12, "min_diversity": 0.0}))
    free, slack = load_genotype(tmp_path / "free" / "genotype.json"), load_genotype(tmp_path / "slack" / "genotype.json")
    assert slack.generator == free.generator
    hist = [json.loads(x) for x in (tmp_path / "slack" / "history.jsonl").read_text().splitlines()]
    assert hist and all(h["lambda_macs"] == 0.0 for h in hist)


def test_search_called_from_python_lays_out_wide(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`scale --search` runs `search()` without a console: its lines, on a stderr that is no
    terminal, are not wrapped at 80 columns (the header was split mid-sentence)."""
    from gcc_gan.search.run import SearchRequest, search

    out = tmp_path / ("a-long-run-directory-name-" * 3)
    search(SearchRequest(out=out, overrides={"iters": 1, "min_diversity": 0.0}))
    (header,) = [line for line in capsys.readouterr().err.splitlines() if line.startswith("adversarial search")]
    assert header.endswith(f"→ {out}") and len(header) > 100


def test_search_summary_names_the_pareto_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r"
    assert cli(["search", "--iters", "1", "--min-diversity", "0", "-o", str(out), "--pareto", "1"]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.strip().startswith("pareto:")]
    assert f"{out / 'pareto.csv'}, {out / 'pareto.png'}, 1 front genotype(s) in {out / 'pareto'}/" in line
    assert (out / "pareto.png").is_file() and len(list((out / "pareto").glob("*.json"))) == 1
