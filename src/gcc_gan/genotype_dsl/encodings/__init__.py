"""Native encodings of published methods, converted into the genotype DSL.

Each converter returns a `Native` (the network plus the reference implementation's module
paths for its parametrised ops, used by weight import) and raises `GccGanError` with a
readable reason for an invalid vector.
"""

from typing import Any

from ...errors import GccGanError
from ..model import Network
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


OFFICIAL_FORMATS = ("autogan", "adversarialnas")


def official_network(net: Network, enc: dict[str, Any] | None) -> Network | None:
    """`net` as the official code computes it, layers it computes but never uses included
    (their nodes as extra outputs), when `net` is the network `enc` describes (at any base
    width); None when it is not (hand-edited, or no such encoding)."""
    if not enc or enc.get("format") not in OFFICIAL_FORMATS:
        return None
    try:
        native = from_encoding({**enc, "gf": net.base_width})
    except GccGanError:
        return None
    if native.network.model_dump(mode="json", exclude_none=True) != net.model_dump(mode="json", exclude_none=True):
        return None
    return native.official or native.network


def official_counts(net: Network, enc: dict[str, Any] | None) -> tuple[int, int] | None:
    """(params, MACs per image) of `net` counted as the official code counts them
    (`official_network`); None when `net` is not the network `enc` describes."""
    from ..analysis import analyze

    off = official_network(net, enc)
    if off is None:
        return None
    info = analyze(off)
    return info.params, info.macs


__all__ = ["from_encoding", "OFFICIAL_FORMATS", "official_network", "official_counts", "Native", "autogan_generator",
           "parse_autogan_arch", "adversarialnas_generator", "parse_adversarialnas_arch"]
