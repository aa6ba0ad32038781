"""`gcc-gan compile` (genotype → standalone source, safetensors, ONNX, .pt2, report) and
`gcc-gan import` (published reference checkpoint → canonical-layout safetensors)."""

from __future__ import annotations

import re
import shlex
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional

import typer
from rich.markup import escape

if TYPE_CHECKING:  # torch is imported by the commands themselves: `gcc-gan --help` stays fast
    from torch import Tensor

from ..errors import GccGanError
from ..runlock import hold_for_command
from .app import app, console, err_console

ROLES = {"g": ("generator",), "d": ("discriminator",), "both": ("generator", "discriminator")}


def _fmt_int(n: int | None) -> str:
    return "?" if n is None else f"{n:,}"


def _fmt_macs(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e6:,.1f} M"


def load_weights_file(path: Path) -> dict[str, Tensor]:
    """A safetensors file of tensors; every failure is a readable GccGanError."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    if not path.exists():
        raise GccGanError(f"{path}: no such weights file")
    if not path.is_file():
        raise GccGanError(f"{path}: is not a file; expected a .safetensors weights file")
    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise GccGanError(f"{path}: not a readable safetensors file ({str(e).strip() or type(e).__name__})") from None


def weights_for(role: str, weights: dict[str, Tensor], roles: tuple[str, ...], path: Path) -> dict[str, Tensor]:
    """The canonical-layout tensors of one network: keys prefixed `generator.` /
    `discriminator.` (one file for both) or, for a single network, unprefixed."""
    prefix = f"{role}."
    mine = {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}
    if mine:
        return mine
    if len(roles) == 1 and not any(k.startswith(("generator.", "discriminator.")) for k in weights):
        return weights
    raise GccGanError(f"{path}: no tensors for the {role} (with --net both, keys must start with "
                      f"'generator.' / 'discriminator.')")


# files of a training checkpoint directory (gcc-gan train), in the canonical layout
CHECKPOINT_FILES = {"generator": ("generator_ema.safetensors", "generator.safetensors"),
                    "discriminator": ("discriminator.safetensors",)}


def _checkpoint_dir(path: Path) -> Path:
    """`path` itself when it holds weight files, else the newest `step-N` checkpoint in it
    or in its `checkpoints/` (a training run directory)."""
    names = {n for files in CHECKPOINT_FILES.values() for n in files}
    for d in (path, path / "checkpoints"):
        if any((d / n).is_file() for n in names):
            return d
        steps = [(int(m.group(1)), p) for p in (d.iterdir() if d.is_dir() else [])
                 if (m := re.fullmatch(r"step-(\d+)", p.name)) and p.is_dir()
                 and any((p / n).is_file() for n in names)]
        if steps:
            return max(steps)[1]
    raise GccGanError(f"{path}: a directory without weights; expected {', '.join(sorted(names))} "
                      f"(a training checkpoint) or step-N/ checkpoints inside it")


def weights_by_role(path: Path, roles: tuple[str, ...]) -> dict[str, dict[str, Tensor]]:
    """Canonical-layout weights per network from a .safetensors file (see `weights_for`)
    or a training checkpoint directory (the EMA generator when there is one)."""
    if not path.is_dir():
        given = load_weights_file(path)
        return {role: weights_for(role, given, roles, path) for role in roles}
    ckpt = _checkpoint_dir(path)
    out = {}
    for role in roles:
        f = next((ckpt / n for n in CHECKPOINT_FILES[role] if (ckpt / n).is_file()), None)
        if f is None:
            raise GccGanError(f"{ckpt}: no {' or '.join(CHECKPOINT_FILES[role])} for the {role}")
        out[role] = load_weights_file(f)
    return out


@app.command("compile")
def compile_cmd(
    genotype: str = typer.Argument(..., metavar="FILE|zoo:NAME", help="genotype JSON file or zoo entry"),
    out: Path = typer.Option(..., "-o", "--out", help="output directory (replaced atomically on success)"),
    weights: Optional[Path] = typer.Option(None, "--weights", help=(
        "canonical-layout .safetensors (from gcc-gan import; keys prefixed generator./discriminator. "
        "for --net both) or a gcc-gan train checkpoint / run directory (newest step, EMA generator)")),
    width: Optional[float] = typer.Option(None, "--width", help="multiply the networks' base width by MULT"),
    net: Optional[str] = typer.Option(None, "--net", help="g, d or both (default: g, or d for a D-only genotype)"),
    opset: int = typer.Option(17, "--opset", help="ONNX opset"),
    no_passes: bool = typer.Option(False, "--no-passes", help="skip the optimisation passes"),
    no_verify: bool = typer.Option(False, "--no-verify", help="skip the standalone / onnxruntime / .pt2 checks"),
    seed: int = typer.Option(0, "--seed", help="seed of the fresh initialisation when no --weights"),
) -> None:
    """Compile a genotype to standalone PyTorch source + safetensors, ONNX and .pt2, verified."""
    hold_for_command(out, f"-o {out}")  # before any slow work: a second compile into -o fails at once
    from ..export.standalone import StandaloneWorker

    # started first: its torch import runs on the other core while this process imports
    # torch and compiles; it is killed on any error below
    worker = None if no_verify else StandaloneWorker()
    try:
        _compile(genotype, out, weights, width, net, opset, no_passes, no_verify, seed, worker)
    finally:
        if worker is not None:
            worker.close()


def _compile(genotype: str, out: Path, weights: Optional[Path], width: Optional[float], net: Optional[str],
             opset: int, no_passes: bool, no_verify: bool, seed: int, worker: Any) -> None:
    import torch

    from ..compiler.interpreter import Interpreter
    from ..compiler.pipeline import compile_network, load_weights
    from ..export.artifacts import write_compile_dir
    from ..export.onnx_export import check_opset
    from ..genotype_dsl.analysis import analyze
    from ..genotype_dsl.io import load_and_analyze

    t0 = time.perf_counter()
    check_opset(opset)
    g, infos = load_and_analyze(genotype)
    key = net or ("g" if g.generator is not None else "d")
    if key not in ROLES:
        raise GccGanError(f"--net must be g, d or both, not {key!r}")
    roles = ROLES[key]
    for role in roles:
        if role not in infos:
            other = "g" if role == "discriminator" else "d"
            raise GccGanError(f"{genotype} has no {role}" + (f"; try --net {other}" if infos else ""))
    if width is not None:
        if not width > 0:
            raise GccGanError(f"--width must be a positive multiplier, not {width:g}")
        infos = {r: analyze(infos[r].net.scaled(width), where=r, role=r) for r in roles}
    given = weights_by_role(weights, roles) if weights is not None else {}
    compiled, interpreters = [], {}
    for role in roles:
        # the reference interpreter holds the weights (given, or a seeded initialisation);
        # the compiled module is checked against it
        with torch.random.fork_rng():
            torch.manual_seed(seed)
            ref = Interpreter(infos[role])
        if role in given:
            load_weights(ref, given[role], what=str(weights))
        interpreters[role] = ref.eval()
        compiled.append(compile_network(infos[role], ref.state_dict(), role=role, passes=not no_passes, genotype=g))
    with err_console.status("compiling", spinner="dots") as status:
        report = write_compile_dir(out, compiled, g, opset=opset, verify=not no_verify, interpreters=interpreters,
                                   worker=worker, on_step=lambda what: status.update(f"{what}…"))
    _print_summary(out, report, compiled, time.perf_counter() - t0)


def _print_summary(out: Path, report: dict[str, Any], compiled: list[Any], wall: float) -> None:
    console.print(f"[bold]compiled[/bold] → {escape(str(out))}/  ({wall:.1f} s)", highlight=False)
    for role, r in report["networks"].items():
        before, after = r.get("macs_before"), r.get("macs_after")
        ratio = f" ({after / before:.3f}×)" if before and after is not None else ""
        params, ref_params = r.get("params"), r.get("params_reference", r.get("params"))
        compiled_params = f" (compiled form {_fmt_int(params)})" if params != ref_params else ""
        console.print(f"  [bold]{role}[/bold]: {_fmt_int(ref_params)} params{compiled_params} · MACs/sample "
                      f"{_fmt_macs(before)} → {_fmt_macs(after)}{ratio} · passes fired: "
                      f"{', '.join(r.get('passes_fired', [])) or 'none'}", highlight=False)
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
    c = compiled[0]
    feeds = ", ".join(f'"{n}": np.random.randn(4, {", ".join(map(str, s))}).astype("float32")'
                      for n, s in c.input_shapes.items())
    onnx_py = (f'import onnxruntime as ort, numpy as np; s = ort.InferenceSession("{out / (c.role + ".onnx")}"); '
               f"print(s.run(None, {{{feeds}}})[0].shape)")
    console.print("next: run it with onnxruntime:", highlight=False)
    console.print(f"  python -c {shlex.quote(onnx_py)}", highlight=False, markup=False, soft_wrap=True)


@app.command("import")
def import_cmd(
    method: str = typer.Argument(..., metavar="autogan|adversarialnas", help="which reference implementation wrote CKPT"),
    ckpt: Path = typer.Argument(..., metavar="CKPT", help="checkpoint (.pth/.pt): raw state dict or training dict"),
    genotype: str = typer.Option(..., "--genotype", help="genotype FILE or zoo:NAME whose generator the checkpoint is"),
    out: Path = typer.Option(..., "-o", "--out", help="output .safetensors (canonical weight layout)"),
    width: Optional[float] = typer.Option(None, "--width", help="multiplier of the genotype's base width "
                                          "(default: inferred from the checkpoint)"),
    key: Optional[str] = typer.Option(None, "--key", help="gen_state_dict or avg_gen_state_dict (default: "
                                      "avg_gen_state_dict if present, else gen_state_dict, ...)"),
    net: str = typer.Option("g", "--net", help="g, d (dis_state_dict) or both"),
) -> None:
    """Import an official AutoGAN / AdversarialNAS checkpoint (generator, discriminator) as canonical weights."""
    hold_for_command(out, f"-o {out}")
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
