"""Loading, validation, analysis and every compiler pass are linear in the graph size
(issue 10: a 20,000-node chain took over 120 s to compile). Each family of graphs is
compiled (passes only, no export) at n and 10·n; the ratio of the work done — function calls
counted by a profile hook, deterministic where seconds are not — must stay far below the
~100× of quadratic behaviour (bound 30×). Timings: benchmarks/bench_compile.py."""

from __future__ import annotations

import sys
from typing import Any, Callable

import pytest

from gcc_gan.compiler import pipeline
from gcc_gan.compiler.passes import run_passes
from gcc_gan.compiler.pipeline import compile_network
from gcc_gan.genotype_dsl.analysis import analyze_genotype
from gcc_gan.genotype_dsl.builder import NetBuilder, op
from gcc_gan.genotype_dsl.io import parse_genotype
from gcc_gan.genotype_dsl.model import Genotype

RATIO_BOUND = 30


def _start() -> NetBuilder:
    b = NetBuilder(4)
    b.latent("z", 8)
    b.node("n0", width=1)
    b.edge("z", "n0", op("linear", out_width=4.0), op("reshape", size=2))
    return b


def chain(n: int) -> NetBuilder:
    b = _start()
    for i in range(1, n):
        b.node(f"n{i}", width=1)
        b.edge(f"n{i - 1}", f"n{i}", "identity")
    b.output("out", f"n{n - 1}")
    return b


def parallel(n: int) -> NetBuilder:
    b = _start()
    b.node("m", width=1)
    kinds: list[list[Any]] = [["relu"], ["identity"], ["none"], [op("conv", kernel=1)], ["relu", op("conv", kernel=3)]]
    for i in range(n):
        b.edge("n0", "m", *kinds[i % len(kinds)])
    b.output("out", "m")
    return b


def blocks(n: int) -> NetBuilder:
    """A chain of blocks on which every pass fires in every block."""
    b = _start()
    for i in range(1, n):
        p, c = f"n{i - 1}", f"n{i}"
        b.node(c, width=1)
        b.edge(p, c, "relu", op("conv", kernel=3))  # cse (shared relu), merge_convs
        b.edge(p, c, "relu", op("conv", kernel=1))
        b.edge(p, c, op("batch_norm"), op("conv", kernel=1, padding=0))  # fold_bn
        b.edge(p, c, "identity")  # fold_identity
        b.edge(p, c, "none")  # dead_code
        b.edge(p, c, op("upsample"), op("conv", kernel=1), op("avg_pool", kernel=2))  # commute_upsample
        b.edge(p, c, op("upsample"), op("conv", kernel=3), op("avg_pool", kernel=2))  # subpixel
    b.output("out", f"n{n - 1}")
    return b


def _calls(doc: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> tuple[int, int, list[str]]:
    """Function calls (Python and builtin, counted by a profile hook: deterministic, unlike
    seconds) of (load + analysis + passes, load + analysis + the whole compile_network), and
    the passes that fired. The first leaves out building the reference interpreter (linear,
    but many calls per conv), so a quadratic pass cannot hide behind it."""
    n = {"core": 0, "other": 0}
    where = ["core"]

    def hook(frame: Any, event: str, arg: Any) -> None:
        if event in ("call", "c_call"):
            n[where[0]] += 1

    def counted_passes(*args: Any, **kw: Any) -> Any:
        where[0] = "core"
        try:
            return run_passes(*args, **kw)
        finally:
            where[0] = "other"

    monkeypatch.setattr(pipeline, "run_passes", counted_passes)
    sys.setprofile(hook)
    try:
        info = analyze_genotype(parse_genotype(doc))["generator"]
        where[0] = "other"
        report = compile_network(info).report
    finally:
        sys.setprofile(None)
    fired = [p["name"] for p in report["passes"] if p["fired"]]
    return n["core"], n["core"] + n["other"], fired


@pytest.mark.parametrize("family, n, passes", [
    (chain, 200, {"fold_identity"}),
    (parallel, 200, {"dead_code", "fold_identity", "cse", "merge_convs"}),
    (blocks, 20, {"dead_code", "fold_identity", "commute_upsample", "subpixel", "cse", "merge_convs", "fold_bn"}),
], ids=["chain", "parallel", "blocks"])
def test_compile_work_is_linear_in_graph_size(family: Callable[[int], NetBuilder], n: int, passes: set[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    small, large = (Genotype(generator=family(k).build()).to_dict() for k in (n, 10 * n))
    core_small, all_small, fired = _calls(small, monkeypatch)
    core_large, all_large, fired_large = _calls(large, monkeypatch)
    assert passes <= set(fired) and passes <= set(fired_large), (fired, fired_large)
    for what, a, b in (("load, analysis and passes", core_small, core_large),
                       ("load, analysis and compile", all_small, all_large)):
        assert b / a < RATIO_BOUND, f"{family.__name__} {what}: {10 * n} vs {n}: {b:,} / {a:,} calls = {b / a:.1f}×"
