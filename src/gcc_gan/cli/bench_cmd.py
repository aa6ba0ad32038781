"""`gcc-gan bench` (size, MACs, latency, IS / FID / KID of generators, side by side) and
`gcc-gan stats` (real-data statistics for FID / KID)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, List, Literal, Optional

import typer
from rich.table import Table

from ..errors import GccGanError
from ..runlock import hold_for_command
from .app import app, check_genotypes, console, refuse_overwrite
from .max_memory import check_process, max_memory_option


def _num(x: float | None, fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


def _pm(d: dict[str, float] | None, fmt: str, scale: float = 1.0) -> str:
    return "–" if not d else f"{d['mean'] * scale:{fmt}} ± {d['std'] * scale:{fmt}}"


def _quality(key: str, fmt: Any) -> Any:
    """A quality column: the value, or `unavailable` when it could not be measured."""
    return lambda r: "unavailable" if key in r.get("unavailable", {}) else fmt(r.get(key))


def _table(title: str, cols: list[tuple[str, Any]], results: list[dict[str, Any]]) -> Table:
    t = Table(title=title, title_justify="left")
    for name, _ in cols:
        if name == "Method":
            t.add_column(name, no_wrap=True)
        else:
            t.add_column(name, justify="right")
    for r in results:
        t.add_row(*[str(fn(r)) for _, fn in cols])
    return t


def comparison_table(results: list[dict[str, Any]], metrics: tuple[str, ...]) -> Table:
    """The papers' comparison table: one row per method."""
    cols: list[tuple[str, Any]] = [("Method", lambda r: r["method"])]
    if "size" in metrics or "macs" in metrics:
        cols.append(("Params (M)", lambda r: f"{r['size']['params_m']:.2f}"))
    if "macs" in metrics:
        cols.append(("MACs (G)", lambda r: f"{r['size']['macs_g']:.3f}"))
    if "is" in metrics:
        cols.append(("IS", _quality("is", lambda v: _pm(v, ".2f"))))
    if "fid" in metrics:
        cols.append(("FID", _quality("fid", lambda v: _num(v, ".2f"))))
    if "kid" in metrics:
        cols.append(("KID ×10³", _quality("kid", lambda v: _pm(v, ".2f", 1e3))))
    if "swd" in metrics:
        cols.append(("SWD ×10³", lambda r: _num((r.get("swd") or {}).get("mean"), ".2f")))
    if "latency" in metrics:
        cols.append(("best img/s", lambda r: _best(r["latency"])))
    return _table("gcc-gan bench", cols, results)


def size_table(results: list[dict[str, Any]], metrics: tuple[str, ...]) -> Table:
    """Size details: bytes, FLOPs, what the compiler saves, the FlopCounterMode check."""
    cols: list[tuple[str, Any]] = [("Method", lambda r: r["method"])]
    if "size" in metrics:
        cols += [("fp32 MB", lambda r: f"{r['size']['fp32_bytes'] / 1e6:.2f}"),
                 ("ONNX MB", lambda r: _num(None if r["size"]["onnx_bytes"] is None
                                            else r["size"]["onnx_bytes"] / 1e6, ".2f"))]
    if "macs" in metrics:
        cols += [("FLOPs G", lambda r: f"{r['size']['flops_g']:.3f}"),
                 ("compiled MACs G", lambda r: _num(None if r["size"].get("macs_compiled") is None
                                                    else r["size"]["macs_compiled"] / 1e9, ".3f")),
                 ("FLOP check", lambda r: " ".join(f"{c['module'][0]}{'✓' if c['agrees'] else '✗'}"
                                                    for c in r["size"].get("checks") or []) or "–")]
    title = "per image"
    if "macs" in metrics:  # the caption explains the FLOP check column, which comes with macs
        title += (". FLOP check: torch's FlopCounterMode on the interpreter (i) / compiled module (c) "
                  "= 2 × (IR MACs − bias adds)")
    return _table(title, cols, results)


