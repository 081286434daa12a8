"""Assignments: structure lint, answer merging, and validation both ways (slow tier)."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from academy import assignments, config

ROOT = config.project_root()
IDS = assignments.assignment_ids()


def _cell(kind, source, **meta):
    cell = new_code_cell(source) if kind == "code" else new_markdown_cell(source)
    base = {"grade": False, "solution": False, "locked": False, "schema_version": 3, "task": False}
    base.update(meta)
    cell.metadata["nbgrader"] = base
    return cell


def _mini_source(points=(50, 50), docstring='"""값이 맞는지 확인해요."""'):
    cells = [new_code_cell("values = [1, 2, 3]")]
    for i, p in enumerate(points):
        cells.append(_cell("code", f"### BEGIN SOLUTION\nanswer{i} = sum(values) + {i}\n### END SOLUTION", grade_id=f"answer_{i}", solution=True))
        cells.append(
            _cell(
                "code",
                f"{docstring}\nassert isinstance(answer{i}, int)\n### BEGIN HIDDEN TESTS\nassert answer{i} == 6 + {i}\n### END HIDDEN TESTS",
                grade_id=f"test_{i}",
                grade=True,
                points=p,
                locked=True,
            )
        )
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def test_lint_finds_structural_problems():
    nb = _mini_source(points=(30, 30), docstring="# no docstring")
    nb.cells[1].metadata["nbgrader"]["grade_id"] = "Bad-Id"
    problems = "\n".join(assignments.lint(nb, "x"))
    assert "total points 60" in problems
    assert "Korean docstring" in problems
    assert "snake_case" in problems
    assert "6–12 questions" in problems


def test_lint_requires_mark_scheme_for_manual_answers():
    nb = _mini_source()
    nb.cells.append(_cell("markdown", "답을 쓰세요", grade_id="answer_essay", grade=True, solution=True, points=0))
    assert any("mark scheme" in p for p in assignments.lint(nb, "x"))


def test_merge_answers_takes_submission_answers_and_keeps_source_tests():
    source = _mini_source()
    submission = nbformat.from_dict(nbformat.reads(nbformat.writes(source), 4))
    submission.cells[1].source = "answer0 = 99"
    submission.cells[2].source = "# student deleted the test"
    del submission.cells[3]  # deleted an answer cell entirely
    merged = assignments.merge_answers(source, submission)
    assert merged.cells[1].source == "answer0 = 99"
    assert "BEGIN HIDDEN TESTS" in merged.cells[2].source  # tests always come from the source
    assert merged.cells[3].source == assignments.STUB


@pytest.fixture
def mini_course(tmp_path):
    course = tmp_path / "course"
    folder = course / "source" / "99-mini"
    folder.mkdir(parents=True)
    shutil.copy(ROOT / "assignments" / "source" / "header.ipynb", course / "source" / "header.ipynb")
    nb = _mini_source()
    nbformat.write(nb, folder / "99-mini.ipynb")
    fixtures = tmp_path / "fixtures"
    (fixtures / "99-mini").mkdir(parents=True)
    return course, fixtures, nb


@pytest.mark.slow
def test_validate_reports_each_kind_of_violation(mini_course):
    course, fixtures, source = mini_course
    passing_wrong = assignments.merge_answers(source, source)  # identical to the solution
    nbformat.write(passing_wrong, fixtures / "99-mini" / "wrong-not-really.ipynb")
    failing_correct = nbformat.reads(nbformat.writes(source), 4)
    failing_correct.cells[1].source = "answer0 = 0"
    nbformat.write(failing_correct, fixtures / "99-mini" / "correct-not-really.ipynb")
    report = assignments.validate(["99-mini"], course, fixtures, jobs=2, use_cache=False, min_fixtures=1)
    text = "\n".join(report.violations + report.lint)
    assert not report.ok
    assert "wrong-not-really.ipynb]: wrong fixture passes every test" in text
    assert "correct-not-really.ipynb]: correct fixture fails test test_0" in text
    assert "total points" not in text  # 50 + 50
    assert "6–12 questions" in text  # the mini assignment has only 2 answers
    cases = {o.case: o for o in report.outcomes}
    assert cases["source"].passed == ["test_0", "test_1"]
    assert cases["release"].passed == []


def test_unknown_assignment_and_missing_course(tmp_path):
    with pytest.raises(assignments.AssignmentError, match="없는 과제"):
        assignments.validate(["no-such-assignment"])
    with pytest.raises(assignments.AssignmentError, match="source"):
        assignments.release(None, tmp_path / "nowhere")


@pytest.mark.slow
@pytest.mark.xdist_group("assignments")
def test_every_assignment_validates_both_ways():
    assert IDS, "no assignments yet"
    report = assignments.validate(IDS, jobs=2)
    assignments.write_report(report)
    assert report.ok, report.table()
    for assignment in IDS:
        cases = [o.case for o in report.outcomes if o.assignment == assignment]
        assert "source" in cases and "release" in cases
        assert sum(c.startswith("wrong-") for c in cases) >= 2
        assert sum(c.startswith("correct-") for c in cases) >= 2


@pytest.mark.slow
@pytest.mark.xdist_group("assignments")
def test_nbgrader_validate_works_on_a_released_notebook(tmp_path):
    """Students' Validate button: the stub fails with a clear report, a correct fixture passes."""
    assignments.release(IDS[:1])
    released = next((ROOT / "assignments" / "release" / IDS[0]).glob("*.ipynb"))
    nbgrader = str(Path(sys.executable).parent / "nbgrader")
    stub = subprocess.run([nbgrader, "validate", str(released)], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert "VALIDATION FAILED" in stub.stdout or "failed" in stub.stdout.lower(), stub.stdout[-2000:]
    correct = next((assignments.fixtures_root() / IDS[0]).glob("correct-*.ipynb"))
    target = tmp_path / released.name
    shutil.copy(correct, target)
    ok = subprocess.run([nbgrader, "validate", str(target)], capture_output=True, text=True, cwd=released.parent, timeout=300)
    assert "Success! Your notebook passes all the tests." in ok.stdout, ok.stdout[-2000:]
