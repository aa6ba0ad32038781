"""The README's command-line table agrees with the CLI (issue 25 item 7): every command has
a row, and every option registered on a command appears in its row and the reverse,
optional (`[...]`) or required as the CLI has it; `--help` lays out at the terminal's width."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer

from gcc_gan.cli.app import app
from gcc_gan.cli.main import _register

ROOT = Path(__file__).resolve().parents[1]
SRC = str(ROOT / "src")
OPTION = re.compile(r"(--?[A-Za-z][\w-]*)")


def readme_rows() -> dict[str, str]:
    """command -> the synopsis (the first cell, `|` unescaped) of each row of the README's
    "Command line" table."""
    text = (ROOT / "README.md").read_text()
    section = text.split("\n## Command line\n", 1)[1].split("\n## ", 1)[0]
    rows: dict[str, str] = {}
    for line in section.splitlines():
        m = re.match(r"^\| `gcc-gan ([a-z]+)((?:[^`])*)` \|", line)
        if m:
            assert m.group(1) not in rows, f"two README rows for {m.group(1)}"
            rows[m.group(1)] = m.group(2).replace("\\|", "|")
    return rows


def mentioned(synopsis: str) -> dict[str, bool]:
    """option -> optional (inside [...]) for every option the synopsis names."""
    found: dict[str, bool] = {}
    depth = 0
    i = 0
    while i < len(synopsis):
        c = synopsis[i]
        if c == "[":
            depth += 1
        elif c == "]":
            depth -= 1
        elif c == "-" and (i == 0 or synopsis[i - 1] in " [|"):
            m = OPTION.match(synopsis, i)
            if m:
                found.setdefault(m.group(1), depth > 0)
                i = m.end()
                continue
        i += 1
    return found


def commands() -> dict[str, Any]:
    _register()
    group = typer.main.get_command(app)
    ctx = group.make_context("gcc-gan", ["--help"], resilient_parsing=True)
    return {name: group.get_command(ctx, name) for name in group.list_commands(ctx)}


def test_readme_table_and_cli_options_agree() -> None:
    rows, cmds = readme_rows(), commands()
    assert sorted(rows) == sorted(n for n, c in cmds.items() if not c.hidden), "README rows vs commands"
    problems = []
    for name, cmd in cmds.items():
        named = mentioned(rows[name])
        known: set[str] = set()
        for p in cmd.params:
            if p.param_type_name != "option":
                continue
            names = [*p.opts, *p.secondary_opts]
            known.update(names)
            hits = [n for n in names if n in named]
            if not hits:
                problems.append(f"{name}: {'/'.join(names)} is in --help, not in the README")
                continue
            if named[hits[0]] == bool(p.required):
                problems.append(f"{name}: {hits[0]} is {'required' if p.required else 'optional'} in the CLI, "
                                f"{'optional' if named[hits[0]] else 'required'} in the README")
        problems += [f"{name}: {o} is in the README, not in --help" for o in named if o not in known]
    assert not problems, "\n".join(problems)


def test_the_parser_sees_brackets_and_pipes() -> None:
    assert mentioned("FILE -o OUT [--net g|d] [--a [--b]] --c") == {"-o": False, "--net": True, "--a": True,
                                                                   "--b": True, "--c": False}
    assert mentioned("ARCH -o FILE [--name NAME] x-y") == {"-o": False, "--name": True}


def _help(cmd: list[str], columns: str | None) -> str:
    env = {**os.environ, "PYTHONPATH": SRC}
    env.pop("COLUMNS", None)
    if columns is not None:
        env["COLUMNS"] = columns
    p = subprocess.run([sys.executable, "-m", "gcc_gan.cli.main", *cmd], env=env, capture_output=True, text=True,
                       timeout=120, check=False)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.mark.parametrize("cmd", [["search", "--help"]])
def test_help_uses_the_terminal_width(cmd: list[str]) -> None:
    """Piped: wide (one line per option, as the project's output is never wrapped at 80
    columns); COLUMNS: that width."""
    piped = _help(cmd, None)
    width = max(len(line) for line in piped.splitlines())
    assert width > 120  # the longest option help is one line, not wrapped at 80
    narrow = _help(cmd, "60")
    assert max(len(line) for line in narrow.splitlines()) <= 60
    wide = _help(cmd, "200")
    assert 120 < max(len(line) for line in wide.splitlines()) <= 200


def test_messages_use_one_arrow() -> None:
    """Output says `a → b` everywhere (the DGGAN header once said `4x4 -> 16x16 ... -> RUN`):
    no ASCII arrow in any f-string the package prints or raises, generated code aside."""
    import tokenize

    found = []
    for path in sorted((ROOT / "src" / "gcc_gan").rglob("*.py")):
        with open(path, "rb") as f:
            for t in tokenize.tokenize(f.readline):
                if t.type == tokenize.STRING and t.string[:2].lower() in ('f"', "f'") and " -> " in t.string \
                        and "def " not in t.string:  # codegen writes Python signatures
                    found.append(f"{path.relative_to(ROOT)}:{t.start[0]}: {t.string[:60]}")
    assert not found, "\n".join(found)


def test_readme_states_the_presets_as_the_code_has_them() -> None:
    from gcc_gan.train.config import PRESETS, TrainConfig

    row = readme_rows()["train"]
    desc = next(line for line in (ROOT / "README.md").read_text().splitlines()
                if line.startswith("| `gcc-gan train ")).split("` | ", 1)[1]
    assert row  # the row exists
    paper, tiny = TrainConfig(), PRESETS["tiny"]
    lr = lambda x: f"{x:.0e}".replace("e-0", "e-")  # noqa: E731  2e-4, as the README writes it
    assert paper.lr_g == paper.lr_d and tiny["lr_g"] == tiny["lr_d"]
    assert f"`--preset paper`: lr {lr(paper.lr_g)}, betas ({paper.beta1:g}, {paper.beta2:g}), n_critic {paper.n_critic}" \
        in desc
    lr_help = next(p.help for p in commands()["train"].params if p.name == "lr")
    assert f"paper {lr(paper.lr_g)}, tiny {lr(tiny['lr_g'])}" in lr_help  # and --help says the same
    assert f"`--preset tiny`: lr {lr(tiny['lr_g'])}, betas ({tiny['beta1']:g}, {tiny['beta2']:g}), n_critic " \
           f"{tiny['n_critic']}" in desc


def test_readme_cpu_install_keeps_pyprojects_torch_bound() -> None:
    import tomllib

    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    bound = next(d for d in deps if d.startswith("torch>=")).split(",")[1]  # e.g. <=2.14.1
    text = (ROOT / "README.md").read_text()
    assert f"pip install 'torch{bound}' --index-url https://download.pytorch.org/whl/cpu && pip install -e ." in text
    # the main Quickstart command is unchanged
    assert "python3 -m venv .venv && . .venv/bin/activate && pip install -e . && gcc-gan search -o runs/quickstart" in text
