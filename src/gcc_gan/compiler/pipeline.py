"""genotype network → (passes) → standalone module: the compiler's entry point."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from ..version import __version__
from ..errors import GccGanError
from ..genotype_dsl.analysis import NetInfo
from ..genotype_dsl.model import Genotype
from ..genotype_dsl.ops import Shape, fmt_shape
from .codegen import generate
from .interpreter import Interpreter
from .ir import IRGraph, lower
from .passes import run_passes

CLASS_NAMES = {"generator": "Generator", "discriminator": "Discriminator"}
#: the largest batch a compile runs (ONNX verification at batch 1, 3, 64): the memory
#: check's batch
COMPILE_BATCH = 64


@dataclass
class CompiledNetwork:
    role: str
    class_name: str
    source: str  # standalone module source; imports only torch
    state_dict: dict[str, Tensor]  # equals the module's state_dict exactly
    input_shapes: dict[str, Shape]
    output_shapes: dict[str, Shape]
    report: dict[str, Any] = field(default_factory=dict)
    ir: IRGraph | None = None

    def instantiate(self) -> nn.Module:
        """Execute the source in a fresh namespace, load the weights, eval mode."""
        ns: dict[str, Any] = {"__name__": f"gcc_gan_compiled_{self.role}"}
        exec(compile(self.source, f"<{self.role}.py>", "exec"), ns)  # noqa: S102 - our own codegen
        module: nn.Module = ns[self.class_name]()
        module.load_state_dict(self.state_dict, strict=True)
        return module.eval()


def spectral_uv(weight: Tensor, dim: int = 0) -> tuple[Tensor, Tensor]:
    """Spectral norm's power-iteration vectors (u, v) run to convergence: the top singular
    vectors of the weight as torch's spectral norm flattens it (`dim` first)."""
    mat = weight.detach().movedim(dim, 0).flatten(1).double()
    u, _, vh = torch.linalg.svd(mat, full_matrices=False)
    return u[:, 0].to(weight.dtype).contiguous(), vh[0].to(weight.dtype).contiguous()


def load_weights(module: Interpreter, weights: Mapping[str, Tensor], what: str = "weights") -> None:
    """Load canonical-layout weights, with one clear error for the first mismatch.
    Spectral-norm vectors (`._u` / `._v`) are optional: missing ones are computed from
    the given weight (never left at their random initialisation)."""
    want = module.state_dict()
    weights = dict(weights)
    for k, v in want.items():
        if k not in weights:
            if k.endswith(("._u", "._v")):
                stem = k.rsplit(".", 2)[0]
                if stem + ".original" in weights:
                    dim = 1 if isinstance(module.get_submodule(stem.rsplit(".", 2)[0]), nn.ConvTranspose2d) else 0
                    u, v_ = spectral_uv(weights[stem + ".original"], dim)
                    weights.setdefault(stem + ".0._u", u)
                    weights.setdefault(stem + ".0._v", v_)
                continue
            raise GccGanError(f"{what}: missing tensor {k!r} (expected shape {fmt_shape(tuple(v.shape))}); "
                              f"{len(weights)} tensors given, first: {next(iter(weights), 'none')!r}")
        got = weights[k]
        if tuple(got.shape) != tuple(v.shape):
            raise GccGanError(f"{what}: tensor {k!r} has shape {fmt_shape(tuple(got.shape))} but the "
                              f"genotype needs {fmt_shape(tuple(v.shape))} (wrong --width?)")
    extra = [k for k in weights if k not in want]
    if extra:
        raise GccGanError(f"{what}: tensor {extra[0]!r} does not belong to this genotype "
                          f"({len(extra)} unexpected tensor(s))")
    module.load_state_dict({**want, **{k: v.to(want[k].dtype) for k, v in weights.items()}}, strict=True)


def header(g: Genotype | None, role: str, report: dict[str, Any]) -> str:
    lines = [f"{CLASS_NAMES[role]} compiled by gcc-gan {__version__}."]
    if g is not None:
        lines.append(f"Genotype: {g.name or '(unnamed)'}  sha256 {g.digest()}")
        p = g.provenance
        for key in ("searcher", "dataset", "seed", "reference"):
            val = getattr(p, key)
            if val is not None:
                lines.append(f"{key.capitalize()}: {val}")
        if p.metrics:
            lines.append("Metrics: " + ", ".join(f"{k}={v:g}" for k, v in p.metrics.items()))
    lines.append(f"Parameters: {report['params']:,}   MACs/sample: {report['macs_after']:,} "
                 f"(reference {report['macs_before']:,})")
    fired = [p["name"] for p in report["passes"] if p["fired"]]
    lines.append(f"Passes applied: {', '.join(fired) if fired else 'none'}")
    lines.append("Standalone: the module imports only torch; the weights load with safetensors.")
    return "\n".join(lines)


