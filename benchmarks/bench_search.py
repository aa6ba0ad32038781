"""AdversarialNAS search step time: merged mixed ops vs per-candidate mixed ops.

One `DifferentiableSearcher` (Algorithm 1: D arch, D weights, G arch, G weights steps), the
same supernet weights, α, batch and random stream for both: each repeat restores the same
snapshot (taken after two warm-up steps), then runs one full search step with the mixed
edges evaluated
* "separate": one pipeline per candidate (ReLU recomputed, one conv per candidate), and
* "merged":   ReLU once, the dense linear candidates (conv 1×1/3×3/5×5, dilated 3×3) as one
              5×5 conv with the weighted sum of their zero-padded kernels; the lone dilated
              5×5 as a dense conv over its polyphase components; output scaled by its weight,
interleaved repeat by repeat so machine noise hits both alike. Prints median times and the
ratio (target ≥ 1.3×).

Equal losses (target ≤ 1e-4) are checked on the same full step run in float64 from the
same (float32) state: there the two forms agree to ~1e-10, losses and every updated
parameter. The float32 steps are also compared with that exact step: the first two losses
agree to ~1e-7, the later ones follow Adam updates, and Adam turns rounding noise in
near-zero gradients (heavily cancelling sums, e.g. the last D cell's biases) into
full-size steps, so both float32 forms drift from the exact step by similar amounts.

    python benchmarks/bench_search.py                     # gf = df = 32, half-batch 16, 32×32
    python benchmarks/bench_search.py --gf 64 --batch 32 --repeats 7 --threads 2
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from typing import Any, Callable

import torch
from torch import Tensor

from gcc_gan.search.config import SearchConfig, make_config
from gcc_gan.search.strategies.differentiable import DifferentiableSearcher

Result = tuple[float, dict[str, float], dict[str, Tensor]]
State = tuple[dict[str, Any], dict[str, Any]]


def make_runner(cfg: SearchConfig, batch: int, dtype: torch.dtype = torch.float32,
                start: State | None = None) -> tuple[Callable[[str], Result], State]:
    """A searcher in `dtype` at state `start` (default: after two warm-up steps, because
    with Adam's second moments still zero its first update is lr·sign(g) for every
    weight), and `run(mode)`: restore that state, run one step in `mode`; (seconds,
    losses, parameters after the step). A float64 runner started from a float32 runner's
    state computes the exact step that the float32 one rounds."""
    def in_dtype(fn: Callable[[], Any]) -> Any:
        prev = torch.get_default_dtype()
        torch.set_default_dtype(dtype)
        try:
            return fn()
        finally:
            torch.set_default_dtype(prev)

    s = in_dtype(lambda: DifferentiableSearcher(cfg, torch.device("cpu")))
    reals = (torch.rand(2 * batch, 3, cfg.size, cfg.size, generator=torch.Generator().manual_seed(0),
                        dtype=torch.float32) * 2 - 1).to(dtype)
    if start is None:
        for k in range(2):
            in_dtype(lambda k=k: s.step(k, reals))
        start = ({k: copy.deepcopy(m.state_dict()) for k, m in s.modules().items()},
                 {k: copy.deepcopy(o.state_dict()) for k, o in s.optimizers().items()})

    def run(mode: str) -> Result:
        for k, m in s.modules().items():
            m.load_state_dict(start[0][k])  # casts to this runner's dtype
        for k, o in s.optimizers().items():
            o.load_state_dict(copy.deepcopy(start[1][k]))
        s.set_mode(mode)
        t = time.perf_counter()
        losses = in_dtype(lambda: s.step(10, reals))
        dt = time.perf_counter() - t
        losses.pop("tau")
        return dt, losses, {f"{k}.{n}": p.detach().clone() for k, m in s.modules().items()
                            for n, p in m.named_parameters()}

    return run, start


def differences(a: Result, b: Result) -> tuple[dict[str, float], float]:
    """(|loss difference| per loss, max |parameter difference| after the step)."""
    losses = {k: abs(a[1][k] - b[1][k]) for k in a[1]}
    return losses, max(float((a[2][k].double() - b[2][k].double()).abs().max()) for k in a[2])


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
    run, start = make_runner(cfg, a.batch)
    modes = ("separate", "merged")
    for m in modes:  # warm-up
        run(m)
    times: dict[str, list[float]] = {m: [] for m in modes}
    last = {}
    for _ in range(a.repeats):
        for m in modes:
            last[m] = run(m)
            times[m].append(last[m][0])
    med = {m: statistics.median(v) for m, v in times.items()}
    print(f"AdversarialNAS search step, gf {cfg.gf} df {cfg.df}, half-batch {a.batch}, {cfg.size}x{cfg.size}, "
          f"{a.sampling} sampling, {torch.get_num_threads()} threads, {a.repeats} interleaved repeats")
    for m in modes:
        print(f"  {m:9s} median {med[m] * 1e3:8.1f} ms   (min {min(times[m]) * 1e3:.1f})")
    ratio = med["separate"] / med["merged"]
    ratio_min = min(times["separate"]) / min(times["merged"])
    print(f"  merged is {ratio:.2f}x faster by medians, {ratio_min:.2f}x by minimum times (target >= 1.3x)")

    run64, _ = make_runner(cfg, a.batch, torch.float64, start)
    exact = {m: run64(m) for m in modes}
    f64, f64_params = differences(exact["merged"], exact["separate"])
    fmt = lambda d: "  ".join(f"{k} {v:.1e}" for k, v in d.items())  # noqa: E731
    print("  |loss difference| per loss, in step order (later ones follow weight updates), and max |parameter "
          "difference| after the step:")
    print(f"    float64 merged vs float64 separate:  {fmt(f64)}   params {f64_params:.1e}")
    worst = {}
    for m in modes:
        d, dp = differences(last[m], exact["separate"])
        worst[m] = max(d.values())
        print(f"    float32 {m:8s} vs exact (float64): {fmt(d)}   params {dp:.1e}")
    print(f"  equal losses: max |difference| {max(f64.values()):.1e} in float64 (target <= 1e-4); in float32 "
          f"the losses after weight updates are off the exact step by up to {worst['separate']:.1e} (separate) "
          f"and {worst['merged']:.1e} (merged): Adam turns rounding in near-zero gradients into full-size steps")


if __name__ == "__main__":
    main()
