"""`controller.png` of a REINFORCE (AutoGAN) search: top row reward, baseline and entropy
per controller step; below, one row per cell, each token's choice probabilities over the
run (the controller of that cell's stage, along its most likely sequence). Solid grey lines
mark growths, dashed red lines dynamic resets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.figure import Figure

from .plots import PALETTE, _save, clip_to, edge_marks, read_history, robust_y
from .spaces.autogan import TOKEN_NAMES, TOKEN_VALUES


def _choice_names(token: str, n: int) -> list[str]:
    kind = token.split(".", 1)[1]
    if kind == "skip":  # bitmask, most significant bit = cell 1
        return [format(v, f"0{max(1, (n - 1).bit_length())}b") for v in range(n)]
    return list(TOKEN_VALUES[kind])


def plot_controller(history: Path, rewards: list[dict[str, Any]], events: list[dict[str, Any]], path: Path) -> None:
    rows = read_history(history)
    # a budgeted search also picks each cell's width (spaces/autogan.py): one more column
    kinds = TOKEN_NAMES + (("width",) if any(k.endswith(".width") for r in rows for k in r.get("tokens", {})) else ())
    fig = Figure(figsize=(13 * len(kinds) / 5, 9.5))
    axes = fig.subplots(4, len(kinds), squeeze=False)
    grows = [e["step"] for e in events if e["kind"] == "grow"]
    resets = [e["step"] for e in events if e["kind"] == "reset"]

    def marks(ax: Any) -> None:
        for g in grows:
            ax.axvline(g, color="#888888", lw=1)
        for r in resets:
            ax.axvline(r, color="#C44E52", lw=1, ls="--")

    end = max([r["step"] for r in rows] + [r["step"] for r in rewards] + [1])
    notes = []
    for c, (key, label) in enumerate((("reward", "reward"), ("total", "reward + entropy bonus"),
                                      ("baseline", "baseline (mean)"), ("entropy", "entropy Σ_t H_t"))):
        ax = axes[0][c]
        pts = [(r["step"], r[key]) for r in rewards if r.get(key) is not None]  # diverged children: no reward
        note = robust_y(ax, [y for _, y in pts]) if pts else ""
        if pts:
            ys, moved = clip_to([y for _, y in pts], ax.get_ylim())
            ax.plot([x for x, _ in pts], ys, lw=1.2, color=PALETTE[2 + c], marker=".", ms=3)
            edge_marks(ax, [x for x, _ in pts], ys, moved)
        bad = [r for r in rewards if r.get("status", "ok") != "ok"]
        if key == "reward" and bad:  # collapsed / diverged children: marked on the reward panel's floor
            lo = ax.get_ylim()[0]
            ax.scatter([r["step"] for r in bad], [lo] * len(bad), marker="x", color="#C44E52", s=18, clip_on=False,
                       zorder=5)
            notes.append(f"red x: {len(bad)} collapsed/diverged children (never in a top-K)")
        if note:
            notes.append(f"{label}: {note}")
        ax.text(0.5, 1.03, label, fontsize=8, ha="center", va="bottom", transform=ax.transAxes)
        ax.set_xlim(0, end)
        marks(ax)
        ax.tick_params(labelsize=6)
    for c in range(4, len(kinds)):
        axes[0][c].set_axis_off()
    axes[0][4].text(0, 0.5, "grey: growth (new stage, new controller)\nred dashed: dynamic reset\n"
                    "token panels: the controller's\nprobabilities along its most\nlikely sequence", fontsize=7)
    for cell in range(3):
        for t, kind in enumerate(kinds):
            ax = axes[cell + 1][t]
            name = f"cell{cell + 1}.{kind}"
            pts = [(r["step"], r["tokens"][name]) for r in rows if name in r.get("tokens", {})]
            if cell == 0 and kind == "skip":
                ax.set_axis_off()
                continue
            if pts:
                n = len(pts[0][1])
                for j, label in enumerate(_choice_names(name, n)):
                    ax.plot([p[0] for p in pts], [p[1][j] for p in pts], lw=1.2, color=PALETTE[(j + 2) % len(PALETTE)],
                            label=label)
                ax.axhline(1 / n, color="#BBBBBB", lw=0.8, ls=":")
                ax.legend(fontsize=5.5, frameon=False, loc="upper left")
            ax.set_ylim(-0.02, 1.02)
            ax.set_xlim(0, end)
            marks(ax)
            # text, not set_title: title auto-positioning costs seconds over 20 panels
            ax.text(0.5, 1.03, name, fontsize=8, ha="center", va="bottom", transform=ax.transAxes)
            ax.tick_params(labelsize=6)
    fig.suptitle("AutoGAN search: controller" + ("\n" + "; ".join(notes) if notes else ""), fontsize=9)
    fig.subplots_adjust(left=0.04, right=0.99, bottom=0.04, top=0.93, wspace=0.25, hspace=0.45)  # no tight_layout: slow
    _save(fig, path)
