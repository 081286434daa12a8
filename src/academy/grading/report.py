"""The instructor's report: distribution, item analysis, problems, and an LMS export."""
from __future__ import annotations

import csv
import html
from pathlib import Path

import numpy as np
import pandas as pd

from academy import assignments
from academy.grading import policy
from academy.grading.engine import reports_dir
from academy.grading.results import load_results, question_titles


def item_table(results: list[dict], titles: dict[str, str]) -> pd.DataFrame:
    """Per test: pass rate, difficulty (mean share of points) and discrimination.

    Discrimination is the correlation between the item's score share and the rest of
    the student's autograded score (corrected item–total correlation).
    """
    graded = [r for r in results if r["status"] != "failed" and r.get("tests")]
    rows = []
    grade_ids = list(graded[0]["tests"]) if graded else []
    totals = np.array([r["score"] for r in graded], dtype=float)
    for grade_id in grade_ids:
        shares = np.array([r["tests"][grade_id]["points"] / (r["tests"][grade_id]["max"] or 1) for r in graded])
        points = np.array([r["tests"][grade_id]["points"] for r in graded], dtype=float)
        rest = totals - points
        if len(graded) > 2 and shares.std() > 0 and rest.std() > 0:
            discrimination = float(np.corrcoef(shares, rest)[0, 1])
        else:
            discrimination = float("nan")
        rows.append(
            {
                "grade_id": grade_id,
                "question": titles.get(grade_id, grade_id),
                "pass_rate": float(np.mean([r["tests"][grade_id]["passed"] for r in graded])),
                "difficulty": float(shares.mean()),
                "discrimination": discrimination,
            }
        )
    return pd.DataFrame(rows, columns=["grade_id", "question", "pass_rate", "difficulty", "discrimination"])


def lms_rows(results: list[dict], assignment: str, rules: dict) -> list[dict]:
    rows = []
    for r in results:
        late = policy.lateness(rules, assignment, r["student_id"], r.get("timestamp", ""))
        failed = r["status"] == "failed"
        final = None if failed else round(r["score"] * (1 - late.penalty_percent / 100), 2)
        rows.append(
            {
                "student_id": r["student_id"],
                "assignment": assignment,
                "status": r["status"],
                "raw_score": "" if failed else r["score"],
                "late_days": late.late_days,
                "late_penalty_percent": late.penalty_percent,
                "final_score": "" if failed else final,
                "max_score": r["max_score"],
                "submitted_at": late.submitted.isoformat() if late.submitted else "",
                "due": late.due.isoformat() if late.due else "",
                "extension": "yes" if late.extended else "",
                "note": r["reason"].replace("\n", " / "),
            }
        )
    return rows


def _figures(results: list[dict], items: pd.DataFrame, folder: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from academy import plotting

    plotting.setup()
    graded = [r["score"] for r in results if r["status"] != "failed"]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2))
    axes[0].hist(graded, bins=min(20, max(5, len(graded) // 2)), color=plotting.PALETTE[0])
    axes[0].set_title("자동 채점 점수 분포")
    axes[0].set_xlabel("점수 (점)")
    axes[0].set_ylabel("학생 수 (명)")
    if len(items):
        order = items.sort_values("pass_rate")
        axes[1].barh(order["grade_id"], order["pass_rate"] * 100, color=plotting.PALETTE[1])
    axes[1].set_title("문항별 통과율")
    axes[1].set_xlabel("통과율 (%)")
    axes[1].set_ylabel("테스트")
    fig.tight_layout()
    target = folder / "report.png"
    fig.savefig(target)
    plt.close(fig)
    return [target.name]


def build(assignment: str, course: Path | None = None) -> dict[str, Path]:
    course = Path(course or assignments.default_course()).resolve()
    results = load_results(course, assignment)
    titles = question_titles(course, assignment)
    rules = policy.load()
    folder = reports_dir(course, assignment)
    items = item_table(results, titles)
    lms = lms_rows(results, assignment, rules)
    lms_path = folder / "lms_export.csv"
    with lms_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(lms[0]) if lms else ["student_id"])
        writer.writeheader()
        writer.writerows(lms)
    images = _figures(results, items, folder)
    graded = [r for r in results if r["status"] != "failed"]
    scores = pd.Series([r["score"] for r in graded], dtype=float)
    problems = [r for r in results if r["status"] != "graded"]
    slowest = sorted(results, key=lambda r: r.get("seconds", 0), reverse=True)[:5]
    hard = items.sort_values("difficulty").head(3) if len(items) else items
    parts = [
        f"<h1>{html.escape(assignment)} 채점 보고서</h1>",
        f"<p>제출 {len(results)}건 · 채점 완료 {sum(r['status'] == 'graded' for r in results)} · "
        f"검토 필요 {sum(r['status'] == 'needs_review' for r in results)} · 채점 불가 {sum(r['status'] == 'failed' for r in results)}</p>",
        f"<p>평균 {scores.mean():.1f}점 · 중앙값 {scores.median():.1f}점 · 표준편차 {scores.std():.1f}점 (자동 채점, 채점 불가 제외)</p>" if len(scores) else "",
        *[f"<img src='{name}' alt='점수 분포와 문항별 통과율' style='max-width:100%'>" for name in images],
        "<h2>문항 분석 (item analysis)</h2><p>난이도 = 평균 득점 비율(낮을수록 어려움), 변별도 = 문항 점수와 나머지 점수의 상관(0.2 미만이면 문항을 다시 검토하세요).</p>",
        items.to_html(index=False, float_format=lambda v: f"{v:.2f}", na_rep="–") if len(items) else "<p>없음</p>",
        "<h3>가장 어려운 문항</h3><ul>" + "".join(f"<li>{html.escape(q)} — 난이도 {d:.2f}</li>" for q, d in zip(hard.get("question", []), hard.get("difficulty", []))) + "</ul>",
        "<h2>확인이 필요한 제출물</h2><table border=1 cellpadding=4><tr><th>학생</th><th>상태</th><th>이유</th></tr>"
        + "".join(f"<tr><td>{html.escape(r['student_id'])}</td><td>{r['status']}</td><td>{html.escape(r['reason'])}</td></tr>" for r in problems)
        + "</table>",
        "<h2>가장 오래 걸린 제출물</h2><ul>" + "".join(f"<li>{html.escape(r['student_id'])}: {r.get('seconds', 0):.1f}초</li>" for r in slowest) + "</ul>",
        f"<p>LMS 업로드용 CSV: <a href='{lms_path.name}'>{lms_path.name}</a> (지각 감점 반영, 채점 불가는 빈 칸)</p>",
    ]
    page = folder / "report.html"
    page.write_text(
        "<!doctype html><html lang='ko'><head><meta charset='utf-8'><title>채점 보고서</title>"
        "<style>body{font-family:'Noto Sans KR','NanumGothic',sans-serif;max-width:1000px;margin:2rem auto}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>",
        encoding="utf-8",
    )
    items.to_csv(folder / "items.csv", index=False)
    return {"html": page, "png": folder / images[0], "lms": lms_path, "items": folder / "items.csv"}
