"""The static capstone portfolio: plain HTML/CSS (+ a few lines of JS for filters), offline.

index.html lists every project as a card (filterable by track and dataset); each project
gets a one-page summary (problem, data with licences, key figure, result, recommendation,
reproducibility badge with the measured run time, rubric scores) and its executed notebook
rendered with code folded. Korean renders with NanumGothic from the koreanize-matplotlib
package, subset to the site's characters and embedded in assets/font.css (no network, no server).
"""
from __future__ import annotations

import base64
import html
import importlib.metadata
import json
from pathlib import Path

import mistune
import nbformat

from academy import capstone, data

TRACK_KO = {
    "finance": "금융",
    "healthcare": "헬스케어",
    "logistics": "물류",
    "tourism": "관광",
    "public": "공공",
    "other": "기타",
}

CSS = """
body { font-family: "AcademyKR", sans-serif; margin: 0; color: #1f2328; background: #f6f8fa; }
header { background: #0b3d91; color: white; padding: 1.2rem 2rem; }
header a { color: white; }
main { max-width: 1100px; margin: 1.5rem auto; padding: 0 1rem; }
.filters { display: flex; gap: 1rem; margin-bottom: 1rem; align-items: center; flex-wrap: wrap; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(320px, 1fr)); gap: 1rem; }
.card { background: white; border: 1px solid #d0d7de; border-radius: 8px; padding: 1rem; }
.card img, .summary img { max-width: 100%; border-radius: 4px; }
.badge { display: inline-block; padding: .15rem .5rem; border-radius: 999px; font-size: .85rem; color: white; }
.badge.ok { background: #1a7f37; } .badge.bad { background: #b42318; } .badge.none { background: #6e7781; }
.tag { display: inline-block; background: #ddf4ff; border-radius: 4px; padding: 0 .4rem; margin: 0 .2rem .2rem 0; font-size: .85rem; }
table { border-collapse: collapse; } td, th { border-bottom: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; }
details { margin: .4rem 0; } summary { cursor: pointer; color: #0969da; }
pre { background: #f6f8fa; padding: .6rem; overflow-x: auto; font-size: .85rem; }
.nb-md { margin: .8rem 0; } .nb-out img { max-width: 100%; }
"""

FILTER_JS = """
function applyFilters() {
  const track = document.getElementById('track').value;
  const dataset = document.getElementById('dataset').value;
  let shown = 0;
  document.querySelectorAll('.card').forEach(card => {
    const okTrack = !track || card.dataset.track === track;
    const okData = !dataset || card.dataset.datasets.split(' ').includes(dataset);
    card.style.display = okTrack && okData ? '' : 'none';
    if (okTrack && okData) shown += 1;
  });
  document.getElementById('count').textContent = shown + '개 프로젝트';
}
document.getElementById('track').addEventListener('change', applyFilters);
document.getElementById('dataset').addEventListener('change', applyFilters);
applyFilters();
"""


def _font_file() -> Path:
    dist = importlib.metadata.distribution("koreanize-matplotlib")
    return Path(dist.locate_file("koreanize_matplotlib/fonts/NanumGothic.ttf"))


def _page(title: str, body: str, depth: int) -> str:
    prefix = "../" * depth
    return (
        f"<!doctype html><html lang='ko'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>{html.escape(title)}</title>"
        f"<link rel='stylesheet' href='{prefix}assets/font.css'><style>{CSS}</style></head><body><header><a href='{prefix}index.html'>부산 빅데이터 아카데미 · 캡스톤 포트폴리오</a>"
        f"</header><main>{body}</main></body></html>"
    )


def write_font_css(out: Path) -> None:
    """Embed NanumGothic, subset to the characters the site uses, as a data: URI.

    Browsers refuse web fonts loaded from file:// pages as cross-origin, so a font file
    next to the pages would not load offline; a stylesheet with the font inside does.
    """
    import logging

    from fontTools import subset

    logging.getLogger("fontTools").setLevel(logging.ERROR)  # it reports every table it drops
    text = "".join(page.read_text(encoding="utf-8") for page in out.rglob("*.html"))
    characters = set(text) | {chr(c) for c in range(32, 127)}
    options = subset.Options()
    options.flavor = None
    font = subset.load_font(str(_font_file()), options)
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(characters)))
    subsetter.subset(font)
    target = out / "assets" / "NanumGothic-subset.ttf"
    subset.save_font(font, str(target), options)
    encoded = base64.b64encode(target.read_bytes()).decode()
    (out / "assets" / "font.css").write_text(
        "@font-face { font-family: 'AcademyKR'; font-display: block; "
        f"src: url(data:font/ttf;base64,{encoded}) format('truetype'); }}\n",
        encoding="utf-8",
    )


