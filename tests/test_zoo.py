"""The zoo: exact published parameter / MAC counts, registry counts equal to the built
modules, output shapes, and forward semantics against the reference implementations'
outputs (tests/fixtures)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch

from gcc_gan.compiler.interpreter import Interpreter
from gcc_gan.errors import GccGanError
from gcc_gan.genotype_dsl.analysis import analyze, analyze_genotype
from gcc_gan.genotype_dsl.encodings import adversarialnas_generator, autogan_generator
from gcc_gan.genotype_dsl.encodings.common import Native
from gcc_gan.genotype_dsl.zoo import ADVERSARIALNAS_ARCH, AUTOGAN_ARCHS, ENTRIES, zoo_genotype
from gcc_gan.export.weights import map_state_dict

pytestmark = pytest.mark.usefixtures("one_thread")

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("name, params, macs", [
    ("autogan-a", 4_405_251, 1766.4e6),
    ("adversarialnas", 8_846_851, 2680.5e6),
])
def test_published_generator_counts(name: str, params: int, macs: float) -> None:
    g = analyze_genotype(zoo_genotype(name))["generator"]
    assert g.params == params
    assert abs(g.macs - macs) / macs < 1e-3


def test_sngan_discriminator_count() -> None:
    infos = analyze_genotype(zoo_genotype("sngan-d"))
    assert set(infos) == {"discriminator"}
    assert infos["discriminator"].params == 1_053_824
    # autogan-a and adversarialnas were retrained against the same D
    for name in ("autogan-a", "adversarialnas"):
        assert analyze_genotype(zoo_genotype(name))["discriminator"].params == 1_053_824


@pytest.mark.parametrize("name", sorted(ENTRIES))
def test_registry_counts_equal_module_and_shapes_are_right(name: str) -> None:
    torch.manual_seed(0)
    for role, info in analyze_genotype(zoo_genotype(name)).items():
        model = Interpreter(info).eval()
        # spectral norm keeps weight_orig as the parameter (u, v are buffers): counted once
        assert sum(p.numel() for p in model.parameters()) == info.params, (name, role)
        if role == "generator":
            assert info.output_shapes == {"image": (3, 32, 32)}
            x = torch.randn(2, *info.input_shapes["z"])
            want = (2, 3, 32, 32)
        else:
            assert info.input_shapes == {"x": (3, 32, 32)} and info.output_shapes == {"logit": (1,)}
            x = torch.randn(2, 3, 32, 32)
            want = (2, 1)
        with torch.no_grad():
            y = model(x)
        assert tuple(y.shape) == want
        assert torch.isfinite(y).all()
        if role == "generator":
            assert y.abs().max() <= 1  # tanh head


@pytest.mark.parametrize("name", ["autogan-a", "adversarialnas", "dcgan", "sngan-d"])
def test_network_macs_match_the_flop_counter(name: str) -> None:
    """Whole-network MACs = FlopCounterMode flops / 2 per image + the bias adds (which the
    flop counter leaves out), at a reduced width."""
    from torch.utils.flop_counter import FlopCounterMode

    for role, net in zoo_genotype(name).networks().items():
        info = analyze(net.scaled(1 / 8), role=role)
        bias_adds = sum(int(np.prod(o.out_shape)) for e in info.edges for o in e.ops
                        if getattr(o.call.params, "bias", False))
        model = Interpreter(info).eval()
        xs = [torch.randn(2, *s) for s in info.input_shapes.values()]
        with torch.no_grad(), FlopCounterMode(display=False) as fc:
            model(*xs)
        assert info.macs == fc.get_total_flops() // 4 + bias_adds, (name, role)


# ---------------------------------------------------------------------------------------
# reference outputs


def load_fixture(name: str) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]:
    data = np.load(FIXTURES / f"{name}_gf16.npz")
    sd = {k[3:]: torch.from_numpy(data[k]) for k in data.files if k.startswith("sd.")}
    return sd, torch.from_numpy(data["z"]), torch.from_numpy(data["out"])


NATIVES: dict[str, Callable[[], Native]] = {
    "autogan-a": lambda: autogan_generator(AUTOGAN_ARCHS["autogan-a"], gf=16),
    "adversarialnas": lambda: adversarialnas_generator(ADVERSARIALNAS_ARCH, gf=16),
}


def imported(name: str, sd: dict[str, torch.Tensor]) -> Interpreter:
    native = NATIVES[name]()
    model = Interpreter(analyze(native.network, role="generator"))
    model.load_state_dict(map_state_dict(native, model, sd))
    return model.eval()


@pytest.mark.parametrize("name", sorted(NATIVES))
def test_reference_outputs_reproduced(name: str) -> None:
    sd, z, out = load_fixture(name)
    model = imported(name, sd)
    with torch.no_grad():
        y = model(z)
    assert y.shape == out.shape
    assert (y - out).abs().max().item() <= 1e-5
    # the zoo genotype is the same network at gf 256
    zoo = zoo_genotype(name).generator
    assert zoo is not None and zoo.scaled(16 / 256) == NATIVES[name]().network


def test_reference_outputs_need_the_right_weights() -> None:
    """The comparison can fail: a single perturbed tensor changes the output."""
    sd, z, out = load_fixture("autogan-a")
    sd = dict(sd)
    sd["cell2.c2.weight"] = sd["cell2.c2.weight"] * 1.01
    with torch.no_grad():
        y = imported("autogan-a", sd)(z)
    assert (y - out).abs().max().item() > 1e-4


def _shape(t: torch.Tensor) -> str:
    return "×".join(map(str, t.shape))


@pytest.mark.parametrize("name", sorted(NATIVES))
def test_wrong_shape_names_tensor_and_both_shapes(name: str) -> None:
    sd, _, _ = load_fixture(name)
    key = next(k for k in sd if k.endswith(".weight") and sd[k].dim() == 4)
    want = _shape(sd[key])
    sd[key] = sd[key][:, :-1]
    with pytest.raises(GccGanError) as ei:
        imported(name, sd)
    msg = str(ei.value)
    assert key in msg and _shape(sd[key]) in msg and want in msg, msg


@pytest.mark.parametrize("name", sorted(NATIVES))
def test_missing_tensor_is_named(name: str) -> None:
    sd, _, _ = load_fixture(name)
    key = "l1.weight"
    want = _shape(sd[key])
    del sd[key]
    with pytest.raises(GccGanError, match=f"checkpoint is missing tensor {key} \\(expected shape {want}\\)"):
        imported(name, sd)


def test_unused_tensor_is_reported() -> None:
    sd, _, _ = load_fixture("autogan-a")
    sd["cell9.c1.weight"] = torch.zeros(1)
    with pytest.raises(GccGanError, match="checkpoint tensor cell9.c1.weight .* has no place in this genotype"):
        imported("autogan-a", sd)


def test_inconsistent_aliases_are_reported() -> None:
    sd, _, _ = load_fixture("adversarialnas")
    alias = next(k for k in sd if ".op.1." in k)
    sd[alias] = sd[alias] + 1
    with pytest.raises(GccGanError, match="should be the same \\(aliased\\) parameter but differ"):
        imported("adversarialnas", sd)


def test_fixture_keys_have_no_dataparallel_prefix() -> None:
    sd: dict[str, Any] = load_fixture("adversarialnas")[0]
    assert not any(k.startswith("module.") for k in sd)
