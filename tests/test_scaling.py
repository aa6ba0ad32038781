"""Loading, validation, analysis and every compiler pass are linear in the graph size
(issue 10: a 20,000-node chain took over 120 s to compile). Each family of graphs is
compiled (passes only, no export) at n and 10·n side by side; the time ratio must stay
far below the ~100× of quadratic behaviour (bound 30×, best of 5 / 2 runs)."""

from __future__ import annotations

import gc
import time
from typing import Any, Callable

import pytest

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


def _times(doc: dict[str, Any], repeats: int) -> tuple[float, float, list[str]]:
    """Best of `repeats`: (load + analysis + passes, load + analysis + the whole
    compile_network) in seconds, and the passes that fired. The first leaves out building
    the reference interpreter (linear, but costly per conv), so a quadratic pass cannot hide
    behind it. The garbage collector is paused while timing: its full collections grow with
    the number of live objects and made the ratio noisy on a loaded machine."""
    best_core = best_all = float("inf")
    fired: list[str] = []
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            t0 = time.perf_counter()
            g = parse_genotype(doc)
            info = analyze_genotype(g)["generator"]
            t1 = time.perf_counter()
            report = compile_network(info).report
            t2 = time.perf_counter()
        finally:
            gc.enable()
        passes = sum(p["wall_s"] for p in report["passes"])
        best_core = min(best_core, t1 - t0 + passes)
        best_all = min(best_all, t2 - t0)
        fired = [p["name"] for p in report["passes"] if p["fired"]]
    return best_core, best_all, fired


@pytest.mark.parametrize("family, n, passes", [
    (chain, 200, {"fold_identity"}),
    (parallel, 200, {"dead_code", "fold_identity", "cse", "merge_convs"}),
    (blocks, 20, {"dead_code", "fold_identity", "commute_upsample", "subpixel", "cse", "merge_convs", "fold_bn"}),
], ids=["chain", "parallel", "blocks"])
def test_compile_time_is_linear_in_graph_size(family: Callable[[int], NetBuilder], n: int, passes: set[str]) -> None:
    small, large = (Genotype(generator=family(k).build()).to_dict() for k in (n, 10 * n))
    core_small, all_small, fired = _times(small, repeats=5)  # cheap: more repeats, a steadier minimum
    core_large, all_large, fired_large = _times(large, repeats=2)
    assert passes <= set(fired) and passes <= set(fired_large), (fired, fired_large)
    for what, a, b in (("load, analysis and passes", core_small, core_large),
                       ("load, analysis and compile", all_small, all_large)):
        assert b / a < RATIO_BOUND, f"{family.__name__} {what}: {10 * n} vs {n}: {b:.2f} s / {a:.3f} s = {b / a:.1f}×"