def official_table(results: list[dict[str, Any]]) -> Table:
    """Executed counts beside the official code's (which include computed-but-unused layers)."""
    def off(key: str, scale: float, fmt: str) -> Any:
        return lambda r: "–" if r.get("official") is None else format(r["official"][key] / scale, fmt)
    cols: list[tuple[str, Any]] = [("Method", lambda r: r["method"]),
                                   ("Params (M) executed", lambda r: f"{r['executed']['params'] / 1e6:.4f}"),
                                   ("Params (M) official", off("params", 1e6, ".4f")),
                                   ("MACs (G) executed", lambda r: f"{r['executed']['macs'] / 1e9:.4f}"),
                                   ("MACs (G) official", off("macs", 1e9, ".4f"))]
    return _table("counts as executed and as the official code counts them", cols, results)


def _best(lat: dict[str, Any]) -> str:
    best = None
    for impl, per in lat.items():
        for b, d in per.items():
            if best is None or d["images_per_s"] > best[0]:
                best = (d["images_per_s"], impl, b)
    if best is None:
        return "–"
    return f"{best[0]:,.0f} ({best[1]}, b={best[2]})" if best[0] >= 100 else f"{best[0]:.1f} ({best[1]}, b={best[2]})"


def latency_table(results: list[dict[str, Any]], batches: tuple[int, ...]) -> Table:
    t = Table(title="latency per call: median and IQR of interleaved repeats", title_justify="left")
    for name in ("Method", "impl", "batch", "median ms", "IQR ms", "img/s", "× interp"):
        t.add_column(name, justify="left" if name in ("Method", "impl") else "right",
                     no_wrap=name == "Method")
    for r in results:
        for b in batches:
            for impl, per in r.get("latency", {}).items():
                d = per.get(str(b))
                if d is not None:
                    t.add_row(r["method"], impl, str(b), f"{d['median_ms']:.2f}", f"{d['iqr_ms']:.2f}",
                              f"{d['images_per_s']:,.1f}", _num(d.get("speedup_vs_interpreter"), ".2f"))
    return t


def _ints(text: str, what: str) -> tuple[int, ...]:
    try:
        vals = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise GccGanError(f"{what}: expected comma-separated integers, not {text!r}") from None
    if not vals or any(v < 1 for v in vals):
        raise GccGanError(f"{what}: expected positive integers, not {text!r}")
    return vals


@app.command("bench")
def bench_cmd(
    targets: List[str] = typer.Argument(..., metavar="FILE|DIR|zoo:NAME...",
                                        help="genotype files, zoo entries, gcc-gan compile output dirs or "
                                        "training runs"),
    weights: Optional[List[str]] = typer.Option(None, "--weights", help="generator weights (canonical-layout "
                                                ".safetensors or checkpoint); once per genotype, in order"),
    metrics: Optional[str] = typer.Option(None, "--metrics", help="comma-separated: size,macs,latency,is,fid,kid,swd "
                                          "(default size,macs,latency)"),
    num_samples: int = typer.Option(50_000, "--num-samples", help="generated samples for IS / FID / KID"),
    real: Optional[str] = typer.Option(None, "--real", help="real data for FID / KID: DATASPEC or stats.npz"),
    inception_weights: Optional[str] = typer.Option(None, "--inception-weights",
                                                    help="FID Inception weights file (else $GCC_GAN_INCEPTION, "
                                                    "else the torch hub cache)"),
    device: Literal["cpu", "cuda"] = typer.Option("cpu", "--device", help="cpu or cuda"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="write the results as JSON here"),
    force: bool = typer.Option(False, "--force", help="replace an existing --json file"),
    width: Optional[float] = typer.Option(None, "--width", help="multiply each genotype's base width by MULT"),
    compile_: bool = typer.Option(False, "--compile", help="also time torch.compile of the compiled module"),
    batches: str = typer.Option("1,64", "--batches", help="latency batch sizes"),
    repeats: Optional[int] = typer.Option(None, "--repeats", help="latency repeats (default: fit ~3 s per batch size)"),
    batch_size: int = typer.Option(64, "--batch-size", help="batch size of sample generation + Inception"),
    seed: int = typer.Option(2020, "--seed", help="seed of the latents and of the IS / KID sampling"),
    count: Literal["executed", "official"] = typer.Option("executed", "--count",
                              help="official: also count params / MACs as the official code does (layers it "
                                   "computes but never uses included)"),
    max_memory: Optional[str] = max_memory_option(),
) -> None:
    """Benchmark generators side by side: params, MACs, latency, IS / FID / KID."""
    check_genotypes(list(targets))  # before torch is imported
    check_process("benchmark")
    from ..api import benchmark
    from ..atomic import atomic_write_text
    from ..bench.runner import parse_metrics

    if json_out is not None:
        hold_for_command(json_out, f"--json {json_out}")
    ms = parse_metrics(metrics)
    if json_out is not None:
        refuse_overwrite(json_out, force, "--json")
    bs = _ints(batches, "--batches")
    report = benchmark(list(targets), weights=weights, metrics=ms, width=width, batches=bs,
                       repeats=repeats, compile=compile_, num_samples=num_samples, real=real,
                       inception_weights=inception_weights, batch_size=batch_size, seed=seed, device=device,
                       count=count, progress=True, on_target=lambda label, source: console.print(
                           f"[dim]benchmarking {label} ({source})…[/dim]", highlight=False))
    results = report.rows
    console.print(comparison_table(results, ms))
    if count == "official":
        console.print(official_table(results))
    if "size" in ms or "macs" in ms:
        console.print(size_table(results, ms))
    if "latency" in ms:
        console.print(latency_table(results, bs))
    for r in results:
        for n in r.get("notes", []):
            console.print(f"[yellow]note[/yellow] {r['method']}: {n}", highlight=False)
    if json_out is not None:
        atomic_write_text(json_out, json.dumps(report.to_json(), indent=1) + "\n")
        console.print(f"wrote {json_out}", highlight=False)


