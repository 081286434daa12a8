"""Reading submissions safely and planning what runs where.

A submission is untrusted JSON. ``read_submission`` checks size, JSON, nbformat and
cell shapes before anything is queued. ``plan`` lines the submission up against the
instructor's source notebook: test cells always come from the source (a deleted,
edited, retyped, duplicated, re-tagged or metadata-stripped test is restored and
reported), answer cells come from the submission, and every other student cell runs
in the sandbox in the student's order.
"""
from __future__ import annotations

import ast
import json
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

MAX_NOTEBOOK_BYTES = 8 * 1024 * 1024
MAX_CELLS = 500
MAX_CELL_CHARS = 200_000
SUSPICIOUS = [
    (re.compile(r"input_transformers|ast_transformers|register_magic|events\.register"), "IPython 실행 과정을 바꾸는 코드 (input/ast transformer, event hook)"),
    (re.compile(r"sys\.modules\s*\[|importlib\.reload|__builtins__|builtins\."), "모듈이나 내장 함수를 바꾸는 코드 (monkeypatching)"),
    (re.compile(r"\b__eq__\b|\b__ne__\b|\b__bool__\b"), "비교 연산을 재정의하는 코드 (__eq__/__bool__)"),
    (re.compile(r"os\._exit|sys\.exit|signal\.signal|kill\("), "커널 종료·신호 처리 코드 (os._exit, signal)"),
    (re.compile(r"socket|urllib|requests\.|http\.client"), "네트워크 접근 시도"),
    (re.compile(r"assignments/|gradebook|/source/|submitted/|autograded/"), "과정 폴더(정답·다른 학생 파일) 접근 시도"),
    (re.compile(r"\bfork\(|multiprocessing|subprocess|os\.system"), "프로세스 생성 (fork, subprocess)"),
    (re.compile(r"NBGRADER|nbgrader"), "채점 환경을 감지하려는 코드"),
]


class BadSubmission(Exception):
    """The file cannot be graded; the message is bilingual."""


def _meta(cell: dict) -> dict:
    metadata = cell.get("metadata")
    if not isinstance(metadata, dict):
        return {}
    nbg = metadata.get("nbgrader")
    return nbg if isinstance(nbg, dict) else {}


def _source(cell: dict) -> str:
    src = cell.get("source", "")
    if isinstance(src, list):
        return "".join(s for s in src if isinstance(s, str))
    return src if isinstance(src, str) else ""


def visible_part(text: str) -> str:
    """A test cell as students receive it: the hidden-test region removed, whitespace folded."""
    kept, hidden = [], False
    for line in text.split("\n"):
        if "BEGIN HIDDEN TESTS" in line:
            hidden = True
        elif "END HIDDEN TESTS" in line:
            hidden = False
        elif not hidden and line.strip():
            kept.append(line.rstrip())
    return "\n".join(kept)


