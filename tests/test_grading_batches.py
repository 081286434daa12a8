"""Whole batches under failure: the grader killed mid-batch, a worker killed mid-submission."""
from __future__ import annotations

import csv
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_grading import ASSIGNMENT, CORPUS, ROOT, _course, needs_sandbox

from academy.grading import engine

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading-batches")]


@needs_sandbox
def test_killed_batch_of_200_resumes_to_200_rows_each_graded_once(tmp_path):
    """`academy grade` SIGKILLed mid-batch (with its workers, fork servers and kernels),
    then run again: 200 rows, and nothing graded before the kill is graded twice."""
    fixtures = sorted((ROOT / "tests" / "fixtures" / "assignments" / ASSIGNMENT).glob("*.ipynb"))
    students = {f"s{i:03d}": fixtures[i % len(fixtures)] for i in range(200)}
    course = _course(tmp_path, students)
    results = course / "reports" / ASSIGNMENT / "results"
    command = [str(Path(sys.executable).with_name("academy")), "grade", ASSIGNMENT, "--course", str(course), "--jobs", "2"]
    first = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while len(list(results.glob("*.json"))) < 15 and time.monotonic() < deadline and first.poll() is None:
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    before = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    assert 15 <= len(before) < 200, "the kill must land mid-batch"

    second = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert second.returncode == 0, second.stderr[-2000:]
    with (course / "reports" / ASSIGNMENT / "grades.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["student_id"] for r in rows) == sorted(students)
    assert {r["status"] for r in rows} == {"graded"}
    after = {p.name: p.stat().st_mtime_ns for p in results.glob("*.json")}
    assert {name: after[name] for name in before} == before, "graded before the kill, not graded again"
    for path in results.glob("*.json"):
        assert json.loads(path.read_text(encoding="utf-8"))["status"] == "graded"
    with sqlite3.connect(course / "gradebook.db") as db:
        (submitted,) = db.execute("select count(*) from submitted_assignment").fetchone()
    assert submitted == 200


@needs_sandbox
def test_a_dead_worker_loses_no_submission(tmp_path):
    """A grading worker killed mid-submission (OOM killer, crash): the batch still completes,
    the submissions it held are graded again, alone."""
    import threading


    students = {f"w{i}": CORPUS / "baseline-correct.ipynb" for i in range(6)}
    course = _course(tmp_path, students)
    outcome = {}
    grading = threading.Thread(target=lambda: outcome.update(results=engine.grade(ASSIGNMENT, course, jobs=2, progress=False)))
    grading.start()
    results = course / "reports" / ASSIGNMENT / "results"
    victim, deadline = None, time.monotonic() + 120
    while victim is None and time.monotonic() < deadline:
        if list(results.glob("*.running")):
            victim = next(iter(_grading_workers()), None)
        time.sleep(0.05)
    assert victim is not None, "no worker was grading"
    victim.kill()
    grading.join(600)
    assert sorted(r["student_id"] for r in outcome["results"]) == sorted(students)
    assert {r["status"] for r in outcome["results"]} == {"graded"}
    assert not list(results.glob("*.running"))


def _grading_workers() -> list:
    """Worker processes of a grading pool: the parents of sandbox fork servers (not us)."""
    import psutil

    workers = []
    for child in psutil.Process().children(recursive=True):
        try:
            if "academy.sandbox" in " ".join(child.cmdline()):
                parent = child.parent()
                if parent is not None and parent.pid != os.getpid():
                    workers.append(parent)
        except psutil.Error:  # exited, or a zombie, while we looked
            continue
    return workers

