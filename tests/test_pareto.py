"""pareto.csv rows and pareto.png labelling (search/pareto.py), without a search."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from gcc_gan.genotype_dsl.zoo import zoo_genotype
from gcc_gan.search.pareto import (
    Candidate,
    dedupe,
    front,
    plot,
    zoo_label_groups,
    zoo_points,
)


def test_dedupe_keeps_the_first_name_and_step() -> None:
    """A row's name (`NAME-stepN`, also its pareto/NAME.json) and step column agree."""
    net = zoo_genotype("dcgan").generator
    assert net is not None
    a = Candidate("adversarial-step5", net, 2.0, 5, 10, 1)
    b = Candidate("adversarial-step10", net, 0.5, 10, 10, 1)
    (row,) = dedupe([a, b], higher_better=False)
    assert (row.name, row.step, row.score) == ("adversarial-step5", 5, 0.5)


def test_zoo_labels_that_would_overlap_share_one() -> None:
    """autogan-a and autogan-c compile to the same MACs and sngan / autogan-b lie within 8%
    of them: drawn one per line their names overwrote each other."""
    zoo = [(n, m / 1e6) for n, m in zoo_points()]
    groups = zoo_label_groups(zoo, (80.0, 3000.0))
    names = [sorted(g) for _, g in groups]
    assert sorted(["autogan-a", "autogan-b", "autogan-c", "sngan"]) in names
    assert ["dcgan"] in names and ["adversarialnas"] in names
    assert sorted(n for g in names for n in g) == sorted(n for n, _ in zoo)
    # on a narrow axis the same MACs are far apart: each its own label
    assert len(zoo_label_groups([("a", 1000.0), ("b", 1080.0)], (950.0, 1150.0))) == 2


def test_plot_with_zoo_lines_and_budget(tmp_path: Path) -> None:
    """The figure shows every candidate, the front as a line through exactly the
    non-dominated ones, the budget at its MACs and each zoo generator in range as a dotted
    line with its name on the top axis (overlapping names grouped)."""
    net = zoo_genotype("dcgan").generator
    assert net is not None
    pts = [(300, 6.0), (400, 7.4), (1150, 8.7), (1900, 8.8), (2300, 9.0), (900, 6.5)]
    cands = [Candidate(f"c{i}", net, s, i, int(m * 1e6), 1) for i, (m, s) in enumerate(pts)]
    idx = front(cands, True)
    assert idx == [0, 1, 2, 3, 4]  # 900 M scoring 6.5 is dominated by 400 M scoring 7.4
    assert front(cands, False) == [0]  # lower is better: the cheapest, 6.0, beats every other
    zoo = zoo_points()
    fig = plot(tmp_path / "p.png", cands, idx, "reward_is", True, "t", 1_500_000_000, zoo)
    ax = fig.axes[0]
    (scatter,) = ax.collections
    assert scatter.get_label() == "candidates (6)"
    assert scatter.get_offsets().tolist() == [[m, s] for m, s in pts]
    by_label = {ln.get_label(): ln for ln in ax.lines}
    fr = by_label["Pareto front (5)"]
    assert list(fr.get_xdata()) == [300, 400, 1150, 1900, 2300]
    assert list(fr.get_ydata()) == [6.0, 7.4, 8.7, 8.8, 9.0]
    budget = by_label["--max-macs 1500 M"]
    assert list(budget.get_xdata()) == [1500, 1500] and budget.get_linestyle() == "--"
    dotted = sorted(ln.get_xdata()[0] for ln in ax.lines if ln.get_linestyle() == ":")
    assert dotted == pytest.approx(sorted(m / 1e6 for _, m in zoo))  # all within 10x of 300..2300 M
    assert ax.get_xscale() == "log"
    (top,) = ax.child_axes
    labels = [t.get_text().split("\n") for t in top.get_xticklabels()]
    assert sorted(map(sorted, labels)) == sorted([["adversarialnas"], ["dcgan"],
                                                  sorted(["autogan-a", "autogan-b", "autogan-c", "sngan"])])
    macs = dict(zoo)  # each group's tick at its first (smallest) member's MACs
    assert list(top.get_xticks()) == pytest.approx([macs["dcgan"] / 1e6, macs["sngan"] / 1e6,
                                                    macs["adversarialnas"] / 1e6])
    assert {t.get_text() for t in ax.get_legend().get_texts()} == {
        "candidates (6)", "Pareto front (5)", "--max-macs 1500 M"}
    with Image.open(tmp_path / "p.png") as im:  # the file written is this figure
        assert im.size == (825, 528)


def test_plot_zoo_out_of_range_is_named_below_the_axis(tmp_path: Path) -> None:
    """Zoo generators beyond 10x of the candidates' MACs get no line and no top axis, but the
    x label says where they are; with no budget there is no budget line."""
    net = zoo_genotype("dcgan").generator
    assert net is not None
    cands = [Candidate("a", net, 1.0, 0, 1_000_000, 1), Candidate("b", net, 0.5, 1, 2_000_000, 1)]
    fig = plot(tmp_path / "p.png", cands, front(cands, False), "arch_loss", False, "t", None, zoo_points())
    ax = fig.axes[0]
    assert not ax.child_axes
    assert [ln.get_label() for ln in ax.lines] == ["Pareto front (2)"]
    assert list(ax.lines[0].get_xdata()) == [1.0, 2.0]
    assert "zoo generators: 104–2168 M compiled MACs, outside this range" in ax.get_xlabel()
    assert ax.get_ylabel() == "arch_loss (lower is better)"
