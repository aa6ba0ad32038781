"""The compiler's cost model (compiler/cost.py) and compiler-aware search (search/budget.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from strategies import networks

from gcc_gan.bench.budget import Budget
from gcc_gan.compiler.cost import compiled_cost, parse_count, parse_ms
from gcc_gan.compiler.interpreter import Interpreter
from gcc_gan.compiler.pipeline import compile_network
from gcc_gan.errors import GccGanError
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.model import Network
from gcc_gan.genotype_dsl.zoo import ENTRIES, zoo_genotype
from gcc_gan.search.budget import ExpectedCost, admit, repair
from gcc_gan.search.spaces.adversarialnas import (
    AdvDims,
    g_builder,
    g_edges,
    rows_to_choice,
)


def generic_weights(net: Network, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random values in every tensor (BN statistics too): weights as a trained network has."""
    gen = torch.Generator().manual_seed(seed)
    sd = Interpreter(analyze(net)).state_dict()
    return {k: (torch.rand(v.shape, generator=gen) + 0.5).to(v.dtype) if v.is_floating_point() else v
            for k, v in sd.items()}


def compiler_says(net: Network) -> tuple[int, int]:
    rep = compile_network(analyze(net), generic_weights(net)).report
    return rep["macs_after"], rep["params_stored"]


@pytest.mark.parametrize("name", [n for n in ENTRIES if zoo_genotype(n).generator is not None])
def test_cost_model_equals_compile_on_zoo(name: str) -> None:
    g = zoo_genotype(name).generator
    assert g is not None
    c = compiled_cost(g)
    assert (c.macs, c.params) == compiler_says(g)
    assert c.macs_source == analyze(g).macs


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(net=networks())
def test_cost_model_equals_compile_on_random_networks(net: Network) -> None:
    c = compiled_cost(net)
    assert (c.macs, c.params) == compiler_says(net)


DIMS = AdvDims(gf=8, df=8, latent=24, bottom=4)


def _adv_space() -> Any:
    from gcc_gan.search.config import make_config
    from gcc_gan.search.spaces.catalog import AdversarialNasSpace

    return AdversarialNasSpace(make_config("random", "tiny", {}))


_ADV = _adv_space()  # uniform valid AdversarialNAS architectures (search/space.py)


def one_hot(choice: dict[str, int], edges: dict[str, int]) -> dict[str, torch.Tensor]:
    return {e: torch.nn.functional.one_hot(torch.tensor(choice[e]), n).double() for e, n in edges.items()}


def test_expected_cost_is_exact_for_one_hot_alpha() -> None:
    """E[cost](α) at a one-hot α equals the compiler's MACs and params of that architecture."""
    rng = np.random.default_rng(0)
    edges, build = g_edges(), g_builder(DIMS)
    ec = ExpectedCost(edges, build, Budget(max_macs=10**6))
    for _ in range(4):
        rows = _ADV.sample(rng)["g"]
        choice = rows_to_choice(rows)
        exp = ec.expected(one_hot(choice, edges), choice)
        net = build(choice)
        assert net is not None
        assert (int(exp["macs"].item()), int(exp["params"].item())) == compiler_says(net)


def test_expected_cost_is_exact_for_one_hot_alpha_degas() -> None:
    from gcc_gan.search.spaces.degas import DegasG, degas_builder, degas_edges

    g = DegasG(8, 16, 4, 1)
    edges, build = degas_edges(g), degas_builder(g)
    ec = ExpectedCost(edges, build, Budget(max_params=10**5))
    rng = np.random.default_rng(2)
    done = 0
    while done < 3:
        choice = {e: int(rng.integers(n)) for e, n in edges.items()}
        net = build(choice)
        if net is None:
            continue
        exp = ec.expected(one_hot(choice, edges), choice)
        assert (int(exp["macs"].item()), int(exp["params"].item())) == compiler_says(net)
        done += 1


def test_in_context_costs_follow_the_compiler() -> None:
    """An edge's candidate costs are the compiled costs of the architecture with that op
    swapped in, so they can differ from the op's source MACs (the passes change them)."""
    rng = np.random.default_rng(1)
    edges, build = g_edges(), g_builder(DIMS)
    choice = rows_to_choice(_ADV.sample(rng)["g"])
    ec = ExpectedCost(edges, build, Budget(max_macs=10**6))
    tab = ec.table(choice)
    checked = 0
    for e in ("cell2.up0", "cell3.c2"):
        for i in range(edges[e]):
            net = build({**choice, e: i})
            if net is not None:
                assert tab[e][i, 0].item() == compiled_cost(net).macs
                checked += 1
    assert checked >= edges["cell2.up0"]  # not skipped: every up op (and most normal ops) builds
    # somewhere the passes make an op's in-context cost differ from its source-MACs delta
    deltas = []
    base = build(choice)
    assert base is not None
    for e in edges:
        for i in range(edges[e]):
            net = build({**choice, e: i})
            if net is not None:
                deltas.append((tab[e][i, 0].item() - compiled_cost(base).macs) - (analyze(net).macs - analyze(base).macs))
    assert any(d != 0 for d in deltas)


