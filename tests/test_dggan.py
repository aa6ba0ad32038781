"""DGGAN (issue 13): the space's actions, weight inheritance, the fade-in, Algorithm 1's
forcing and empty-set rules, and the search on disk (kill -9 + --resume, Ray parity with a
killed worker)."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gcc_gan.checkpoints import KILL_AFTER_ENV, list_checkpoints
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.io import load_genotype
from gcc_gan.search.config import make_config
from gcc_gan.search.spaces.dggan import (
    FADE,
    Action,
    FadeNet,
    actions,
    alpha_at,
    base_pair,
    grow,
    inherit,
    net_cost,
    resolution,
    settle,
)
from gcc_gan.search.strategies.growth import (
    Reach,
    allowed,
    doublings,
    normalise,
    plan_children,
    select,
)

C, L = 8, 6


def _pair() -> tuple:
    return base_pair(4, C, L)


def _seeded(net, seed: int) -> FadeNet:
    torch.manual_seed(seed)
    return FadeNet(net)


# --------------------------------------------------------------------------- actions


def test_base_pair_shapes() -> None:
    g, d = _pair()
    gi, di = analyze(g), analyze(d)
    assert gi.output_shapes == {"image": (3, 4, 4)}
    assert di.input_shapes == {"x": (3, 4, 4)} and di.output_shapes == {"logit": (1,)}
    assert [e.edge.ops[0].op for e in di.edges][:2] == ["conv", "minibatch_stddev"]


@pytest.mark.parametrize("k,f", [(3, 16), (7, 32)])
def test_g_conv_inserts_before_torgb(k: int, f: int) -> None:
    g, d = _pair()
    g2, d2 = grow(g, d, Action("G-conv", k, f), C)
    assert d2 == d
    new = next(e for e in g2.edges if e.name == "g_c1")
    assert (new.src, new.dst) == ("g_h1", "g_n1") and new.ops[0].params.kernel == k
    torgb = next(e for e in g2.edges if e.name == "g_torgb_r4")
    assert torgb.src == "g_n1"
    # params: + conv(C -> f, k×k) and toRGB now reads f channels instead of C
    assert net_cost(g2)[0] - net_cost(g)[0] == C * f * k * k + f + 3 * (f - C)
    assert analyze(g2).output_shapes == {"image": (3, 4, 4)}


def test_d_conv_inserts_after_fromrgb() -> None:
    g, d = _pair()
    _, d2 = grow(g, d, Action("D-conv", 7, 16), C)
    new = next(e for e in d2.edges if e.name == "d_c1")
    assert (new.src, new.dst) == ("d_f_r4", "d_n1")
    nxt = next(e for e in d2.edges if e.name == "d_out_a")
    assert nxt.src == "d_n1"  # the layer after the inserted conv now reads its 16 channels
    # + conv(C -> 16, 7×7); d_out_a's conv reads 16 + 1 (mbstd) channels instead of C + 1
    assert net_cost(d2)[0] - net_cost(d)[0] == C * 16 * 49 + 16 + C * 9 * (16 - C)
    assert analyze(d2).output_shapes == {"logit": (1,)}


def test_fade_doubles_both_and_settles() -> None:
    g, d = grow(*_pair(), Action("G-conv", 3, 16), C)
    g2, d2 = grow(g, d, FADE, C)
    assert resolution(d2) == 8 and analyze(g2).output_shapes == {"image": (3, 8, 8)}
    gs, ds = settle(g2), settle(d2)
    assert "g_torgb_r4" not in {e.name for e in gs.edges} and "g_torgb_r8" in {e.name for e in gs.edges}
    assert "d_fromrgb_r4" not in {e.name for e in ds.edges} and "d_pool_r4" not in {n.name for n in ds.nodes}
    assert analyze(gs).output_shapes == {"image": (3, 8, 8)} and analyze(ds).input_shapes == {"x": (3, 8, 8)}
    g3, d3 = grow(gs, ds, FADE, C)
    assert resolution(d3) == 16 and analyze(g3).output_shapes == {"image": (3, 16, 16)}


def test_action_set_size() -> None:
    assert len(actions((3, 7), (32, 64, 128, 256, 512, 1024))) == 25  # the paper's |A|
    assert len(actions((3, 7), (8, 16, 32))) == 13  # tiny


# --------------------------------------------------------------------------- inheritance


@pytest.mark.parametrize("a", [Action("G-conv", 3, 16), Action("G-conv", 3, C), Action("D-conv", 7, 16), FADE])
def test_inheritance_bit_exact(a: Action) -> None:
    g, d = _pair()
    pg, pd = _seeded(g, 1), _seeded(d, 2)
    g2, d2 = grow(g, d, a, C)
    for parent, child_net, seed in ((pg, g2, 3), (pd, d2, 4)):
        child = _seeded(child_net, seed)
        fresh = {k: v.clone() for k, v in child.state_dict().items()}
        psd = parent.state_dict()
        copied = set(inherit(child, psd))
        csd = child.state_dict()
        for k, v in csd.items():
            if k in psd and psd[k].shape == v.shape:
                assert k in copied and torch.equal(v, psd[k]), k  # bit-exact
            else:
                assert k not in copied and torch.equal(v, fresh[k]), k  # new or reshaped: fresh init
        assert copied, "nothing inherited"
    if a.kind == "G-conv" and a.filters != C:  # toRGB reads other channels: re-initialised
        assert "edges.g_torgb_r4.0.weight" not in inherit(_seeded(g2, 5), pg.state_dict())
    if a.kind == "G-conv" and a.filters == C:  # same shape: kept
        assert "edges.g_torgb_r4.0.weight" in inherit(_seeded(g2, 5), pg.state_dict())


# --------------------------------------------------------------------------- fade-in


def test_alpha_schedule() -> None:
    n, share = 40, 0.2
    al = [alpha_at(t, n, share) for t in range(n)]
    assert al[0] == 0.0 and al[8] == 1.0 and al[-1] == 1.0
    assert all(b >= a for a, b in zip(al, al[1:])) and 0 < al[4] < 1


def test_alpha_one_is_the_grown_network_alone_and_zero_the_parent() -> None:
    g, d = grow(*_pair(), Action("D-conv", 3, 16), C)
    pg, pd = _seeded(g, 1), _seeded(d, 2)
    g2, d2 = grow(g, d, FADE, C)
    fg, fd = _seeded(g2, 3), _seeded(d2, 4)
    inherit(fg, pg.state_dict())
    inherit(fd, pd.state_dict())
    z = torch.randn(5, L)
    x = torch.randn(5, 3, 8, 8)
    with torch.no_grad():
        fg.alpha = fd.alpha = 1.0
        sg, sd = FadeNet(settle(g2)), FadeNet(settle(d2))
        sg.load_state_dict({k: v for k, v in fg.state_dict().items() if k in sg.state_dict()})
        sd.load_state_dict({k: v for k, v in fd.state_dict().items() if k in sd.state_dict()})
        assert torch.equal(fg(z), sg(z)) and torch.equal(fd(x), sd(x))
        # α = 0: the parent's output, upsampled (G) / the parent on the pooled image (D)
        fg.alpha = fd.alpha = 0.0
        assert torch.equal(fg(z), F.interpolate(pg(z), scale_factor=2, mode="nearest"))
        assert torch.allclose(fd(x), pd(F.avg_pool2d(x, 2)), atol=1e-6)
        fg.alpha = 0.25
        mix = 0.25 * sg(z) + 0.75 * F.interpolate(pg(z), scale_factor=2, mode="nearest")
        assert torch.allclose(fg(z), mix, atol=1e-6)


# --------------------------------------------------------------------------- Algorithm 1's rules


def test_forced_fade_always_reaches_the_target() -> None:
    acts = actions((3,), (8, 16))
    rng = np.random.default_rng(0)
    for max_steps in (2, 3, 5):
        for _ in range(200):
            res = 4
            for s in range(max_steps):
                al = allowed(acts, res, 16, max_steps - s)
                a = al[int(rng.integers(len(al)))]
                assert res < 16 or a.kind != "FADE"  # never past the target
                res *= 2 if a.kind == "FADE" else 1
            assert res == 16
    assert allowed(acts, 4, 16, 2) == [FADE] and FADE not in allowed(acts, 16, 16, 3)
    assert doublings(4, 32) == 3


def _state(parents: list[str], res: int, step: int = 0) -> dict:
    return {"step": step, "parents": parents, "nodes": {p: {"resolution": res} for p in parents}}


def test_empty_child_set_resamples_one_action_per_parent() -> None:
    cfg = make_config("dggan", "tiny", dict(dg_p=1e-12, reward="swd"))
    st = _state(["a", "b"], 4)
    kids = plan_children(st, cfg, actions(cfg.dg_kernels, cfg.dg_filters))
    assert [k["parent"] for k in kids] == ["a", "b"] and st["resampled"] == [0]
    full = plan_children(_state(["a"], 4), make_config("dggan", "tiny", dict(dg_p=1.0, reward="swd")),
                         actions(cfg.dg_kernels, cfg.dg_filters))
    assert len(full) == 13  # p = 1 keeps every pair
    again = plan_children(_state(["a", "b"], 4), cfg, actions(cfg.dg_kernels, cfg.dg_filters))
    assert again == kids  # a pure function of (seed, step, parents)


def test_normalised_ranking_across_resolutions_and_topk() -> None:
    recs = [{"id": "x1", "resolution": 4, "score": 10.0}, {"id": "x2", "resolution": 4, "score": 30.0},
            {"id": "x3", "resolution": 4, "score": 20.0}, {"id": "y1", "resolution": 8, "score": 100.0},
            {"id": "y2", "resolution": 8, "score": 300.0}, {"id": "z", "resolution": 8, "score": None}]
    normalise(recs)
    assert [r["norm_score"] for r in recs[:3]] == [0.5, 1.5, 1.0]
    assert recs[3]["norm_score"] == 0.5 and recs[5]["norm_score"] is None
    assert select(recs, 2) == ["x1", "y1"]  # FID 100 at 8x8 ranks with FID 10 at 4x4


# --------------------------------------------------------------------------- the search on disk

MICRO = dict(reward="swd", d0=4, target=8, max_steps=2, dg_kernels=(3,), dg_filters=(8,), dg_channels=8, latent=8,
             init_iters=3, child_iters=3, reward_images=16, batch_size=4, dg_p=0.5, workers=1)
SCRIPT = """
import sys, json
from pathlib import Path
from gcc_gan.search.run import SearchRequest, search
ov = {k: tuple(v) if isinstance(v, list) else v for k, v in json.loads(sys.argv[3]).items()}
search(SearchRequest(method=sys.argv[1], out=Path(sys.argv[2]), resume=sys.argv[4] == "1", overrides=ov))
"""


def _run(out: Path, overrides: dict, resume: bool = False, method: str = "dggan",
         **env_over: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[1] / "src"), **env_over}
    ov = {k: list(v) if isinstance(v, tuple) else v for k, v in overrides.items()}
    return subprocess.Popen([sys.executable, "-c", SCRIPT, method, str(out), json.dumps(ov), "1" if resume else "0"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)


def _finish(p: subprocess.Popen, timeout: int = 300) -> None:
    out, _ = p.communicate(timeout=timeout)
    assert p.returncode == 0, out.decode()


def _digest(run: Path) -> dict[str, str]:
    files = ["candidates.csv", "generator.safetensors", "discriminator.safetensors"]
    out = {f: hashlib.sha256((run / f).read_bytes()).hexdigest() for f in files}
    g = json.loads((run / "genotype.json").read_text())
    out["networks"] = json.dumps([g["generator"], g["discriminator"], g["provenance"]["encoding"]], sort_keys=True)
    return out


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("dggan") / "ref"
    _finish(_run(run, MICRO))
    return run


def test_micro_search_outputs(reference: Path) -> None:
    from gcc_gan.genotype_dsl.io import load_genotype

    g = load_genotype(str(reference / "genotype.json"))
    enc = g.provenance.encoding
    assert enc["route"][0] == "c0" and enc["reward"] == "swd" and enc["k"] == 2 and enc["p"] == 0.5
    rp = g.provenance.evaluation  # the protocol travels with the reward
    assert (rp["reward"], rp["metric"], rp["num_generated"]) == ("swd", "swd-real", MICRO["reward_images"])
    assert g.provenance.search_cost["candidate_iters"] > 0
    assert resolution(g.discriminator) == 8
    rows = (reference / "candidates.csv").read_text().splitlines()
    assert rows[0] == ("id,parent,action,step,resolution,g_params,d_params,g_macs,d_macs,metric,score,norm_score,swd,"
                       "diversity,status,reason")
    assert len(rows) >= 3
    # the search's SWD reward is swd-real (x 1e3), ProGAN's swd recorded beside it; the winner is healthy
    assert "swd_real" in g.provenance.metrics and "swd" in g.provenance.metrics
    assert g.provenance.metrics["diversity"] >= 0.25
    for pic in ("growth_tree.png", "score_vs_ratio.png", "score_by_action.png", "samples.png", "genotype.png"):
        assert (reference / pic).stat().st_size > 1000
    # the emitted G with its weights is what `gcc-gan compile --weights RUN` loads
    from gcc_gan.compiler.interpreter import Interpreter
    from gcc_gan.compiler.pipeline import load_weights
    from gcc_gan.train.rundir import weights_by_role

    w = weights_by_role(reference, ("generator", "discriminator"))
    load_weights(Interpreter(g.generator), w["generator"])
    load_weights(Interpreter(g.discriminator), w["discriminator"])


def test_kill9_then_resume_gives_the_same_final_state(reference: Path, tmp_path: Path) -> None:
    run = tmp_path / "killed"
    # SIGKILLed (with its worker) right after its third checkpoint (one per finished candidate)
    p = _run(run, MICRO, **{KILL_AFTER_ENV: "3"})
    out, _ = p.communicate(timeout=300)
    assert p.returncode == -signal.SIGKILL, out.decode()
    assert not (run / "genotype.json").exists()
    # the children the last checkpoint recorded as finished (a weights file written after it,
    # before the kill, belongs to an unrecorded child, which is rightly trained again)
    cks = list_checkpoints(run / "checkpoints")
    recorded = json.loads(cks[-1].joinpath("state.json").read_text())["extra"]["search"]["nodes"] if cks else {}
    done_before = {cid: (run / "candidates" / cid / "weights.safetensors").stat().st_mtime_ns
                   for cid, n in recorded.items() if n.get("sha256")}
    assert done_before, recorded  # else "not trained again" below would check nothing
    _finish(_run(run, MICRO, resume=True))
    assert _digest(run) == _digest(reference)
    state = json.loads(list_checkpoints(run / "checkpoints")[-1].joinpath("state.json").read_text())["extra"]["search"]
    # children finished and recorded before the kill were not trained again
    assert set(done_before) <= set(state["nodes"])
    for cid in state["nodes"]:
        if cid in done_before:
            assert (run / "candidates" / cid / "weights.safetensors").stat().st_mtime_ns == done_before[cid]


def test_random_search_in_the_dggan_space(tmp_path: Path) -> None:
    """Random routes through the candidate loop (search/candidates.py): each candidate a route of
    max_steps actions under the forcing rule, grown from the base pair and trained on its own
    (WGAN-GP, the space's objective)."""
    run = tmp_path / "random"
    _finish(_run(run, {**MICRO, "space": "dggan", "iters": 1, "population": 2, "candidate_iters": 3,
                       "min_diversity": 0.0}, method="random"))
    g = json.loads((run / "genotype.json").read_text())
    enc = g["provenance"]["encoding"]
    assert enc["format"] == "dggan" and enc["candidate_search"]["strategy"] == "random"
    acts = enc["actions"]  # one per step; 4x4 to the 8x8 target: exactly one FADE
    assert len(acts) == MICRO["max_steps"] and [a for a in acts if a.startswith("FADE")] == ["FADE"], acts
    rows = (run / "candidates.csv").read_text().splitlines()[1:]
    assert len(rows) == 2 and "wgan-gp loss" in g["provenance"]["notes"]


def _ray_workers() -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes()
            except OSError:
                continue
            if cmd.startswith(b"ray::run_job"):
                pids.append(int(d.name))
    return pids


@pytest.mark.slow  # fast twins: test_executor.py (Ray = local results, a SIGKILLed job retried)
def test_ray_same_results_and_a_killed_worker_is_retried(reference: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    run = tmp_path / "ray"
    p = _run(run, {**MICRO, "executor": "ray", "workers": 1})
    deadline, killed = time.time() + 240, False
    while time.time() < deadline and not killed and p.poll() is None:
        if list((run / "candidates").glob("c0/weights.safetensors")):  # kill a child's worker mid-job
            for pid in _ray_workers():
                os.kill(pid, signal.SIGKILL)
                killed = True
        time.sleep(0.1)
    _finish(p)
    assert killed, "no Ray worker was seen running a candidate"
    assert _digest(run) == _digest(reference)  # byte-identical to the local executor
    hist = [json.loads(x) for x in (run / "history.jsonl").read_text().splitlines()]
    state = json.loads(list_checkpoints(run / "checkpoints")[-1].joinpath("state.json").read_text())["extra"]["search"]
    assert any(n.get("attempts", 1) > 1 for n in state["nodes"].values()), hist


def test_fid_without_inception_weights_fails_before_the_run_dir(tmp_path: Path, monkeypatch) -> None:
    from gcc_gan.errors import GccGanError
    from gcc_gan.search.run import SearchRequest, search

    monkeypatch.setenv("GCC_GAN_INCEPTION", str(tmp_path / "missing.pth"))
    with pytest.raises(GccGanError, match="--reward swd"):
        search(SearchRequest(method="dggan", out=tmp_path / "run", overrides={"reward": "fid"}))
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("over,msg", [({"dg_k": 0}, "--k"), ({"dg_p": 1.5}, "--p"), ({"reward": "is"}, "--reward"),
                                      ({"executor": "slurm"}, "--executor"), ({"max_steps": 1}, "max_steps"),
                                      ({"target": 12}, "power of two")])
def test_bad_settings_are_clear_errors(over: dict, msg: str) -> None:
    from gcc_gan.errors import GccGanError

    with pytest.raises(GccGanError, match=msg):
        make_config("dggan", "tiny", {"reward": "swd", **over})


def test_wgan_gp_drift_term_is_added_to_the_critic_loss() -> None:
    """ProGAN's drift ε·E[D(real)²] (pytorch_GAN_zoo epsilonD): the loss with drift minus
    the one without is exactly that term, from the same state and seed."""
    from gcc_gan.train.config import TrainConfig
    from gcc_gan.train.trainer import GanTrainer

    g, d = _pair()
    real = torch.randn(4, 3, 4, 4)
    losses = {}
    for drift in (0.0, 100.0):
        cfg = TrainConfig(iters=1, batch_size=4, d_batch_size=4, n_critic=1, loss="wgan-gp", drift=drift, ema=0.0,
                          lr_decay=False)
        tr = GanTrainer(_seeded(g, 1), _seeded(d, 2), L, cfg)
        with torch.no_grad():
            want = drift * tr.d(real).pow(2).mean()
        losses[drift] = (float(tr.d_step(real, 0)), float(want))
    assert losses[100.0][0] - losses[0.0][0] == pytest.approx(losses[100.0][1], rel=1e-3)
    assert losses[100.0][1] > 0.01


def test_executor_session_keeps_its_workers_across_runs() -> None:
    from gcc_gan.executor import make_executor
    from gcc_gan.executor.base import Job

    ex = make_executor("local", 1)
    with ex.session():
        a = ex.run([Job("a", os.getpid)], progress=False)[0].value
        b = ex.run([Job("b", os.getpid)], progress=False)[0].value
    c = ex.run([Job("c", os.getpid)], progress=False)[0].value
    assert a == b != c  # one worker process for the session; a plain run starts its own


def test_equalized_lr_is_adam_on_the_scaled_weight() -> None:
    """Per-layer Adam LR c·η on w equals ProgGAN's runtime scaling w = c·ŵ with Adam at η on ŵ."""
    from gcc_gan.search.spaces.dggan import equalized_lr, he_scale

    torch.manual_seed(0)
    lin = torch.nn.Linear(12, 5)
    w_hat = torch.nn.Parameter(lin.weight.detach() / he_scale(lin.weight))
    b_ref = torch.nn.Parameter(lin.bias.detach().clone())
    ref = torch.optim.Adam([w_hat, b_ref], lr=1e-2, betas=(0.0, 0.99), eps=1e-12)
    opt = equalized_lr(lin, set(), 1e-2, (0.0, 0.99))
    for grp in opt.param_groups:
        grp["eps"] = 1e-12
    x = torch.randn(16, 12)
    for _ in range(5):
        for params, o, f in (((w_hat, b_ref), ref, lambda: F.linear(x, w_hat * he_scale(lin.weight), b_ref)),
                             ((lin.weight, lin.bias), opt, lambda: lin(x))):
            o.zero_grad()
            f().pow(2).mean().backward()
            o.step()
    assert torch.allclose(lin.weight, w_hat * he_scale(lin.weight), rtol=1e-4, atol=1e-6)
    assert torch.allclose(lin.bias, b_ref, rtol=1e-4, atol=1e-6)
    fresh = torch.nn.Conv2d(64, 8, 3)
    equalized_lr(fresh, {"weight", "bias"}, 1e-3, (0.0, 0.99))
    assert abs(float(fresh.weight.detach().std()) / he_scale(fresh.weight) - 1) < 0.05 and not fresh.bias.any()


@pytest.mark.slow  # fast twin: test_reachability_pruning_never_walks_into_a_dead_end (admission, no training)
def test_budget_discards_children_before_training(tmp_path: Path) -> None:
    """Compiler-aware DGGAN (issue 16): children whose generator compiles over --max-macs are
    recorded as 'over budget' and never trained; the winner fits; pareto.csv is written."""
    import csv

    from gcc_gan.compiler.cost import compiled_cost
    from gcc_gan.search.run import SearchRequest, search

    ov = {**MICRO, "dg_filters": (8, 32), "dg_p": 1.0, "max_steps": 3, "dg_k": 50}  # every child a parent
    free = search(SearchRequest(method="dggan", out=tmp_path / "free", overrides=ov)).out
    # a route only adds layers, so every ancestor of the free run's winner costs at most what
    # it does: with the winner's cost as the limit its whole route stays admissible
    limit = compiled_cost(load_genotype(free / "genotype.json").generator).macs
    rows = list(csv.DictReader((free / "candidates.csv").open()))
    dearer = [r for r in rows if r["resolution"] and compiled_cost(
        load_genotype(free / "candidates" / r["id"] / "genotype.json").generator).macs > limit]
    assert dearer, "no candidate costs more than the winner: the limit would not bind"
    out = search(SearchRequest(method="dggan", out=tmp_path / "cap", overrides={**ov, "max_macs": limit})).out
    g = load_genotype(out / "genotype.json")
    assert compiled_cost(g.generator).macs <= limit
    assert g.provenance.search_cost["budget_max_macs"] == limit
    capped = list(csv.DictReader((out / "candidates.csv").open()))
    assert any(r["status"] == "over budget" for r in capped)
    assert all(not (out / "candidates" / r["id"] / "weights.safetensors").exists()
               for r in capped if r["status"] == "over budget")
    assert (out / "pareto.csv").is_file() and (out / "pareto.png").is_file()


def test_reachability_pruning_never_walks_into_a_dead_end() -> None:
    """Compiler-aware DGGAN (issue 16): with the old per-child check a cheap child could be
    admitted from which no route reached the target within the budget. `Reach` admits a
    child only when its cheapest completion (remaining FADEs at the narrowest width) fits,
    and a FADE takes the widest width that does; so every route planned by `plan_children`
    ends at the target within the budget, whatever it draws."""
    from gcc_gan.bench.budget import Budget
    from gcc_gan.compiler.cost import compiled_cost
    from gcc_gan.search.spaces.dggan import cheapest_completion, fade_g, fade_widths

    cfg = make_config("dggan", "tiny", {"reward": "swd", "dg_p": 0.5})
    acts = actions(cfg.dg_kernels, cfg.dg_filters)
    g0, d0 = base_pair(cfg.d0, cfg.dg_channels, cfg.latent)
    assert fade_widths(16, (8, 16, 32)) == [16, 8] and fade_widths(512, (32, 1024, 256)) == [512, 256, 32]
    lo = compiled_cost(cheapest_completion(g0, 16, 8)).macs  # the cheapest network at 16x16
    paper = compiled_cost(cheapest_completion(g0, 16, 16)).macs  # base + the paper's two FADEs
    assert lo < paper // 2  # half the cheapest free result is reachable only with narrower FADEs

    # one admission by hand: a limit between "FADE 16 then FADE 8" and "FADE 16 then FADE 16"
    fade16_8 = compiled_cost(settle(fade_g(cheapest_completion(g0, 8, 16), 8))).macs
    reach = Reach(Budget(max_macs=fade16_8), 16, 16, cfg.dg_filters)
    a, c = reach.admit(g0, d0, FADE)
    assert a == FADE and c.macs == fade16_8  # the paper's width stays completable
    g1 = settle(grow(g0, d0, FADE, 16)[0])
    a, c = reach.admit(g1, settle(grow(g0, d0, FADE, 16)[1]), FADE)
    assert a == Action("FADE", 0, 8) and a.label == "FADE 8" and c.macs == fade16_8
    big = Action("G-conv", 7, 32)
    a, c = reach.admit(g0, d0, big)
    assert a is None and c.macs > fade16_8
    assert c.macs == compiled_cost(cheapest_completion(grow(g0, d0, big, 16)[0], 16, 8)).macs
    assert reach.admit(g0, d0, Action("D-conv", 7, 32))[0] == Action("D-conv", 7, 32)  # D is never budgeted

    # random walks through plan_children at budgets from the cheapest network to half the paper's
    for limit in (lo, (lo + paper // 2) // 2, paper // 2):
        reach = Reach(Budget(max_macs=limit), cfg.target, cfg.dg_channels, cfg.dg_filters)
        for seed in range(2):
            c_ = make_config("dggan", "tiny", {"reward": "swd", "dg_p": 0.5, "seed": seed})
            nets = {"c0": (g0, d0)}
            st = {"step": 0, "parents": ["c0"], "nodes": {"c0": {"resolution": 4}}}
            for step in range(c_.max_steps):
                st["step"] = step
                kids = plan_children(st, c_, acts, lambda p, a, r=reach, n=nets: r.admit(*n[p], a))
                ok = [k for k in kids if k.get("status") != "over budget"]
                assert ok, f"step {step + 1}: a dead end at MACs <= {limit}"
                for k in kids:
                    g, d = grow(*nets[k["parent"]], Action.from_dict(k["action"]), c_.dg_channels)
                    g, d = settle(g), settle(d)
                    assert (k["completion_macs"] <= limit) == (k.get("status") != "over budget")
                    if k.get("status") != "over budget":
                        nets[k["id"]] = (g, d)
                        st["nodes"][k["id"]] = {"resolution": resolution(d)}
                        assert compiled_cost(g).macs <= k["completion_macs"]
                st["parents"] = [k["id"] for k in ok][:2]  # any two: pruning must not depend on scores
            assert all(st["nodes"][p]["resolution"] == 16 and compiled_cost(nets[p][0]).macs <= limit
                       for p in st["parents"])


def test_budget_below_the_cheapest_network_fails_before_training(tmp_path: Path) -> None:
    from gcc_gan.errors import GccGanError
    from gcc_gan.search.run import SearchRequest, search

    with pytest.raises(GccGanError, match=r"no architecture within the budget \(MACs ≤ 340,000\) exists in the DGGAN "
                                          r"space to 16x16: every one compiles to at least 340,224 MACs .*"
                                          r"base plus 2 FADE\(s\) with 8-wide G blocks"):
        search(SearchRequest(method="dggan", out=tmp_path / "x", overrides={"reward": "swd", "max_macs": 340_000}))
    assert not (tmp_path / "x").exists()
