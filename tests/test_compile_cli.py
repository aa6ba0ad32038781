"""`gcc-gan compile` end to end and the atomicity of its output directory."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import assert_clean_error, cli
import torch
from safetensors.torch import save_file

from gcc_gan.compiler.interpreter import Interpreter
from gcc_gan.compiler.pipeline import CompiledNetwork
from gcc_gan.errors import GccGanError
from gcc_gan.export.artifacts import write_compile_dir
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.zoo import zoo_genotype

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = "0.0625"  # width 16 instead of 256: same graph, fast
ARTIFACTS = ["generator.py", "generator.safetensors", "generator.onnx", "generator.pt2", "report.json",
             "test_data_set_0"]  # the ONNX model zoo's test data beside generator.onnx

# Run in `python -I` with gcc_gan removed from sys.path and blocked: what a user without
# gcc-gan does with the artifacts. Prints the max abs difference torch vs onnxruntime.
STANDALONE_USER = textwrap.dedent("""
    import sys, importlib.util
    from pathlib import Path
    sys.path[:] = [p for p in sys.path if not (Path(p or ".") / "gcc_gan").is_dir()]
    sys.modules["gcc_gan"] = None
    import numpy as np, onnxruntime as ort, torch
    from safetensors.torch import load_file
    spec = importlib.util.spec_from_file_location("generator", "generator.py")
    mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
    g = mod.Generator(); g.load_state_dict(load_file("generator.safetensors")); g.eval()
    z = torch.randn(5, 128, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        img = g(z).numpy()
    onnx_img = ort.InferenceSession("generator.onnx", providers=["CPUExecutionProvider"]).run(None, {"z": z.numpy()})[0]
    prog = torch.export.load("generator.pt2").module()
    assert img.shape == (5, 3, 32, 32), img.shape
    print(float(np.abs(onnx_img - img).max()), float((prog(z) - torch.from_numpy(img)).abs().max()))
""")


def leftovers(parent: Path) -> list[str]:
    return sorted(p.name for p in parent.iterdir() if p.name.startswith("."))


def test_compile_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # a relative -o, as in the README (the worker runs elsewhere)
    out = tmp_path / "runs" / "out"
    code, stdout, err = cli(capsys, "compile", "zoo:autogan-a", "-o", "runs/out", "--width", SMALL, "--net", "both")
    assert code == 0, err
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(ARTIFACTS + [a.replace("generator", "discriminator") for a in ARTIFACTS[:4]])
    report = json.loads((out / "report.json").read_text())
    g = report["networks"]["generator"]
    assert g["params_reference"] == 48_771 and g["macs_after"] < g["macs_before"]
    assert "subpixel" in g["passes_fired"]
    assert [p["name"] for p in g["passes"]] and all("macs_after" in p for p in g["passes"])
    for role in ("generator", "discriminator"):
        v = report["networks"][role]["verification"]
        assert v["standalone"]["max_abs_err"] <= 1e-5 and v["interpreter"]["max_abs_err"] <= 1e-5
        assert set(v["onnx"]["max_abs_err"]) == {"1", "3", "64"} and max(v["onnx"]["max_abs_err"].values()) <= 1e-4
        assert max(v["pt2"]["max_abs_err"].values()) <= 1e-5
        assert {"onnx_export", "onnx_verify", "pt2_export", "pt2_verify"} <= set(report["networks"][role]["step_wall_s"])
    assert report["genotype"]["sha256"] == zoo_genotype("autogan-a").digest()
    assert "0.733×" in stdout and "next:" in stdout and "onnxruntime" in stdout
    assert leftovers(tmp_path) == []
    header = (out / "generator.py").read_text()
    assert "gcc_gan" not in header.replace("gcc-gan", "") and "import torch" in header

    # what a user without gcc-gan does: import the source, load the weights, compare with ONNX/.pt2
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
    proc = subprocess.run([sys.executable, "-I", "-B", "-c", STANDALONE_USER], cwd=out, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    onnx_err, pt2_err = map(float, proc.stdout.split())
    assert onnx_err <= 1e-4 and pt2_err <= 1e-5

    # a second compile refuses to replace it without --force; with it, replaces the directory as a whole
    # (the discriminator files go)
    code, _, err = cli(capsys, "compile", "zoo:autogan-a", "-o", out, "--width", SMALL, "--no-passes", "--no-verify")
    assert_clean_error(code, err, "already exists; add --force to replace it")
    code, stdout, err = cli(capsys, "compile", "zoo:autogan-a", "-o", out, "--width", SMALL, "--no-passes", "--no-verify",
                            "--force")
    assert code == 0, err
    assert sorted(p.name for p in out.iterdir()) == sorted(ARTIFACTS)
    report = json.loads((out / "report.json").read_text())
    assert report["networks"]["generator"]["passes_fired"] == [] and report["verified"] is False
    assert "not verified" in stdout
    assert leftovers(tmp_path) == []


def test_compile_with_weights_reproduces_the_interpreter(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    g = zoo_genotype("dcgan")
    info = analyze(g.generator.scaled(1 / 16), role="generator")
    torch.manual_seed(3)
    ref = Interpreter(info).train()
    ref(torch.randn(8, 128))  # move the BN running stats off their defaults
    ref.eval()
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(tmp_path / "w.safetensors"))
    out = tmp_path / "out"
    code, _, err = cli(capsys, "compile", "zoo:dcgan", "-o", out, "--width", SMALL, "--weights", tmp_path / "w.safetensors",
                          "--no-verify")
    assert code == 0, err
    ns: dict[str, object] = {}
    exec((out / "generator.py").read_text(), ns)  # noqa: S102 - the artifact under test
    m = ns["Generator"]()  # type: ignore[operator]
    from safetensors.torch import load_file
    m.load_state_dict(load_file(str(out / "generator.safetensors")))
    z = torch.randn(4, 128)
    with torch.no_grad():
        assert torch.allclose(m.eval()(z), ref(z), atol=1e-5)


def test_bad_weights(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    info = analyze(zoo_genotype("dcgan").generator.scaled(1 / 16), role="generator")
    sd = {k: v.contiguous() for k, v in Interpreter(info).state_dict().items()}
    out = tmp_path / "out"
    args = ["compile", "zoo:dcgan", "-o", out, "--weights"]

    code, _, err = cli(capsys, *args, tmp_path / "nope.safetensors", "--width", SMALL)
    assert_clean_error(code, err, "nope.safetensors: no such weights file")
    (tmp_path / "junk.safetensors").write_bytes(b"\x00garbage" * 10)
    code, _, err = cli(capsys, *args, tmp_path / "junk.safetensors", "--width", SMALL)
    assert_clean_error(code, err, "junk.safetensors: not a readable safetensors file")

    save_file(sd, str(tmp_path / "w16.safetensors"))
    code, _, err = cli(capsys, *args, tmp_path / "w16.safetensors", "--width", "0.03125")  # wrong width
    assert_clean_error(code, err, "tensor 'edges.l0.0.weight' has shape 512×128 but the genotype needs 256×128")
    save_file({k: v for k, v in sd.items() if k != "edges.up2.2.weight"}, str(tmp_path / "missing.safetensors"))
    code, _, err = cli(capsys, *args, tmp_path / "missing.safetensors", "--width", SMALL)
    assert_clean_error(code, err, "missing tensor 'edges.up2.2.weight'")
    save_file({**sd, "edges.extra.0.weight": torch.zeros(2)}, str(tmp_path / "extra.safetensors"))
    code, _, err = cli(capsys, *args, tmp_path / "extra.safetensors", "--width", SMALL)
    assert_clean_error(code, err, "'edges.extra.0.weight' does not belong")
    assert not out.exists() and leftovers(tmp_path) == []


def test_bad_arguments(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    bad = tmp_path / "bad.json"
    bad.write_text('{"generator": 3}')
    cases = [
        (["compile", bad, "-o", out], ["bad.json", "generator"]),
        (["compile", tmp_path / "none.json", "-o", out], ["none.json: no such file"]),
        (["compile", "zoo:nope", "-o", out], ["no zoo entry 'nope'"]),
        (["compile", "zoo:sngan-d", "-o", out, "--net", "g"], ["has no generator; try --net d"]),
        (["compile", "zoo:dcgan", "-o", out, "--opset", "5"], ["opset 5 is not supported"]),
        (["compile", "zoo:dcgan", "-o", out, "--width", "0"], ["--width must be a positive multiplier"]),
    ]
    for args, fragments in cases:
        code, _, err = cli(capsys, *args)
        assert_clean_error(code, err, *fragments)
    assert not out.exists() and leftovers(tmp_path) == []


def test_unwritable_or_foreign_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "afile").write_text("x")
    code, _, err = cli(capsys, "compile", "zoo:dcgan", "-o", tmp_path / "afile" / "out", "--width", SMALL)
    assert_clean_error(code, err, "is not a directory")
    code, _, err = cli(capsys, "compile", "zoo:dcgan", "-o", tmp_path / "afile", "--width", SMALL)
    assert_clean_error(code, err, "afile: exists and is not a directory")
    assert (tmp_path / "afile").read_text() == "x"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    code, _, err = cli(capsys, "compile", "zoo:dcgan", "-o", mine, "--width", SMALL)
    assert_clean_error(code, err, "not a gcc-gan compile directory")
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    assert leftovers(tmp_path) == []


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs (refuses mkdir even to root)")
def test_unwritable_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cli(capsys, "compile", "zoo:dcgan", "-o", "/sys/gcc-gan-test-out", "--width", SMALL)
    assert_clean_error(code, err, "/sys/gcc-gan-test-out")
    assert not Path("/sys/gcc-gan-test-out").exists()


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root ignores directory permissions")
def test_read_only_parent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        code, _, err = cli(capsys, "compile", "zoo:dcgan", "-o", ro / "out", "--width", SMALL)
        assert_clean_error(code, err, "no permission to write")
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)


def _broken(role: str = "generator", first_line: str = "import gcc_gan  # not standalone",
            body: str = "return torch.tanh(self.fc(z))") -> CompiledNetwork:
    """A real module whose source imports gcc_gan: fine in-process, fails standalone."""
    source = textwrap.dedent(f"""
        import torch
        {first_line}
        class Generator(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = torch.nn.Linear(4, 6)
            def forward(self, z):
                {body}
    """)
    ns: dict[str, object] = {}
    exec(source, ns)  # noqa: S102
    sd = ns["Generator"]().state_dict()  # type: ignore[operator]
    report = {"params": 30, "macs_before": 24, "macs_after": 24, "passes": []}
    return CompiledNetwork(role, "Generator", source, sd, {"z": (4,)}, {"image": (6,)}, report)


def test_failing_step_leaves_no_directory(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(GccGanError, match="does not run on its own"):
        write_compile_dir(out, [_broken()], None)
    assert not out.exists() and leftovers(tmp_path) == []
    # an existing compile directory is untouched by a failing compile
    out.mkdir()
    (out / "report.json").write_text("{}")
    (out / "generator.py").write_text("old")
    with pytest.raises(GccGanError, match="does not run on its own"):
        write_compile_dir(out, [_broken()], None)
    assert sorted(p.name for p in out.iterdir()) == ["generator.py", "report.json"]
    assert (out / "generator.py").read_text() == "old"
    assert leftovers(tmp_path) == []
    # without verification the same module does compile (proving the check is what failed)
    report = write_compile_dir(out, [_broken()], None, verify=False)
    assert report["networks"]["generator"]["verification"] == {}
    assert sorted(p.name for p in out.iterdir()) == sorted(ARTIFACTS)


def test_standalone_worker_sees_the_parents_packages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A non-editable install puts gcc_gan/ next to torch in site-packages: the worker must
    # keep such folders (and PYTHONPATH) on its path and block only gcc_gan itself.
    site = tmp_path / "site"
    (site / "gcc_gan").mkdir(parents=True)
    (site / "extra_mod.py").write_text("SCALE = 2.0\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    sys.path.insert(0, str(site))
    try:
        net = _broken(first_line="import extra_mod", body="return torch.tanh(self.fc(z)) * extra_mod.SCALE")
        report = write_compile_dir(tmp_path / "out", [net], None)
    finally:
        sys.path.remove(str(site))
        sys.modules.pop("extra_mod", None)
    assert report["networks"]["generator"]["verification"]["standalone"]["max_abs_err"] <= 1e-6


def test_pt2_export_failure_in_the_standalone_worker(tmp_path: Path) -> None:
    # runs standalone and exports to ONNX (tracing takes one branch), but torch.export
    # refuses the data-dependent branch: the worker's failure becomes one clear error
    net = _broken(first_line="", body="return torch.tanh(self.fc(z)) if z.sum() > 0 else self.fc(z)")
    out = tmp_path / "out"
    with pytest.raises(GccGanError, match=r"\.pt2 export to .*generator\.pt2 failed: \w+"):
        write_compile_dir(out, [net], None)
    assert not out.exists() and leftovers(tmp_path) == []


def test_killed_compile_leaves_no_directory(tmp_path: Path) -> None:
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "gcc_gan.cli.main", "compile", "zoo:autogan-a", "-o", str(out),
                             "--width", SMALL], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "TMPDIR": str(tmp)})
    try:
        deadline, mid_write = time.monotonic() + 120, False
        while time.monotonic() < deadline and proc.poll() is None:
            temps = list(tmp_path.glob(".out.tmp-*"))
            if temps and (temps[0] / "generator.safetensors").exists():
                mid_write = True
                break
            time.sleep(0.02)
        assert proc.poll() is None, "compile finished before it could be killed"
        assert mid_write, "never saw the half-written temp directory: the kill would test nothing"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert not out.exists()  # at most a hidden .out.tmp-* remains, never a half-written out/
    # (and the lock file, which the kernel unlocked when the process died)
    assert all(p.name.startswith(".out.tmp-") or p.name == ".out.lock" or p == tmp for p in tmp_path.iterdir())
    # the orphaned standalone worker finishes or sees EOF, then removes its temp dir
    deadline = time.monotonic() + 120
    while any(tmp.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert list(tmp.iterdir()) == []


def test_weights_for_one_or_both_networks(tmp_path: Path) -> None:
    from gcc_gan.train.rundir import weights_for

    t = torch.zeros(1)
    path = tmp_path / "w.safetensors"
    plain = {"edges.a.0.weight": t}
    assert weights_for("generator", plain, ("generator",), path) == plain
    both = {"generator.edges.a.0.weight": t, "discriminator.edges.b.0.weight": t}
    assert weights_for("generator", both, ("generator", "discriminator"), path) == {"edges.a.0.weight": t}
    assert weights_for("discriminator", both, ("discriminator",), path) == {"edges.b.0.weight": t}
    with pytest.raises(GccGanError, match="no tensors for the discriminator"):
        weights_for("discriminator", plain, ("generator", "discriminator"), path)
    with pytest.raises(GccGanError, match="no tensors for the discriminator"):
        weights_for("discriminator", {"generator.edges.a.0.weight": t}, ("discriminator",), path)


def test_compiled_module_is_checked_against_the_interpreter(tmp_path: Path) -> None:
    from gcc_gan.compiler.pipeline import compile_network

    info = analyze(zoo_genotype("dcgan").generator.scaled(1 / 16), role="generator")
    torch.manual_seed(1)
    ref = Interpreter(info).eval()
    compiled = compile_network(info, ref.state_dict(), role="generator")
    torch.manual_seed(2)
    other = Interpreter(info).eval()  # not the weights the module was compiled with
    out = tmp_path / "out"
    with pytest.raises(GccGanError, match="differs from the reference interpreter"):
        write_compile_dir(out, [compiled], None, interpreters={"generator": other})
    assert not out.exists() and leftovers(tmp_path) == []


def test_weights_from_a_training_checkpoint_directory(tmp_path: Path) -> None:
    from gcc_gan.train.rundir import weights_by_role

    a, b, d = {"w": torch.zeros(1)}, {"w": torch.ones(1)}, {"v": torch.ones(2)}
    old, new = tmp_path / "run" / "checkpoints" / "step-00000010", tmp_path / "run" / "checkpoints" / "step-00000200"
    for step, ema in ((old, a), (new, b)):
        step.mkdir(parents=True)
        save_file(a, str(step / "generator.safetensors"))
        save_file(ema, str(step / "generator_ema.safetensors"))
        save_file(d, str(step / "discriminator.safetensors"))
    both = ("generator", "discriminator")
    for given in (tmp_path / "run", tmp_path / "run" / "checkpoints", new):  # run dir, root, one step
        w = weights_by_role(given, both)
        assert torch.equal(w["generator"]["w"], b["w"]) and torch.equal(w["discriminator"]["v"], d["v"])
    (new / "discriminator.safetensors").unlink()
    with pytest.raises(GccGanError, match="no discriminator.safetensors for the discriminator"):
        weights_by_role(new, both)
    (tmp_path / "empty").mkdir()
    with pytest.raises(GccGanError, match="a directory without weights"):
        weights_by_role(tmp_path / "empty", ("generator",))
