"""The `academy` command: a thin layer over the package's jobs.

Messages meant for instructors and students are in Korean (English in
parentheses where it helps).
"""
from __future__ import annotations

import json
from pathlib import Path

import typer

from academy import config

app = typer.Typer(help="부산 빅데이터 아카데미 과정 도구 (Busan Big Data Academy course toolkit)", no_args_is_help=True)
data_app = typer.Typer(help="데이터 카탈로그 (data catalog)", no_args_is_help=True)
app.add_typer(data_app, name="data")
capstone_app = typer.Typer(help="캡스톤 프로젝트 (capstone projects)", no_args_is_help=True)
app.add_typer(capstone_app, name="capstone")
assign_app = typer.Typer(help="nbgrader 과제 (assignments)", no_args_is_help=True)
app.add_typer(assign_app, name="assign")


def _fail(message: str, code: int = 2) -> None:
    typer.secho(message, fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


# --------------------------------------------------------------------------- data


@data_app.command("list")
def data_list() -> None:
    """카탈로그의 데이터셋 목록을 보여 줍니다."""
    from rich.console import Console
    from rich.table import Table

    from academy import data

    cat = data.catalog()
    table = Table("id", "제목 (title)", "분야 (domain)", "표 (tables)")
    for dataset_id in cat.ids():
        entry = cat.entry(dataset_id)
        table.add_row(
            dataset_id,
            entry["title"]["ko"],
            entry.get("domain", ""),
            ", ".join(entry["tables"]),
        )
    Console().print(table)


@data_app.command("info")
def data_info(dataset_id: str) -> None:
    """데이터셋 한 개의 출처, 라이선스, 파일, 열 설명을 보여 줍니다."""
    from academy import data

    try:
        entry = data.info(dataset_id)
    except data.DataError as exc:
        _fail(str(exc))
    typer.echo(f"{dataset_id}: {entry['title']['ko']} ({entry['title']['en']})")
    for key in ("publisher", "licence", "attribution", "description", "notes"):
        if entry.get(key):
            typer.echo(f"  {key}: {entry[key]}")
    for name, spec in entry["files"].items():
        typer.echo(f"  file {name}: {spec.get('size', '?')} B, sha256 {spec['sha256'][:16]}…")
    for table in entry["tables"]:
        typer.echo(f"\n  table '{table}':")
        typer.echo(data.describe_columns(dataset_id, table).to_string(index=False))


def _print_file_status(results) -> int:
    bad = [r for r in results if not r.ok]
    for r in results:
        mark = "OK  " if r.ok else "FAIL"
        typer.echo(f"{mark} {r.dataset}/{r.file}" + ("" if r.ok else f"\n     {r.message}"))
    typer.echo(f"{len(results) - len(bad)}/{len(results)} 파일 확인 완료 (files verified)")
    return len(bad)


@data_app.command("verify")
def data_verify(dataset_ids: list[str] | None = typer.Argument(None)) -> None:
    """모든 데이터 파일의 sha256 체크섬을 확인합니다 (내려받지 않음)."""
    from academy import data

    if _print_file_status(data.verify(dataset_ids or None)):
        raise typer.Exit(1)


@data_app.command("fetch")
def data_fetch(dataset_ids: list[str] | None = typer.Argument(None)) -> None:
    """없는 파일을 공개 URL에서 내려받아 캐시에 저장하고 확인합니다."""
    from academy import data

    if _print_file_status(data.fetch(dataset_ids or None)):
        raise typer.Exit(1)


@data_app.command("export")
def data_export(
    target: Path = typer.Argument(..., help="만들 미러 폴더"),
    dataset_ids: list[str] | None = typer.Argument(None),
) -> None:
    """확인된 데이터 파일을 미러 폴더로 복사합니다 (인터넷 없는 교실에서 ACADEMY_DATA_DIR로 사용)."""
    from academy import data

    bad = _print_file_status(data.export_mirror(target, dataset_ids or None))
    typer.echo(f"미러 폴더 (mirror): {target.resolve()}  →  export ACADEMY_DATA_DIR={target.resolve()}")
    if bad:
        raise typer.Exit(1)


# --------------------------------------------------------------------------- run / build


def _run_notebooks(paths: list[Path], jobs: int, timeout: float, no_cache: bool) -> bool:
    from academy import execute

    report = execute.run(paths, jobs=jobs, timeout=timeout, use_cache=not no_cache)
    typer.echo(report.table())
    typer.echo(f"보고서 (report): {config.build_dir() / 'reports' / 'execution.json'}")
    return report.ok


@app.command("run")
def run(
    paths: list[Path] | None = typer.Argument(None, help="노트북 파일이나 폴더 (기본: course/)"),
    jobs: int = typer.Option(2, "--jobs", "-j", help="동시에 실행할 노트북 수"),
    timeout: float = typer.Option(180, help="노트북 한 개의 제한 시간(초)"),
    no_cache: bool = typer.Option(False, "--no-cache", help="캐시를 쓰지 않고 모두 다시 실행"),
) -> None:
    """노트북을 병렬로 실행하고 보고서를 씁니다 (papermill)."""
    targets = paths or lesson_notebooks()
    missing = [p for p in targets if not p.exists()]
    if missing:
        typer.secho(f"없는 경로가 있어요 (missing): {', '.join(map(str, missing))}", fg=typer.colors.YELLOW)
    if not _run_notebooks(targets, jobs, timeout, no_cache):
        raise typer.Exit(1)


def lesson_notebooks() -> list[Path]:
    """course/NN-chapter/NN.SS-title.ipynb (capstone projects are checked separately)."""
    return sorted(config.project_root().glob("course/[0-9][0-9]-*/[0-9][0-9].[0-9][0-9]-*.ipynb"))


@app.command("build")
def build(
    jobs: int = typer.Option(2, "--jobs", "-j"),
    no_cache: bool = typer.Option(False, "--no-cache"),
) -> None:
    """과정 전체를 빌드합니다: 데이터 확인 → 수업 실행 → 과제 배포·검증 → 캡스톤 검사 → 포트폴리오 사이트."""
    from academy import assignments as assign
    from academy import capstone, data, site

    typer.echo("1/4 데이터 확인 (verifying data)")
    bad_files = _print_file_status(data.verify())
    typer.echo("2/4 수업 노트북 실행 (executing lessons)")
    lessons_ok = _run_notebooks(lesson_notebooks(), jobs, 180, no_cache)
    typer.echo("3/4 과제 배포와 양방향 검증 (releasing and validating assignments)")
    report = assign.validate(jobs=jobs, use_cache=not no_cache)
    assign.write_report(report)
    typer.echo(report.table())
    typer.echo("4/4 캡스톤 재현성 검사와 포트폴리오 사이트 (capstone checks and portfolio site)")
    from academy.sandbox import available

    capstone_ok = True
    sandbox_ok, why = available()
    if not sandbox_ok:
        typer.secho(f"캡스톤 재현성 검사는 건너뛰어요 (sandbox unavailable: {why}). root로 실행하면 검사해요.", fg=typer.colors.YELLOW)
    for project in capstone.find_projects(_capstone_root()) if sandbox_ok else []:
        check = capstone.check(project)
        _print_check(check)
        capstone_ok = capstone_ok and check.reproducible
    index = site.build(_capstone_root(), config.build_dir() / "site")
    typer.echo(f"포트폴리오 사이트 (site): {index}")
    summary = {
        "data_files_failed": bad_files,
        "lessons_ok": lessons_ok,
        "assignments_ok": report.ok,
        "capstones_ok": capstone_ok,
    }
    (config.build_dir() / "reports").mkdir(parents=True, exist_ok=True)
    (config.build_dir() / "reports" / "build.json").write_text(json.dumps(summary))
    if bad_files or not lessons_ok or not report.ok or not capstone_ok:
        _fail("빌드 실패: 위 보고서에서 실패한 항목을 확인하세요 (build failed).", 1)
    typer.secho("빌드 완료 (build complete)", fg=typer.colors.GREEN)


# --------------------------------------------------------------------------- assignments


@assign_app.command("release")
def assign_release(
    assignments: list[str] | None = typer.Argument(None, help="과제 id (기본: 모두)"),
    course: Path | None = typer.Option(None, "--course", help="nbgrader 과정 폴더 (기본: assignments/)"),
) -> None:
    """학생용 과제를 만듭니다 (nbgrader generate_assignment → release/)."""
    from academy import assignments as assign

    try:
        results = assign.release(assignments or None, course)
    except assign.AssignmentError as exc:
        _fail(str(exc))
    failed = [a for a, (ok, _) in results.items() if not ok]
    for assignment, (ok, log) in results.items():
        typer.echo(f"{'OK  ' if ok else 'FAIL'} {assignment}" + ("" if ok else f"\n{log}"))
    if failed:
        raise typer.Exit(1)


@assign_app.command("validate")
def assign_validate(
    assignments: list[str] | None = typer.Argument(None, help="과제 id (기본: 모두)"),
    course: Path | None = typer.Option(None, "--course", help="nbgrader 과정 폴더 (기본: assignments/)"),
    jobs: int = typer.Option(2, "--jobs", "-j"),
    no_cache: bool = typer.Option(False, "--no-cache"),
) -> None:
    """과제를 양방향으로 검증합니다: 풀이는 모두 통과, 빈 답은 모두 실패, 오답 예시는 실패, 다른 정답은 통과."""
    from academy import assignments as assign

    try:
        report = assign.validate(assignments or None, course, jobs=jobs, use_cache=not no_cache)
    except assign.AssignmentError as exc:
        _fail(str(exc))
    typer.echo(report.table())
    typer.echo(f"보고서 (report): {assign.write_report(report)}")
    if not report.ok:
        raise typer.Exit(1)


# --------------------------------------------------------------------------- grading


def _grading_call(fn, *args, **kwargs):
    from academy.grading.engine import GradingError

    try:
        return fn(*args, **kwargs)
    except GradingError as exc:
        _fail(str(exc))


@app.command("grade")
def grade(
    assignment: str,
    course: Path | None = typer.Option(None, "--course", help="nbgrader 과정 폴더 (기본: assignments/)"),
    jobs: int = typer.Option(2, "--jobs", "-j", help="동시에 채점할 제출물 수"),
    student: list[str] | None = typer.Option(None, "--student", help="이 학생만 채점 (여러 번 쓸 수 있음)"),
) -> None:
    """제출물을 안전한 환경(sandbox)에서 병렬로 자동 채점하고 grades.csv를 씁니다."""
    from collections import Counter

    from academy.grading import engine

    results = _grading_call(engine.grade, assignment, course, jobs=jobs, students=student or None)
    counts = Counter(r["status"] for r in results)
    for r in results:
        if r["status"] != "graded":
            typer.echo(f"  {r['status']:12} {r['student_id']}: {r['reason'][:160]}")
    course_dir = Path(course or config.project_root() / "assignments").resolve()
    typer.echo(
        f"제출물 {len(results)}건: 채점 완료 {counts['graded']}, 검토 필요 {counts['needs_review']}, 채점 불가 {counts['failed']}"
    )
    typer.echo(f"성적표 (grades): {engine.reports_dir(course_dir, assignment) / 'grades.csv'}")


@app.command("feedback")
def feedback(
    assignment: str,
    course: Path | None = typer.Option(None, "--course"),
) -> None:
    """학생별 한국어 피드백(HTML)을 만듭니다: 문항별 점수와 실패한 테스트의 메시지."""
    from academy.grading import feedback as fb

    written = _grading_call(fb.generate, assignment, course)
    typer.echo(f"피드백 {len(written)}개를 만들었어요 (feedback files written).")


@app.command("report")
def report(
    assignment: str,
    course: Path | None = typer.Option(None, "--course"),
) -> None:
    """강사용 보고서(HTML+PNG)와 LMS용 CSV(지각 감점 반영)를 만듭니다."""
    from academy.grading import report as rp

    paths = _grading_call(rp.build, assignment, course)
    for kind, path in paths.items():
        typer.echo(f"{kind}: {path}")


@app.command("similarity")
def similarity(
    assignment: str,
    course: Path | None = typer.Option(None, "--course"),
    threshold: float = typer.Option(0.9, help="이 값 이상인 쌍을 보여 줍니다 (0–1)"),
) -> None:
    """학생 답안 코드의 유사도를 비교합니다 (이름·값·주석·공백 정규화)."""
    from academy.grading import similarity as sim

    target, found = _grading_call(sim.build, assignment, course, threshold)
    for pair in found:
        typer.echo(f"  {pair['a']} ↔ {pair['b']}: {pair['similarity']:.0%}")
    typer.echo(f"유사한 쌍 {len(found)}개 · 보고서: {target}")


# --------------------------------------------------------------------------- capstone


def _capstone_root() -> Path:
    return config.project_root() / "course" / "15-capstone"


def _print_check(report) -> None:
    mark = "✅ 재현 성공 (reproducible)" if report.reproducible else "❌ 재현 실패 (not reproducible)"
    typer.echo(f"{report.project}: {mark} — {report.seconds:.1f}초, 최대 메모리 {report.peak_mb:.0f} MB")
    for name, status in report.notebooks.items():
        typer.echo(f"  노트북 {name}: {status}")
    for dataset_id, status in report.datasets.items():
        typer.echo(f"  데이터 {dataset_id}: {status}")
    for output, present in report.outputs.items():
        typer.echo(f"  결과물 {output}: {'있음' if present else '없음'}")
    for problem in report.problems:
        typer.echo(f"  ✗ {problem}")


@capstone_app.command("check")
def capstone_check(
    path: Path,
    time_limit: float | None = typer.Option(None, "--time-limit", help="제한 시간(초), 기본: capstone.yml 또는 300"),
) -> None:
    """프로젝트를 깨끗한 sandbox 커널에서 다시 실행하고 재현성을 판정합니다."""
    from academy import capstone

    try:
        report = capstone.check(path, time_limit)
    except capstone.CapstoneError as exc:
        _fail(str(exc))
    _print_check(report)
    if not report.reproducible:
        raise typer.Exit(1)


@capstone_app.command("score")
def capstone_score(path: Path | None = typer.Argument(None, help="프로젝트 폴더 또는 여러 프로젝트가 있는 폴더")) -> None:
    """심사위원 점수 파일(reviews/*.yml)을 루브릭으로 검증하고 모읍니다 (평균, 차이, 의견 차이 표시)."""
    from academy import capstone

    root = path or _capstone_root()
    projects = capstone.find_projects(root)
    if not projects:
        _fail(f"capstone.yml이 있는 프로젝트가 없어요: {root}")
    bad = 0
    for project in projects:
        result = capstone.score(project)
        mean = "–" if result["mean"] is None else f"{result['mean']:.1f}"
        typer.echo(f"{result['project']}: 평균 {mean} / 100, 심사위원 {result['reviewers']}")
        for cid in result["flags"]:
            crit = result["criteria"][cid]
            typer.echo(f"  ⚠ '{crit['name']}' 심사위원 의견 차이 {crit['spread']}단계 — 논의가 필요해요")
        for reviewer, problems in result["invalid_reviews"].items():
            bad += 1
            typer.echo(f"  ✗ {reviewer}.yml: {'; '.join(problems)}")
    if bad:
        raise typer.Exit(1)


@capstone_app.command("site")
def capstone_site(
    projects_dir: Path | None = typer.Argument(None, help="프로젝트 폴더 (기본: course/15-capstone)"),
    out: Path = typer.Option(..., "--out", help="사이트를 만들 폴더"),
    anonymous: bool = typer.Option(False, "--anonymous", help="블라인드 심사용: 팀 정보를 익명 id로"),
) -> None:
    """정적 포트폴리오 사이트를 만듭니다 (서버 없이 열리는 HTML/CSS)."""
    from academy import site

    index = site.build(projects_dir or _capstone_root(), out, anonymous)
    typer.echo(f"포트폴리오 사이트: {index}")


def main() -> None:  # pragma: no cover - console-script entry
    app()


if __name__ == "__main__":  # python -m academy.cli
    app()
