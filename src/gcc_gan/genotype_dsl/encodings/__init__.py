"""Native encodings of published methods, converted into the genotype DSL.

Each converter returns a `Native` (the network plus the reference implementation's module
paths for its parametrised ops, used by weight import) and raises `GccGanError` with a
readable reason for an invalid vector.
"""

from typing import Any

from ...errors import GccGanError
from .common import Native, sngan_discriminator
from .autogan import autogan_generator, parse_autogan_arch
from .adversarialnas import adversarialnas_generator, parse_adversarialnas_arch



def from_encoding(enc: dict[str, Any]) -> Native:
    """Rebuild a converted network from the `encoding` record it carries in provenance."""
    kwargs = {k: v for k, v in enc.items() if k != "format"}
    makers = {"autogan": autogan_generator, "adversarialnas": adversarialnas_generator,
              "sngan-d": sngan_discriminator}
    try:
        make = makers[enc["format"]]
    except KeyError:
        raise GccGanError(f"unknown native encoding format {enc.get('format')!r}; known: {', '.join(makers)}") from None
    try:
        return make(**kwargs)
    except (TypeError, ValueError) as e:  # ValueError: pydantic's ValidationError (e.g. bottom > 1024)
        why = e.errors()[0]["msg"].removeprefix("Value error, ") if hasattr(e, "errors") else str(e)
        raise GccGanError(f"bad {enc['format']} encoding record {enc}: {why}") from None


__all__ = ["from_encoding", "Native", "autogan_generator", "parse_autogan_arch", "adversarialnas_generator",
           "parse_adversarialnas_arch"]
