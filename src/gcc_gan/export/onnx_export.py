"""ONNX export of any network module, verified with onnxruntime against PyTorch.

Module-agnostic: works on the reference `Interpreter`, on a compiled module, on any
`nn.Module` taking one tensor per input name (per-sample shapes given) and returning one
tensor or a tuple.

Exporter choice: the TorchScript-based exporter (`torch.onnx.export(..., dynamo=False)`).
With torch 2.14.1 here it exports our networks in ~0.1-0.5 s against ~3 s for the
dynamo exporter, honours opset 17 natively (the dynamo exporter only emits opset >= 18
and version-converts downwards, which may fail), and handles a dynamic batch axis via
`dynamic_axes`. Our graphs are static convolutional DAGs without data-dependent control
flow, which is exactly what tracing captures faithfully; every export is then verified
numerically, so a tracing mistake cannot pass silently. Tracing does fail on a few
patterns (instance norm right after a reshape: "unknown channel size"; `unflatten` then
`expand(x.shape[0], ...)` bakes the example batch into the graph), so `auto` smoke-tests
the traced graph at batch 1 and 3 and falls back to the dynamo exporter (torch.export
based, symbolic batch; opset >= 18 only), which can also be asked for directly.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import io
import keyword
import os
import re
import sys
from pathlib import Path
from typing import Any, Callable, Iterator, Literal, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..errors import GccGanError
from .standalone import bake_parametrizations, first_line, quiet

Shape = tuple[int, ...]
DEFAULT_OPSET = 17
MIN_OPSET, MAX_OPSET = 13, 23  # what both onnxruntime 1.18+ and the exporters handle


def baked_copy(module: nn.Module) -> nn.Module:
    """A deep copy in eval mode with every parametrization (spectral norm) baked into a
    plain weight. The original module is left untouched."""
    return bake_parametrizations(copy.deepcopy(module).eval())


def _ident(name: str, taken: set[str]) -> str:
    s = re.sub(r"\W", "_", name)
    s = s if s and not s[0].isdigit() and not keyword.iskeyword(s) else f"x_{s}"
    base, n = s, 1
    while s in taken or s == "self":
        n += 1
        s = f"{base}_{n}"
    taken.add(s)
    return s


def named_module(module: nn.Module, names: Sequence[str]) -> nn.Module:
    """`module` itself when its forward already takes one named argument per input, else a
    thin wrapper whose forward does (export tools need explicit positional arguments; the
    interpreter's `forward(*inputs)` has none, and named ones give readable signatures)."""
    params = list(inspect.signature(module.forward).parameters.values())
    if len(params) == len(names) and all(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params):
        return module
    taken: set[str] = set()
    args = ", ".join(_ident(n, taken) for n in names)
    ns: dict[str, Any] = {}
    exec(f"def forward(self, {args}):\n    return self.net({args})\n", ns)  # noqa: S102 - built from sanitised names
    wrapper = type("Network", (nn.Module,), {"forward": ns["forward"]})()
    wrapper.net = module
    return wrapper.train(module.training)


def example_inputs(input_shapes: Mapping[str, Shape], batch: int, seed: int = 0) -> tuple[Tensor, ...]:
    """Deterministic float32 inputs, N(0, 1), one per input name."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + batch)
    return tuple(torch.randn((batch, *shape), generator=gen) for shape in input_shapes.values())


def as_tuple(out: Tensor | Sequence[Tensor]) -> tuple[Tensor, ...]:
    return (out,) if isinstance(out, Tensor) else tuple(out)


def run_module(module: nn.Module, inputs: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    with torch.no_grad():
        return as_tuple(module(*inputs))


class ReferenceOutputs:
    """The module's outputs on `example_inputs` per batch size, computed once and shared by
    every verification of one module (the forward at batch 64 dominates their cost)."""

    def __init__(self, module: nn.Module, input_shapes: Mapping[str, Shape], seed: int = 0) -> None:
        self.module, self.input_shapes, self.seed = module, dict(input_shapes), seed
        self._cache: dict[int, tuple[tuple[Tensor, ...], tuple[Tensor, ...]]] = {}

    def get(self, batch: int) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...]]:
        if batch not in self._cache:
            xs = example_inputs(self.input_shapes, batch, self.seed)
            was_training = self.module.training
            self.module.eval()
            try:
                self._cache[batch] = (xs, run_module(self.module, xs))
            finally:
                self.module.train(was_training)
        return self._cache[batch]


def default_output_names(n: int) -> list[str]:
    return ["output"] if n == 1 else [f"output_{i}" for i in range(n)]


def check_opset(opset: int) -> None:
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise GccGanError(f"ONNX opset {opset} is not supported; use {MIN_OPSET}..{MAX_OPSET} (default {DEFAULT_OPSET})")


@contextlib.contextmanager
def _silence_fds() -> Iterator[None]:
    """Send file descriptors 1 and 2 to /dev/null: the TorchScript exporter's C++ side
    dumps whole graphs there when it gives up (its exception says what went wrong)."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved: list[tuple[int, int]] = []
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        yield
        return
    try:
        for fd in (1, 2):
            try:
                saved.append((fd, os.dup(fd)))
                os.dup2(null, fd)
            except OSError:
                pass
        yield
    finally:
        for fd, copy_ in saved:
            os.dup2(copy_, fd)
            os.close(copy_)
        os.close(null)


def _run_exporter(m: nn.Module, example: tuple[Tensor, ...], tmp: Path, opset: int, names: list[str],
                  outs: list[str], exporter: str) -> None:
    # Both exporters print progress / deprecation notes; the CLI's output is ours.
    with quiet(), contextlib.redirect_stdout(io.StringIO()), _silence_fds():
        if exporter == "dynamo":
            # it implements opset >= 18 only; its down-conversion can emit invalid nodes
            # (ReduceMean with an opset-18 attribute at 17), so never ask it for less
            batch = torch.export.Dim("batch", min=1, max=1 << 20)
            torch.onnx.export(m, example, str(tmp), dynamo=True, opset_version=max(opset, 18), input_names=names,
                              output_names=outs, dynamic_shapes=tuple({0: batch} for _ in names),
                              external_data=False, verbose=False)
        else:
            axes = {n: {0: "batch"} for n in [*names, *outs]}
            # no constant folding: it would store derived weights (sub-pixel transposed kernels)
            # expanded; onnxruntime folds them when it loads the graph
            torch.onnx.export(m, example, str(tmp), dynamo=False, opset_version=opset, input_names=names,
                              output_names=outs, dynamic_axes=axes, do_constant_folding=False)


def _batch_smoke_test(path: Path, ref: ReferenceOutputs, atol: float = 1e-4) -> str | None:
    """Why the ONNX file disagrees with the module at batch sizes other than the traced
    example's (None when it agrees): tracing can bake the example's batch size into a
    shape computation (seen with minibatch stddev after an unflatten)."""
    import onnxruntime as ort

    try:
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        for b in (1, 3):
            xs, want = ref.get(b)
            got = sess.run(None, {i.name: x.numpy() for i, x in zip(sess.get_inputs(), xs)})
            err = max_abs_err(got, want)
            if not err <= atol:
                return f"wrong at batch {b} (max abs error {err:.3g}): the traced graph fixed the batch size"
    except Exception as e:  # noqa: BLE001 - any failure means: do not use this export
        return f"fails at run time: {first_line(e)}"
    return None


def export_onnx(module: nn.Module, input_shapes: Mapping[str, Shape], path: str | os.PathLike[str],
                opset: int = DEFAULT_OPSET, output_names: Sequence[str] | None = None,
                exporter: Literal["auto", "torchscript", "dynamo"] = "auto",
                reference: ReferenceOutputs | None = None, metadata: Mapping[str, str] | None = None,
                doc_string: str = "") -> dict[str, Any]:
    """Export `module` to ONNX at `path` with a dynamic batch dimension (named `batch`),
    parametrizations baked, inputs named after `input_shapes` and outputs after
    `output_names`; the graph is checked with `onnx.checker`. Failures are GccGanError.

    `auto` uses the TorchScript exporter, smoke-tests its graph with onnxruntime at batch
    1 and 3 (against `reference`, or the module), and falls back to the dynamo exporter
    when it failed (e.g. instance norm right after a reshape: "unknown channel size") or
    its graph is wrong at other batch sizes. Returns {"exporter": used, "opset": the
    file's opset[, "fallback_reason"]}.

    Every non-batch dimension of the inputs and outputs is written static (tracing leaves
    output height and width symbolic), and `metadata` / `doc_string` go into the model's
    `metadata_props` / `doc_string`."""
    import onnx

    check_opset(opset)
    names = list(input_shapes)
    m = named_module(baked_copy(module), names)
    example = example_inputs(input_shapes, batch=2)  # batch 1 would specialise the batch axis
    outs = list(output_names or default_output_names(len(run_module(m, example))))
    dest = Path(path)
    tmp = dest.with_name(f".{dest.stem}.tmp{dest.suffix}")
    tries = ["torchscript", "dynamo"] if exporter == "auto" else [exporter]
    failures: list[str] = []
    try:
        for name in tries:
            try:
                _run_exporter(m, example, tmp, opset, names, outs, name)
            except Exception as e:  # noqa: BLE001 - reported below, never a traceback
                failures.append(f"{name} exporter: {first_line(e)}")
                continue
            if exporter == "auto" and name != tries[-1]:
                problem = _batch_smoke_test(tmp, reference or ReferenceOutputs(module, input_shapes))
                if problem is not None:
                    failures.append(f"{name} exporter: {problem}")
                    continue
            break
        else:
            raise GccGanError(f"ONNX export to {dest} failed: " + "; ".join(failures))
        model = onnx.load(str(tmp))
        outputs_shapes = [tuple(o.shape[1:]) for o in (reference or ReferenceOutputs(module, input_shapes)).get(1)[1]]
        static_shapes(model, [tuple(s) for s in input_shapes.values()], outputs_shapes)
        describe(model, metadata or {}, doc_string)
        onnx.save(model, str(tmp))
        onnx.checker.check_model(model, full_check=True)
        for vi in model.graph.input:
            if vi.type.tensor_type.shape.dim[0].dim_param == "":
                raise GccGanError(f"ONNX export produced a fixed batch size for input {vi.name!r}")
        os.replace(tmp, dest)
    except GccGanError:
        raise
    except Exception as e:  # noqa: BLE001 - a checker failure is reported, never a traceback
        raise GccGanError(f"ONNX export to {dest} failed: {first_line(e)}") from e
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
    version = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), opset)
    return {"exporter": name, "opset": version, **({"fallback_reason": failures[0]} if failures else {})}


