"""IR → IR rewrites. Each pass is a small module with `run(g: IRGraph) -> bool` (did it
fire) that keeps the network's outputs identical (≤ 1e-5, checked against the reference
interpreter by the property tests)."""

from __future__ import annotations

import time
from typing import Any, Callable

from ..ir import IRGraph

Pass = Callable[[IRGraph], bool]


def pipeline() -> list[tuple[str, Pass]]:
    from . import commute_upsample, cse, dead_code, fold_bn, fold_identity, merge_convs, subpixel

    return [
        ("dead_code", dead_code.run),
        ("fold_identity", fold_identity.run),
        ("commute_upsample", commute_upsample.run),
        ("subpixel", subpixel.run),
        ("cse", cse.run),
        ("merge_convs", merge_convs.run),
        ("fold_bn", fold_bn.run),
        ("cleanup", lambda g: dead_code.run(g) | fold_identity.run(g)),
    ]


def run_passes(g: IRGraph, only: list[str] | None = None, *, trace: bool = True) -> list[dict[str, Any]]:
    """Run the passes in order (or just those named in `only`), logging MACs after each.
    `trace=False` (the cost model, which runs this thousands of times in a budgeted
    search): no log and no consistency check between passes — the same rewrites."""
    log = []
    for name, fn in pipeline():
        if only is not None and name not in only:
            continue
        if not trace:
            fn(g)
            continue
        t0 = time.perf_counter()
        fired = fn(g)
        g.check()
        log.append({"name": name, "fired": bool(fired), "macs_after": g.macs,
                    "wall_s": round(time.perf_counter() - t0, 6)})
    return log
