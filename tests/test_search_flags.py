"""A search flag the chosen search does not read is a usage error, never accepted and ignored
(search/base.py `refuse_unread`, `Searcher.settings`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import cli_flat

from gcc_gan.errors import BadValue
from gcc_gan.search.base import refuse_unread
from gcc_gan.search.registry import searcher_class

# one value per method-specific setting, as the CLI passes it
VALUES = {"sampling": "hard", "fixed_d": True, "mode": "faithful", "population": 4, "candidate_iters": 3,
          "supernet_iters": 5, "dg_k": 3, "dg_p": 0.5, "executor": "local", "address": "auto", "workers": 2}
TRIPLES = [("adversarialnas", "differentiable", None), ("degas", "differentiable", None),
           ("autogan", "reinforce", None), ("dggan", "growth", None), ("adversarialnas", "evolution", "standalone"),
           ("dggan", "random", "standalone"), ("degas", "evolution", "shared"), ("autogan", "random", "shared")]


@pytest.mark.parametrize("space,strategy,evaluator", TRIPLES)
def test_each_search_refuses_exactly_the_flags_it_does_not_read(space: str, strategy: str,
                                                                evaluator: str | None) -> None:
    from gcc_gan.search.config import resolve

    cls = searcher_class(*resolve(None, space, strategy, evaluator)[1:])
    triple = {"space": space, "strategy": strategy, "evaluator": evaluator}
    assert set(VALUES) >= set(cls.settings)
    for key, value in VALUES.items():
        if key in cls.settings:
            refuse_unread(None, {**triple, key: value})  # read: accepted
        else:
            with pytest.raises(BadValue, match="not read by a search of"):
                refuse_unread(None, {**triple, key: value})


def test_the_cli_refuses_an_unread_flag_before_writing_anything(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    r = cli_flat(capsys, "search", "--method", "adversarial", "--population", "4", "--k", "2", "-o", out)
    assert r.code == 2 and "Traceback" not in r.err
    assert "--k, --population: not read by a search of --space adversarialnas --strategy differentiable" in r.err
    assert "preset tiny" not in r.err and not out.exists()  # the usage error alone, nothing written


def test_the_next_step_trains_first_when_the_search_ships_no_weights(tmp_path: Path) -> None:
    """A supernet's derivation or a one-shot winner has no trained weights: compiling it alone
    would deploy random weights, so the hint trains it first; with weights, it compiles them."""
    from gcc_gan.cli.search_cmd import next_steps

    g, run = tmp_path / "run" / "genotype.json", tmp_path / "run"
    bare = next_steps(g, run, "", "digits")
    assert f"gcc-gan train {g} --data digits -o {run / 'trained'}" in bare
    assert f"gcc-gan compile {g} --weights {run / 'trained'} -o {run / 'compiled'}" in bare
    shipped = next_steps(g, run, f" --weights {run}", "digits")
    assert shipped.strip() == f"next:     gcc-gan compile {g} --weights {run} -o {run / 'compiled'}"
