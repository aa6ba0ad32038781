"""AutoGAN under a compiled-MACs budget: the per-cell width search (spaces/autogan.py).

A narrowed child (shared convs sliced to their first channels, switchable BN) against the
standalone compile of its genotype; gradients landing in the slices only; the converter's
`widths`; and a tiny search at half the unconstrained result's compiled MACs returning a
genotype within that budget (AutoGAN's own space cannot: its cheapest child is 0.87× the
unconstrained one), while without a budget the space has no width token at all."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import shown_macs
from safetensors.torch import load_file
from test_autogan import TINY

from gcc_gan.cli.main import run as cli
from gcc_gan.compiler.cost import compiled_cost
from gcc_gan.compiler.pipeline import compile_network
from gcc_gan.errors import GccGanError
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.encodings import autogan_generator, from_encoding
from gcc_gan.genotype_dsl.io import load_genotype
from gcc_gan.search.run import SearchRequest, search
from gcc_gan.search.spaces.autogan import (
    WIDTHS,
    Narrow,
    SharedGenerator,
    cheapest_cost,
    child_native,
    split_tokens,
    stage_of,
    stage_tokens,
    vector_length,
)

pytestmark = pytest.mark.usefixtures("one_thread")

DATA = "synthetic?n=64"
# test_autogan.py's TINY schedule at gf 8 (widths 8 / 6 / 4 / 2 channels)
SMALL = {**TINY, "gf": 8, "checkpoint_every": 5}


def test_width_tokens_only_with_widths() -> None:
    assert [stage_tokens(s, True) for s in range(3)] == [[2, 3, 3, 2, 4], [2, 3, 3, 2, 2, 4], [2, 3, 3, 2, 4, 4]]
    assert [vector_length(s, True) for s in range(3)] == [5, 11, 17]
    assert [stage_of([0] * vector_length(s, True), True) for s in range(3)] == [0, 1, 2]
    tokens = [1, 0, 1, 1, 3] + [0, 1, 0, 1, 1, 0] + [1, 0, 2, 0, 3, 2]
    assert split_tokens(tokens, True) == ([1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 2, 0, 3], [0.25, 1.0, 0.5])
    assert split_tokens(tokens[:14]) == (tokens[:14], None)


def test_converter_widths() -> None:
    arch = [1, 0, 1, 1, 1, 0, 0, 1, 1, 1, 0, 1, 0, 3]
    nat = autogan_generator(arch, gf=16, latent=8, bottom=2, widths=[1, 0.5, 0.25])
    ch = {n.name: n.n_channels(16) for n in nat.network.nodes}
    assert (ch["stem"], ch["cell1.out"], ch["cell2.h"], ch["cell2.out"], ch["cell3.out"]) == (16, 16, 8, 8, 4)
    assert nat.encoding["widths"] == [1.0, 0.5, 0.25] and from_encoding(nat.encoding).network == nat.network
    # no widths: the published network and encoding, unchanged
    plain = autogan_generator(arch, gf=16, latent=8, bottom=2)
    assert "widths" not in plain.encoding and autogan_generator(arch, 16, 8, 2, [1, 1, 1]).network == plain.network
    assert compiled_cost(nat.network).macs < compiled_cost(plain.network).macs
    for bad in ([1, 1], [1, 0, 1], ["a", 1, 1]):
        with pytest.raises(GccGanError, match="widths"):
            autogan_generator(arch, gf=16, latent=8, bottom=2, widths=bad)


def test_convert_takes_the_widths_of_a_budgeted_search(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    arch = "1,0,1,1,1,0,0,1,1,1,0,1,0,3"
    out = tmp_path / "g.json"
    assert cli(["convert", "autogan", arch, "--gf", "16", "--latent", "8", "--bottom", "2", "--widths",
                "1, 0.5,0.25", "-o", str(out)]) == 0
    g = load_genotype(str(out))
    want = autogan_generator([int(a) for a in arch.split(",")], gf=16, latent=8, bottom=2, widths=[1, 0.5, 0.25])
    assert g.generator == want.network and g.provenance.encoding["widths"] == [1.0, 0.5, 0.25]
    capsys.readouterr()
    for fmt, widths, msg in (("autogan", "1,x,1", "comma-separated numbers"), ("autogan", "1,1", "one positive"),
                             ("adversarialnas", "1,1,1", "applies to autogan")):
        assert cli(["convert", fmt, arch, "--widths", widths, "-o", str(tmp_path / "bad.json")]) == 1
        assert msg in capsys.readouterr().err
    assert not (tmp_path / "bad.json").exists()


def test_narrowed_child_equals_compiled_standalone() -> None:
    """Children of every stage at random widths: the shared-weights child (after BN statistics
    moved) equals the compiled genotype with the child's state_dict; its parameters are the
    shared tensors; a loss's gradient lands only in the used slice of a narrowed conv."""
    g = SharedGenerator(gf=8, latent=16, bottom=2, seed=1, widths=True)
    rng = np.random.default_rng(0)
    narrowed = 0
    for stage in range(3):
        for i in range(4):
            tokens = [int(rng.integers(n)) for s in range(stage + 1) for n in stage_tokens(s, True)]
            if i == 0:
                tokens[-1] = len(WIDTHS) - 1  # at least one quarter-width cell per stage
            child = g.child(tokens).train()
            with torch.no_grad():
                child(torch.randn(16, 16))  # move the (shared and switchable) BN running statistics
            child.eval()
            sd = {k: v.contiguous() for k, v in child.state_dict().items()}  # what child.safetensors holds
            info = analyze(child_native(tokens, 8, 16, 2, True).network, role="generator")
            standalone = compile_network(info, sd).instantiate()
            z = torch.randn(5, 16)
            with torch.no_grad():
                err = (standalone(z) - child(z)).abs().max().item()
            assert err <= 1e-5, (tokens, err)
            shared = {id(q) for q in g.parameters()}
            assert all(id(p) in shared for p in child.parameters())
            narrowed += sum(isinstance(m, Narrow) for m in child.modules())
    assert narrowed > 10
    # gradient through a narrowed conv: nonzero in its slice, zero elsewhere in the shared weight
    tokens = [1, 0, 1, 1, 3]  # cell 1 at a quarter of gf
    child = g.child(tokens).train()
    conv = next(m for m in child.modules() if isinstance(m, Narrow) and isinstance(m.base, torch.nn.Conv2d)
                and m.cout < 8 and m.cin == 8)
    g.zero_grad(set_to_none=True)
    child(torch.randn(4, 16)).square().mean().backward()
    grad = conv.base.weight.grad
    assert grad is not None and grad[:conv.cout, :conv.cin].abs().sum() > 0
    assert grad[conv.cout:].abs().sum() == 0


