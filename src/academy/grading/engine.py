"""`academy grade`: sandboxed, tamper-proof, parallel, resumable autograding.

For each submission a worker process (one sandbox slot each) starts a sandboxed kernel,
runs the student's cells there in order, and at each test cell's position runs the
instructor's test *in the worker*, with the student's values brought over as plain data
(see codec.py) and the student's functions as call proxies. Results are written per
submission as JSON (atomically) and keyed by a content hash, so a killed batch resumes
and an unchanged batch re-grades nothing. The main process is the only gradebook writer.

Trusted mode for assignment authors (docs/authoring-assignments.md): setup cells (code
cells without nbgrader metadata in the source) run in the grader too, so tests can use
their names (e.g. ``stores``) and helpers like ``assert_same``; setup must not depend on
answers, and tests must not mutate setup data.
"""
from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import multiprocessing
import os
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import nbformat

from academy import assignments, config
from academy.grading import codec
from academy.grading.submissions import BadSubmission, names_assigned, names_read_first, plan, read_submission
from academy.sandbox import KernelGone, SandboxKernel

ENGINE_VERSION = "1"
CELL_TIMEOUT = float(os.environ.get("ACADEMY_GRADE_CELL_TIMEOUT", 30))  # stock nbgrader: 30 s
SUBMISSION_TIMEOUT = float(os.environ.get("ACADEMY_GRADE_SUBMISSION_TIMEOUT", 300))
STATUS_GRADED, STATUS_REVIEW, STATUS_FAILED = "graded", "needs_review", "failed"
# A student cell that stops on one of these hit a sandbox limit: the instructor should look.
LIMIT_ERRORS = {
    "MemoryError": "메모리 제한에 걸렸어요 (memory limit hit)",
    "BlockingIOError": "프로세스 수 제한에 걸렸을 수 있어요 (process limit hit?)",
}


class GradingError(Exception):
    """The instructor's input is wrong (unknown assignment, missing course)."""


@dataclass
class Job:
    assignment: str
    student: str
    submission: str
    source: str
    key: str
    result_path: str
    timestamp: str


# --------------------------------------------------------------------------- paths


def reports_dir(course: Path, assignment: str) -> Path:
    return course / "reports" / assignment


def result_path(course: Path, assignment: str, student: str) -> Path:
    return reports_dir(course, assignment) / "results" / f"{student}.json"


