"""The typed genotype model: canonical JSON, lossless round trips, shorthand, defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gcc_gan.genotype_dsl.io import load_genotype, parse_genotype, save_genotype
from gcc_gan.genotype_dsl.model import SCHEMA_VERSION, Genotype, Network, Node, OpCall, json_schema
from gcc_gan.genotype_dsl.ops import REGISTRY
from gcc_gan.genotype_dsl.zoo import ENTRIES, zoo_genotype

TINY = {
    "generator": {
        "base_width": 4,
        "inputs": [{"name": "z", "kind": "latent", "dim": 8}],
        "nodes": [{"name": "h", "width": 1}, {"name": "rgb", "channels": 3}],
        "edges": [
            {"src": "z", "dst": "h", "ops": [{"op": "linear", "out_channels": 64}, {"op": "reshape", "size": 4}]},
            {"src": "h", "dst": "rgb", "ops": [{"op": "relu"}, {"op": "conv", "kernel": 3, "stride": 1, "bias": True},
                                               "tanh"], "name": "to_rgb"},
        ],
        "outputs": [{"name": "image", "node": "rgb"}],
    },
}


def roundtrip(g: Genotype) -> str:
    text = g.to_json()
    again = parse_genotype(json.loads(text))
    assert again == g
    assert again.to_json() == text
    return text


def test_tiny_round_trip_canonical_form() -> None:
    g = parse_genotype(TINY)
    text = roundtrip(g)
    d = json.loads(text)
    ops = d["generator"]["edges"][1]["ops"]
    # object form without parameters collapses to the shorthand; defaults are omitted
    assert ops == ["relu", "conv", "tanh"]
    assert d["generator"]["edges"][0]["ops"] == [{"op": "linear", "out_channels": 64}, {"op": "reshape", "size": 4}]
    # the canonical form starts with the schema version and has fixed key order
    assert list(d) == ["schema_version", "generator", "provenance"]
    assert d["schema_version"] == SCHEMA_VERSION
    assert list(d["generator"]) == ["base_width", "inputs", "nodes", "edges", "outputs"]
    # optional unset fields are left out entirely
    assert "name" not in d["generator"]["edges"][0] and d["generator"]["edges"][1]["name"] == "to_rgb"
    assert "cell" not in d["generator"]["nodes"][0]


def test_shorthand_and_object_forms_are_the_same_op() -> None:
    a = OpCall.model_validate("relu")
    b = OpCall.model_validate({"op": "relu"})
    assert a == b and a.model_dump() == "relu"
    c = OpCall.model_validate({"op": "conv", "kernel": 3, "dilation": 1, "sn": False})
    assert c == OpCall.model_validate("conv")
    assert OpCall.of("conv", kernel=5).model_dump() == {"op": "conv", "kernel": 5}
    assert OpCall.of("conv", kernel=5).with_params(kernel=3).model_dump() == "conv"
    assert OpCall.of("upsample", mode="bilinear").label() == "bilinear×2"


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_every_zoo_entry_round_trips(name: str, tmp_path: Path) -> None:
    g = zoo_genotype(name)
    text = roundtrip(g)
    # through a file on disk too, and the digest (networks only) is stable
    path = tmp_path / f"{name}.json"
    save_genotype(g, path)
    assert path.read_text() == text
    loaded = load_genotype(path)
    assert loaded.to_json() == text and loaded.digest() == g.digest()
    assert load_genotype(f"zoo:{name}").to_json() == text


def test_digest_ignores_provenance_but_not_networks() -> None:
    g = parse_genotype(TINY)
    d2 = json.loads(g.to_json())
    d2["provenance"] = {"searcher": "hand", "seed": 3, "metrics": {"fid": 12.5}}
    assert parse_genotype(d2).digest() == g.digest()
    d2["generator"]["base_width"] = 5
    assert parse_genotype(d2).digest() != g.digest()


def test_float_and_unicode_fields_survive() -> None:
    d = json.loads(json.dumps(TINY))
    d["name"] = "génotype ✓ \"quoted\""
    d["provenance"] = {"metrics": {"is": 8.550000000000001, "fid": 1e-300}, "notes": "line\nbreak",
                       "encoding": {"format": "x", "arch": [[1, 2], [3]]}}
    d["generator"]["nodes"][0]["width"] = 0.1 + 0.2
    g = parse_genotype(d)
    text = roundtrip(g)
    back = json.loads(text)
    assert back["provenance"]["metrics"]["is"] == 8.550000000000001
    assert back["generator"]["nodes"][0]["width"] == 0.1 + 0.2
    assert back["name"] == d["name"]


def test_node_width_and_channels() -> None:
    assert Node(name="a", width=1.5).n_channels(4) == 6
    assert Node(name="a", width=0.1).n_channels(4) == 1  # never zero channels
    assert Node(name="a", channels=3).n_channels(256) == 3
    net = Network.model_validate(TINY["generator"])
    assert net.scaled(2.0).base_width == 8 and net.scaled(0.01).base_width == 1


def test_json_schema_lists_every_op() -> None:
    schema = json_schema()
    variants = schema["$defs"]["OpCall"]["oneOf"]
    assert set(variants[0]["enum"]) == set(REGISTRY)
    names = {v["properties"]["op"]["const"] for v in variants[1:]}
    assert names == set(REGISTRY)
    conv = next(v for v in variants[1:] if v["properties"]["op"]["const"] == "conv")
    assert conv["additionalProperties"] is False and "kernel" in conv["properties"]
    json.dumps(schema)  # serialisable


def test_save_is_atomic_and_replaces(tmp_path: Path) -> None:
    p = tmp_path / "sub" / "g.json"
    g = parse_genotype(TINY)
    save_genotype(g, p)
    save_genotype(g, p)
    assert [x.name for x in p.parent.iterdir()] == ["g.json"]  # no temp files left behind
    assert load_genotype(p) == g
