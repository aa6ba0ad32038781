"""`gcc-gan train`: train a genotype's generator against a discriminator on local data."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import typer

from .app import Device, Preset, app, check_genotypes, console, err_console
from .max_memory import check_process, max_memory_option


@app.command("train")
def train_cmd(
    genotype: Optional[str] = typer.Argument(None, metavar="FILE|zoo:NAME",
                                             help="genotype whose generator to train (optional with --resume)"),
    data: Optional[str] = typer.Option(None, "--data", help="cifar10:PATH, stl10:PATH[?split=train+unlabeled], "
                                       "folder:PATH, lsun:PATH, digits or synthetic (default)"),
    out: Path = typer.Option(..., "-o", "--out", help="run directory"),
    d: Optional[str] = typer.Option(None, "--d", help="discriminator: FILE or zoo:NAME (default: the genotype's "
                                    "own, else zoo:sngan-d)"),
    preset: Optional[Preset] = typer.Option(None, "--preset", help="tiny (minutes on a CPU) or paper (the papers' "
                                            "protocol); default: paper with a GPU, tiny without"),
    iters: Optional[int] = typer.Option(None, "--iters", help="generator iterations (each after n-critic D steps)"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in -o from its last checkpoint"),
    force: bool = typer.Option(False, "--force", help="delete an existing run in -o and start over"),
    width: Optional[float] = typer.Option(None, "--width", help="G width multiplier (D follows unless --d-width)"),
    d_width: Optional[float] = typer.Option(None, "--d-width", help="D width multiplier"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", help="G batch (and D batch unless --d-batch-size)"),
    d_batch_size: Optional[int] = typer.Option(None, "--d-batch-size", help="D batch"),
    n_critic: Optional[int] = typer.Option(None, "--n-critic", help="D steps per G step"),
    loss: Optional[Literal["hinge", "ns", "wgan-gp"]] = typer.Option(None, "--loss", help="hinge (default), "
                                                                     "ns or wgan-gp"),
    lr: Optional[float] = typer.Option(None, "--lr", help="G learning rate (and D's unless --d-lr); default: "
                                      "the preset's (paper 2e-4, tiny 5e-4)"),
    d_lr: Optional[float] = typer.Option(None, "--d-lr", help="D learning rate"),
    lr_decay: Optional[bool] = typer.Option(None, "--lr-decay/--no-lr-decay", help="linear LR decay to 0"),
    ema: Optional[float] = typer.Option(None, "--ema", help="EMA decay of G (0 = off)"),
    seed: Optional[int] = typer.Option(None, "--seed", help="random seed (default 0)"),
    size: Optional[int] = typer.Option(None, "--size", help="image resolution (must match the generator's output)"),
    checkpoint_every: Optional[int] = typer.Option(None, "--checkpoint-every", help="iterations between checkpoints"),
    sample_every: Optional[int] = typer.Option(None, "--sample-every", help="iterations between sample grids"),
    log_every: Optional[int] = typer.Option(None, "--log-every", help="iterations between log rows"),
    device: Device = typer.Option("auto", "--device", help="cpu, cuda or auto"),
    amp: Optional[Literal["auto", "off", "bf16", "fp16"]] = typer.Option(None, "--amp", help="CUDA mixed precision: "
                                                                        "auto, off, bf16, fp16"),
    threads: Optional[int] = typer.Option(None, "--threads", help="CPU threads (default: torch's choice; 1 can "
                                          "be faster on a machine busy with other work)"),
    max_memory: Optional[str] = max_memory_option(),
    nproc: int = typer.Option(1, "--nproc", help="data-parallel workers on this machine: each takes 1/N of every "
                              "batch, results as one process (gloo on CPU, NCCL with one GPU each); under "
                              "torchrun leave it out"),
) -> None:
    """Train FILE|zoo:NAME's generator (GAN training with checkpoints, sample grids, logs).

    Writes RUN/generator.safetensors (EMA weights, canonical layout) for
    `gcc-gan compile RUN/genotype.json --weights RUN/generator.safetensors`.
    """
    from ..presets import resolve_preset

    check_genotypes([s for s in (genotype, d) if s is not None])  # before torch is imported
    check_process("training")
    if nproc != 1:
        from .dist_launch import launch_workers

        launch_workers(nproc, True, "", device)
    if not resume:  # a resumed run keeps its own preset (config.json)
        choice = resolve_preset(preset, device)
        if choice.note:
            err_console.print(choice.note, highlight=False)
        preset = choice.name  # type: ignore[assignment]
    from ..train.run import TrainRequest, train

    lr_d = d_lr if d_lr is not None else lr
    overrides = dict(iters=iters, batch_size=batch_size, d_batch_size=d_batch_size, n_critic=n_critic, loss=loss,
                     lr_g=lr, lr_d=lr_d, lr_decay=lr_decay, ema=ema, width=width, d_width=d_width, seed=seed,
                     checkpoint_every=checkpoint_every, sample_every=sample_every, log_every=log_every, amp=amp)
    req = TrainRequest(out=out, genotype=genotype, data=data, d=d, preset=preset, overrides=overrides, size=size,
                       resume=resume, force=force, device=device, threads=threads)
    res = train(req, console=err_console)
    done = f"resumed at {res.resumed_from}, " if res.resumed_from is not None else ""
    console.print(f"done: {res.step} iterations ({done}{res.seconds:.0f} s) → {res.out}\n"
                  f"  samples: {res.out / 'samples' / 'final.png'}, {res.out / 'real_vs_fake.png'}\n"
                  f"  weights: {res.generator}\n"
                  f"  compile: gcc-gan compile {res.out / 'genotype.json'} --weights {res.generator} -o OUT",
                  highlight=False, soft_wrap=True)
