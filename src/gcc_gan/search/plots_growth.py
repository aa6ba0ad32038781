"""Pictures of a DGGAN (or random DGGAN-space) search, from its candidate records:

* `growth_tree.png`: one column per step, one dot per candidate (colour: normalised score,
  grey: failed/diverged), lines to the parent; the winner's route in thick red;
* `score_vs_ratio.png`: score against the G:D parameter ratio (log2), one colour per
  resolution (the paper's G:D analysis);
* `score_by_action.png`: normalised score by the action that made the child (G-conv, D-conv,
  FADE; the paper's per-action analysis), one dot per child plus the median.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from matplotlib import colormaps
from matplotlib.figure import Figure

from .plots import PALETTE, _save
from .spaces.dggan import Action

UNIT = {"fid": "FID", "swd": "SWD ×1e3", "swd-real": "swd-real ×1e3"}
BAD_COLOUR = {"collapsed": "#C44E52", "diverged": "#000000"}  # unhealthy candidates (search/health.py)


def _label(n: dict[str, Any]) -> str:
    a = n.get("action")
    if not a:
        return "base"
    return Action.from_dict(a).label


def plot_tree(nodes: list[dict[str, Any]], route: set[str], path: Path, metric: str) -> None:
    steps: dict[int, list[dict[str, Any]]] = {}
    for n in nodes:
        steps.setdefault(n["step"], []).append(n)
    pos: dict[str, tuple[float, float]] = {}
    for s, col in steps.items():
        col.sort(key=lambda n: (n.get("parent") or "", n["id"]))
        for i, n in enumerate(col):
            pos[n["id"]] = (s, (i + 0.5) / len(col))
    tall = max(len(c) for c in steps.values())
    fig = Figure(figsize=(2.2 * len(steps) + 3, max(4.0, 0.28 * tall + 2)))
    ax = fig.subplots()
    cmap = colormaps["viridis_r"]
    norms = [n["norm_score"] for n in nodes if n.get("norm_score") is not None]
    lo, hi = (min(norms), max(norms)) if norms else (0.0, 1.0)
    for n in nodes:
        p = n.get("parent")
        if p in pos:
            on = n["id"] in route and p in route
            (x0, y0), (x1, y1) = pos[p], pos[n["id"]]
            ax.plot([x0, x1], [y0, y1], color="#C44E52" if on else "#BBBBBB", lw=3 if on else 0.6,
                    zorder=3 if on else 1)
    for n in nodes:
        x, y = pos[n["id"]]
        v = n.get("norm_score")
        bad = BAD_COLOUR.get(n.get("status", ""))
        c = bad or ("#999999" if v is None else cmap((v - lo) / (hi - lo) if hi > lo else 0.5))
        on = n["id"] in route
        ax.scatter([x], [y], s=90 if on else 30, color=c, edgecolors="#C44E52" if on else "none",
                   linewidths=2, zorder=4, marker="X" if bad else "o")
        if on or len(steps.get(n["step"], [])) <= 12:
            res = n.get("resolution")
            ax.annotate(f"{_label(n)}\n{res}x{res}" if res else _label(n), (x, y), xytext=(6, 0),
                        textcoords="offset points", fontsize=7 if not on else 8, va="center",
                        color="#C44E52" if on else "#333333")
    if norms:
        from matplotlib.cm import ScalarMappable
        from matplotlib.colors import Normalize

        fig.colorbar(ScalarMappable(Normalize(lo, hi), cmap), ax=ax, fraction=0.025, pad=0.01,
                     label=f"normalised {UNIT[metric]}")
    ax.set_xticks(sorted(steps))
    ax.set_xticklabels([f"step {s}" if s else "base" for s in sorted(steps)])
    ax.set_yticks([])
    ax.set_xlim(-0.3, max(steps) + 0.9)
    title = "DGGAN top-K growth tree"
    ax.set_title(f"{title}: colour = {UNIT[metric]} / step median at that resolution (lower is better, "
                 "grey = failed or over budget)\nred X = collapsed, black X = diverged (never parents); "
                 "the winner's route in red", fontsize=9)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    _save(fig, path)


def plot_analysis(nodes: list[dict[str, Any]], out: Path, metric: str) -> None:
    from .plots import clip_to, edge_marks, robust_y

    scored = [n for n in nodes if n.get("score") is not None and n.get("g_params") and n.get("d_params")]
    ok = [n for n in scored if n.get("status", "ok") == "ok"]
    bad = [n for n in scored if n.get("status", "ok") != "ok"]
    fig = Figure(figsize=(7, 4.8))
    ax = fig.subplots()
    note = robust_y(ax, [n["score"] for n in ok]) if ok else ""
    lim = ax.get_ylim()
    for i, res in enumerate(sorted({n["resolution"] for n in ok})):
        pts = [n for n in ok if n["resolution"] == res]
        xs = [math.log2(n["g_params"] / n["d_params"]) for n in pts]
        ys, moved = clip_to([n["score"] for n in pts], lim)
        ax.scatter(xs, ys, color=PALETTE[2 + i % (len(PALETTE) - 2)], label=f"{res}x{res}", s=25)
        edge_marks(ax, xs, ys, moved)
    for st, col in BAD_COLOUR.items():  # drawn apart, at their score clipped into the healthy range
        pts = [n for n in bad if n.get("status") == st]
        if pts:
            ys, _ = clip_to([n["score"] for n in pts], lim)
            ax.scatter([math.log2(n["g_params"] / n["d_params"]) for n in pts], ys, marker="X", color=col, s=30,
                       label=f"{st} ({len(pts)}, never ranked)", clip_on=False)
    ax.set_ylim(*lim)
    n_bad = sum(1 for n in nodes if n.get("status") in BAD_COLOUR)
    ax.set_xlabel("log2(G params / D params)" + (f"\n{note}" if note else ""), fontsize=9)
    ax.set_ylabel(f"{UNIT[metric]} (lower is better)")
    ax.set_title(f"{UNIT[metric]} against the G:D parameter ratio\n{len(ok)} healthy candidates"
                 + (f"; {n_bad} collapsed/diverged (X, never ranked; y clipped to the healthy range)" if n_bad else ""),
                 fontsize=10)
    if scored:
        ax.legend(title="resolution", fontsize=8)
    fig.tight_layout()
    _save(fig, out / "score_vs_ratio.png")

    kinds = ["G-conv", "D-conv", "FADE"]
    fig = Figure(figsize=(7, 4.5))
    ax = fig.subplots()
    for i, k in enumerate(kinds):
        vals = [n["norm_score"] for n in ok if n.get("action") and n["action"]["kind"] == k
                and n.get("norm_score") is not None]
        xs = [i + 0.25 * ((j * 0.618) % 1 - 0.5) for j in range(len(vals))]
        ax.scatter(xs, vals, color=PALETTE[2 + i], s=22, alpha=0.8)
        if vals:
            med = sorted(vals)[len(vals) // 2]
            ax.plot([i - 0.3, i + 0.3], [med, med], color="black", lw=2)
            ax.annotate(f"n={len(vals)}", (i, max(vals)), xytext=(0, 6), textcoords="offset points",
                        ha="center", fontsize=8)
    ax.set_xticks(range(len(kinds)))
    ax.set_xticklabels(kinds)
    ax.axhline(1.0, color="#999999", lw=0.8, ls="--")
    ax.set_ylabel(f"normalised {UNIT[metric]} (score / step median at its resolution)")
    ax.set_title("children's normalised score by action kind (black: median; lower is better)", fontsize=10)
    fig.tight_layout()
    _save(fig, out / "score_by_action.png")
