"""AutoGAN search: vector lengths per stage, the controller's log-probabilities against a
hand computation, `faithful` mode's loss against the official formula, a forced dynamic
reset, fixed seed -> identical top-K, resume (in-process stop and a real SIGKILL) ending
bit-identical, the shared-weights child against the compiled standalone generator with
child.safetensors, and the controller's samples always giving valid genotypes."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from gcc_gan.checkpoints import KILL_AFTER_ENV
from gcc_gan.cli.main import run as cli
from gcc_gan.compiler.pipeline import compile_network
from gcc_gan.genotype_dsl.analysis import analyze, analyze_genotype
from gcc_gan.genotype_dsl.encodings import parse_autogan_arch
from gcc_gan.genotype_dsl.io import load_genotype
from gcc_gan.genotype_dsl.model import Genotype
from gcc_gan.search.config import make_config
from gcc_gan.search.run import SearchRequest, search
from gcc_gan.search.spaces.autogan import (
    GrowingDiscriminator,
    SharedGenerator,
    child_native,
    stage_of,
    stage_tokens,
    vector_length,
)
from gcc_gan.search.strategies.controller import Controller, clean_loss, faithful_loss
from gcc_gan.search.strategies.reinforce import AutoGanSearcher
from gcc_gan.train.data import load_dataset
from gcc_gan.seeding import mix_seed

pytestmark = pytest.mark.usefixtures("one_thread")

DATA = "synthetic?n=64"
# width 4 on 4/8/16 images, 3 search iterations of 3 shared + 2 controller steps
TINY = dict(gf=4, df=4, latent=6, bottom=2, batch_size=4, g_batch=4, hid=8, search_iters=3, grow_at=(1, 2),
            shared_steps=3, ctrl_steps=2, n_critic=2, num_candidate=3, topk=2, reward="swd", reward_images=8,
            reset_window=2, iters=15, log_every=1, checkpoint_every=2)


def _run(out: Path, **over: object) -> Path:
    kw = {**TINY, **over}
    resume = bool(kw.pop("resume", False))
    stop = kw.pop("stop_after", None)
    search(SearchRequest(method="autogan", data=DATA, out=out, overrides=kw, resume=resume, device="cpu",
                         stop_after=stop))  # type: ignore[arg-type]
    return out


def _searcher(**over: object) -> AutoGanSearcher:
    cfg = make_config("autogan", "tiny", {**TINY, **over})
    s = AutoGanSearcher(cfg, torch.device("cpu"))
    s.bind_data(load_dataset(DATA, cfg.size))
    return s


def _strip(path: Path) -> list[dict]:
    return [{k: v for k, v in json.loads(x).items() if k != "elapsed_s"} for x in path.read_text().splitlines()]


# --------------------------------------------------------------------------- space


def test_vector_lengths_and_tokens() -> None:
    assert [vector_length(s) for s in range(3)] == [4, 9, 14]
    assert [stage_tokens(s) for s in range(3)] == [[2, 3, 3, 2], [2, 3, 3, 2, 2], [2, 3, 3, 2, 4]]
    assert [stage_of([0] * n) for n in (4, 9, 14)] == [0, 1, 2]
    s = _searcher()
    g0, d0, ctrl0 = s.g, s.d, s.ctrl
    for stage in range(3):
        if stage:
            s._grow(0, stage)
            # growth: a new controller seeded by the top-K prefixes; G / D weights kept (official)
            assert s.g is g0 and s.d is d0 and s.d.stage == stage and s.ctrl is not ctrl0
            assert len(s.prefixes) == s.cfg.topk and all(len(p["arch"]) == vector_length(stage - 1)
                                                         for p in s.prefixes)
        for i in range(5):
            arch, smp = s.sample(s.gen(i, 0))
            assert len(arch) == vector_length(stage) and len(smp.actions) == len(stage_tokens(stage))
            parse_autogan_arch(arch)


def test_shared_child_equals_compiled_standalone_for_all_stages() -> None:
    g = SharedGenerator(gf=8, latent=16, bottom=2, seed=1)
    rng = np.random.default_rng(0)
    for stage in range(3):
        for _ in range(3):
            arch = [int(rng.integers(n)) for s in range(stage + 1) for n in stage_tokens(s)]
            child = g.child(arch).train()
            with torch.no_grad():
                child(torch.randn(16, 16))  # move the shared BN running statistics
            child.eval()
            sd = {k: v.contiguous() for k, v in child.state_dict().items()}  # what child.safetensors holds
            info = analyze(child_native(arch, 8, 16, 2).network, role="generator")
            standalone = compile_network(info, sd).instantiate()
            z = torch.randn(5, 16)
            with torch.no_grad():
                err = (standalone(z) - child(z)).abs().max().item()
            assert err <= 1e-5, (arch, err)
            # the child's weights are the shared ones: same tensors, not copies
            for k, p in child.named_parameters():
                assert any(p is q for q in g.parameters()), k


def test_growing_discriminator_runs_every_stage() -> None:
    d = GrowingDiscriminator(df=4, size=16, sn=True, seed=0)
    for stage, size in enumerate((4, 8, 16)):
        d.stage = stage
        assert d(torch.randn(2, 3, size, size)).shape == (2, 1)


def test_random_controller_samples_give_valid_genotypes() -> None:
    """Derivation property: a thousand samples of randomly initialised controllers (random
    prefixes at later stages) all convert, validate and count."""
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    seen: set[tuple[int, ...]] = set()
    for stage in range(3):
        ctrl = Controller(stage_tokens(stage), 8)
        with torch.no_grad():
            for p in ctrl.parameters():
                p.mul_(8.0)  # peaked distributions too, not only near-uniform ones
        for _ in range(350):
            prefix = [int(torch.randint(n, (1,), generator=gen)) for s in range(stage) for n in stage_tokens(s)]
            hidden = (torch.randn(1, 8, generator=gen), torch.randn(1, 8, generator=gen)) if stage else None
            with torch.no_grad():
                smp = ctrl.sample(gen, hidden)
            seen.add(tuple(prefix + smp.actions))
    assert len(seen) > 300
    for arch in sorted(seen):
        nat = child_native(list(arch), 4, 6, 2)
        infos = analyze_genotype(Genotype(generator=nat.network, provenance={"encoding": nat.encoding}))
        size = 2 * 2 ** (stage_of(arch) + 1)  # bottom 2, one ×2 per cell
        assert infos["generator"].shapes["rgb"] == (3, size, size)
        assert infos["generator"].params > 0 and nat.encoding["arch"] == list(arch)


# --------------------------------------------------------------------------- controller


def _lstm_by_hand(cell: torch.nn.LSTMCell, x: torch.Tensor, h: torch.Tensor, c: torch.Tensor):
    gates = x @ cell.weight_ih.T + cell.bias_ih + h @ cell.weight_hh.T + cell.bias_hh
    i, f, g, o = gates.chunk(4, -1)
    c2 = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c2), c2


@pytest.mark.parametrize("stage", [0, 2])
def test_controller_log_probs_match_a_hand_computation(stage: int) -> None:
    torch.manual_seed(stage)
    tokens = stage_tokens(stage)
    ctrl = Controller(tokens, 5).double()
    hidden = (torch.randn(1, 5, dtype=torch.float64), torch.randn(1, 5, dtype=torch.float64)) if stage else None
    smp = ctrl.sample(torch.Generator().manual_seed(3), hidden)
    h, c = hidden if hidden else (torch.zeros(1, 5, dtype=torch.float64), torch.zeros(1, 5, dtype=torch.float64))
    x = torch.zeros(1, 5, dtype=torch.float64)
    logps, ents = [], []
    for t, a in enumerate(smp.actions):
        h, c = _lstm_by_hand(ctrl.lstm, x, h, c)
        logits = h[0] @ ctrl.decoders[t].weight.T + ctrl.decoders[t].bias
        p = torch.exp(logits) / torch.exp(logits).sum()
        logps.append(torch.log(p[a]))
        ents.append(-(p * torch.log(p)).sum())
        x = ctrl.encoder.weight[a + sum(tokens[:t])].view(1, -1)  # embedding of the previous action, offset
    assert torch.allclose(smp.log_probs, torch.stack(logps), atol=1e-12)
    assert torch.allclose(smp.entropies, torch.stack(ents), atol=1e-12)
    assert torch.allclose(smp.hidden[0], h) and torch.allclose(smp.hidden[1], c)
    # scoring forced actions gives the same numbers
    again = ctrl.sample(None, hidden, forced=smp.actions)
    assert torch.equal(again.log_probs, smp.log_probs)


def test_faithful_loss_equals_the_official_formula() -> None:
    torch.manual_seed(0)
    ctrl = Controller(stage_tokens(1), 6).double()
    smp = ctrl.sample(torch.Generator().manual_seed(1))
    T, reward, coeff, decay = len(smp.actions), 3.25, 1e-3, 0.9
    prev = torch.randn(T, 1, dtype=torch.float64)

    # official functions.py:206-222 verbatim at ctrl_sample_batch 1 (controller.py:86-88 shapes)
    selected_log_probs = torch.cat([lp.view(1, 1) for lp in smp.log_probs], -1)  # bs * T
    entropies = torch.cat([e.view(1, 1) for e in smp.entropies], 0)  # torch.cat(entropies, 0)
    cur_batch_rewards = torch.tensor([reward], requires_grad=False, dtype=torch.float64)
    cur_batch_rewards = cur_batch_rewards.unsqueeze(-1) + coeff * entropies  # bs * 1
    for baseline in (None, prev):
        if baseline is None:
            baseline = cur_batch_rewards
        else:
            baseline = decay * baseline.detach() + (1 - decay) * cur_batch_rewards
        adv = cur_batch_rewards - baseline
        loss = -selected_log_probs * adv
        official = loss.sum()
        mine, rewards, b = faithful_loss(smp, reward, None if baseline is cur_batch_rewards else prev, coeff, decay)
        assert torch.allclose(mine, official, rtol=1e-12, atol=1e-12)
        assert torch.allclose(b, baseline)
        g1 = torch.autograd.grad(official, list(ctrl.parameters()), retain_graph=True, allow_unused=True)
        g2 = torch.autograd.grad(mine, list(ctrl.parameters()), retain_graph=True, allow_unused=True)
        for a, bb in zip(g1, g2):
            assert (a is None and bb is None) or torch.allclose(a, bb, atol=1e-12)
    # the quirk itself: -(Σ log p)(Σ adv), and the first step has zero advantage
    assert torch.allclose(mine, -smp.log_probs.sum() * adv.sum())
    first, _, _ = faithful_loss(smp, reward, None, coeff, decay)
    assert first.item() == 0.0
    # clean mode: scalar reward + c·ΣH, scalar EMA baseline
    loss_c, r, b = clean_loss(smp, reward, 2.0, coeff, decay)
    assert r == pytest.approx(reward + coeff * smp.entropies.sum().item())
    assert b == pytest.approx(0.9 * 2.0 + 0.1 * r)
    assert loss_c.item() == pytest.approx(-smp.log_probs.sum().item() * (r - b))


# --------------------------------------------------------------------------- the search


def test_forced_reset_reinitialises_g_and_d_and_keeps_the_controller() -> None:
    s = _searcher(reset_threshold=float("inf"))
    reals = load_dataset(DATA, 16).batch(np.arange(8))
    ctrl_before_init = {k: v.clone() for k, v in s.ctrl.state_dict().items()}
    g_old, d_old, ctrl_obj = s.g, s.d, s.ctrl
    for step in range(4):  # shared steps 0-2 (window of 2 fills at the 2nd G step), controller step 3
        s.step(step, reals)
    assert s.reset_flag and s.skip_shared and any(e["kind"] == "reset_flag" for e in s.events)
    out = s.step(4, reals)  # last controller step of iteration 0: the reset happens here
    assert out.get("reset") == 1.0 and s.n_resets == 1 and not s.reset_flag
    assert s.g is not g_old and s.d is not d_old and s.ctrl is ctrl_obj
    fresh_g = SharedGenerator(s.cfg.gf, s.cfg.latent, s.cfg.bottom, mix_seed(s.cfg.seed, 11, 1))
    fresh_d = GrowingDiscriminator(s.cfg.df, s.cfg.size, True, mix_seed(s.cfg.seed, 12, 1))
    for new, fresh, old in ((s.g, fresh_g, g_old), (s.d, fresh_d, d_old)):
        sd, fsd, osd = new.state_dict(), fresh.state_dict(), old.state_dict()
        assert all(torch.equal(sd[k], fsd[k]) for k in sd)
        assert any(not torch.equal(sd[k], osd[k]) for k in sd if sd[k].is_floating_point())
    assert all(not st for st in s.opt_g.state.values()) and not s.opt_d.state  # fresh optimizers
    # the controller got its own update at step 4 but was not re-initialised
    assert any(not torch.equal(s.ctrl.state_dict()[k], ctrl_before_init[k]) for k in ctrl_before_init)


def test_end_to_end_outputs_and_fixed_seed(tmp_path: Path) -> None:
    a = _run(tmp_path / "a", reset_threshold=float("inf"))
    b = _run(tmp_path / "b", reset_threshold=float("inf"))
    ta, tb = (json.loads((p / "topk.json").read_text()) for p in (a, b))
    assert ta["topk"] == tb["topk"]
    vecs = [tuple(t["arch"]) for t in ta["topk"]]
    assert len(vecs) == 2 and len(set(vecs)) == 2 and all(len(v) == 14 for v in vecs)
    assert [len(e["topk"][0]["arch"]) for e in ta["stages"]] == [4, 9]  # prefixes of stage 0, then 1
    assert len([e for e in ta["resets"] if e["kind"] == "reset"]) >= 1
    g = load_genotype(a / "genotype.json")
    analyze_genotype(g)
    enc = g.provenance.encoding
    assert enc["format"] == "autogan" and enc["arch"] == list(vecs[0])
    rp = g.provenance.evaluation
    assert (rp["reward"], rp["num_generated"], rp["real"]) == ("swd", TINY["reward_images"], DATA)
    best = ta["topk"][0]  # the metric (swd-real x 1e3) and the reward derived from it, named apart
    assert ta["metric"] == "swd-real" and best["reward"] == -best["swd_real"]
    assert g.provenance.metrics == {"swd_real": best["swd_real"], "reward": best["reward"], "swd": best["swd"],
                                    "diversity": best["diversity"]}
    assert "--reward swd" in (g.provenance.notes or "") and '"stages"' in (g.provenance.notes or "")
    for v in vecs:  # `gcc-gan convert autogan` accepts every top-K vector
        assert cli(["convert", "autogan", ",".join(map(str, v)), "-o", str(tmp_path / "c.json"), "--force"]) == 0
    for f in ("genotype.png", "controller.png", "history.jsonl", "samples.png", "child.safetensors"):
        assert (a / f).is_file(), f
    # child.safetensors is the best child's shared weights in the canonical layout
    sd = load_file(str(a / "child.safetensors"))
    standalone = compile_network(analyze(g.generator, role="generator"), sd).instantiate()  # type: ignore[arg-type]
    z = torch.randn(3, TINY["latent"])  # type: ignore[arg-type]
    from gcc_gan.compiler.interpreter import Interpreter

    ref = Interpreter(analyze(g.generator, role="generator"))  # type: ignore[arg-type]
    ref.load_state_dict(sd)
    with torch.no_grad():
        assert (standalone(z) - ref.eval()(z)).abs().max() <= 1e-5
    assert _strip(a / "history.jsonl") == _strip(b / "history.jsonl")


# faithful differs from clean only in the controller loss, which the resume test restores the same way
@pytest.mark.parametrize("mode", ["clean", pytest.param("faithful", marks=pytest.mark.slow)])
def test_resume_is_exact(tmp_path: Path, mode: str) -> None:
    full = _run(tmp_path / "full", mode=mode, reset_threshold=float("inf"))
    part = _run(tmp_path / "part", mode=mode, reset_threshold=float("inf"), stop_after=7)  # checkpoint at 6
    _run(part, resume=True)
    assert json.loads((full / "topk.json").read_text()) == json.loads((part / "topk.json").read_text())
    assert load_genotype(full / "genotype.json").digest() == load_genotype(part / "genotype.json").digest()
    a, b = (load_file(str(p / "child.safetensors")) for p in (full, part))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _strip(full / "history.jsonl") == _strip(part / "history.jsonl")


def test_resume_after_sigkill_is_bit_identical(tmp_path: Path) -> None:
    over = {**TINY, "search_iters": 3, "shared_steps": 6, "ctrl_steps": 2, "iters": 24, "checkpoint_every": 1,
            "reset_threshold": float("inf")}
    full = tmp_path / "full"
    search(SearchRequest(method="autogan", data=DATA, out=full, overrides=over, device="cpu"))
    out = tmp_path / "run"
    code = ("import torch; torch.set_num_threads(1)\n"
            "from pathlib import Path\nfrom gcc_gan.search.run import SearchRequest, search\n"
            f"search(SearchRequest(method='autogan', data={DATA!r}, out=Path({str(out)!r}), device='cpu', "
            f"overrides={ {**over, 'reset_threshold': 'INF'} !r}))\n").replace("'INF'", "float('inf')")
    env = {**os.environ, KILL_AFTER_ENV: "10"}  # SIGKILLed right after its step-10 checkpoint
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert not (out / "genotype.json").exists()
    res = search(SearchRequest(method="autogan", data=DATA, out=out, resume=True, device="cpu"))
    assert res.resumed_from is not None and res.step == 24
    assert load_genotype(full / "genotype.json").digest() == load_genotype(out / "genotype.json").digest()
    assert json.loads((full / "topk.json").read_text()) == json.loads((out / "topk.json").read_text())
    a, b = (load_file(str(p / "child.safetensors")) for p in (full, out))
    assert a and a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert _strip(full / "history.jsonl") == _strip(out / "history.jsonl")


def test_random_search_in_the_autogan_space(tmp_path: Path) -> None:
    out = tmp_path / "r"
    search(SearchRequest(method="random", data=DATA, out=out, overrides={**TINY, "space": "autogan"}, device="cpu"))
    top = json.loads((out / "topk.json").read_text())
    assert len({tuple(t["arch"]) for t in top["topk"]}) == 2 and top["reward"] == "swd"
    g = load_genotype(out / "genotype.json")
    assert g.provenance.searcher == "random" and "--space autogan" in (g.provenance.notes or "")
    assert g.provenance.encoding["arch"] == top["topk"][0]["arch"]
    rows = _strip(out / "history.jsonl")
    assert all("ctrl_loss" not in r for r in rows) and any("reward" in r for r in rows)
    uniform = [p == pytest.approx(1 / len(d), abs=1e-4) for r in rows for d in r["tokens"].values() for p in d]
    assert uniform and all(uniform)


@pytest.mark.parametrize("args,msg,code", [
    (["--reward", "psnr"], "'psnr' is not one of 'is', 'fid', 'swd'", 2),  # usage errors
    (["--mode", "exact"], "'exact' is not one of 'clean', 'faithful'", 2),
    (["--iters", "7"], "AutoGAN search runs", 1),
    (["--space", "dggan"], "--method autogan is --space autogan --strategy reinforce", 2),
])
def test_cli_errors(capsys: pytest.CaptureFixture[str], tmp_path: Path, args: list[str], msg: str, code: int) -> None:
    rc = cli(["search", "--method", "autogan", "-o", str(tmp_path / "r"), *args])
    err = capsys.readouterr().err
    assert rc == code and msg in err and "Traceback" not in err


def test_is_reward_without_inception_weights_is_the_clear_error(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from gcc_gan.bench import inception as inc

    monkeypatch.delenv(inc.ENV_VAR, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    code = cli(["search", "--method", "autogan", "--data", DATA, "-o", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 1 and "Inception" in err and "Traceback" not in err
    assert not (tmp_path / "r" / "checkpoints").exists()


@pytest.mark.slow
def test_a_large_slice_of_the_space_gives_valid_genotypes() -> None:
    """The derivation property over 20,000 of the 36·72·144 full vectors (every 18th) and all
    of stage 0 and 1."""
    full = list(itertools.product(*[range(n) for s in range(3) for n in stage_tokens(s)]))
    short = [a for st in (0, 1) for a in itertools.product(*[range(n) for s in range(st + 1)
                                                               for n in stage_tokens(s)])]
    for arch in full[::18] + short:
        nat = child_native(list(arch), 2, 2, 2)
        assert analyze(nat.network, role="generator").shapes["rgb"][-1] == 2 * 2 ** (stage_of(arch) + 1)


@pytest.mark.slow
def test_tiny_preset_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "run"
    assert cli(["search", "--method", "autogan", "--preset", "tiny", "--reward", "swd", "-o", str(out)]) == 0
    assert cli(["compile", str(out / "genotype.json"), "--weights", str(out / "child.safetensors"),
                "-o", str(out / "compiled")]) == 0



def test_is_and_fid_rewards_are_the_bench_metrics(inception_file: Path) -> None:
    """The IS / FID⁻¹ rewards are the bench's IS and FID of the child's samples (random
    Inception weights in the real file's layout stand in for the real ones)."""
    from gcc_gan.bench import inception as inc
    from gcc_gan.bench.features import generator_features
    from gcc_gan.bench.metric_fid import frechet_distance_low_rank, statistics
    from gcc_gan.bench.metric_is import inception_score
    from gcc_gan.pixels import to_uint8
    from gcc_gan.search.rewards import Reward

    weights = inception_file
    data = load_dataset(DATA, 16)
    g = SharedGenerator(gf=4, latent=6, bottom=2, seed=0).child([1, 0, 1, 1, 0, 1, 0, 1, 1])
    r_is = Reward("is", 10, data, torch.device("cpu"), inception_weights=str(weights), real_seed=3)
    value = r_is(g, 6, 8, seed=5)
    assert value == r_is(g, 6, 8, seed=5)
    net = inc.load_inception(str(weights))
    feats = generator_features(net, g, [6], 10, 64, 5, progress=False)
    assert value == pytest.approx(inception_score(feats.logits, seed=5)[0], rel=1e-9)
    r_fid = Reward("fid", 10, data, torch.device("cpu"), inception_weights=str(weights), real_seed=3)
    value = r_fid(g, 6, 8, seed=5)
    rstats = r_fid._real[8]  # the real images' statistics, computed once per resolution
    real = to_uint8(torch.nn.functional.interpolate(data.batch(r_fid._real_idx), size=(8, 8), mode="area"))
    assert len(real) == 10 and isinstance(rstats, type(statistics(feats.pool)))
    assert value == pytest.approx(1 / frechet_distance_low_rank(feats.pool, rstats), rel=1e-6)
