"""Property-based tests: random valid genotypes validate, round-trip through JSON and run in
the interpreter with the inferred shapes; random corruptions of valid files always give a
clean `GccGanError`."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any, Callable

import pytest
import torch
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st

from gcc_gan.compiler.interpreter import Interpreter
from gcc_gan.errors import GccGanError
from gcc_gan.genotype_dsl.analysis import analyze, analyze_genotype
from gcc_gan.genotype_dsl.io import load_genotype, parse_genotype
from gcc_gan.genotype_dsl.model import Network
from gcc_gan.genotype_dsl.zoo import zoo_genotype

from strategies import CORRUPTION_KINDS, corruptions, genotype_dicts, network_dicts

pytestmark = pytest.mark.usefixtures("one_thread")


@given(genotype_dicts())
def test_random_genotypes_validate_and_round_trip(d: dict[str, Any]) -> None:
    g = parse_genotype(json.loads(json.dumps(d)))
    infos = analyze_genotype(g)
    assert set(infos) == set(g.networks())
    text = g.to_json()
    again = parse_genotype(json.loads(text))
    assert again == g and again.to_json() == text and again.digest() == g.digest()
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "g.json"
        p.write_text(text)
        assert load_genotype(p).to_json() == text


def _check_runs(net: Network, role: str) -> None:
    info = analyze(net, role=role)
    model = Interpreter(info)
    assert sum(p.numel() for p in model.parameters()) == info.params
    xs = [torch.randn(3, *s) for s in info.input_shapes.values()]
    for train in (True, False):
        model.train(train)
        with torch.no_grad():
            out = model(*xs)
        outs = out if isinstance(out, tuple) else (out,)
        assert [tuple(o.shape) for o in outs] == [(3, *s) for s in info.output_shapes.values()]
        assert all(torch.isfinite(o).all() for o in outs)


@given(network_dicts("generator"))
def test_random_generators_run_with_inferred_shapes(d: dict[str, Any]) -> None:
    _check_runs(Network.model_validate(d), "generator")


@given(network_dicts("discriminator"))
def test_random_discriminators_run_with_inferred_shapes(d: dict[str, Any]) -> None:
    _check_runs(Network.model_validate(d), "discriminator")


ZOO_DICTS = [zoo_genotype(n).to_dict() for n in ("autogan-a", "adversarialnas", "dcgan-d")]


@given(st.data())
@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
def test_corruptions_always_give_a_clean_error(data: st.DataObject) -> None:
    valid = data.draw(genotype_dicts(max_nodes=4) | st.sampled_from(ZOO_DICTS), label="valid")
    c = data.draw(corruptions(valid), label="corruption")
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "bad.json"
        p.write_bytes(c.data)
        with pytest.raises(GccGanError) as ei:
            load_genotype(p)
    assert str(ei.value).strip(), c.kind


@pytest.mark.parametrize("kind", CORRUPTION_KINDS)
def test_every_corruption_kind_is_rejected(kind: str) -> None:
    """Each kind on its own (the mixed property above may not meet them all)."""
    base = zoo_genotype("autogan-a").to_dict()

    @given(corruptions(base, kinds=[kind]))
    @settings(max_examples=3, database=None)
    def check(c: Any) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            p = Path(tmp) / "bad.json"
            p.write_bytes(c.data)
            with pytest.raises(GccGanError):
                load_genotype(p)

    check()


# ---------------------------------------------------------------------------------------
# the strategies really produce the patterns the compiler rewrites


def _ops(e: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(o, {}) if isinstance(o, str) else (o["op"], {k: v for k, v in o.items() if k != "op"})
            for o in e["ops"]]


def _names(e: dict[str, Any]) -> list[str]:
    return [n for n, _ in _ops(e)]


def _mode(p: dict[str, Any]) -> str:
    return p.get("mode", "nearest")


def _has_edge(pred: Callable[[list[tuple[str, dict[str, Any]]]], bool]) -> Callable[[dict[str, Any]], bool]:
    return lambda d: any(pred(_ops(e)) for e in d["edges"])


def _upsample_only_node(d: dict[str, Any]) -> bool:
    for n in d["nodes"]:
        ins = [e for e in d["edges"] if e["dst"] == n["name"]]
        outs = [e for e in d["edges"] if e["src"] == n["name"]]
        if len(ins) == 1 and _names(ins[0])[-1] == "upsample" and outs \
                and all(_names(e)[0] == "conv" for e in outs):
            return True
    return False


def _parallel_same_source(d: dict[str, Any]) -> bool:
    groups: dict[tuple[str, str], set[int]] = {}
    for e in d["edges"]:
        ops = _ops(e)
        if ops[-1][0] == "conv":
            groups.setdefault((e["src"], e["dst"]), set()).add(ops[-1][1].get("kernel", 3))
    return any(len(ks) >= 2 for ks in groups.values())


def _parallel_different_sources(d: dict[str, Any]) -> bool:
    srcs: dict[str, set[str]] = {}
    for e in d["edges"]:
        if _names(e) == ["conv"]:
            srcs.setdefault(e["dst"], set()).add(e["src"])
    return any(len(s) >= 2 for s in srcs.values())


def _none_next_to_real(d: dict[str, Any]) -> bool:
    return any(_names(e)[-1] == "none" and any(f["dst"] == e["dst"] and "none" not in _names(f) for f in d["edges"])
               for e in d["edges"])


PATTERNS: dict[str, Callable[[dict[str, Any]], bool]] = {
    "up_nearest_relu_conv3": _has_edge(lambda o: [n for n, _ in o] == ["upsample", "relu", "conv"]
                                       and _mode(o[0][1]) == "nearest" and o[2][1].get("kernel", 3) == 3),
    "relu_up_nearest_conv3": _has_edge(lambda o: [n for n, _ in o] == ["relu", "upsample", "conv"]
                                       and _mode(o[1][1]) == "nearest"),
    "up_bilinear_conv1": _has_edge(lambda o: [n for n, _ in o] == ["upsample", "conv"]
                                   and _mode(o[0][1]) == "bilinear" and o[1][1].get("kernel") == 1),
    "bn_relu_up_conv": _has_edge(lambda o: [n for n, _ in o] == ["batch_norm", "relu", "upsample", "conv"]),
    "conv_bn": _has_edge(lambda o: [n for n, _ in o][:2] == ["conv", "batch_norm"]),
    "upsample_only_node": _upsample_only_node,
    "parallel_same_source": _parallel_same_source,
    "parallel_different_sources": _parallel_different_sources,
    "identity_edge": _has_edge(lambda o: [n for n, _ in o] == ["identity"]),
    "none_next_to_real": _none_next_to_real,
    "skip_across_resolutions": _has_edge(lambda o: any(n == "upsample" and p.get("scale", 2) >= 4 for n, p in o)
                                         or sum(n == "conv_transpose" for n, _ in o) >= 2),
    "grouped_or_depthwise": _has_edge(lambda o: any(n == "conv" and (p.get("groups", 1) > 1 or p.get("depthwise"))
                                                    for n, p in o)),
    "dilated_strided": _has_edge(lambda o: any(n == "conv" and p.get("dilation", 1) == 2 for n, p in o)),
    "spectral_norm": _has_edge(lambda o: any(p.get("sn") for _, p in o)),
}


# generate only: the first hit is enough (no shrinking)
FIND = settings(max_examples=3000, database=None, phases=[Phase.generate])


@pytest.mark.parametrize("pattern", sorted(PATTERNS))
def test_strategy_produces_pattern(pattern: str) -> None:
    find(network_dicts("generator"), PATTERNS[pattern], settings=FIND)


@pytest.mark.parametrize("role, ops", [
    ("generator", {"conv", "sep_conv", "conv_transpose", "upsample", "avg_pool", "identity", "none", "batch_norm",
                   "instance_norm", "pixel_norm", "relu", "leaky_relu", "tanh", "latent_slice", "linear",
                   "reshape", "minibatch_stddev"}),
    ("discriminator", {"max_pool", "global_sum_pool", "flatten", "minibatch_stddev", "linear"}),
])
def test_strategy_covers_the_registry(role: str, ops: set[str]) -> None:
    seen: set[str] = set()

    def more(d: dict[str, Any]) -> bool:
        seen.update(n for e in d["edges"] for n in _names(e))
        return ops <= seen

    find(network_dicts(role), more, settings=FIND)
