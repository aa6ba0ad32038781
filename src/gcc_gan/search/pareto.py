"""Pareto output of a search: `pareto.csv` and `pareto.png` (score against compiled MACs, every
evaluated candidate, the front highlighted) and, with `--pareto K`, the K best front
candidates as `pareto/NAME.json`.

A searcher lists its candidates with `pareto_candidates(out)` → (candidates, score name,
higher is better). What a candidate's score is depends on the method, and each says so in
the CSV's `score` column name: the reward (AutoGAN: IS / 1/FID / −SWD), the proxy SWD
(random search), or — for the differentiable searchers, which never score an
architecture on its own — the architecture loss logged while that architecture was the
derived one (lower is better; comparable within the run only). The zoo's generators are
trained at other widths on other data, so no score of theirs is comparable: they are drawn
as labelled vertical lines at their compiled MACs (computed by the same cost model) when
they fall within 10× of the candidates' range.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..atomic import atomic_write_bytes, atomic_write_text
from ..compiler.cost import compiled_cost
from ..genotype_dsl.io import save_genotype
from ..genotype_dsl.model import Genotype, Network


@dataclass
class Candidate:
    name: str
    network: Network
    score: float
    step: int = 0
    macs: int = 0
    params: int = 0

    def __post_init__(self) -> None:
        if not self.macs:
            c = compiled_cost(self.network)
            self.macs, self.params = c.macs, c.params


def front(cands: list[Candidate], higher_better: bool) -> list[int]:
    """Indices of the non-dominated candidates (fewer MACs, better score), by MACs."""
    sign = 1.0 if higher_better else -1.0
    order = sorted(range(len(cands)), key=lambda i: (cands[i].macs, -sign * cands[i].score))
    out: list[int] = []
    best = -math.inf
    for i in order:
        s = sign * cands[i].score
        if s > best:
            out.append(i)
            best = s
    return out


def dedupe(cands: list[Candidate], higher_better: bool) -> list[Candidate]:
    """One row per distinct architecture: its best score (first seen name and step)."""
    seen: dict[str, Candidate] = {}
    for c in cands:
        key = c.network.model_dump_json()
        old = seen.get(key)
        if old is None or (c.score > old.score if higher_better else c.score < old.score):
            seen[key] = c if old is None else Candidate(old.name, c.network, c.score, old.step, c.macs, c.params)
    return list(seen.values())


def zoo_points() -> list[tuple[str, int]]:
    from ..genotype_dsl.zoo import ENTRIES, zoo_genotype

    out = []
    for name in ENTRIES:
        g = zoo_genotype(name).generator
        if g is not None:
            out.append((name, compiled_cost(g).macs))
    return out


def write_csv(path: Path, cands: list[Candidate], on_front: set[int], score_name: str) -> None:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["name", "step", "compiled_macs", "compiled_params", score_name, "pareto"])
    for i, c in enumerate(cands):
        w.writerow([c.name, c.step, c.macs, c.params, f"{c.score:.6g}", int(i in on_front)])
    atomic_write_text(path, buf.getvalue())


def zoo_label_groups(zoo: list[tuple[str, float]], xlim: tuple[float, float],
                     min_frac: float = 0.03) -> list[tuple[float, list[str]]]:
    """Zoo lines (name, x) grouped where their labels would overlap: x within `min_frac` of
    the log x axis of each other (autogan-a and autogan-c compile to the same MACs, sngan
    and autogan-b within 8%) share one label, names stacked side by side."""
    span = math.log10(xlim[1] / xlim[0]) or 1.0
    groups: list[tuple[float, list[str]]] = []
    for name, x in sorted(zoo, key=lambda t: t[1]):
        if groups and math.log10(x / groups[-1][0]) / span < min_frac:
            groups[-1][1].append(name)
        else:
            groups.append((x, [name]))
    return groups


def plot(path: Path, cands: list[Candidate], idx: list[int], score_name: str, higher_better: bool,
         title: str, budget_macs: int | None = None, zoo: list[tuple[str, int]] | None = None,
         emitted: int | None = None) -> Any:
    """Draw the candidates, the front and the zoo/budget lines; write `path` and return the
    matplotlib Figure (so tests can check what was drawn, not just that a PNG exists).
    `emitted`: the index of the candidate the run wrote as genotype.json (a star)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    from .plots import clip_to, edge_marks, robust_y

    fig = Figure(figsize=(7.5, 4.8))
    ax = fig.add_subplot(1, 1, 1)
    xs = [c.macs / 1e6 for c in cands]
    note = robust_y(ax, [c.score for c in cands])  # an exploding score cannot flatten the others
    lim = ax.get_ylim()
    ys, moved = clip_to([c.score for c in cands], lim)
    ax.scatter(xs, ys, s=22, color="#8C8C8C", alpha=0.7, label=f"candidates ({len(cands)})", zorder=2)
    edge_marks(ax, xs, ys, moved)
    fx, fy = [cands[i].macs / 1e6 for i in idx], [ys[i] for i in idx]
    ax.plot(fx, fy, "-o", color="#C44E52", ms=6, lw=1.5, label=f"Pareto front ({len(idx)})", zorder=3,
            drawstyle="steps-post")
    if emitted is not None:
        ax.scatter([xs[emitted]], [ys[emitted]], marker="*", s=260, color="#E8B100", edgecolors="black",
                   linewidths=0.8, zorder=6, label=f"emitted genotype ({cands[emitted].name})")
    ax.set_ylim(*lim)
    if budget_macs is not None:
        ax.axvline(budget_macs / 1e6, color="#4C72B0", ls="--", lw=1.2, label=f"--max-macs {budget_macs / 1e6:.4g} M",
                   zorder=1)
    lo, hi = min(xs), max(xs)
    shown = [(n, m / 1e6) for n, m in zoo or [] if lo / 10 <= m / 1e6 <= hi * 10]
    for _, m in shown:
        ax.axvline(m, color="#55A868", ls=":", lw=1)
    ax.set_xscale("log")
    xlabel = "compiled MACs per image (M, log scale)"
    if zoo and not shown:  # below the axis, where it cannot cover a point
        ms = [m / 1e6 for _, m in zoo]
        xlabel += f"\nzoo generators: {min(ms):.0f}–{max(ms):.0f} M compiled MACs, outside this range"
    # tick labels of one size; on a wide range only 2× and 5× minor ticks are labelled (90 and
    # 100, 900 and 1000 ran into each other)
    fmt = FuncFormatter(lambda v, _: f"{v:g}")
    ax.xaxis.set_major_formatter(fmt)
    ax.autoscale_view()
    x0, x1 = ax.get_xlim()
    wide = math.log10(x1 / x0) > 1.0
    ax.xaxis.set_minor_locator(LogLocator(base=10, subs=(2.0, 5.0) if wide else tuple(range(2, 10)), numticks=20))
    ax.xaxis.set_minor_formatter(fmt)
    ax.tick_params(axis="x", which="both", labelsize=8)
    if shown:  # zoo names on a top axis, outside the data: grouped where they would overlap
        top = ax.secondary_xaxis("top")
        groups = zoo_label_groups(shown, (x0, x1))
        top.set_xticks([x for x, _ in groups], labels=["\n".join(names) for _, names in groups])
        top.xaxis.set_minor_formatter(NullFormatter())
        top.tick_params(axis="x", which="minor", length=0)
        top.tick_params(axis="x", which="major", labelsize=7, labelcolor="#2E6B3A", color="#55A868", rotation=90)
    ax.set_xlabel(xlabel + (f"\n{note}" if note else ""))
    unit = " ×1e3" if score_name.startswith("swd") else ""  # every SWD is stored and shown x 1e3
    ax.set_ylabel(f"{score_name}{unit} ({'higher' if higher_better else 'lower'} is better)")
    ax.set_title(title + ("\nzoo generators (dotted): compiled MACs only; their scores are not comparable"
                          if shown else ""), fontsize=10)
    ax.grid(True, which="both", alpha=0.25)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, facecolor="white", metadata={"Software": None})
    atomic_write_bytes(path, buf.getvalue())
    return fig


