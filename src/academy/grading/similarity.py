"""Pairwise similarity of students' answer code, normalised so renaming does not hide copying.

Identifiers become ID, literals LIT; comments, whitespace and layout vanish. Similarity of
two students is difflib's ratio over their normalised token streams (all code answers in
question order). Short answer sets are skipped: two one-liners are alike by necessity.
"""
from __future__ import annotations

import difflib
import html
import io
import itertools
import keyword
import token
import tokenize
from pathlib import Path

from academy import assignments
from academy.grading.engine import reports_dir
from academy.grading.results import load_results

KEEP_NAMES = set(dir(__builtins__)) if isinstance(__builtins__, dict) else set(dir(__import__("builtins")))


def normalise(code: str) -> list[str]:
    out: list[str] = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return code.split()
    for tok in tokens:
        if tok.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, token.ENDMARKER):
            continue
        if tok.type == token.NAME:
            out.append(tok.string if keyword.iskeyword(tok.string) or tok.string in KEEP_NAMES else "ID")
        elif tok.type in (token.NUMBER, token.STRING):
            out.append("LIT")
        else:
            out.append(tok.string)
    return out


def _code_answers(result: dict) -> dict[str, str]:
    return {
        k: v
        for k, v in result.get("answers", {}).items()
        if "NotImplementedError" not in v and not v.strip().startswith("여기에 답을")
    }


def pairs(results: list[dict], threshold: float = 0.9, min_tokens: int = 40) -> list[dict]:
    streams = {}
    for r in results:
        answers = _code_answers(r)
        tokens = [t for key in sorted(answers) for t in normalise(answers[key])]
        if len(tokens) >= min_tokens:
            streams[r["student_id"]] = (tokens, answers)
    found = []
    for (a, (ta, aa)), (b, (tb, ab)) in itertools.combinations(sorted(streams.items()), 2):
        ratio = difflib.SequenceMatcher(None, ta, tb, autojunk=False).ratio()
        if ratio >= threshold:
            found.append({"a": a, "b": b, "similarity": round(ratio, 3), "answers_a": aa, "answers_b": ab})
    return sorted(found, key=lambda p: -p["similarity"])


def build(assignment: str, course: Path | None = None, threshold: float = 0.9) -> tuple[Path, list[dict]]:
    course = Path(course or assignments.default_course()).resolve()
    found = pairs(load_results(course, assignment), threshold)
    parts = [
        f"<h1>{html.escape(assignment)} 코드 유사도</h1>",
        f"<p>정규화(이름·값·주석·공백 무시) 후 유사도가 {threshold:.0%} 이상인 쌍: {len(found)}개. "
        "유사도는 부정행위의 증거가 아니라 대화를 시작할 근거예요.</p>",
    ]
    for pair in found:
        parts.append(f"<h2>{html.escape(pair['a'])} ↔ {html.escape(pair['b'])}: {pair['similarity']:.0%}</h2><table width='100%'>")
        for key in sorted(set(pair["answers_a"]) | set(pair["answers_b"])):
            left = html.escape(pair["answers_a"].get(key, ""))
            right = html.escape(pair["answers_b"].get(key, ""))
            parts.append(f"<tr><th colspan=2 align=left>{html.escape(key)}</th></tr><tr><td valign=top><pre>{left}</pre></td><td valign=top><pre>{right}</pre></td></tr>")
        parts.append("</table>")
    target = reports_dir(course, assignment) / "similarity.html"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("<!doctype html><html lang='ko'><head><meta charset='utf-8'><title>유사도</title></head><body>" + "\n".join(parts) + "</body></html>", encoding="utf-8")
    return target, found
