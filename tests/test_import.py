"""`gcc-gan import`: reference checkpoints (built from the width-16 reference fixtures)
mapped onto the zoo genotypes, compiled, and checked against the reference outputs."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from conftest import assert_clean_error
from conftest import cli_flat as cli
import torch
from safetensors.torch import load_file

from gcc_gan.genotype_dsl.zoo import zoo_genotype

pytestmark = pytest.mark.usefixtures("one_thread")

FIXTURES = Path(__file__).parent / "fixtures"


def fixture(name: str) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    f = np.load(FIXTURES / f"{name}_gf16.npz")
    sd = {k[3:]: torch.from_numpy(f[k]) for k in f.files if k.startswith("sd.")}
    return sd, torch.from_numpy(f["z"]), torch.from_numpy(f["out"])


def compiled_output(out: Path, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The compiled generator's images for `z`, from the source + safetensors and from ONNX."""
    ns: dict[str, object] = {}
    exec((out / "generator.py").read_text(), ns)  # noqa: S102 - the artifact under test
    g = ns["Generator"]()  # type: ignore[operator]
    g.load_state_dict(load_file(str(out / "generator.safetensors")))
    with torch.no_grad():
        img = g.eval()(z)
    onnx_img = ort.InferenceSession(str(out / "generator.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"z": z.numpy()})[0]
    return img, torch.from_numpy(onnx_img)


@pytest.mark.parametrize(("name", "method", "verify"), [("autogan-a", "autogan", False),
                                                   ("adversarialnas", "adversarialnas", True)])
def test_import_then_compile_reproduces_the_reference(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                      name: str, method: str, verify: bool) -> None:
    sd, z, want = fixture(name)
    ckpt = tmp_path / "ckpt.pth"
    # a DataParallel training checkpoint as the reference scripts write it (numpy best FID,
    # run arguments); the EMA generator is preferred over the raw one
    torch.save({"epoch": 7, "best_fid": np.float64(12.4), "args": argparse.Namespace(gf_dim=16),
                "path_helper": {"prefix": "logs/x"}, "gen_state_dict": {f"module.{k}": v + 1 for k, v in sd.items()},
                "avg_gen_state_dict": {f"module.{k}": v for k, v in sd.items()}}, ckpt)
    weights = tmp_path / "w.safetensors"
    code, stdout, err = cli(capsys, "import", method, ckpt, "--genotype", f"zoo:{name}", "-o", weights)
    assert code == 0, err
    assert "base width 16 = 0.0625 × the genotype's 256 (inferred from the checkpoint)" in stdout
    assert f"gcc-gan compile zoo:{name} -o out --weights {weights} --width 0.0625" in stdout
    out = tmp_path / "out"
    code, _, err = cli(capsys, "compile", f"zoo:{name}", "-o", out, "--weights", weights, "--width", "0.0625",
                       *([] if verify else ["--no-verify"]))
    assert code == 0, err
    img, onnx_img = compiled_output(out, z)
    assert (img - want).abs().max() <= 1e-4
    assert (onnx_img - want).abs().max() <= 1e-4
    if verify:
        assert json.loads((out / "report.json").read_text())["networks"]["generator"]["verification"]["onnx"]


def test_raw_state_dict_key_and_width_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sd, _, _ = fixture("adversarialnas")
    raw = tmp_path / "raw.pth"
    torch.save(sd, raw)  # no module. prefix, no training dict; aliased duplicates included
    code, stdout, err = cli(capsys, "import", "adversarialnas", raw, "--genotype", "zoo:adversarialnas",
                            "-o", tmp_path / "a.safetensors", "--width", "0.0625")
    assert code == 0, err
    assert "inferred" not in stdout
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"gen_state_dict": {f"module.{k}": v for k, v in sd.items()},
                "avg_gen_state_dict": {f"module.{k}": v * 0 for k, v in sd.items()}}, wrapped)
    code, _, err = cli(capsys, "import", "adversarialnas", wrapped, "--genotype", "zoo:adversarialnas",
                       "-o", tmp_path / "b.safetensors", "--key", "gen_state_dict")
    assert code == 0, err
    a, b = load_file(str(tmp_path / "a.safetensors")), load_file(str(tmp_path / "b.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    code, _, err = cli(capsys, "import", "adversarialnas", wrapped, "--genotype", "zoo:adversarialnas",
                       "-o", tmp_path / "c.safetensors", "--key", "ema")
    assert_clean_error(code, err, "no generator state dict found; looked for keys ema")


class Evil:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (os.system, ("touch pwned",))


def test_bad_checkpoints(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    sd, _, _ = fixture("adversarialnas")
    out = tmp_path / "w.safetensors"

    def attempt(ckpt_obj: object | None, fragment: str, *extra: str, method: str = "adversarialnas",
                genotype: str = "zoo:adversarialnas", raw: bytes | None = None) -> None:
        ckpt = tmp_path / "ckpt.pth"
        if raw is not None:
            ckpt.write_bytes(raw)
        elif ckpt_obj is not None:
            torch.save(ckpt_obj, ckpt)
        code, _, err = cli(capsys, "import", method, ckpt, "--genotype", genotype, "-o", out, *extra)
        assert_clean_error(code, err, fragment)
        assert not out.exists()
        ckpt.unlink(missing_ok=True)

    # the AdversarialNAS reference holds each searched conv under two names; corrupt one
    assert torch.equal(sd["cell1.c2.ops.0.conv.weight"], sd["cell1.c2.ops.0.op.1.weight"])
    bad_alias = {**sd, "cell1.c2.ops.0.op.1.weight": sd["cell1.c2.ops.0.op.1.weight"] + 1}
    attempt(bad_alias, "(aliased) parameter but differ")
    wrong = {**sd, "l1.weight": sd["l1.weight"].t().contiguous()}
    attempt(wrong, "checkpoint tensor l1.weight has shape")
    attempt(sd, "but the genotype needs", "--width", "0.125")  # a width the checkpoint was not trained at
    attempt({k: v for k, v in sd.items() if k != "to_rgb.2.weight"}, "checkpoint is missing tensor to_rgb.2.weight")
    attempt({**sd, "extra.weight": torch.zeros(3)}, "checkpoint tensor extra.weight (shape 3) has no place")
    attempt(None, "not a loadable PyTorch checkpoint of tensors (not a pickled state dict",
            raw=b"\x89garbage, not a checkpoint" * 20)
    attempt({"gen_state_dict": sd, "hook": Evil()}, f"holds pickled Python objects that are not tensors: {os.system.__module__}.system")
    assert not (tmp_path / "pwned").exists()  # weights_only: nothing was executed
    attempt([1, 2, 3], "expected a state dict of tensors")
    attempt({"epoch": 3, "optimizer": {"lr": 1e-4}}, "no generator state dict found")
    attempt(None, "no such checkpoint file")
    attempt(sd, "converted from the encoding format 'adversarialnas', not 'autogan'", method="autogan")
    attempt(sd, "unknown checkpoint format 'sngan'", method="sngan")
    attempt(sd, "has no provenance.encoding", genotype="zoo:dcgan")
    sd_a, _, _ = fixture("autogan-a")
    attempt(sd_a, "checkpoint is missing tensor cell1.n1.weight", method="autogan",
            genotype="zoo:autogan-c")  # autogan-c has a BN autogan-a lacks

    # a hand-edited genotype whose generator no longer matches its recorded encoding
    g = json.loads(zoo_genotype("adversarialnas").to_json())
    i, edge = next((i, e) for i, e in enumerate(g["generator"]["edges"]) if e.get("name") == "cell1.c2")
    assert edge["ops"] == ["relu", "conv"]
    edge["ops"] = ["relu", {"op": "conv", "kernel": 5}]  # still a valid genotype, same weight names
    edited = tmp_path / "edited.json"
    edited.write_text(json.dumps(g))
    attempt(sd, f"does not match its provenance.encoding (first difference at generator.edges[{i}].ops[1]",
            genotype=str(edited))

    torch.save(sd, tmp_path / "ok.pth")
    (tmp_path / "adir").mkdir()
    code, _, err = cli(capsys, "import", "adversarialnas", tmp_path / "ok.pth", "--genotype", "zoo:adversarialnas",
                       "-o", tmp_path / "adir")
    assert_clean_error(code, err, "is a directory")
