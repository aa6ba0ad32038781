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