def test_penalty_gradient_moves_alpha_to_cheaper_ops() -> None:
    """One gradient step on the Lagrangian term alone lowers the expected compiled cost and
    raises the probability of each edge's cheapest in-context op."""
    edges, build = g_edges(), g_builder(DIMS)
    choice = rows_to_choice([[0, 0, 3, 4, 3, 4, 5]] * 3)
    torch.manual_seed(0)
    alphas = {e: torch.zeros(n, dtype=torch.float64, requires_grad=True) for e, n in edges.items()}
    ec = ExpectedCost(edges, build, Budget(max_macs=10_000), lam0=1.0)
    probs = {e: a.softmax(-1) for e, a in alphas.items()}
    before = float(ec.expected(probs, choice)["macs"].detach())
    pen, log = ec.penalty(probs, choice)
    assert log["exp_macs_ratio"] > 1 and ec.lam["macs"] > 1.0  # over budget: the multiplier grows
    pen.backward()
    with torch.no_grad():
        new = {e: (a - 50.0 * a.grad).softmax(-1) for e, a in alphas.items()}
    assert float(ec.expected(new, choice)["macs"]) < before
    tab = ec.table(choice)
    moved = 0
    for e in edges:
        costs = tab[e][:, 0]
        if costs.max() > costs.min():
            cheapest = int(costs.argmin())
            assert new[e][cheapest] > probs[e][cheapest]
            moved += 1
    assert moved > 10


def test_repair_derives_within_budget_by_cheaper_swaps() -> None:
    edges, build = g_edges(), g_builder(DIMS)
    choice = rows_to_choice([[1, 1, 4, 4, 6, 6, 4]] * 3)
    full = compiled_cost(build(choice))  # type: ignore[arg-type]
    budget = Budget(max_macs=full.macs // 2)
    probs = {e: [1.0 / n] * n for e, n in edges.items()}
    fixed, cost, steps = repair(choice, probs, edges, build, budget)
    assert cost.macs <= full.macs // 2 and steps
    assert compiler_says(build(fixed))[0] == cost.macs  # type: ignore[arg-type]
    # every step lowered the compiled MACs
    c = choice
    last = full.macs
    for st in steps:
        c = {**c, st["edge"]: st["to"]}
        now = compiled_cost(build(c)).macs  # type: ignore[arg-type]
        assert now < last
        last = now
    with pytest.raises(GccGanError, match="no architecture within the budget"):
        repair(choice, probs, edges, build, Budget(max_macs=10))


def test_admit_and_budget_parsing() -> None:
    g = zoo_genotype("dcgan").generator
    assert g is not None
    ok, c = admit(Budget(max_macs=10**9), g)
    assert ok and c.macs == compiled_cost(g).macs
    assert not admit(Budget(max_params=1000), g)[0]
    assert parse_count("800M", "--max-macs") == 800_000_000 and parse_count("1.5G", "x") == 1_500_000_000
    assert parse_count("3M", "--max-params") == 3_000_000 and parse_count("12000", "x") == 12000
    assert parse_ms("5ms", "x") == 5.0 and parse_ms("0.5s", "x") == 500.0
    for bad in ("eight", "-3M", "0", "5 parsecs"):
        with pytest.raises(GccGanError, match="--max-macs"):
            parse_count(bad, "--max-macs")


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_latency_budget_measures_the_compiled_network(backend: str) -> None:
    net = g_builder(DIMS)(rows_to_choice([[0, 1, 3, 0, 1, 3, 0]] * 3))
    assert net is not None
    c = Budget(max_latency_ms=1e4, latency_backend=backend).cost(net)
    assert c.latency_ms is not None and c.latency_ms > 0 and c.macs == compiled_cost(net).macs
    assert Budget(max_latency_ms=1e4, latency_backend=backend).fits(c)
    assert not Budget(max_latency_ms=1e-6, latency_backend=backend).fits(c)
    assert not admit(Budget(max_latency_ms=1e-6, latency_backend=backend), net)[0]
