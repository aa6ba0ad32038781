"""Genotype DSL commands: validate, show, zoo, schema, render, convert.

Thin: parse arguments, call the library, print. Every bad input surfaces as a
GccGanError (see main.py: `error: ...`, exit 1); outputs are written atomically.
"""

from __future__ import annotations

import json
import re
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Optional

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from ..atomic import atomic_write_text
from ..runlock import hold_for_command
from ..errors import GccGanError, GenotypeError
from ..genotype_dsl.analysis import NetInfo, analyze_genotype
from ..genotype_dsl.io import load_and_analyze, problems_from_validation, save_genotype
from ..genotype_dsl.model import Genotype, Provenance, json_schema
from ..genotype_dsl.ops import Shape, fmt_shape
from .app import app, console, refuse_overwrite

NET_KEYS = ("generator", "discriminator")


# ---------------------------------------------------------------------------------------
# helpers


def _out_path(path: Path, force: bool) -> Path:
    if path.is_dir():
        raise GccGanError(f"{path}: is a directory; give a file name")
    hold_for_command(path, f"-o {path}")  # one writer per output at a time
    refuse_overwrite(path, force)
    return path


FORCE_HELP = "replace an existing output file"


def net_summary(info: NetInfo) -> dict[str, Any]:
    """Size and shape facts of one analysed network (the `show --json` record)."""
    net = info.net

    def shapes(d: dict[str, Shape]) -> dict[str, list[int]]:
        return {k: list(v) for k, v in d.items()}

    from ..compiler.cost import compiled_cost

    compiled = compiled_cost(info)  # what `gcc-gan compile` reports, without building weights

    return {
        "params": info.params,
        "fp32_bytes": 4 * info.params,
        "macs": info.macs,
        "gmacs": round(info.macs / 1e9, 4),
        "compiled_macs": compiled.macs,
        "compiled_params": compiled.params,
        "nodes": len(net.nodes),
        "edges": len(net.edges),
        "base_width": net.base_width,
        "inputs": shapes(info.input_shapes),
        "outputs": shapes(info.output_shapes),
    }


def genotype_summary(g: Genotype, infos: dict[str, NetInfo]) -> dict[str, Any]:
    out: dict[str, Any] = {"name": g.name, "digest": g.digest(), "schema_version": g.schema_version,
                           "searcher": g.provenance.searcher, "dataset": g.provenance.dataset}
    for key in NET_KEYS:
        if key in infos:
            out[key] = net_summary(infos[key])
    return out


def add_official_counts(g: Genotype, summary: dict[str, Any]) -> None:
    """`summary[net]["official"]`: params and MACs as the official code counts them. Only
    a generator converted from a published encoding can differ (layers the official code
    computes but never uses); None when it no longer matches its encoding."""
    from ..genotype_dsl.encodings import OFFICIAL_FORMATS, official_counts

    enc = g.provenance.encoding or {}
    for key in NET_KEYS:
        if key in summary:
            counts: tuple[int, int] | None = (summary[key]["params"], summary[key]["macs"])
            if key == "generator" and enc.get("format") in OFFICIAL_FORMATS:
                counts = official_counts(getattr(g, key), enc)
            summary[key]["official"] = None if counts is None else {"params": counts[0], "macs": counts[1]}


def _si(n: float, unit: str = "") -> str:
    for scale, prefix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if n >= scale:
            return f"{n / scale:.2f} {prefix}{unit}"
    return f"{n:.0f} {unit}".rstrip()


def _shapes_text(d: dict[str, list[int]]) -> str:
    return "\n".join(f"{k}: {fmt_shape(tuple(v))}" for k, v in d.items())


# ---------------------------------------------------------------------------------------
# validate / show


@app.command()
def validate(
    file: str = typer.Argument(..., metavar="FILE", help="Genotype JSON file (or zoo:NAME)."),
) -> None:
    """Check a genotype file: print `ok`, or every problem (JSON path: reason) and exit 1."""
    load_and_analyze(file)
    typer.echo("ok")


