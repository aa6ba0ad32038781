"""gcc-gan compress at equal image-iterations, over seeds (mean ± std): the distilled student
against the same architecture trained from scratch (a GAN), against the same architecture
distilled alone from the teacher's slices (no supernet: what the search found, apart from
the once-for-all training) and against the teacher uniformly narrowed to the student's
compiled MACs (distilled alone the same way), on the metric
(SWD ×10³ against --data or the teacher's own samples; lower is better) and on PSNR against
the teacher on the same latents.

Each seed is one whole `gcc-gan compress` run (supernet, search, fine-tune, compile, the two
baselines) through the Python API, on the same teacher; only the seed differs.

    python benchmarks/bench_compress.py RUN                       # a gcc-gan train run, tiny preset, 3 seeds
    python benchmarks/bench_compress.py RUN --budgets 0.5,0.25 --iters 300 --seeds 0,1,2 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from gcc_gan.compress.plan import CompressRequest, parse_budgets
from gcc_gan.compress.run import compress
from gcc_gan.console import stderr_console


def _fmt(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.2f}"
    return f"{statistics.mean(values):.2f} ± {statistics.stdev(values):.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("teacher", help="a gcc-gan train run (or a genotype with --weights)")
    ap.add_argument("--weights", type=Path, default=None)
    ap.add_argument("--width", type=float, default=None)
    ap.add_argument("--budgets", default="0.5,0.25")
    ap.add_argument("--data", default=None)
    ap.add_argument("--preset", default="tiny")
    ap.add_argument("--iters", type=int, default=None)
    ap.add_argument("--finetune-iters", type=int, default=None)
    ap.add_argument("--evaluations", type=int, default=None)
    ap.add_argument("--num-samples", type=int, default=None)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    seeds = [int(s) for s in args.seeds.split(",")]
    rows: list[dict] = []
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:
            req = CompressRequest(out=Path(tmp) / f"seed{seed}", teacher=args.teacher, weights=args.weights,
                                  width=args.width, fractions=parse_budgets(args.budgets), data=args.data,
                                  preset=args.preset, threads=args.threads,
                                  overrides=dict(iters=args.iters, finetune_iters=args.finetune_iters,
                                                 evaluations=args.evaluations, num_samples=args.num_samples,
                                                 seed=seed, latency=False))
            doc = compress(req, stderr_console())
            rows += [{**r, "seed": seed} for r in doc["rows"]]
    metric = rows[0]["metric"]
    teacher = [r["value"] for r in rows if r["method"] == "teacher"]
    print(f"\ngcc-gan compress, {args.teacher}, preset {args.preset}, seeds {seeds} "
          f"({time.perf_counter() - t0:.0f} s, {args.threads} thread(s))")
    print(f"teacher: {metric} {_fmt(teacher)}")
    print(f"{'budget':>7}  {'method':<10} {'compiled MACs':>14} {'image-iters':>11}  {metric + ' (lower better)':>22}"
          f"  {'PSNR vs teacher (dB)':>20}")
    for label in dict.fromkeys(r["budget"] for r in rows if r["budget"]):
        for method in ("distilled", "alone", "narrowed", "scratch"):
            mine = [r for r in rows if r["budget"] == label and r["method"] == method]
            if not mine:
                continue
            macs = _fmt([float(r["compiled_macs"]) / 1e6 for r in mine]) + " M"
            print(f"{label:>7}  {method:<10} {macs:>14} {mine[0]['image_iterations']:>11}  "
                  f"{_fmt([r['value'] for r in mine]):>22}  {_fmt([r['psnr_db'] for r in mine]):>20}")
        d = {m: [r for r in rows if r["budget"] == label and r["method"] == m]
             for m in ("distilled", "alone", "narrowed", "scratch")}
        for other in ("alone", "narrowed", "scratch"):
            if d[other]:
                wins = sum(a["value"] < b["value"] for a, b in zip(d["distilled"], d[other]))
                print(f"{'':>7}  distilled better than {other} on {metric} in {wins} of {len(d[other])} seeds")


if __name__ == "__main__":
    main()
