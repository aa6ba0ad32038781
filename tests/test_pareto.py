"""pareto.csv rows and pareto.png labelling (search/pareto.py), without a search."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from gcc_gan.genotype_dsl.zoo import zoo_genotype
from gcc_gan.search.pareto import Candidate, dedupe, front, plot, zoo_label_groups, zoo_points


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
    net = zoo_genotype("dcgan").generator
    assert net is not None
    cands = [Candidate(f"c{i}", net, float(s), i, int(m * 1e6), 1)
             for i, (m, s) in enumerate([(300, 6.0), (400, 7.4), (1150, 8.7), (1900, 8.8), (2300, 9.0), (900, 6.5)])]
    plot(tmp_path / "p.png", cands, front(cands, True), "reward_is", True, "t", 1_500_000_000, zoo_points())
    with Image.open(tmp_path / "p.png") as im:
        assert im.size[0] > 700 and im.size[1] > 500
