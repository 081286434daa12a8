"""Course notebooks: committed clean, shaped like GUIDE.md §3, and executed for real."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat
import pytest
import yaml

from academy import config, execute

ROOT = config.project_root()
COURSE = ROOT / "course"
LESSONS = sorted(COURSE.glob("[0-9][0-9]-*/[0-9][0-9].[0-9][0-9]-*.ipynb"))  # capstone projects: test_capstone_examples
ALL_NOTEBOOKS = sorted(
    p
    for folder in ("course", "assignments/source")
    for p in (ROOT / folder).rglob("*.ipynb")
    if ".ipynb_checkpoints" not in p.parts
)
NAME = re.compile(r"^(\d{2})\.(\d{2})-[a-z0-9]+(?:-[a-z0-9]+)*\.ipynb$")
CHAPTER = re.compile(r"^(\d{2})-[a-z0-9]+(?:-[a-z0-9]+)*$")
REQUIRED_HEADINGS = ["학습 목표", "데이터 출처", "연습문제", "정리", "더 알아보기"]
ALLOWED_NB_METADATA = {"kernelspec", "language_info"}
ALLOWED_CELL_METADATA = {"tags", "nbgrader", "editable", "deletable"}


def _ids(paths):
    return [str(p.relative_to(ROOT)) for p in paths]


def test_there_are_lessons():
    assert LESSONS, "course/ has no notebooks"


@pytest.mark.parametrize("path", ALL_NOTEBOOKS, ids=_ids(ALL_NOTEBOOKS))
def test_committed_without_outputs_and_with_clean_metadata(path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    assert set(nb["metadata"]) <= ALLOWED_NB_METADATA, set(nb["metadata"]) - ALLOWED_NB_METADATA
    assert nb["metadata"].get("kernelspec", {}).get("name") == "python3"
    for i, cell in enumerate(nb["cells"]):
        assert set(cell.get("metadata", {})) <= ALLOWED_CELL_METADATA, f"cell {i}: {cell['metadata']}"
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"cell {i} has outputs"
            assert cell["execution_count"] is None, f"cell {i} has an execution count"
    nbformat.validate(nbformat.reads(path.read_text(encoding="utf-8"), as_version=4))


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_lesson_shape(path):
    assert CHAPTER.match(path.parent.name), f"chapter folder name: {path.parent.name}"
    match = NAME.match(path.name)
    assert match, f"lesson file name must look like NN.SS-short-title.ipynb: {path.name}"
    assert match.group(1) == path.parent.name[:2], "lesson number must match its chapter"
    nb = nbformat.read(path, as_version=4)
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "title first"
    positions = []
    for heading in REQUIRED_HEADINGS:
        found = re.search(rf"^#+\s*(?:\d+\.\s*)?{heading}(?:\s|\(|$)", markdown, re.MULTILINE)
        assert found, f"missing section '{heading}'"
        positions.append(found.start())
    assert positions == sorted(positions), f"sections out of order: {REQUIRED_HEADINGS}"
    code_cells = [c.source for c in nb.cells if c.cell_type == "code"]
    first = code_cells[0]
    assert "from academy import" in first and "plotting.setup()" in first, "first code cell sets up academy"
    code = "\n".join(code_cells)
    assert not re.search(r"https?://", code) or "localhost" in code or "127.0.0.1" in code, "no URLs in code"
    assert not re.search(r"read_(csv|excel|parquet|json)\(\s*['\"]", code), "read data only via academy.data"
    assert "shared/datasets" not in code and "/work/" not in code, "no hard-coded paths"


@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_lesson_exercises_have_checks(path):
    checks_file = path.with_name(path.stem + ".checks.yml")
    assert checks_file.exists(), f"{checks_file.name} missing"
    spec = yaml.safe_load(checks_file.read_text(encoding="utf-8"))
    assert len(spec) >= 3, "at least 3 exercises per lesson"
    code = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    for key, item in spec.items():
        assert f"ex.{key}.check()" in code, f"{key} has no check cell"
        assert re.search(rf"^{item['variable']}\s*=\s*____", code, re.MULTILINE), f"{key}: no blank to fill"
        assert item.get("hints") and item.get("wrong"), f"{key}: hints and wrong examples required"


# ---------------------------------------------------------------- execution (slow tier)


@pytest.fixture(scope="session")
def course_run():
    """Execute every lesson once (parallel, cached) and share the report.

    Under pytest-xdist more than one worker may need this: a file lock makes the first one
    execute and the others reuse its cached results.
    """
    import fcntl

    lock_path = config.build_dir() / ".course-run.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return execute.run(LESSONS, jobs=2, progress=False)


@pytest.mark.notebooks
@pytest.mark.xdist_group("notebooks")  # one xdist worker drives the runner's own process pool
@pytest.mark.parametrize("path", LESSONS, ids=_ids(LESSONS))
def test_lesson_executes_and_produces_its_outputs(course_run, path):
    rel = str(path.relative_to(ROOT))
    row = course_run.by_notebook()[rel]
    assert row.status == "ok", f"{row.status}: {row.error} (see {row.output})"
    executed = nbformat.read(row.output, as_version=4)
    code_cells = [c for c in executed.cells if c.cell_type == "code"]
    outputs = [o for c in code_cells for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, "a lesson should show at least one figure"
    # Every exercise's checker proved itself (reference passes, wrong answers fail).
    spec = yaml.safe_load(path.with_name(path.stem + ".checks.yml").read_text(encoding="utf-8"))
    assert row.proofs, "no self-check proofs were recorded"
    proved = {json.loads(line)["exercise"] for line in Path(row.proofs).read_text().splitlines()}
    assert set(spec) <= proved, f"unproved checkers: {set(spec) - proved}"
    # No stray stderr (warnings a student would see as noise).
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, stderr[:2]
