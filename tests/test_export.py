"""ONNX and .pt2 export of network modules, verified against PyTorch (onnxruntime and
torch.export.load on real files; no mocks)."""

from __future__ import annotations

from pathlib import Path

import onnx
import onnxruntime as ort
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from strategies import networks

from gcc_gan.compiler.interpreter import Interpreter
from gcc_gan.errors import GccGanError
from gcc_gan.export.onnx_export import (ReferenceOutputs, baked_copy, example_inputs, export_onnx, named_module,
                                        verify_onnx)
from gcc_gan.export.pt2_export import export_pt2, verify_pt2
from gcc_gan.genotype_dsl.analysis import NetInfo, analyze
from gcc_gan.genotype_dsl.zoo import zoo_genotype

pytestmark = pytest.mark.usefixtures("one_thread")


def zoo_net(name: str, role: str, mult: float) -> tuple[NetInfo, Interpreter]:
    g = zoo_genotype(name)
    net = getattr(g, role)
    info = analyze(net.scaled(mult), role=role)
    torch.manual_seed(0)
    return info, Interpreter(info).eval()


def outputs(m: torch.nn.Module, xs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    with torch.no_grad():
        return m(*xs)


@pytest.mark.parametrize(("name", "role", "mult"), [
    ("autogan-a", "generator", 1 / 32),
    ("adversarialnas", "generator", 1 / 32),
    ("dcgan", "generator", 1 / 16),
    ("sngan-d", "discriminator", 1 / 16),
    ("dcgan-d", "discriminator", 1 / 16),
])
def test_onnx_matches_interpreter(tmp_path: Path, name: str, role: str, mult: float) -> None:
    info, m = zoo_net(name, role, mult)
    path = tmp_path / f"{name}.onnx"
    before = outputs(m, example_inputs(info.input_shapes, 2))
    export_onnx(m, info.input_shapes, path, output_names=list(info.output_shapes))
    model = onnx.load(str(path))
    assert [i.name for i in model.graph.input] == list(info.input_shapes)  # z / x
    assert [o.name for o in model.graph.output] == list(info.output_shapes)  # image / logit
    assert all(i.type.tensor_type.shape.dim[0].dim_param for i in model.graph.input)  # dynamic batch
    assert model.opset_import[0].version == 17
    res = verify_onnx(path, m, info.input_shapes)
    assert set(res["max_abs_err"]) == {"1", "3", "64"}
    assert max(res["max_abs_err"].values()) <= 1e-4
    assert res["provider"] == "CPUExecutionProvider"
    if name == "dcgan":  # CUDA asked for: used where onnxruntime has it, else CPU, and the result says which
        cuda = verify_onnx(path, m, info.input_shapes, batches=(2,), cuda=True)
        assert cuda["provider"] in ort.get_available_providers()
    # the export worked on a copy: the module (spectral norm included) is unchanged
    assert torch.equal(outputs(m, example_inputs(info.input_shapes, 2)), before)
    assert not list(tmp_path.glob(".*"))  # no temp file left beside the export


def test_baked_copy_removes_spectral_norm_and_keeps_original(one_thread: None) -> None:
    info, m = zoo_net("sngan-d", "discriminator", 1 / 16)
    m.train()
    for _ in range(3):  # power iterations: u, v move away from their init
        m(torch.randn(2, 3, 32, 32))
    m.eval()
    x = torch.randn(4, 3, 32, 32)
    want = outputs(m, (x,))
    baked = baked_copy(m)
    assert not any("parametrizations" in k for k in baked.state_dict())
    assert any("parametrizations" in k for k in m.state_dict())
    assert torch.allclose(outputs(baked, (x,)), want, atol=1e-6)
    assert torch.equal(outputs(m, (x,)), want)  # the original still works (shared-class pitfall)
    baked.train()
    assert torch.allclose(outputs(baked.eval(), (x,)), want, atol=1e-6)  # plain weights: no more power iteration


def test_verification_failure_is_an_error(tmp_path: Path) -> None:
    info, m = zoo_net("dcgan", "generator", 1 / 16)
    path = tmp_path / "g.onnx"
    export_onnx(m, info.input_shapes, path, output_names=["image"])
    with torch.no_grad():
        next(p for n, p in m.named_parameters() if n.endswith("weight") and p.dim() == 4).add_(0.5)
    with pytest.raises(GccGanError, match=r"ONNX verification failed .* max abs error .* at batch 1 exceeds 0.0001"):
        verify_onnx(path, m, info.input_shapes)


def test_verify_rejects_wrong_inputs_and_missing_file(tmp_path: Path) -> None:
    info, m = zoo_net("dcgan", "generator", 1 / 16)
    path = tmp_path / "g.onnx"
    export_onnx(m, info.input_shapes, path)
    with pytest.raises(GccGanError, match="do not match the network's inputs"):
        verify_onnx(path, m, {"latent": (128,)})
    with pytest.raises(GccGanError, match="onnxruntime cannot load"):
        verify_onnx(tmp_path / "missing.onnx", m, info.input_shapes)


def test_bad_opset_is_an_error(tmp_path: Path) -> None:
    info, m = zoo_net("dcgan", "generator", 1 / 16)
    with pytest.raises(GccGanError, match="opset 5 is not supported"):
        export_onnx(m, info.input_shapes, tmp_path / "g.onnx", opset=5)
    assert not (tmp_path / "g.onnx").exists()


def test_opset_18_and_dynamo_fallback(tmp_path: Path) -> None:
    info, m = zoo_net("sngan-d", "discriminator", 1 / 16)
    res = export_onnx(m, info.input_shapes, tmp_path / "d.onnx", opset=18, output_names=["logit"])
    assert res == {"exporter": "torchscript", "opset": 18}
    assert onnx.load(str(tmp_path / "d.onnx")).opset_import[0].version == 18
    assert max(verify_onnx(tmp_path / "d.onnx", m, info.input_shapes, batches=(1, 5))["max_abs_err"].values()) <= 1e-4
    # instance norm right after a view: the TorchScript exporter cannot size its channels
    # ("unknown channel size"); the dynamo exporter can
    m = ViewThenInstanceNorm().eval()
    res = export_onnx(m, {"z": (8,)}, tmp_path / "v.onnx", output_names=["y"])
    assert res["exporter"] == "dynamo" and "instance_norm" in res["fallback_reason"] and res["opset"] == 18
    assert max(verify_onnx(tmp_path / "v.onnx", m, {"z": (8,)})["max_abs_err"].values()) <= 1e-4
    with pytest.raises(GccGanError, match="torchscript exporter: .*instance_norm"):
        export_onnx(m, {"z": (8,)}, tmp_path / "v2.onnx", exporter="torchscript")
    assert not (tmp_path / "v2.onnx").exists()


def test_fallback_when_the_trace_fixed_the_batch_size(tmp_path: Path) -> None:
    m = BakesBatchWhenTraced().eval()
    res = export_onnx(m, {"z": (4,)}, tmp_path / "b.onnx")
    assert res["exporter"] == "dynamo" and "wrong at batch 1" in res["fallback_reason"]
    assert max(verify_onnx(tmp_path / "b.onnx", m, {"z": (4,)})["max_abs_err"].values()) <= 1e-4
    export_onnx(m, {"z": (4,)}, tmp_path / "t.onnx", exporter="torchscript")  # no smoke test when asked for
    with pytest.raises(GccGanError, match="ONNX verification failed .* at batch 1"):
        verify_onnx(tmp_path / "t.onnx", m, {"z": (4,)})


class BakesBatchWhenTraced(torch.nn.Module):
    """Behaves like a graph whose TorchScript trace recorded the example's batch size as a
    constant (as `unflatten` followed by `expand(x.shape[0], ...)` does in torch 2.14)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(4, 3)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        y = self.fc(z)
        if torch.jit.is_tracing():
            return y + torch.zeros(2, 1)  # the traced example batch is 2
        return y


class ViewThenInstanceNorm(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(8, 16)
        self.norm = torch.nn.InstanceNorm2d(4)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.norm(self.fc(z).view(-1, 4, 2, 2))


def test_pt2_round_trip(tmp_path: Path) -> None:
    info, m = zoo_net("autogan-a", "generator", 1 / 32)
    path = tmp_path / "g.pt2"
    export_pt2(m, info.input_shapes, path)
    loaded = torch.export.load(str(path)).module()
    for b in (1, 2, 5):  # batch 1 works although the example batch was 2: the dim is dynamic
        z = torch.randn(b, 128)
        assert torch.allclose(outputs(loaded, (z,)), outputs(m, (z,)), atol=1e-6)
    res = verify_pt2(path, m, info.input_shapes, batches=(1, 3))
    assert max(res["max_abs_err"].values()) <= 1e-5
    ref = ReferenceOutputs(m, info.input_shapes)
    ref.get(3)
    with torch.no_grad():
        next(iter(m.parameters())).add_(1.0)  # the reference still holds the old outputs
    verify_pt2(path, m, info.input_shapes, batches=(3,), reference=ref)
    with pytest.raises(GccGanError, match=r"\.pt2 verification failed"):
        verify_pt2(path, m, info.input_shapes, batches=(3,))


def test_pt2_of_spectral_norm_discriminator(tmp_path: Path) -> None:
    info, m = zoo_net("sngan-d", "discriminator", 1 / 16)
    export_pt2(m, info.input_shapes, tmp_path / "d.pt2")
    res = verify_pt2(tmp_path / "d.pt2", m, info.input_shapes, batches=(1, 3))
    assert max(res["max_abs_err"].values()) <= 1e-5


def test_named_module_gives_named_arguments() -> None:
    info, m = zoo_net("dcgan", "generator", 1 / 16)
    w = named_module(m, ["z"])
    assert w is not m and list(__import__("inspect").signature(w.forward).parameters) == ["z"]
    w2 = named_module(m, ["my-input.0", "class"])
    assert list(__import__("inspect").signature(w2.forward).parameters) == ["my_input_0", "x_class"]
    assert named_module(w, ["z"]) is w  # already named: used as is


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(net=networks(role="generator", max_nodes=5))
def test_random_networks_export_and_verify(tmp_path: Path, net) -> None:  # type: ignore[no-untyped-def]
    """Any valid network (several inputs/outputs included) exports and verifies."""
    info = analyze(net, role="generator")
    torch.manual_seed(0)
    m = Interpreter(info).eval()
    path = tmp_path / "r.onnx"
    export_onnx(m, info.input_shapes, path, output_names=list(info.output_shapes))
    res = verify_onnx(path, m, info.input_shapes, batches=(1, 3))
    assert max(res["max_abs_err"].values()) <= 1e-4
