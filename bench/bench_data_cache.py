"""Benchmark: parquet-cached load of busan-stores versus parsing its CSV, in one run.

Prints the median times and the ratio (target: cached load >= 5x faster).
Usage: python bench/bench_data_cache.py [--repeat N]
"""
from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def _median_seconds(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dataset", default="busan-stores")
    args = parser.parse_args()
    os.environ["ACADEMY_CACHE_DIR"] = tempfile.mkdtemp(prefix="bench-cache-")

    from academy import data

    parse = _median_seconds(lambda: data.load(args.dataset, cache=False), args.repeat)
    data.load(args.dataset)  # warm the parquet cache
    cached = _median_seconds(lambda: data.load(args.dataset), args.repeat)
    rows = len(data.load(args.dataset))
    print(f"dataset: {args.dataset} ({rows:,} rows)")
    print(f"parse CSV + types (no cache): {parse:.2f} s (median of {args.repeat})")
    print(f"parquet cache load:           {cached:.2f} s (median of {args.repeat})")
    print(f"ratio (parse / cached):       {parse / cached:.1f}x  (target >= 5x)")


if __name__ == "__main__":
    main()
