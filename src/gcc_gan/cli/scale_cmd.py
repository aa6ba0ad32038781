"""`gcc-gan scale`: the size-scaling study (train each genotype at several generator sizes
against one fixed discriminator, evaluate IS / FID, plot the curves)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Literal, Optional

import typer
from rich.table import Table

from .app import Device, Preset, app, check_genotypes, console, err_console
from .max_memory import check_process, max_memory_option


@app.command("scale")
def scale_cmd(
    genotypes: List[str] = typer.Argument(None, metavar="FILE|zoo:NAME...", help="genotypes whose generators to scale"),
    sizes: str = typer.Option(..., "--sizes", help="target generator sizes in millions of parameters, e.g. 1,2,4,8,16,25"),
    out: Path = typer.Option(..., "-o", "--out", help="output directory (results.csv, plots, state, runs/)"),
    data: str = typer.Option("synthetic", "--data", help="training (and FID real) data: cifar10:PATH, stl10:PATH, "
                             "folder:PATH, lsun:PATH, digits or synthetic"),
    d: str = typer.Option("zoo:sngan-d", "--d", help="the fixed discriminator every candidate trains against"),
    preset: Optional[Preset] = typer.Option(None, "--preset", help="tiny (smoke run: 20 iterations, batch 16) or "
                                            "paper (the papers' protocol); default: paper with a GPU, tiny without"),
    iters: Optional[int] = typer.Option(None, "--iters", help="generator iterations per candidate (overrides the preset)"),
    seed: int = typer.Option(0, "--seed", help="training seed, the same for every candidate"),
    executor: Literal["local", "ray"] = typer.Option("local", "--executor",
                                                     help="local (processes on this machine) or ray"),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (default: start Ray locally)"),
    workers: Optional[int] = typer.Option(None, "--workers", help="candidates in parallel (default 1-2 here)"),
    threads: Optional[int] = typer.Option(None, "--threads", help="torch threads per candidate (default: cores / "
                                          "workers; 1 can be faster on a busy machine)"),
    retries: int = typer.Option(1, "--retries", help="extra attempts for a candidate that crashes"),
    num_samples: Optional[int] = typer.Option(None, "--num-samples", help="generated (and real) samples for IS / FID "
                                              "(default 50000; 100 with --preset tiny)"),
    inception_weights: Optional[str] = typer.Option(None, "--inception-weights", help="FID Inception weights file "
                                                    "(else $GCC_GAN_INCEPTION or the torch hub cache)"),
    allow_random_inception: bool = typer.Option(False, "--allow-random-inception", help="without Inception weights, "
                                                "evaluate with RANDOM ones (smoke runs; NOT comparable with papers)"),
    resume: bool = typer.Option(False, "--resume", help="continue the sweep in -o; completed candidates are kept"),
    device: Device = typer.Option("auto", "--device", help="cpu, cuda or auto (for each candidate)"),
    search: Optional[Literal["adversarial", "degas", "autogan", "dggan", "random"]] = typer.Option(
        None, "--search", help="also search a generator at each size (gcc-gan search --method METHOD --max-params "
        "SIZE, same --data / --preset / --seed) and train it there: the 'search at that size' curve"),
    max_memory: Optional[str] = max_memory_option(),
) -> None:
    """Train FILE|zoo:NAME... at each of --sizes (width fitted to the size) against one
    fixed discriminator; write results.csv, is_vs_size.png and fid_vs_size.png."""
    genotypes = list(genotypes or [])
    check_genotypes([*genotypes, d])  # before torch is imported
    check_process("sweep")
    from ..presets import resolve_preset
    from ..scale import ScaleRequest, parse_sizes, run_scale
    from ..scale.sweep import saved_preset

    if resume and preset is None:  # a resumed sweep keeps its own preset (state.json)
        preset = saved_preset(out)  # type: ignore[assignment]
    else:
        choice = resolve_preset(preset, device)
        if choice.note:
            err_console.print(choice.note, highlight=False)
        preset = choice.name  # type: ignore[assignment]
    req = ScaleRequest(genotypes=list(genotypes), sizes=parse_sizes(sizes), out=out, data=data, d=d, preset=preset,
                       iters=iters, seed=seed, executor=executor, address=address, workers=workers, threads=threads,
                       retries=retries,
                       num_samples=num_samples, inception_weights=inception_weights,
                       allow_random_inception=allow_random_inception, resume=resume, device=device,
                       progress=True, search=search)
    res = run_scale(req, console=err_console)
    t = Table(title=f"size scaling → {res.out}")
    for col in ("genotype", "target M", "width ×", "params M", "MACs G", "IS", "FID", "status", "wall s"):
        t.add_column(col, justify="left" if col in ("genotype", "status") else "right")

    def num(v: object, f: str) -> str:
        return "—" if v is None else format(v, f)

    for r in res.rows:
        t.add_row(str(r["genotype"]), f"{r['target_m']:g}", f"{r['width_mult']:.4g}", f"{r['params'] / 1e6:.3f}",
                  f"{r['macs'] / 1e9:.3f}", num(r.get("is"), ".3f"), num(r.get("fid"), ".2f"),
                  str(r["status"]) + (f": {r['error']}" if r.get("error") else ""), num(r.get("wall_s"), ".1f"))
    console.print(t)
    failed = [r["key"] for r in res.rows if r["status"] != "ok"]
    console.print(f"wrote {res.out / 'results.csv'}, {res.out / 'is_vs_size.png'}, {res.out / 'fid_vs_size.png'}"
                  + (f"; {len(failed)} candidate(s) FAILED: {', '.join(failed)}" if failed else ""), highlight=False)
    if failed:
        raise typer.Exit(1)
