"""nbgrader assignments: release student versions and prove each assignment both ways.

Validation runs, for every assignment:
  1. the source notebook (solutions + hidden tests): every autograded test must pass,
     and no test may write to stderr (nbgrader scores that as 0);
  2. the released stub: every autograded test must fail;
  3. fixtures in tests/fixtures/assignments/<id>/: each ``wrong-*.ipynb`` must fail at
     least one test, each ``correct-*.ipynb`` must pass every test. A fixture is graded
     the way nbgrader's autograde does it: its answer cells are put into the source
     notebook, so the hidden tests run too.
Plus a structural lint (schema 3, snake_case unique grade_ids, Korean docstrings on
test cells, 100 points, mark schemes on manually graded answers, hidden tests present).
"""
from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from academy import config, execute

HEADER = "header.ipynb"
GRADE_ID = re.compile(r"^[a-z][a-z0-9_]*$")
HANGUL = re.compile(r"[\uac00-\ud7a3]")
STUB = "raise NotImplementedError()"


# --------------------------------------------------------------------------- course


def default_course() -> Path:
    return config.project_root() / "assignments"


def fixtures_root() -> Path:
    return config.project_root() / "tests" / "fixtures" / "assignments"


def nbgrader_config(course: Path | None = None):
    """traitlets Config from grading/nbgrader_config.py, pointed at ``course``."""
    import os

    from traitlets.config.loader import PyFileConfigLoader

    course = Path(course or default_course()).resolve()
    previous = os.environ.get("ACADEMY_COURSE_DIR")
    os.environ["ACADEMY_COURSE_DIR"] = str(course)
    try:
        loader = PyFileConfigLoader("nbgrader_config.py", path=str(config.project_root() / "grading"))
        cfg = loader.load_config()
    finally:
        if previous is None:
            os.environ.pop("ACADEMY_COURSE_DIR", None)
        else:
            os.environ["ACADEMY_COURSE_DIR"] = previous
    return cfg


def assignment_ids(course: Path | None = None) -> list[str]:
    source = Path(course or default_course()) / "source"
    return sorted(p.name for p in source.iterdir() if p.is_dir()) if source.exists() else []


def source_notebooks(assignment: str, course: Path | None = None) -> list[Path]:
    folder = Path(course or default_course()) / "source" / assignment
    return sorted(p for p in folder.glob("*.ipynb") if p.name != HEADER)


class AssignmentError(Exception):
    """Instructor input is wrong (unknown assignment, missing course)."""


def _check_ids(ids: list[str] | None, course: Path) -> list[str]:
    if not (course / "source").exists():
        raise AssignmentError(
            f"과정 폴더에 source/ 가 없어요: {course}\nCourse directory has no source/ folder: {course}"
        )
    known = assignment_ids(course)
    unknown = [i for i in ids or [] if i not in known]
    if unknown:
        raise AssignmentError(
            f"없는 과제예요: {', '.join(unknown)} (있는 과제: {', '.join(known)})\n"
            f"Unknown assignment(s): {', '.join(unknown)}"
        )
    return list(ids) if ids else known


# --------------------------------------------------------------------------- release


def release(ids: list[str] | None = None, course: Path | None = None) -> dict[str, tuple[bool, str]]:
    """nbgrader generate_assignment for each assignment; returns {id: (ok, log)}."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    course = Path(course or default_course()).resolve()
    ids = _check_ids(ids, course)
    _put_interpreter_on_path()
    cfg = nbgrader_config(course)
    api = NbGraderAPI(coursedir=CourseDirectory(config=cfg), config=cfg)
    results = {}
    for assignment in ids:
        outcome = api.generate_assignment(assignment, force=True, create=True)
        log = outcome.get("error") or outcome.get("log") or ""
        results[assignment] = (bool(outcome.get("success")), log)
    return results


def _put_interpreter_on_path() -> None:
    """nbgrader runs the `alembic` executable from PATH; make ours (same venv) findable."""
    import os
    import sys

    bindir = str(Path(sys.executable).parent)
    if bindir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")


def released_notebook(assignment: str, source: Path, course: Path | None = None) -> Path:
    return Path(course or default_course()) / "release" / assignment / source.name


# --------------------------------------------------------------------------- notebook structure


def _meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def is_autograded_test(cell) -> bool:
    m = _meta(cell)
    return cell.cell_type == "code" and bool(m.get("grade")) and not m.get("solution")


def is_answer(cell) -> bool:
    return bool(_meta(cell).get("solution"))


def test_cells(nb) -> list:
    return [c for c in nb.cells if is_autograded_test(c)]


def lint(nb, name: str) -> list[str]:
    """Structural problems of a source notebook (empty list = fine)."""
    problems = []
    ids = []
    points = 0.0
    answers = 0
    hidden = False
    for cell in nb.cells:
        m = _meta(cell)
        if not m:
            continue
        grade_id = m.get("grade_id", "")
        ids.append(grade_id)
        if m.get("schema_version") != 3:
            problems.append(f"{name}: {grade_id}: nbgrader schema_version must be 3")
        if not GRADE_ID.match(grade_id or ""):
            problems.append(f"{name}: grade_id '{grade_id}' is not snake_case")
        if m.get("grade"):
            points += float(m.get("points", 0))
        if m.get("solution"):
            answers += 1
        if is_autograded_test(cell):
            doc = re.match(r'^\s*(?:"""|\'\'\')(.+?)(?:"""|\'\'\')', cell.source, re.DOTALL)
            if not doc or not HANGUL.search(doc.group(1)):
                problems.append(f"{name}: test {grade_id} must start with a Korean docstring")
            hidden = hidden or "BEGIN HIDDEN TESTS" in cell.source
        if m.get("grade") and m.get("solution") and cell.cell_type == "markdown" and "BEGIN MARK SCHEME" not in cell.source:
            problems.append(f"{name}: manually graded {grade_id} needs a mark scheme")
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        problems.append(f"{name}: duplicate grade_ids {duplicates}")
    if abs(points - 100) > 1e-9:
        problems.append(f"{name}: total points {points:g}, must be 100")
    if not 6 <= answers <= 12:
        problems.append(f"{name}: {answers} answer cells, must be 6–12 questions")
    if not hidden:
        problems.append(f"{name}: no hidden tests (### BEGIN HIDDEN TESTS)")
    return problems