def read_submission(path: Path) -> dict:
    """Parse and sanity-check a submitted notebook (never executes anything)."""
    try:
        info = path.lstat()
    except OSError as exc:
        raise BadSubmission(f"제출 파일을 읽을 수 없어요: {exc}\nCannot read the submission: {exc}") from None
    if not stat.S_ISREG(info.st_mode):  # a symlink could point at anyone's file; a FIFO would block
        raise BadSubmission(
            "제출물이 보통 파일이 아니에요 (심볼릭 링크나 특수 파일). 노트북 파일을 그대로 제출하세요.\n"
            "The submission is not a regular file (symlink or special file)."
        )
    size = info.st_size
    if size == 0:
        raise BadSubmission("제출 파일이 비어 있어요.\nThe submitted file is empty.")
    if size > MAX_NOTEBOOK_BYTES:
        raise BadSubmission(
            f"제출 파일이 너무 커요 ({size:,} B, 최대 {MAX_NOTEBOOK_BYTES:,} B). 출력을 지우고 다시 제출하세요.\n"
            f"The submission is too large ({size:,} bytes > {MAX_NOTEBOOK_BYTES:,})."
        )
    try:
        nb = json.loads(path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadSubmission(
            f"노트북 파일(JSON)이 깨져 있어요: {str(exc)[:120]}\nThe notebook is not valid JSON: {str(exc)[:120]}"
        ) from None
    if not isinstance(nb, dict) or nb.get("nbformat") != 4 or not isinstance(nb.get("cells"), list):
        version = nb.get("nbformat") if isinstance(nb, dict) else None
        raise BadSubmission(
            f"지원하지 않는 노트북 형식이에요 (nbformat {version!r}). Jupyter 4 형식으로 저장하세요.\n"
            f"Unsupported notebook format (nbformat {version!r}); expected nbformat 4."
        )
    cells = nb["cells"]
    if len(cells) > MAX_CELLS:
        raise BadSubmission(f"셀이 너무 많아요 ({len(cells)}개).\nToo many cells ({len(cells)}).")
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise BadSubmission(f"{i}번째 셀의 형식이 잘못되었어요.\nCell {i} is malformed.")
        if len(_source(cell)) > MAX_CELL_CHARS:
            raise BadSubmission(f"{i}번째 셀이 너무 길어요.\nCell {i} is too long.")
    return nb


@dataclass
class Step:
    kind: str  # "student" (runs in the sandbox) | "test" (runs trusted)
    source: str
    grade_id: str = ""
    points: float = 0.0


@dataclass
class Plan:
    steps: list[Step]
    tamper: list[str] = field(default_factory=list)
    suspicious: list[str] = field(default_factory=list)
    answers: dict[str, str] = field(default_factory=dict)  # grade_id -> student's answer text
    manual: dict[str, float] = field(default_factory=dict)  # manually graded grade_id -> points
    max_score: float = 0.0


def source_structure(source_nb) -> tuple[dict, dict, list]:
    """(tests {grade_id: cell}, answers {grade_id: cell}, cell order) of the instructor's notebook."""
    tests, answers, order = {}, {}, []
    for cell in source_nb["cells"]:
        meta = _meta(cell)
        grade_id = meta.get("grade_id")
        if not grade_id:
            continue
        order.append(grade_id)
        if meta.get("grade") and not meta.get("solution") and cell["cell_type"] == "code":
            tests[grade_id] = cell
        elif meta.get("solution"):
            answers[grade_id] = cell
    return tests, answers, order


def plan(source_nb, submission_nb, stub: str) -> Plan:
    tests, answers, _ = source_structure(source_nb)
    steps: list[Step] = []
    tamper: list[str] = []
    placed: set[str] = set()
    seen_answers: set[str] = set()
    test_sources = {visible_part(_source(c)): gid for gid, c in tests.items()}
    nb_meta = submission_nb.get("metadata") if isinstance(submission_nb.get("metadata"), dict) else {}
    kernelspec = nb_meta.get("kernelspec") if isinstance(nb_meta.get("kernelspec"), dict) else {}
    sub_kernel = kernelspec.get("name")
    if sub_kernel not in (None, "python3"):
        tamper.append(f"커널 설정이 바뀌었어요 (kernelspec '{sub_kernel}') → python3로 채점")
    for cell in submission_nb["cells"]:
        meta = _meta(cell)
        grade_id = meta.get("grade_id") if isinstance(meta.get("grade_id"), str) else ""
        text = _source(cell)
        tags = (cell.get("metadata") or {}).get("tags") if isinstance(cell.get("metadata"), dict) else None
        if grade_id in tests:
            if grade_id in placed:
                tamper.append(f"테스트 셀 {grade_id}이(가) 중복되었어요 → 한 번만 채점")
                continue
            original = tests[grade_id]
            if visible_part(text) != visible_part(_source(original)):
                tamper.append(f"테스트 셀 {grade_id}이(가) 수정되었어요 → 원본으로 복원")
            if cell.get("cell_type") != "code":
                tamper.append(f"테스트 셀 {grade_id}의 종류가 바뀌었어요 → 원본으로 복원")
            if isinstance(tags, list) and tags:
                tamper.append(f"테스트 셀 {grade_id}에 태그 {tags}가 붙었어요 → 무시")
            steps.append(Step("test", _source(original), grade_id, float(_meta(original).get("points", 0))))
            placed.add(grade_id)
            continue
        if not grade_id and text.strip() and visible_part(text) in test_sources:
            gid = test_sources[visible_part(text)]
            tamper.append(f"테스트 셀 {gid}의 채점 정보(metadata)가 지워졌어요 → 원본으로 복원")
            if gid not in placed:
                steps.append(Step("test", _source(tests[gid]), gid, float(_meta(tests[gid]).get("points", 0))))
                placed.add(gid)
            continue
        if grade_id in answers:
            if grade_id in seen_answers:
                tamper.append(f"답 셀 {grade_id}이(가) 중복되었어요 → 첫 번째만 사용")
                continue
            seen_answers.add(grade_id)
        if cell.get("cell_type") != "code":
            if grade_id in answers:
                seen_answers.add(grade_id)
            continue
        if isinstance(tags, list) and {"skip-execution", "raises-exception"} & set(map(str, tags)):
            tamper.append(f"셀에 실행 제어 태그 {tags}가 붙었어요 → 무시하고 실행")
        steps.append(Step("student", text, grade_id))
    for grade_id, cell in answers.items():
        if grade_id not in seen_answers:
            tamper.append(f"답 셀 {grade_id}이(가) 지워졌어요 → 빈 답으로 채점")
            if cell["cell_type"] == "code":
                steps.append(Step("student", stub, grade_id))
    for grade_id, cell in tests.items():
        if grade_id not in placed:
            tamper.append(f"테스트 셀 {grade_id}이(가) 지워졌어요 → 원본을 마지막에 실행")
            steps.append(Step("test", _source(cell), grade_id, float(_meta(cell).get("points", 0))))
    result = Plan(steps, tamper)
    for cell in submission_nb["cells"]:
        meta = _meta(cell)
        if meta.get("grade_id") in answers:
            result.answers[meta["grade_id"]] = _source(cell)
    for grade_id, cell in answers.items():
        meta = _meta(cell)
        if meta.get("grade"):
            result.manual[grade_id] = float(meta.get("points", 0))
    result.max_score = sum(float(_meta(c).get("points", 0)) for c in tests.values()) + sum(result.manual.values())
    code = "\n".join(s.source for s in steps if s.kind == "student")
    result.suspicious = sorted({label for pattern, label in SUSPICIOUS if pattern.search(code)})
    return result


def names_read_first(code: str) -> set[str]:
    """Names a test cell reads before it assigns them itself: the values it needs from outside.

    Statement by statement at module level (a `for` binds its target before its body runs);
    names bound by comprehensions, lambdas and function parameters are their own.
    """
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    free: set[str] = set()
    bound: set[str] = set()

    def reads(node) -> set[str]:
        names, local = set(), set()
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                names.add(sub.id)
            elif isinstance(sub, ast.AugAssign) and isinstance(sub.target, ast.Name):
                names.add(sub.target.id)  # x += 1 reads x
            elif isinstance(sub, ast.comprehension):
                local |= {n.id for n in ast.walk(sub.target) if isinstance(n, ast.Name)}
            elif isinstance(sub, ast.arg):
                local.add(sub.arg)
        return names - local

    def visit(statements) -> None:
        for node in statements:
            if isinstance(node, (ast.For, ast.AsyncFor)):
                free.update(reads(node.iter) - bound)
                bound.update(n.id for n in ast.walk(node.target) if isinstance(n, ast.Name))
                visit(node.body + node.orelse)
            else:
                free.update(reads(node) - bound)
                bound.update(_bound_by([node]))

    visit(tree.body)
    return free


def names_assigned(code: str) -> set[str]:
    """Module-level names an answer cell defines (not the locals of its functions)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return set()
    return _bound_by(tree.body)


def _bound_by(statements: list) -> set[str]:
    found: set[str] = set()

    def targets(node) -> None:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                found.add(sub.id)

    def visit(statements) -> None:
        for node in statements:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                found.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                found.update((a.asname or a.name).split(".")[0] for a in node.names)
            elif isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                    targets(target)
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                targets(node.target)
                visit(node.body + node.orelse)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        targets(item.optional_vars)
                visit(node.body)
            elif isinstance(node, (ast.If, ast.While)):
                visit(node.body + node.orelse)
            elif isinstance(node, ast.Try):
                visit(node.body + node.orelse + node.finalbody)
                for handler in node.handlers:
                    if handler.name:
                        found.add(handler.name)
                    visit(handler.body)
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.NamedExpr):
                targets(node.value.target)

    visit(statements)
    return found
