"""One AdversarialNAS step, one DEGAS step and one trainer iteration, in float64, as a
single process or as one rank of a data-parallel group (tests/test_distributed.py runs
this file as 2 gloo workers: `python tests/dist_steps.py OUT`, with torchrun's variables)."""

from __future__ import annotations

import sys

import numpy as np
import torch

from gcc_gan.compiler.interpreter import Interpreter
from gcc_gan.distributed import DataParallel, sync_batchnorm
from gcc_gan.genotype_dsl.zoo import zoo_genotype
from gcc_gan.search.config import make_config
from gcc_gan.train.config import make_config as train_config
from gcc_gan.train.data import load_dataset
from gcc_gan.train.trainer import GanTrainer


def _state(prefix: str, modules: dict[str, torch.nn.Module]) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}.{n}": v.detach().clone() for k, m in modules.items() for n, v in m.state_dict().items()}


def _alphas(prefix: str, modules: dict[str, torch.nn.Module]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in _state(prefix, modules).items() if ".alphas." in k}


def run_steps(dp: DataParallel) -> dict[str, torch.Tensor]:
    torch.set_default_dtype(torch.float64)
    torch.set_num_threads(1)
    out: dict[str, torch.Tensor] = {}
    from gcc_gan.search.strategies.differentiable import DifferentiableSearcher

    cfg = make_config("adversarial", "tiny", dict(batch_size=4, gf=4, df=4, latent=8, bottom=2))
    data = load_dataset("synthetic", cfg.size)
    s = DifferentiableSearcher(cfg, torch.device("cpu"))
    s.dp = dp
    for m in s.modules().values():
        sync_batchnorm(m)
    idx = np.arange(2 * cfg.batch_size) * 3
    reals = data.batch(dp.shard_halves(idx)).to(torch.float64)
    out.update(_alphas("init.adv", s.modules()))  # to show the step moved them
    losses = s.step(0, reals)
    out.update(_state("adv", s.modules()))
    out.update({f"adv.loss.{k}": torch.tensor(v) for k, v in losses.items()})

    cfg = make_config("degas", "tiny", dict(batch_size=4, gf=4, latent=8, bottom=2, n_images=16))
    d = DifferentiableSearcher(cfg, torch.device("cpu"))
    d.dp = dp
    sync_batchnorm(d.g)
    d.bind_data(load_dataset("synthetic", cfg.size))
    idx = np.array([3, 0, 7, 12, 5, 9, 1, 15])
    out.update(_alphas("init.degas", d.modules()))
    losses = d.step(0, torch.from_numpy(idx))  # DEGAS takes the global indices and shards them
    out.update(_state("degas", d.modules()))
    out.update({f"degas.loss.{k}": torch.tensor(v) for k, v in losses.items()})

    tcfg = train_config("tiny", dict(batch_size=4, d_batch_size=4, n_critic=2, width=0.125, ema=0.9))
    geno = zoo_genotype("dcgan")
    assert geno.generator is not None and geno.discriminator is not None
    torch.manual_seed(0)
    g, dd = Interpreter(geno.generator.scaled(0.125)), Interpreter(geno.discriminator.scaled(0.125))
    ema = Interpreter(geno.generator.scaled(0.125))
    sync_batchnorm(g)
    sync_batchnorm(dd)
    tr = GanTrainer(g, dd, geno.generator.inputs[0].dim, tcfg, "cpu", g_ema=ema, dp=dp)  # type: ignore[union-attr]
    data = load_dataset("synthetic", 32)
    reals = [data.batch(dp.shard(np.arange(4) + 4 * k)).to(torch.float64) for k in range(2)]
    res = tr.train_step(reals)
    out.update(_state("train", {"g": tr.g, "d": tr.d, "ema": tr.g_ema}))
    out["train.loss.d"], out["train.loss.g"] = res.d_loss.reshape(()), res.g_loss.reshape(())
    return out


if __name__ == "__main__":
    from safetensors.torch import save_file

    from gcc_gan.distributed import close, from_env

    dp = from_env(torch.device("cpu"), 0)
    res = run_steps(dp)
    if dp.main:
        save_file({k: v.contiguous() for k, v in res.items()}, sys.argv[1])
    close(dp)
