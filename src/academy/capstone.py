"""Capstone projects: the project card, reproducibility checks and rubric scores.

A project is a folder with ``capstone.yml`` and notebooks (docs/capstone-format.md).
``check(path)`` re-executes the project in a clean sandboxed kernel with a time limit,
verifies every declared dataset against the catalog checksums, looks for undeclared
data, checks that the declared outputs appear, and gives a reproducibility verdict.
``score(path)`` aggregates reviewers' rubric files. The portfolio site is in site.py.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC
from pathlib import Path

import nbformat
import yaml

from academy import config, data

REQUIRED_FIELDS = ["title", "team", "track", "datasets", "entry", "summary", "licence", "outputs"]
REQUIRED_SECTIONS = ["문제 정의", "데이터", "방법", "결과", "한계와 윤리", "비즈니스 제안", "재현 방법"]
TRACKS = {"finance", "healthcare", "logistics", "tourism", "public", "other"}
DATA_SUFFIXES = {".csv", ".tsv", ".xlsx", ".xls", ".parquet", ".geojson", ".shp", ".feather", ".sqlite", ".db"}
DEFAULT_TIME_LIMIT = 300


class CapstoneError(Exception):
    """The project cannot be checked at all (bilingual message)."""


@dataclass
class CheckReport:
    project: str
    title: str = ""
    verdict: str = "not reproducible"  # reproducible | not reproducible
    seconds: float = 0.0
    peak_mb: float = 0.0
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    notebooks: dict[str, str] = field(default_factory=dict)  # name -> ok | error message
    outputs: dict[str, bool] = field(default_factory=dict)
    datasets: dict[str, str] = field(default_factory=dict)  # id -> ok | problem
    executed_dir: str = ""
    checked_at: str = ""

    @property
    def reproducible(self) -> bool:
        return self.verdict == "reproducible"


# --------------------------------------------------------------------------- project card


def load_project(path: Path) -> dict:
    path = Path(path)
    card_file = path / "capstone.yml"
    if not path.is_dir():
        raise CapstoneError(f"프로젝트 폴더가 없어요: {path}\nProject folder not found: {path}")
    if not card_file.exists():
        raise CapstoneError(
            f"capstone.yml이 없어요: {card_file}. course/15-capstone/template/capstone.yml을 복사해 채우세요.\n"
            f"Missing capstone.yml in {path}; copy the template's capstone.yml."
        )
    try:
        card = yaml.safe_load(card_file.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise CapstoneError(f"capstone.yml을 읽을 수 없어요: {exc}\nCannot parse capstone.yml: {exc}") from None
    if not isinstance(card, dict):
        raise CapstoneError("capstone.yml의 형식이 잘못되었어요.\ncapstone.yml is not a mapping.")
    return card


def validate_card(card: dict) -> list[str]:
    problems = [f"capstone.yml에 '{f}' 항목이 없어요 (missing field '{f}')" for f in REQUIRED_FIELDS if not card.get(f)]
    if card.get("track") and card["track"] not in TRACKS:
        problems.append(f"track '{card['track']}'은(는) {sorted(TRACKS)} 중 하나여야 해요")
    summary = card.get("summary") or []
    if summary and (not isinstance(summary, list) or len(summary) != 3):
        problems.append("summary는 정확히 세 줄(list of 3)이어야 해요 (summary must have 3 lines)")
    known = set(data.catalog().ids())
    for dataset_id in card.get("datasets") or []:
        if dataset_id not in known:
            problems.append(f"카탈로그에 없는 데이터셋이에요: {dataset_id} (unknown catalog id)")
    for extra in card.get("extra_data") or []:
        if not isinstance(extra, dict) or not all(extra.get(k) for k in ("file", "licence", "sha256")):
            problems.append(f"extra_data 항목에는 file, licence, sha256이 모두 필요해요: {extra}")
    return problems


def notebooks_of(card: dict) -> list[str]:
    names = list(card.get("notebooks") or [])
    entry = card.get("entry")
    if entry and entry not in names:
        names.insert(0, entry)
    return names


def _code(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "code")


def data_problems(path: Path, card: dict, notebooks: dict[str, object]) -> tuple[dict[str, str], list[str]]:
    """Declared datasets verified by checksum; undeclared catalog ids and data files flagged."""
    declared = list(card.get("datasets") or [])
    status: dict[str, str] = {}
    problems: list[str] = []
    for dataset_id in declared:
        if dataset_id not in data.catalog().ids():
            status[dataset_id] = "unknown"
            continue
        bad = [r for r in data.verify([dataset_id]) if not r.ok]
        status[dataset_id] = "ok" if not bad else bad[0].message.splitlines()[0]
        if bad:
            problems.append(f"데이터셋 {dataset_id} 확인 실패: {status[dataset_id]}")
    code = "\n".join(_code(nb) for nb in notebooks.values())
    used = set(data.loaded_dataset_ids(code))
    for dataset_id in sorted(used - set(declared)):
        problems.append(f"capstone.yml에 선언하지 않은 데이터셋을 써요: {dataset_id} (undeclared dataset)")
    extra_files = {str(e.get("file")) for e in card.get("extra_data") or [] if isinstance(e, dict)}
    outputs = {str(o) for o in card.get("outputs") or []}
    for file in sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in DATA_SUFFIXES):
        rel = str(file.relative_to(path))
        if rel not in extra_files and rel not in outputs and not rel.startswith("outputs/"):
            problems.append(f"선언하지 않은 데이터 파일이 있어요: {rel} (undeclared data file; add it to extra_data with licence and sha256)")
    for extra in card.get("extra_data") or []:
        target = path / str(extra.get("file", ""))
        if target.exists() and extra.get("sha256") and data.sha256_of(target) != extra["sha256"]:
            problems.append(f"extra_data 파일의 체크섬이 달라요: {extra['file']}")
        elif not target.exists():
            problems.append(f"extra_data 파일이 없어요: {extra.get('file')}")
    for match in re.findall(r"""read_(?:csv|excel|parquet|json)\(\s*["']([^"']+)["']""", code):
        if match not in extra_files:
            problems.append(f"코드가 선언하지 않은 파일을 읽어요: {match} (undeclared data file)")
    return status, problems


def missing_sections(nb) -> list[str]:
    markdown = "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")
    return [s for s in REQUIRED_SECTIONS if not re.search(rf"^#+\s*(?:\d+\.\s*)?{s}", markdown, re.MULTILINE)]


# --------------------------------------------------------------------------- execution


class _UidMemory(threading.Thread):
    """Peak resident memory of every process of one uid (the sandboxed kernel and children)."""

    def __init__(self, uid: int):
        super().__init__(daemon=True)
        self.uid, self.peak_mb, self._done = uid, 0.0, threading.Event()

    def run(self) -> None:
        import psutil

        while not self._done.wait(0.1):
            total = 0
            for proc in psutil.process_iter(["uids", "memory_info"]):
                info = proc.info
                if info["uids"] and info["uids"].real == self.uid and info["memory_info"]:
                    total += info["memory_info"].rss
            self.peak_mb = max(self.peak_mb, total / 2**20)

    def stop(self) -> None:
        self._done.set()
        self.join()


def _produced_files_only(folder: str, names: list[str]) -> set[str]:
    """What to skip when copying a project's results out of the sandbox: notebooks (kept
    separately) and anything but plain files and folders (a symlink could point at the
    grader's files, a FIFO would block the copy)."""
    import stat

    skipped = set()
    for name in names:
        mode = os.lstat(os.path.join(folder, name)).st_mode
        if name.endswith(".ipynb") or not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            skipped.add(name)
    return skipped


def _execute_in_sandbox(workdir_source: Path, names: list[str], time_limit: float, out_dir: Path) -> tuple[dict, float, float, Path]:
    """Copy the project into a fresh sandbox, run its notebooks in order in one kernel."""

    from academy.sandbox import KernelGone, Sandbox, SandboxKernel

    masks = [config.project_root() / d for d in (".git", "tests", "assignments", "grading")]
    sandbox = Sandbox(0, config.build_dir() / "sandbox", [m for m in masks if m.exists()])
    statuses: dict[str, str] = {}
    started = time.monotonic()
    memory = _UidMemory(sandbox.uid)
    memory.start()
    work = sandbox.runtime / "work" / "project"
    try:
        kernel = SandboxKernel(sandbox)  # starts from a clean runtime folder
        shutil.copytree(workdir_source, work, ignore=shutil.ignore_patterns("outputs", ".ipynb_checkpoints", "reviews"))
        for root, dirs, files in os.walk(work):
            for item in [root] + [os.path.join(root, n) for n in dirs + files]:
                os.chown(item, sandbox.uid, sandbox.uid)
        kernel.run(f"import os; os.chdir({str(work)!r})", 30)
        for name in names:
            nb = nbformat.read(workdir_source / name, 4)
            error = ""
            for cell in nb.cells:
                if cell.cell_type != "code":
                    continue
                remaining = time_limit - (time.monotonic() - started)
                if remaining <= 0:
                    error = error or f"시간 제한 {time_limit:.0f}초를 넘었어요 (time limit exceeded)"
                    break
                try:
                    outputs, failed = kernel.run(cell.source, remaining)
                except KernelGone as exc:
                    error = error or str(exc)
                    break
                cell.outputs = outputs
                if failed and not error:
                    detail = next((o.get("evalue", "") for o in outputs if o.get("output_type") == "error"), "")
                    error = f"{failed}: {detail}"[:300] if failed not in ("Timeout",) else f"시간 제한 초과 (timeout) — {kernel.dead_reason}"
            statuses[name] = error or "ok"
            target = out_dir / name
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, target)
        seconds = time.monotonic() - started
    finally:
        memory.stop()
        produced = out_dir / "project"
        shutil.rmtree(produced, ignore_errors=True)
        if work.exists():
            shutil.copytree(work, produced, ignore=_produced_files_only)
        sandbox.cleanup()
    return statuses, seconds, memory.peak_mb, produced


