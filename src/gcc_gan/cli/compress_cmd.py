"""`gcc-gan compress`: a trained generator to compiled budgets (distillation, search, fine-tuning)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import typer

from ..errors import GccGanError
from ..runlock import hold_for_command
from .app import Preset, app, console, err_console
from .max_memory import check_process, max_memory_option


@app.command("compress")
def compress_cmd(
    teacher: str | None = typer.Argument(None, metavar="GENOTYPE|zoo:NAME|RUN", help=(
        "the teacher: a gcc-gan train run, or a genotype FILE / zoo:NAME with --weights (optional with --resume)")),
    out: Path = typer.Option(..., "-o", "--out", help="output directory"),
    weights: Path | None = typer.Option(None, "--weights", help="the teacher's trained weights: a .safetensors "
                                           "file (gcc-gan import, a searcher's), a training run or checkpoint"),
    width: float | None = typer.Option(None, "--width", help="multiply the teacher genotype's base width by "
                                          "MULT (the width its weights have)"),
    budgets: str | None = typer.Option(None, "--budgets", help="fractions of the teacher's compiled MACs, "
                                          "one student each, e.g. 0.5,0.25,0.1"),
    max_macs: str | None = typer.Option(None, "--max-macs", help="budget: compiled MACs per image, e.g. 800M"),
    max_params: str | None = typer.Option(None, "--max-params", help="budget: stored parameters of the "
                                             "compiled student, e.g. 3M"),
    max_latency: str | None = typer.Option(None, "--max-latency", help="budget: onnxruntime latency at batch 1, "
                                              "e.g. 5ms"),
    data: str | None = typer.Option(None, "--data", help="real images the metric compares with (cifar10:PATH, "
                                       "folder:PATH, digits, synthetic, ...); default: the teacher's own samples"),
    preset: Preset | None = typer.Option(None, "--preset", help="tiny (minutes on a CPU) or paper; default: "
                                            "paper with a GPU, tiny without"),
    iters: int | None = typer.Option(None, "--iters", help="supernet steps"),
    finetune_iters: int | None = typer.Option(None, "--finetune-iters", help="fine-tuning steps of each winner"),
    evaluations: int | None = typer.Option(None, "--evaluations", help="students scored per budget"),
    batch_size: int | None = typer.Option(None, "--batch-size", help="latents per step"),
    num_samples: int | None = typer.Option(None, "--num-samples", help="images per metric evaluation"),
    metric: Literal["swd", "fid", "kid"] | None = typer.Option(None, "--metric", help="swd (default, no "
                                                                  "weights), fid or kid (Inception weights)"),
    inception_weights: str | None = typer.Option(None, "--inception-weights", help="FID Inception weights "
                                                    "for --metric fid|kid (default: $GCC_GAN_INCEPTION, the hub "
                                                    "cache)"),
    no_latency: bool = typer.Option(False, "--no-latency", help="skip the onnxruntime latency columns"),
    seed: int | None = typer.Option(None, "--seed", help="random seed (default 0)"),
    checkpoint_every: int | None = typer.Option(None, "--checkpoint-every", help="supernet steps between "
                                                   "checkpoints"),
    threads: int | None = typer.Option(None, "--threads", help="CPU threads (default: torch's choice; "
                                          "--resume keeps the run's)"),
    resume: bool = typer.Option(False, "--resume", help="continue the run in -o from its last checkpoint"),
    force: bool = typer.Option(False, "--force", help="delete an existing compress run in -o and start over"),
    max_memory: str | None = max_memory_option(),
) -> None:
    """Compress a trained generator to compiled budgets: once-for-all distillation, search, fine-tuning.

    Writes per budget a verified compile directory (DIR/budget-LABEL/) and the comparison
    with the teacher, the same student from scratch and the uniformly narrowed teacher:
    DIR/compress.csv, DIR/quality_vs_macs.png, DIR/report.json, DIR/samples_LABEL.png.
    """
    from ..compiler.cost import parse_count, parse_ms
    from ..compress.plan import CompressRequest, parse_budgets
    from ..compress.run import compress
    from ..presets import resolve_preset

    hold_for_command(out, f"-o {out}")
    check_process("compress")
    if threads is not None and not 1 <= threads <= 1024:
        raise GccGanError(f"--threads {threads}: expected 1 to 1024")
    if not resume:
        choice = resolve_preset(preset, "auto")
        if choice.note:
            err_console.print(choice.note, highlight=False)
        preset = choice.name  # type: ignore[assignment]
    overrides = dict(iters=iters, finetune_iters=finetune_iters, evaluations=evaluations, batch_size=batch_size,
                     num_samples=num_samples, metric=metric, seed=seed, checkpoint_every=checkpoint_every,
                     latency=False if no_latency else None)
    req = CompressRequest(out=out, teacher=teacher, weights=weights, width=width, fractions=parse_budgets(budgets),
                          max_macs=parse_count(max_macs, "--max-macs"), max_params=parse_count(max_params, "--max-params"),
                          max_latency_ms=parse_ms(max_latency, "--max-latency"), data=data, preset=preset,
                          overrides=overrides, inception_weights=inception_weights, threads=threads, resume=resume,
                          force=force)
    doc = compress(req, err_console)
    console.print(f"done → {out}", highlight=False)
    for r in doc["rows"]:
        psnr = "" if r["method"] == "teacher" else f" · PSNR vs teacher {r['psnr_db']:.1f} dB"
        where = f" budget {r['budget']}" if r["budget"] else ""
        console.print(f"  {r['method']}{where}: {r['compiled_macs']:,} compiled MACs · {r['stored_params']:,} params · "
                      f"{r['metric']} {r['value']:.2f}{psnr}", highlight=False)
    console.print(f"  compiled students: {', '.join(str(out / ('budget-' + b['label'])) for b in doc['budgets'])}",
                  highlight=False)
    console.print(f"  table: {out / 'compress.csv'} · plot: {out / 'quality_vs_macs.png'}", highlight=False)
