"""Human-written quantities (`800M`, `5ms`, `8GB`): one parser, one error style.

Each kind of quantity is a `Units` table (suffix → multiplier); `parse_count`,
`parse_ms` (compiler.cost) and `parse_size` (genotype_dsl.memory) are thin wrappers over
one. Suffixes match in any case. The number is read as a `Decimal`, so `4.1G` is exactly
4100000000 (binary floats would truncate it to 4099999999).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, localcontext

from .errors import GccGanError

_LIMIT = 2**63  # every quantity fits an int64 (and stays a finite float)
_QUANTITY = re.compile(r"\s*(?P<num>[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?P<exp>[eE][+-]?[0-9]+)?"
                       r"\s*(?P<unit>[A-Za-z]*)\s*")


class QuantityError(GccGanError, ValueError):
    """A quantity that does not parse. A `GccGanError` (the CLI prints it, exit 1) and a
    `ValueError` (what option callbacks and `parse_size`'s callers catch)."""


@dataclass(frozen=True)
class Units:
    """One kind of quantity: its name and examples (for messages) and its suffixes, written
    as they are shown in messages; `""` is a bare number."""

    kind: str  # "count", "time", "size": "expected a {kind} such as {examples}"
    examples: str
    table: Mapping[str, int | Decimal]
    scientific: bool = False  # accept an exponent (1e9)
    _lower: dict[str, int | Decimal] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lower = {k.lower(): v for k, v in self.table.items()}
        if len(lower) != len(self.table):  # a programming error in the table, not user input
            raise ValueError(f"suffixes of a {self.kind} that differ only in case: {list(self.table)}")
        object.__setattr__(self, "_lower", lower)

    @property
    def suffixes(self) -> str:
        return ", ".join(k for k in self.table if k)

    def value(self, text: object, flag: str | None = None) -> Decimal:
        """The exact positive value of `text` (below 2**63); `QuantityError` naming `flag`
        (the option or variable the text came from) and the accepted suffixes otherwise."""
        head = _head(text, flag)
        m = _QUANTITY.fullmatch(str(text))
        usage = f"expected a {self.kind} such as {self.examples}; suffixes {self.suffixes} in any case"
        if not m or (m["exp"] and not self.scientific):
            raise QuantityError(f"{head}: {usage}")
        unit = m["unit"].lower()
        if unit not in self._lower:
            raise QuantityError(f"{head}: unknown suffix {m['unit']!r}; {usage}")
        num = Decimal(m["num"] + (m["exp"] or ""))
        if num <= 0:
            raise QuantityError(f"{head}: must be positive")
        if num.adjusted() < -40:  # keeps the exact product below within Decimal's range
            raise QuantityError(f"{head}: too small")
        with localcontext() as ctx:
            ctx.prec = 100
            val = num * self._lower[unit] if num.adjusted() <= 40 else Decimal(_LIMIT)
        if val >= _LIMIT:
            raise QuantityError(f"{head}: too large (the limit is {_LIMIT - 1:.3g})")
        return val

    def parse_int(self, text: object, flag: str | None = None) -> int:
        """A whole quantity (a count of MACs, bytes): the value rounded down, at least 1."""
        n = int(self.value(text, flag))
        if n < 1:
            raise QuantityError(f"{_head(text, flag)}: must be at least 1")
        return n

    def parse_float(self, text: object, flag: str | None = None) -> float:
        return float(self.value(text, flag))


def _head(text: object, flag: str | None) -> str:
    return f"{flag} {str(text)!r}" if flag else repr(str(text))


__all__ = ["QuantityError", "Units"]