def check(path: Path, time_limit: float | None = None, out_root: Path | None = None) -> CheckReport:
    """Re-execute a capstone in a clean sandbox and give a reproducibility verdict."""
    from datetime import datetime

    from academy.sandbox import available

    path = Path(path).resolve()
    card = load_project(path)
    report = CheckReport(project=path.name, title=str(card.get("title", "")))
    report.checked_at = datetime.now(UTC).isoformat(timespec="seconds")
    report.problems += validate_card(card)
    names = notebooks_of(card)
    notebooks = {}
    for name in names:
        if not (path / name).exists():
            report.problems.append(f"노트북이 없어요: {name} (notebook not found)")
            continue
        try:
            notebooks[name] = nbformat.read(path / name, 4)
        except Exception as exc:
            report.problems.append(f"노트북을 읽을 수 없어요: {name}: {exc}")
    if card.get("entry") in notebooks:
        missing = missing_sections(notebooks[card["entry"]])
        if missing:
            report.problems.append(f"필수 절(section)이 없어요: {', '.join(missing)} (missing sections)")
    report.datasets, problems = data_problems(path, card, notebooks)
    report.problems += problems
    out_dir = Path(out_root or config.build_dir() / "capstone") / path.name
    shutil.rmtree(out_dir, ignore_errors=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    report.executed_dir = str(out_dir)
    ok, why = available()
    if not ok:
        report.problems.append(f"안전한 실행 환경(sandbox)을 만들 수 없어요: {why}")
    elif notebooks:
        limit = float(time_limit or card.get("time_limit_seconds") or DEFAULT_TIME_LIMIT)
        statuses, seconds, peak, produced = _execute_in_sandbox(path, [n for n in names if n in notebooks], limit, out_dir)
        report.notebooks, report.seconds, report.peak_mb = statuses, round(seconds, 1), round(peak, 1)
        for name, status in statuses.items():
            if status != "ok":
                report.problems.append(f"{name} 실행 실패: {status}")
        for output in card.get("outputs") or []:
            report.outputs[str(output)] = (produced / str(output)).exists()
            if not report.outputs[str(output)]:
                report.problems.append(f"선언한 결과물이 만들어지지 않았어요: {output} (declared output missing)")
    report.verdict = "reproducible" if not report.problems else "not reproducible"
    (out_dir / "check.json").write_text(json.dumps(asdict(report), ensure_ascii=False, indent=2), encoding="utf-8")
    return report


def last_check(path: Path, out_root: Path | None = None) -> CheckReport | None:
    target = Path(out_root or config.build_dir() / "capstone") / Path(path).name / "check.json"
    if not target.exists():
        return None
    return CheckReport(**json.loads(target.read_text(encoding="utf-8")))


# --------------------------------------------------------------------------- rubric scores


def rubric(path: Path | None = None) -> dict:
    path = Path(path or config.project_root() / "grading" / "rubrics" / "capstone.yml")
    spec = yaml.safe_load(path.read_text(encoding="utf-8"))
    total = sum(float(c["weight"]) for c in spec["criteria"].values())
    if abs(total - 100) > 1e-9:
        raise CapstoneError(f"루브릭 가중치의 합이 100이 아니에요 ({total:g}).\nRubric weights sum to {total:g}, not 100.")
    return spec


def validate_review(review: dict, spec: dict) -> list[str]:
    problems = []
    scores = review.get("scores") if isinstance(review, dict) else None
    if not isinstance(scores, dict):
        return ["scores 항목이 없어요 (missing scores)"]
    scale = [int(x) for x in spec.get("scale", [1, 2, 3, 4])]
    for criterion in spec["criteria"]:
        if criterion not in scores:
            problems.append(f"기준 '{criterion}'의 점수가 없어요 (missing criterion)")
        elif not isinstance(scores[criterion], int) or scores[criterion] not in scale:
            problems.append(f"기준 '{criterion}'의 수준 {scores[criterion]!r}은(는) {scale} 중 하나여야 해요")
    for extra in set(scores) - set(spec["criteria"]):
        problems.append(f"루브릭에 없는 기준이에요: {extra}")
    return problems


def score(path: Path, spec: dict | None = None) -> dict:
    """Aggregate reviews/*.yml: weighted score per reviewer, mean, spread, disagreement flags."""
    spec = spec or rubric()
    top = max(int(x) for x in spec.get("scale", [1, 2, 3, 4]))
    threshold = float(spec.get("disagreement_threshold", 1.5))
    reviews, invalid = {}, {}
    for file in sorted((Path(path) / "reviews").glob("*.yml")):
        review = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        problems = validate_review(review, spec)
        if problems:
            invalid[file.stem] = problems
        else:
            reviews[review.get("reviewer", file.stem)] = review["scores"]
    per_reviewer = {
        name: round(sum(float(c["weight"]) * scores[cid] / top for cid, c in spec["criteria"].items()), 1)
        for name, scores in reviews.items()
    }
    criteria = {}
    for cid, c in spec["criteria"].items():
        levels = [scores[cid] for scores in reviews.values()]
        if levels:
            spread = max(levels) - min(levels)
            criteria[cid] = {
                "name": c["name"],
                "mean_level": round(sum(levels) / len(levels), 2),
                "spread": spread,
                "flag": spread >= threshold,
            }
    values = list(per_reviewer.values())
    return {
        "project": Path(path).name,
        "reviewers": per_reviewer,
        "mean": round(sum(values) / len(values), 1) if values else None,
        "spread": round(max(values) - min(values), 1) if values else None,
        "criteria": criteria,
        "flags": [cid for cid, c in criteria.items() if c["flag"]],
        "invalid_reviews": invalid,
    }


def find_projects(root: Path) -> list[Path]:
    return sorted(p.parent for p in Path(root).rglob("capstone.yml") if ".ipynb_checkpoints" not in p.parts)
