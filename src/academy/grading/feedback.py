"""Per-student HTML feedback in Korean: points, failed tests' names and messages — never test code."""
from __future__ import annotations

import html
from pathlib import Path

from academy import assignments
from academy.grading import policy
from academy.grading.results import load_results, question_titles

STATUS_KO = {"graded": "채점 완료", "needs_review": "강사 검토 필요", "failed": "채점할 수 없음"}

PAGE = """<!doctype html>
<html lang="ko"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: "Noto Sans KR", "NanumGothic", "Apple SD Gothic Neo", sans-serif; max-width: 860px; margin: 2rem auto; color: #222; }}
table {{ border-collapse: collapse; width: 100%; }} th, td {{ border-bottom: 1px solid #ddd; padding: .45rem; text-align: left; vertical-align: top; }}
.ok {{ color: #1a7f37; }} .bad {{ color: #b42318; }} .muted {{ color: #666; }} .box {{ background: #f6f8fa; padding: .8rem 1rem; border-radius: 6px; }}
</style></head><body>
{body}
</body></html>
"""


def _rows(result: dict, titles: dict[str, str]) -> str:
    rows = []
    for grade_id, test in result.get("tests", {}).items():
        mark = '<span class="ok">통과</span>' if test["passed"] else '<span class="bad">미통과</span>'
        message = html.escape(test.get("message") or "")
        rows.append(
            f"<tr><td>{html.escape(titles.get(grade_id, grade_id))}<br><span class='muted'>{html.escape(grade_id)}</span></td>"
            f"<td>{mark}</td><td>{test['points']:g} / {test['max']:g}</td><td>{message}</td></tr>"
        )
    for grade_id, manual in result.get("manual", {}).items():
        rows.append(
            f"<tr><td>{html.escape(titles.get(grade_id, grade_id))}<br><span class='muted'>{html.escape(grade_id)}</span></td>"
            f"<td>서술형</td><td>– / {manual['max']:g}</td><td>강사가 채점 기준에 따라 채점해요.</td></tr>"
        )
    return "\n".join(rows)


def render(result: dict, titles: dict[str, str], late: policy.Lateness | None = None) -> str:
    status = result["status"]
    head = [
        f"<h1>{html.escape(result['assignment'])} 과제 피드백</h1>",
        f"<p>학생: <b>{html.escape(result['student_id'])}</b> · 상태: <b>{STATUS_KO.get(status, status)}</b></p>",
    ]
    if status == "failed":
        head.append(f"<div class='box bad'>제출물을 채점할 수 없었어요. 이유: {html.escape(result['reason'])}<br>"
                    "강사에게 연락하거나 파일을 고쳐 다시 제출하세요.</div>")
    else:
        head.append(f"<div class='box'>자동 채점 점수: <b>{result['score']:g}</b> / {result['max_score']:g}"
                    " (서술형 문제는 강사가 채점한 뒤 더해져요)</div>")
    if status == "needs_review":
        head.append(f"<p class='muted'>강사가 확인할 내용이 있어요: {html.escape(result['reason'])}</p>")
    if late and late.late_days:
        head.append(f"<p class='bad'>마감 후 {late.late_days}일 늦게 제출되어 {late.penalty_percent:g}% 감점돼요.</p>")
    table = (
        "<table><tr><th>문제</th><th>결과</th><th>점수</th><th>메시지</th></tr>"
        + _rows(result, titles)
        + "</table>"
    )
    tips = "<p class='muted'>실패한 테스트의 메시지를 읽고 해당 문제를 다시 풀어 보세요. 숨겨진 테스트의 내용은 공개하지 않아요.</p>"
    return PAGE.format(title=f"{result['assignment']} 피드백", body="\n".join(head) + table + tips)


def generate(assignment: str, course: Path | None = None) -> list[Path]:
    course = Path(course or assignments.default_course()).resolve()
    titles = question_titles(course, assignment)
    rules = policy.load()
    written = []
    for result in load_results(course, assignment):
        late = policy.lateness(rules, assignment, result["student_id"], result.get("timestamp", ""))
        target = course / "feedback" / result["student_id"] / assignment / "feedback.html"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(render(result, titles, late), encoding="utf-8")
        written.append(target)
    return written
