"""The capstone template and the example projects pass `academy capstone check`."""
from __future__ import annotations

import pytest

from academy import capstone, config
from academy.sandbox import available

ROOT = config.project_root() / "course" / "15-capstone"
PROJECTS = capstone.find_projects(ROOT) if ROOT.exists() else []
SANDBOX_OK, SANDBOX_WHY = available()
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("capstone")]


def test_template_and_two_examples_exist():
    names = {p.name for p in PROJECTS}
    assert "template" in names and len(names - {"template"}) >= 2, names


@pytest.mark.skipif(not SANDBOX_OK, reason=f"sandbox unavailable: {SANDBOX_WHY}")
@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_project_is_reproducible(capstone_checks, project):
    report = capstone.last_check(project, capstone_checks)
    assert report is not None
    assert report.reproducible, report.problems
    assert report.seconds <= 300 and report.peak_mb < 1536
    assert all(report.outputs.values()) and report.outputs


@pytest.mark.parametrize("project", PROJECTS, ids=[p.name for p in PROJECTS])
def test_reviews_validate_against_the_rubric(project):
    result = capstone.score(project)
    assert not result["invalid_reviews"], result["invalid_reviews"]
    if project.name != "template":
        assert len(result["reviewers"]) >= 2 and result["mean"] is not None
