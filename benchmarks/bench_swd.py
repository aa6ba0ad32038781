"""SWD cost against the image count, side by side in one run (why `gcc-gan bench --metrics
swd` defaults to `bench.swd.SWD_SAMPLES` images and not ProGAN's 16384).

`bench.swd.swd` on random uint8 image sets at each count (repeats interleaved across the
counts so machine noise hits all alike): median seconds, seconds per image, the ratio to
the default count, the share spent sorting projections, and the time 16384 images would
take at the measured per-image cost (the cost is linear in the count: 128 descriptors per
image projected on 4 × 128 directions and sorted).

    python benchmarks/bench_swd.py                         # 64, 256, 1024 images at 32×32, 1 thread
    python benchmarks/bench_swd.py --counts 256,2048 --size 64 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from gcc_gan.bench import swd as S


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--counts", default="64,256,1024", help="image counts, comma-separated")
    ap.add_argument("--size", type=int, default=32, help="image resolution")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    counts = [int(c) for c in args.counts.split(",")]
    gen = torch.Generator().manual_seed(0)
    sets = {n: [torch.randint(0, 256, (n, 3, args.size, args.size), dtype=torch.uint8, generator=gen)
                for _ in range(2)] for n in counts}
    sort_s = {n: 0.0 for n in counts}
    inner = S._sort_rows
    current = [counts[0]]

    def timed_sort(x):  # type: ignore[no-untyped-def]
        t = time.perf_counter()
        inner(x)
        sort_s[current[0]] += time.perf_counter() - t

    S._sort_rows = timed_sort  # type: ignore[assignment]
    times: dict[int, list[float]] = {n: [] for n in counts}
    for _ in range(args.repeats):
        for n in counts:
            current[0] = n
            t = time.perf_counter()
            S.swd(*sets[n], seed=0)
            times[n].append(time.perf_counter() - t)
    S._sort_rows = inner  # type: ignore[assignment]
    base = statistics.median(times[S.SWD_SAMPLES]) if S.SWD_SAMPLES in times else None
    print(f"SWD of two {args.size}×{args.size} uint8 sets, {args.threads} thread(s), median of {args.repeats}")
    print(f"{'images':>7} {'s':>8} {'ms/image':>9} {'× default':>10} {'sorting':>8} {'16384 images (est.)':>20}")
    for n in counts:
        m = statistics.median(times[n])
        ratio = f"{m / base:.2f}" if base else "–"
        share = sort_s[n] / sum(times[n])
        print(f"{n:>7} {m:>8.2f} {1e3 * m / n:>9.2f} {ratio:>10} {share:>8.0%} {m / n * S.MAX_IMAGES / 60:>17.1f} min")


if __name__ == "__main__":
    main()
