"""The search run's pictures besides `genotype.png`: for the differentiable searchers
`op_probabilities.png`, every searched edge's op probabilities over the run as small
multiples (one panel per edge, one row per cell, one colour per op name throughout, one y
range for all panels); for random search `candidates.png`, each sampled architecture's
proxy score. Random search has no op probabilities: it samples every op uniformly by
design, and per-edge op counts over its handful of candidates would only show sampling
noise."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from ..atomic import atomic_write_bytes

PALETTE = ["#8C8C8C", "#000000", "#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3",
           "#CCB974", "#64B5CD", "#17BECF", "#BCBD22", "#FF7F0E", "#2CA02C"]


def read_history(path: Path) -> list[dict]:
    """The records of a run's history.jsonl (none if it is missing; a line a kill cut short
    is skipped). Every search picture and pareto.csv read it through this."""
    rows = []
    for line in path.read_text().splitlines() if path.is_file() else []:
        try:
            rows.append(json.loads(line))
        except ValueError:
            pass
    return rows


def robust_range(values: list[float], k: float = 10.0) -> tuple[float, float] | None:
    """A y range that an exploding or diverged value cannot stretch: the finite values within
    k = 10 median absolute deviations of the median (the MAD floored at 10% of |median|, so
    a tight cluster keeps its neighbours), padded by 5%. None when there are none. Robust
    with three points, where quartile fences are not."""
    import numpy as np

    v = np.asarray([x for x in values if x is not None and math.isfinite(x)], dtype=float)
    if not len(v):
        return None
    med = float(np.median(v))
    mad = max(float(np.median(np.abs(v - med))), 0.1 * abs(med), 1e-12)
    inside = v[np.abs(v - med) <= k * mad]
    lo, hi = float(inside.min()), float(inside.max())
    pad = 0.05 * (hi - lo) if hi > lo else 0.05 * max(abs(hi), 1.0)
    return lo - pad, hi + pad


def clip_to(values: list[float], lim: tuple[float, float]) -> tuple[list[float], list[bool]]:
    """Values clamped into `lim` (non-finite ones to the top), and which were moved."""
    lo, hi = lim
    out, moved = [], []
    for x in values:
        y = hi if x is None or not math.isfinite(x) else min(max(x, lo), hi)
        out.append(y)
        moved.append(y != x)
    return out, moved


def robust_y(ax, values: list[float]) -> str:
    """Set a robust y range (`robust_range`) on `ax`; returns the note to print on the plot
    ("" when every value is in range)."""
    lim = robust_range(values)
    if lim is None:
        return ""
    ax.set_ylim(*lim)
    n = sum(clip_to(values, lim)[1])
    return (f"y axis clipped to the robust range: {n} value{'s' * (n != 1)} beyond it drawn at the edge (open triangles)"
            if n else "")


def edge_marks(ax, xs: list[float], ys: list[float], moved: list[bool]) -> None:
    """Open triangles where `clip_to` moved a value onto the axis' edge."""
    top = ax.get_ylim()[1]
    for x, y, m in zip(xs, ys, moved):
        if m:
            ax.scatter([x], [y], marker="^" if y >= top else "v", s=40, facecolors="none", edgecolors="black",
                       zorder=5, clip_on=False)


def _save(fig: Figure, path: Path) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, facecolor="white", metadata={"Software": None})
    atomic_write_bytes(path, buf.getvalue())


MAX_TICKS = 16  # candidate numbers a candidates.png axis shows


def pictures(method: str, space: str | None = None, evaluator: str | None = None,
             strategy: str | None = None) -> list[str]:
    """The pictures a search run of `method` (in `space`) writes (besides samples.png)."""
    strategy = strategy or method
    if strategy in ("random", "evolution", "reinforce") and evaluator is not None and space is not None:
        from .registry import SPACES

        if evaluator == "standalone" or strategy not in SPACES.get(space).shared_searchers:  # search/candidates.py
            return ["genotype.png", "candidates.png"]
    if space == "autogan":  # the controller's (or random tokens') story
        return ["genotype.png", "controller.png"]
    if space == "dggan":  # the growth tree and the paper's analyses
        return ["genotype.png", "growth_tree.png", "score_vs_ratio.png", "score_by_action.png"]
    return ["genotype.png", "candidates.png" if method == "random" else "op_probabilities.png"]


def plot_history(history: Path, op_names: dict[str, dict[str, list[str]]], out: Path, method: str) -> None:
    """Write the run's pictures (`pictures(method)` but genotype.png) from its history."""
    rows = read_history(history)
    if not op_names:
        _save(candidates_figure(rows), out / "candidates.png")
        return
    _save(probabilities_figure(rows, op_names, method), out / "op_probabilities.png")


