"""Benchmark: `academy grade --jobs 2` (sandboxed) versus stock `nbgrader autograde`.

Same 60 submissions of one assignment (made from the assignment's fixtures), same machine,
one run. Also measures the floor: kernel start + executing the solution once, per
submission, divided over the workers. Prints the ratios (targets: >= 2x faster than
nbgrader, <= 1.5x the floor) and the time of re-grading the unchanged batch.
Must run as root (the sandbox needs namespaces). Usage:
    python bench/bench_grading.py [--assignment 02-pandas-basics] [--submissions 60] [--jobs 2]
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_course(target: Path, assignment: str, count: int) -> None:
    shutil.copytree(ROOT / "assignments" / "source", target / "source")
    fixtures = sorted((ROOT / "tests" / "fixtures" / "assignments" / assignment).glob("*.ipynb"))
    for i in range(count):
        folder = target / "submitted" / f"student{i:03d}" / assignment
        folder.mkdir(parents=True)
        shutil.copy(fixtures[i % len(fixtures)], folder / f"{assignment}.ipynb")
        (folder / "timestamp.txt").write_text("2026-12-01 10:00:00.000000 UTC")


def solution_run_seconds(assignment: str, repeats: int) -> float:
    """Kernel start + the source notebook (solutions) executed once, in a fresh kernel."""
    import nbformat
    from nbclient import NotebookClient

    source = ROOT / "assignments" / "source" / assignment / f"{assignment}.ipynb"
    times = []
    for _ in range(repeats):
        nb = nbformat.read(source, 4)
        start = time.perf_counter()
        NotebookClient(nb, kernel_name="python3", timeout=120, resources={"metadata": {"path": str(source.parent)}}).execute()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--assignment", default="02-pandas-basics")
    parser.add_argument("--submissions", type=int, default=60)
    parser.add_argument("--jobs", type=int, default=2)
    args = parser.parse_args()
    from academy import assignments
    from academy.execute import quiet_home_env
    from academy.grading import engine

    work = Path(tempfile.mkdtemp(prefix="bench-grading-", dir=ROOT / "_build"))
    os.environ.update(quiet_home_env(work / "home"))
    bindir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bindir + os.pathsep + os.environ["PATH"]

    stock, ours = work / "stock", work / "ours"
    make_course(stock, args.assignment, args.submissions)
    make_course(ours, args.assignment, args.submissions)
    assignments.release([args.assignment], stock)
    assignments.release([args.assignment], ours)

    floor_one = solution_run_seconds(args.assignment, 3)
    floor = floor_one * args.submissions / args.jobs

    start = time.perf_counter()
    subprocess.run(
        [f"{bindir}/nbgrader", "autograde", args.assignment, "--force", f"--CourseDirectory.root={stock}"],
        cwd=stock, check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    stock_seconds = time.perf_counter() - start

    start = time.perf_counter()
    results = engine.grade(args.assignment, ours, jobs=args.jobs, progress=False)
    ours_seconds = time.perf_counter() - start
    start = time.perf_counter()
    engine.grade(args.assignment, ours, jobs=args.jobs, progress=False)
    cached_seconds = time.perf_counter() - start

    statuses = {s: sum(r["status"] == s for r in results) for s in ("graded", "needs_review", "failed")}
    print(f"submissions: {args.submissions} of {args.assignment}, jobs {args.jobs}; statuses {statuses}")
    print(f"stock nbgrader autograde (sequential, unsandboxed): {stock_seconds:.1f} s")
    print(f"academy grade --jobs {args.jobs} (sandboxed, trusted tests): {ours_seconds:.1f} s")
    print(f"floor (kernel start + solution once = {floor_one:.2f} s, x{args.submissions} / {args.jobs} workers): {floor:.1f} s")
    print(f"ratio nbgrader / academy: {stock_seconds / ours_seconds:.2f}x  (target >= 2x)")
    print(f"ratio academy / floor:    {ours_seconds / floor:.2f}x  (target <= 1.5x)")
    print(f"re-grade of the unchanged batch: {cached_seconds:.2f} s")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