def _sha(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.hexdigest()


def discover(course: Path, assignment: str, students: list[str] | None = None) -> list[Job]:
    source_files = assignments.source_notebooks(assignment, course)
    if not source_files:
        raise GradingError(
            f"과제 '{assignment}'의 원본 노트북이 없어요 ({course / 'source' / assignment}).\n"
            f"No source notebook for assignment '{assignment}'."
        )
    source = source_files[0]
    engine = _sha(*(p.read_bytes() for p in sorted(Path(__file__).parent.glob("*.py"))))
    jobs = []
    submitted = course / "submitted"
    for folder in sorted(submitted.glob(f"*/{assignment}")) if submitted.exists() else []:
        student = folder.parent.name
        if students and student not in students:
            continue
        notebook = folder / source.name
        candidates = [notebook] if notebook.exists() else sorted(folder.glob("*.ipynb"))
        target = candidates[0] if candidates else notebook
        stamp = folder / "timestamp.txt"
        timestamp = stamp.read_text().strip() if stamp.exists() else ""
        content = target.read_bytes() if target.exists() else b""
        key = _sha(content, source.read_bytes(), engine.encode(), ENGINE_VERSION.encode(), timestamp.encode())
        jobs.append(
            Job(assignment, student, str(target), str(source), key, str(result_path(course, assignment, student)), timestamp)
        )
    return jobs


# --------------------------------------------------------------------------- worker side

_TRUSTED: dict[str, tuple[dict, set]] = {}


def _init_worker(env: dict[str, str]) -> None:
    os.environ.update(env)
    import jupyter_client  # noqa: F401 - pay imports once per worker
    import pandas  # noqa: F401

    from academy.sandbox import fork_server

    fork_server()  # starts importing the kernels' libraries while the first job is prepared


def _trusted_namespace(source_path: str) -> tuple[dict, set]:
    """Run the source's setup cells in the grader (once per worker and assignment)."""
    if source_path in _TRUSTED:
        return _TRUSTED[source_path]
    source = nbformat.read(source_path, 4)
    namespace: dict = {"__name__": "__academy_trusted__"}
    answer_names: set[str] = set()
    for cell in source.cells:
        if cell.cell_type == "code" and cell.metadata.get("nbgrader", {}).get("solution"):
            answer_names |= names_assigned(cell.source)
    for code in _setup_cells(source):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            try:
                exec(compile(code, "<setup>", "exec"), namespace)  # noqa: S102 - instructor code
            except Exception:
                pass  # setup that needs answers is skipped; tests then read the student's value
    _TRUSTED[source_path] = (namespace, answer_names)
    return namespace, answer_names


def _setup_cells(source) -> list[str]:
    """The source's setup code: code cells that are neither answers nor tests."""
    setup = []
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and not meta.get("solution") and not meta.get("grade"):
            setup.append(cell.source)
    return setup


def _setup_tables(source) -> list[tuple[str, str | None]]:
    """The tables the assignment's setup cells load (kept parsed by the sandbox's fork server)."""
    from academy import data

    return data.loaded_tables("\n".join(_setup_cells(source)))


class _StudentValueError(AssertionError):
    pass


class _Opaque:
    """A student value the grader cannot bring over; any use fails the test clearly."""

    def __init__(self, name: str, why: str):
        self._why = f"'{name}'의 값을 채점할 수 없는 형식이에요 ({why})."

    def __getattr__(self, item):
        raise _StudentValueError(self._why)

    def __eq__(self, other):
        raise _StudentValueError(self._why)

    def __bool__(self):
        raise _StudentValueError(self._why)

    __hash__ = None


class _StudentFunction:
    """Calls a student's function inside the sandbox with plain-data arguments."""

    def __init__(self, kernel: SandboxKernel, name: str, refs: dict[int, str]):
        self.kernel, self.name, self.refs = kernel, name, refs
        self.__name__ = name

    def _arg(self, value):
        if id(value) in self.refs:
            return {"ref": self.refs[id(value)]}
        return {"data": codec.encode(value)}

    def __call__(self, *args, **kwargs):
        reply = self.kernel.request(
            {"op": "call", "name": self.name, "args": [self._arg(a) for a in args], "kwargs": {k: self._arg(v) for k, v in kwargs.items()}},
            timeout=CELL_TIMEOUT,
        )
        if "raised" in reply:
            raise _StudentValueError(f"함수 {self.name}()에서 오류가 났어요: {reply['raised']}: {reply['message']}")
        if "value" in reply:
            return codec.decode(reply["value"])
        raise _StudentValueError(f"함수 {self.name}()의 결과를 채점할 수 없어요 ({reply.get('unsupported') or reply.get('error')}).")


def _fetch(kernel: SandboxKernel, name: str, refs: dict[int, str], replies: dict[str, dict]):
    """The student's value of a name; ``replies`` keeps raw replies for a test's second run."""
    if name not in replies:
        replies[name] = kernel.request({"op": "get", "name": name}, timeout=CELL_TIMEOUT)
    reply = replies[name]
    if reply.get("missing"):
        return None, False
    if "value" in reply:
        value = reply["value"]
        if isinstance(value, dict) and "callable" in value:
            return _StudentFunction(kernel, name, refs), True
        if isinstance(value, dict) and "module" in value:
            return None, False
        try:
            return codec.decode(value), True
        except codec.Unsupported as exc:
            return _Opaque(name, str(exc)), True
    return _Opaque(name, reply.get("unsupported") or reply.get("error", "?")), True


def _run_test(step, kernel: SandboxKernel, trusted: dict, answer_names: set[str], replies: dict) -> tuple[float, str]:
    """Run one instructor test in the grader; returns (points earned, message)."""
    import ast
    import builtins

    namespace = dict(trusted)
    # Large setup objects (e.g. `stores`) are passed to student functions by name, not copied;
    # scalars and tuples never are: small ints and strings are shared objects in Python.
    refs = {
        id(v): k
        for k, v in trusted.items()
        if not k.startswith("__") and k not in answer_names and not isinstance(v, (int, float, str, bytes, bool, tuple, type(None)))
    }
    for name in sorted(names_read_first(step.source)):
        if name not in answer_names and (name in trusted or hasattr(builtins, name)):
            continue  # the instructor's own names and Python's builtins stay trusted
        try:
            value, found = _fetch(kernel, name, refs, replies)
        except KernelGone as exc:
            return 0.0, f"{exc}"
        if found:
            namespace[name] = value
        else:
            namespace.pop(name, None)
    tree = ast.parse(step.source)
    tail = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    sink = io.StringIO()
    try:
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            exec(compile(tree, f"<test {step.grade_id}>", "exec"), namespace)  # noqa: S102 - instructor test
            value = eval(compile(ast.Expression(tail.value), "<test>", "eval"), namespace) if tail else None  # noqa: S307
    except KernelGone as exc:
        return 0.0, str(exc)
    except NameError as exc:
        missing = str(exc).split("'")[1] if "'" in str(exc) else str(exc)
        return 0.0, f"변수나 함수 '{missing}'이(가) 없어요. 문제에서 정한 이름으로 답을 만들었는지 확인하세요."
    except AssertionError as exc:
        return 0.0, str(exc) or "테스트를 통과하지 못했어요 (AssertionError)."
    except Exception as exc:
        return 0.0, f"{type(exc).__name__}: {str(exc)[:300]}"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return max(0.0, min(float(value), step.points)), "부분 점수 (partial credit)"
    return step.points, ""


def _student_message(step, kernel, trusted, answer_names, replies, detail: str) -> str:
    """Hidden tests' messages can reveal expected values: students see the visible part's message."""
    import dataclasses

    from academy.grading.submissions import visible_part

    visible = dataclasses.replace(step, source=visible_part(step.source))
    points, message = _run_test(visible, kernel, trusted, answer_names, replies)
    if points < step.points:
        return message
    if "변수나 함수" in detail or "커널" in detail or "시간 초과" in detail:
        return detail  # missing names, a dead kernel or a timeout reveal nothing hidden
    return "숨겨진 테스트를 통과하지 못했어요. 다른 입력(다른 구·군, 다른 연도 등)에서도 맞는지 확인하세요. (hidden test failed)"


def _blank_result(job: Job) -> dict:
    return {
        "assignment": job.assignment,
        "student_id": job.student,
        "key": job.key,
        "timestamp": job.timestamp,
        "status": STATUS_GRADED,
        "reason": "",
        "tests": {},
        "manual": {},
        "score": 0.0,
        "max_score": 0.0,
        "seconds": 0.0,
        "tamper": [],
        "suspicious": [],
        "answers": {},
    }


def grade_one(job: Job, course: str) -> dict:
    """Grade one submission in this worker's sandbox slot; never raises."""
    from academy.sandbox import Sandbox

    started = time.monotonic()
    result = _blank_result(job)
    source = nbformat.read(job.source, 4)
    try:
        submission = read_submission(Path(job.submission))
    except BadSubmission as exc:
        steps_plan = plan(source, {"cells": [], "metadata": {}}, assignments.STUB)
        result.update(status=STATUS_FAILED, reason=str(exc), max_score=steps_plan.max_score)
        result["seconds"] = round(time.monotonic() - started, 2)
        return result
    steps_plan = plan(source, submission, assignments.STUB)
    result.update(max_score=steps_plan.max_score, tamper=steps_plan.tamper, suspicious=steps_plan.suspicious, answers=steps_plan.answers)
    result["manual"] = {gid: {"max": pts} for gid, pts in steps_plan.manual.items()}
    trusted, answer_names = _trusted_namespace(job.source)
    runtime = config.build_dir() / "sandbox"
    masks = [Path(course) / d for d in ("source", "submitted", "autograded", "feedback", "release", "reports", "gradebook.db")]
    masks += [config.project_root() / d for d in (".git", "tests", "assignments", "grading")]
    # Slot 0 is only a preference: each worker claims a free sandbox uid for its lifetime.
    sandbox = Sandbox(0, runtime, [m for m in masks if m.exists()], preload=_setup_tables(source))
    try:
        kernel = SandboxKernel(sandbox)
    except Exception as exc:
        sandbox.cleanup()
        result.update(status=STATUS_FAILED, reason=f"채점 환경(sandbox)을 시작하지 못했어요: {exc}\nSandbox failed to start: {exc}")
        result["seconds"] = round(time.monotonic() - started, 2)
        return result
    executed_cells = []
    limits_hit: list[str] = []
    try:
        for step in steps_plan.steps:
            remaining = SUBMISSION_TIMEOUT - (time.monotonic() - started)
            if remaining <= 0 and not kernel.dead_reason:
                kernel.kill(f"제출물 전체 실행 시간 초과 ({SUBMISSION_TIMEOUT}초) (submission timeout)")
            if step.kind == "student":
                try:
                    outputs, error = kernel.run(step.source, min(CELL_TIMEOUT, max(remaining, 1)))
                except KernelGone as exc:
                    outputs, error = [nbformat.v4.new_output("stream", name="stderr", text=f"실행하지 않았어요: {exc}")], ""
                if error in LIMIT_ERRORS and LIMIT_ERRORS[error] not in limits_hit:
                    limits_hit.append(LIMIT_ERRORS[error])
                executed_cells.append(("code", step, outputs))
            else:
                replies: dict[str, dict] = {}  # values are fetched once per test
                points, detail = _run_test(step, kernel, trusted, answer_names, replies)
                message = detail
                if points < step.points and "BEGIN HIDDEN TESTS" in step.source:
                    message = _student_message(step, kernel, trusted, answer_names, replies, detail)
                result["tests"][step.grade_id] = {
                    "points": points, "max": step.points, "passed": points >= step.points,
                    "message": message,  # shown to the student
                    "detail": detail,  # for the instructor (may reveal hidden expected values)
                }
                executed_cells.append(("test", step, points, detail))
    except Exception as exc:  # an engine bug must not lose the submission
        result.update(status=STATUS_FAILED, reason=f"채점 중 내부 오류: {exc}\nInternal grading error: {traceback.format_exc()[-600:]}")
    finally:
        dead = kernel.dead_reason
        kernel.close()
    result["score"] = round(sum(t["points"] for t in result["tests"].values()), 3)
    reasons = []
    if dead:
        reasons.append(dead)
    reasons += limits_hit
    reasons += steps_plan.tamper
    reasons += [f"의심스러운 코드: {s}" for s in steps_plan.suspicious]
    if result["status"] == STATUS_GRADED and reasons:
        result["status"] = STATUS_REVIEW
        result["reason"] = "; ".join(reasons)
    result["seconds"] = round(time.monotonic() - started, 2)
    result["autograded"] = _autograded_notebook(source, executed_cells)
    return result


def _autograded_notebook(source, executed_cells) -> str:
    """The graded notebook for formgrader: student cells with outputs, tests with results."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    by_id = {c.metadata.get("nbgrader", {}).get("grade_id"): c for c in source.cells}
    for entry in executed_cells:
        if entry[0] == "code":
            _, step, outputs = entry
            cell = nbformat.v4.new_code_cell(step.source)
            cell.outputs = outputs
            if step.grade_id in by_id:
                cell.metadata["nbgrader"] = dict(by_id[step.grade_id].metadata["nbgrader"])
        else:
            _, step, points, message = entry
            cell = nbformat.v4.new_code_cell(step.source)
            cell.metadata["nbgrader"] = dict(by_id[step.grade_id].metadata["nbgrader"])
            if points < step.points:
                cell.outputs = [nbformat.v4.new_output("error", ename="TestFailed", evalue=message, traceback=[message])]
            elif message:
                cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": str(points)}, execution_count=None)]
        nb.cells.append(cell)
    return nbformat.writes(nb)


# --------------------------------------------------------------------------- driver


def _write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)


def _protect(course: Path) -> None:
    """Solutions, hidden tests, other students' work and the gradebook: root only."""
    for name in ("source", "submitted", "autograded", "feedback", "reports", "release"):
        path = course / name
        if path.exists():
            os.chmod(path, 0o700)
    if (course / "gradebook.db").exists():
        os.chmod(course / "gradebook.db", 0o600)


def grade(
    assignment: str,
    course: Path | None = None,
    jobs: int = 2,
    students: list[str] | None = None,
    progress: bool = True,
) -> list[dict]:
    """Grade every submission of an assignment; returns one result per submission."""
    from academy.sandbox import available

    course = Path(course or assignments.default_course()).resolve()
    if not course.exists():
        raise GradingError(f"과정 폴더가 없어요: {course}\nCourse directory not found: {course}")
    if assignment not in assignments.assignment_ids(course):
        known = ", ".join(assignments.assignment_ids(course))
        raise GradingError(f"없는 과제예요: '{assignment}' (있는 과제: {known})\nUnknown assignment '{assignment}'.")
    ok, why = available()
    if not ok:
        raise GradingError(f"안전한 채점 환경을 만들 수 없어요: {why}\nCannot build the grading sandbox: {why}")
    _ensure_released(assignment, course)
    work = discover(course, assignment)
    _protect(course)
    results: dict[str, dict] = {}
    todo = []
    for job in work:
        path = Path(job.result_path)
        previous = {}
        if path.exists():
            try:
                previous = json.loads(path.read_text(encoding="utf-8"))
            except ValueError:
                previous = {}
        selected = not students or job.student in students
        if previous.get("key") == job.key or (previous and not selected):
            results[job.student] = previous  # unchanged, or not asked for this time
        elif selected:
            todo.append(job)
    # Structure and size are checked before anything is queued: a broken file never
    # occupies a sandbox, and it is reported (and kept) like every other result.
    queued = []
    for job in todo:
        try:
            read_submission(Path(job.submission))
        except BadSubmission:
            result = grade_one(job, str(course))  # returns at once with status "failed"
            _write_json(Path(job.result_path), result)
            results[job.student] = result
        else:
            queued.append(job)
    todo = queued
    if todo:
        _run_jobs(todo, course, jobs, results, progress)
    everyone = [results[j.student] for j in work if j.student in results]
    record_gradebook(course, assignment, everyone)
    write_grades_csv(course, assignment, everyone)
    return [results[j.student] for j in work if not students or j.student in students]


def _ensure_released(assignment: str, course: Path) -> None:
    """The gradebook needs the assignment's cells (nbgrader generate_assignment)."""
    from nbgrader.api import Gradebook, MissingEntry

    assignments._put_interpreter_on_path()
    db = course / "gradebook.db"
    if db.exists():
        with Gradebook(f"sqlite:///{db}", "busan-data-academy") as gb:
            try:
                gb.find_assignment(assignment)
                return
            except MissingEntry:
                pass
    ok, log = assignments.release([assignment], course)[assignment]
    if not ok:
        raise GradingError(f"과제를 gradebook에 등록하지 못했어요:\n{log[-800:]}")


def _running_marker(job: Job) -> Path:
    """Exists while a worker grades the job: tells which jobs a dead worker was holding."""
    return Path(job.result_path).with_suffix(".running")


def _graded_in_worker(job: Job, course: str) -> dict:
    marker = _running_marker(job)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    return grade_one(job, course)


def _crashed(job: Job, why: str) -> dict:
    result = _blank_result(job)
    # No key: the next run grades it again.
    result.update(key="", status=STATUS_FAILED, reason=f"채점 프로세스가 중단되었어요: {why}\nThe grading worker crashed: {why}")
    return result


def _run_jobs(todo: list[Job], course: Path, jobs: int, results: dict, progress: bool) -> None:
    """Grade in worker processes. If a worker dies (killed, crashed), the jobs it may have been
    holding are graded again one at a time, so only a submission that kills its worker fails,
    and jobs that never started go to a fresh pool."""
    from academy.execute import progress_bar, quiet_home_env

    env = quiet_home_env(config.build_dir() / "home")
    env["ACADEMY_ROOT"] = str(config.project_root())
    env["ACADEMY_CACHE_DIR"] = os.environ.get("ACADEMY_CACHE_DIR", str(config.cache_dir()))
    bar = progress_bar(len(todo), progress, "채점 (grading)", lambda r: f"{r['student_id']}: {r['status']}")

    def finish(job: Job, result: dict) -> None:
        autograded = result.pop("autograded", None)
        if autograded:
            target = course / "autograded" / job.student / job.assignment / Path(job.source).name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(autograded, encoding="utf-8")
        _write_json(Path(job.result_path), result)
        _running_marker(job).unlink(missing_ok=True)
        results[job.student] = result
        bar(result)

    pending = todo
    while pending:
        broken = _pool(pending, course, jobs, env, finish)
        held = [job for job in broken if _running_marker(job).exists()]
        if not held and len(broken) == len(pending):
            for job in broken:  # workers die before taking any job: nothing can be graded
                finish(job, _crashed(job, "worker processes cannot start"))
            break
        pending = [job for job in broken if job not in held]
        for job in held:
            _running_marker(job).unlink(missing_ok=True)
            for again in _pool([job], course, 1, env, finish):
                finish(again, _crashed(again, "the worker died while grading this submission, twice"))
    bar(None)


def _pool(todo: list[Job], course: Path, jobs: int, env: dict, finish) -> list[Job]:
    """Run jobs in one process pool; returns the jobs lost when the pool broke."""
    from concurrent.futures.process import BrokenProcessPool

    for job in todo:
        _running_marker(job).unlink(missing_ok=True)
    context = multiprocessing.get_context("spawn")
    lost = []
    with ProcessPoolExecutor(max(1, min(jobs, len(todo))), mp_context=context, initializer=_init_worker, initargs=(env,)) as pool:
        futures = {pool.submit(_graded_in_worker, job, str(course)): job for job in todo}
        for future in as_completed(futures):
            job = futures[future]
            try:
                finish(job, future.result())
            except BrokenProcessPool:
                lost.append(job)
            except Exception as exc:  # grade_one never raises; this is a bug in the engine
                finish(job, _crashed(job, repr(exc)))
    return lost


def record_gradebook(course: Path, assignment: str, results: list[dict]) -> None:
    """The single writer: scores into nbgrader's gradebook (formgrader, nbgrader export)."""
    import warnings

    from nbgrader.api import Gradebook, MissingEntry

    source = assignments.source_notebooks(assignment, course)[0]
    notebook_id = source.stem
    with warnings.catch_warnings():
        # nbgrader 0.9 + SQLAlchemy 2.x warn about autoflush inside add_submission; harmless.
        warnings.simplefilter("ignore")
        with Gradebook(f"sqlite:///{course / 'gradebook.db'}", "busan-data-academy") as gb:
            for result in results:
                student = result["student_id"]
                try:
                    gb.find_student(student)
                except MissingEntry:
                    gb.add_student(student)
                extra = {"timestamp": result["timestamp"]} if result.get("timestamp") else {}
                gb.update_or_create_submission(assignment, student, **extra)
                for grade_id, test in result.get("tests", {}).items():
                    try:
                        grade_row = gb.find_grade(grade_id, notebook_id, assignment, student)
                    except MissingEntry:
                        continue
                    grade_row.auto_score = None if result["status"] == STATUS_FAILED else test["points"]
                    grade_row.needs_manual_grade = result["status"] != STATUS_GRADED
                gb.db.commit()


def write_grades_csv(course: Path, assignment: str, results: list[dict]) -> Path:
    target = reports_dir(course, assignment) / "grades.csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with tmp.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["student_id", "score", "max_score", "status", "reason"])
        for r in results:
            score = "" if r["status"] == STATUS_FAILED else f"{r['score']:g}"
            writer.writerow([r["student_id"], score, f"{r['max_score']:g}", r["status"], r["reason"].replace("\n", " / ")])
    tmp.replace(target)
    return target
