"""Loading genotypes from files or the zoo, with every failure turned into a readable
GenotypeError (never a traceback): missing file, binary garbage, malformed JSON, wrong
types, semantic problems."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import GccGanError, GenotypeError, Problem, json_path
from .analysis import NetInfo, analyze_genotype
from .model import Genotype

MAX_BYTES = 64 * 1024 * 1024


def problems_from_validation(e: ValidationError) -> list[Problem]:
    out = []
    for err in e.errors():
        loc = [p for p in err["loc"] if not (isinstance(p, str) and p in ("latent", "image", "function-after[_one_size(), Node]"))]
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = f"unknown field {str(loc[-1])!r}" if loc else "unknown field"
        elif err["type"] == "missing":
            msg = "required field is missing"
        elif err["type"] == "union_tag_invalid":
            msg = f"unknown input kind; expected 'latent' or 'image' ({msg})"
        out.append(Problem(json_path(loc), msg))
    return out


def parse_genotype(data: Any, source: str | None = None) -> Genotype:
    """Type-check a decoded JSON value as a genotype (no semantic analysis)."""
    if not isinstance(data, dict):
        raise GenotypeError([Problem("", f"a genotype must be a JSON object, got {type(data).__name__}")], source)
    try:
        return Genotype.model_validate(data)
    except ValidationError as e:
        raise GenotypeError(problems_from_validation(e), source) from None


def read_json(path: str | os.PathLike[str]) -> Any:
    p = Path(path)
    if not p.exists():
        raise GccGanError(f"{p}: no such file")
    if p.is_dir():
        raise GccGanError(f"{p}: is a directory, expected a genotype JSON file")
    try:
        with p.open("rb") as f:  # bounded read: /dev/zero or a huge file must not hang or exhaust memory
            raw = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise GccGanError(f"{p}: cannot read ({e.strerror})") from None
    if len(raw) > MAX_BYTES:
        raise GccGanError(f"{p}: more than {MAX_BYTES} bytes is too large for a genotype file")
    if not raw.strip():
        raise GenotypeError([Problem("", "the file is empty; expected a genotype JSON object")], str(p))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise GenotypeError([Problem("", f"not a text file (invalid UTF-8 at byte {e.start}); "
                                         "expected a genotype JSON object")], str(p)) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise GenotypeError([Problem("", f"malformed JSON at line {e.lineno}, column {e.colno}: {e.msg}")],
                            str(p)) from None
    except RecursionError:
        raise GenotypeError([Problem("", "JSON nested too deeply")], str(p)) from None
    except ValueError as e:  # valid syntax json cannot convert, e.g. an integer of 5000 digits
        raise GenotypeError([Problem("", f"unreadable JSON value: {e}")], str(p)) from None


def load_genotype(spec: str | os.PathLike[str], validate: bool = True) -> Genotype:
    """A genotype from `zoo:NAME` or a JSON file path, type-checked and (by default)
    semantically validated."""
    s = str(spec)
    if s.startswith("zoo:"):
        from .zoo import zoo_genotype

        g = zoo_genotype(s[4:])
    else:
        g = parse_genotype(read_json(s), source=s)
    if validate:
        try:
            analyze_genotype(g)
        except GenotypeError as e:
            raise GenotypeError(e.problems, source=s) from None
    return g


def load_and_analyze(spec: str | os.PathLike[str]) -> tuple[Genotype, dict[str, NetInfo]]:
    g = load_genotype(spec, validate=False)
    try:
        return g, analyze_genotype(g)
    except GenotypeError as e:
        raise GenotypeError(e.problems, source=str(spec)) from None


def save_genotype(g: Genotype, path: str | os.PathLike[str]) -> None:
    """Write atomically (temp file + rename): a reader never sees half a genotype."""
    from ..atomic import atomic_write_text

    atomic_write_text(path, g.to_json())
