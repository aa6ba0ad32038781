"""Training throughput: gcc-gan's trainer step vs a straightforward hand-written loop.

Both train the same models from the same initial weights on the same real batches:
zoo:autogan-a's generator against zoo:sngan-d (hinge loss, Adam lr 2e-4 betas (0, 0.9),
EMA of G), at batch 64 on CPU by default. Repeats are interleaved (trainer, hand,
trainer, hand, ...) so both see the same machine load; the ratio of medians is printed.
Full width is slow on a 2-core CPU: use --width (e.g. 0.25) and few iterations.

    python benchmarks/bench_train.py --width 0.25 --iters 3 --repeats 5

images/s = real images the discriminator sees per second (n_critic × D batch per iteration).
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from gcc_gan.compiler.interpreter import Interpreter
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.zoo import zoo_genotype
from gcc_gan.train.config import TrainConfig
from gcc_gan.train.data import load_dataset
from gcc_gan.train.trainer import GanTrainer


def hand_loop(g: torch.nn.Module, d: torch.nn.Module, g_ema: torch.nn.Module, latent: int, batch: int,
              n_critic: int, ema: float = 0.999):
    """The loop as commonly written (AutoGAN's train_derived.py style)."""
    opt_g = torch.optim.Adam(g.parameters(), lr=2e-4, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(d.parameters(), lr=2e-4, betas=(0.0, 0.9))
    ema_params = list(g_ema.parameters())

    def step(reals: list[torch.Tensor]) -> None:
        for real in reals:
            z = torch.randn(real.shape[0], latent)
            fake = g(z).detach()
            d_loss = F.relu(1.0 - d(real)).mean() + F.relu(1.0 + d(fake)).mean()
            opt_d.zero_grad()
            d_loss.backward()
            opt_d.step()
        z = torch.randn(batch, latent)
        g_loss = -d(g(z)).mean()
        opt_g.zero_grad()
        g_loss.backward()
        opt_g.step()
        with torch.no_grad():
            for pe, p in zip(ema_params, g.parameters(), strict=True):
                pe.mul_(ema).add_(p, alpha=1 - ema)

    return step


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--g", default="zoo:autogan-a")
    ap.add_argument("--d", default="zoo:sngan-d")
    ap.add_argument("--width", type=float, default=0.25, help="width multiplier of both networks (1 = published)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--n-critic", type=int, default=1)
    ap.add_argument("--iters", type=int, default=3, help="iterations per timed repeat")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)

    gnet = zoo_genotype(a.g[4:]).generator.scaled(a.width)  # type: ignore[union-attr]
    dnet = zoo_genotype(a.d[4:]).discriminator.scaled(a.width)  # type: ignore[union-attr]
    gi, di = analyze(gnet), analyze(dnet)
    latent = next(iter(gi.input_shapes.values()))[0]
    torch.manual_seed(0)
    init_g, init_d = Interpreter(gi).state_dict(), Interpreter(di).state_dict()

    def models() -> tuple[Interpreter, Interpreter, Interpreter]:
        g, d, e = Interpreter(gi), Interpreter(di), Interpreter(gi)
        g.load_state_dict(init_g), d.load_state_dict(init_d), e.load_state_dict(init_g)
        return g, d, e

    cfg = TrainConfig(batch_size=a.batch, d_batch_size=a.batch, n_critic=a.n_critic, lr_decay=False)
    g, d, e = models()
    trainer = GanTrainer(g, d, latent, cfg, "cpu", g_ema=e)
    hg, hd, he = models()
    hand = hand_loop(hg.train(), hd.train(), he, latent, a.batch, a.n_critic)

    data = load_dataset("synthetic?n=1024", 32)
    reals = [data.batch(torch.randint(0, 1024, (a.batch,)).numpy()) for _ in range(a.n_critic)]
    print(f"G {a.g} ({gi.params / 1e6:.2f} M params, {gi.macs / 1e6:.0f} M MACs/img) vs D {a.d} "
          f"({di.params / 1e6:.2f} M, {di.macs / 1e6:.0f} M MACs/img) at width ×{a.width}, batch {a.batch}, "
          f"n_critic {a.n_critic}, {torch.get_num_threads()} threads")
    trainer.train_step(reals), hand(reals)  # warm-up (allocator, oneDNN primitives)
    per_iter = a.n_critic * a.batch
    t_tr: list[float] = []
    t_hand: list[float] = []
    for r in range(a.repeats):
        for fn, acc in ((lambda: trainer.train_step(reals), t_tr), (lambda: hand(reals), t_hand)):
            t = time.perf_counter()
            for _ in range(a.iters):
                fn()
            acc.append(a.iters * per_iter / (time.perf_counter() - t))
        print(f"  repeat {r + 1}: gcc-gan {t_tr[-1]:.1f} img/s, hand-written {t_hand[-1]:.1f} img/s", flush=True)
    m_tr, m_hand = statistics.median(t_tr), statistics.median(t_hand)
    print(f"training images/s (median of {a.repeats}): gcc-gan trainer {m_tr:.1f}, hand-written loop {m_hand:.1f}; "
          f"ratio trainer/hand = {m_tr / m_hand:.2f}×")


if __name__ == "__main__":
    main()
