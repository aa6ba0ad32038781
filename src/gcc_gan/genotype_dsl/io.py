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
from .analysis import NetInfo, analyze, analyze_genotype, raw_structure_problems
from .model import STRICT, Genotype, Network

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


def _scan_strings(value: Any, loc: list[str | int], out: list[Problem]) -> None:
    """Lone surrogates (JSON allows `"\\ud800"`, Unicode does not) in any string or key,
    and duplicate keys (recorded by `_pairs`): both rejected with their JSON path."""
    stack: list[tuple[Any, list[str | int]]] = [(value, loc)]
    while stack:
        v, where = stack.pop()
        if isinstance(v, str):
            if _has_surrogate(v):
                out.append(Problem(json_path(where), f"{v[:60]!a} contains a lone surrogate, which is not "
                                                     "valid Unicode text"))
        elif isinstance(v, dict):
            for k in getattr(v, "duplicates", ()):
                out.append(Problem(json_path([*where, _printable(k)]), f"duplicate key {k[:60]!a}: a JSON "
                                                                       "object must not repeat a key"))
            for k, item in v.items():
                if _has_surrogate(k):
                    out.append(Problem(json_path([*where, _printable(k)]), f"the key {k[:60]!a} contains a lone "
                                                                          "surrogate, which is not valid Unicode text"))
                stack.append((item, [*where, _printable(k)]))
        elif isinstance(v, list):
            stack.extend((item, [*where, i]) for i, item in enumerate(v))
    out.sort(key=lambda p: p.path)


def _printable(key: str) -> str:
    """`key` for a JSON path on a terminal: control characters and surrogates escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in key)


def _has_surrogate(s: str) -> bool:
    try:
        s.encode("utf-8")
        return False
    except UnicodeEncodeError:
        return True


def parse_genotype(data: Any, source: str | None = None) -> Genotype:
    """Type-check a decoded JSON value as a genotype, as strictly as the published JSON
    Schema (`json_schema()`): no `"32"` for 32, no `true` for 1, no `"no"` for false.
    No semantic analysis, except that when type checking fails, the structure of each
    network (names, references, cycles) is checked too, so every independent problem is
    reported in one run."""
    if not isinstance(data, dict):
        raise GenotypeError([Problem("", f"a genotype must be a JSON object, got {type(data).__name__}")], source)
    problems: list[Problem] = []
    _scan_strings(data, [], problems)
    if problems:
        raise GenotypeError(problems, source)
    try:
        return Genotype.model_validate(data, strict=True, context=STRICT)
    except ValidationError as e:
        problems = problems_from_validation(e)
    seen = {(p.path, p.message) for p in problems}
    for key in ("generator", "discriminator"):
        extra = _network_problems(data.get(key), key)
        problems += [p for p in extra if (p.path, p.message) not in seen]
    raise GenotypeError(problems, source) from None


def _network_problems(raw: Any, key: str) -> list[Problem]:
    """The semantic problems of one network of a genotype that failed type checking: all
    of them when the network itself type-checks, else its structural ones."""
    if not isinstance(raw, dict):
        return []
    try:
        net = Network.model_validate(raw, strict=True, context=STRICT)
    except ValidationError:
        return raw_structure_problems(raw, key, key)
    try:
        analyze(net, where=key, role=key)
    except GenotypeError as e:
        return e.problems
    return []


class _Object(dict):  # type: ignore[type-arg]
    """A decoded JSON object that remembers the keys it saw more than once."""

    duplicates: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = _Object(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        obj.duplicates = list(dict.fromkeys(k for k, _ in pairs if k in seen or seen.add(k)))
    return obj


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
        text = raw.decode("utf-8-sig")  # a UTF-8 byte order mark is harmless: skip it
    except UnicodeDecodeError as e:
        raise GenotypeError([Problem("", f"not a text file (invalid UTF-8 at byte {e.start}); "
                                         "expected a genotype JSON object")], str(p)) from None
    try:
        return json.loads(text, object_pairs_hook=_pairs)
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