def static_shapes(model: Any, inputs: Sequence[Shape], outputs: Sequence[Shape]) -> None:
    """Set every non-batch dim of the graph's inputs and outputs to its static value (the
    genotype fixes them); the batch dim stays `batch`. The checker's shape inference then
    proves the values consistent with the graph."""
    for vis, shapes in ((model.graph.input, inputs), (model.graph.output, outputs)):
        for vi, shape in zip(vis, shapes, strict=True):
            dims = vi.type.tensor_type.shape.dim
            if len(dims) != len(shape) + 1:
                raise GccGanError(f"ONNX {vi.name!r} has rank {len(dims)}, the network's is {len(shape) + 1}")
            dims[0].dim_param = "batch"
            for d, v in zip(list(dims)[1:], shape):
                d.Clear()
                d.dim_value = int(v)


def describe(model: Any, metadata: Mapping[str, str], doc_string: str = "") -> None:
    """Write `metadata` into the model's metadata_props (replacing equal keys), and its doc string."""
    import onnx

    props = {p.key: p.value for p in model.metadata_props}
    props.update({str(k): str(v) for k, v in metadata.items()})
    onnx.helper.set_model_props(model, props)
    if doc_string:
        model.doc_string = doc_string


def onnx_providers(cuda: bool = False) -> list[str]:
    """CPU, preceded by CUDA when asked for and available (the verification result names
    the provider that actually ran)."""
    import onnxruntime as ort

    if cuda and "CUDAExecutionProvider" in ort.get_available_providers():
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def max_abs_err(got: Sequence[np.ndarray] | Sequence[Tensor], want: Sequence[Tensor]) -> float:
    """Largest absolute difference over all outputs; inf when shapes differ or NaN appears."""
    worst = 0.0
    for g, w in zip(got, want, strict=True):
        g_t = torch.as_tensor(np.asarray(g)) if not isinstance(g, Tensor) else g
        if tuple(g_t.shape) != tuple(w.shape):
            return float("inf")
        d = (g_t.double() - w.double()).abs()
        if not torch.isfinite(d).all():
            return float("inf")
        worst = max(worst, float(d.max()) if d.numel() else 0.0)
    return worst