@app.command()
def show(
    genotype: str = typer.Argument(..., metavar="FILE|zoo:NAME|DIR", help=(
        "Genotype JSON file, zoo entry, or a gcc-gan compile directory.")),
    as_json: bool = typer.Option(False, "--json", help="Print a machine-readable JSON object instead."),
    count: Literal["executed", "official"] = typer.Option("executed", "--count",
                              help="official: also count as the official code does (layers it computes but "
                                   "never uses included)"),
) -> None:
    """Per network: parameters, fp32 weight bytes, MACs per image, nodes, edges, shapes
    (a compile directory: source / stored / runtime parameters)."""
    if not genotype.startswith("zoo:") and Path(genotype).is_dir():
        _show_compiled(genotype, as_json)
        return
    g, infos = load_and_analyze(genotype)
    summary = genotype_summary(g, infos)
    if count == "official":
        add_official_counts(g, summary)
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    nets = [k for k in NET_KEYS if k in summary]
    title = f"{escape(g.name or genotype)}  [dim]digest {summary['digest'][:12]}[/dim]"
    table = Table(title=title, title_justify="left", show_lines=False)
    table.add_column("")
    for k in nets:
        table.add_column(k, justify="right")
    rows: list[tuple[str, Any]] = [
        ("params", lambda s: f"{s['params']:,} ({_si(s['params'])})"),
        ("fp32 weights", lambda s: f"{s['fp32_bytes']:,} B ({_si(s['fp32_bytes'], 'B')})"),
        ("MACs / image", lambda s: f"{s['macs']:,} ({_si(s['macs'])})"),
        ("compiled MACs", lambda s: f"{s['compiled_macs']:,} ({_si(s['compiled_macs'])})"),
        ("nodes", lambda s: str(s["nodes"])),
        ("edges", lambda s: str(s["edges"])),
        ("base width", lambda s: str(s["base_width"])),
        ("inputs", lambda s: _shapes_text(s["inputs"])),
        ("outputs", lambda s: _shapes_text(s["outputs"])),
    ]
    if count == "official":
        def off(key: str) -> Any:
            return lambda s: "—" if s["official"] is None else f"{s['official'][key]:,} ({_si(s['official'][key])})"
        rows[3:3] = [("params (official)", off("params")), ("MACs (official)", off("macs"))]
    for label, fmt in rows:
        table.add_row(label, *(fmt(summary[k]) for k in nets))
    console.print(table)
    prov = g.provenance
    facts = [f"{k}: {v}" for k, v in (("searcher", prov.searcher), ("dataset", prov.dataset)) if v]
    if facts:
        console.print("  ".join(facts), highlight=False, markup=False)


def _show_compiled(path: str, as_json: bool) -> None:
    from ..export.artifacts import compiled_params

    facts = compiled_params(path)
    if as_json:
        typer.echo(json.dumps(facts, indent=2))
        return
    table = Table(title=f"{escape(path)}  [dim]compiled[/dim]", title_justify="left")
    table.add_column("")
    for role in facts:
        table.add_column(role, justify="right")
    fmt = lambda v: "?" if v is None else f"{v:,}"  # noqa: E731
    for label, key in (("source params", "params_source"), ("stored params (safetensors)", "params_stored"),
                       ("stored params (ONNX)", "params_onnx"), ("runtime params", "params_runtime"),
                       ("MACs / image (source)", "macs_before"), ("MACs / image (compiled)", "macs_after")):
        table.add_row(label, *(fmt(f.get(key)) for f in facts.values()))
    console.print(table)
    for role, f in facts.items():
        for t in f["derived_tensors"]:
            console.print(f"{role} {t['edge']}: {t['tensor']} {'×'.join(map(str, t['shape']))} computed from "
                          f"{t['computed_from']}", highlight=False, markup=False)
        for p, v in f["precision"].items():
            speed = "?" if v["speedup_vs_fp32"] is None else f"{v['speedup_vs_fp32']:.2f}×"
            console.print(f"{role} {p}: {v['file']}, PSNR {v['psnr_db']:.1f} dB against fp32 (max abs error "
                          f"{v['max_abs_err']:.2g}), {speed} fp32 onnxruntime images/s", highlight=False, markup=False)


# ---------------------------------------------------------------------------------------
# zoo / schema


