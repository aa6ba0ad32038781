"""`op_probabilities.png`: every searched edge's op probabilities over the run, as small
multiples (one panel per edge, one row per cell, one colour per op name throughout), and
for random search `candidates.png` (each sampled architecture's proxy score)."""

from __future__ import annotations

import io
import json
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ..atomic import atomic_write_bytes

PALETTE = ["#8C8C8C", "#000000", "#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3",
           "#CCB974", "#64B5CD", "#17BECF", "#BCBD22", "#FF7F0E", "#2CA02C"]


def _read(path: Path) -> list[dict]:
    rows = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass
    return rows


def _save(fig: Figure, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, facecolor="white", metadata={"Software": None})
    atomic_write_bytes(path, buf.getvalue())


def plot_history(history: Path, op_names: dict[str, dict[str, list[str]]], out: Path, method: str) -> None:
    rows = _read(history)
    if not op_names:
        _plot_candidates(rows, out / "candidates.png")
        return
    steps = [r["step"] for r in rows]
    colours: dict[str, str] = {}
    for net in op_names.values():
        for names in net.values():
            for n in names:
                colours.setdefault(n, PALETTE[len(colours) % len(PALETTE)])
    # one row per (network, cell) — the edge name up to its last dot
    grid: list[tuple[str, str, list[str]]] = []
    for net, edges in op_names.items():
        cells: dict[str, list[str]] = {}
        for e in edges:
            cells.setdefault(e.rsplit(".", 1)[0], []).append(e)
        grid += [(net, c, es) for c, es in cells.items()]
    ncol = max(len(es) for _, _, es in grid)
    ncol = max(ncol, 5)  # room for the title and legend
    height = 1.45 * len(grid) + 1.2
    fig = Figure(figsize=(1.9 * ncol + 0.8, height))
    axes = fig.subplots(len(grid), ncol, squeeze=False, sharex=True)
    for r, (net, cell, edges) in enumerate(grid):
        for c in range(ncol):
            ax = axes[r][c]
            if c >= len(edges):
                ax.set_axis_off()
                continue
            e = edges[c]
            names = op_names[net][e]
            for j, n in enumerate(names):
                ys = [row["probs"].get(net, {}).get(e, [0] * len(names))[j] for row in rows]
                ax.plot(steps, ys, color=colours[n], lw=1.3)
            best = max(range(len(names)), key=lambda j: rows[-1]["probs"][net][e][j]) if rows else 0
            # text, not set_title: title auto-positioning costs seconds over ~40 panels
            ax.text(0.5, 1.04, f"{e}\n→ {names[best]}", fontsize=7, ha="center", va="bottom",
                    transform=ax.transAxes)
            ax.yaxis.set_major_locator(MaxNLocator(3))
            ax.tick_params(labelsize=6)
            ax.axhline(1 / len(names), color="#BBBBBB", lw=0.8, ls="--")  # uniform
            ax.margins(x=0)
            ax.grid(alpha=0.25)
        axes[r][0].set_ylabel(f"{net[0].upper()}: p", fontsize=7)
    handles = [Line2D([], [], color=col, lw=2, label=n) for n, col in colours.items()]
    fig.suptitle(f"{method} search: op probabilities softmax(α) of each edge over iterations\n"
                 "panel title: edge → its most likely op; dashed: uniform; each panel scaled to its own range",
                 fontsize=8.5, y=1 - 0.08 / height)
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 1 - 0.42 / height),
               ncol=min(len(handles), 8), fontsize=7, frameon=False)
    # fixed margins in inches (tight_layout costs seconds with ~40 panels)
    w = 1.9 * ncol + 0.8
    fig.subplots_adjust(left=0.55 / w, right=1 - 0.1 / w, bottom=0.35 / height, top=1 - 1.25 / height,
                        wspace=0.35, hspace=0.75)
    _save(fig, out / "op_probabilities.png")


def _plot_candidates(rows: list[dict], path: Path) -> None:
    scores = rows[-1].get("scores", []) if rows else []
    fig = Figure(figsize=(5, 3))
    ax = fig.subplots()
    ax.bar(range(1, len(scores) + 1), scores, color="#4C72B0")
    if scores:
        best = min(range(len(scores)), key=scores.__getitem__)
        ax.bar([best + 1], [scores[best]], color="#C44E52", label="kept")
        ax.legend(fontsize=8)
    ax.set_xlabel("candidate")
    ax.set_ylabel("proxy: sliced Wasserstein (lower is better)", fontsize=8)
    ax.set_title("random search candidates", fontsize=9)
    fig.tight_layout()
    _save(fig, path)