def check_batches(run: Callable[[int, tuple[Tensor, ...]], Sequence[Any]], ref: ReferenceOutputs,
                  batches: Sequence[int], atol: float, run_failed: str, mismatch: str,
                  mismatch_suffix: str = "") -> dict[str, float]:
    """Run an exported program (`run(batch, inputs)`) on the reference inputs of each batch size and compare with
    the module's outputs; {batch: max abs error}. A failing run or an error above `atol`
    is a GccGanError (`run_failed` / `mismatch` begin its message)."""
    errs: dict[str, float] = {}
    for b in batches:
        xs, want = ref.get(b)
        try:
            got = run(b, xs)
        except Exception as e:  # noqa: BLE001 - the exported program's failure is reported
            raise GccGanError(f"{run_failed} at batch {b}: {str(e).strip().splitlines()[0]}") from e
        err = max_abs_err(got, want)
        errs[str(b)] = err
        if not err <= atol:
            raise GccGanError(f"{mismatch}: max abs error {err:.3g} at batch {b} exceeds {atol:g}{mismatch_suffix}")
    return errs


def verify_onnx(path: str | os.PathLike[str], module: nn.Module, input_shapes: Mapping[str, Shape],
                batches: Sequence[int] = (1, 3, 64), atol: float = 1e-4, cuda: bool = False,
                seed: int = 0, reference: ReferenceOutputs | None = None) -> dict[str, Any]:
    """Run the ONNX file with onnxruntime and `module` (eval mode, CPU) on the same inputs at
    each batch size; return {"provider", "atol", "max_abs_err": {batch: err}}. An error
    above `atol` (or a shape mismatch, NaN, or a session failure) is a GccGanError.
    `reference` reuses module outputs already computed for the same inputs."""
    import onnxruntime as ort

    ref = reference or ReferenceOutputs(module, input_shapes, seed)
    providers = onnx_providers(cuda)
    try:
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        sess = ort.InferenceSession(str(path), sess_options=opts, providers=providers)
    except Exception as e:  # noqa: BLE001
        raise GccGanError(f"onnxruntime cannot load {path}: {str(e).strip().splitlines()[0]}") from e
    names = [i.name for i in sess.get_inputs()]
    if names != list(input_shapes):
        raise GccGanError(f"{path}: ONNX inputs {names} do not match the network's inputs {list(input_shapes)}")
    errs = check_batches(lambda _b, xs: sess.run(None, {n: x.numpy() for n, x in zip(names, xs)}), ref, batches,
                         atol, f"onnxruntime failed on {path}", f"ONNX verification failed for {path}",
                         f" (onnxruntime {providers[0]} vs PyTorch)")
    return {"provider": sess.get_providers()[0], "atol": atol, "max_abs_err": errs}
