"""IS-vs-size and FID-vs-size plots: one curve per genotype on shared axes."""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any, Sequence

from ..atomic import atomic_write_bytes


def plot_metric(rows: Sequence[dict[str, Any]], metric: str, ylabel: str, path: Path, title: str,
                unavailable: str | None = None, better: str = "higher is better") -> Any:
    """`rows` are results.csv rows (dicts). Points are at the ACHIEVED size; failed or
    unevaluated candidates are left out of the curve and counted in the legend. Returns the
    matplotlib Figure (also written to `path`)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.4), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    labels = list(dict.fromkeys(r["genotype"] for r in rows))
    sizes = [float(r["params"]) / 1e6 for r in rows if r.get("params") not in (None, "")]
    drawn = 0
    markers = "osD^vP*X"
    for i, label in enumerate(labels):
        mine = sorted((r for r in rows if r["genotype"] == label), key=lambda r: float(r["params"]))
        pts = [(float(r["params"]) / 1e6, float(r[metric])) for r in mine
               if r.get("status") == "ok" and r.get(metric) not in (None, "")
               and math.isfinite(float(r[metric]))]
        missing = len(mine) - len(pts)
        name = label + (f" ({missing} of {len(mine)} without {ylabel.split(' ')[0]})" if missing and pts else "")
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, marker=markers[i % len(markers)], label=name)
            drawn += 1
    if sizes:
        lo, hi = min(sizes), max(sizes)
        log = hi / lo > 3
        if log:
            ax.set_xscale("log")
            ax.set_xlim(lo / 1.25, hi * 1.25)
        else:
            pad = (hi - lo) * 0.08 or lo * 0.1
            ax.set_xlim(lo - pad, hi + pad)
        # ticks at the target sizes, written plainly (not 4×10⁻¹)
        from matplotlib.ticker import FixedLocator, NullFormatter, NullLocator

        targets = sorted({float(r["target_m"]) for r in rows if r.get("target_m") not in (None, "")})
        ax.xaxis.set_major_locator(FixedLocator(targets))
        ax.set_xticklabels([f"{t:g}" for t in targets])
        ax.xaxis.set_minor_locator(NullLocator())
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("generator parameters (M)")
    ax.set_ylabel(f"{ylabel} ({better})")
    ax.ticklabel_format(axis="y", useOffset=False)  # IS 1.00005, not 0.00005 under a corner "+1"
    ax.set_title(title, fontsize=9)
    ax.grid(True, alpha=0.3, which="both")
    if drawn:
        ax.legend(fontsize=8)
    else:
        msg = unavailable or f"no candidate has {ylabel}"
        ax.text(0.5, 0.5, msg, transform=ax.transAxes, ha="center", va="center", wrap=True, fontsize=9,
                bbox=dict(boxstyle="round", facecolor="#fff4e0", edgecolor="#d08000"))
        ax.set_yticks([])
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())
    return fig