def merge_answers(source_nb, submission_nb):
    """The source notebook with the submission's answers (what autograde effectively runs)."""
    answers = {_meta(c).get("grade_id"): c.source for c in submission_nb.cells if is_answer(c)}
    merged = copy.deepcopy(source_nb)
    for cell in merged.cells:
        if is_answer(cell):
            grade_id = _meta(cell).get("grade_id")
            if grade_id in answers:
                cell.source = answers[grade_id]
            elif cell.cell_type == "code":
                cell.source = STUB
    return merged


# --------------------------------------------------------------------------- execution


@dataclass
class TestOutcome:
    assignment: str
    case: str  # source | release | fixture file name
    passed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    stderr: list[str] = field(default_factory=list)
    error: str = ""


def _outcome_of(executed, assignment: str, case: str) -> TestOutcome:
    outcome = TestOutcome(assignment, case)
    for cell in executed.cells:
        if not is_autograded_test(cell):
            continue
        grade_id = _meta(cell)["grade_id"]
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        if errors:
            first = errors[0]
            outcome.failed[grade_id] = f"{first.get('ename')}: {str(first.get('evalue'))[:200]}"
        else:
            outcome.passed.append(grade_id)
            if any(o.get("output_type") == "stream" and o.get("name") == "stderr" for o in cell.get("outputs", [])):
                outcome.stderr.append(grade_id)
    return outcome


def _cache_key(nb_json: str, cwd: str, fingerprint: str) -> str:
    from academy import data

    digest = hashlib.sha256(nb_json.encode())
    digest.update(cwd.encode())
    digest.update(fingerprint.encode())
    cat = data.catalog()
    for dataset_id in data.loaded_dataset_ids(nb_json):
        digest.update(cat.fingerprint(dataset_id).encode())
    return digest.hexdigest()[:32]


def run_cases(cases: list[tuple[str, str, object, Path]], jobs: int = 2, use_cache: bool = True) -> list[TestOutcome]:
    """Execute (assignment, case, notebook, cwd) with errors allowed; cached by content."""
    build = config.build_dir()
    cache = build / "cache" / "assignments"
    cache.mkdir(parents=True, exist_ok=True)
    fingerprint = execute.environment_fingerprint()
    results: dict[int, TestOutcome] = {}
    todo = []
    for i, (assignment, case, nb, cwd) in enumerate(cases):
        text = nbformat.writes(nb)
        key = _cache_key(text, str(cwd), fingerprint)
        hit = cache / f"{key}.ipynb"
        if use_cache and hit.exists():
            results[i] = _outcome_of(nbformat.read(hit, 4), assignment, case)
        else:
            todo.append((i, text, str(cwd), key))
    if todo:
        payloads = [(text, cwd) for _, text, cwd, _ in todo]
        executed = execute.map_cells_allow_errors(payloads, jobs=jobs, build=build)
        for (i, _, _, key), (out_text, error) in zip(todo, executed):
            assignment, case, _, _ = cases[i]
            if error:
                results[i] = TestOutcome(assignment, case, error=error)
                continue
            out = nbformat.reads(out_text, 4)
            (cache / f"{key}.ipynb").write_text(out_text, encoding="utf-8")
            results[i] = _outcome_of(out, assignment, case)
    return [results[i] for i in range(len(cases))]


# --------------------------------------------------------------------------- validate


