"""The grading engine: adversarial corpus with golden outcomes, resumability, outputs."""
from __future__ import annotations

import csv
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from academy import assignments, config
from academy.grading import engine, feedback, report, similarity
from academy.sandbox import available

ROOT = config.project_root()
ASSIGNMENT = "02-pandas-basics"
CORPUS = ROOT / "tests" / "fixtures" / "grading"
GOLDEN = yaml.safe_load((CORPUS / "golden.yml").read_text(encoding="utf-8"))
SANDBOX_OK, SANDBOX_WHY = available()
needs_sandbox = pytest.mark.skipif(not SANDBOX_OK, reason=f"sandbox unavailable: {SANDBOX_WHY}")
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("grading")]


def _course(tmp: Path, fixtures: dict[str, Path], timestamp: str = "2026-12-04 10:00:00.000000 UTC") -> Path:
    course = tmp / "course"
    shutil.copytree(ROOT / "assignments" / "source", course / "source", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    for student, fixture in fixtures.items():
        folder = course / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        shutil.copy(fixture, folder / f"{ASSIGNMENT}.ipynb")
        (folder / "timestamp.txt").write_text(timestamp)
    return course


@pytest.fixture(scope="module")
def corpus_run(tmp_path_factory):
    if not SANDBOX_OK:
        pytest.skip(SANDBOX_WHY)
    tmp = tmp_path_factory.mktemp("corpus")
    course = _course(tmp, {p.stem: p for p in sorted(CORPUS.glob("*.ipynb"))})
    mp = pytest.MonkeyPatch()
    # Read by the grading workers at import: infinite loops cost 20 s, not 30, yet a legitimate
    # but heavy cell (30 M characters printed) keeps a wide margin on a loaded CI machine.
    mp.setenv("ACADEMY_GRADE_CELL_TIMEOUT", "20")
    results = engine.grade(ASSIGNMENT, course, jobs=2, progress=False)
    mp.undo()
    return course, {r["student_id"]: r for r in results}


def test_corpus_and_golden_list_agree():
    assert set(GOLDEN) == {p.stem for p in CORPUS.glob("*.ipynb")}


@needs_sandbox
@pytest.mark.parametrize("attack", sorted(GOLDEN))
def test_attack_gets_its_golden_outcome(corpus_run, attack):
    _, results = corpus_run
    result, golden = results[attack], GOLDEN[attack]
    assert result["status"] == golden["status"], result["reason"]
    if "score" in golden:
        assert result["score"] == pytest.approx(golden["score"]), result["tests"]
    if "score_at_most" in golden:
        assert result["score"] <= golden["score_at_most"], result["tests"]
    if golden["status"] != "graded":
        assert result["reason"], "every non-graded outcome says why"
    assert golden.get("reason_has", "") in result["reason"]
    if golden["status"] == "failed":
        assert any("\uac00" <= ch <= "\ud7a3" for ch in result["reason"]) and any(ch.isascii() and ch.isalpha() for ch in result["reason"])


@needs_sandbox
def test_batch_outputs_grades_csv_gradebook_and_autograded(corpus_run):
    course, results = corpus_run
    with (course / "reports" / ASSIGNMENT / "grades.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["student_id", "score", "max_score", "status", "reason"]
    assert len(rows) == len(GOLDEN) and len({r["student_id"] for r in rows}) == len(GOLDEN)
    failed = {r["student_id"]: r for r in rows if r["status"] == "failed"}
    assert failed and all(r["score"] == "" for r in failed.values()), "could-not-grade is not a zero"
    db = sqlite3.connect(course / "gradebook.db")
    students = {s for (s,) in db.execute("select student_id from submitted_assignment")}
    assert students == set(GOLDEN)
    assert (course / "autograded" / "baseline-correct" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").exists()


@needs_sandbox
def test_hidden_tests_never_reach_feedback(corpus_run):
    course, _ = corpus_run
    written = feedback.generate(ASSIGNMENT, course)
    assert len(written) == len(GOLDEN)
    page = (course / "feedback" / "edited-test-cell" / ASSIGNMENT / "feedback.html").read_text(encoding="utf-8")
    assert "test_food_share_values" in page and "미통과" in page
    for secret in ("BEGIN HIDDEN TESTS", "expected = ", "BEGIN SOLUTION", "assert_same("):
        assert secret not in page
    failed_page = (course / "feedback" / "truncated-json" / ASSIGNMENT / "feedback.html").read_text(encoding="utf-8")
    assert "채점할 수 없었어요" in failed_page


@needs_sandbox
def test_report_and_similarity(corpus_run, monkeypatch, tmp_path):
    course, _ = corpus_run
    policy_file = tmp_path / "policy.yml"
    policy_file.write_text(
        "timezone: Asia/Seoul\ngrace_minutes: 0\npenalty_per_day_percent: 10\nmax_penalty_percent: 30\n"
        f"assignments:\n  {ASSIGNMENT}: {{due: '2026-12-02 23:59'}}\n"
        f"extensions:\n  {ASSIGNMENT}: {{baseline-correct: '2026-12-10 23:59'}}\n"
    )
    from academy.grading import policy

    monkeypatch.setattr(policy, "policy_path", lambda: policy_file)
    paths = report.build(ASSIGNMENT, course)
    assert paths["png"].stat().st_size > 1000
    html = paths["html"].read_text(encoding="utf-8")
    assert "문항 분석" in html and "truncated-json" in html
    with paths["lms"].open(encoding="utf-8") as fh:
        lms = {r["student_id"]: r for r in csv.DictReader(fh)}
    assert lms["baseline-correct"]["late_days"] == "0" and lms["baseline-correct"]["extension"] == "yes"
    late = lms["duplicated-test-cell"]  # submitted 2026-12-04 10:00 UTC, due 12-02 23:59 KST -> 2 days
    assert late["late_days"] == "2" and float(late["late_penalty_percent"]) == 20.0
    assert float(late["final_score"]) == pytest.approx(85 * 0.8)
    assert lms["empty-file"]["final_score"] == ""
    target, pairs = similarity.build(ASSIGNMENT, course, threshold=0.95)
    names = {frozenset((p["a"], p["b"])) for p in pairs}
    assert frozenset(("baseline-correct", "duplicated-test-cell")) in names  # same answers, different tampering
    assert target.exists()


@needs_sandbox
def test_unchanged_batch_regrades_nothing_and_killed_batch_resumes(tmp_path):
    fixtures = {f"s{i:02d}": CORPUS / "baseline-correct.ipynb" for i in range(3)}
    fixtures["s03"] = ROOT / "tests" / "fixtures" / "assignments" / ASSIGNMENT / "wrong-aggregation-denominator.ipynb"
    course = _course(tmp_path, fixtures)
    first = engine.grade(ASSIGNMENT, course, jobs=2, progress=False)
    hidden_failure = first[3]["tests"]["test_food_share_values"]
    assert not hidden_failure["passed"]
    assert "기대한 값" in hidden_failure["detail"], "the instructor sees the full reason"
    assert "기대한 값" not in hidden_failure["message"] and "숨겨진 테스트" in hidden_failure["message"]
    stamps = {p.name: p.stat().st_mtime_ns for p in (course / "reports" / ASSIGNMENT / "results").glob("*.json")}
    again = engine.grade(ASSIGNMENT, course, jobs=2, progress=False)
    assert [r["key"] for r in again] == [r["key"] for r in first]
    assert stamps == {p.name: p.stat().st_mtime_ns for p in (course / "reports" / ASSIGNMENT / "results").glob("*.json")}
    # A kill mid-batch leaves some results missing and maybe a half-written temp file.
    (course / "reports" / ASSIGNMENT / "results" / "s01.json").unlink()
    (course / "reports" / ASSIGNMENT / "results" / "s02.json").write_text("{ half written")
    resumed = engine.grade(ASSIGNMENT, course, jobs=2, progress=False)
    assert [r["student_id"] for r in resumed] == ["s00", "s01", "s02", "s03"]
    assert [r["score"] for r in resumed] == [85, 85, 85, 75]
    with (course / "reports" / ASSIGNMENT / "grades.csv").open() as fh:
        assert len(list(csv.DictReader(fh))) == 4
    # A changed submission is re-graded.
    shutil.copy(fixtures["s03"].with_name("correct-groupby-style.ipynb"), course / "submitted" / "s03" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
    changed = engine.grade(ASSIGNMENT, course, jobs=1, progress=False, students=["s03"])
    assert changed[0]["score"] == 85


def test_instructor_input_errors(tmp_path):
    with pytest.raises(engine.GradingError, match="과정 폴더"):
        engine.grade(ASSIGNMENT, tmp_path / "missing")
    (tmp_path / "c" / "source").mkdir(parents=True)
    with pytest.raises(engine.GradingError, match="없는 과제"):
        engine.grade("nope", tmp_path / "c")


def test_release_is_used_for_gradebook(tmp_path):
    course = _course(tmp_path, {})
    results = assignments.release([ASSIGNMENT], course)
    assert results[ASSIGNMENT][0]
