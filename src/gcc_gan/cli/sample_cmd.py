"""`gcc-gan sample`: images from a compiled generator, a genotype (+ weights) or a training run."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

import typer
from rich.markup import escape

from .app import app, console
from .max_memory import check_process, max_memory_option


@app.command("sample")
def sample_cmd(
    source: str = typer.Argument(..., metavar="DIR|FILE|zoo:NAME", help=(
        "a gcc-gan compile directory, a gcc-gan train run directory, or a genotype FILE / zoo:NAME "
        "(with --weights; without them the compiler's seeded initialisation)")),
    n: int = typer.Option(..., "-n", "--num", help="number of images"),
    out: Path = typer.Option(..., "-o", "--out", help=(
        "a folder of PNGs (a folder: data spec and torch-fidelity input), an .npz (arr_0: uint8 N×H×W×3) "
        "or a .png grid")),
    weights: Optional[Path] = typer.Option(None, "--weights", help=(
        "generator weights for a genotype: .safetensors (canonical layout) or a gcc-gan train run / checkpoint")),
    seed: int = typer.Option(0, "--seed", help="seed of the latents (np.random.RandomState, as torch-fidelity)"),
    batch_size: int = typer.Option(64, "--batch-size", help="images per forward pass"),
    truncation: Optional[float] = typer.Option(None, "--truncation", help=(
        "truncate the latent normal to [-T, T] (default: none)")),
    backend: Optional[Literal["torch", "onnx"]] = typer.Option(None, "--backend", help=(
        "torch (the compiled module) or onnx (onnxruntime); default: torch, onnx for --precision fp16 / int8")),
    precision: Literal["fp32", "fp16", "int8"] = typer.Option("fp32", "--precision", help=(
        "fp16 or int8 runs generator.fp16.onnx / generator.int8.onnx of a compile directory (gcc-gan compile "
        "--precision) on onnxruntime")),
    width: Optional[float] = typer.Option(None, "--width", help="multiply a genotype's base width by MULT"),
    compiled: bool = typer.Option(False, "--compile", help=(
        "torch backend: torch.compile with frozen weights (needs a C++ compiler; compiling takes from tens of "
        "seconds to minutes, then it runs faster than eager, near onnxruntime on CPU)")),
    force: bool = typer.Option(False, "--force", help="replace an existing output (a folder only if gcc-gan "
                               "sample wrote it)"),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="progress bar on stderr"),
    max_memory: Optional[str] = max_memory_option(),
) -> None:
    """Generate N images: a PNG folder, an .npz or one grid .png; the same --seed gives the same images.
    Memory and disk are estimated before sampling; the folder and the .npz are streamed."""
    from ..runtime.sample_out import check_output, check_sample_args

    check_sample_args(n, batch_size)  # before torch is imported: a bad -o or -n fails at once
    check_output(out, force)
    check_process("sample")
    from ..api import load_generator, save_samples
    from ..runtime.sample import precision_backend_conflict

    why = precision_backend_conflict(precision, backend)
    if why is not None:  # a contradiction on the command line: a usage error
        raise typer.BadParameter(why, param_hint="'--backend'")

    gen = load_generator(source, weights, backend, width, compiled, precision)
    path = save_samples(gen, n, out, seed=seed, batch_size=batch_size, truncation=truncation, force=force,
                        progress=progress)
    c, h, w = gen.image_shape
    console.print(f"wrote {n} images ({h}×{w}, {gen.backend}) → {escape(str(path))}", highlight=False)
