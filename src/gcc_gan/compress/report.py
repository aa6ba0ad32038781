"""compress.csv, quality_vs_macs.png and report.json of a compress run."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_bytes, atomic_write_text

COLUMNS = ("budget", "method", "compiled_macs", "stored_params", "latency_ms_b1", "latency_ms_b64", "psnr_db",
           "metric", "value", "image_iterations", "genotype")
METHODS = ("distilled", "alone", "narrowed", "scratch")
LABELS = {"distilled": "distilled student (supernet, searched, fine-tuned)",
          "alone": "searched architecture distilled alone",
          "narrowed": "teacher uniformly narrowed, distilled alone",
          "scratch": "student architecture from scratch (GAN)"}


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "inf" if math.isinf(v) else f"{v:.6g}"
    return str(v)


def write_csv(rows: Sequence[dict[str, Any]], path: Path) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(COLUMNS)
    for r in rows:
        w.writerow([_cell(r.get(c)) for c in COLUMNS])
    atomic_write_text(path, buf.getvalue())


def write_json(doc: dict[str, Any], path: Path) -> None:
    atomic_write_text(path, json.dumps(doc, indent=1, allow_nan=True) + "\n")


def plot_quality(rows: Sequence[dict[str, Any]], metric: str, path: Path, title: str) -> None:
    """The metric against compiled MACs: one line per method over the budgets, the teacher
    as a point."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.4), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    markers = {"distilled": "o", "alone": "D", "narrowed": "s", "scratch": "^"}
    for m in METHODS:
        pts = sorted((r["compiled_macs"] / 1e6, r["value"]) for r in rows
                     if r["method"] == m and r.get("value") is not None and math.isfinite(r["value"]))
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, marker=markers[m], label=LABELS[m])
    teacher = [r for r in rows if r["method"] == "teacher"]
    if teacher and teacher[0].get("value") is not None:
        t = teacher[0]
        ax.plot([t["compiled_macs"] / 1e6], [t["value"]], marker="*", markersize=14, linestyle="none",
                color="black", label="teacher")
    xs_all = [r["compiled_macs"] / 1e6 for r in rows if r.get("compiled_macs")]
    if xs_all and max(xs_all) / min(xs_all) > 3:
        from matplotlib.ticker import FuncFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))  # 2, not 2×10⁰
        # minor ticks labelled at 2 and 5 (×10ⁿ) only: 9 and 10 side by side overlap
        ax.xaxis.set_minor_formatter(FuncFormatter(lambda v, _pos: f"{v:g}" if f"{v:.0e}"[0] in "25" else ""))
    ax.set_xlabel("compiled MACs per image (M)")
    ax.set_ylabel(f"{metric.upper()} vs reference (lower is better)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())
