"""gcc-gan's metric path vs torch-fidelity, side by side in one run.

1. Feature extraction (images/s): the same generator, the same latents (same seed), the
   same local Inception weights, through
     A. gcc-gan: `generator_features` (BatchNorm folded into the convs, channels-last) + IS;
     B. torch-fidelity: `torch_fidelity.calculate_metrics(input1=<generator>, isc=True, ...)`.
   End to end (network construction included) and steady state (A's extraction loop vs
   torch-fidelity's own `get_featuresdict_from_generative_model` with a prebuilt extractor).
   Repeats alternate A, B, A, B so machine noise hits both alike; medians and the ratio
   A/B are printed, plus the IS of both (they must agree: same images, same weights).
2. The Fréchet distance's matrix part at 2048-d: the symmetric eigh form gcc-gan uses vs
   the eigvals form (torch-fidelity) vs scipy.linalg.sqrtm (pytorch-fid).

Without the real Inception file, random weights in its layout are used (speed does not
depend on the weight values). Run: python benchmarks/bench_metrics.py [--samples N]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--samples", type=int, default=128, help="generated images per measurement")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=2, help="alternating repeats per side")
    ap.add_argument("--generator", default="zoo:autogan-a")
    ap.add_argument("--width", type=float, default=0.25, help="generator width multiplier (its cost is not the point)")
    ap.add_argument("--inception-weights", default=None, help="real weights (default: random ones in its layout)")
    ap.add_argument("--fid-dim", type=int, default=2048)
    ap.add_argument("--skip-fid", action="store_true")
    ap.add_argument("--skip-extraction", action="store_true", help="only the Fréchet-distance timings")
    ap.add_argument("--fid-repeats", type=int, default=1, help="interleaved rounds of eigh, eigvals, sqrtm")
    args = ap.parse_args()

    import torch_fidelity
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
    from torch_fidelity.generative_model_modulewrapper import GenerativeModelModuleWrapper
    from torch_fidelity.utils import get_featuresdict_from_generative_model

    from gcc_gan.bench import inception as inc
    from gcc_gan.bench.features import generator_features
    from gcc_gan.bench.metric_fid import trace_sqrt_product
    from gcc_gan.bench.metric_is import inception_score
    from gcc_gan.pixels import to_uint8
    from gcc_gan.bench.targets import load_target

    tmp = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    weights = Path(args.inception_weights) if args.inception_weights else inc.save_random_weights(tmp / "w.pth")
    target = load_target(args.generator, None, args.width)
    gen = target.module.eval()
    dims = target.latent_dims
    assert len(dims) == 1, "torch-fidelity's wrapper feeds one latent"

    class Uint8Generator(torch.nn.Module):  # torch-fidelity wants uint8 images from the model
        def __init__(self) -> None:
            super().__init__()
            self.g = gen

        def forward(self, z: torch.Tensor) -> torch.Tensor:
            return to_uint8(self.g(z))

    wrapped = GenerativeModelModuleWrapper(Uint8Generator(), dims[0], "normal", 0)
    n, bs, seed = args.samples, args.batch_size, 2020
    print(f"torch {torch.__version__}, torch-fidelity {torch_fidelity.__version__}, {torch.get_num_threads()} threads, "
          f"generator {target.label} ({target.params / 1e6:.2f} M params), {n} samples, batch {bs}", flush=True)

    def ours_e2e() -> float:
        inc._LOADED.clear()  # construction included, like torch-fidelity's call
        net = inc.load_inception(weights)
        f = generator_features(net, gen, dims, n, bs, seed, progress=False)
        return inception_score(f.logits, seed=seed)[0]

    def theirs_e2e() -> float:
        with contextlib.redirect_stderr(io.StringIO()):
            m = torch_fidelity.calculate_metrics(input1=wrapped, input1_model_num_samples=n, isc=True, cuda=False,
                                                 batch_size=bs, feature_extractor_weights_path=str(weights),
                                                 cache=False, verbose=False, save_cpu_ram=True, rng_seed=seed)
        return m["inception_score_mean"]

    ours_net = inc.load_inception(weights)
    their_net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                            feature_extractor_weights_path=str(weights)).eval()

    def ours_loop() -> float:
        f = generator_features(ours_net, gen, dims, n, bs, seed, progress=False)
        return float(f.pool.sum())

    def theirs_loop() -> float:
        with contextlib.redirect_stderr(io.StringIO()):
            d = get_featuresdict_from_generative_model(wrapped, their_net, n, bs, False, seed, False)
        return float(d["2048"].sum())

    pairs = (("end to end (build Inception + extract + IS)", ours_e2e, theirs_e2e),
             ("steady state (extraction loop only)", ours_loop, theirs_loop))
    for title, a, b in pairs if not args.skip_extraction else ():
        ta: list[float] = []
        tb: list[float] = []
        va = vb = 0.0
        a(), b()  # warm-up: allocator, oneDNN primitives
        for _ in range(args.repeats):
            for fn, ts in ((a, ta), (b, tb)):
                t0 = time.perf_counter()
                v = fn()
                ts.append(time.perf_counter() - t0)
                if fn is a:
                    va = v
                else:
                    vb = v
        ma, mb = statistics.median(ta), statistics.median(tb)
        print(f"\n{title}:")
        print(f"  gcc-gan        {n / ma:8.2f} images/s  (median {ma:.2f} s of {[round(t, 2) for t in ta]})")
        print(f"  torch-fidelity {n / mb:8.2f} images/s  (median {mb:.2f} s of {[round(t, 2) for t in tb]})")
        print(f"  ratio gcc-gan / torch-fidelity: {mb / ma:.3f}x  ({'no slower' if ma <= mb else 'SLOWER'})")
        what = "IS" if "end" in title else "sum of pool features"
        rel = abs(va - vb) / max(abs(vb), 1e-12)
        print(f"  {what}: gcc-gan {va:.8g}, torch-fidelity {vb:.8g} (rel diff {rel:.2e})")

    if not args.skip_fid:
        rng = np.random.default_rng(0)
        d = args.fid_dim
        x = rng.standard_normal((d + 500, d))
        y = rng.standard_normal((d + 500, d)) * 1.1 + 0.05
        s1, s2 = np.cov(x, rowvar=False), np.cov(y, rowvar=False)
        print(f"\ntr((Σ1 Σ2)^½) at {d}-d ({args.fid_repeats} interleaved round(s) of eigh, eigvals, sqrtm):")
        times: dict[str, list[float]] = {"eigh": [], "eigvals": [], "sqrtm": []}
        values: dict[str, float] = {}
        for _ in range(args.fid_repeats):
            for method, ts in times.items():
                t0 = time.perf_counter()
                values[method] = trace_sqrt_product(s1, s2, method)  # type: ignore[arg-type]
                ts.append(time.perf_counter() - t0)
        ref = statistics.median(times["sqrtm"])
        for method, ts in times.items():
            t = statistics.median(ts)
            print(f"  {method:8s} {t:7.2f} s  value {values[method]:.10g}  ({ref / t:.2f}x vs sqrtm)")
    sys.stdout.flush()
    with contextlib.suppress(OSError):
        for f in tmp.iterdir():
            f.unlink()
        tmp.rmdir()
    os._exit(0)


if __name__ == "__main__":
    main()
