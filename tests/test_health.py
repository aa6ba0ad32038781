"""Candidate health (search/health.py, issue 21): the classification, the swd-real reward that
sees collapse, and that no searcher selects a collapsed or diverged candidate."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from gcc_gan.bench.swd import swd
from gcc_gan.errors import GccGanError
from gcc_gan.search.health import (
    COLLAPSED,
    DIVERGED,
    OK,
    SCORE_BOUNDS,
    collapse_health,
    diversity,
    loss_health,
    score_health,
)
from gcc_gan.search.rewards import Reward
from gcc_gan.train.data import load_dataset

LATENT = 8


@pytest.fixture(scope="module")
def data():
    return load_dataset("synthetic", 16)


class Copies(nn.Module):
    """A 'generator' whose images are the data's own (picked by the latent): healthy by construction."""

    def __init__(self, images: Tensor, contrast: float = 1.0) -> None:
        super().__init__()
        mean = images.mean(dim=(0, 2, 3), keepdim=True)
        self.register_buffer("images", mean + contrast * (images - mean))

    def forward(self, z: Tensor) -> Tensor:
        idx = (z[:, 0].abs() * 1e4).long() % len(self.images)
        return self.images[idx]


class Flat(nn.Module):
    """One colour for every latent: the issue's collapsed DGGAN winner in the extreme."""

    def __init__(self, colour: Tensor, size: int = 16) -> None:
        super().__init__()
        self.register_buffer("colour", colour.view(1, 3, 1, 1).expand(1, 3, size, size).clone())

    def forward(self, z: Tensor) -> Tensor:
        return self.colour.expand(len(z), -1, -1, -1)


def test_losses_and_scores_are_classified() -> None:
    assert loss_health({"d_loss": 0.7, "g_loss": -3.0}).ok
    assert loss_health({"d_loss": float("nan"), "g_loss": 1.0}).status == DIVERGED
    assert loss_health({"g_loss": float("inf")}).status == DIVERGED
    bad = loss_health({"d_loss": 1.0, "g_loss": 2e6})
    assert bad.status == DIVERGED and "g_loss" in bad.reason
    assert score_health("swd", 321.9).ok and score_health("swd-real", 900.0).ok
    assert score_health("swd", 8.1e12).status == DIVERGED  # the 'ok' score on a loaded machine
    assert score_health("swd", SCORE_BOUNDS["swd"] * 1.01).status == DIVERGED
    assert score_health("fid", float("nan")).status == DIVERGED and score_health("fid", None).status == DIVERGED
    assert score_health("is", 2000.0).status == DIVERGED and score_health("is", 3.2).ok
    assert score_health("swd-real", -5.0).status == DIVERGED  # a distance is never negative


