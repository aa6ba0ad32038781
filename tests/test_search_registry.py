"""The search registries (search/registry.py) and the per-component settings (search/config.py):
names resolve or fail as usage errors, the pair matrix follows the declared capabilities,
`--method` contradicting an explicit flag is refused, and a bad setting names its path."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from conftest import cli_flat

from gcc_gan.errors import BadValue, GccGanError
from gcc_gan.search.config import COMPONENT, COMPONENTS, SearchConfig, make_config, resolve
from gcc_gan.search.registry import (CAPABILITIES, EVALUATORS, LEGACY_METHODS, METHOD_PRESETS, SPACES, STRATEGIES,
                                     Registry, check_pair, matrix, matrix_table)


def test_every_declared_capability_and_need_is_known() -> None:
    for name in SPACES.names():
        assert SPACES.get(name).capabilities <= set(CAPABILITIES), name
        assert SPACES.get(name).name == name
    for name in STRATEGIES.names():
        assert STRATEGIES.get(name).needs <= set(CAPABILITIES), name
    for name in EVALUATORS.names():
        assert EVALUATORS.get(name).needs <= set(CAPABILITIES), name


def test_the_matrix_is_the_capabilities_a_space_lacks() -> None:
    for (sp, st), lack in matrix().items():
        assert lack == STRATEGIES.get(st).needs - SPACES.get(sp).capabilities
    with pytest.raises(BadValue, match=r"the dggan space lacks what differentiable needs: .*\(relax\)"):
        check_pair("dggan", "differentiable")


def test_unknown_names_and_double_registration() -> None:
    with pytest.raises(BadValue, match="--space 'nope': expected one of adversarialnas, autogan, degas, dggan"):
        SPACES.get("nope")
    reg: Registry[type] = Registry("space", "gcc_gan.search.spaces")

    @reg.register("x")
    class A:
        pass

    class B:
        pass

    reg.register("x")(A)  # the same class again: fine (a module imported twice)
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("x")(B)


@pytest.mark.parametrize("method", sorted(METHOD_PRESETS))
def test_resolve_fills_the_triple_from_either_side(method: str) -> None:
    p = METHOD_PRESETS[method]
    assert resolve(method, None, None, None) == (method, p.space, p.strategy, p.evaluator)
    assert resolve(None, p.space, None, None) == (method, p.space, p.strategy, p.evaluator)
    assert resolve(None, None, p.strategy, None)[2] == p.strategy
    with pytest.raises(BadValue, match="contradicts it"):
        resolve(method, None, "random" if p.strategy != "random" else "growth", None)


def test_random_is_the_random_strategy() -> None:
    assert resolve("random", None, None, None) == ("random", "adversarialnas", "random", "standalone")
    assert resolve("random", "autogan", None, None) == ("random", "autogan", "random", "shared")
    with pytest.raises(BadValue, match="--method random is --strategy random"):
        resolve("random", None, "reinforce", None)
    with pytest.raises(BadValue, match="evaluates on its own terms"):
        resolve(None, "degas", "differentiable", "standalone")


def test_every_setting_has_one_component_and_errors_name_its_path() -> None:
    names = {f.name for f in dataclasses.fields(SearchConfig)}
    assert set(COMPONENT) == names and set(COMPONENT.values()) == set(COMPONENTS)
    comp = make_config("dggan", "tiny", {}).components()
    assert comp["strategy"]["dg_k"] == 2 and comp["space"]["space"] == "dggan" and comp["budget"]["max_macs"] is None
    for method, over, path in [("dggan", {"dg_k": 0}, "strategy.dg_k: --k 0"),
                               ("adversarial", {"iters": 0}, "run.iters: --iters 0"),
                               ("dggan", {"target": 12}, "space.target: "),
                               ("adversarial", {"reward": "glo"}, "evaluator.reward: --reward 'glo'")]:
        with pytest.raises(GccGanError) as e:
            make_config(method, "tiny", over)
        assert str(e.value).startswith(path), str(e.value)


def test_a_run_from_before_the_split_resumes_as_its_triple(tmp_path: Path) -> None:
    """search.json of a run made before the space x strategy split has only `method` (and,
    for random search, `space`): its triple is the method's."""
    for method, space, want in [("degas", "adversarialnas", ("degas", "differentiable", "glo")),
                                ("random", "dggan", ("dggan", "random", "swd")),  # the candidate preset's
                                ("autogan", "adversarialnas", ("autogan", "reinforce", "is"))]:
        old = {k: v for k, v in make_config(method, "tiny", {"space": space} if method == "random" else {})
               .to_dict().items() if k not in ("strategy", "evaluator")}
        old["space"], old["reward"] = space, old["reward"] if method != "degas" else "is"
        cfg = SearchConfig.from_dict(json.loads(json.dumps(old))).validate()
        assert (cfg.space, cfg.strategy, cfg.reward) == want and cfg.method == method


