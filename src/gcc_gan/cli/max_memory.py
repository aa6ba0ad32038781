"""`--max-memory SIZE`: one option, one meaning, on every command that builds a network.

It sets `$GCC_GAN_MAX_MEMORY` for this process and the workers it starts; the networks
are checked against it before anything is allocated (see `genotype_dsl.memory`)."""

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