def _badge(report: capstone.CheckReport | None) -> str:
    if report is None:
        return "<span class='badge none' data-badge='unchecked'>재현성 미확인</span>"
    if report.reproducible:
        return f"<span class='badge ok' data-badge='reproducible'>재현 성공 · {report.seconds:.0f}초 · {report.peak_mb:.0f} MB</span>"
    return "<span class='badge bad' data-badge='failed'>재현 실패</span>"


def _team(card: dict, anonymous: bool, project: str) -> str:
    if anonymous:
        return f"익명 팀 ({html.escape(project)})"
    members = []
    for member in card.get("team") or []:
        if isinstance(member, dict):
            contact = f" · {html.escape(str(member.get('contact')))}" if member.get("contact") else ""
            members.append(f"{html.escape(str(member.get('name', '')))}{contact}")
        else:
            members.append(html.escape(str(member)))
    return ", ".join(members)


def _image_data(path: Path) -> str:
    if not path.exists():
        return ""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def render_notebook(nb) -> str:
    """Markdown as HTML; code folded in <details>; outputs (text, tables, figures) shown."""
    markdown = mistune.create_markdown(plugins=["table"])
    parts = []
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            parts.append(f"<div class='nb-md'>{markdown(cell.source)}</div>")
        elif cell.cell_type == "code":
            parts.append(f"<details><summary>코드 보기</summary><pre>{html.escape(cell.source)}</pre></details>")
            for out in cell.get("outputs", []):
                kind = out.get("output_type")
                if kind == "stream":
                    parts.append(f"<pre class='nb-out'>{html.escape(''.join(out.get('text', '')))}</pre>")
                elif kind == "error":
                    parts.append(f"<pre class='nb-out'>{html.escape(out.get('ename', ''))}: {html.escape(str(out.get('evalue', '')))}</pre>")
                else:
                    bundle = out.get("data", {})
                    if "image/png" in bundle:
                        parts.append(f"<div class='nb-out'><img alt='그림' src='data:image/png;base64,{''.join(bundle['image/png'])}'></div>")
                    elif "text/html" in bundle:
                        parts.append(f"<div class='nb-out'>{''.join(bundle['text/html'])}</div>")
                    elif "text/markdown" in bundle:
                        parts.append(f"<div class='nb-out'>{markdown(''.join(bundle['text/markdown']))}</div>")
                    elif "text/plain" in bundle:
                        parts.append(f"<pre class='nb-out'>{html.escape(''.join(bundle['text/plain']))}</pre>")
    return "\n".join(parts)


def _datasets_html(card: dict) -> str:
    cat = data.catalog()
    rows = []
    for dataset_id in card.get("datasets") or []:
        entry = cat.datasets.get(dataset_id, {})
        rows.append(
            f"<tr><td><code>{html.escape(dataset_id)}</code></td><td>{html.escape(entry.get('title', {}).get('ko', ''))}</td>"
            f"<td>{html.escape(entry.get('attribution', ''))}</td></tr>"
        )
    for extra in card.get("extra_data") or []:
        rows.append(f"<tr><td>{html.escape(str(extra.get('file')))}</td><td>추가 데이터</td><td>{html.escape(str(extra.get('licence')))}</td></tr>")
    return "<table><tr><th>id</th><th>데이터</th><th>출처·라이선스</th></tr>" + "".join(rows) + "</table>"


def _scores_html(scores: dict | None) -> str:
    if not scores or scores.get("mean") is None:
        return "<p>아직 심사 점수가 없어요.</p>"
    rows = "".join(
        f"<tr><td>{html.escape(c['name'])}</td><td>{c['mean_level']:.1f}</td><td>{'⚠ 심사위원 의견 차이 큼' if c['flag'] else ''}</td></tr>"
        for c in scores["criteria"].values()
    )
    return (
        f"<p data-score='{scores['mean']}'>루브릭 점수 평균 <b>{scores['mean']:.1f}</b> / 100 "
        f"(심사위원 {len(scores['reviewers'])}명, 차이 {scores['spread']:.1f}점)</p>"
        f"<table><tr><th>기준</th><th>평균 수준 (1–4)</th><th></th></tr>{rows}</table>"
    )


