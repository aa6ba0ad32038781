"""The compile output directory: for each network `NAME.py` (standalone source),
`NAME.safetensors`, `NAME.onnx`, `NAME.pt2`, plus one `report.json`.

The directory is built in a hidden temp sibling and moved into place only when every
step (including every verification) succeeded, so a failure or a kill never leaves a
half-written DIR and never touches an existing one.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence, TypeVar

import torch
from safetensors.torch import load_file, save_file

from ..version import __version__
from ..atomic import atomic_dir
from ..compiler.pipeline import CompiledNetwork
from ..errors import GccGanError
from ..genotype_dsl.model import Genotype
from .onnx_export import (DEFAULT_OPSET, ReferenceOutputs, check_batches, check_opset, describe, example_inputs,
                          export_onnx, max_abs_err, run_module, verify_onnx)
from .precision import PrecisionOptions, build_variants
from .pt2_export import export_pt2
from .safetensors_io import save_safetensors
from .standalone import EXAMPLE_BATCH, StandaloneWorker

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


def submit_standalone(worker: StandaloneWorker, tmp_dir: Path, compiled: Sequence[CompiledNetwork],
                      refs: Sequence[ReferenceOutputs]) -> None:
    """Hand every network in `tmp_dir` to the standalone worker: it imports `NAME.py` +
    `NAME.safetensors` where gcc_gan cannot be imported, runs the standalone batch, writes
    `NAME.pt2` from that module and runs the program at PT2_BATCHES."""
    jobs = []
    for c, ref in zip(compiled, refs, strict=True):
        stem = stem_of(c.role)
        inputs = worker.io_dir / f"{stem}.in.safetensors"
        batches = {STANDALONE_BATCH, EXAMPLE_BATCH, *PT2_BATCHES}
        save_file({f"b{b}.in{i}": x for b in batches
                   for i, x in enumerate(example_inputs(c.input_shapes, b, ref.seed))}, str(inputs))
        jobs.append({"dir": str(tmp_dir.absolute()), "stem": stem, "class_name": c.class_name, "inputs": str(inputs),
                     "outputs": str(worker.io_dir / f"{stem}.out.safetensors"),
                     "standalone_batch": STANDALONE_BATCH, "pt2_batches": list(PT2_BATCHES)})
    worker.submit(jobs)


def check_standalone(worker: StandaloneWorker, out_dir: Path, compiled: Sequence[CompiledNetwork],
                     refs: Sequence[ReferenceOutputs], nets: dict[str, dict[str, Any]]) -> None:
    """Wait for the worker and compare its outputs with the in-process modules: the
    standalone run (STANDALONE_ATOL) and the reloaded .pt2 program (PT2_ATOL). Records the
    errors and the worker's step times in `nets`; any failure is a GccGanError naming the
    file by its place in `out_dir`."""
    try:
        results = worker.collect()
    except RuntimeError as e:
        raise GccGanError(f"the standalone check (a python without gcc_gan) failed:\n{e}") from None
    for c, ref, res in zip(compiled, refs, results, strict=True):
        stem, net = stem_of(c.role), nets[c.role]
        if "standalone_error" in res:
            raise GccGanError(f"the generated source does not run on its own (without gcc_gan):\n"
                              f"{res['standalone_error']}")
        got = load_file(str(worker.io_dir / f"{stem}.out.safetensors"))
        err = max_abs_err(_worker_outputs(got, "standalone"), ref.get(STANDALONE_BATCH)[1])
        if not err <= STANDALONE_ATOL:
            raise GccGanError(f"{stem}.py run on its own differs from the compiled module: max abs "
                              f"error {err:.3g} exceeds {STANDALONE_ATOL:g}")
        net["verification"]["standalone"] = {"atol": STANDALONE_ATOL, "batch": STANDALONE_BATCH, "max_abs_err": err}
        net["step_wall_s"].update(res["wall_s"])
        path = out_dir / f"{stem}.pt2"
        if "pt2_export_error" in res:
            raise GccGanError(f".pt2 export to {path} failed: {res['pt2_export_error']}")
        if "pt2_load_error" in res:
            raise GccGanError(f"cannot load {path} with torch.export.load: {res['pt2_load_error']}")
        failed = res.get("pt2_run_error", {})

        def run(batch: int, _xs: tuple[torch.Tensor, ...], got: dict[str, torch.Tensor] = got,
                failed: dict[str, Any] = failed) -> list[torch.Tensor]:
            if failed.get("batch") == batch:
                raise RuntimeError(failed["message"])
            return _worker_outputs(got, f"pt2.b{batch}")

        net["verification"]["pt2"] = {"atol": PT2_ATOL, "max_abs_err": check_batches(
            run, ref, PT2_BATCHES, PT2_ATOL, f"the program in {path} failed", f".pt2 verification failed for {path}")}


def _worker_outputs(got: Mapping[str, torch.Tensor], prefix: str) -> list[torch.Tensor]:
    n = sum(1 for k in got if k.startswith(f"{prefix}.out"))
    return [got[f"{prefix}.out{i}"] for i in range(n)]


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
    _timed(times, "write_safetensors", lambda: save_safetensors(
        tensors, tmp / f"{stem}.safetensors",
        metadata={"format": "pt", "class_name": c.class_name, "gcc_gan": __version__}))
    ref = ReferenceOutputs(_timed(times, "instantiate", c.instantiate), c.input_shapes)
    files = [f"{stem}.{ext}" for ext in ("py", "safetensors", "onnx", "pt2")]
    return ref, {**_net_report(c), "files": files, "verification": {}, "step_wall_s": times}


def onnx_params(path: Path) -> int:
    """Elements of the ONNX file's float tensors: initializers and Constant nodes (its
    stored parameters, plus the few constants of derived weights, e.g. sub-pixel taps)."""
    import onnx

    model = onnx.load(str(path))
    floats = (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE, onnx.TensorProto.BFLOAT16)
    consts = [a.t for node in model.graph.node if node.op_type == "Constant" for a in node.attribute if a.name == "value"]
    n = 0
    for t in [*model.graph.initializer, *consts]:
        if t.data_type in floats:
            k = 1
            for d in t.dims:
                k *= int(d)
            n += k
    return n


def compiled_params(out_dir: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Per network of a compile directory's report.json: source, stored (safetensors /
    ONNX) and runtime parameters, the derived tensors, and the precision variants' checks
    (file, PSNR and max error against fp32, images/s relative to fp32)."""
    d = Path(out_dir)
    try:
        report = json.loads((d / "report.json").read_text(encoding="utf-8"))
        nets = report["networks"]
    except (OSError, ValueError, KeyError, TypeError):
        raise GccGanError(f"{d}: not a gcc-gan compile directory (no readable report.json)") from None
    keys = ("params_source", "params_stored", "params_onnx", "params_runtime")
    checks = ("file", "psnr_db", "max_abs_err", "speedup_vs_fp32")
    return {role: {**{k: r.get(k) for k in keys}, "derived_tensors": r.get("derived_tensors", []),
                   "macs_before": r.get("macs_before"), "macs_after": r.get("macs_after"),
                   "precision": {p: {k: v.get(k) for k in checks} for p, v in (r.get("precision") or {}).items()}}
            for role, r in nets.items()}