def test_each_component_checks_its_own_settings() -> None:
    """validate() runs the common checks and the run's space's, strategy's and evaluator's
    `check_config`: a component's settings are refused where that component runs, and only
    there (each with its path), whatever other component shares the run."""
    from gcc_gan.search.spaces.catalog import AutoGanSpace

    def fails(method: str | None, over: dict, start: str) -> None:
        with pytest.raises(GccGanError) as e:
            make_config(method, "tiny", over)
        assert str(e.value).startswith(start), str(e.value)

    # growth's own settings (strategies/growth.py): refused under growth, unread by random on the same space
    fails("dggan", {"dg_p": 0.0}, "strategy.dg_p: --p 0.0: must be in (0, 1]")
    make_config(None, "tiny", {"space": "dggan", "strategy": "random", "dg_p": 0.0})
    # the dggan space's (spaces/catalog.py): its routes, whatever the strategy
    fails(None, {"space": "dggan", "strategy": "random", "max_steps": 1}, "strategy.max_steps: max_steps 1: reaching")
    # the standalone evaluator's: its executor, for any strategy it trains the candidates of
    fails(None, {"space": "degas", "strategy": "evolution", "workers": 0}, "evaluator.workers: --workers 0")
    fails(None, {"space": "degas", "strategy": "random", "address": "x:1"}, "evaluator.address: --address is for")
    # a strategy that brings its own evaluator refuses another (a hand-edited search.json, say)
    with pytest.raises(GccGanError, match="^evaluator.evaluator: --strategy differentiable evaluates on its own terms"):
        dataclasses.replace(make_config("degas", "tiny", {}), evaluator="standalone").validate()
    # the differentiable strategy's objective
    fails("degas", {"reward": "hinge"}, "evaluator.reward: --reward 'hinge': the differentiable strategy on the degas")
    # AutoGAN's shared-GAN schedule: only where its shared-GAN searcher runs (AutoGanSpace.runs_shared_gan)
    bad = {"space": "autogan", "grow_at": (5, 2)}
    for strategy, evaluator in [("reinforce", "shared"), ("random", "shared")]:
        assert AutoGanSpace.runs_shared_gan(make_config(None, "tiny", {"space": "autogan", "strategy": strategy,
                                                                       "evaluator": evaluator}))
        fails(None, {**bad, "strategy": strategy, "evaluator": evaluator}, "strategy.grow_at: grow_at [5, 2]")
    for strategy, evaluator in [("reinforce", "standalone"), ("random", "standalone"), ("evolution", None)]:
        cfg = make_config(None, "tiny", {**bad, "strategy": strategy, "evaluator": evaluator})
        assert not AutoGanSpace.runs_shared_gan(cfg) and cfg.grow_at == (5, 2)


def test_every_component_class_declares_check_config() -> None:
    """The hook validate() calls on every registered space and strategy (the bases give a
    no-op): a class registered without it would fail validate() for any run using it."""
    for reg in (SPACES, STRATEGIES):
        for name in reg.names():
            assert callable(getattr(reg.get(name), "check_config", None)), name


# --------------------------------------------------------------------------- the CLI's choices


def test_the_cli_choices_are_the_registered_names() -> None:
    """The CLI reads the names from the decorators in the source (`declared()`, no torch at
    start-up): they must be exactly the classes that register when the modules are imported."""
    from gcc_gan.cli import search_cmd

    for reg in (SPACES, STRATEGIES, EVALUATORS):
        assert reg.declared() == reg.names(), reg.kind
    params = {p.name: p for p in _search_command().params}
    for opt, reg in (("space", SPACES), ("strategy", STRATEGIES), ("evaluator", EVALUATORS)):
        assert tuple(params[opt].type_descriptor.choices) == reg.names(), opt
    assert search_cmd.SpaceName.__args__ == SPACES.names()
    assert "differentiable, evolution, growth, random or reinforce" in params["strategy"].help  # --help names them


