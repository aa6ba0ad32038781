"""`gcc-gan bench` / `gcc-gan stats` end to end, the stats cache, the size cross-check and
the latency harness. Small widths and a handful of samples keep it fast; random Inception
weights in the real file's layout stand in for the real ones."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import CliRun, assert_cli_error, cli

from gcc_gan.bench import inception as inc
from gcc_gan.bench import stats as S
from gcc_gan.bench.size import bias_adds, flop_check
from gcc_gan.cli.main import run
from gcc_gan.compiler.interpreter import Interpreter
from gcc_gan.errors import GccGanError
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.zoo import zoo_genotype
from gcc_gan.timing import time_interleaved

SMALL = "0.0625"



@pytest.fixture(autouse=True)
def _isolated_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GCC_GAN_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv(inc.ENV_VAR, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no real weights found by accident


def _bench(capsys: pytest.CaptureFixture[str], *args: str) -> CliRun:
    return cli(capsys, "bench", *args)


def test_bench_zoo_size_macs_latency(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_json = tmp_path / "b.json"
    code, out, err = _bench(capsys, "zoo:autogan-a", "zoo:adversarialnas", "--width", SMALL,
                            "--metrics", "size,macs,latency", "--batches", "1,2", "--latency-repeats", "2",
                            "--json", str(out_json))
    assert code == 0, err
    doc = json.loads(out_json.read_text())
    rows = {r["method"].split()[0]: r for r in doc["results"]}
    assert list(rows) == ["autogan-a", "adversarialnas"]
    for name, r in rows.items():
        info = analyze(zoo_genotype(name).generator.scaled(float(SMALL)))  # type: ignore[union-attr]
        size = r["size"]
        assert size["params"] == info.params and size["macs"] == info.macs
        assert size["fp32_bytes"] == 4 * info.params and size["flops"] == 2 * info.macs
        assert size["onnx_bytes"] > size["fp32_bytes"] // 2
        assert [c["module"] for c in size["checks"]] == ["interpreter", "compiled"]
        assert all(c["agrees"] for c in size["checks"])
        assert size["macs_compiled"] <= size["macs"]
        assert set(r["latency"]) == {"interpreter", "compiled", "onnxruntime"}
        for impl in r["latency"].values():
            assert set(impl) == {"1", "2"}
            assert impl["2"]["repeats"] == 2 and impl["2"]["median_ms"] > 0
    assert "Params" in out and "autogan-a" in out and "latency" in out


def test_bench_quality_metrics_and_stats_cache(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                               inception_file: Path) -> None:
    out_json = tmp_path / "q.json"
    args = ["zoo:dcgan", "--width", "0.125", "--metrics", "is,fid,kid", "--num-samples", "10",
            "--real", "synthetic?n=16", "--inception-weights", str(inception_file), "--batch-size", "10",
            "--json", str(out_json)]
    code, out, err = _bench(capsys, *args)
    assert code == 0, err
    r = json.loads(out_json.read_text())["results"][0]
    assert 1.0 <= r["is"]["mean"] <= 1008.0
    assert np.isfinite(r["fid"]["mean"]) and r["fid"]["mean"] > 0 and r["fid"]["std"] is None
    assert np.isfinite(r["kid"]["mean"])
    assert r["real"]["num_samples"] == 10  # real images used: min(dataset, --num-samples)
    assert "fewer than 2048" in err  # the FID warning
    cached = list((tmp_path / "cache" / "stats").glob("*.npz"))
    assert len(cached) == 1
    stamp = cached[0].stat().st_mtime_ns
    # second run: same numbers, real statistics read from the cache, not recomputed
    code, _, err = _bench(capsys, *args, "--force")  # --force: replace the first run's --json file
    assert code == 0, err
    again = json.loads(out_json.read_text())["results"][0]
    assert again["fid"] == r["fid"] and again["is"] == r["is"] and again["kid"] == r["kid"]
    assert cached[0].stat().st_mtime_ns == stamp and len(list(cached[0].parent.glob("*.npz"))) == 1


def test_stats_cache_invalidation(tmp_path: Path, inception_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    inception = inc.load_inception(inception_file)
    first, hit = S.cached_real_stats("synthetic?n=16", 16, 2, inception, progress=False)
    assert not hit and first.gaussian.n == 2
    _, hit = S.cached_real_stats("synthetic?n=16", 16, 2, inception, progress=False)
    assert hit
    _, hit = S.cached_real_stats("synthetic?n=16", 16, 3, inception, progress=False)  # more samples
    assert not hit
    monkeypatch.setattr(S, "VERSION", S.VERSION + 1)  # a new protocol version
    _, hit = S.cached_real_stats("synthetic?n=16", 16, 2, inception, progress=False)
    assert not hit
    monkeypatch.setattr(S, "VERSION", S.VERSION - 1)
    other = tmp_path / "other.pth"  # other Inception weights: other sha256
    other.write_bytes(inception_file.read_bytes() + b"\0")
    with pytest.raises(GccGanError, match="other Inception weights"):
        S.check_compatible(first, inc.Inception(inception.net, other, inc.file_sha256(other), inception.device),
                           "x.npz")
    # a stored protocol that no longer matches (file renamed into place) is recomputed
    want = S.protocol("synthetic?n=16", 16, 2, inception)
    path = S.cache_path(want)
    stale = S.RealStats(first.gaussian, first.kid_features, {**want, "resize": "something-else"})
    S.save_stats(path, stale)
    s, hit = S.cached_real_stats("synthetic?n=16", 16, 2, inception, progress=False)
    assert not hit and s.protocol == want


def test_stats_cli_and_stats_file_as_real(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                          inception_file: Path) -> None:
    stats = tmp_path / "real.npz"
    code = run(["stats", "synthetic?n=16", "-o", str(stats), "--size", "32", "--num-samples", "4",
                "--inception-weights", str(inception_file)])
    assert code == 0, capsys.readouterr().err
    s = S.load_stats(stats)
    assert s.gaussian.n == 4 and s.gaussian.sigma.shape == (2048, 2048) and s.kid_features.shape == (4, 2048)
    assert s.protocol["inception_sha256"] == inc.file_sha256(inception_file) and s.protocol["size"] == 32
    capsys.readouterr()
    code, _, err = _bench(capsys, "zoo:dcgan", "--width", "0.125", "--metrics", "fid", "--num-samples", "3",
                          "--real", str(stats), "--inception-weights", str(inception_file))
    assert code == 0, err
    other = tmp_path / "other.pth"
    other.write_bytes(inception_file.read_bytes() + b"\0")  # different bytes, loads the same tensors
    code, _, err = _bench(capsys, "zoo:dcgan", "--width", "0.125", "--metrics", "fid", "--num-samples", "3",
                          "--real", str(stats), "--inception-weights", str(other))
    assert code == 1 and "other Inception weights" in err and "Traceback" not in err


@pytest.mark.parametrize("args, message", [
    (["zoo:dcgan", "--metrics", "size,psnr"], "unknown metric 'psnr'"),
    (["zoo:dcgan", "--metrics", "fid"], "give --real"),
    (["zoo:dcgan", "--metrics", "is", "--num-samples", "5"], "at least 10 samples"),
    (["zoo:dcgan", "--metrics", "is"], "never downloads"),
    (["zoo:dcgan", "zoo:sngan", "--weights", "w.safetensors"], "one per target"),
    (["zoo:dcgan", "--width", "-1", "--metrics", "size"], "positive multiplier"),
    (["zoo:nope", "--metrics", "size"], "nope"),
])
def test_bench_user_errors(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert_cli_error(_bench(capsys, *args), message)


def test_bench_compile_dir(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from gcc_gan.compiler.pipeline import compile_network
    from gcc_gan.export.artifacts import write_compile_dir

    g = zoo_genotype("dcgan")
    info = analyze(g.generator.scaled(0.125))  # type: ignore[union-attr]
    d = tmp_path / "out"
    write_compile_dir(d, [compile_network(info, genotype=g)], g, verify=False)
    out_json = tmp_path / "d.json"
    code, _, err = _bench(capsys, str(d), "--metrics", "size,macs,latency", "--batches", "1",
                          "--latency-repeats", "1", "--json", str(out_json))
    assert code == 0, err
    r = json.loads(out_json.read_text())["results"][0]
    assert r["size"]["params"] == info.params and r["size"]["macs"] == info.macs
    assert r["size"]["onnx_bytes"] == (d / "generator.onnx").stat().st_size
    assert set(r["latency"]) == {"compiled", "onnxruntime"}  # no genotype in a dir: no interpreter
    (d / "report.json").unlink()
    code, _, err = _bench(capsys, str(d), "--metrics", "size")
    assert code == 1 and "no report.json" in err


def test_size_cross_check_on_a_spectral_norm_discriminator() -> None:
    info = analyze(zoo_genotype("sngan-d").discriminator.scaled(0.125), where="discriminator")  # type: ignore[union-attr]
    ops = [o for e in info.edges for o in e.ops]
    c = flop_check(Interpreter(info), info.input_shapes, ops, "interpreter")
    assert c.agrees and c.counter_flops == 2 * (info.macs - c.ir_bias_adds)
    assert 0 < bias_adds(ops) < info.macs


def test_latency_repeats_are_interleaved(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rotating order, warm-up left out, median and IQR of each runner's own calls: on a fake
    clock each call takes a known time (the warm-up 100 ms, so counting it would show)."""
    from types import SimpleNamespace

    from gcc_gan import timing

    now = [0.0]
    monkeypatch.setattr(timing, "time", SimpleNamespace(perf_counter=lambda: now[0]))
    costs_ms = {"a": [100, 1, 2, 3], "b": [100, 10, 10, 40], "c": [100, 5, 5, 5]}
    calls: list[str] = []

    def runner(n: str) -> Callable[[], None]:
        left = iter(costs_ms[n])

        def call() -> None:
            calls.append(n)
            now[0] += next(left) / 1e3
        return call

    res = time_interleaved({n: runner(n) for n in costs_ms}, batch=4, warmup=1, repeats=3)
    assert calls[:3] == ["a", "b", "c"]  # warm-up
    assert calls[3:] == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]  # rotating order
    assert all(t.repeats == 3 and t.batch == 4 for t in res.values())
    got = {n: (t.median_ms, t.iqr_ms) for n, t in res.items()}  # numpy's linear percentiles
    assert got == {"a": pytest.approx((2.0, 1.0)), "b": pytest.approx((10.0, 15.0)), "c": pytest.approx((5.0, 0.0))}
    # repeats=None: as many rounds as fit in budget_s after a warm-up of 3 × 100 ms
    costs_ms = {n: [100] + [1] * 30 for n in "abc"}
    auto = time_interleaved({n: runner(n) for n in costs_ms}, batch=1, budget_s=1.0)
    assert {t.repeats for t in auto.values()} == {3}  # floor(1.0 / 0.3) = 3
    costs_ms = {n: [100] + [1] * 30 for n in "abc"}
    auto = time_interleaved({n: runner(n) for n in costs_ms}, batch=1, budget_s=2.4)
    assert {t.repeats for t in auto.values()} == {8}