@app.command("stats")
def stats_cmd(
    data: str = typer.Argument(..., metavar="DATASPEC",
                               help="cifar10:PATH, stl10:PATH, folder:PATH, lsun:PATH, synthetic"),
    out: Path = typer.Option(..., "-o", "--out", help="stats file to write (.npz)"),
    size: Optional[int] = typer.Option(None, "--size", help="image resolution (default: the dataset's)"),
    num_samples: int = typer.Option(50_000, "--num-samples", help="real images to use (all when fewer)"),
    inception_weights: Optional[str] = typer.Option(None, "--inception-weights", help="FID Inception weights file"),
    device: Literal["cpu", "cuda"] = typer.Option("cpu", "--device", help="cpu or cuda"),
    batch_size: int = typer.Option(64, "--batch-size", help="batch size of the Inception forward passes"),
    force: bool = typer.Option(False, "--force", help="replace an existing stats file"),
    max_memory: Optional[str] = max_memory_option(),
) -> None:
    """Compute real-data statistics for FID / KID (mean, covariance, KID features) into a .npz."""
    check_process("statistics")
    hold_for_command(out, f"-o {out}")
    from ..bench.inception import load_inception
    from ..bench.stats import compute_real_stats, save_stats
    from ..train.data import load_dataset

    if out.suffix != ".npz":
        raise GccGanError(f"-o {out}: the stats file must end in .npz")
    refuse_overwrite(out, force)
    if num_samples < 2:
        raise GccGanError(f"--num-samples must be at least 2, not {num_samples}")
    if batch_size < 1:
        raise GccGanError(f"--batch-size must be positive, not {batch_size}")
    if device not in ("cpu", "cuda"):
        raise GccGanError(f"--device must be cpu or cuda, not {device!r}")
    ds = load_dataset(data, size)
    inception = load_inception(inception_weights, device)
    s = compute_real_stats(data, ds.size, num_samples, inception, batch_size, dataset=ds)
    save_stats(out, s)
    fid = "" if inception.verified else " (NOT the FID Inception)"
    console.print(f"wrote {out}: statistics of {s.gaussian.n} real images at {ds.size}×{ds.size} from {data}, "
                  f"Inception sha256 {inception.sha256[:12]}…{fid}", highlight=False)