def onnx_metadata(c: CompiledNetwork, genotype: Genotype | None, precision: str = "fp32") -> dict[str, str]:
    """The model's metadata_props: what a deployment needs without gcc-gan."""
    meta = {"gcc_gan_version": __version__, "role": c.role, "precision": precision,
            "inputs": json.dumps({k: list(v) for k, v in c.input_shapes.items()}),
            "outputs": json.dumps({k: list(v) for k, v in c.output_shapes.items()})}
    if c.role == "generator":
        meta["latent_size"] = ",".join(str(s[0]) for s in c.input_shapes.values())
    if genotype is not None:
        meta["genotype_sha256"] = genotype.digest()
        meta["genotype_name"] = genotype.name or ""
    return meta


def onnx_doc(c: CompiledNetwork, genotype: Genotype | None, precision: str = "fp32") -> str:
    """The model's doc string: one paragraph on what goes in and what comes out."""
    fmt = lambda shape: "[batch, " + ", ".join(map(str, shape)) + "]"  # noqa: E731
    ins = ", ".join(f"{k} {fmt(v)} float32" for k, v in c.input_shapes.items())
    outs = ", ".join(f"{k} {fmt(v)} float32" for k, v in c.output_shapes.items())
    what = (f"{c.class_name} compiled by gcc-gan {__version__}"
            + (f" from genotype {genotype.name or '(unnamed)'} (sha256 {genotype.digest()})" if genotype else ""))
    io_text = (f"Input: {ins} (standard-normal latents). Output: {outs}, images in [-1, 1]."
               if c.role == "generator" else f"Input: {ins} (images in [-1, 1]). Output: {outs}.")
    return f"{what}, precision {precision}. {io_text}"


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
                      interpreters: Mapping[str, torch.nn.Module] | None = None,
                      worker: StandaloneWorker | None = None,
                      on_step: Callable[[str], None] | None = None,
                      precision: PrecisionOptions | None = None, torch_fidelity: bool = False,
                      model_card: bool = False) -> dict[str, Any]:
    """Write every artifact of `compiled` networks into `out_dir` atomically; return the
    report (also written as report.json). Any failing step raises GccGanError and leaves
    `out_dir` as it was. `interpreters` (role -> reference Interpreter holding the same
    weights) adds the compiled-vs-interpreter check to the verification. `worker`: a
    StandaloneWorker started earlier (its torch import then overlaps the caller's work);
    one is started here when verifying without it, and it is closed either way.

    With `verify` the .pt2 is written by the standalone worker (from the module it imported
    without gcc_gan); without it, in this process. `on_step(what)` hears each step as it
    starts (the CLI shows it as a status line).

    `precision`: extra ONNX variants of the generator (`generator.fp16.onnx`,
    `generator.int8.onnx`), each verified against `generator.onnx` (max error, PSNR,
    images/s side by side); one below the PSNR threshold fails the whole compile.

    The generator's ONNX always gets ONNX-model-zoo test data (`test_data_set_0/`);
    `torch_fidelity` adds `generator.uint8.onnx`, `model_card` a Hugging Face Hub
    README.md + config.json (export/hub.py)."""
    step = on_step or (lambda _what: None)
    t_start = time.perf_counter()
    check_opset(opset)
    out = Path(out_dir)
    check_out_dir(out)
    popts = precision or PrecisionOptions()
    report: dict[str, Any] = {
        "gcc_gan_version": __version__, "torch_version": torch.__version__,
        "genotype": {"name": genotype.name, "sha256": genotype.digest()} if genotype else None,
        "opset": opset, "verified": verify, "precisions": list(popts.precisions), "networks": {},
    }
    nets = report["networks"]
    verifying = verify and bool(compiled)
    try:
        with contextlib.ExitStack() as stack:
            # the temp dir first, so that on an error or a signal the worker (which writes the .pt2
            # into it) is killed before the temp dir is removed, never after: no file written late
            tmp = stack.enter_context(atomic_dir(out))
            if verifying:
                worker = stack.enter_context(worker or StandaloneWorker())
            elif worker is not None:
                worker.close()
            refs = []
            for c in compiled:
                step(f"writing {stem_of(c.role)}.py and {stem_of(c.role)}.safetensors")
                ref, nets[c.role] = _write_network(tmp, c)
                refs.append(ref)
            if verifying:  # the worker checks the source alone and writes the .pt2 on the other core
                submit_standalone(worker, tmp, compiled, refs)
            for c, ref in zip(compiled, refs, strict=True):
                # single-threaded tracing first, while the worker is still importing torch.export
                net = nets[c.role]
                step(f"tracing {stem_of(c.role)}.onnx")
                net["onnx_export"] = _timed(net["step_wall_s"], "onnx_export", lambda c=c, ref=ref: export_onnx(
                    ref.module, c.input_shapes, tmp / f"{stem_of(c.role)}.onnx", opset, list(c.output_shapes),
                    reference=ref, metadata=onnx_metadata(c, genotype), doc_string=onnx_doc(c, genotype)))
                if not verifying:
                    step(f"exporting {stem_of(c.role)}.pt2")
                    _timed(net["step_wall_s"], "pt2_export", lambda c=c, ref=ref: export_pt2(
                        ref.module, c.input_shapes, tmp / f"{stem_of(c.role)}.pt2"))
            for c in compiled:
                nets[c.role]["params_onnx"] = onnx_params(tmp / f"{stem_of(c.role)}.onnx")
            if verifying:
                t0 = time.perf_counter()
                batches = sorted({*ONNX_BATCHES, *PT2_BATCHES, STANDALONE_BATCH})
                for c, ref in zip(compiled, refs, strict=True):
                    step(f"reference forwards of {c.role} (batch {', '.join(map(str, batches))})")
                    for b in batches:
                        ref.get(b)
                    if interpreters and c.role in interpreters:
                        nets[c.role]["verification"]["interpreter"] = check_interpreter(c, ref, interpreters[c.role])
                report["reference_forwards_wall_s"] = round(time.perf_counter() - t0, 4)
                for c, ref in zip(compiled, refs, strict=True):
                    net = nets[c.role]
                    step(f"verifying {stem_of(c.role)}.onnx with onnxruntime")
                    net["verification"]["onnx"] = _timed(net["step_wall_s"], "onnx_verify", lambda c=c, ref=ref: (
                        verify_onnx(tmp / f"{stem_of(c.role)}.onnx", ref.module, c.input_shapes, ONNX_BATCHES,
                                    ONNX_ATOL, reference=ref)))
                t0 = time.perf_counter()
                step("waiting for the standalone check and .pt2 export")
                check_standalone(worker, out, compiled, refs, nets)
                report["standalone_wait_s"] = round(time.perf_counter() - t0, 4)
            for c in compiled:
                if c.role != "generator" or not popts.variants:
                    continue
                net, stem = nets[c.role], stem_of(c.role)
                step(f"{', '.join(popts.variants)} variants of {stem}.onnx (calibrating, verifying against fp32)")
                net["precision"] = _timed(net["step_wall_s"], "precision_variants", lambda c=c, stem=stem: build_variants(
                    tmp, stem, c.input_shapes, popts,
                    lambda model, p, c=c: describe(model, onnx_metadata(c, genotype, p), onnx_doc(c, genotype, p))))
                net["files"] += [v["file"] for v in net["precision"].values()]
            for c, ref in zip(compiled, refs, strict=True):
                if c.role == "generator":
                    from .hub import generator_extras

                    step("test data" + (" and generator.uint8.onnx" if torch_fidelity else ""))
                    extra = generator_extras(tmp, c, ref, opset, torch_fidelity)
                    nets[c.role]["files"] += extra.pop("files")
                    nets[c.role].update(extra)
            report["wall_s"] = round(time.perf_counter() - t_start, 4)
            (tmp / "report.json").write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
            if model_card:
                from .hub import write_card

                step("model card")
                write_card(tmp, report, provenance=genotype.provenance.model_dump() if genotype else None)
            _normal_permissions(tmp)
    except OSError as e:
        where = f" ({e.filename})" if e.filename else ""
        raise GccGanError(f"cannot write {out}: {e.strerror or e}{where}") from None
    return report
