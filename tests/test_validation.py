"""Bad genotype files: every kind gives its specific message and JSON path, through
`load_genotype(path)` on a real file, and is always a `GccGanError` (never a traceback)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, Callable

import pytest

from gcc_gan.errors import GccGanError, GenotypeError
from gcc_gan.genotype_dsl.io import load_and_analyze, load_genotype

G, D = "generator", "discriminator"

BASE: dict[str, Any] = {
    "schema_version": "1.0",
    G: {
        "base_width": 4,
        "inputs": [{"name": "z", "kind": "latent", "dim": 8}],
        "nodes": [{"name": "stem", "width": 1}, {"name": "up", "width": 1}, {"name": "rgb", "channels": 3}],
        "edges": [
            {"src": "z", "dst": "stem", "ops": [{"op": "linear", "out_channels": 64}, {"op": "reshape", "size": 4}]},
            {"src": "stem", "dst": "up", "ops": ["upsample", "relu", "conv"]},
            {"src": "stem", "dst": "up", "ops": ["upsample", {"op": "conv", "kernel": 1}]},
            {"src": "up", "dst": "rgb", "ops": ["batch_norm", "relu", "conv", "tanh"]},
        ],
        "outputs": [{"name": "image", "node": "rgb"}],
    },
    D: {
        "base_width": 4,
        "inputs": [{"name": "x", "kind": "image", "channels": 3, "size": 8}],
        "nodes": [{"name": "h", "width": 2}, {"name": "logit", "channels": 1}],
        "edges": [
            {"src": "x", "dst": "h", "ops": [{"op": "conv", "stride": 2}, "leaky_relu"]},
            {"src": "h", "dst": "logit", "ops": ["relu", "global_sum_pool", {"op": "linear", "bias": False}]},
        ],
        "outputs": [{"name": "logit", "node": "logit"}],
    },
}


def setting(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def f(d: dict[str, Any]) -> None:
        for k in path[:-1]:
            d = d[k]
        d[path[-1]] = value
    return f


def adding(path: list[Any], item: Any) -> Callable[[dict[str, Any]], None]:
    def f(d: dict[str, Any]) -> None:
        for k in path:
            d = d[k]
        d.append(item)
    return f


def removing(path: list[Any]) -> Callable[[dict[str, Any]], None]:
    def f(d: dict[str, Any]) -> None:
        for k in path[:-1]:
            d = d[k]
        del d[path[-1]]
    return f


def both(*fs: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def f(d: dict[str, Any]) -> None:
        for g in fs:
            g(d)
    return f


# (id, mutation, JSON path of the (first) problem, text the message must contain)
CASES: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    ("schema_version", setting(["schema_version"], "2.0"), "schema_version",
     "unsupported schema version '2.0': this gcc-gan reads version 1.x genotypes"),
    ("schema_version_type", setting(["schema_version"], 1), "schema_version", "Input should be a valid string"),
    ("unknown_field", setting([G, "nodes", 1, "colour"], "red"), "generator.nodes[1].colour",
     "unknown field 'colour'"),
    ("unknown_top_field", setting(["generatr"], {}), "generatr", "unknown field 'generatr'"),
    ("missing_field", removing([G, "edges", 1, "dst"]), "generator.edges[1].dst", "required field is missing"),
    ("missing_dim", removing([G, "inputs", 0, "dim"]), "generator.inputs[0].dim", "required field is missing"),
    ("no_network", both(removing([G]), removing([D])), "",
     "a genotype needs a 'generator' and/or a 'discriminator' network"),
    ("wrong_type", setting([G, "base_width"], "wide"), "generator.base_width", "Input should be a valid integer"),
    ("ops_not_list", setting([G, "edges", 1, "ops"], "relu"), "generator.edges[1].ops", "Input should be a valid list"),
    ("op_not_name_or_object", setting([G, "edges", 1, "ops", 0], 7), "generator.edges[1].ops[0]",
     'an op must be a name like "relu" or an object like {"op": "conv", "kernel": 3}, got int'),
    ("op_object_without_op", setting([G, "edges", 1, "ops", 0], {"kernel": 3}), "generator.edges[1].ops[0]",
     'an op object needs an "op" key naming the op'),
    ("unknown_op", setting([G, "edges", 1, "ops", 2], "conv4x4"), "generator.edges[1].ops[2]",
     "unknown op 'conv4x4' (did you mean 'conv'?); known ops: "),
    ("unknown_op_object", setting([G, "edges", 3, "ops", 0], {"op": "batchnorm", "eps": 1e-3}),
     "generator.edges[3].ops[0]", "unknown op 'batchnorm' (did you mean 'batch_norm'?)"),
    ("unknown_param", setting([G, "edges", 1, "ops", 2], {"op": "conv", "kernal": 3}), "generator.edges[1].ops[2]",
     "unknown parameter 'kernal' (did you mean 'kernel'?) for op 'conv' (allowed: out_width, out_channels, kernel"),
    ("param_of_parameterless_op", setting([G, "edges", 1, "ops", 1], {"op": "relu", "inplace": True}),
     "generator.edges[1].ops[1]", "unknown parameter 'inplace' for op 'relu' (allowed: none)"),
    ("bad_param_value", setting([G, "edges", 1, "ops", 2], {"op": "conv", "kernel": 0}), "generator.edges[1].ops[2]",
     "conv.kernel: Input should be greater than or equal to 1"),
    ("bad_param_choice", setting([G, "edges", 1, "ops", 0], {"op": "upsample", "mode": "cubic"}),
     "generator.edges[1].ops[0]", "upsample.mode: Input should be 'nearest' or 'bilinear'"),
    ("inconsistent_params", setting([G, "edges", 1, "ops", 2], {"op": "conv_transpose", "output_padding": 3}),
     "generator.edges[1].ops[2]", "conv_transpose: output_padding (3) must be smaller than stride (2)"),
    ("infinite_out_width", setting([G, "edges", 1, "ops", 2], {"op": "conv", "out_width": float("inf")}),
     "generator.edges[1].ops[2]", "conv.out_width: Input should be a finite number"),
    ("two_out_params", setting([G, "edges", 1, "ops", 2], {"op": "conv", "out_width": 1, "out_channels": 4}),
     "generator.edges[1].ops[2]", "give at most one of out_width and out_channels"),
    ("dangling_src", setting([G, "edges", 1, "src"], "nowhere"), "generator.edges[1].src", "unknown node 'nowhere'"),
    ("dangling_dst", setting([G, "edges", 3, "dst"], "RGB"), "generator.edges[3].dst", "unknown node 'RGB'"),
    ("edge_into_input", adding([G, "edges"], {"src": "stem", "dst": "z", "ops": ["identity"]}),
     "generator.edges[4].dst", "'z' is an input; edges cannot feed an input"),
    ("cycle", adding([G, "edges"], {"src": "up", "dst": "stem", "ops": ["avg_pool"]}), "generator.edges",
     "cycle: stem → up → stem"),
    ("self_loop", adding([D, "edges"], {"src": "h", "dst": "h", "ops": ["identity"]}), "discriminator.edges",
     "cycle: h → h"),
    ("unreachable", adding([G, "nodes"], {"name": "orphan", "width": 1}), "generator.nodes[3]",
     "node 'orphan' is unreachable from the inputs (it has no incoming edge)"),
    ("unreachable_via_orphan", both(adding([G, "nodes"], {"name": "a", "width": 1}),
                                    adding([G, "nodes"], {"name": "b", "width": 1}),
                                    adding([G, "edges"], {"src": "a", "dst": "b", "ops": ["relu"]}),
                                    adding([G, "edges"], {"src": "b", "dst": "up", "ops": ["upsample"]})),
     "generator.nodes[3]", "node 'a' is unreachable from the inputs (it has no incoming edge)"),
    ("dead_node", both(adding([G, "nodes"], {"name": "dead", "width": 1}),
                       adding([G, "edges"], {"src": "stem", "dst": "dead", "ops": ["identity"]})),
     "generator.nodes[3]", "node 'dead' is dead: it does not reach any output"),
    ("channel_mismatch", adding([G, "edges"], {"src": "stem", "dst": "up",
                                               "ops": [{"op": "conv", "out_channels": 5}, "upsample"]}),
     "generator.edges[4]", "edge 'stem' → 'up' delivers 5 channels but node 'up' has 4"),
    ("channel_mismatch_no_conv", both(setting([D, "nodes", 0, "width"], 1),
                                      adding([D, "edges"], {"src": "x", "dst": "h", "ops": ["avg_pool"]})),
     "discriminator.edges[2]", "edge 'x' → 'h' delivers 3 channels but node 'h' has 4 (no op on this edge "
                               "changes channels: add a conv/linear or fix the node's width)"),
    ("size_mismatch", adding([G, "edges"], {"src": "stem", "dst": "up", "ops": ["identity"]}), "generator.nodes[1]",
     "cannot sum the inputs of node 'up': edges[1] gives 4×8×8 but edges[4] gives 4×4×4"),
    ("no_outputs", setting([G, "outputs"], []), "generator.outputs", "List should have at least 1 item"),
    ("unknown_output_node", setting([G, "outputs", 0, "node"], "nope"), "generator.outputs[0].node",
     "output 'image' refers to unknown node 'nope'"),
    ("duplicate_node", setting([G, "nodes", 2, "name"], "up"), "generator.nodes[2].name",
     "duplicate name 'up' (already used by a node)"),
    ("node_named_like_input", setting([D, "nodes", 0, "name"], "x"), "discriminator.nodes[0].name",
     "duplicate name 'x' (already used by an input)"),
    ("duplicate_output", adding([G, "outputs"], {"name": "image", "node": "up"}), "generator.outputs[1].name",
     "duplicate output name 'image'"),
    ("duplicate_edge_name", both(setting([G, "edges", 1, "name"], "e"), setting([G, "edges", 2, "name"], "e")),
     "generator.edges[2].name", "duplicate edge name 'e'"),
    ("bad_name", setting([G, "nodes", 1, "name"], "9 up"), "generator.nodes[1].name", "String should match pattern"),
    ("width_and_channels", setting([G, "nodes", 0, "channels"], 4), "generator.nodes[0]",
     "a node needs exactly one of 'width' (multiple of base_width) or 'channels'"),
    ("conv_on_vector", lambda d: d[G]["edges"][0]["ops"].insert(0, "conv"), "generator.edges[0].ops[0]",
     "conv needs a feature map (C×H×W) input, got a vector of 8 (input 8, edge 'z' → 'stem')"),
    ("linear_on_map", setting([D, "edges", 1, "ops"], ["linear"]), "discriminator.edges[1].ops[0]",
     "linear needs a vector input, got a feature map 8×4×4"),
    ("reshape_does_not_divide", setting([G, "edges", 0, "ops", 0, "out_channels"], 60), "generator.edges[0].ops[1]",
     "reshape: a vector of 60 cannot be viewed as C×4×4"),
    ("slice_out_of_range", lambda d: d[G]["edges"][0]["ops"].insert(0, {"op": "latent_slice", "start": 4, "stop": 12}),
     "generator.edges[0].ops[0]", "latent_slice [4, 12) is out of range for a vector of 8"),
    ("groups_do_not_divide", setting([G, "edges", 1, "ops", 2], {"op": "conv", "groups": 3}),
     "generator.edges[1].ops[2]", "conv: groups=3 must divide input channels 4 and output channels 4"),
    ("kernel_too_big", setting([D, "edges", 0, "ops", 0], {"op": "conv", "kernel": 15, "padding": 0}),
     "discriminator.edges[0].ops[0]", "conv 15×15 (dilation 1, padding 0) does not fit a 8×8 input"),
    ("generator_with_image_input", setting([G, "inputs", 0], {"name": "z", "kind": "image", "size": 8}),
     "generator.inputs[0]", "a generator's inputs must be latent vectors (kind 'latent')"),
    ("discriminator_with_latent_input", setting([D, "inputs", 0], {"name": "x", "kind": "latent", "dim": 8}),
     "discriminator.inputs[0]", "a discriminator's inputs must be images (kind 'image')"),
    ("unknown_input_kind", setting([G, "inputs", 0, "kind"], "audio"), "generator.inputs[0]",
     "unknown input kind; expected 'latent' or 'image'"),
    ("provenance_type", setting(["provenance"], {"seed": "abc"}), "provenance.seed",
     "Input should be a valid integer"),
]


def write_json(write_file: Callable[..., Path], mutate: Callable[[dict[str, Any]], None]) -> Path:
    d = copy.deepcopy(BASE)
    mutate(d)
    return write_file(json.dumps(d, indent=1))


def test_base_is_valid(write_file: Callable[..., Path]) -> None:
    g = load_genotype(write_json(write_file, lambda d: None))
    assert set(g.networks()) == {G, D}


@pytest.mark.parametrize("mutate, path, message", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_genotype(write_file: Callable[..., Path], mutate: Callable[[dict[str, Any]], None], path: str,
                      message: str) -> None:
    p = write_json(write_file, mutate)
    with pytest.raises(GenotypeError) as ei:
        load_genotype(p)
    e = ei.value
    first = e.problems[0]
    assert (first.path, message in first.message) == (path, True), str(e)
    # the message names the file and the path; one problem is one line
    assert e.source == str(p) and str(e).startswith(f"{p}: ")
    if len(e.problems) == 1:
        assert str(e) == f"{p}: {first}"
    # load_and_analyze reports the same thing
    with pytest.raises(GenotypeError) as ei2:
        load_and_analyze(p)
    assert ei2.value.problems == e.problems


def test_at_least_fifteen_kinds() -> None:
    assert len(CASES) >= 15 and len({c[0] for c in CASES}) == len(CASES)


def test_every_problem_is_reported(write_file: Callable[..., Path]) -> None:
    p = write_json(write_file, both(setting([G, "edges", 1, "ops", 2], "conv4x4"),
                                    setting([G, "edges", 3, "ops", 0], "batchnorm"),
                                    setting([D, "inputs", 0, "size"], 0)))
    with pytest.raises(GenotypeError) as ei:
        load_genotype(p)
    paths = [q.path for q in ei.value.problems]
    assert paths == ["generator.edges[1].ops[2]", "generator.edges[3].ops[0]", "discriminator.inputs[0].size"]
    text = str(ei.value)
    assert text.splitlines()[0] == f"{p}: 3 problem(s):"
    assert all(line.startswith("  ") for line in text.splitlines()[1:])


def test_semantic_problems_of_both_networks(write_file: Callable[..., Path]) -> None:
    p = write_json(write_file, both(adding([G, "nodes"], {"name": "orphan", "width": 1}),
                                    adding([D, "edges"], {"src": "h", "dst": "h", "ops": ["identity"]})))
    with pytest.raises(GenotypeError) as ei:
        load_genotype(p)
    assert [q.path for q in ei.value.problems] == ["generator.nodes[3]", "discriminator.edges"]


# ---------------------------------------------------------------------------------------
# file-level problems


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(GccGanError, match=r"nope\.json: no such file$"):
        load_genotype(tmp_path / "nope.json")


def test_directory(tmp_path: Path) -> None:
    with pytest.raises(GccGanError, match="is a directory, expected a genotype JSON file"):
        load_genotype(tmp_path)


@pytest.mark.parametrize("content", [b"", b"   \n\t\n"], ids=["empty", "whitespace"])
def test_empty_file(write_file: Callable[..., Path], content: bytes) -> None:
    with pytest.raises(GenotypeError, match="the file is empty; expected a genotype JSON object"):
        load_genotype(write_file(content))


def test_binary_file(write_file: Callable[..., Path]) -> None:
    with pytest.raises(GenotypeError, match=r"not a text file \(invalid UTF-8 at byte 2\)"):
        load_genotype(write_file(b"{ \xff\xfe\x00\x01"))


def test_malformed_json_names_line_and_column(write_file: Callable[..., Path]) -> None:
    with pytest.raises(GenotypeError, match="malformed JSON at line 3, column 7: Expecting ':' delimiter"):
        load_genotype(write_file('{\n "a": 1,\n  "b" 2}'))


def test_truncated_json(write_file: Callable[..., Path]) -> None:
    text = json.dumps(BASE, indent=1)
    with pytest.raises(GenotypeError, match="malformed JSON at line"):
        load_genotype(write_file(text[: len(text) // 2]))


@pytest.mark.parametrize("text, kind", [("[1]", "list"), ("3", "int"), ("null", "NoneType"), ('"g"', "str")])
def test_non_object_json(write_file: Callable[..., Path], text: str, kind: str) -> None:
    with pytest.raises(GenotypeError, match=f"a genotype must be a JSON object, got {kind}$"):
        load_genotype(write_file(text))


def test_deeply_nested_json(write_file: Callable[..., Path]) -> None:
    with pytest.raises(GenotypeError, match="JSON nested too deeply"):
        load_genotype(write_file("[" * 100_000 + "]" * 100_000))


def test_number_too_long_for_python(write_file: Callable[..., Path]) -> None:
    with pytest.raises(GenotypeError, match="unreadable JSON value: Exceeds the limit"):
        load_genotype(write_file('{"generator": {"base_width": ' + "9" * 5000 + "}}"))


def test_size_limit_and_endless_files(write_file: Callable[..., Path], monkeypatch: pytest.MonkeyPatch) -> None:
    from gcc_gan.genotype_dsl import io

    monkeypatch.setattr(io, "MAX_BYTES", 100)
    with pytest.raises(GccGanError, match="more than 100 bytes is too large for a genotype file"):
        load_genotype(write_file(json.dumps(BASE)))
    if Path("/dev/zero").exists():  # reading stops at the limit instead of never ending
        with pytest.raises(GccGanError, match="too large"):
            load_genotype("/dev/zero")


def test_unknown_zoo_entry() -> None:
    with pytest.raises(GccGanError, match="no zoo entry 'nope'; available: autogan-a"):
        load_genotype("zoo:nope")


def test_instance_norm_on_1x1_map_is_rejected(write_file: Callable[..., Path]) -> None:
    # F.instance_norm refuses a single spatial position at run time; validation catches it
    p = write_json(write_file, setting([D, "edges", 1, "ops"], [{"op": "avg_pool", "kernel": 4}, "instance_norm",
                                                                  "global_sum_pool", "linear"]))
    with pytest.raises(GenotypeError) as ei:
        load_genotype(p)
    assert str(ei.value.problems[0]) == ("discriminator.edges[1].ops[1]: instance_norm needs more than one spatial "
                                         "position, got a 1×1 map (input 8×1×1, edge 'h' → 'logit')")


# ---------------------------------------------------------------------------------------
# strict typing, duplicate keys, BOM, surrogates, `none`, independent problems (issue 10)


@pytest.mark.parametrize("path, value, message", [
    ([G, "edges", 1, "ops", 2], {"op": "conv", "kernel": True}, "conv.kernel: Input should be a valid integer"),
    ([G, "base_width"], "32", "Input should be a valid integer"),
    ([G, "edges", 1, "ops", 2], {"op": "conv", "bias": "no"}, "conv.bias: Input should be a valid boolean"),
    ([G, "nodes", 0, "width"], "1", "Input should be a valid number"),
    ([G, "inputs", 0, "dim"], 8.5, "Input should be a valid integer"),
    ([G, "edges", 0, "ops", 0], {"op": "linear", "out_channels": 2**30}, "less than or equal to 1000000"),
], ids=["kernel_true", "base_width_string", "bias_string", "width_string", "dim_fraction", "huge_out_channels"])
def test_loader_is_as_strict_as_the_schema(write_file: Callable[..., Path], path: list[Any], value: Any,
                                           message: str) -> None:
    p = write_json(write_file, setting(path, value))
    with pytest.raises(GenotypeError) as ei:
        load_genotype(p)
    assert any(message in q.message for q in ei.value.problems), str(ei.value)


def test_integral_floats_are_integers_as_in_json_schema(write_file: Callable[..., Path]) -> None:
    p = write_json(write_file, both(setting([G, "base_width"], 4.0),
                                    setting([G, "edges", 1, "ops", 2], {"op": "conv", "kernel": 3.0})))
    g = load_genotype(p)
    assert g.generator is not None and g.generator.base_width == 4 and type(g.generator.base_width) is int
    assert g.generator.edges[1].ops[2].params.kernel == 3


def test_duplicate_keys_are_rejected_with_their_path(write_file: Callable[..., Path]) -> None:
    text = json.dumps(BASE).replace('"base_width": 4,', '"base_width": 4, "base_width": 8,', 1)
    text = text.replace('{"op": "conv", "kernel": 1}', '{"op": "conv", "kernel": 1, "kernel": 3}', 1)
    with pytest.raises(GenotypeError) as ei:
        load_genotype(write_file(text))
    assert [(q.path, "duplicate key" in q.message) for q in ei.value.problems] == [
        ("generator.base_width", True), ("generator.edges[2].ops[1].kernel", True)]


def test_utf8_byte_order_mark_is_accepted(write_file: Callable[..., Path]) -> None:
    g = load_genotype(write_file(b"\xef\xbb\xbf" + json.dumps(BASE).encode()))
    assert g.generator is not None


@pytest.mark.parametrize("path, where", [(["name"], "name"), ([G, "nodes", 1, "cell"], "generator.nodes[1].cell"),
                                         ([G, "edges", 1, "name"], "generator.edges[1].name"),
                                         (["provenance"], "provenance.searcher")])
def test_lone_surrogate_is_rejected_with_its_path(write_file: Callable[..., Path], path: list[Any], where: str) -> None:
    value = {"searcher": "x\ud800y"} if path == ["provenance"] else "x\ud800y"
    p = write_json(write_file, setting(path, value))
    assert "\\ud800" in p.read_text()  # the file itself is valid JSON (an escaped surrogate)
    with pytest.raises(GenotypeError) as ei:
        load_genotype(p)
    assert [q.path for q in ei.value.problems] == [where]
    assert "lone surrogate" in ei.value.problems[0].message
    str(ei.value).encode("utf-8")  # the message itself prints on any terminal


@pytest.mark.parametrize("ops, bad", [
    (["none", "upsample", "relu"], 0), (["upsample", "none"], 1), (["upsample", "none", "relu"], 1),
    (["none", {"op": "upsample"}, {"op": "conv", "kernel": 1}], 0),  # issue 10's miscompile
    (["upsample", {"op": "conv", "kernel": 1}, "none"], 2),
])
def test_none_is_only_a_whole_edge(write_file: Callable[..., Path], ops: list[Any], bad: int) -> None:
    p = write_json(write_file, setting([G, "edges", 2, "ops"], ops))
    with pytest.raises(GenotypeError) as ei:
        load_genotype(p)
    assert [q.path for q in ei.value.problems] == [f"generator.edges[2].ops[{bad}]"]
    assert "'none' (no connection) must be the only op of its edge" in ei.value.problems[0].message


def test_unknown_op_does_not_hide_an_unknown_node(write_file: Callable[..., Path]) -> None:
    """Type problems (an unknown op) and structural ones (an unknown dst, a duplicate
    name, a cycle in the other network) come out of one run."""
    p = write_json(write_file, both(setting([G, "edges", 1, "ops", 2], "conv4x4"),
                                    setting([G, "edges", 3, "dst"], "rbg"),
                                    setting([G, "nodes", 1, "name"], "stem"),
                                    adding([D, "edges"], {"src": "h", "dst": "h", "ops": ["identity"]})))
    with pytest.raises(GenotypeError) as ei:
        load_and_analyze(p)
    got = {(q.path, q.message.split(" ")[0]) for q in ei.value.problems}
    assert {("generator.edges[1].ops[2]", "unknown"), ("generator.edges[3].dst", "unknown"),
            ("generator.nodes[1].name", "duplicate"), ("discriminator.edges", "cycle:")} <= got, got


def test_shape_problems_are_reported_with_reachability_problems(write_file: Callable[..., Path]) -> None:
    p = write_json(write_file, both(adding([G, "nodes"], {"name": "orphan", "width": 1}),
                                    setting([G, "edges", 3, "ops"], ["relu", {"op": "avg_pool", "kernel": 15}])))
    with pytest.raises(GenotypeError) as ei:
        load_and_analyze(p)
    assert [q.path for q in ei.value.problems] == ["generator.nodes[3]", "generator.edges[3].ops[1]"]