def probabilities_figure(rows: list[dict], op_names: dict[str, dict[str, list[str]]], method: str) -> Figure:
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
    # the panels show one x and one y range, set on each: sharex/sharey would propagate every
    # limit to every sibling (quadratic in the ~50 panels: it took seconds per picture)
    axes = fig.subplots(len(grid), ncol, squeeze=False)
    x_range = (min(steps), max(steps)) if len(set(steps)) > 1 else None
    # one y range for all panels, from 0: a ±0.005 wiggle must look as small as it is
    top = max((max(p) for row in rows for edges in row["probs"].values() for p in edges.values() if p),
              default=1.0)
    top = min(1.0, math.ceil(top * 10 + 1e-9) / 10)
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
            last = rows[-1]["probs"][net][e] if rows else [1 / len(names)] * len(names)
            best = max(range(len(names)), key=lambda j: last[j])
            # text, not set_title: title auto-positioning costs seconds over ~40 panels
            ax.text(0.5, 1.04, f"{e}\n→ {names[best]} {last[best]:.2f}", fontsize=7, ha="center", va="bottom",
                    transform=ax.transAxes)
            ax.set_ylim(0, top)
            if x_range:
                ax.set_xlim(*x_range)
            ax.yaxis.set_major_locator(MaxNLocator(4))
            ax.xaxis.set_major_locator(MaxNLocator(4, integer=True))  # iterations
            below = grid[r + 1][2] if r + 1 < len(grid) else []
            ax.tick_params(labelsize=6, labelleft=c == 0, labelbottom=c >= len(below))  # outer panels only
            ax.axhline(1 / len(names), color="#BBBBBB", lw=0.8, ls="--")  # uniform
            ax.grid(alpha=0.25)
        axes[r][0].set_ylabel(f"{net[0].upper()}: p", fontsize=7)
    handles = [Line2D([], [], color=col, lw=2, label=n) for n, col in colours.items()]
    fig.suptitle(f"{method} search: op probabilities softmax(α) of each edge over iterations\n"
                 f"panel title: edge → its most likely op and its probability; dashed: uniform (1/number of ops); "
                 f"all panels share the y range 0–{top:g}",
                 fontsize=8.5, y=1 - 0.08 / height)
    fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 1 - 0.42 / height),
               ncol=min(len(handles), 8), fontsize=7, frameon=False)
    # fixed margins in inches (tight_layout costs seconds with ~40 panels)
    w = 1.9 * ncol + 0.8
    fig.subplots_adjust(left=0.55 / w, right=1 - 0.1 / w, bottom=0.35 / height, top=1 - 1.25 / height,
                        wspace=0.35, hspace=0.75)
    return fig


STATUS_STYLE = {"ok": "#4C72B0", "collapsed": "#DD8452", "diverged": "#8C8C8C"}


def candidates_figure(rows: list[dict], title: str = "random search candidates",
                      ylabel: str = "swd-real ×1e3 (lower is better)", kept: int | None = None) -> Figure:
    """Each candidate's score (bars coloured by health; the kept one red: `kept`, else the
    lowest healthy score)."""
    scores = rows[-1].get("scores", []) if rows else []
    status = rows[-1].get("status", ["ok"] * len(scores)) if rows else []
    fig = Figure(figsize=(5.5, 3.4))
    ax = fig.subplots()
    note = robust_y(ax, scores)
    if scores and ax.get_ylim()[0] > 0:  # bars start at zero (a distance is never negative)
        ax.set_ylim(0, ax.get_ylim()[1])
    shown, moved = clip_to(scores, ax.get_ylim()) if scores else ([], [])
    xs = range(1, len(scores) + 1)
    ax.bar(xs, shown, color=[STATUS_STYLE.get(st, "#8C8C8C") for st in status])
    edge_marks(ax, list(xs), shown, moved)
    ok = [i for i, st in enumerate(status) if st == "ok"]
    best = kept if kept is not None else min(ok, key=scores.__getitem__) if ok else None
    if best is not None:
        ax.bar([best + 1], [shown[best]], color="#C44E52", label="kept")
    for st, col in STATUS_STYLE.items():
        if st != "ok" and st in status:
            ax.bar([0], [0], color=col, label=f"{st} (never kept)")
    if scores:
        ax.legend(fontsize=7, loc="lower right", framealpha=0.9)
    # candidates are numbered, not measured: every number up to MAX_TICKS candidates, else every
    # 2nd / 5th / 10th ... (48 numbers side by side overlapped into one unreadable row)
    step = next((k for k in (1, 2, 5, 10, 20, 50, 100, 200, 500) if len(scores) <= k * MAX_TICKS), 1000)
    ax.set_xticks([x for x in xs if x % step == 0])
    ax.set_xlim(0.4, len(scores) + 0.6)
    ax.set_xlabel("candidate" + (f"\n{note}" if note else ""), fontsize=8)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig
