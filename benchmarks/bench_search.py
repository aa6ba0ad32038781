"""AdversarialNAS search step time: merged mixed ops vs per-candidate mixed ops.

One `AdversarialSearcher` (Algorithm 1: D arch, D weights, G arch, G weights steps), the
same supernet weights, α, batch and random stream for both: each repeat restores the same
snapshot (taken after two warm-up steps), then runs one full search step with the mixed edges evaluated
* "separate": one pipeline per candidate (ReLU recomputed, one conv per candidate), and
* "merged":   ReLU once, the linear candidates as one conv with the weighted sum of
              their zero-padded kernels (dense group 5×5 + dilated group 5×5 d2),
interleaved repeat by repeat so machine noise hits both alike. Prints median times, the
ratio (target ≥ 1.3×) and the largest loss difference (target ≤ 1e-4).

    python benchmarks/bench_search.py                     # gf = df = 32, half-batch 16, 32×32
    python benchmarks/bench_search.py --gf 64 --batch 32 --repeats 7 --threads 2
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import torch

from gcc_gan.search.adv_search import AdversarialSearcher
from gcc_gan.search.config import make_config


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gf", type=int, default=32)
    ap.add_argument("--df", type=int, default=None, help="default: = gf")
    ap.add_argument("--batch", type=int, default=16, help="half-batch (each step reads 2x)")
    ap.add_argument("--bottom", type=int, default=4, help="image size = 8 x bottom")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--sampling", default="soft", choices=("soft", "hard"))
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = make_config("adversarial", "tiny", dict(gf=a.gf, df=a.df or a.gf, batch_size=a.batch, bottom=a.bottom,
                                                  latent=120, iters=1000, sampling=a.sampling))
    s = AdversarialSearcher(cfg, torch.device("cpu"))
    reals = torch.rand(2 * a.batch, 3, cfg.size, cfg.size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    # two real steps first: with Adam's second moments still zero its first update is
    # lr·sign(g), which turns float rounding in near-zero gradients into ±lr weight changes
    for k in range(2):
        s.step(k, reals)
    snap_m = {k: copy.deepcopy(m.state_dict()) for k, m in s.modules().items()}
    snap_o = {k: copy.deepcopy(o.state_dict()) for k, o in s.optimizers().items()}

    def restore() -> None:
        for k, m in s.modules().items():
            m.load_state_dict(snap_m[k])
        for k, o in s.optimizers().items():
            o.load_state_dict(copy.deepcopy(snap_o[k]))

    def run(mode: str) -> tuple[float, dict[str, float]]:
        restore()
        s.set_mode(mode)
        t = time.perf_counter()
        losses = s.step(10, reals)
        return time.perf_counter() - t, losses

    modes = ("separate", "merged")
    for m in modes:  # warm-up
        run(m)
    times: dict[str, list[float]] = {m: [] for m in modes}
    losses: dict[str, dict[str, float]] = {}
    for _ in range(a.repeats):
        for m in modes:
            dt, losses[m] = run(m)
            times[m].append(dt)
    med = {m: statistics.median(v) for m, v in times.items()}
    diffs = {k: abs(losses["merged"][k] - losses["separate"][k]) for k in losses["merged"] if k != "tau"}
    diff = max(diffs.values())
    print(f"AdversarialNAS search step, gf {cfg.gf} df {cfg.df}, half-batch {a.batch}, {cfg.size}x{cfg.size}, "
          f"{a.sampling} sampling, {torch.get_num_threads()} threads, {a.repeats} interleaved repeats")
    for m in modes:
        print(f"  {m:9s} median {med[m] * 1e3:8.1f} ms   (min {min(times[m]) * 1e3:.1f})")
    ratio = med["separate"] / med["merged"]
    ratio_min = min(times["separate"]) / min(times["merged"])
    print(f"  merged is {ratio:.2f}x faster by medians, {ratio_min:.2f}x by minimum times (target >= 1.3x)   "
          f"max |loss difference| {diff:.2e} (target <= 1e-4)")
    print("  losses:", {k: round(v, 6) for k, v in losses["merged"].items()})
    print("  |difference| per loss (in step order; later ones follow weight updates):",
          {k: f"{v:.1e}" for k, v in diffs.items()})


if __name__ == "__main__":
    main()