def _search_command() -> Any:
    import typer

    from gcc_gan.cli.app import app
    from gcc_gan.cli.main import _register

    _register()
    return typer.main.get_command(app).commands["search"]  # type: ignore[attr-defined]


def test_a_new_module_registering_a_class_is_read_without_importing_it(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """`scan_declared` finds every decorator form in any module of the packages (a new file
    needs no edit elsewhere), and imports none of them."""
    import sys

    from gcc_gan.search.registry import scan_declared

    pkg = tmp_path / "fake_search_pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "one.py").write_text('raise RuntimeError("imported")\n\n@register_space("zeta")\nclass Z:\n    pass\n'
                                '\n\n@register_strategy( "omega" )\nclass O:\n    pass\n')
    (pkg / "two.py").write_text('class Outer:\n    @EVALUATORS.register("inner")\n    class I:\n        pass\n\n'
                                'x = "@register_space(\'not-a-decorator\')"  # inside a string, not at a line start\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    found = scan_declared(("fake_search_pkg",))
    assert found == {"space": ("zeta",), "strategy": ("omega",), "evaluator": ("inner",)}
    assert "fake_search_pkg.one" not in sys.modules


def test_a_usage_error_comes_first_and_alone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No preset note (or anything else) before a usage error of the triple: unsupported
    pair, --method contradicting a flag, an evaluator a strategy does not take; an unknown
    name lists the registered ones."""
    for args, fragment in [(("--space", "dggan", "--strategy", "reinforce"), "the dggan space lacks what reinforce"),
                           (("--method", "dggan", "--strategy", "random"), "--strategy random contradicts it"),
                           (("--strategy", "growth", "--evaluator", "shared"), "evaluates on its own terms"),
                           (("--space", "nope"), "'adversarialnas', 'autogan', 'degas', 'dggan'")]:
        r = cli_flat(capsys, "search", *args, "--device", "cpu", "-o", tmp_path / "run")
        assert r.code == 2 and fragment in r.err, r.err
        assert "preset" not in r.err and "Traceback" not in r.err and not r.out, r.err
        assert r.err.lstrip().startswith(("Error:", "Usage:")), r.err
    assert not (tmp_path / "run").exists()


# --------------------------------------------------------------------------- the README


def _readme_searchers() -> str:
    text = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    return text.split("\n## The searchers\n", 1)[1].split("\n## ", 1)[0]


def _table(section: str, header: str) -> dict[str, list[str]]:
    """The first backticked name of each row → its other cells, for the table whose header
    row starts with `| header |`."""
    lines = section.split(f"\n| {header} |", 1)[1].split("\n\n", 1)[0].splitlines()[2:]
    rows = {}
    for line in lines:
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        rows[cells[0].split("`")[1]] = cells[1:]
    return rows


def test_the_readme_search_tables_are_the_registries() -> None:
    """The README's searcher section: the `--list` matrix (byte for byte), each space's
    capabilities, each strategy's needs and each --method's triple are the registries', so a
    pair added or removed (a capability or need changed, a class registered) fails here until
    the README says so."""
    section = _readme_searchers()
    listed = section.split("`gcc-gan search --list` prints the pairs that work", 1)[1]
    assert listed.split("```text\n", 1)[1].split("\n```", 1)[0] == matrix_table()
    spaces = _table(section, "space")
    assert sorted(spaces) == list(SPACES.names())
    for name, (_, caps) in spaces.items():
        assert set(caps.split(", ")) == SPACES.get(name).capabilities, name
    strategies = _table(section, "strategy")
    assert sorted(strategies) == list(STRATEGIES.names())
    for name, (needs, _) in strategies.items():
        assert set(needs.split(", ")) == STRATEGIES.get(name).needs, name
    methods = _table(section, "`--method`")
    assert set(methods) == set(METHOD_PRESETS) | set(LEGACY_METHODS)
    for name, (space, strategy, evaluator, reward, _) in methods.items():
        cfg = make_config(name, "tiny", {})
        assert (space, strategy, evaluator, reward) == (cfg.space, cfg.strategy, cfg.evaluator, cfg.reward), name