def build(projects_dir: Path, out: Path, anonymous: bool = False, checks_dir: Path | None = None) -> Path:
    """Write the site into ``out``; returns the index page."""
    projects = capstone.find_projects(projects_dir)
    out = Path(out)
    (out / "assets").mkdir(parents=True, exist_ok=True)
    spec = capstone.rubric()
    cards, tracks, datasets = [], set(), set()
    for path in projects:
        card = capstone.load_project(path)
        name = path.name
        report = capstone.last_check(path, checks_dir)
        scores = capstone.score(path, spec)
        produced = Path(report.executed_dir) / "project" if report else path
        figure = _image_data(produced / str(card.get("key_figure", "")))
        tracks.add(card.get("track", "other"))
        datasets.update(card.get("datasets") or [])
        page_dir = out / "projects" / name
        page_dir.mkdir(parents=True, exist_ok=True)
        summary_lines = "".join(f"<li>{html.escape(str(line))}</li>" for line in card.get("summary") or [])
        notebook_html = ""
        executed = Path(report.executed_dir) / card.get("entry", "") if report else None
        if executed and executed.exists():
            notebook_html = render_notebook(nbformat.read(executed, 4))
        (page_dir / "notebook.html").write_text(
            _page(f"{card.get('title')} — 노트북", f"<h1>{html.escape(str(card.get('title')))}</h1>" + (notebook_html or "<p>실행된 노트북이 없어요. `academy capstone check`를 먼저 실행하세요.</p>"), 2),
            encoding="utf-8",
        )
        body = f"""
<article class='summary' data-project='{html.escape(name)}'>
<h1>{html.escape(str(card.get('title')))}</h1>
<p>{_badge(report)} <span class='tag'>{TRACK_KO.get(card.get('track'), card.get('track'))}</span>
 팀: {_team(card, anonymous, name)} · 협력 기업: {html.escape(str(card.get('partner', '없음')))} · 라이선스: {html.escape(str(card.get('licence')))}</p>
<h2>문제와 요약</h2><ul>{summary_lines}</ul>
<h2>핵심 그림</h2>{f"<img class='key-figure' alt='핵심 그림' src='{figure}'>" if figure else "<p>그림이 아직 없어요.</p>"}
<h2>결과</h2><p class='result'>{html.escape(str(card.get('result', '')))}</p>
<h2>비즈니스 제안</h2><p class='recommendation'>{html.escape(str(card.get('recommendation', '')))}</p>
<h2>데이터</h2>{_datasets_html(card)}
<h2>심사</h2>{_scores_html(scores)}
<p><a href='notebook.html'>실행된 노트북 보기 (코드 접힘)</a></p>
</article>"""
        (page_dir / "index.html").write_text(_page(str(card.get("title")), body, 2), encoding="utf-8")
        card_figure = f"<img alt='핵심 그림' src='{figure}'>" if figure else ""
        cards.append(
            f"<div class='card' data-track='{html.escape(str(card.get('track')))}' data-datasets='{html.escape(' '.join(card.get('datasets') or []))}'>"
            f"<h2><a href='projects/{html.escape(name)}/index.html'>{html.escape(str(card.get('title')))}</a></h2>"
            f"<p>{_badge(report)} <span class='tag'>{TRACK_KO.get(card.get('track'), card.get('track'))}</span></p>"
            f"{card_figure}"
            f"<p>{html.escape(str((card.get('summary') or [''])[0]))}</p></div>"
        )
    track_options = "".join(f"<option value='{t}'>{TRACK_KO.get(t, t)}</option>" for t in sorted(tracks))
    dataset_options = "".join(f"<option value='{d}'>{d}</option>" for d in sorted(datasets))
    index_body = f"""
<h1>캡스톤 프로젝트</h1>
<p>부산 공공데이터로 수행한 캡스톤 프로젝트예요. 카드마다 재현성 검사 결과와 실행 시간이 표시돼요.</p>
<div class='filters'>
 <label>트랙 <select id='track'><option value=''>전체</option>{track_options}</select></label>
 <label>데이터셋 <select id='dataset'><option value=''>전체</option>{dataset_options}</select></label>
 <span id='count'></span>
</div>
<div class='cards'>{''.join(cards)}</div>
<script>{FILTER_JS}</script>"""
    index = out / "index.html"
    index.write_text(_page("캡스톤 포트폴리오", index_body, 0), encoding="utf-8")
    (out / "projects.json").write_text(json.dumps([p.name for p in projects], ensure_ascii=False), encoding="utf-8")
    write_font_css(out)
    return index
