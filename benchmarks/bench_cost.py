"""Cost-model benchmark: the compiler's weightless cost model (`compiler.cost.compiled_cost`,
the passes on a meta-device IR) against a full compile, per zoo generator, in one run.

    python benchmarks/bench_cost.py                  # every zoo generator, 5 repeats each
    python benchmarks/bench_cost.py --zoo autogan-a --repeats 9

For each generator it prints the median time of the cost model (cache cleared before every
call), of `compile_network` (weights initialised, passes, codegen: what the searchers would
otherwise have to run) and of `gcc-gan compile zoo:NAME` end to end (a subprocess: source,
safetensors, ONNX export and verification; one run each, so it is the noisiest number),
the ratios, and whether both agree on MACs and parameters. Target (issue 16): the cost
model ≤ 50 ms per zoo generator.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from gcc_gan.compiler import cost as cost_mod
from gcc_gan.compiler.pipeline import compile_network
from gcc_gan.genotype_dsl.analysis import analyze
from gcc_gan.genotype_dsl.zoo import ENTRIES, zoo_genotype


def median_time(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--zoo", nargs="*", default=None, help="zoo generators (default: all)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--no-cli", action="store_true", help="skip the end-to-end `gcc-gan compile` column")
    args = ap.parse_args()
    names = args.zoo or [n for n in ENTRIES if zoo_genotype(n).generator is not None]
    print(f"{'generator':16} {'cost model':>11} {'compile_network':>16} {'ratio':>7} {'gcc-gan compile':>16} "
          f"{'ratio':>7}  agree")
    for name in names:
        net = zoo_genotype(name).generator
        assert net is not None
        info = analyze(net)

        def model(info: object = info) -> cost_mod.Cost:
            cost_mod._CACHE.clear()  # time the model, not its cache
            return cost_mod.compiled_cost(info)  # type: ignore[arg-type]

        model()  # warm-up (imports, first meta allocations)
        t_model = median_time(model, args.repeats)
        t_full = median_time(lambda info=info: compile_network(info), max(1, args.repeats // 2))
        c, rep = model(), compile_network(info).report
        agree = (c.macs, c.params) == (rep["macs_after"], rep["params_stored"])
        cli = ""
        if not args.no_cli:
            with tempfile.TemporaryDirectory() as d:
                t0 = time.perf_counter()
                subprocess.run([sys.executable, "-m", "gcc_gan.cli.main", "compile", f"zoo:{name}", "-o",
                                str(Path(d) / "out")], check=True, capture_output=True)
                t_cli = time.perf_counter() - t0
            cli = f"{t_cli * 1e3:14.0f}ms {t_cli / t_model:6.0f}×"
        print(f"{name:16} {t_model * 1e3:9.1f}ms {t_full * 1e3:14.0f}ms {t_full / t_model:6.1f}× {cli}  "
              f"{'yes' if agree else 'NO'}", flush=True)


if __name__ == "__main__":
    main()
