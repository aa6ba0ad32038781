"""What a budget costs per search step: AdversarialNAS (tiny preset) with `--max-macs` against
the same search without one, side by side in one run.

    python benchmarks/bench_budget.py                        # 30 steps, 3 repeats, --max-macs 400000
    python benchmarks/bench_budget.py --steps 60 --repeats 5 --max-macs 1M

Each repeat builds two fresh searchers (same seed, same batches) and runs them step by step,
interleaved (step s of one, then of the other, the order alternating), so machine noise hits both alike. The
compiled-cost cache is cleared before each repeat, so a repeat pays what a fresh
`gcc-gan search --max-macs` pays: the expected-cost table whenever the derived architecture
changes (the budget's main cost), the penalty every step. Per repeat it prints the summed step
times and their ratio and how many tables were computed, then the median ratio over the
repeats (target ≤ 1.2×) and the median step ratio over the steps that computed no table (the
penalty alone). The budget's one-off costs (derivation with
repair, Pareto bookkeeping at the end) are not steps; `gcc-gan search` timings cover them.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from gcc_gan.compiler import cost as cost_mod
from gcc_gan.compiler.cost import parse_count
from gcc_gan.search.config import make_config
from gcc_gan.search.strategies.differentiable import DifferentiableSearcher
from gcc_gan.train.data import SampleOrder, load_dataset


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-macs", default="400000")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    torch.set_num_threads(1)  # the tiny preset's default (`search --threads`)
    budget = parse_count(args.max_macs, "--max-macs")
    cfgs = {"unbudgeted": make_config("adversarial", "tiny", {"seed": args.seed}),
            "budgeted": make_config("adversarial", "tiny", {"seed": args.seed, "max_macs": budget})}
    cfg = cfgs["unbudgeted"]
    data = load_dataset("synthetic", cfg.size)
    order = SampleOrder(len(data), cfg.seed)
    n = 2 * cfg.batch_size
    batches = [data.batch(order.indices(s * n, n)) for s in range(args.steps)]
    print(f"AdversarialNAS tiny, {args.steps} steps, --max-macs {budget:,}, 1 thread, {args.repeats} repeats")
    ratios, step_ratios = [], []
    for r in range(args.repeats):
        cost_mod._CACHE.clear()  # a fresh run's cost cache
        searchers = {k: DifferentiableSearcher(c, torch.device("cpu")) for k, c in cfgs.items()}
        times: dict[str, list[float]] = {k: [] for k in searchers}
        pen = searchers["budgeted"].penalty
        assert pen is not None
        ec = pen.cost
        assert ec is not None
        fresh: list[bool] = []  # whether the budgeted step computed an expected-cost table
        for s, batch in enumerate(batches):
            n_tables = len(ec._tables)
            for k in (list(searchers) if s % 2 == 0 else list(reversed(searchers))):  # alternate who goes first
                srch = searchers[k]
                t0 = time.perf_counter()
                srch.step(s, batch)
                times[k].append(time.perf_counter() - t0)
            fresh.append(len(ec._tables) > n_tables)
        tot = {k: sum(v) for k, v in times.items()}
        ratios.append(tot["budgeted"] / tot["unbudgeted"])
        plain = [s for s, f in enumerate(fresh) if not f]  # steps that reused a table: the penalty alone
        step_ratios.append(statistics.median([times["budgeted"][s] / times["unbudgeted"][s] for s in plain] or [math.nan]))
        tables = sum(fresh)
        print(f"repeat {r + 1}: unbudgeted {tot['unbudgeted']:.2f} s, budgeted {tot['budgeted']:.2f} s "
              f"({tables} expected-cost tables) -> {ratios[-1]:.3f}x", flush=True)
    print(f"budgeted / unbudgeted step time: median {statistics.median(ratios):.3f}x over {args.repeats} repeats "
          f"(target <= 1.2x); steps without a new table: median {statistics.median(step_ratios):.3f}x")


if __name__ == "__main__":
    main()
