"""The portfolio site in a real browser: Debian's chromium driven by Playwright.

Screenshots are saved to _build/screenshots/ as test artefacts.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from academy import capstone, config, site

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.xdist_group("capstone"),
    pytest.mark.skipif(not CHROMIUM, reason="Debian chromium is not installed (.ci/run installs it)"),
]
ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


@pytest.fixture(scope="module")
def built_site(capstone_checks, tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    site.build(config.project_root() / "course" / "15-capstone", out, checks_dir=capstone_checks)
    return out


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield chromium
        chromium.close()


def _shots() -> Path:
    target = config.build_dir() / "screenshots"
    target.mkdir(parents=True, exist_ok=True)
    return target


def _hangul_font_ok(page) -> bool:
    page.evaluate("document.fonts.ready")
    return page.evaluate(
        """() => {
            const loaded = [...document.fonts].some(f => f.family.replace(/"/g, '') === 'AcademyKR' && f.status === 'loaded');
            const family = getComputedStyle(document.body).fontFamily;
            return loaded && family.includes('AcademyKR') && document.fonts.check('16px AcademyKR', '부산 빅데이터');
        }"""
    )


def test_index_lists_projects_and_filters(built_site, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto((built_site / "index.html").as_uri())
    projects = capstone.find_projects(config.project_root() / "course" / "15-capstone")
    assert page.locator(".card").count() == len(projects) >= 3
    assert _hangul_font_ok(page), "Korean web font not used: Hangul would render as missing glyphs"
    page.screenshot(path=str(_shots() / "portfolio-index.png"), full_page=True)
    page.select_option("#track", "logistics")
    visible = page.locator(".card:visible")
    assert visible.count() >= 1
    assert all(t == "logistics" for t in visible.evaluate_all("els => els.map(e => e.dataset.track)"))
    page.select_option("#track", "")
    page.select_option("#dataset", "korea-cultural-festivals")
    datasets = page.locator(".card:visible").evaluate_all("els => els.map(e => e.dataset.datasets)")
    assert datasets and all("korea-cultural-festivals" in d.split() for d in datasets)
    assert page.locator(".card:visible").count() < len(projects)
    page.screenshot(path=str(_shots() / "portfolio-filtered.png"), full_page=True)
    page.close()


def test_project_page_shows_summary_figure_and_badge(built_site, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto((built_site / "index.html").as_uri())
    page.locator(".card[data-track='logistics'] h2 a").first.click()
    page.wait_for_load_state()
    assert page.locator("article.summary h1").inner_text().strip()
    assert page.locator("article.summary li").count() == 3
    assert page.locator("[data-badge='reproducible']").count() == 1
    assert "초" in page.locator("[data-badge='reproducible']").inner_text()
    figure = page.locator("img.key-figure")
    assert figure.count() == 1 and figure.evaluate("img => img.complete && img.naturalWidth > 100")
    assert page.locator(".result").inner_text().strip() and page.locator(".recommendation").inner_text().strip()
    assert _hangul_font_ok(page)
    page.screenshot(path=str(_shots() / "portfolio-project.png"), full_page=True)
    page.click("text=실행된 노트북 보기")
    page.wait_for_load_state()
    assert page.locator("details summary").count() > 0
    assert page.locator("details[open]").count() == 0, "code cells start folded"
    page.screenshot(path=str(_shots() / "portfolio-notebook.png"))
    page.close()