def _search(out: Path, **over: object) -> Path:
    search(SearchRequest(method="autogan", data=DATA, out=out, overrides={**SMALL, **over},  # type: ignore[arg-type]
                         device="cpu"))
    return out


def test_search_at_half_the_unconstrained_compiled_macs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    free = _search(tmp_path / "free")
    g_free = load_genotype(free / "genotype.json")
    assert g_free.generator is not None and "widths" not in g_free.provenance.encoding  # AutoGAN's space
    m_free = shown_macs(free / "genotype.json", capsys)
    assert m_free == compiled_cost(g_free.generator).macs
    limit = m_free // 2
    # no child of AutoGAN's own space (every width gf) fits: the widths are what makes it reachable
    assert cheapest_cost(8, 6, 2, False)[0] > limit
    out = _search(tmp_path / "half", max_macs=limit)
    g = load_genotype(out / "genotype.json")
    assert g.generator is not None
    assert shown_macs(out / "genotype.json", capsys) <= limit
    assert compiled_cost(g.generator).macs <= limit and g.provenance.search_cost["compiled_macs"] <= limit
    enc = g.provenance.encoding
    assert len(enc["widths"]) == 3 and from_encoding(enc).network == g.generator
    top = json.loads((out / "topk.json").read_text())
    assert top["topk"][0]["arch"] == enc["arch"] and top["topk"][0]["widths"] == enc["widths"]
    for t in top["topk"]:  # every returned child is within budget
        assert compiled_cost(autogan_generator(t["arch"], 8, 6, 2, t["widths"]).network).macs <= limit
    # child.safetensors holds the narrowed child's weights in the genotype's layout
    sd = load_file(str(out / "child.safetensors"))
    compile_network(analyze(g.generator, role="generator"), sd)
    hist = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    assert any("cell3.width" in r.get("tokens", {}) for r in hist)
    assert cli(["validate", str(out / "genotype.json")]) == 0


