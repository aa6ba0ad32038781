"""The typed genotype DSL (pydantic v2).

A genotype holds a generator network and/or a discriminator network plus provenance.
A network is a DAG: named inputs (a latent vector or an image), nodes (feature maps whose
channels are a multiple of the network's base width, or absolute), edges carrying a short
pipeline of ops from the op registry, and named outputs. A node is the SUM of its incoming
edges. JSON is the exchange format; `Genotype.to_json()` is canonical (defaults omitted,
fixed key order), so load → dump is a fixed point.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any, Literal, Union

from pydantic import (BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_serializer,
                      model_validator)

from .ops import MAX_CHANNELS, MAX_WIDTH, IntegralFloats, OpParams, OpSpec, get_spec, parse_params

SCHEMA_VERSION = "1.0"

# `(?!\n)`: Python's `$` (used by jsonschema, and by pydantic with the python-re engine)
# also matches before a final newline; names never end in one
Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_.\-]*$(?!\n)")]

#: validation context of files read from disk: op parameters are validated strictly too
#: (pydantic's `strict=True` does not reach the op models, which OpCall validates itself)
STRICT = {"strict": True}


class _Strict(IntegralFloats):
    model_config = ConfigDict(extra="forbid", regex_engine="python-re")


class OpCall(BaseModel):
    """One op in an edge's pipeline. JSON: `"relu"` or `{"op": "conv", "kernel": 3}`."""

    model_config = ConfigDict(frozen=True)

    op: str
    params: OpParams

    @model_validator(mode="before")
    @classmethod
    def _parse(cls, raw: Any, info: ValidationInfo) -> Any:
        if isinstance(raw, OpCall):
            return raw
        if isinstance(raw, str):
            raw = {"op": raw}
        if not isinstance(raw, dict):
            raise ValueError(f'an op must be a name like "relu" or an object like {{"op": "conv", "kernel": 3}}, '
                             f"got {type(raw).__name__}")
        if "op" not in raw:
            raise ValueError('an op object needs an "op" key naming the op')
        if not isinstance(raw["op"], str):
            raise ValueError('"op" must be a string')
        if "params" in raw and isinstance(raw.get("params"), OpParams):
            return raw
        spec = get_spec(raw["op"])
        strict = bool(info.context and info.context.get("strict"))
        params = parse_params(spec, {k: v for k, v in raw.items() if k != "op"}, strict=strict)
        return {"op": raw["op"], "params": params}

    @model_serializer
    def _dump(self) -> Any:
        extra = self.params.model_dump(exclude_defaults=True)
        return {"op": self.op, **extra} if extra else self.op

    @property
    def spec(self) -> OpSpec:
        return get_spec(self.op)

    @classmethod
    def of(cls, op: str, **params: Any) -> "OpCall":
        return cls.model_validate({"op": op, **params})

    def with_params(self, **changes: Any) -> "OpCall":
        return OpCall.of(self.op, **{**self.params.model_dump(exclude_defaults=True), **changes})

    def label(self) -> str:
        return self.spec.label(self.params)


class LatentInput(_Strict):
    name: Name
    kind: Literal["latent"] = "latent"
    dim: int = Field(ge=1, le=65536)


class ImageInput(_Strict):
    name: Name
    kind: Literal["image"] = "image"
    channels: int = Field(default=3, ge=1, le=64)
    size: int = Field(ge=1, le=4096)


Input = Annotated[Union[LatentInput, ImageInput], Field(discriminator="kind")]


class Node(_Strict):
    """A feature map: the sum of its incoming edges. Channels are `width` × the network's
    base width (so width scaling is one number) or an absolute `channels` count."""

    name: Name
    width: float | None = Field(default=None, gt=0, le=MAX_WIDTH)
    channels: int | None = Field(default=None, ge=1, le=MAX_CHANNELS)
    cell: str | None = None  # a naming convenience for grouping, no semantics

    @model_validator(mode="after")
    def _one_size(self) -> "Node":
        if (self.width is None) == (self.channels is None):
            raise ValueError("a node needs exactly one of 'width' (multiple of base_width) or 'channels'")
        return self

    def n_channels(self, base_width: int) -> int:
        if self.channels is not None:
            return self.channels
        assert self.width is not None
        return max(1, round(self.width * base_width))


class Edge(_Strict):
    src: Name
    dst: Name
    ops: list[OpCall] = Field(min_length=1, max_length=64)
    name: Name | None = None  # optional label, used for module names in generated code


class Output(_Strict):
    name: Name
    node: Name


