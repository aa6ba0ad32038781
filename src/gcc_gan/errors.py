"""User-facing errors.

Anything raised as a `GccGanError` is shown to the user as a readable message (no
traceback) and makes the CLI exit with code 1. Everything else is a bug in gcc-gan.
"""

from __future__ import annotations

from dataclasses import dataclass


class GccGanError(Exception):
    """An error caused by the user's input (file, flag, data), with a readable message."""


class BadValue(GccGanError):
    """An option value the library refuses on sight (a malformed output name, say): the
    CLI reports it as a usage error (exit 2), like the values click checks itself."""


class Interrupted(GccGanError):
    """The user stopped a long run (Ctrl-C); the message says where its last checkpoint is
    and the exact command that continues it. The CLI prints it and exits 130."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a genotype, located by its JSON path."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class GenotypeError(GccGanError):
    """A genotype failed to load or validate; carries every problem found."""

    def __init__(self, problems: list[Problem], source: str | None = None) -> None:
        self.problems = problems
        self.source = source
        where = f"{source}: " if source else ""
        lines = [f"{where}{len(problems)} problem(s):"] + [f"  {p}" for p in problems]
        super().__init__("\n".join(lines) if len(problems) != 1 else f"{where}{problems[0]}")


def json_path(loc: tuple[str | int, ...] | list[str | int]) -> str:
    """Format a location tuple as a JSON path: ('generator', 'edges', 7, 'ops', 1) ->
    'generator.edges[7].ops[1]'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
