"""The loader is exactly as strict as the published JSON Schema (`gcc-gan schema`):
mutated genotype documents (a value replaced by one of another type or range, a key
removed or added) are accepted by `parse_genotype` exactly when `jsonschema` accepts them.
The one allowed difference: rules JSON Schema cannot state (a relation between two
numbers), which the loader checks and names."""

from __future__ import annotations

import copy
from typing import Any

import jsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from strategies import network_dicts

from gcc_gan.errors import GenotypeError
from gcc_gan.genotype_dsl.io import parse_genotype
from gcc_gan.genotype_dsl.model import json_schema
from gcc_gan.genotype_dsl.zoo import ENTRIES, zoo_genotype

VALIDATOR = jsonschema.Draft202012Validator(json_schema())
# what JSON Schema cannot express: relations between two numbers of one op
CROSS_FIELD = ("must be smaller than stride", "must be at most half the kernel", "must be greater than start")
POOL: list[Any] = [True, False, 0, 1, -1, 2, 3, 7, 64, 1024, 1025, 2**31, 1.0, 2.5, -0.5, 1e300, "32", "", "relu",
                   "x", "abc\n", "1.0", None, [], {}, ["relu"], {"op": "relu"}, {"op": "conv", "kernel": 3}]
EXTRA_OPS = [{"op": "conv_transpose", "kernel": 4, "stride": 2, "padding": 1, "output_padding": 1},
             {"op": "avg_pool", "kernel": 3, "stride": 1, "padding": 1}, {"op": "latent_slice", "start": 0, "stop": 4},
             {"op": "subpixel_conv", "kernel": 3}, {"op": "sep_conv", "kernel": 5, "dilation": 2},
             {"op": "upsample", "mode": "bilinear", "scale": 4}, {"op": "batch_norm", "eps": 0.001}]


def _zoo_docs() -> list[dict[str, Any]]:
    return [zoo_genotype(k).to_dict() for k in ("dcgan", "sngan-d")]


def _paths(doc: Any, loc: tuple = ()) -> list[tuple]:
    out = [loc] if loc else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*loc, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*loc, i))
    return out


def _get(doc: Any, loc: tuple) -> Any:
    for k in loc:
        doc = doc[k]
    return doc


@st.composite
def documents(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        doc = copy.deepcopy(draw(st.sampled_from(_zoo_docs())))
    else:
        doc = {"schema_version": "1.0", "generator": draw(network_dicts(max_nodes=4))}
    if draw(st.booleans()):  # ops whose parameters the networks above rarely use
        nets = [v for k, v in doc.items() if k in ("generator", "discriminator")]
        edge = draw(st.sampled_from(draw(st.sampled_from(nets))["edges"]))
        edge["ops"].append(copy.deepcopy(draw(st.sampled_from(EXTRA_OPS))))
    return doc


@st.composite
def mutated(draw: st.DrawFn) -> dict[str, Any]:
    doc = draw(documents())
    for _ in range(draw(st.integers(1, 2))):
        loc = draw(st.sampled_from(_paths(doc)))
        parent = _get(doc, loc[:-1])
        kind = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add_key"]))
        if kind == "replace":
            parent[loc[-1]] = copy.deepcopy(draw(st.sampled_from(POOL)))
        elif kind == "delete":
            del parent[loc[-1]]
        else:
            target = _get(doc, loc)
            if isinstance(target, dict):
                target[draw(st.sampled_from(["extra", "kernel", "width", "channels", "bias", "kind"]))] = \
                    copy.deepcopy(draw(st.sampled_from(POOL)))
        if not _paths(doc):
            break
    return doc


def _loader(doc: dict[str, Any]) -> tuple[bool, list[str]]:
    try:
        parse_genotype(doc)
        return True, []
    except GenotypeError as e:
        return False, [p.message for p in e.problems]


@settings(max_examples=150, deadline=None)
@given(doc=mutated())
def test_loader_and_json_schema_agree(doc: dict[str, Any]) -> None:
    schema_ok = VALIDATOR.is_valid(doc)
    loader_ok, messages = _loader(doc)
    if schema_ok and not loader_ok:
        assert messages and all(any(c in m for c in CROSS_FIELD) for m in messages), (messages, doc)
    else:
        assert schema_ok == loader_ok, (schema_ok, messages, [e.message for e in VALIDATOR.iter_errors(doc)][:3])


def test_unmutated_documents_pass_both() -> None:
    for k in ENTRIES:
        doc = zoo_genotype(k).to_dict()
        assert VALIDATOR.is_valid(doc) and _loader(doc)[0], k


@pytest.mark.parametrize("mutation, path", [
    ({"kernel": True}, "kernel"), ({"kernel": "3"}, "kernel"), ({"bias": "no"}, "bias"), ({"bias": 0}, "bias"),
    ({"out_channels": 2**30}, "out_channels"), ({"out_width": 2e6}, "out_width"), ({"groups": 2**30}, "groups"),
])
def test_known_loose_values_are_rejected_by_both(mutation: dict[str, Any], path: str) -> None:
    doc = zoo_genotype("dcgan").to_dict()
    conv = next(o for e in doc["generator"]["edges"] for o in e["ops"] if isinstance(o, dict) and o["op"] in ("conv", "conv_transpose"))
    conv.update(mutation)
    assert not VALIDATOR.is_valid(doc)
    ok, messages = _loader(doc)
    assert not ok and any(path in m for m in messages), messages
