"""Data-parallel step throughput: one process vs 2 gloo workers on this machine.

Times full steps of the same global batch (so the same work) in three layouts:
* 1 process, 1 thread;  * 1 process, all cores as torch threads;  * N workers × (cores / N)
threads each (what `--nproc N` starts), for
* an AdversarialNAS search step (Algorithm 1: D arch, D weights, G arch, G weights),
* a DEGAS search step (GLO weights + latents, then α), and
* a GAN training iteration (`GanTrainer.train_step`, zoo:dcgan vs its D, n_critic 1).
Each worker runs warm-up steps, then `--steps` timed steps between barriers; rank 0 reports
the median step time. Prints steps/s and images/s side by side and the speed-up of the
workers over the best single process.

On a machine with 2 cores shared with other jobs, 2 workers can at best match 1 process
with 2 threads: the same arithmetic on the same cores, plus an all-reduce per update and
one Python interpreter per core instead of one. What data parallel buys is more devices
(GPUs, nodes), which one process cannot use.

    python benchmarks/bench_distributed.py                    # tiny-preset sizes, batch 32
    python benchmarks/bench_distributed.py --nproc 2 --steps 10 --gf 32 --batch 64
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch

SRC = Path(__file__).resolve().parents[1] / "src"


def _timed(step: Callable[[int], None], warmup: int, steps: int, barrier: Callable[[], None]) -> float:
    for s in range(warmup):
        step(s)
    times = []
    for s in range(warmup, warmup + steps):
        barrier()
        t = time.perf_counter()
        step(s)
        barrier()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def worker(args: argparse.Namespace) -> dict[str, float]:
    from gcc_gan.compiler.interpreter import Interpreter
    from gcc_gan.distributed import SINGLE, close, from_env, sync_batchnorm
    from gcc_gan.genotype_dsl.zoo import zoo_genotype
    from gcc_gan.search.config import make_config
    from gcc_gan.search.strategies.differentiable import DifferentiableSearcher
    from gcc_gan.train.config import make_config as train_config
    from gcc_gan.train.data import SampleOrder, load_dataset
    from gcc_gan.train.trainer import GanTrainer

    dp = from_env(torch.device("cpu"), 0) if int(os.environ.get("WORLD_SIZE", "1")) > 1 else SINGLE
    barrier = dp.barrier
    res: dict[str, float] = {}
    half = args.batch // 2
    cfg = make_config("adversarial", "tiny", dict(batch_size=half, gf=args.gf, df=args.gf))
    data = load_dataset("synthetic", cfg.size)
    order = SampleOrder(len(data), 0)
    s = DifferentiableSearcher(cfg, torch.device("cpu"))
    s.dp = dp
    for m in s.modules().values():
        sync_batchnorm(m)
    res["adversarial"] = _timed(lambda k: s.step(k, data.batch(dp.shard_halves(order.indices(k * 2 * half, 2 * half)))),
                                args.warmup, args.steps, barrier)

    cfg = make_config("degas", "tiny", dict(batch_size=half))
    dg = DifferentiableSearcher(cfg, torch.device("cpu"))
    dg.dp = dp
    sync_batchnorm(dg.g)
    dg.bind_data(data)
    order_d = SampleOrder(dg.n_items, 0)
    res["degas"] = _timed(lambda k: dg.step(k, torch.from_numpy(order_d.indices(k * 2 * half, 2 * half))),
                          args.warmup, args.steps, barrier)

    tcfg = train_config("tiny", dict(batch_size=args.batch, d_batch_size=args.batch, n_critic=1))
    geno = zoo_genotype("dcgan")
    assert geno.generator is not None and geno.discriminator is not None
    torch.manual_seed(0)
    g, d = Interpreter(geno.generator.scaled(tcfg.width)), Interpreter(geno.discriminator.scaled(tcfg.d_width))
    sync_batchnorm(g)
    sync_batchnorm(d)
    tr = GanTrainer(g, d, geno.generator.inputs[0].dim, tcfg, "cpu", dp=dp)  # type: ignore[union-attr]
    res["train"] = _timed(lambda k: tr.train_step([data.batch(dp.shard(np.arange(args.batch) + k * args.batch))]),
                          args.warmup, args.steps, barrier)
    close(dp)
    return res


def run_layout(nproc: int, threads: int, args: argparse.Namespace) -> dict[str, float]:
    with socket.socket() as sk:
        sk.bind(("127.0.0.1", 0))
        port = sk.getsockname()[1]
    out = Path(f"/tmp/bench_distributed_{os.getpid()}_{nproc}_{threads}.json")
    base = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
            "OMP_NUM_THREADS": str(threads)}
    cmd = [sys.executable, __file__, "--worker", str(out), "--steps", str(args.steps), "--warmup",
           str(args.warmup), "--gf", str(args.gf), "--batch", str(args.batch), "--threads", str(threads)]
    envs = [base] if nproc == 1 else [{**base, "RANK": str(r), "LOCAL_RANK": str(r), "WORLD_SIZE": str(nproc),
                                       "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port)} for r in range(nproc)]
    procs = [subprocess.Popen(cmd, env=e) for e in envs]
    if any(p.wait() != 0 for p in procs):
        raise SystemExit(f"a worker failed ({nproc} × {threads} threads)")
    res = json.loads(out.read_text())
    out.unlink()
    return res  # type: ignore[no-any-return]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--gf", type=int, default=16, help="AdversarialNAS supernet width (gf = df)")
    ap.add_argument("--batch", type=int, default=32, help="global batch (2 search half-batches, or the GAN batch)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker is not None:
        torch.set_num_threads(args.threads)
        res = worker(args)
        if int(os.environ.get("RANK", "0")) == 0:
            args.worker.write_text(json.dumps(res))
        return
    cores = os.cpu_count() or 1
    layouts = [(1, 1), (1, cores), (args.nproc, max(1, cores // args.nproc))]
    results = {lay: run_layout(*lay, args) for lay in layouts}
    print(f"global batch {args.batch} (search: 2 half-batches of {args.batch // 2}), AdversarialNAS gf = df = "
          f"{args.gf}, DEGAS and DCGAN at the tiny preset's sizes; {cores} cores; median of {args.steps} steps\n")
    names = {"adversarial": "AdversarialNAS search step", "degas": "DEGAS search step", "train": "GAN training iter"}
    head = "".join(f"{f'{n} proc × {t} thr':>26}" for n, t in layouts)
    print(f"{'':28}{head}{'speed-up':>10}")
    for k, label in names.items():
        cells = "".join(f"{f'{1 / results[lay][k]:.2f} steps/s ({args.batch / results[lay][k]:.0f} img/s)':>26}"
                        for lay in layouts)
        best1 = min(results[lay][k] for lay in layouts[:2])
        print(f"{label:28}{cells}{best1 / results[layouts[2]][k]:>9.2f}×")


if __name__ == "__main__":
    main()
