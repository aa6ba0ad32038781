"""User names and strings never break or change generated code (issue 10): edge names
that are nn.Module attributes, colliding names, hostile strings in every string field
(quotes, triple quotes, backslashes, newlines, NUL, ...), lone surrogates."""

from __future__ import annotations

import ast
import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from gcc_gan.cli.main import run
from gcc_gan.compiler.interpreter import Interpreter, edge_keys
from gcc_gan.compiler.pipeline import compile_network
from gcc_gan.genotype_dsl.analysis import analyze, analyze_genotype
from gcc_gan.genotype_dsl.builder import NetBuilder, op
from gcc_gan.genotype_dsl.io import parse_genotype
from gcc_gan.genotype_dsl.zoo import ENTRIES, zoo_genotype

README = Path(__file__).resolve().parents[1] / "README.md"
ATTRS = ["forward", "training", "__init__", "eval", "_modules", "state_dict", "to"]
HOSTILE = ['say "hi"', "it's", '"""', "'''", "back\\slash\\", "two\nlines", "nul\x00byte", "cr\rlf",
           "line\u2028sep", "tab\tend", "{braces} %s", "ünïcødé ✓"]


def tiny() -> dict[str, Any]:
    text = README.read_text()
    start = text.index('```json\n{\n  "schema_version"') + len("```json\n")
    return json.loads(text[start:text.index("```", start)])


def with_attr_names() -> dict[str, Any]:
    doc = tiny()
    for e, name in zip(doc["generator"]["edges"], ATTRS):
        e["name"] = name
    return doc


def with_hostile_strings(s: str) -> dict[str, Any]:
    doc = tiny()
    doc["name"] = s
    doc["generator"]["nodes"][1]["cell"] = s
    doc["provenance"] = {"searcher": s, "dataset": s, "reference": s, "notes": s, "seed": 3,
                         "metrics": {s: 1.5}, "search_cost": {s: 2.0}, "encoding": {s: [s]}}
    return doc


def test_module_attribute_names_compile_train_and_match() -> None:
    g = parse_genotype(with_attr_names())
    info = analyze_genotype(g)["generator"]
    torch.manual_seed(0)
    ref = Interpreter(info)
    keys = list(edge_keys(info).values())
    assert keys == [f"{n}-" for n in ATTRS[:5]]  # escaped with a character no plain key has
    # a training step works (the interpreter is what train builds)
    opt = torch.optim.Adam(ref.parameters())
    ref(torch.randn(2, 64)).square().mean().backward()
    opt.step()
    ref.eval()
    compiled = compile_network(info, ref.state_dict(), genotype=g)
    module = compiled.instantiate()
    z = torch.randn(3, 64)
    with torch.no_grad():
        assert torch.allclose(module(z), ref(z), atol=1e-5)
    # the generated class keeps nn.Module's own forward / training
    assert type(module).forward is not torch.nn.Module.forward and isinstance(module.training, bool)


def test_edge_keys_are_injective_and_existing_layouts_unchanged() -> None:
    b = NetBuilder(4)
    b.latent("z", 8)
    b.node("m", width=4)
    names = [None, "e0", "a.b", "a_b", "a-b", "a_b_2", "forward", "forward_", None]
    for n in names:
        b.edge("z", "m", op("linear", out_width=4.0), name=n)
    b.output("o", "m")
    keys = list(edge_keys(analyze(b.build())).values())
    assert len(set(keys)) == len(keys), keys
    assert keys[:4] == ["e0", "e0_2", "a_b", "a_b_2"] and keys[6] == "forward-" and keys[7] == "forward_"
    for name in ENTRIES:  # the canonical layout of every zoo genotype is what it was
        for net in zoo_genotype(name).networks().values():
            info = analyze(net)
            want = [e.edge.name.replace(".", "_") if e.edge.name else f"e{e.index}" for e in info.edges]
            assert list(edge_keys(info).values()) == want, name


@pytest.mark.parametrize("s", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_strings_reach_generated_source_escaped(s: str) -> None:
    g = parse_genotype(json.loads(json.dumps(with_hostile_strings(s))))
    compiled = compile_network(analyze_genotype(g)["generator"], genotype=g)
    tree = ast.parse(compiled.source)
    doc = ast.get_docstring(tree, clean=False)
    assert doc is not None and f"Genotype: {s}  sha256" in doc and f"Searcher: {s}\n" in doc
    assert f"Metrics: {s}=1.5" in doc
    compiled.source.encode("utf-8")
    assert "\x00" not in compiled.source
    compiled.instantiate()


def test_show_and_compile_with_hostile_strings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The whole compile (standalone worker, ONNX, .pt2) with every hostile string at once
    and module-attribute edge names."""
    doc = with_attr_names()
    hostile = "".join(HOSTILE)
    doc.update({k: v for k, v in with_hostile_strings(hostile).items() if k != "generator"})
    doc["generator"]["nodes"][1]["cell"] = hostile
    path = tmp_path / "hostile.json"
    path.write_text(json.dumps(doc))
    capsys.readouterr()
    assert run(["show", str(path)]) == 0
    assert "generator" in capsys.readouterr().out
    assert run(["show", str(path), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == hostile
    out = tmp_path / "out"
    assert run(["compile", str(path), "-o", str(out)]) == 0, capsys.readouterr().err
    source = (out / "generator.py").read_text(encoding="utf-8")
    assert ast.get_docstring(ast.parse(source), clean=False).startswith("Generator compiled by gcc-gan")
    assert json.loads((out / "report.json").read_text())["genotype"]["name"] == hostile


@pytest.mark.parametrize("cmd", ["show", "compile", "validate"])
def test_lone_surrogate_is_one_error(tmp_path: Path, capsys: pytest.CaptureFixture[str], cmd: str) -> None:
    doc = tiny()
    doc["generator"]["nodes"][1]["cell"] = "x\ud800"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc))  # escaped: valid JSON
    args = [cmd, str(path)] + (["-o", str(tmp_path / "out"), "--no-verify"] if cmd == "compile" else [])
    assert run(args) == 1
    err = capsys.readouterr().err
    assert "generator.nodes[1].cell" in err and "lone surrogate" in err and "Traceback" not in err


def test_temporaries_never_overwrite_another_node() -> None:
    """A node named like another node's temporary (`a_0`) keeps its value."""
    b = NetBuilder(4)
    b.latent("z", 8)
    b.node("a_0", width=1)
    b.edge("z", "a_0", op("linear", out_width=4.0), op("reshape", size=2))
    b.node("a", width=1)
    long = ["relu", op("batch_norm"), "tanh", "relu", op("leaky_relu", slope=0.1), "tanh", op("batch_norm"), "relu"]
    b.edge("a_0", "a", *long)
    b.edge("a_0", "a", *copy.deepcopy(long))
    b.node("out", width=1)
    b.edge("a", "out", "identity")
    b.edge("a_0", "out", "identity")
    b.output("o", "out")
    info = analyze(b.build())
    torch.manual_seed(0)
    ref = Interpreter(info).eval()
    compiled = compile_network(info, ref.state_dict(), passes=False)
    z = torch.randn(3, 8)
    with torch.no_grad():
        assert torch.allclose(compiled.instantiate()(z), ref(z), atol=1e-6)
