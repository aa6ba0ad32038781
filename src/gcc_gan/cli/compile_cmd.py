"""`gcc-gan compile` (genotype → standalone source, safetensors, ONNX, .pt2, report) and
`gcc-gan import` (published reference checkpoint → canonical-layout safetensors)."""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from typing import Any, List, Literal, Optional

import typer
from rich.markup import escape

from ..console import progress
from ..errors import GccGanError
from ..runlock import hold_for_command
from .app import app, console, err_console, refuse_overwrite
from .max_memory import max_memory_option


def _fmt_int(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def _fmt_macs(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:,.1f} M"


@app.command("compile")
def compile_cmd(
    genotype: str = typer.Argument(..., metavar="FILE|zoo:NAME", help="genotype JSON file or zoo entry"),
    out: Path = typer.Option(..., "-o", "--out", help="output directory (written atomically on success)"),
    force: bool = typer.Option(False, "--force", help="replace an existing compile output directory"),
    weights: Optional[Path] = typer.Option(None, "--weights", help=(
        "canonical-layout .safetensors (from gcc-gan import; keys prefixed generator./discriminator. "
        "for --net both) or a gcc-gan train checkpoint / run directory (newest step, EMA generator)")),
    width: Optional[float] = typer.Option(None, "--width", help="multiply the networks' base width by MULT"),
    net: Optional[Literal["g", "d", "both"]] = typer.Option(None, "--net", help="g, d or both (default: g, or d "
                                                            "for a D-only genotype)"),
    opset: int = typer.Option(17, "--opset", help="ONNX opset"),
    no_passes: bool = typer.Option(False, "--no-passes", help="skip the optimisation passes"),
    no_verify: bool = typer.Option(False, "--no-verify", help="skip the standalone / onnxruntime / .pt2 checks"),
    seed: int = typer.Option(0, "--seed", help="seed of the fresh initialisation when no --weights"),
    max_memory: Optional[str] = max_memory_option(),
    precision: Optional[List[str]] = typer.Option(None, "--precision", help=(
        "fp32, fp16 and/or int8 (repeat or comma-separate): extra generator.fp16.onnx / generator.int8.onnx, "
        "each verified against fp32 (max error, PSNR, images/s)")),
    calibration_size: int = typer.Option(128, "--calibration-size", help="int8: latents (fixed seed) to calibrate on"),
    min_psnr: float = typer.Option(30.0, "--min-psnr", min=0.0, help="fail (write nothing) when a variant's PSNR "
                                   "vs fp32 is below this many dB (0 or more)"),
    torch_fidelity: bool = typer.Option(False, "--torch-fidelity", help="also write generator.uint8.onnx (input z, "
                                        "uint8 NCHW output): fidelity --input1 it --input1-model-z-size N"),
    model_card: bool = typer.Option(False, "--model-card", help="also write a Hugging Face Hub model card "
                                    "(README.md, config.json) into the directory; nothing is uploaded"),
) -> None:
    """Compile a genotype to standalone PyTorch source + safetensors, ONNX and .pt2, verified."""
    t0 = time.perf_counter()
    from ..export.precision import PrecisionOptions  # no torch: option values are checked first

    PrecisionOptions.make(precision, calibration_size, min_psnr)
    if model_card:  # a missing package fails now, not after the compile
        from ..export.hub import require_hub

        require_hub()
    hold_for_command(out, f"-o {out}")  # before any slow work: a second compile into -o fails at once
    # files and names are checked before torch is imported (seconds): a typo fails at once
    if (out / "report.json").is_file():  # a previous compile (anything else is refused, --force or not)
        refuse_overwrite(out, force, kind="directory")
    if weights is not None and not weights.exists():
        raise GccGanError(f"{weights}: no such weights file")
    from ..api import resolve
    from ..genotype_dsl.memory import check_compile

    # the networks the API will compile (a training run's own genotype and width with
    # --weights RUN), analysed only: no torch yet
    _, infos, roles = resolve(genotype, weights, net=net, width=width,
                              on_run=lambda run, g: _using_run(genotype, run, g))
    # the whole compile's peak (exports, onnxruntime, variants) against --max-memory and
    # `ulimit -v`, before torch is imported or the verification worker started
    check_compile({r: infos[r] for r in roles}, len(PrecisionOptions.make(precision).variants))
    from ..export.onnx_export import check_opset
    from ..export.standalone import StandaloneWorker

    check_opset(opset)
    # started next: its torch import runs on the other core while this process imports
    # torch and compiles; it is killed on any error below
    worker = None if no_verify else StandaloneWorker()
    try:
        _compile(genotype, roles, out, weights, width, opset, no_passes, no_verify, seed, worker, t0, force,
                 (precision or ["fp32"], calibration_size, min_psnr), torch_fidelity, model_card)
    finally:
        if worker is not None:
            worker.close()


def _using_run(genotype: str, run: Path, trained: Any) -> None:
    bw = trained.generator.base_width if trained.generator is not None else "?"
    err_console.print(f"using {run}/genotype.json: {genotype} at the width the run trained (generator base width "
                      f"{bw})", highlight=False, markup=False)


def _compile(genotype: str, roles: tuple[str, ...], out: Path, weights: Optional[Path], width: Optional[float],
             opset: int, no_passes: bool, no_verify: bool, seed: int, worker: Any, t0: float, force: bool,
             precision: tuple[list[str], int, float] = (["fp32"], 128, 30.0), torch_fidelity: bool = False,
             model_card: bool = False) -> None:
    from ..api import compile as compile_genotype

    net = "both" if len(roles) == 2 else ("g" if roles == ("generator",) else "d")
    with progress("compiling", console=err_console, transient=True) as task:  # a line per step when piped
        report = compile_genotype(genotype, out, weights=weights, net=net, width=width, opset=opset,
                                  passes=not no_passes, verify=not no_verify, seed=seed, worker=worker,
                                  precisions=precision[0], calibration_size=precision[1], min_psnr=precision[2],
                                  on_step=lambda what: task.update(description=what), force=force,
                                  torch_fidelity=torch_fidelity, model_card=model_card)
    _print_summary(out, report, time.perf_counter() - t0)


def _print_summary(out: Path, report: dict[str, Any], wall: float) -> None:
    console.print(f"[bold]compiled[/bold] → {escape(str(out))}/  ({wall:.1f} s)", highlight=False)
    for role, r in report["networks"].items():
        before, after = r.get("macs_before"), r.get("macs_after")
        ratio = f" ({after / before:.3f}×)" if before and after is not None else ""
        params, ref_params = r.get("params"), r.get("params_reference", r.get("params"))
        compiled_params = f" (compiled form {_fmt_int(params)})" if params != ref_params else ""
        console.print(f"  [bold]{role}[/bold]: {_fmt_int(ref_params)} params{compiled_params} · MACs/sample "
                      f"{_fmt_macs(before)} → {_fmt_macs(after)}{ratio} · passes fired: "
                      f"{', '.join(r.get('passes_fired', [])) or 'none'}", highlight=False)
        for v in r.get("precision", {}).values():
            console.print(f"    {v['file']}: PSNR {v['psnr_db']:.1f} dB vs fp32 (max abs error {v['max_abs_err']:.1e}), "
                          f"{v['images_per_s']:.0f} images/s vs fp32 {v['fp32_images_per_s']:.0f} "
                          f"({v['speedup_vs_fp32']:.2f}×, onnxruntime CPU, batch {v['batch']})", highlight=False)
        ver = r.get("verification", {})
        if not ver:
            console.print("    [yellow]not verified (--no-verify)[/yellow]")
            continue
        parts = []
        if "interpreter" in ver:
            parts.append(f"vs interpreter {ver['interpreter']['max_abs_err']:.1e}")
        if "standalone" in ver:
            parts.append(f"standalone {ver['standalone']['max_abs_err']:.1e}")
        for name, label in (("onnx", "onnxruntime"), ("pt2", ".pt2")):
            if name in ver:
                errs = ver[name]["max_abs_err"]
                parts.append(f"{label} {max(errs.values()):.1e} (batch {'/'.join(errs)})")
        console.print(f"    verified, max abs error: {' · '.join(parts)}", highlight=False)
        exp = r.get("onnx_export", {})
        if exp.get("fallback_reason"):
            console.print(f"    ONNX written by the {exp['exporter']} exporter (opset {exp['opset']}); the "
                          f"TorchScript one failed: {escape(exp['fallback_reason'][:160])}", highlight=False)
    files = [f for r in report["networks"].values() for f in r["files"]] + ["report.json"]
    console.print(f"  files: {', '.join(files)}", highlight=False)
    role, first = next(iter(report["networks"].items()))
    feeds = ", ".join(f'"{n}": np.random.randn(4, {", ".join(map(str, s))}).astype("float32")'
                      for n, s in first["input_shapes"].items())
    onnx_py = (f'import onnxruntime as ort, numpy as np; s = ort.InferenceSession("{out / (role + ".onnx")}"); '
               f"print(s.run(None, {{{feeds}}})[0].shape)")
    if role == "generator":
        console.print("next: sample images (a folder, an .npz or a grid .png):", highlight=False)
        cmd = ["gcc-gan", "sample", str(out), "-n", "64", "-o", "grid.png"]
        console.print("  " + " ".join(shlex.quote(c) for c in cmd), highlight=False, markup=False, soft_wrap=True)
    console.print("or run it with onnxruntime:" if role == "generator" else "next: run it with onnxruntime:",
                  highlight=False)
    console.print(f"  python -c {shlex.quote(onnx_py)}", highlight=False, markup=False, soft_wrap=True)


@app.command("import")
def import_cmd(
    method: str = typer.Argument(..., metavar="autogan|adversarialnas", help="which reference implementation wrote CKPT"),
    ckpt: Path = typer.Argument(..., metavar="CKPT", help="checkpoint (.pth/.pt): raw state dict or training dict"),
    genotype: str = typer.Option(..., "--genotype", help="genotype FILE or zoo:NAME whose generator the checkpoint is"),
    out: Path = typer.Option(..., "-o", "--out", help="output .safetensors (canonical weight layout)"),
    force: bool = typer.Option(False, "--force", help="replace an existing output file"),
    width: Optional[float] = typer.Option(None, "--width", help="multiplier of the genotype's base width "
                                          "(default: inferred from the checkpoint)"),
    key: Optional[str] = typer.Option(None, "--key", help="gen_state_dict or avg_gen_state_dict (default: "
                                      "avg_gen_state_dict if present, else gen_state_dict, ...)"),
    net: Literal["g", "d", "both"] = typer.Option("g", "--net", help="g, d (dis_state_dict) or both"),
) -> None:
    """Import an official AutoGAN / AdversarialNAS checkpoint (generator, discriminator) as canonical weights."""
    hold_for_command(out, f"-o {out}")
    refuse_overwrite(out, force)
    if ckpt.is_file():  # a zip that expands past any checkpoint of the genotype: refused before torch loads
        from ..export.archive import archive_bound, check_archive
        from ..genotype_dsl.io import load_genotype

        check_archive(ckpt, archive_bound(load_genotype(genotype), width))
    from ..export.weights import import_checkpoint

    results = import_checkpoint(method, ckpt, genotype, out, width=width, key=key, net=net)
    for r in results:
        layout = " (search-code module names)" if r.layout == "search" else ""
        console.print(f"imported {r.role}: {r.n_tensors} tensors ({r.params:,} parameters){layout} from {ckpt} "
                      f"→ {out}", highlight=False, markup=False)
        console.print(f"width: base width {r.base_width} = {r.width_arg} × the genotype's "
                      f"{r.genotype_base_width}" + (" (inferred from the checkpoint)" if width is None else ""),
                      highlight=False)
        for note in r.notes:
            console.print(f"note: {note}", highlight=False, markup=False)
    result = results[0]
    cmd = ["gcc-gan", "compile", genotype, "-o", "out", "--weights", str(out), "--width", result.width_arg,
           *(["--net", net] if net != "g" else [])]
    console.print("next: compile it:", highlight=False)
    console.print("  " + " ".join(shlex.quote(c) for c in cmd), highlight=False, markup=False, soft_wrap=True)
