"""Search: mixed ops (merged = per-candidate sum), gradients to both architectures,
derivation keeps every node fed, tiny end-to-end searches whose genotypes validate and
compile, resume (in-process stop and a real SIGKILL), bad inputs."""

from __future__ import annotations

import copy
import csv
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gcc_gan.checkpoints import KILL_AFTER_ENV
from gcc_gan.cli.main import run as cli
from gcc_gan.compiler.kernels import dilated_conv
from gcc_gan.compiler.pipeline import compile_network
from gcc_gan.genotype_dsl.analysis import analyze, analyze_genotype
from gcc_gan.genotype_dsl.builder import op
from gcc_gan.genotype_dsl.encodings.adversarialnas import (
    adversarialnas_generator,
    parse_adversarialnas_arch,
)
from gcc_gan.genotype_dsl.io import load_genotype
from gcc_gan.search.mixed import MixedOp, gumbel_weights
from gcc_gan.search.pipeline import calls
from gcc_gan.search.plots import candidates_figure, pictures, probabilities_figure
from gcc_gan.search.run import SearchRequest, search
from gcc_gan.search.spaces.adversarialnas import (
    AdvDims,
    SuperD,
    SuperG,
    derive_d_choices,
    derive_rows,
    down_candidates,
    normal_candidates,
    up_candidates,
)

# supernets of width 4 on 16×16 images: a step takes milliseconds
# min_diversity 0: a few iterations leave a supernet's samples near-constant, which the
# health check (tests/test_health.py) rightly calls collapsed; these tests are about the rest
TINY = dict(gf=4, df=4, latent=6, bottom=2, batch_size=4, log_every=1, checkpoint_every=2, min_diversity=0.0)
DATA = "synthetic?n=64"


# tiny convolutions gain nothing from threads (conftest's one_thread); subprocesses get the same
pytestmark = pytest.mark.usefixtures("one_thread")


def _run(out: Path, method: str = "adversarial", iters: int = 4, **over: object) -> Path:
    kw = {**TINY, "iters": iters, **over}
    resume = bool(kw.pop("resume", False))
    stop = kw.pop("stop_after", None)
    search(SearchRequest(method=method, data=DATA, out=out, overrides=kw, resume=resume, device="cpu",
                         stop_after=stop))  # type: ignore[arg-type]
    return out


# --------------------------------------------------------------------------- mixed ops


@pytest.mark.parametrize("cands,shape,name", [
    (normal_candidates(), (6, 8, 8), "normal"),
    (down_candidates(2), (6, 8, 8), "down stride 2"),
    (up_candidates(), (6, 4, 4), "up"),
    ([calls("identity"), calls(op("conv", kernel=1)), calls(op("conv", kernel=3, dilation=2)),
      calls(op("conv", kernel=5)), calls("none")], (6, 7, 7), "identity as delta kernel"),
])
def test_merged_equals_per_candidate_sum(cands, shape, name) -> None:
    torch.manual_seed(0)
    m = MixedOp(cands, shape, 6)
    x = torch.randn(3, *shape)
    w = torch.softmax(torch.randn(len(cands)), 0)
    merged, separate = m(x, w, "merged"), m(x, w, "separate")
    assert (merged - separate).abs().max().item() <= 1e-5
    assert merged.abs().max().item() > 0.1
    if name == "normal":  # one ReLU and two convs instead of five
        assert len(m.groups) == 2 and sorted(len(g.members) for g in m.groups) == [1, 4]
    if name.startswith("identity"):
        assert m.groups[0].identity == [0] and not m.loose
    # hard: only the sampled candidate, gradient still reaching its weight
    logits = torch.zeros(len(cands), requires_grad=True)
    wh = gumbel_weights(logits, 1.0, True, torch.Generator().manual_seed(3))
    i = int(wh.argmax())
    y = m(x, wh, "hard")
    ref = torch.zeros_like(y) if m.kinds[i] == "none" else m.cands[i](x)
    assert torch.allclose(y, ref, atol=1e-6)
    if m.kinds[i] != "none":
        y.square().sum().backward()
        assert logits.grad is not None and logits.grad.abs().sum() > 0


