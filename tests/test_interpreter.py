"""The reference interpreter: DAG semantics (a node is the sum of its edges), the
canonical weight layout, several inputs/outputs."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from gcc_gan.compiler.interpreter import Interpreter, count_params, edge_keys
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.encodings import autogan_generator
from gcc_gan.genotype_dsl.model import Network
from gcc_gan.genotype_dsl.zoo import AUTOGAN_ARCHS

pytestmark = pytest.mark.usefixtures("one_thread")


def net(nodes: list[dict[str, Any]], edges: list[dict[str, Any]], outputs: list[dict[str, Any]],
        inputs: list[dict[str, Any]] | None = None, base_width: int = 2) -> Network:
    return Network.model_validate({
        "base_width": base_width,
        "inputs": inputs or [{"name": "x", "kind": "image", "channels": 2, "size": 2}],
        "nodes": nodes, "edges": edges, "outputs": outputs,
    })


def test_node_is_the_sum_of_its_edges() -> None:
    n = net([{"name": "a", "width": 1}, {"name": "b", "width": 1}],
            [{"src": "x", "dst": "a", "ops": ["identity"]},
             {"src": "x", "dst": "a", "ops": ["relu"]},
             {"src": "x", "dst": "a", "ops": ["none"]},
             {"src": "a", "dst": "b", "ops": ["tanh"]},
             {"src": "x", "dst": "b", "ops": [{"op": "leaky_relu", "slope": 0.5}]}],
            [{"name": "out", "node": "b"}])
    x = torch.randn(3, 2, 2, 2)
    y = Interpreter(n)(x)
    a = x + x.clamp(min=0)
    assert torch.allclose(y, torch.tanh(a) + torch.nn.functional.leaky_relu(x, 0.5))


def test_several_inputs_and_outputs() -> None:
    n = net([{"name": "h", "channels": 4}, {"name": "m", "width": 1}],
            [{"src": "z", "dst": "h", "ops": ["identity"]},
             {"src": "y", "dst": "h", "ops": [{"op": "latent_slice", "start": 0, "stop": 4}]},
             {"src": "h", "dst": "m", "ops": [{"op": "reshape", "size": 1}, {"op": "upsample", "scale": 2}]}],
            [{"name": "vec", "node": "h"}, {"name": "map", "node": "m"}, {"name": "z_again", "node": "z"}],
            inputs=[{"name": "z", "kind": "latent", "dim": 4}, {"name": "y", "kind": "latent", "dim": 6}],
            base_width=4)
    model = Interpreter(n)
    z, yv = torch.randn(2, 4), torch.randn(2, 6)
    vec, m, z2 = model(z, yv)
    assert torch.equal(vec, z + yv[:, :4])
    assert m.shape == (2, 4, 2, 2) and torch.equal(m[:, :, 1, 1], vec)
    assert z2 is z
    with pytest.raises(TypeError, match=r"expected 2 input\(s\) \['z', 'y'\], got 1"):
        model(z)


def test_weight_layout_is_keyed_by_edge_names() -> None:
    native = autogan_generator(AUTOGAN_ARCHS["autogan-a"], gf=4)
    info = analyze(native.network)
    model = Interpreter(info)
    sd = model.state_dict()
    assert "edges.cell1_c1.2.weight" in sd  # relu -> upsample -> conv: the conv is op 2
    assert "edges.l1.0.weight" in sd and "edges.to_rgb.0.running_mean" in sd
    assert all(k.startswith("edges.") and k.split(".")[2].isdigit() for k in sd)
    # every parametrised op of every edge is there under the edge's key
    keys = edge_keys(info)
    assert set(keys.values()) == {e.name.replace(".", "_") for e in native.network.edges if e.name}
    assert count_params(model) == info.params


def test_edge_keys_unnamed_and_colliding() -> None:
    n = net([{"name": "a", "width": 1}],
            [{"src": "x", "dst": "a", "ops": ["conv"], "name": "p.q"},
             {"src": "x", "dst": "a", "ops": ["conv"], "name": "p_q"},
             {"src": "x", "dst": "a", "ops": ["conv"]},
             {"src": "x", "dst": "a", "ops": ["conv"], "name": "p-q"}],
            [{"name": "out", "node": "a"}])
    info = analyze(n)
    assert edge_keys(info) == {0: "p_q", 1: "p_q_2", 2: "e2", 3: "p_q_3"}
    assert {k.split(".")[1] for k in Interpreter(info).state_dict()} == {"p_q", "p_q_2", "e2", "p_q_3"}


def test_state_dict_round_trip_reproduces_outputs() -> None:
    n = autogan_generator(AUTOGAN_ARCHS["autogan-b"], gf=4).network
    torch.manual_seed(1)
    a = Interpreter(n).eval()
    torch.manual_seed(2)
    b = Interpreter(n).eval()
    z = torch.randn(2, 128)
    with torch.no_grad():
        assert not torch.allclose(a(z), b(z))
        b.load_state_dict(a.state_dict(), strict=True)
        assert torch.equal(a(z), b(z))


def test_spectral_norm_parameters_and_buffers() -> None:
    n = net([{"name": "a", "width": 2}, {"name": "o", "channels": 1}],
            [{"src": "x", "dst": "a", "ops": [{"op": "conv", "sn": True}]},
             {"src": "a", "dst": "o", "ops": ["global_sum_pool", {"op": "linear", "sn": True, "bias": False}]}],
            [{"name": "logit", "node": "o"}])
    model = Interpreter(n)
    sd = model.state_dict()
    assert "edges.e0.0.parametrizations.weight.original" in sd and "edges.e0.0.parametrizations.weight.0._u" in sd
    assert count_params(model) == analyze(n).params == 4 * 2 * 9 + 4 + 4
    assert model(torch.randn(2, 2, 2, 2)).shape == (2, 1)


def test_batch_norm_modes() -> None:
    n = net([{"name": "a", "width": 1}], [{"src": "x", "dst": "a", "ops": ["batch_norm"]}],
            [{"name": "out", "node": "a"}])
    model = Interpreter(n)
    x = torch.randn(4, 2, 2, 2) * 3 + 1
    y = model.train()(x)
    assert torch.allclose(y.mean(dim=(0, 2, 3)), torch.zeros(2), atol=1e-5)
    y = model.eval()(x)  # running stats moved 10% towards the batch's
    assert not torch.allclose(y, x) and y.shape == x.shape


def test_interpreter_accepts_network_or_netinfo() -> None:
    n = autogan_generator(AUTOGAN_ARCHS["autogan-c"], gf=2).network
    info = analyze(n)
    torch.manual_seed(0)
    a = Interpreter(n)
    torch.manual_seed(0)
    b = Interpreter(info)
    assert a.state_dict().keys() == b.state_dict().keys()
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())
