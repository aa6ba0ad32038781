"""`gcc-gan bench` (size, MACs, latency, IS / FID / KID of generators, side by side) and
`gcc-gan stats` (real-data statistics for FID / KID)."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Any, List, Literal, Optional

import typer
from rich.table import Table

from ..atomic import atomic_write_text
from ..errors import GccGanError
from ..runlock import hold_for_command
from .app import app, check_genotypes, console, err_console, refuse_overwrite
from .max_memory import check_process, max_memory_option

if TYPE_CHECKING:  # torch is imported only when the command runs
    from ..bench.runner import BenchReport

#: tests: `bench` sends itself SIGINT after this many finished rows (Ctrl-C at a known point)
SIGINT_AFTER_ROWS = "GCC_GAN_TEST_SIGINT_AFTER_ROWS"


def _num(x: float | None, fmt: str) -> str:
    return "–" if x is None else format(x, fmt)


def _pm(d: dict[str, float] | None, fmt: str, scale: float = 1.0) -> str:
    """`mean ± std` of a metric record (std: over repeats, or IS splits / KID subsets)."""
    if not d:
        return "–"
    if d.get("std") is None:
        return f"{d['mean'] * scale:{fmt}}"
    return f"{d['mean'] * scale:{fmt}} ± {d['std'] * scale:{fmt}}"


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
    return _table("gcc-gan bench", _comparison_columns(metrics), results)


def row_line(r: dict[str, Any], metrics: tuple[str, ...], i: int, total: int) -> str:
    """One finished row as a line, printed as soon as it is measured (the tables come at the end)."""
    cells = [f"{name} {fn(r)}" for name, fn in _comparison_columns(metrics)[1:]]
    return f"row {i}/{total}: {r['method']}" + (f" · {' · '.join(cells)}" if cells else "")


def _comparison_columns(metrics: tuple[str, ...]) -> list[tuple[str, Any]]:
    cols: list[tuple[str, Any]] = [("Method", lambda r: r["method"])]
    if "size" in metrics or "macs" in metrics:
        cols.append(("Params (M)", lambda r: f"{r['size']['params_m']:.2f}"))
    if "macs" in metrics:
        cols.append(("MACs (G)", lambda r: f"{r['size']['macs_g']:.3f}"))
    if "is" in metrics:
        cols.append(("IS", _quality("is", lambda v: _pm(v, ".2f"))))
    if "fid" in metrics:
        cols.append(("FID", _quality("fid", lambda v: _pm(v, ".2f"))))
    if "kid" in metrics:
        cols.append(("KID ×10³", _quality("kid", lambda v: _pm(v, ".2f", 1e3))))
    if "prdc" in metrics:
        for k in ("precision", "recall", "density", "coverage"):
            cols.append((k.capitalize(), _quality("prdc", lambda v, k=k: _pm((v or {}).get(k), ".3f"))))
    if "swd" in metrics:
        cols.append(("SWD ×10³", lambda r: _pm(r.get("swd"), ".2f")))
    if "latency" in metrics:
        cols.append(("best img/s", lambda r: _best(r["latency"])))
    return cols


def protocol_lines(results: list[dict[str, Any]]) -> list[str]:
    """The one-line protocol under the table (one per distinct protocol among the rows)."""
    from ..bench.protocol import describe

    lines: list[str] = []
    for r in results:
        if r.get("protocol"):
            lines.append(describe(r["protocol"]))
        swd = (r.get("swd") or {}).get("protocol")
        if swd:
            seeds = swd["latent_seeds"]
            lines.append(f"SWD protocol: {swd['num_generated']} generated vs {swd['num_real']} real ({swd['real']}), "
                         f"native resolution, latent seed{'s' if len(seeds) > 1 else ''} "
                         f"{', '.join(map(str, seeds))}; truncation none")
    return list(dict.fromkeys(lines))


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
    metrics: Optional[str] = typer.Option(None, "--metrics", help="comma-separated: size,macs,latency,is,fid,kid,"
                                          "prdc,swd (default size,macs,latency)"),
    num_samples: Optional[int] = typer.Option(None, "--num-samples", help="generated samples for IS / FID / KID / "
                                              "PRDC (default: the protocol's, 50,000) and SWD (default 256, at "
                                              "most 16384)"),
    protocol: Optional[str] = typer.Option(None, "--protocol", help="evaluation protocol preset: torch-fidelity "
                                           "(default), autogan (the seed papers' tables), studiogan, clean-fid"),
    fid_mode: Optional[str] = typer.Option(None, "--fid-mode", help="legacy-tf (TF1 bilinear resize, "
                                           "torch-fidelity) or clean (clean-fid's PIL bicubic); default: the "
                                           "protocol's"),
    quality_repeats: int = typer.Option(1, "--repeats", help="measure IS / FID / KID / PRDC / SWD over N latent "
                                        "seeds (and real subsets where subsampled): mean ± std"),
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
    latency_repeats: Optional[int] = typer.Option(None, "--latency-repeats",
                                                  help="latency repeats (default: fit ~3 s per batch size)"),
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
    from ..bench.runner import parse_metrics

    if json_out is not None:
        hold_for_command(json_out, f"--json {json_out}")
    ms = parse_metrics(metrics)
    if json_out is not None:
        refuse_overwrite(json_out, force, "--json")
    bs = _ints(batches, "--batches")
    done: list[BenchReport] = []  # the rows so far: kept when interrupted

    def on_row(report: BenchReport) -> None:
        done[:] = [report]
        n = len(report.rows)
        console.print(row_line(report.rows[-1], ms, n, report.targets or n), highlight=False, markup=False)
        if json_out is not None:  # the file holds every finished row (marked partial until the last)
            atomic_write_text(json_out, json.dumps(report.to_json(), indent=1) + "\n")
        if n == int(os.environ.get(SIGINT_AFTER_ROWS, 0) or -1):  # tests: Ctrl-C at a known point
            signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started with SIGINT ignored
            os.kill(os.getpid(), signal.SIGINT)

    try:
        report = benchmark(list(targets), weights=weights, metrics=ms, width=width, batches=bs,
                           latency_repeats=latency_repeats, compile=compile_, num_samples=num_samples,
                           real=real, protocol=protocol, fid_mode=fid_mode, repeats=quality_repeats,
                           inception_weights=inception_weights, batch_size=batch_size, seed=seed, device=device,
                           count=count, progress=True, on_row=on_row, on_target=lambda label, source: console.print(
                               f"[dim]benchmarking {label} ({source})…[/dim]", highlight=False))
    except KeyboardInterrupt:
        if not done:
            raise
        report = done[0]
        _print_report(report, ms, bs, count, num_samples)
        kept = f"; {json_out} holds them, marked partial" if json_out is not None else ""
        err_console.print(f"interrupted: kept the {len(report.rows)} finished row(s) of {report.targets}{kept}",
                          highlight=False, markup=False, soft_wrap=True)
        raise typer.Exit(130) from None
    _print_report(report, ms, bs, count, num_samples)
    if json_out is not None:
        console.print(f"wrote {json_out}", highlight=False)


def _print_report(report: BenchReport, ms: tuple[str, ...], bs: tuple[int, ...], count: str,
                  num_samples: int | None) -> None:
    results = report.rows
    console.print(comparison_table(results, ms))
    for line in protocol_lines(results):
        console.print(line, highlight=False, soft_wrap=True)
    if count == "official":
        console.print(official_table(results))
    if "size" in ms or "macs" in ms:
        console.print(size_table(results, ms))
    if "latency" in ms:
        console.print(latency_table(results, bs))
    swd_counts = sorted({r["swd"]["num_samples"] for r in results if "swd" in r})
    if swd_counts and num_samples is None:  # the protocol line gives the count; say why it is small
        from ..bench.swd import MAX_IMAGES

        console.print(f"SWD used its default count ({' / '.join(map(str, swd_counts))} images), for a quick "
                      f"comparison: --num-samples N for more, up to ProGAN's {MAX_IMAGES}; values at different "
                      "counts are not comparable", highlight=False)
    for r in results:
        for n in r.get("notes", []):
            console.print(f"[yellow]note[/yellow] {r['method']}: {n}", highlight=False)


@app.command("stats")
def stats_cmd(
    data: str = typer.Argument(..., metavar="DATASPEC",
                               help="cifar10:PATH, stl10:PATH, folder:PATH, lsun:PATH, synthetic, digits"),
    out: Path = typer.Option(..., "-o", "--out", help="stats file to write (.npz)"),
    size: Optional[int] = typer.Option(None, "--size", help="image resolution (default: the dataset's)"),
    num_samples: int = typer.Option(50_000, "--num-samples", help="real images to use (all when fewer)"),
    inception_weights: Optional[str] = typer.Option(None, "--inception-weights", help="FID Inception weights file"),
    device: Literal["cpu", "cuda"] = typer.Option("cpu", "--device", help="cpu or cuda"),
    batch_size: int = typer.Option(64, "--batch-size", help="batch size of the Inception forward passes"),
    force: bool = typer.Option(False, "--force", help="replace an existing stats file"),
    fid_mode: str = typer.Option("legacy-tf", "--fid-mode", help="resize to 299: legacy-tf (torch-fidelity's TF1 "
                                 "bilinear) or clean (clean-fid's PIL bicubic); bench --fid-mode must match"),
    max_memory: Optional[str] = max_memory_option(),
) -> None:
    """Compute real-data statistics for FID / KID (mean, covariance, KID features) into a .npz."""
    check_process("statistics")
    hold_for_command(out, f"-o {out}")
    from ..bench.inception import load_inception
    from ..bench.protocol import check_fid_mode
    from ..bench.stats import compute_real_stats, save_stats
    from ..train.data import load_dataset

    if out.suffix != ".npz":
        raise GccGanError(f"-o {out}: the stats file must end in .npz")
    refuse_overwrite(out, force)
    check_fid_mode(fid_mode)
    if num_samples < 2:
        raise GccGanError(f"--num-samples must be at least 2, not {num_samples}")
    if batch_size < 1:
        raise GccGanError(f"--batch-size must be positive, not {batch_size}")
    if device not in ("cpu", "cuda"):
        raise GccGanError(f"--device must be cpu or cuda, not {device!r}")
    ds = load_dataset(data, size)
    inception = load_inception(inception_weights, device)
    s = compute_real_stats(data, ds.size, num_samples, inception, batch_size, dataset=ds, fid_mode=fid_mode)
    save_stats(out, s)
    fid = "" if inception.verified else " (NOT the FID Inception)"
    console.print(f"wrote {out}: statistics of {s.gaussian.n} real images at {ds.size}×{ds.size} from {data}, "
                  f"Inception sha256 {inception.sha256[:12]}…{fid}, resize {fid_mode}", highlight=False)