def test_unreachable_budget_is_a_clear_error_before_training(tmp_path: Path) -> None:
    """`cheapest_cost` bounds every child of the space from below (random children never
    compile cheaper), so a limit under it fails at once, with nothing written."""
    macs, params = cheapest_cost(8, 6, 2, True)
    rng = np.random.default_rng(1)
    for _ in range(150):
        tokens = [int(rng.integers(n)) for s in range(3) for n in stage_tokens(s, True)]
        c = compiled_cost(child_native(tokens, 8, 6, 2, True).network)
        assert c.macs >= macs and c.params >= params
    assert cheapest_cost(8, 6, 2, False)[0] > macs
    for over in ({"max_macs": macs - 1}, {"max_params": params - 1}):
        with pytest.raises(GccGanError, match="no architecture within the budget"):
            _search(tmp_path / "x", **over)
        assert not (tmp_path / "x").exists()


def test_budgeted_search_resumes_exactly(tmp_path: Path) -> None:
    """The switchable BNs are checkpointed with the supernet, and scoring a child (BN
    re-calibration) leaves the shared statistics as they were: stop + resume = one run."""
    over = {**SMALL, "max_macs": 150_000}
    full, part = tmp_path / "full", tmp_path / "part"
    search(SearchRequest(method="autogan", data=DATA, out=full, device="cpu", overrides=over))  # type: ignore[arg-type]
    search(SearchRequest(method="autogan", data=DATA, out=part, device="cpu", overrides=over,  # type: ignore[arg-type]
                         stop_after=7))
    search(SearchRequest(method="autogan", data=DATA, out=part, device="cpu", overrides=over,  # type: ignore[arg-type]
                         resume=True))
    assert json.loads((full / "topk.json").read_text()) == json.loads((part / "topk.json").read_text())
    a, b = (load_file(str(p / "child.safetensors")) for p in (full, part))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_scoring_a_child_leaves_the_shared_statistics() -> None:
    """BN re-calibration before a child's reward works on the child's own statistics and
    puts the shared (and switchable) BN buffers back afterwards."""
    from gcc_gan.search.config import make_config
    from gcc_gan.search.strategies.reinforce import AutoGanSearcher
    from gcc_gan.train.data import load_dataset

    cfg = make_config("autogan", "tiny", {**SMALL, "max_macs": 150_000})
    s = AutoGanSearcher(cfg, torch.device("cpu"))
    s.bind_data(load_dataset(DATA, cfg.size))
    tokens = [1, 1, 0, 1, 3]  # pre-activation, BN, bilinear, shortcut, ×0.25
    with torch.no_grad():
        s.g.child(tokens).train()(torch.randn(8, cfg.latent) * 3 + 1)  # statistics unlike the calibration's
    before = {k: v.clone() for k, v in s.g.state_dict().items()}
    s._reward(tokens, 0)
    assert all(torch.equal(before[k], v) for k, v in s.g.state_dict().items())