def test_bench_with_trained_weights(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file

    info = analyze(zoo_genotype("dcgan").generator.scaled(0.125))  # type: ignore[union-attr]
    torch.manual_seed(5)
    sd = {f"generator.{k}": v.contiguous() for k, v in Interpreter(info).state_dict().items()}
    w = tmp_path / "g.safetensors"
    save_file(sd, str(w))
    code, _, err = _bench(capsys, "zoo:dcgan", "--width", "0.125", "--weights", str(w), "--metrics", "macs")
    assert code == 0, err
    code, _, err = _bench(capsys, "zoo:dcgan", "--width", "0.25", "--weights", str(w), "--metrics", "macs")
    assert code == 1 and "wrong --width" in err and "Traceback" not in err


# ------------------------------------------------------------- the Python API: gcc_gan.benchmark


@pytest.fixture()
def tiny_genotype(tmp_path: Path) -> Path:
    from gcc_gan.genotype_dsl.io import save_genotype

    g = zoo_genotype("dcgan")
    p = tmp_path / "tiny.json"
    save_genotype(g.model_copy(update={"generator": g.generator.scaled(0.125)}), p)  # type: ignore[union-attr]
    return p


def test_api_bench_agrees_with_show(tiny_genotype: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import gcc_gan
    import gcc_gan.bench.runner  # the subpackage gcc_gan.bench, imported: the function is not shadowed

    assert callable(gcc_gan.benchmark) and gcc_gan.benchmark.__module__ == "gcc_gan.api"
    assert run(["show", str(tiny_genotype), "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)["generator"]
    seen: list[tuple[str, str]] = []
    report = gcc_gan.benchmark(tiny_genotype, batches=[1, 2], latency_repeats=2, on_target=lambda *a: seen.append(a))
    assert seen == [("dcgan", str(tiny_genotype))]
    assert report.metrics == ("size", "macs", "latency") and report.inception is None
    (row,) = report.rows
    assert row["method"] == "dcgan" and row["latent_dims"] == [128] and row["image_size"] == 32
    size = row["size"]
    assert (size["params"], size["macs"], size["fp32_bytes"], size["macs_compiled"]) == (
        shown["params"], shown["macs"], shown["fp32_bytes"], shown["compiled_macs"])
    assert all(c["agrees"] for c in size["checks"])
    assert set(row["latency"]) == {"interpreter", "compiled", "onnxruntime"}
    for per in row["latency"].values():
        assert set(per) == {"1", "2"}
        assert all(d["median_ms"] > 0 and d["images_per_s"] > 0 and d["repeats"] == 2 for d in per.values())
    doc = json.loads(json.dumps(report.to_json()))  # plain data: what --json writes
    assert doc["results"] == report.rows and doc["metrics"] == ["size", "macs", "latency"] and doc["seed"] == 2020
    # a Genotype object, and a metric list: the same counts
    g = gcc_gan.load_genotype(str(tiny_genotype))
    (row2,) = gcc_gan.benchmark(g, metrics=["macs"]).rows
    assert row2["method"] == "dcgan" and (row2["size"]["params"], row2["size"]["macs"]) == (shown["params"],
                                                                                           shown["macs"])
    assert "latency" not in row2


def test_api_bench_bad_input_is_a_clear_error(tmp_path: Path, tiny_genotype: Path) -> None:
    import gcc_gan

    (tmp_path / "empty").mkdir()
    cases = [((tmp_path / "nope",), {}, "no such file or directory"),
             ((tmp_path / "empty",), {}, "neither a gcc-gan compile directory (no report.json) nor a training run"),
             ((tiny_genotype,), {"metrics": "size,psnr"}, "unknown metric 'psnr'"),
             ((tiny_genotype,), {"metrics": ["is"], "num_samples": 5}, "at least 10 samples"),
             (([tiny_genotype, tiny_genotype],), {"weights": "w.safetensors"}, "one per target"),
             ((tiny_genotype,), {"count": "paper"}, "executed or official"),
             ((tiny_genotype,), {"batches": []}, "at least one batch size"),
             (([],), {}, "at least one target")]
    for args, kw, message in cases:
        with pytest.raises(GccGanError, match=re.escape(message)):
            gcc_gan.benchmark(*args, **kw)  # type: ignore[arg-type]


def test_api_bench_of_a_training_run(tmp_path: Path, tiny_genotype: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A run directory is a target: its own genotype with its newest checkpoint's EMA
    generator (wrong-width weights there fail, so they are the ones read)."""
    import torch
    from safetensors.torch import save_file

    import gcc_gan

    run_dir = tmp_path / "run"
    step = run_dir / "checkpoints" / "step-00000010"
    step.mkdir(parents=True)
    (run_dir / "genotype.json").write_text(tiny_genotype.read_text())
    (run_dir / "config.json").write_text(json.dumps({"train": {"width": 0.125}, "sources": {"genotype": "zoo:dcgan"}}))
    wrong = analyze(zoo_genotype("dcgan").generator.scaled(0.25))  # type: ignore[union-attr]
    save_file({k: v.contiguous() for k, v in Interpreter(wrong).state_dict().items()},
              str(step / "generator_ema.safetensors"))
    with pytest.raises(GccGanError, match="shape"):
        gcc_gan.benchmark(run_dir, metrics="size")
    info = analyze(zoo_genotype("dcgan").generator.scaled(0.125))  # type: ignore[union-attr]
    torch.manual_seed(3)
    save_file({k: v.contiguous() for k, v in Interpreter(info).state_dict().items()},
              str(step / "generator_ema.safetensors"))
    (row,) = gcc_gan.benchmark(str(run_dir), metrics="macs").rows
    assert row["source"] == str(run_dir) and row["method"] == "dcgan"
    assert (row["size"]["params"], row["size"]["macs"]) == (info.params, info.macs)
    code, out, err = _bench(capsys, str(run_dir), "--metrics", "size")  # the command takes it too
    assert code == 0 and f"benchmarking dcgan ({run_dir})" in out, err