@dataclass
class ValidationReport:
    outcomes: list[TestOutcome]
    violations: list[str]
    lint: list[str]

    @property
    def ok(self) -> bool:
        return not self.violations and not self.lint

    def table(self) -> str:
        lines = [f"{'assignment':28} {'case':34} {'pass':>5} {'fail':>5}  verdict"]
        lines.append("-" * 86)
        for o in self.outcomes:
            verdict = "ERROR " + o.error[:40] if o.error else _verdict(o)
            lines.append(f"{o.assignment:28} {o.case:34} {len(o.passed):5} {len(o.failed):5}  {verdict}")
        lines.append("-" * 86)
        for problem in self.lint + self.violations:
            lines.append(f"  ✗ {problem}")
        if self.ok:
            lines.append("모든 과제가 양방향으로 검증되었어요 (all assignments validated both ways).")
        return "\n".join(lines)


def _verdict(o: TestOutcome) -> str:
    if o.case == "source":
        return "ok" if not o.failed and not o.stderr else "VIOLATION"
    if o.case.startswith("release"):
        return "ok" if not o.passed else "VIOLATION"
    if o.case.startswith("wrong-"):
        return "ok" if o.failed else "VIOLATION"
    return "ok" if not o.failed else "VIOLATION"


def _violations(o: TestOutcome, all_tests: list[str]) -> list[str]:
    where = f"{o.assignment} [{o.case}]"
    if o.error:
        return [f"{where}: could not execute: {o.error}"]
    problems = []
    if o.case == "source":
        problems += [f"{where}: solution fails test {t}: {msg}" for t, msg in o.failed.items()]
        problems += [f"{where}: test {t} writes to stderr when it passes (nbgrader scores 0)" for t in o.stderr]
    elif o.case.startswith("release"):
        problems += [f"{where}: released stub passes test {t} (a blank answer must fail)" for t in o.passed]
    elif o.case.startswith("wrong-"):
        if not o.failed:
            problems.append(f"{where}: wrong fixture passes every test {all_tests}")
    else:
        problems += [f"{where}: correct fixture fails test {t}: {msg}" for t, msg in o.failed.items()]
    return problems


def validate(
    ids: list[str] | None = None,
    course: Path | None = None,
    fixtures: Path | None = None,
    jobs: int = 2,
    use_cache: bool = True,
    min_fixtures: int = 2,
) -> ValidationReport:
    course = Path(course or default_course()).resolve()
    ids = _check_ids(ids, course)
    fixtures = Path(fixtures or fixtures_root())
    released = release(ids, course)
    lint_problems: list[str] = []
    cases = []
    for assignment in ids:
        ok, log = released[assignment]
        if not ok:
            lint_problems.append(f"{assignment}: nbgrader generate_assignment failed: {log.strip()[-300:]}")
            continue
        notebooks = source_notebooks(assignment, course)
        if len(notebooks) != 1:
            lint_problems.append(f"{assignment}: expected exactly one notebook besides {HEADER}, found {len(notebooks)}")
            continue
        source_path = notebooks[0]
        source = nbformat.read(source_path, 4)
        lint_problems += lint(source, f"{assignment}/{source_path.name}")
        cwd = source_path.parent
        cases.append((assignment, "source", source, cwd))
        cases.append((assignment, "release", nbformat.read(released_notebook(assignment, source_path, course), 4), cwd))
        wrong = sorted((fixtures / assignment).glob("wrong-*.ipynb"))
        correct = sorted((fixtures / assignment).glob("correct-*.ipynb"))
        if len(wrong) < min_fixtures or len(correct) < min_fixtures:
            lint_problems.append(
                f"{assignment}: needs ≥{min_fixtures} wrong-*.ipynb and ≥{min_fixtures} correct-*.ipynb fixtures "
                f"in {fixtures / assignment} (found {len(wrong)} and {len(correct)})"
            )
        for fixture in wrong + correct:
            merged = merge_answers(source, nbformat.read(fixture, 4))
            cases.append((assignment, fixture.name, merged, cwd))
    outcomes = run_cases(cases, jobs=jobs, use_cache=use_cache)
    tests_by_assignment = {a: [_meta(c)["grade_id"] for c in test_cells(nb)] for a, case, nb, _ in cases if case == "source"}
    violations = []
    for outcome in outcomes:
        violations += _violations(outcome, tests_by_assignment.get(outcome.assignment, []))
    return ValidationReport(outcomes, violations, lint_problems)


def write_report(report: ValidationReport) -> Path:
    target = config.build_dir() / "reports" / "assignments.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "ok": report.ok,
        "violations": report.violations,
        "lint": report.lint,
        "outcomes": [o.__dict__ for o in report.outcomes],
    }
    target.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
    (target.with_suffix(".txt")).write_text(report.table() + "\n", encoding="utf-8")
    return target