@app.command()
def zoo(
    name: Optional[str] = typer.Argument(None, metavar="NAME", help="Print this entry as genotype JSON."),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the entry's JSON to this file."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """List the zoo, or print one entry as genotype JSON (a starting point for hand edits)."""
    from ..genotype_dsl.zoo import ENTRIES, zoo_genotype

    if name is None:
        if output is not None:
            raise GccGanError("-o needs a zoo entry NAME: gcc-gan zoo NAME -o FILE")
        table = Table(title="gcc-gan zoo (use as zoo:NAME)", title_justify="left")
        for col, just in (("name", "left"), ("description", "left"), ("G params", "right"),
                          ("G MACs", "right"), ("D params", "right")):
            table.add_column(col, justify=just)  # type: ignore[arg-type]
        for key, entry in ENTRIES.items():
            infos = analyze_genotype(entry.make())
            gi, di = infos.get("generator"), infos.get("discriminator")
            table.add_row(key, entry.description,
                          f"{gi.params / 1e6:.2f} M" if gi else "—",
                          f"{gi.macs / 1e9:.2f} G" if gi else "—",
                          f"{di.params / 1e6:.2f} M" if di else "—")
        console.print(table)
        return
    g = zoo_genotype(name.removeprefix("zoo:"))
    if output is None:
        typer.echo(g.to_json(), nl=False)
    else:
        save_genotype(g, _out_path(output, force))
        typer.echo(f"wrote {output}")


@app.command()
def schema(
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="Write the schema to this file."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Print the JSON Schema of genotype files."""
    text = json.dumps(json_schema(), indent=2) + "\n"
    if output is None:
        typer.echo(text, nl=False)
    else:
        atomic_write_text(_out_path(output, force), text)
        typer.echo(f"wrote {output}")


# ---------------------------------------------------------------------------------------
# render


class NetChoice(str, Enum):
    g = "g"
    d = "d"
    generator = "generator"
    discriminator = "discriminator"


@app.command()
def render(
    genotype: str = typer.Argument(..., metavar="FILE|zoo:NAME", help="Genotype JSON file or zoo entry."),
    output: Path = typer.Option(..., "-o", "--output", help="Picture to write: .png, .svg or .pdf."),
    net: Optional[NetChoice] = typer.Option(None, "--net", help="Network to draw (default: the generator "
                                            "if there is one, else the discriminator)."),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Draw a network's DAG: nodes with shapes, edges with their op pipelines."""
    from ..viz import picture_format, render_genotype

    picture_format(output)  # reject an unknown extension before any work
    _out_path(output, force)
    g, infos = load_and_analyze(genotype)
    key = {"g": "generator", "d": "discriminator"}.get(net.value, net.value) if net else next(iter(infos))
    render_genotype(g, infos, output, net=key)
    typer.echo(f"wrote {output}")


# ---------------------------------------------------------------------------------------
# convert


class Format(str, Enum):
    autogan = "autogan"
    adversarialnas = "adversarialnas"


class Dataset(str, Enum):
    cifar10 = "cifar10"
    stl10 = "stl10"


SEARCHER = {"autogan": "autogan", "adversarialnas": "adversarial"}
DEFAULT_LATENT = {"autogan": 128, "adversarialnas": 120}


def _int_list(value: Any, where: str) -> Any:
    """Nested lists of integers (integral floats accepted, e.g. from a float .npy)."""
    if isinstance(value, list):
        return [_int_list(v, where) for v in value]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise GccGanError(f"{where}: expected integers, got {value!r}")
    if isinstance(value, float) and not value.is_integer():
        raise GccGanError(f"{where}: expected integers, got {value!r}")
    return int(value)


def parse_arch_arg(text: str) -> Any:
    """An arch given as numbers ("1 0 1 1 ...", commas allowed), a JSON list, or a .json /
    .npy file, as (nested) lists of ints."""
    p = Path(text)
    if p.suffix.lower() in (".json", ".npy") or (p.exists() and not text.strip().startswith("[")):
        if not p.is_file():
            raise GccGanError(f"{p}: no such file")
        if p.suffix.lower() == ".npy":
            import numpy as np

            try:
                arr = np.load(p, allow_pickle=False)
            except (ValueError, OSError, EOFError) as e:
                raise GccGanError(f"{p}: not a readable numeric .npy array ({e})") from None
            if not isinstance(arr, np.ndarray) or arr.dtype.kind not in "iuf":
                raise GccGanError(f"{p}: expected a numeric array, got dtype {getattr(arr, 'dtype', '?')}")
            return _int_list(arr.tolist(), str(p))
        try:
            value = json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise GccGanError(f"{p}: not a JSON list of integers ({e})") from None
        if isinstance(value, dict) and "arch" in value:  # an encoding record
            value = value["arch"]
        return _int_list(value, str(p))
    s = text.strip()
    if s.startswith("["):
        try:
            return _int_list(json.loads(s), "ARCH")
        except json.JSONDecodeError as e:
            raise GccGanError(f"ARCH is not a valid JSON list: {e}") from None
    parts = [x for x in re.split(r"[\s,]+", s) if x]
    if not parts:
        raise GccGanError("ARCH is empty; give numbers like \"1 0 1 1 1 0 0 1 1 1 0 1 0 3\"")
    try:
        return [int(x) for x in parts]
    except ValueError:
        raise GccGanError(f"ARCH must be integers separated by spaces or commas, a JSON list, or a .json/.npy "
                          f"file; got {text!r}") from None


def _flatten(v: Any) -> list[int]:
    return [x for item in v for x in _flatten(item)] if isinstance(v, list) else [v]


def _shape_for(fmt: str, arch: Any) -> Any:
    """AutoGAN wants a flat vector; AdversarialNAS rows of 7 (a flat 21 is reshaped)."""
    if fmt == "autogan":
        return _flatten(arch)
    if isinstance(arch, list) and arch and all(isinstance(a, int) for a in arch):
        if len(arch) % 7:
            raise GccGanError(f"an AdversarialNAS genotype has 7 op indices per cell; got {len(arch)} numbers")
        return [arch[i:i + 7] for i in range(0, len(arch), 7)]
    if not isinstance(arch, list):
        raise GccGanError("an AdversarialNAS genotype is a list of rows of 7 integers")
    return arch


@app.command()
def convert(
    fmt: Format = typer.Argument(..., metavar="FORMAT", help="autogan or adversarialnas."),
    arch: str = typer.Argument(..., metavar="ARCH", help="Numbers (\"1 0 1 1 ...\", commas allowed), a JSON "
                               "list (\"[[1,1,1,0,3,3,1],...]\"), or a .json/.npy file."),
    output: Path = typer.Option(..., "-o", "--output", help="Genotype JSON file to write."),
    gf: int = typer.Option(256, "--gf", min=1, max=65536, help="Generator base width."),
    latent: Optional[int] = typer.Option(None, "--latent", min=1, max=65536,
                                         help="Latent size (default: 128 autogan, 120 adversarialnas)."),
    bottom: int = typer.Option(4, "--bottom", min=1, max=1024, help="Spatial size of the first feature map."),
    dataset: Dataset = typer.Option(Dataset.cifar10, "--dataset", help="Dataset variant (AdversarialNAS "
                                    "splits the latent 3 ways for cifar10, 2 for stl10)."),
    with_d: Optional[str] = typer.Option(None, "--with-d", metavar="FILE|zoo:NAME",
                                         help="Also include this genotype's discriminator (e.g. zoo:sngan-d)."),
    name: Optional[str] = typer.Option(None, "--name", help="Genotype name (default: the output file's stem)."),
    widths: Optional[str] = typer.Option(None, "--widths", metavar="W1,W2,W3", help=(
        "autogan: per-cell width multipliers of gf (a budgeted search's topk.json `widths`, e.g. 0.25,0.25,0.5)")),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
) -> None:
    """Convert a published AutoGAN arch vector or AdversarialNAS genotype into a genotype file."""
    from ..genotype_dsl.encodings import adversarialnas_generator, autogan_generator

    if widths is not None and fmt is not Format.autogan:
        raise GccGanError("--widths applies to autogan arch vectors (a budgeted AutoGAN search's cell widths)")
    _out_path(output, force)
    raw = _shape_for(fmt.value, parse_arch_arg(arch))
    z = latent if latent is not None else DEFAULT_LATENT[fmt.value]
    if fmt is Format.autogan:
        try:
            ws = None if widths is None else [float(w) for w in widths.split(",")]
        except ValueError:
            raise GccGanError(f"--widths {widths!r}: comma-separated numbers, one per cell (e.g. 1,0.5,0.25)") from None
        native = autogan_generator(raw, gf=gf, latent=z, bottom=bottom, widths=ws)
    else:
        native = adversarialnas_generator(raw, gf=gf, latent=z, bottom=bottom, dataset=dataset.value)
    disc = None
    if with_d is not None:
        dg, _ = load_and_analyze(with_d)
        if dg.discriminator is None:
            raise GccGanError(f"{with_d} has no discriminator")
        disc = dg.discriminator
    try:
        g = Genotype(name=name or output.stem, generator=native.network, discriminator=disc,
                     provenance=Provenance(searcher=SEARCHER[fmt.value], dataset=dataset.value,
                                           encoding=native.encoding,
                                           notes=f"converted by gcc-gan convert {fmt.value}"))
    except ValidationError as e:
        raise GenotypeError(problems_from_validation(e), source=str(output)) from None
    infos = analyze_genotype(g)
    if disc is not None:
        img = next(iter(infos["generator"].output_shapes.values()))
        want = next(iter(infos["discriminator"].input_shapes.values()))
        if img != want:
            raise GccGanError(f"the generator makes {fmt_shape(img)} images but the discriminator of {with_d} "
                              f"reads {fmt_shape(want)}")
    save_genotype(g, output)
    gi = infos["generator"]
    typer.echo(f"wrote {output}: generator {gi.params:,} params, {gi.macs / 1e6:.1f} M MACs")