def test_flat_generator_is_collapsed_and_data_like_one_is_ok(data) -> None:
    real = data.batch(np.arange(64))
    assert collapse_health(real, real).ok
    flat = collapse_health(torch.zeros(64, 3, 16, 16) + 0.2, real)
    assert flat.status == COLLAPSED and flat.diversity == 0.0
    # the winner: per-pixel std 2.7 on 0..255 against the data's ~46
    x = real.mean(0, keepdim=True) + (2.7 / 127.5) * torch.randn(64, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    assert collapse_health(x, real).status == COLLAPSED
    assert collapse_health(torch.full((4, 3, 8, 8), float("nan")), real).status == DIVERGED
    assert 40 < diversity(real) < 60  # 0..255 scale


def test_reward_health_on_generators(data, one_thread) -> None:
    rw = Reward("swd", 32, data, torch.device("cpu"))
    real = data.batch(np.arange(256, 512))
    ok = rw.score(Copies(real), LATENT, 16, seed=3)
    flat = rw.score(Flat(real.mean(dim=(0, 2, 3))), LATENT, 16, seed=3)
    assert ok.health.status == OK and ok.health.diversity > 0.5 and ok.metric == "swd-real"
    assert flat.health.status == COLLAPSED
    assert ok.reward == -ok.value and ok.swd is not None  # one unit (x 1e3); the reward named apart
    rec = flat.record()
    assert rec["status"] == COLLAPSED and {"swd_real", "swd", "reward", "diversity"} <= set(rec)


def test_swd_real_prefers_a_healthy_generator_where_progan_swd_prefers_a_collapsed_one(data, one_thread) -> None:
    real, other = data.batch(np.arange(64)), data.batch(np.arange(64, 128))
    noisy = (other + 0.3 * torch.randn(other.shape, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    mean = other.mean(dim=(0, 2, 3), keepdim=True)
    faint = mean + 0.05 * (other - mean)  # nearly one colour: the data's images at 5% contrast
    assert collapse_health(faint, real).status == COLLAPSED and collapse_health(noisy, real).ok
    def d(x: Tensor, norm: str) -> float:
        return swd(x, real, seed=0, nhoods=32, repeats=2, norm=norm).mean

    # ProGAN's SWD normalises each set by its own statistics: the faint copy scores as the data itself
    assert d(faint, "own") < d(noisy, "own")
    assert d(noisy, "real") < 0.5 * d(faint, "real")
    assert d(real, "real") == 0.0


def test_dggan_never_ranks_or_emits_a_collapsed_candidate(data, one_thread) -> None:
    """Real scored entries: a collapsed child with the best raw score is neither a parent
    nor the winner, and the step's ranking is normalised over the healthy ones only."""
    from gcc_gan.search.config import make_config
    from gcc_gan.search.strategies.growth import GrowthSearcher, normalise, select

    rw = Reward("swd", 32, data, torch.device("cpu"))
    real = data.batch(np.arange(256, 512))
    gens = {"a": Copies(real), "b": Copies(real, 0.7), "flat": Flat(real.mean(dim=(0, 2, 3)))}
    recs = []
    for cid, g in gens.items():
        sc = rw.score(g, LATENT, 16, seed=0)
        recs.append({"id": cid, "resolution": 16, "step": 1, "score": sc.value, "status": sc.health.status})
    flat = recs[2]
    assert flat["status"] == COLLAPSED
    flat["score"] = min(r["score"] for r in recs) / 2  # the best raw score, as in the issue
    normalise(recs)
    assert flat["norm_score"] is None
    assert "flat" not in select(recs, 2) and "flat" not in select(recs, 3)
    gs = GrowthSearcher(make_config("dggan", "tiny", {"reward": "swd"}), torch.device("cpu"))
    gs.state = {"nodes": {r["id"]: r for r in recs}}
    assert gs.winner()["id"] == "a"
    for r in recs:
        r["status"] = COLLAPSED
    with pytest.raises(GccGanError, match="no healthy candidate: 3 candidates at 16x16: 0 ok, 3 collapsed"):
        gs.winner()


def test_candidate_search_keeps_the_best_healthy_candidate(data) -> None:
    from gcc_gan.search.candidates import CandidateSearcher
    from gcc_gan.search.config import make_config
    from gcc_gan.search.strategy import Scored

    s = CandidateSearcher(make_config("random", "tiny", {}), torch.device("cpu"))
    rng = np.random.default_rng(0)

    def cand(i: int, swd: float, status: str) -> dict:
        return {"id": f"c{i}", "round": 1, "arch": s.space.sample(rng),
                "scored": Scored(-swd, "swd-real", swd if math.isfinite(swd) else None, status, macs=1, params=1)}

    s.cands = [cand(0, 300.0, OK), cand(1, 50.0, COLLAPSED), cand(2, 200.0, OK), cand(3, math.inf, DIVERGED)]
    assert s.best_index() == 2  # the collapsed candidate 1 has the best raw score; 3 diverged
    assert [c["scored"].fitness for c in s.cands][1] == -math.inf  # never told to a strategy as good
    s.cands[2] = cand(2, 400.0, OK)
    assert s.best_index() == 0
    assert [c.name for c in s.pareto_candidates(None)[0]] == ["c0", "c2"]
    s.cands = [cand(i, 10.0, DIVERGED) for i in range(4)]
    s.best = s.best_index()
    with pytest.raises(GccGanError, match=r"no healthy candidate: 4 candidates: 0 ok, 4 diverged.*--seed"):
        s.derive()


def test_autogan_top_k_skips_a_collapsed_child_with_the_best_reward(data, monkeypatch) -> None:
    from gcc_gan.search.config import make_config
    from gcc_gan.search.health import Health
    from gcc_gan.search.rewards import Scored
    from gcc_gan.search.strategies.reinforce import AutoGanSearcher

    s = AutoGanSearcher(make_config("autogan", "tiny", {"reward": "swd"}), torch.device("cpu"))
    calls: list[list[int]] = []

    def fake(arch: list[int], seed: int) -> Scored:  # the first child sampled: collapsed, best reward
        calls.append(arch)
        if len(calls) == 1:
            return Scored("swd-real", 10.0, -10.0, Health(COLLAPSED, "flat", 0.01))
        return Scored("swd-real", 500.0 + len(calls), -500.0 - len(calls), Health(OK, "", 0.8))

    monkeypatch.setattr(s, "_reward", fake)
    top = s.topk(0, distinct=False)
    assert len(calls) == 4 and all(t["status"] == OK for t in top)
    assert [t["swd_real"] for t in top] == [502.0, 503.0] and [t["reward"] for t in top] == [-502.0, -503.0]
    assert s.unhealthy[0]["status"] == COLLAPSED
    monkeypatch.setattr(s, "_reward", lambda a, sd: Scored("swd-real", math.inf, -math.inf, Health(DIVERGED, "nan")))
    with pytest.raises(GccGanError, match="no healthy candidate"):
        s.topk(0, distinct=False)


def test_plot_axes_are_robust_to_an_exploding_score(tmp_path: Path) -> None:
    from gcc_gan.search.plots import candidates_figure, robust_range

    lo, hi = robust_range([300.0, 320.0, 350.0, 8.1e12, 310.0])  # type: ignore[misc]
    assert hi < 400 and lo > 250
    fig = candidates_figure([{"scores": [300.0, 8.1e12, 320.0], "status": [OK, DIVERGED, OK]}])
    ax = fig.axes[0]
    assert ax.get_ylim()[1] < 1000 and "clipped" in ax.get_xlabel()


@pytest.mark.parametrize("method", ["random"])  # adversarial: through the CLI below
def test_a_run_with_no_healthy_result_is_a_clear_error(tmp_path: Path, method: str) -> None:
    """Every candidate (random) or the derived generator (adversarial) classified collapsed:
    a GccGanError that says so, no genotype written, the run's status says why."""
    from gcc_gan.search.run import SearchRequest, search

    over = {"iters": 2, "min_diversity": 1e9}  # no generator is that diverse: every one collapses
    if method == "random":
        over.update(population=2, candidate_iters=2, reward_images=16, workers=1)
    with pytest.raises(GccGanError, match="no healthy candidate") as e:
        search(SearchRequest(method=method, out=tmp_path / "run", overrides=over))
    assert "No genotype was written" in str(e.value) and "collapsed" in str(e.value)
    assert not (tmp_path / "run" / "genotype.json").exists()
    assert json.loads((tmp_path / "run" / "search.json").read_text())["status"] == "unhealthy"


def test_cli_says_no_healthy_candidate_with_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from gcc_gan.cli.main import run as cli

    out = tmp_path / "run"
    assert cli(["search", "--iters", "2", "--min-diversity", "1e9", "--data", "synthetic?n=64", "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "error: no healthy candidate: 1 final generators: 0 ok, 1 collapsed" in err and "Traceback" not in err
    assert not (out / "genotype.json").exists()
    assert json.loads((out / "search.json").read_text())["status"] == "unhealthy"
