"""The compile output directory: for each network `NAME.py` (standalone source),
`NAME.safetensors`, `NAME.onnx`, `NAME.pt2`, plus one `report.json`.

The directory is built in a hidden temp sibling and moved into place only when every
step (including every verification) succeeded, so a failure or a kill never leaves a
half-written DIR and never touches an existing one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

import torch
from safetensors.torch import load_file, save_file

from .. import __version__
from ..atomic import atomic_dir
from ..compiler.pipeline import CompiledNetwork
from ..errors import GccGanError
from ..genotype_dsl.model import Genotype
from .onnx_export import (DEFAULT_OPSET, ReferenceOutputs, check_opset, example_inputs, export_onnx, max_abs_err,
                          run_module, verify_onnx)
from .pt2_export import export_pt2, verify_pt2

STANDALONE_ATOL = 1e-5
# compiled module vs the reference interpreter: passes reorder float sums (sub-pixel,
# merged convs, folded BN), so allow what ONNX is allowed
INTERPRETER_ATOL = 1e-4
ONNX_ATOL = 1e-4
PT2_ATOL = 1e-5
ONNX_BATCHES = (1, 3, 64)
# The .pt2 batch dim is symbolic (min 1), so 1 and 3 prove it dynamic; batch 64 would only
# repeat the most expensive forward of the whole compile.
PT2_BATCHES = (1, 3)
STANDALONE_BATCH = 3
STANDALONE_TIMEOUT_S = 300

# Runs in a fresh `python -I` whose cwd is the artifact dir: gcc_gan is removed from
# sys.path and blocked in sys.modules, so any `import gcc_gan` in a source fails.
_STANDALONE_SCRIPT = r"""
import importlib.util, json, sys
from pathlib import Path
sys.path[:] = [p for p in sys.path if not (Path(p or ".") / "gcc_gan").is_dir()]
sys.modules["gcc_gan"] = None
import torch
from safetensors.torch import load_file, save_file
for job in json.loads(sys.argv[1]):
    stem = job["stem"]
    spec = importlib.util.spec_from_file_location(stem, Path.cwd() / (stem + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = getattr(mod, job["class_name"])()
    net.load_state_dict(load_file(stem + ".safetensors"), strict=True)
    net.eval()
    xs = load_file(job["inputs"])
    with torch.no_grad():
        out = net(*[xs["in%d" % i] for i in range(len(xs))])
    outs = (out,) if isinstance(out, torch.Tensor) else tuple(out)
    save_file({"out%d" % i: o.contiguous() for i, o in enumerate(outs)}, job["outputs"])
"""

T = TypeVar("T")


def _timed(times: dict[str, float], step: str, fn: Callable[[], T]) -> T:
    t0 = time.perf_counter()
    try:
        return fn()
    finally:
        times[step] = round(time.perf_counter() - t0, 4)


def stem_of(role: str) -> str:
    return {"generator": "generator", "discriminator": "discriminator"}.get(role, role)


def check_out_dir(out_dir: Path) -> None:
    """Refuse to replace anything that is not a previous compile output: `-o ~` must not
    wipe a home directory."""
    if out_dir.is_symlink() or (out_dir.exists() and not out_dir.is_dir()):
        raise GccGanError(f"{out_dir}: exists and is not a directory; choose another output directory")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / "report.json").is_file():
        raise GccGanError(f"{out_dir}: exists and is not a gcc-gan compile directory (no report.json); "
                          f"remove it or choose another output directory")
    parent = out_dir.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise GccGanError(f"cannot create {out_dir}: {parent} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise GccGanError(f"cannot create {out_dir}: no permission to write in {parent}")


def check_standalone(tmp_dir: Path, compiled: Sequence[CompiledNetwork], refs: Sequence[ReferenceOutputs],
                     atol: float = STANDALONE_ATOL, meanwhile: Callable[[], None] | None = None) -> dict[str, float]:
    """Import each `NAME.py` + `NAME.safetensors` from `tmp_dir` in ONE fresh interpreter
    where gcc_gan cannot be imported, run a fixed batch, compare with the in-process
    modules; return the max abs error per network. A failure is a GccGanError.

    `meanwhile` runs in this process while the child starts up (importing torch takes
    seconds): the caller's other export-free work overlaps with it."""
    with tempfile.TemporaryDirectory(prefix="gcc-gan-standalone-") as io_dir:
        jobs = []
        for c, ref in zip(compiled, refs, strict=True):
            stem = stem_of(c.role)
            inputs = os.path.join(io_dir, f"{stem}.in.safetensors")
            xs = example_inputs(c.input_shapes, STANDALONE_BATCH, ref.seed)
            save_file({f"in{i}": x for i, x in enumerate(xs)}, inputs)
            jobs.append({"stem": stem, "class_name": c.class_name, "inputs": inputs,
                         "outputs": os.path.join(io_dir, f"{stem}.out.safetensors")})
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}
        env["OMP_NUM_THREADS"] = "1"  # a batch of 3; leave the cores to this process
        with open(os.path.join(io_dir, "stderr"), "w+", encoding="utf-8") as err_file:
            proc = subprocess.Popen([sys.executable, "-I", "-B", "-c", _STANDALONE_SCRIPT, json.dumps(jobs)],
                                    cwd=tmp_dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=err_file)
            try:
                if meanwhile is not None:
                    meanwhile()
                wants = [ref.get(STANDALONE_BATCH)[1] for ref in refs]
                proc.wait(timeout=STANDALONE_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                raise GccGanError(f"standalone check timed out after {STANDALONE_TIMEOUT_S} s") from None
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
            if proc.returncode != 0:
                err_file.seek(0)
                tail = "\n".join(err_file.read().strip().splitlines()[-3:])
                raise GccGanError(f"the generated source does not run on its own (without gcc_gan):\n{tail}")
        errs: dict[str, float] = {}
        for job, want in zip(jobs, wants, strict=True):
            got = load_file(job["outputs"])
            err = max_abs_err([got[f"out{i}"] for i in range(len(got))], want)
            errs[job["stem"]] = err
            if not err <= atol:
                raise GccGanError(f"{job['stem']}.py run on its own differs from the compiled module: max abs "
                                  f"error {err:.3g} exceeds {atol:g}")
    return errs


def _normal_permissions(d: Path) -> None:
    """Temp dirs and some writers create owner-only files; give the outputs the modes a
    plain mkdir/open would (umask applied)."""
    umask = os.umask(0)
    os.umask(umask)
    d.chmod(0o777 & ~umask)
    for f in d.iterdir():
        f.chmod(0o666 & ~umask)


def _net_report(c: CompiledNetwork) -> dict[str, Any]:
    r = dict(c.report)
    passes = r.get("passes", [])
    r["passes_fired"] = [p["name"] for p in passes if p.get("fired")]
    r["bytes_fp32"] = 4 * int(r.get("params", sum(t.numel() for t in c.state_dict.values() if t.is_floating_point())))
    r["input_shapes"] = {k: list(v) for k, v in c.input_shapes.items()}
    r["output_shapes"] = {k: list(v) for k, v in c.output_shapes.items()}
    r["compile_wall_s"] = r.pop("wall_s", None)
    return r


def _write_network(tmp: Path, c: CompiledNetwork) -> tuple[ReferenceOutputs, dict[str, Any]]:
    """Write `NAME.py` and `NAME.safetensors`; the in-process module (from the same source
    and state dict) is the reference every later check compares with."""
    stem = stem_of(c.role)
    times: dict[str, float] = {}
    _timed(times, "write_source", lambda: (tmp / f"{stem}.py").write_text(c.source, encoding="utf-8"))
    tensors = {k: v.detach().contiguous().clone() for k, v in c.state_dict.items()}
    _timed(times, "write_safetensors", lambda: save_file(
        tensors, str(tmp / f"{stem}.safetensors"),
        metadata={"format": "pt", "class_name": c.class_name, "gcc_gan": __version__}))
    ref = ReferenceOutputs(_timed(times, "instantiate", c.instantiate), c.input_shapes)
    files = [f"{stem}.{ext}" for ext in ("py", "safetensors", "onnx", "pt2")]
    return ref, {**_net_report(c), "files": files, "verification": {}, "step_wall_s": times}


def _export_network(tmp: Path, c: CompiledNetwork, ref: ReferenceOutputs, net: dict[str, Any], opset: int,
                    verify: bool) -> None:
    """Write (and verify) `NAME.onnx` and `NAME.pt2`, recording errors and times in `net`."""
    stem, m, times = stem_of(c.role), ref.module, net["step_wall_s"]
    onnx_path, pt2_path = tmp / f"{stem}.onnx", tmp / f"{stem}.pt2"
    net["onnx_export"] = _timed(times, "onnx_export", lambda: export_onnx(
        m, c.input_shapes, onnx_path, opset, list(c.output_shapes), reference=ref))
    if verify:
        net["verification"]["onnx"] = _timed(times, "onnx_verify", lambda: verify_onnx(
            onnx_path, m, c.input_shapes, ONNX_BATCHES, ONNX_ATOL, reference=ref))
    _timed(times, "pt2_export", lambda: export_pt2(m, c.input_shapes, pt2_path))
    if verify:
        net["verification"]["pt2"] = _timed(times, "pt2_verify", lambda: verify_pt2(
            pt2_path, m, c.input_shapes, PT2_BATCHES, PT2_ATOL, reference=ref))


def check_interpreter(c: CompiledNetwork, ref: ReferenceOutputs, interpreter: torch.nn.Module,
                      atol: float = INTERPRETER_ATOL) -> dict[str, Any]:
    """The compiled module against the reference interpreter with the same weights (the
    oracle every pass is proven against), on the standalone batch."""
    xs, got = ref.get(STANDALONE_BATCH)
    was_training = interpreter.training
    try:
        want = run_module(interpreter.eval(), xs)
    finally:
        interpreter.train(was_training)
    err = max_abs_err(got, want)
    if not err <= atol:
        raise GccGanError(f"the compiled {c.role} differs from the reference interpreter: max abs error {err:.3g} "
                          f"exceeds {atol:g}. This is a gcc-gan bug; --no-passes avoids the optimisations")
    return {"atol": atol, "batch": STANDALONE_BATCH, "max_abs_err": err}


def write_compile_dir(out_dir: str | os.PathLike[str], compiled: Sequence[CompiledNetwork], genotype: Genotype | None,
                      opset: int = DEFAULT_OPSET, verify: bool = True,
                      interpreters: Mapping[str, torch.nn.Module] | None = None) -> dict[str, Any]:
    """Write every artifact of `compiled` networks into `out_dir` atomically; return the
    report (also written as report.json). Any failing step raises GccGanError and leaves
    `out_dir` as it was. `interpreters` (role -> reference Interpreter holding the same
    weights) adds the compiled-vs-interpreter check to the verification."""
    t_start = time.perf_counter()
    check_opset(opset)
    out = Path(out_dir)
    check_out_dir(out)
    report: dict[str, Any] = {
        "gcc_gan_version": __version__, "torch_version": torch.__version__,
        "genotype": {"name": genotype.name, "sha256": genotype.digest()} if genotype else None,
        "opset": opset, "verified": verify, "networks": {},
    }
    nets = report["networks"]
    try:
        with atomic_dir(out) as tmp:
            refs = []
            for c in compiled:
                ref, nets[c.role] = _write_network(tmp, c)
                refs.append(ref)
            if verify and compiled:  # the source alone must reproduce the module before anything is exported
                t0 = time.perf_counter()

                def reference_forwards() -> None:  # needed by the later checks; overlaps the child
                    for c, ref in zip(compiled, refs, strict=True):
                        for b in sorted({*ONNX_BATCHES, *PT2_BATCHES, STANDALONE_BATCH}):
                            ref.get(b)
                        if interpreters and c.role in interpreters:
                            nets[c.role]["verification"]["interpreter"] = check_interpreter(
                                c, ref, interpreters[c.role])
                    report["reference_forwards_wall_s"] = round(time.perf_counter() - t0, 4)

                errs = check_standalone(tmp, compiled, refs, meanwhile=reference_forwards)
                # one process for all networks, running while the reference forwards ran
                report["standalone_check_wall_s"] = round(time.perf_counter() - t0, 4)
                for c in compiled:
                    nets[c.role]["verification"]["standalone"] = {
                        "atol": STANDALONE_ATOL, "batch": STANDALONE_BATCH, "max_abs_err": errs[stem_of(c.role)]}
            for c, ref in zip(compiled, refs, strict=True):
                _export_network(tmp, c, ref, nets[c.role], opset, verify)
            report["wall_s"] = round(time.perf_counter() - t_start, 4)
            (tmp / "report.json").write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
            _normal_permissions(tmp)
    except OSError as e:
        where = f" ({e.filename})" if e.filename else ""
        raise GccGanError(f"cannot write {out}: {e.strerror or e}{where}") from None
    return report