def runtime_params(g: IRGraph) -> tuple[int, list[dict[str, Any]]]:
    """Weights the compiled module computes with: the stored ones, with each sub-pixel
    conv's k×k kernel counted as the (k+1)×(k+1) transposed kernel forward derives from it.
    Also the derived tensors, each with why it is not stored."""
    total, derived = 0, []
    for e in g.edges:
        for op in e.ops:
            n = op.n_params
            if op.call.op == "subpixel_conv":
                k = op.call.params.kernel
                cout, cin = op.out_channels, op.in_shape[0]
                runtime = cin * cout * (k + 1) ** 2
                derived.append({"edge": e.name, "tensor": "transposed-conv kernel", "shape": [cin, cout, k + 1, k + 1],
                                "computed_from": f"weight {cout}×{cin}×{k}×{k}",
                                "why": "the four sub-pixel phases of the stored kernel as one stride-2 kernel; "
                                       "computed in forward (constant-folded by ONNX runtimes), so storing it "
                                       "would only add parameters"})
                n += runtime - cout * cin * k * k
            total += n
    return total, derived


def usage(role: str, inputs: Mapping[str, Shape], outputs: Mapping[str, Shape]) -> str:
    """The generated file's how-to-use paragraph (generators: load, sample, LATENT_DIM)."""
    if role != "generator" or len(inputs) != 1:
        return ""
    out = "×".join(map(str, next(iter(outputs.values()))))
    return "\n".join([
        "Usage (torch, and safetensors for the weights):",
        "",
        "    import torch",
        "    from safetensors.torch import load_file",
        "    from generator import LATENT_DIM, Generator",
        "",
        "    g = Generator()",
        '    g.load_state_dict(load_file("generator.safetensors"))',
        "    g.eval()",
        "    with torch.no_grad():",
        f"        images = g(torch.randn(16, LATENT_DIM))  # 16×{out}, in [-1, 1]",
        "",
        "With gcc-gan installed: `gcc-gan sample DIR -n 64 -o grid.png`.",
    ])


def compile_network(info: NetInfo, weights: Mapping[str, Tensor] | None = None, *, role: str = "generator",
                    passes: bool | list[str] = True, genotype: Genotype | None = None,
                    seed: int = 0, batch: int = COMPILE_BATCH) -> CompiledNetwork:
    """Compile one validated network. `weights` are in the canonical layout (the
    Interpreter's state_dict); None → a fresh initialisation seeded with `seed`. `passes`:
    all (True), none (False) or the names of the passes to run. A network whose memory at
    `batch` exceeds the limit is refused before anything is allocated."""
    t0 = time.perf_counter()
    with torch.random.fork_rng():
        torch.manual_seed(seed)
        ref = Interpreter(info, batch=batch, what=role)
    if weights is not None:
        load_weights(ref, weights)
    ref.eval()
    g = lower(info, ref, role)
    macs_before = g.macs
    pass_log = run_passes(g, None if passes is True else list(passes or []))
    runtime, derived = runtime_params(g)
    report: dict[str, Any] = {
        "role": role, "params": g.n_params, "params_reference": info.params,
        # source: the genotype's parameters; stored: what the state dict / ONNX hold (folded
        # batch norm makes it smaller); runtime: what forward multiplies with
        "params_source": info.params, "params_stored": g.n_params, "params_runtime": runtime,
        "derived_tensors": derived,
        "macs_before": macs_before, "macs_after": g.macs,
        "macs_ratio": g.macs / macs_before if macs_before else 1.0,
        "passes": pass_log,
    }
    class_name = CLASS_NAMES[role]
    text = header(genotype, role, report)
    how = usage(role, g.inputs, {o: g.nodes[n] for o, n in g.outputs})
    source, state = generate(g, class_name, f"{text}\n\n{how}" if how else text)
    report["wall_s"] = time.perf_counter() - t0
    return CompiledNetwork(role, class_name, source, state, dict(g.inputs),
                           {o: g.nodes[n] for o, n in g.outputs}, report, g)