class Network(_Strict):
    base_width: int = Field(ge=1, le=65536)
    inputs: list[Input] = Field(min_length=1)
    nodes: list[Node] = Field(default_factory=list)
    edges: list[Edge] = Field(default_factory=list)
    outputs: list[Output] = Field(min_length=1)

    def scaled(self, mult: float) -> "Network":
        """The same network with its base width multiplied by `mult` (≥ 1 channel)."""
        return self.model_copy(update={"base_width": max(1, round(self.base_width * mult))})


class Provenance(_Strict):
    searcher: str | None = None  # e.g. "autogan", "adversarial", "degas", "random", "hand"
    dataset: str | None = None
    seed: int | None = None
    search_cost: dict[str, float] = Field(default_factory=dict)  # e.g. {"gpu_hours": 10}
    metrics: dict[str, float] = Field(default_factory=dict)  # e.g. {"is": 8.55, "fid": 12.42}
    reference: str | None = None  # paper or source this genotype reproduces
    #: the native encoding this genotype was converted from, e.g.
    #: {"format": "autogan", "arch": [...], "gf": 256}; lets weight import re-derive the
    #: reference implementation's parameter names
    encoding: dict[str, Any] | None = None
    #: how `metrics` were measured, e.g. a search reward's protocol: {"reward": "swd",
    #: "num_generated": 64, "real": "cifar10:...", ...} (numbers compare only under one protocol)
    evaluation: dict[str, Any] | None = None
    notes: str | None = None


class Genotype(_Strict):
    schema_version: str = SCHEMA_VERSION
    name: str | None = None
    generator: Network | None = None
    discriminator: Network | None = None
    provenance: Provenance = Field(default_factory=Provenance)

    @field_validator("schema_version")
    @classmethod
    def _version(cls, v: str) -> str:
        if v.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
            raise ValueError(f"unsupported schema version {v!r}: this gcc-gan reads version "
                             f"{SCHEMA_VERSION.split('.')[0]}.x genotypes")
        return v

    @model_validator(mode="after")
    def _some_network(self) -> "Genotype":
        if self.generator is None and self.discriminator is None:
            raise ValueError("a genotype needs a 'generator' and/or a 'discriminator' network")
        return self

    def networks(self) -> dict[str, Network]:
        nets = {"generator": self.generator, "discriminator": self.discriminator}
        return {k: v for k, v in nets.items() if v is not None}

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True, exclude_defaults=False)

    def to_json(self, indent: int | None = 1) -> str:
        return json.dumps(self.to_dict(), indent=indent) + "\n"

    def digest(self) -> str:
        """sha256 of the canonical JSON of the networks (provenance excluded)."""
        nets = {k: v.model_dump(mode="json", exclude_none=True) for k, v in self.networks().items()}
        return hashlib.sha256(json.dumps(nets, sort_keys=True).encode()).hexdigest()


def _set(*keys: str) -> dict[str, Any]:
    """JSON Schema: these properties are present and not null."""
    return {"required": list(keys), "properties": {k: {"not": {"type": "null"}} for k in keys}}


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a genotype file (ops accepted as names or objects). It states
    every rule of the type model that JSON Schema can (the loader is exactly as strict);
    what it cannot state are relations between two numbers (output_padding < stride, a
    pool's padding ≤ kernel / 2, a latent slice's start < stop), checked on load."""
    from .ops import REGISTRY

    schema = Genotype.model_json_schema(mode="validation")
    defs = schema.setdefault("$defs", {})
    defs["Node"]["oneOf"] = [_set("width"), _set("channels")]
    for kind in ("LatentInput", "ImageInput"):  # the tag of the input union is required
        defs[kind]["required"] = sorted({*defs[kind].get("required", []), "kind"})
    schema["anyOf"] = [_set("generator"), _set("discriminator")]
    schema["properties"]["schema_version"]["pattern"] = r"^1(\.|$)"
    variants: list[dict[str, Any]] = [{"type": "string", "enum": sorted(REGISTRY)}]
    for name, spec in sorted(REGISTRY.items()):
        p = spec.Params.model_json_schema()
        props = {"op": {"const": name}, **p.get("properties", {})}
        variant: dict[str, Any] = {"type": "object", "description": spec.doc, "properties": props,
                                   "required": ["op", *p.get("required", [])], "additionalProperties": False}
        if "out_channels" in props:
            variant["not"] = _set("out_width", "out_channels")
        if name == "subpixel_conv":
            variant["properties"]["kernel"]["not"] = {"multipleOf": 2}
        variants.append(variant)
    defs["OpCall"] = {"oneOf": variants, "description": "one op of an edge pipeline"}
    schema["$id"] = f"https://gcc-gan.dev/schema/genotype-{SCHEMA_VERSION}.json"
    schema["title"] = "gcc-gan genotype"
    return schema
