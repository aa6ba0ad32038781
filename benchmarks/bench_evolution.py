"""Evolution (NSGA-II over reward and compiled MACs) vs random search, at equal candidate-iterations.

Both strategies run through the same candidate loop (search/candidates.py) with the same
standalone evaluator, rounds, population and training iterations per candidate, so they
spend exactly the same candidate-iterations; only how architectures are proposed differs.
Per space and seed, two figures of the run's healthy candidates:

* front hypervolume: the area dominated by the (swd-real x1e3, compiled MACs) points, both
  minimised, each normalised over every candidate of that space (all strategies and seeds)
  to [0, 1], reference point (1.1, 1.1) (pymoo's HV). Higher is better;
* best reward: the lowest swd-real x1e3 (lower is better).

Printed as mean ± std over the seeds. What the tiny preset can show: whether evolution's
proposals concentrate on the cheap-and-good corner (hypervolume) within a few rounds. What
it cannot: a quality ranking that transfers — a candidate trained for tens of iterations on
synthetic data has an SWD dominated by training noise (the same architecture retrained with
another seed moves by a similar amount as two architectures differ), so "best reward"
differences at this scale are not evidence either way; the paper preset on real data is
where reward differences mean something.

With `--evaluator shared` both strategies score their candidates on one single-path one-shot
supernet (search/evaluators/oneshot.py): the supernet's training draws its paths from a stream
of its own, so at one seed random and evolution search the very same trained weights and a
candidate's score is a deterministic function of its architecture — the reward noise of
standalone training is gone, and the comparison is of the proposals alone (at equal
candidate evaluations).

    python benchmarks/bench_evolution.py                        # 2 spaces x 3 seeds, small
    python benchmarks/bench_evolution.py --seeds 5 --rounds 4 --population 6 --iters 30
    python benchmarks/bench_evolution.py --evaluator shared --spaces adversarialnas,degas --rounds 5 --population 6

(With `--evaluator shared`, random search in the autogan space is AutoGAN's own weight-sharing
baseline on its interleaved schedule, not one-shot: compare one-shot strategies in the
adversarialnas and degas spaces.)
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch


def run(space: str, strategy: str, seed: int, args: argparse.Namespace, root: Path) -> list[dict[str, Any]]:
    from gcc_gan.search.run import SearchRequest, search

    out = root / f"{space}-{strategy}-{seed}"
    over = dict(space=space, strategy=strategy, evaluator=args.evaluator, seed=seed, iters=args.rounds,
                population=args.population, reward="swd", reward_images=args.images, min_diversity=0.0)
    if args.evaluator == "standalone":
        over.update(workers=1, candidate_iters=args.iters)
    else:
        over.update(supernet_iters=args.supernet_iters)
    search(SearchRequest(data=args.data, out=out, device="cpu", threads=1, overrides=over),
           console=__import__("rich.console").console.Console(quiet=True))
    with open(out / "candidates.csv") as f:
        return [r for r in csv.DictReader(f) if r["status"] == "ok"]


def hypervolume(points: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    from pymoo.indicators.hv import HV

    norm = (points - lo) / np.where(hi > lo, hi - lo, 1.0)
    return float(HV(ref_point=np.array([1.1, 1.1]))(norm))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spaces", default="adversarialnas,autogan")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--population", type=int, default=4)
    ap.add_argument("--iters", type=int, default=10, help="training iterations per candidate")
    ap.add_argument("--images", type=int, default=64, help="images per SWD reward")
    ap.add_argument("--data", default="synthetic?n=256")
    ap.add_argument("--evaluator", choices=("standalone", "shared"), default="standalone",
                    help="train each candidate, or score it on one one-shot supernet per seed")
    ap.add_argument("--supernet-iters", type=int, default=300, help="--evaluator shared: the supernet's steps")
    args = ap.parse_args()
    if args.evaluator == "shared" and "autogan" in args.spaces.split(","):
        ap.error("--evaluator shared: random x autogan on shared weights is AutoGAN's own baseline, not one-shot; "
                 "use --spaces adversarialnas,degas")
    torch.set_num_threads(1)
    if args.evaluator == "standalone":
        spend = args.rounds * args.population * args.iters
        print(f"equal budget per run: {args.rounds} rounds x {args.population} candidates x {args.iters} iterations "
              f"= {spend} candidate-iterations (repeated architectures are not retrained: fewer for both alike)")
    else:
        print(f"equal budget per run: one supernet ({args.supernet_iters} steps, the same weights for both "
              f"strategies at a seed), then {args.rounds} rounds x {args.population} candidates scored on it")
    with tempfile.TemporaryDirectory() as tmp:
        for space in args.spaces.split(","):
            res: dict[str, list[list[dict[str, Any]]]] = {"random": [], "evolution": []}
            t0 = time.perf_counter()
            for seed in range(args.seeds):
                for strat in res:
                    res[strat].append(run(space, strat, seed, args, Path(tmp)))
            pts = {s: [np.array([[float(r["score"]), float(r["compiled_macs"])] for r in rows]) for rows in runs]
                   for s, runs in res.items()}
            allp = np.concatenate([p for runs in pts.values() for p in runs])
            lo, hi = allp.min(0), allp.max(0)
            print(f"\n{space} ({time.perf_counter() - t0:.0f} s, {args.seeds} seeds):")
            print(f"  {'strategy':<10} {'hypervolume':>17} {'best swd-real x1e3':>22} {'healthy':>8} "
                  f"{'MACs range (M)':>16}")
            for s, runs in pts.items():
                hv = [hypervolume(p, lo, hi) for p in runs]
                best = [float(p[:, 0].min()) for p in runs]
                n = sum(len(p) for p in runs)
                macs = np.concatenate(runs)[:, 1] / 1e6
                print(f"  {s:<10} {statistics.mean(hv):>8.3f} ± {statistics.stdev(hv) if len(hv) > 1 else 0:<6.3f} "
                      f"{statistics.mean(best):>12.1f} ± {statistics.stdev(best) if len(best) > 1 else 0:<7.1f} "
                      f"{n:>8} {macs.min():>7.2f}-{macs.max():<7.2f}")
    if args.evaluator == "standalone":
        print("\nThe tiny setting shows where each strategy's proposals fall in (quality, compiled MACs); its SWDs "
              "after a few dozen training iterations are mostly training noise, so a best-reward difference here is "
              "not evidence that either strategy finds better GANs.")
    else:
        print("\nOn one supernet a candidate's score is a deterministic function of its architecture, so these "
              "compare the proposals alone; whether a small supernet's ranking transfers to the architectures "
              "retrained from scratch is a separate question the tiny setting cannot answer.")


if __name__ == "__main__":
    main()
