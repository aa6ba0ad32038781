"""How much larger the next Adam update of a shared weight is after k steps in which the
sampled child did not use it: `--mode faithful` (the official PyTorch 1.1 code: a zero
gradient, so Adam still steps and its second moment v shrinks by β2 per step) against
`--mode clean` (no step). AutoGAN's Adam: lr 2e-4, β = (0, 0.9); with β1 = 0 a zero gradient
moves no weight, only v.

1. Adam alone, one 4096-element tensor: `--warmup` steps of N(0, 1) gradients (v ≈ E[g²],
   bias corrections ≈ 1), then k unused steps, then one step with the same fresh gradient in
   both modes; the ratio of the two updates' norms. In the steady state g² ≈ v the ratio is
   sqrt((β2 + 1 − β2) / (β2^(k+1) + 1 − β2)): 1.05× / 1.26× / 2.19× at k = 1 / 5 / 20.
2. The searcher itself (`AutoGanSearcher._g_step`, tiny preset widths, stage 0): `--warmup`
   G steps on child A, k on child B, one on A; the ratio of the update norms of A's own slots
   (weights B does not use). Both modes see the same weights and gradients (β1 = 0: the
   unused slots do not move in either), so the ratio is Adam's state alone.

    python benchmarks/bench_autogan_unused_adam.py
    python benchmarks/bench_autogan_unused_adam.py --seeds 5 --warmup 200
"""

from __future__ import annotations

import argparse
import statistics

import torch

from gcc_gan.search.config import make_config
from gcc_gan.search.strategies.reinforce import AutoGanSearcher

KS = (1, 5, 20)
ARCH_A, ARCH_B = [0, 1, 0, 1], [1, 1, 0, 0]  # post-act + shortcut vs pre-act, no shortcut


def adam_alone(k: int, warmup: int, seed: int) -> float:
    gen = torch.Generator().manual_seed(seed)
    grads = [torch.randn(4096, generator=gen) for _ in range(warmup + 1)]
    moved = {}
    for faithful in (False, True):
        p = torch.nn.Parameter(torch.zeros(4096))
        opt = torch.optim.Adam([p], lr=2e-4, betas=(0.0, 0.9))
        for g in grads[:warmup]:
            p.grad = g.clone()
            opt.step()
        for _ in range(k if faithful else 0):
            p.grad = torch.zeros_like(p)
            opt.step()
        w = p.detach().clone()
        p.grad = grads[warmup].clone()
        opt.step()
        moved[faithful] = float((p.detach() - w).norm())
    return moved[True] / moved[False]


def _g_step(s: AutoGanSearcher, arch: list[int], z: torch.Tensor) -> None:
    child = s.g.child(arch)
    s._g_step(-s.d(child(z)).mean(), child)


def in_searcher(k: int, warmup: int, seed: int) -> float:
    moved = {}
    for mode in ("clean", "faithful"):
        cfg = make_config("autogan", "tiny", {"mode": mode, "seed": seed})
        s = AutoGanSearcher(cfg, torch.device("cpu"))
        used_b = {id(p) for p in s.g.child(ARCH_B).parameters()}
        own = [p for p in s.g.child(ARCH_A).parameters() if id(p) not in used_b]
        gen = torch.Generator().manual_seed(seed)
        zs = [torch.randn(cfg.g_batch, cfg.latent, generator=gen) for _ in range(warmup + k + 1)]

        for z in zs[:warmup]:
            _g_step(s, ARCH_A, z)
        for z in zs[warmup:warmup + k]:
            _g_step(s, ARCH_B, z)
        w = [p.detach().clone() for p in own]
        _g_step(s, ARCH_A, zs[-1])
        moved[mode] = float(torch.cat([(p.detach() - w0).flatten() for p, w0 in zip(own, w)]).norm())
    return moved["faithful"] / moved["clean"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    b2 = 0.9
    print(f"next update of an unused weight, faithful / clean ({a.seeds} seeds, {a.warmup} warm-up steps)")
    print(f"{'k unused':>9} | {'steady state g² = v':>19} | {'Adam alone':>15} | {'shared G (tiny), A-only slots':>29}")
    for k in KS:
        theory = (1 / (b2 ** (k + 1) + 1 - b2)) ** 0.5
        alone = [adam_alone(k, a.warmup, sd) for sd in range(a.seeds)]
        shared = [in_searcher(k, a.warmup, sd) for sd in range(a.seeds)]

        def fmt(v: list[float]) -> str:
            return f"{statistics.mean(v):.3f} ± {statistics.pstdev(v):.3f}"

        print(f"{k:>9} | {theory:>18.3f}× | {fmt(alone):>14}× | {fmt(shared):>28}×")


if __name__ == "__main__":
    main()
