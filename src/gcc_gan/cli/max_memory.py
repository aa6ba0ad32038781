"""`--max-memory SIZE`: one option, one meaning, on every command that builds a network or
runs long (compile, train, search, scale, bench, stats, sample).

It sets `$GCC_GAN_MAX_MEMORY` for this process and the workers it starts; the networks
are checked against it before anything is allocated (see `genotype_dsl.memory`), and each
command first checks that the process itself (the interpreter, torch) fits under it
(`check_process`), before torch is imported."""

from __future__ import annotations

import os
from typing import Optional

import typer


def _set_limit(value: Optional[str]) -> Optional[str]:
    if value is not None:
        from ..genotype_dsl.memory import ENV, parse_size

        try:
            parse_size(value)
        except ValueError as e:
            raise typer.BadParameter(str(e)) from None
        os.environ[ENV] = value
    return value


def max_memory_option() -> str | None:
    return typer.Option(None, "--max-memory", metavar="SIZE", callback=_set_limit,
                        help="Refuse networks estimated to need more memory than this (e.g. 16GB; default "
                             "$GCC_GAN_MAX_MEMORY or 8GB)")


def check_process(what: str) -> None:
    """A limit below what the process and torch hold alone (`--max-memory 1KB`) is refused
    at once, before torch is imported."""
    from ..genotype_dsl.memory import check_resident

    check_resident(what)