def write_pareto(searcher: Any, cfg: Any, out: Path, final: Genotype, k: int = 0) -> list[Candidate]:
    """pareto.csv, pareto.png and (k > 0) pareto/NAME.json for a finished search."""
    found = searcher.pareto_candidates(out)
    if found is None:
        return []
    cands, score_name, higher = found
    cands = dedupe(cands, higher)
    if not cands:
        return []
    idx = front(cands, higher)
    write_csv(out / "pareto.csv", cands, set(idx), score_name)
    zoo = [(n, m) for n, m in zoo_points()]
    emitted = emitted_index(cands, final)
    plot(out / "pareto.png", cands, idx, score_name, higher,
         f"{cfg.method} search: {len(cands)} candidate{'s' * (len(cands) != 1)}, compiled cost vs "
         f"{score_name}\n(collapsed or diverged candidates are never listed)", cfg.max_macs, zoo, emitted)
    if k > 0:  # within the budget's MACs / params (latency is measured for the final genotype only)
        ok = [i for i in idx if (cfg.max_macs is None or cands[i].macs <= cfg.max_macs)
              and (cfg.max_params is None or cands[i].params <= cfg.max_params)]
        best = sorted(ok, key=lambda i: -cands[i].score if higher else cands[i].score)[:k]
        for i in best:
            c = cands[i]
            prov = final.provenance.model_copy(update={
                "metrics": {score_name: c.score},
                "search_cost": {**final.provenance.search_cost, "compiled_macs": float(c.macs),
                                "compiled_params": float(c.params), "pareto_step": float(c.step)},
                "encoding": None, "notes": f"Pareto-front candidate {c.name} of {out}"})
            save_genotype(Genotype(name=c.name, generator=c.network, discriminator=final.discriminator,
                                   provenance=prov), out / "pareto" / f"{c.name}.json")
    return cands


def emitted_index(cands: list[Candidate], final: Genotype) -> int | None:
    """The candidate whose generator is the emitted genotype's (None if it is none of them,
    e.g. a differentiable search's final derivation that no logged step derived)."""
    if final.generator is None:
        return None
    key = final.generator.model_dump_json()
    return next((i for i, c in enumerate(cands) if c.network.model_dump_json() == key), None)


def history_candidates(out: Path, score_key: str, build: Any, prefix: str) -> list[Candidate]:
    """The differentiable searchers' candidates: the architecture derived at each logged
    step (`derived` in history.jsonl; `build` rebuilds it from the record) with that step's
    `score_key`."""
    from .plots import read_history

    cands = []
    for rec in read_history(out / "history.jsonl"):
        if "derived" not in rec or score_key not in rec:
            continue
        net = build(rec)
        if net is not None:
            cands.append(Candidate(f"{prefix}-step{rec['step']}", net, float(rec[score_key]), int(rec["step"])))
    return cands
