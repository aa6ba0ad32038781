"""DGGAN candidate throughput, side by side in one run (goal: 2 workers ≥ 1.7× one on 2 cores).

The same batch of children (the tiny preset's: grown from one trained base candidate by
G-conv, D-conv and FADE actions, 40 WGAN-GP iterations each from inherited weights, scored
by SWD on 128 samples) is trained through the executor three times: local processes with 1
worker, with 2 workers, and a local Ray with 2 workers. Candidates per minute count the
batch's wall time with the workers already up and warm (one 1-iteration job each first;
start-up incl. that warm-up is reported separately); the
trained weights of every child are checked byte-identical across the three.

    python benchmarks/bench_dggan.py                 # 8 children
    python benchmarks/bench_dggan.py --children 12 --iters 40
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from rich.console import Console

from gcc_gan.executor import make_executor
from gcc_gan.executor.base import Job
from gcc_gan.search.config import make_config
from gcc_gan.search.spaces.dggan import Action, actions, base_pair, grow
from gcc_gan.search.strategies.growth import GrowthSearcher, train_candidate
from gcc_gan.seeding import mix_seed


def _specs(root: Path, n: int, iters: int) -> list[dict[str, Any]]:
    cfg = make_config("dggan", "tiny", dict(reward="swd", child_iters=iters))
    gs = GrowthSearcher(cfg, torch.device("cpu"))
    gs.bind_run(root, "synthetic", Console(stderr=True))
    g, d = base_pair(cfg.d0, cfg.dg_channels, cfg.latent)
    base = {"id": "c0", "parent": None, "seed": mix_seed(0, 0, 0)}
    train_candidate(gs.job_spec(base, g, d, cfg.init_iters))
    acts = actions(cfg.dg_kernels, cfg.dg_filters)
    picks = [acts[(i * 5) % len(acts)] for i in range(n - 1)] + [Action("FADE")]
    specs = []
    for i, a in enumerate(picks):
        cg, cd = grow(g, d, a, cfg.dg_channels)
        c = {"id": f"k{i:02d}", "parent": "c0", "seed": mix_seed(0, 1, i)}
        specs.append(gs.job_spec(c, cg, cd, cfg.child_iters))
    return specs


def _run(name: str, workers: int, specs: list[dict[str, Any]], out: Path) -> tuple[float, float, list[str]]:
    ex = make_executor(name, workers, retries=0, console=Console(stderr=True, quiet=True))
    jobs = [Job(s["id"], train_candidate, ({**s, "dir": str(out / s["id"])},)) for s in specs]
    warm = [Job(f"warm{i}", train_candidate, ({**specs[0], "iters": 1, "reward_images": 2,
                                               "dir": str(out / f"warm{i}")},)) for i in range(workers)]
    t0 = time.perf_counter()
    with ex.session():
        ex.run(warm, progress=False)  # every worker up, torch imported, data loaded
        t1 = time.perf_counter()
        res = ex.run(jobs, progress=False)
        wall = time.perf_counter() - t1
    assert all(r.ok for r in res), [r.error for r in res if not r.ok]
    return t1 - t0, wall, [r.value["sha256"] for r in res]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--children", type=int, default=8)
    ap.add_argument("--iters", type=int, default=40)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        specs = _specs(root, a.children, a.iters)
        rows = []
        for name, workers in (("local", 1), ("local", 2), ("ray", 2)):
            start, wall, digests = _run(name, workers, specs, root / f"{name}{workers}")
            rows.append((f"{name}, {workers} worker{'s' * (workers > 1)}", start, wall, digests))
        same = all(r[3] == rows[0][3] for r in rows)
        base = rows[0][2]
        print(f"DGGAN tiny children ({a.children} × {a.iters} WGAN-GP iterations + SWD reward on 128 samples)")
        print(f"{'executor':<18}{'start-up s':>11}{'batch s':>9}{'cand./min':>11}{'vs 1 worker':>13}")
        for label, start, wall, _ in rows:
            print(f"{label:<18}{start:>11.1f}{wall:>9.1f}{60 * a.children / wall:>11.1f}{base / wall:>12.2f}×")
        import os

        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the end (shared machine)")
        print(f"weights byte-identical across executors: {'yes' if same else 'NO'} "
              f"({hashlib.sha256(''.join(rows[0][3]).encode()).hexdigest()[:12]})")


if __name__ == "__main__":
    main()
