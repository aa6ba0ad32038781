"""The DSL commands of the `gcc-gan` CLI, run in-process through `main.run` (the same code
path as the console script) and, for the real entry point, twice as a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import CliRun, assert_cli_error, cli

from gcc_gan.genotype_dsl.encodings import adversarialnas_generator, autogan_generator
from gcc_gan.genotype_dsl.io import load_and_analyze, load_genotype
from gcc_gan.genotype_dsl.zoo import ADVERSARIALNAS_ARCH, AUTOGAN_ARCHS, ENTRIES, zoo_genotype

README = Path(__file__).resolve().parents[1] / "README.md"


# ---------------------------------------------------------------------------------------
# main: usage, version, help


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "--version")
    assert code == 0 and re.fullmatch(r"gcc-gan \d+\.\d+\.\d+\S*\n", out)
    code, out, _ = cli(capsys)  # no arguments: help, exit 0
    assert code == 0
    for cmd in ("validate", "show", "zoo", "schema", "render", "convert"):
        assert cmd in out


@pytest.mark.parametrize("args", [["show"], ["show", "zoo:autogan-a", "--bogus"], ["frobnicate"],
                                  ["convert", "nas", "1"], ["render", "zoo:sngan-d"]])
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    code, out, err = cli(capsys, *args)
    assert code == 2, (out, err)
    assert "Traceback" not in out + err and "Usage" in err


# ---------------------------------------------------------------------------------------
# validate


def test_validate_ok(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    f = tmp_path / "a.json"
    assert cli(capsys, "zoo", "autogan-a", "-o", f)[0] == 0
    assert cli(capsys, "validate", f) == (0, "ok\n", "")
    assert cli(capsys, "validate", "zoo:sngan-d")[:2] == (0, "ok\n")


def test_validate_reports_every_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    d = zoo_genotype("autogan-a").to_dict()
    d["generator"]["edges"][7]["ops"][1] = "conv4x4"
    d["generator"]["nodes"][2]["width"] = "wide"
    d["discriminator"]["outputs"][0]["node"] = "nowhere"
    f = tmp_path / "bad.json"
    f.write_text(json.dumps(d))
    code, out, err = cli(capsys, "validate", f)
    assert_cli_error(CliRun(code, out, err), "generator.edges[7].ops[1]", "unknown op 'conv4x4'",
                       "generator.nodes[2].width")
    assert len([ln for ln in err.splitlines() if ln.startswith("  ")]) >= 2  # one problem per line


def test_validate_semantic_problem(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    d = zoo_genotype("sngan-d").to_dict()
    d["discriminator"]["edges"].append({"src": "logit", "dst": "block1.h", "ops": ["identity"]})
    f = tmp_path / "cycle.json"
    f.write_text(json.dumps(d))
    assert_cli_error(cli(capsys, "validate", f), "cycle")


BAD_FILES = {
    "empty": (b"", "empty"),
    "whitespace": (b"  \n\t ", "empty"),
    "binary": (bytes(range(256)) * 4, "not a text file"),
    "malformed": (b'{"generator": {', "malformed JSON"),
    "not_object": (b"[1, 2, 3]", "JSON object"),
    "wrong_types": (b'{"generator": {"base_width": "x", "inputs": 3, "outputs": []}}', "generator.base_width"),
    "no_network": (b'{"schema_version": "1.0"}', "generator"),
    "future_version": (b'{"schema_version": "9.0", "generator": null}', "schema version"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_validate_bad_files(capsys: pytest.CaptureFixture[str], tmp_path: Path, kind: str) -> None:
    data, needle = BAD_FILES[kind]
    f = tmp_path / f"{kind}.json"
    f.write_bytes(data)
    assert_cli_error(cli(capsys, "validate", f), needle)


def test_validate_missing_and_directory(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert_cli_error(cli(capsys, "validate", tmp_path / "nope.json"), "no such file")
    assert_cli_error(cli(capsys, "validate", tmp_path), "directory")
    assert_cli_error(cli(capsys, "validate", "zoo:nope"), "no zoo entry 'nope'")


# ---------------------------------------------------------------------------------------
# show


@pytest.mark.parametrize("name,params,macs", [("autogan-a", 4405251, 1766.4e6),
                                              ("adversarialnas", 8846851, 2680.5e6)])
def test_show_json_counts(capsys: pytest.CaptureFixture[str], name: str, params: int, macs: float) -> None:
    code, out, err = cli(capsys, "show", f"zoo:{name}", "--json")
    assert code == 0, err
    d = json.loads(out)  # stdout is pure JSON
    g = d["generator"]
    assert g["params"] == params
    assert abs(g["macs"] - macs) / macs < 1e-3
    assert g["fp32_bytes"] == 4 * params
    assert g["inputs"] == {"z": [128 if name == "autogan-a" else 120]}
    assert g["outputs"] == {"image": [3, 32, 32]}
    assert g["base_width"] == 256 and g["nodes"] > 0 and g["edges"] > g["nodes"]
    assert d["discriminator"]["params"] == 1053824
    assert d["discriminator"]["inputs"] == {"x": [3, 32, 32]}
    assert d["name"] == name and d["digest"] == zoo_genotype(name).digest()


def test_show_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "show", "zoo:autogan-a")
    assert code == 0
    for needle in ("4,405,251", "17,621,004", "generator", "discriminator", "1,053,824", "3×32×32"):
        assert needle in out
    code, out, _ = cli(capsys, "show", "zoo:sngan-d", "--json")
    assert code == 0 and "generator" not in json.loads(out)


def test_show_prints_user_text_verbatim(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # rich markup in a name must be printed, not interpreted (an unmatched tag would crash)
    g = zoo_genotype("dcgan-d").model_copy(update={"name": "[/x] [bold]d"})
    g.provenance = g.provenance.model_copy(update={"dataset": "[/y]"})
    f = tmp_path / "d.json"
    f.write_text(g.to_json())
    code, out, err = cli(capsys, "show", f)
    assert code == 0, err
    assert "[/x] [bold]d" in out and "[/y]" in out


# ---------------------------------------------------------------------------------------
# zoo and schema


def test_zoo_list(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "zoo")
    assert code == 0
    for name in ENTRIES:
        assert name in out
    assert "4.41" in out and "8.85" in out


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_zoo_entry_round_trips_through_validate(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                name: str) -> None:
    code, printed, _ = cli(capsys, "zoo", name)
    assert code == 0
    f = tmp_path / f"{name}.json"
    assert cli(capsys, "zoo", name, "-o", f)[0] == 0
    assert f.read_text() == printed == zoo_genotype(name).to_json()
    assert cli(capsys, "validate", f)[:2] == (0, "ok\n")
    assert load_genotype(f) == zoo_genotype(name)


def test_zoo_unknown(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert_cli_error(cli(capsys, "zoo", "nope", "-o", tmp_path / "x.json"), "no zoo entry")
    assert not (tmp_path / "x.json").exists()


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref" and isinstance(v, str)] + \
            [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_schema(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = cli(capsys, "schema")
    assert code == 0
    schema = json.loads(out)
    assert schema["type"] == "object"
    assert {"generator", "discriminator", "provenance", "schema_version"} <= set(schema["properties"])
    refs = _refs(schema)
    assert refs and all(r.startswith("#/$defs/") and r.split("/")[-1] in schema["$defs"] for r in refs)
    ops = schema["$defs"]["OpCall"]["oneOf"]
    assert "conv" in ops[0]["enum"] and any(v.get("properties", {}).get("op") == {"const": "conv"} for v in ops)
    f = tmp_path / "schema.json"
    assert cli(capsys, "schema", "-o", f)[0] == 0
    assert json.loads(f.read_text()) == schema
    import jsonschema  # a test dependency (extra "test"): a missing one is a failure, not a silent pass

    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(zoo_genotype("autogan-a").to_dict(), schema)


# ---------------------------------------------------------------------------------------
# convert


def test_convert_autogan_matches_zoo(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    arch = AUTOGAN_ARCHS["autogan-a"]
    spaced, commas = " ".join(map(str, arch)), ",".join(map(str, arch))
    jf = tmp_path / "arch.json"
    jf.write_text(json.dumps(arch))
    zoo_g, zoo_i = load_and_analyze("zoo:autogan-a")
    for k, given in enumerate((spaced, commas, json.dumps(arch), str(jf))):
        f = tmp_path / f"g{k}.json"
        code, out, err = cli(capsys, "convert", "autogan", given, "-o", f)
        assert code == 0, err
        g, infos = load_and_analyze(f)
        assert g.generator == zoo_g.generator and g.discriminator is None
        assert (infos["generator"].params, infos["generator"].macs) == (zoo_i["generator"].params,
                                                                         zoo_i["generator"].macs)
        assert g.provenance.encoding == autogan_generator(arch).encoding
        assert g.provenance.searcher == "autogan" and g.name == f"g{k}"


def test_convert_adversarialnas_npy_with_d(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    npy = tmp_path / "latest_G.npy"
    np.save(npy, np.array(ADVERSARIALNAS_ARCH, dtype=np.int64))
    f = tmp_path / "anas.json"
    code, _, err = cli(capsys, "convert", "adversarialnas", npy, "-o", f, "--with-d", "zoo:sngan-d")
    assert code == 0, err
    g, infos = load_and_analyze(f)
    assert infos["generator"].params == 8846851
    assert infos["discriminator"].params == 1053824
    assert g.digest() == zoo_genotype("adversarialnas").digest()  # same G and D as the zoo
    assert g.provenance.encoding == adversarialnas_generator(ADVERSARIALNAS_ARCH).encoding
    # a flat vector of 21 and options
    flat = " ".join(str(v) for row in ADVERSARIALNAS_ARCH for v in row)
    f2 = tmp_path / "small.json"
    assert cli(capsys, "convert", "adversarialnas", flat, "-o", f2, "--gf", "16", "--latent", "30")[0] == 0
    enc = load_genotype(f2).provenance.encoding
    assert enc is not None and (enc["gf"], enc["latent"]) == (16, 30)


@pytest.mark.parametrize("fmt,arch,needle", [
    ("autogan", "1 0 1 1 1 0 0 1 1 1 0 1 0 9", "skip bitmask"),
    ("autogan", "1 0 1", "14 for 3 cells"),
    ("autogan", "1 0 x", "integers"),
    ("autogan", "[1, 0", "JSON"),
    ("autogan", "[1, 0.5, 1, 1]", "integers"),
    ("adversarialnas", "[[1,1,1,0,3,3,1],[1,1,0,1,3,3,3],[0,1,0,3,3,0,9]]", "op index"),
    ("adversarialnas", "[[1,1,0,0,3,3,1],[1,1,0,1,3,3,3],[0,1,0,3,3,0,3]]", "does not exist"),
    ("adversarialnas", "1 2 3", "7 op indices"),
    ("adversarialnas", "missing.npy", "no such file"),
])
def test_convert_bad_vectors(capsys: pytest.CaptureFixture[str], tmp_path: Path, fmt: str, arch: str,
                             needle: str) -> None:
    out = tmp_path / "x.json"
    assert_cli_error(cli(capsys, "convert", fmt, arch, "-o", out), needle)
    assert not out.exists() and list(tmp_path.iterdir()) == []  # nothing half-written


def test_convert_bad_npy_and_mismatched_d(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    obj = tmp_path / "obj.npy"
    np.save(obj, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    assert_cli_error(cli(capsys, "convert", "adversarialnas", obj, "-o", tmp_path / "o.json"), "numeric")
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"\x93NUMPY garbage")
    assert_cli_error(cli(capsys, "convert", "autogan", garbage, "-o", tmp_path / "o.json"), "garbage.npy")
    # STL-10 shapes (48×48) do not fit the CIFAR discriminator (32×32)
    code, out, err = cli(capsys, "convert", "adversarialnas", json.dumps(ADVERSARIALNAS_ARCH), "-o",
                         tmp_path / "o.json", "--dataset", "stl10", "--bottom", "6", "--with-d", "zoo:sngan-d")
    assert_cli_error(CliRun(code, out, err), "48×48", "32×32")
    assert not (tmp_path / "o.json").exists()


# ---------------------------------------------------------------------------------------
# README: the DSL example validates


def test_readme_example_validates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.S)
    assert blocks, "README has no ```json example"
    f = tmp_path / "example.json"
    f.write_text(blocks[0])
    assert cli(capsys, "validate", f) == (0, "ok\n", "")
    # and the two quickstart commands are there as written
    assert "pip install -e . && gcc-gan search -o runs/quickstart --force && gcc-gan compile " in text
    assert "pip install -e '.[test]' && pytest" in text


# ---------------------------------------------------------------------------------------
# the real entry point (each subprocess pays the torch import: keep them few)


def test_entry_point_subprocess(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_bytes(b"\x00\xff garbage")
    env_cmd = [sys.executable, "-m", "gcc_gan.cli.main"]
    p = subprocess.run([*env_cmd, "validate", str(bad)], capture_output=True, text=True, timeout=120)
    assert p.returncode == 1 and p.stderr.startswith("error:") and "Traceback" not in p.stderr
    assert p.stdout == ""
    p = subprocess.run([*env_cmd, "show", "zoo:autogan-a", "--json"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["generator"]["params"] == 4405251


def test_readme_lists_every_op_and_ci_runs_its_test_command() -> None:
    from gcc_gan.genotype_dsl.ops import REGISTRY

    text = README.read_text(encoding="utf-8")
    table = text.split("## Op vocabulary", 1)[1].split("\n## ", 1)[0]
    missing = [name for name in REGISTRY if f"| `{name}` |" not in table]
    assert not missing, f"README op table lacks {missing}"
    ci = (README.parent / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci
    assert "python3 -m venv .venv && . .venv/bin/activate && pip install -e '.[test]' && pytest" in ci
