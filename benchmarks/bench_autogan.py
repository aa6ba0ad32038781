"""AutoGAN search costs, side by side in one run (goal: supernet step ≤ 1.15× plain step).

1. Shared-GAN training step: `AutoGanSearcher._shared_step` at stage 2 (controller sample of
   the child, child lookup in the shared generator, D hinge step, G step; Adam over the
   shared G with the unused parameters skipped) against the same step of the same child
   built as a plain module (the reference interpreter of its genotype with its own modules
   and the same weights, its own Adam, a copy of the D): same batch, same latents, interleaved
   repeat by repeat so machine noise hits both alike; a fresh child per repeat (sampled by
   the controller; the plain twin is built outside the timing).
2. Reward evaluation: images/s of the search's reward (the shared-weights child through
   `search.rewards.Reward`) against the bench metric path on the plain module
   (`bench.features.generated_batches` + `bench.swd.swd`, as `gcc-gan bench --metrics swd`).

    python benchmarks/bench_autogan.py                        # tiny and gf 128 / df 64
    python benchmarks/bench_autogan.py --settings tiny --repeats 9 --threads 2
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from typing import Any

import torch
import torch.nn.functional as F

from gcc_gan.bench.features import generated_batches
from gcc_gan.pixels import to_uint8
from gcc_gan.bench.swd import swd
from gcc_gan.compiler.interpreter import Interpreter
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.search.base import adam, apply_grads
from gcc_gan.search.config import make_config
from gcc_gan.search.rewards import resize
from gcc_gan.search.strategies.reinforce import (
    SUB_ARCH,
    SUB_Z_D,
    SUB_Z_G,
    AutoGanSearcher,
)
from gcc_gan.train.data import load_dataset

SETTINGS: dict[str, dict[str, Any]] = {
    "tiny": {},  # the tiny preset: gf = df = 16, 16×16, D batch 16, G batch 32
    "search": dict(gf=128, df=64, latent=128, bottom=4, batch_size=64, g_batch=128),  # official search width
}


def _stage2(s: AutoGanSearcher) -> None:
    """Grow to stage 2 without rewards: fixed prefixes, new controllers."""
    for stage, prefix in ((1, [1, 0, 1, 1]), (2, [1, 0, 1, 1, 1, 0, 0, 1, 1])):
        s.stage = stage
        s.d.stage = stage
        s._new_controller()
        s.prefixes = [{"arch": prefix, "h": [0.0] * s.cfg.hid, "c": [0.0] * s.cfg.hid, "reward": 0.0}]


def bench_step(name: str, over: dict[str, Any], repeats: int) -> None:
    cfg = make_config("autogan", "tiny", {**over, "reset_threshold": -1.0, "reward": "swd"})
    s = AutoGanSearcher(cfg, torch.device("cpu"))
    data = load_dataset("synthetic", cfg.size)
    s.bind_data(data)
    _stage2(s)
    reals = data.batch(torch.arange(2 * cfg.batch_size).numpy())
    times: dict[str, list[float]] = {"supernet": [], "plain": []}

    def plain_step(k: int, g: Interpreter, d: torch.nn.Module, og: Any, od: Any) -> None:
        real = resize(reals[:cfg.batch_size], s.size_at(2))
        with torch.no_grad():
            fake = g(s.randn(real.shape[0], cfg.latent, k, SUB_Z_D))
        d_loss = F.relu(1.0 - d(real)).mean() + F.relu(1.0 + d(fake)).mean()
        apply_grads(d_loss, list(d.parameters()), od)
        g_loss = -d(g(s.randn(cfg.g_batch, cfg.latent, k, SUB_Z_G))).mean()
        apply_grads(g_loss, list(g.parameters()), og)

    for k in range(repeats + 2):  # two warm-ups
        arch, _ = s.sample(s.gen(k, SUB_ARCH))  # the child _shared_step(k) will draw
        child = s.g.child(arch)
        plain = Interpreter(analyze(s.g.network(arch), role="generator"))
        plain.load_state_dict(child.state_dict())
        d = copy.deepcopy(s.d)
        og = adam(list(plain.parameters()), cfg.lr, cfg.beta1, cfg.beta2)
        od = adam(list(d.parameters()), cfg.lr, cfg.beta1, cfg.beta2)
        order = ("supernet", "plain") if k % 2 == 0 else ("plain", "supernet")
        for which in order:
            t = time.perf_counter()
            if which == "supernet":
                s._shared_step(k, 0, reals)
            else:
                plain_step(k, plain, d, og, od)
            if k >= 2:
                times[which].append(time.perf_counter() - t)
    sup, pl = statistics.median(times["supernet"]), statistics.median(times["plain"])
    print(f"[{name}] shared-GAN step (stage 2, {s.size_at(2)}×{s.size_at(2)}, gf {cfg.gf} / df {cfg.df}, "
          f"D batch {cfg.batch_size}, G batch {cfg.g_batch}): supernet {sup * 1e3:.1f} ms, plain child "
          f"{pl * 1e3:.1f} ms, ratio {sup / pl:.3f}× (goal ≤ 1.15×)")

    # reward evaluation: images/s
    n = cfg.reward_images
    arch, _ = s.sample(s.gen(0, SUB_ARCH))
    child = s.g.child(arch)
    plain = Interpreter(analyze(s.g.network(arch), role="generator"))
    plain.load_state_dict(child.state_dict())
    assert s.reward_fn is not None
    s.reward_fn(child, cfg.latent, s.size_at(2), 0)  # real images cached, warm-up
    real = to_uint8(resize(data.batch(s.reward_fn._real_idx), s.size_at(2)))
    rt: dict[str, list[float]] = {"reward": [], "bench": []}
    for k in range(repeats):
        for which in (("reward", "bench") if k % 2 == 0 else ("bench", "reward")):
            t = time.perf_counter()
            if which == "reward":
                a = s.reward_fn(child, cfg.latent, s.size_at(2), k)
            else:
                plain.eval()
                fake = torch.cat(list(generated_batches(plain, [cfg.latent], n, 64, k)))
                b = -swd(fake, real, seed=k).mean
            rt[which].append(time.perf_counter() - t)
        assert abs(a - b) <= 1e-3 * abs(b), (a, b)  # one computation
    r, bb = n / statistics.median(rt["reward"]), n / statistics.median(rt["bench"])
    print(f"[{name}] reward evaluation (-SWD of {n} images): search reward {r:,.0f} images/s, bench metric path "
          f"on the plain module {bb:,.0f} images/s, ratio {bb / r:.3f}×")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--settings", default="tiny,search", help="comma-separated: tiny, search")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} thread(s), CPU")
    for name in args.settings.split(","):
        bench_step(name, SETTINGS[name], args.repeats)


if __name__ == "__main__":
    main()