@pytest.mark.parametrize("k,d,stride,size", [(5, 2, 1, 8), (3, 2, 1, 6), (5, 2, 2, 8), (5, 2, 2, 7), (5, 2, 1, 7),
                                             (3, 3, 1, 9), (3, 3, 3, 10), (5, 1, 1, 6), (3, 2, 3, 8)])
def test_dilated_conv_equals_conv2d(k: int, d: int, stride: int, size: int) -> None:
    torch.manual_seed(0)
    x = torch.randn(2, 3, size, size, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, 3, k, k, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    want = torch.nn.functional.conv2d(x, w, b, stride=stride, padding=d * (k - 1) // 2, dilation=d)
    got = dilated_conv(x, w, b, d, stride)
    assert got.shape == want.shape and torch.allclose(got, want, atol=1e-12)
    r = torch.randn_like(want)
    g_want = torch.autograd.grad((want * r).sum(), (x, w, b))
    g_got = torch.autograd.grad((got * r).sum(), (x, w, b))
    assert all(torch.allclose(a, c, atol=1e-10) for a, c in zip(g_got, g_want, strict=True))


@pytest.mark.parametrize("cands,shape", [(normal_candidates(), (5, 8, 8)), (down_candidates(2), (5, 8, 8)),
                                         (up_candidates(), (5, 4, 4))])
def test_merged_gradients_equal_per_candidate_gradients(cands: list, shape: tuple[int, ...]) -> None:
    # float64, so equality is checked far below float32 rounding: the merged form is exact
    # algebra for the weights' and the architecture's gradients, not just the output
    torch.manual_seed(1)
    m = MixedOp(cands, shape, 5).double()
    x = torch.randn(2, *shape, dtype=torch.float64, requires_grad=True)
    logits = torch.randn(len(cands), dtype=torch.float64, requires_grad=True)
    r = torch.randn(2, *m.out_shape, dtype=torch.float64)
    params = [x, logits, *m.parameters()]
    grads = {}
    for mode in ("merged", "separate"):
        out = m(x, torch.softmax(logits, 0), mode)
        grads[mode] = torch.autograd.grad((out * r).sum(), params, allow_unused=True)
    for a, b in zip(grads["merged"], grads["separate"], strict=True):
        assert (a is None) == (b is None)
        assert a is None or torch.allclose(a, b, atol=1e-10)


def test_algorithm_1_step_is_mode_independent_in_float64() -> None:
    """One full search step (four updates) from the same state in both modes: equal losses
    and parameters. float64, because float32 rounding differences in near-zero gradients
    are turned into full-size Adam updates (two thread counts differ just as much)."""
    from gcc_gan.search.config import make_config
    from gcc_gan.search.strategies.differentiable import DifferentiableSearcher

    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        cfg = make_config("adversarial", "tiny", {**TINY, "bottom": 4, "iters": 10})
        s = DifferentiableSearcher(cfg, torch.device("cpu"))
        reals = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
        s.step(0, reals)
        snap_m = {k: {n: t.clone() for n, t in m.state_dict().items()} for k, m in s.modules().items()}
        snap_o = {k: copy.deepcopy(o.state_dict()) for k, o in s.optimizers().items()}
        after = {}
        for mode in ("separate", "merged"):
            for k, m in s.modules().items():
                m.load_state_dict(snap_m[k])
            for k, o in s.optimizers().items():
                o.load_state_dict(copy.deepcopy(snap_o[k]))
            s.set_mode(mode)
            losses = s.step(1, reals)
            after[mode] = (losses, {f"{k}.{n}": t.clone() for k, m in s.modules().items()
                                    for n, t in m.state_dict().items()})
    finally:
        torch.set_default_dtype(old)
    (la, pa), (lb, pb) = after["separate"], after["merged"]
    assert max(abs(la[k] - lb[k]) for k in la) <= 1e-9
    assert max(float((pa[k] - pb[k]).abs().max()) for k in pa if pa[k].is_floating_point()) <= 1e-9


def test_supernets_merged_equal_separate_and_grads_reach_both_architectures() -> None:
    torch.manual_seed(0)
    dims = AdvDims(gf=4, df=4, latent=6, bottom=2)
    g, d = SuperG(dims), SuperD(dims)
    z = torch.randn(3, 6)
    gen = torch.Generator().manual_seed(0)
    wg, wd = g.sample_weights(1.0, False, gen), d.sample_weights(1.0, False, gen)
    outs = {}
    for mode in ("merged", "separate"):
        g.mode = d.mode = mode
        outs[mode] = d(g(z, wg), wd)
    assert torch.allclose(outs["merged"], outs["separate"], atol=1e-4, rtol=1e-4)
    outs["merged"].sum().backward()
    for net in (g, d):
        for a in net.arch_parameters():
            assert a.grad is not None and a.grad.abs().sum() > 0


def test_algorithm_1_moves_both_architectures(tmp_path: Path) -> None:
    from gcc_gan.search.config import make_config
    from gcc_gan.search.strategies.differentiable import DifferentiableSearcher

    cfg = make_config("adversarial", "tiny", {**TINY, "iters": 2})
    s = DifferentiableSearcher(cfg, torch.device("cpu"))
    before = [a.detach().clone() for a in s.arch["g_arch"] + s.arch["d_arch"]]
    losses = s.step(0, torch.rand(2 * cfg.batch_size, 3, 16, 16) * 2 - 1)
    assert {"d_arch_loss", "d_loss", "g_arch_loss", "g_loss", "tau"} <= set(losses)
    after = s.arch["g_arch"] + s.arch["d_arch"]
    assert all(not torch.equal(b, a) for b, a in zip(before, after))


# --------------------------------------------------------------------------- derivation


def test_derivation_feeds_every_node_when_none_dominates() -> None:
    dims = AdvDims(gf=4, df=4, latent=6, bottom=2)
    g, d = SuperG(dims), SuperD(dims)
    with torch.no_grad():
        for net in (g, d):
            for n in net.edge_names:
                a = net.alpha(n)
                a.zero_()
                a[0] = 5.0  # 'none' (normal edges) / first op (up, down edges)
    rows = derive_rows(g.probabilities())
    parse_adversarialnas_arch(rows)  # raises if n2 or n3 of any cell has no input
    ch = derive_d_choices(d.probabilities())
    assert all(ch[f"dcell{k}.e0"] != 0 for k in range(1, 5))
    assert all(ch[f"dcell{k}.e1"] or ch[f"dcell{k}.e2"] for k in range(1, 5))


@settings(max_examples=25)
@given(st.lists(st.lists(st.floats(0.0, 1.0), min_size=7, max_size=7), min_size=20, max_size=20),
       st.lists(st.lists(st.floats(0.0, 1.0), min_size=3, max_size=3), min_size=6, max_size=6))
def test_derivation_always_valid(normal: list[list[float]], up: list[list[float]]) -> None:
    probs = {}
    for k in range(1, 4):
        for i in range(2):
            probs[f"cell{k}.up{i}"] = up[2 * (k - 1) + i]
        for i in range(5):
            probs[f"cell{k}.c{i}"] = normal[5 * (k - 1) + i]
    parse_adversarialnas_arch(derive_rows(probs))  # valid: raises on a node left without input


# --------------------------------------------------------------------------- end to end


def _check_run(out: Path, method: str, fixed_d: bool = False, seed: int = 0) -> None:
    g = load_genotype(out / "genotype.json")  # validates
    infos = analyze_genotype(g)
    assert g.provenance.searcher == method and g.provenance.dataset == DATA and g.provenance.seed == seed
    assert g.provenance.search_cost["wall_s"] > 0 and g.provenance.search_cost["iters"] > 0
    assert g.provenance.encoding and g.provenance.encoding["format"] in ("adversarialnas", "degas")
    for role, info in infos.items():
        c = compile_network(info, role=role)
        assert c.report["params"] > 0
    hist = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in hist] == list(range(1, len(hist) + 1))
    for name in ["samples.png", *pictures(method)]:  # the pictures the CLI names
        assert (out / name).stat().st_size > 1000
    assert (out / "op_probabilities.png").exists() == (method != "random")
    if method != "random":
        assert hist[-1]["probs"]["generator"]
        assert ("discriminator" in hist[-1]["probs"]) == (method == "adversarial" and not fixed_d)


def test_adversarial_end_to_end_and_compile_cli(tmp_path: Path) -> None:
    # seed 2: the derived array leaves nodes that reach no output (cell3.n2 among them),
    # which crashed the end of the search before they were removed (issue 10)
    out = _run(tmp_path / "run", seed=2)
    _check_run(out, "adversarial", seed=2)
    g = load_genotype(out / "genotype.json")
    assert g.discriminator is not None and g.provenance.encoding["arch"]
    enc = g.provenance.encoding
    native = adversarialnas_generator(enc["arch"], gf=enc["gf"], latent=enc["latent"], bottom=enc["bottom"])
    assert native.official is not None, "seed 2 no longer derives a dead node: pick a seed that does"
    computed = {n.name for n in native.official.nodes}  # what the official code computes
    dead = computed - {n.name for n in native.network.nodes}
    assert "cell3.n2" in dead, "seed 2 no longer derives a dead node: pick a seed that does"
    assert not {n.name for n in g.generator.nodes} & dead
    assert cli(["compile", str(out / "genotype.json"), "-o", str(tmp_path / "c"), "--no-verify"]) == 0
    assert (tmp_path / "c").is_dir()


@pytest.mark.parametrize("fixed_d", [True, False])
def test_adversarial_hard_sampling(tmp_path: Path, fixed_d: bool) -> None:
    """Searched D: a hard sample can draw 'none' on every path of D, so that G's loss does not
    reach α that step (it crashed the search: no gradient is a zero step, not an error)."""
    out = _run(tmp_path / "run", sampling="hard", fixed_d=fixed_d, iters=3)
    _check_run(out, "adversarial", fixed_d=fixed_d)
    g = load_genotype(out / "genotype.json")
    assert g.provenance.encoding["discriminator"]["format"] == ("sngan-d" if fixed_d else "adversarialnas-d")


@pytest.fixture(scope="module")
def full5(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One uninterrupted 5-iteration search that the resume tests compare against (read only)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # as every test of this module runs (one_thread)
    try:
        return _run(tmp_path_factory.mktemp("search") / "full", iters=5)
    finally:
        torch.set_num_threads(before)


def test_resume_is_exact(tmp_path: Path, full5: Path) -> None:
    full = full5
    part = _run(tmp_path / "part", iters=5, stop_after=3)  # "killed" after step 3 (checkpoint at 2)
    assert not (part / "genotype.json").exists()
    _run(part, iters=5, resume=True)
    a, b = (load_genotype(p / "genotype.json") for p in (full, part))
    assert a.digest() == b.digest()
    ha, hb = ((p / "history.jsonl").read_text().splitlines() for p in (full, part))
    strip = lambda lines: [{k: v for k, v in json.loads(x).items() if k != "elapsed_s"} for x in lines]
    assert strip(ha) == strip(hb)


def test_resume_after_sigkill(tmp_path: Path) -> None:
    out = tmp_path / "run"
    code = ("import torch; torch.set_num_threads(1)\n"
            "from pathlib import Path\nfrom gcc_gan.search.run import SearchRequest, search\n"
            f"search(SearchRequest(data={DATA!r}, out=Path({str(out)!r}), device='cpu', "
            f"overrides={ {**TINY, 'iters': 8, 'checkpoint_every': 1} !r}))\n")
    env = {**os.environ, KILL_AFTER_ENV: "3"}  # SIGKILLed right after its step-3 checkpoint
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert not (out / "genotype.json").exists()
    done = max(int(p.name[5:]) for p in (out / "checkpoints").glob("step-*"))
    assert done == 3
    assert cli(["search", "-o", str(out), "--resume", "--iters", str(done - 1)]) == 1  # ends before the run
    res = search(SearchRequest(data=DATA, out=out, resume=True, device="cpu", overrides={"iters": done + 2}))
    assert res.resumed_from == done and res.step == done + 2
    load_genotype(out / "genotype.json")
    hist = [json.loads(x)["step"] for x in (out / "history.jsonl").read_text().splitlines()]
    assert hist == list(range(1, done + 3))  # lines past the checkpoint (and a cut line) dropped


def test_divergence_is_reported_and_checkpoint_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gcc_gan.errors import GccGanError
    from gcc_gan.search.strategies.differentiable import DifferentiableSearcher

    real_step = DifferentiableSearcher.step

    def step(self, s, reals):  # type: ignore[no-untyped-def]
        out = real_step(self, s, reals)
        return {**out, "g_loss": float("nan")} if s == 2 else out

    monkeypatch.setattr(DifferentiableSearcher, "step", step)
    with pytest.raises(GccGanError, match="diverged at step 3: g_loss = nan.*step-00000002"):
        _run(tmp_path / "run", iters=5)
    assert (tmp_path / "run" / "checkpoints" / "step-00000002" / "state.json").is_file()
    assert json.loads((tmp_path / "run" / "search.json").read_text())["status"] == "diverged"


def _fail_derive(monkeypatch: pytest.MonkeyPatch) -> None:
    from gcc_gan.search.strategies.differentiable import DifferentiableSearcher

    def derive(self):  # type: ignore[no-untyped-def]
        raise RuntimeError("derived genotype is invalid: generator.nodes[11]: node 'cell3.n2' is dead")

    monkeypatch.setattr(DifferentiableSearcher, "derive", derive)


def test_failed_finish_keeps_the_supernet_and_resume_only_finishes(tmp_path: Path, full5: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Issue 10: a crash in the derivation lost the run (search.json stayed 'running' and
    --resume repeated it). Now: status 'failed' with the reason, the error names the
    checkpoint and the command, and --resume derives from that checkpoint without training."""
    from gcc_gan.errors import GccGanError
    from gcc_gan.search.strategies.differentiable import DifferentiableSearcher

    full = full5
    out = tmp_path / "run"
    _fail_derive(monkeypatch)
    with pytest.raises(GccGanError) as e:
        _run(out, iters=5)
    msg = str(e.value)
    assert "node 'cell3.n2' is dead" in msg and str(out / "checkpoints" / "step-00000005") in msg
    assert f"gcc-gan search --method adversarial -o {out} --resume" in msg
    meta = json.loads((out / "search.json").read_text())
    assert meta["status"] == "failed" and "cell3.n2" in meta["error"]
    assert (out / "checkpoints" / "step-00000005" / "state.json").is_file()
    assert not (out / "genotype.json").exists()
    monkeypatch.undo()

    def no_training(self, s, reals):  # type: ignore[no-untyped-def]
        raise AssertionError(f"--resume retrained step {s}")

    monkeypatch.setattr(DifferentiableSearcher, "step", no_training)
    res = search(SearchRequest(data=DATA, out=out, resume=True, device="cpu"))
    assert res.resumed_from == 5 and res.step == 5
    assert load_genotype(out / "genotype.json").digest() == load_genotype(full / "genotype.json").digest()
    assert json.loads((out / "search.json").read_text())["status"] == "done"


def test_failed_finish_then_resume_with_more_iters_trains_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    _fail_derive(monkeypatch)
    assert cli(["search", "-o", str(out), "--data", DATA, "--iters", "2", "--min-diversity", "0"]) == 1  # one message
    err = capsys.readouterr().err
    assert "error: the search trained all 2 iterations" in err and "Traceback" not in err
    monkeypatch.undo()
    res = search(SearchRequest(data=DATA, out=out, resume=True, device="cpu", overrides={"iters": 4}))
    assert res.resumed_from == 2 and res.step == 4
    hist = [json.loads(x)["step"] for x in (out / "history.jsonl").read_text().splitlines()]
    assert hist[-1] == 4
    load_genotype(out / "genotype.json")


def test_op_probabilities_share_one_y_range_from_zero() -> None:
    """Issue 10: each panel had its own y range, so ±0.005 wiggles looked decisive."""
    names = {"generator": {"c.a": ["x", "y"], "c.b": ["p", "q", "r", "s", "t", "u", "v"]}}
    rows = [{"step": s, "probs": {"generator": {"c.a": [0.5 + 0.04 * s, 0.5 - 0.04 * s],
                                                 "c.b": [1 / 7 + 0.001 * (-1) ** (s + j) for j in range(7)]}}}
            for s in range(1, 10)]
    fig = probabilities_figure(rows, names, "adversarial")
    used = [ax for ax in fig.axes if ax.axison]
    assert len(used) == 2 and {ax.get_ylim() for ax in used} == {(0.0, 0.9)}  # max p 0.86 → 0.9
    assert "share the y range 0–0.9" in fig._suptitle.get_text()  # type: ignore[union-attr]
    assert all(float(t).is_integer() for ax in used for t in ax.get_xticks())  # iterations


def test_candidates_plot_has_integer_ticks() -> None:
    fig = candidates_figure([{"step": 6, "scores": [0.3, 0.2, 0.25]}])
    assert list(fig.axes[0].get_xticks()) == [1, 2, 3]
    # a one-shot run scores 48: every number side by side overlapped; every 5th one is readable
    fig = candidates_figure([{"scores": [0.3 + 0.01 * i for i in range(48)], "status": ["ok"] * 48}])
    assert list(fig.axes[0].get_xticks()) == list(range(5, 49, 5))


def test_candidates_plot_names_its_strategy_and_marks_the_kept_candidate() -> None:
    """The candidate loop's picture says which search it was, in the reward's unit, and marks
    the candidate it kept (IS: the highest score, not the lowest)."""
    fig = candidates_figure([{"scores": [5.0, 7.0, 6.0], "status": ["ok"] * 3}], title="evolution search candidates",
                            ylabel="is (higher is better)", kept=1)
    ax = fig.axes[0]
    assert ax.get_title() == "evolution search candidates" and ax.get_ylabel() == "is (higher is better)"
    red = [p for p in ax.patches if p.get_facecolor()[:3] == pytest.approx((0xC4 / 255, 0x4E / 255, 0x52 / 255))]
    assert [p.get_x() + p.get_width() / 2 for p in red] == [2]  # candidate 2, the highest IS


# --------------------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("args,msg", [
    (["--data", "imagenet:/x"], "unknown data spec 'imagenet:/x'"),
    (["--data", "cifar10:/nonexistent/dir"], "cifar10"),
    (["--iters", "0"], "--iters 0"),
    (["--method", "degas", "--fixed-d"], "--fixed-d applies to AdversarialNAS"),
    (["--method", "degas", "--data", "synthetic?n=16"], "DEGAS needs at least 32 images"),
    (["--resume", "--force"], "contradict"),
])
def test_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], msg: str) -> None:
    out = tmp_path / "run"
    assert cli(["search", "-o", str(out), *args]) == 1
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err
    assert not (out / "genotype.json").exists()


@pytest.mark.parametrize("args,msg", [
    (["--method", "evolution"], "'evolution' is not one of 'adversarial', 'degas', 'autogan', 'dggan', 'random'"),
    (["--preset", "huge"], "'huge' is not one of 'tiny', 'paper'"),
    (["--sampling", "medium"], "'medium' is not one of 'soft', 'hard'"),
])
def test_bad_choices_are_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str],
                                      msg: str) -> None:
    out = tmp_path / "run"
    assert cli(["search", "-o", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert msg in err and "Traceback" not in err
    assert not out.exists()


def test_existing_run_dir_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / "mine.txt").write_text("precious")
    assert cli(["search", "-o", str(out)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert cli(["search", "-o", str(out), "--force"]) == 1
    assert "not a gcc-gan search run" in capsys.readouterr().err
    assert (out / "mine.txt").read_text() == "precious"
    assert cli(["search", "-o", str(tmp_path / "nothing"), "--resume"]) == 1
    assert "does not exist" in capsys.readouterr().err


# --------------------------------------------------------------------------- DEGAS, random


def test_degas_end_to_end(tmp_path: Path) -> None:
    out = _run(tmp_path / "run", method="degas", iters=4, n_images=32, n_normal=2)
    _check_run(out, "degas")
    g = load_genotype(out / "genotype.json")
    assert g.discriminator is None
    hist = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    assert {"loss", "arch_loss", "input_weights"} <= set(hist[-1])


def test_degas_supernet_grads_and_pruning() -> None:
    from gcc_gan.search.spaces.degas import DegasG, derive_degas
    from gcc_gan.search.strategies.objectives import glo_loss

    torch.manual_seed(0)
    g = DegasG(gf=4, latent=6, bottom=2, n_normal=1)
    w = g.sample_weights(1.0, False, torch.Generator().manual_seed(0))
    x = g(torch.randn(3, 6), w)
    assert x.shape == (3, 3, 16, 16)
    glo_loss(x, torch.zeros_like(x)).backward()
    assert all(a.grad is not None and a.grad.abs().sum() > 0 for a in g.arch_parameters())
    with torch.no_grad():  # level 3's strongest input: the residual from the stem (whose best op is 'none')
        g.betas["up3"].copy_(torch.tensor([0.0, 5.0, 0.0, 0.0]))
        g.alpha("up3.res0").copy_(torch.tensor([9.0, 0.0, 1.0]))
    net, enc = derive_degas(g)
    srcs = {e.name: e.src for e in net.edges}
    assert srcs["up3.res0"] == "stem" and "up3.direct" in srcs  # stage 2 keeps the direct input
    assert enc["choices"]["up3.res0"] == "bilinear+conv1x1"  # 'no connection' never kept
    assert "up3.res1" not in srcs
    analyze(net, "generator", role="generator")


def test_random_search_end_to_end(tmp_path: Path) -> None:
    out = _run(tmp_path / "run", method="random", iters=2, population=2, candidate_iters=2, reward_images=16, workers=1)
    _check_run(out, "random")
    cs = load_genotype(out / "genotype.json").provenance.encoding["candidate_search"]
    assert (cs["space"], cs["strategy"], cs["candidates"]) == ("adversarialnas", "random", 4)
    rows = list(csv.DictReader((out / "candidates.csv").open()))
    ok = {r["id"]: float(r["score"]) for r in rows if r["status"] == "ok"}
    assert ok and cs["kept"] == min(ok, key=ok.__getitem__)  # the best healthy candidate
    rp = load_genotype(out / "genotype.json").provenance.evaluation  # how the scores were measured
    assert (rp["reward"], rp["metric"], rp["real"]) == ("swd", "swd-real", DATA)
    assert rp["num_generated"] == rp["num_real"] == 16 and "inception" not in rp  # reward_images


def test_random_search_resume_is_exact(tmp_path: Path) -> None:
    kw = dict(method="random", iters=2, population=2, candidate_iters=2, reward_images=16, checkpoint_every=1, workers=1)
    full = _run(tmp_path / "full", **kw)
    part = _run(tmp_path / "part", **kw, stop_after=1)  # checkpointed after round 1
    _run(part, **kw, resume=True)
    a, b = (load_genotype(p / "genotype.json").provenance.encoding["candidate_search"] for p in (full, part))
    assert a == b
    assert (full / "candidates.csv").read_text() == (part / "candidates.csv").read_text()
    assert (full / "generator.safetensors").read_bytes() == (part / "generator.safetensors").read_bytes()
