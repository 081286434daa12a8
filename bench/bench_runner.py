"""Benchmark: `academy run --jobs 2` versus a sequential loop of `papermill` CLI calls.

Same notebooks, same machine, one run. Prints both times, the ratio (target >= 2x on
2 cores) and the time of a cached re-run of the whole course (target <= 3 s).
Usage: python bench/bench_runner.py [--count 8] [--jobs 2]
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()

    from academy import execute
    from academy.cli import lesson_notebooks

    notebooks = lesson_notebooks()[: args.count]
    if len(notebooks) < args.count:
        print(f"warning: only {len(notebooks)} notebooks in course/")
    work = Path(tempfile.mkdtemp(prefix="bench-runner-"))
    env = dict(os.environ, **execute.quiet_home_env(work / "home"))
    env.setdefault("ACADEMY_CACHE_DIR", str(ROOT / "_build" / "data-cache"))
    os.environ.update({k: v for k, v in env.items()})
    papermill = shutil.which("papermill", path=str(Path(sys.executable).parent)) or "papermill"

    # Warm the data cache so both sides measure notebook execution, not first parses.
    execute.run(notebooks, jobs=args.jobs, use_cache=False, build_dir=work / "warm", progress=False)

    start = time.perf_counter()
    for nb in notebooks:
        out = work / "papermill" / nb.name
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [papermill, str(nb), str(out), "-k", "python3", "--cwd", str(nb.parent), "--no-progress-bar"],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    sequential = time.perf_counter() - start

    start = time.perf_counter()
    report = execute.run(notebooks, jobs=args.jobs, use_cache=False, build_dir=work / "academy", progress=False)
    parallel = time.perf_counter() - start
    if not report.ok:
        print(report.table())

    # Whole course, cached, through the real CLI (includes interpreter start-up).
    all_build = work / "course"
    subprocess.run([sys.executable, "-m", "academy.cli", "run", "--jobs", str(args.jobs)],
                   env=dict(env, ACADEMY_BUILD_DIR=str(all_build)), stdout=subprocess.DEVNULL, check=False)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "academy.cli", "run", "--jobs", str(args.jobs)],
                   env=dict(env, ACADEMY_BUILD_DIR=str(all_build)), stdout=subprocess.DEVNULL, check=False)
    cached = time.perf_counter() - start
    total = len(lesson_notebooks())

    print(f"notebooks: {len(notebooks)} (of {total} lessons)")
    print(f"sequential papermill CLI loop: {sequential:.1f} s")
    print(f"academy run --jobs {args.jobs}:          {parallel:.1f} s")
    print(f"ratio (papermill / academy):   {sequential / parallel:.2f}x  (target >= 2x)")
    print(f"cached re-run of all {total} lessons via the CLI: {cached:.2f} s  (target <= 3 s)")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
