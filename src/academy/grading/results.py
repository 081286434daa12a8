"""Reading stored grading results and the question titles of an assignment."""
from __future__ import annotations

import json
import re
from pathlib import Path

import nbformat

from academy import assignments
from academy.grading.engine import GradingError, reports_dir


def load_results(course: Path, assignment: str) -> list[dict]:
    folder = reports_dir(course, assignment) / "results"
    if not folder.exists():
        raise GradingError(
            f"'{assignment}' 채점 결과가 없어요. 먼저 `academy grade {assignment}`를 실행하세요.\n"
            f"No grading results for '{assignment}'; run `academy grade {assignment}` first."
        )
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.json"))]


def question_titles(course: Path, assignment: str) -> dict[str, str]:
    """grade_id -> the heading of the question it belongs to (e.g. '문제 4 (15점) — …')."""
    source = nbformat.read(assignments.source_notebooks(assignment, course)[0], 4)
    titles, current = {}, ""
    for cell in source.cells:
        if cell.cell_type == "markdown":
            heading = re.search(r"^#+\s*(.+)$", cell.source, re.MULTILINE)
            if heading:
                current = heading.group(1).strip()
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            titles[grade_id] = current or grade_id
    return titles
