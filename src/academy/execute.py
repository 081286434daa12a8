"""Execute notebooks with papermill in parallel, with budgets, a cache and a report.

Each worker process imports papermill/nbformat once (about 2 s, mostly
jsonschema's format checkers) and then runs many notebooks. A watchdog thread in
the worker samples the kernel's memory and kills it when the notebook exceeds
its wall-clock or memory budget. Successful runs are cached under a key made of
the notebook's code cells, its self-check file, the catalog entries of the
datasets it loads and the environment, so an unchanged course re-runs in seconds.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

from academy import config

KERNEL = "python3"
LESSON_SECONDS_BUDGET = 60
LESSON_MEMORY_BUDGET_MB = 1536
DEFAULT_TIMEOUT = 180


@dataclass
class NotebookResult:
    notebook: str
    status: str  # ok | failed | timeout | memory | missing
    seconds: float
    peak_mb: float
    cached: bool
    output: str
    error: str = ""
    over_budget: bool = False
    proofs: str = ""  # JSON lines of the self-check proofs this run recorded


@dataclass
class Report:
    results: list[NotebookResult] = field(default_factory=list)
    wall_seconds: float = 0.0
    jobs: int = 1

    @property
    def ok(self) -> bool:
        return all(r.status == "ok" for r in self.results)

    def by_notebook(self) -> dict[str, NotebookResult]:
        return {r.notebook: r for r in self.results}

    def to_json(self) -> dict:
        return {
            "wall_seconds": round(self.wall_seconds, 2),
            "jobs": self.jobs,
            "ok": self.ok,
            "results": [asdict(r) for r in self.results],
        }

    def table(self) -> str:
        """A plain-text table (also written next to the JSON report)."""
        header = f"{'notebook':60} {'status':8} {'seconds':>8} {'peak MB':>8} {'cached':>6}"
        lines = [header, "-" * len(header)]
        for r in self.results:
            flag = " !" if r.over_budget else ""
            lines.append(
                f"{r.notebook[-60:]:60} {r.status:8} {r.seconds:8.1f} {r.peak_mb:8.0f} "
                f"{'yes' if r.cached else 'no':>6}{flag}"
            )
        failed = [r for r in self.results if r.status != "ok"]
        lines.append("-" * len(header))
        lines.append(
            f"{len(self.results)} notebooks, {len(failed)} not ok, "
            f"{sum(r.cached for r in self.results)} cached, wall {self.wall_seconds:.1f} s"
        )
        for r in failed:
            lines.append(f"  {r.status.upper()}: {r.notebook}: {r.error}  -> {r.output}")
        if any(r.over_budget for r in self.results):
            lines.append(
                f"  ! over the lesson budget ({LESSON_SECONDS_BUDGET} s, {LESSON_MEMORY_BUDGET_MB} MB)"
            )
        return "\n".join(lines)


# --------------------------------------------------------------------------- environment


def quiet_home_env(base: Path) -> dict[str, str]:
    """Variables that keep Jupyter, IPython and matplotlib out of $HOME."""
    dirs = {
        "JUPYTER_CONFIG_DIR": base / "jupyter-config",
        "JUPYTER_DATA_DIR": base / "jupyter-data",
        "JUPYTER_RUNTIME_DIR": base / "jupyter-runtime",
        "IPYTHONDIR": base / "ipython",
        "MPLCONFIGDIR": base / "matplotlib",
    }
    for d in dirs.values():
        d.mkdir(parents=True, exist_ok=True)
    env = {k: str(v) for k, v in dirs.items()}
    env["JUPYTER_PLATFORM_DIRS"] = "1"
    # Notebooks run side by side on few cores; BLAS/OpenMP thread pools would fight.
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    # Kernels inherit this; a caller's MPLBACKEND=Agg would silently drop every figure.
    env["MPLBACKEND"] = "module://matplotlib_inline.backend_inline"
    env["PYDEVD_DISABLE_FILE_VALIDATION"] = "1"
    return env


def environment_fingerprint() -> str:
    """Installed distributions + the academy engine's own source + Python version."""
    digest = hashlib.sha256(sys.version.encode())
    names = sorted(
        f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions() if d.metadata["Name"]
    )
    digest.update("\n".join(names).encode())
    for source in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(source.read_bytes())
    return digest.hexdigest()


def _code_of(notebook: Path) -> str:
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    cells = [
        "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
        for c in nb.get("cells", [])
        if c.get("cell_type") == "code"
    ]
    return "\n# ---- cell ----\n".join(cells)


def cache_key(notebook: Path, env_fingerprint: str, parameters: dict | None = None) -> str:
    from academy import data

    code = _code_of(notebook)
    digest = hashlib.sha256()
    digest.update(code.encode())
    digest.update(json.dumps(parameters or {}, sort_keys=True).encode())
    digest.update(KERNEL.encode())
    digest.update(env_fingerprint.encode())
    for checks_file in sorted(notebook.parent.glob(f"{notebook.stem}.checks.yml")):
        digest.update(checks_file.read_bytes())
    cat = data.catalog()
    for dataset_id in data.loaded_dataset_ids(code):
        digest.update(dataset_id.encode())
        digest.update(cat.fingerprint(dataset_id).encode())
    return digest.hexdigest()[:32]


# --------------------------------------------------------------------------- worker side


def _init_worker(env: dict[str, str]) -> None:
    os.environ.update(env)
    import nbformat  # noqa: F401  (pay the import once per worker)
    import papermill  # noqa: F401


class _Watchdog(threading.Thread):
    """Samples the kernel's memory; kills it past the time or memory budget."""

    def __init__(self, timeout: float, memory_mb: float):
        super().__init__(daemon=True)
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.peak_mb = 0.0
        self.killed_for = ""
        self._done = threading.Event()
        self._start = time.monotonic()

    def run(self) -> None:
        import psutil

        me = psutil.Process()
        while not self._done.wait(0.05):
            kids = me.children(recursive=True)
            rss = 0
            for proc in kids:
                try:
                    rss += proc.memory_info().rss
                except psutil.Error:
                    pass
            self.peak_mb = max(self.peak_mb, rss / 2**20)
            over_time = time.monotonic() - self._start > self.timeout
            over_memory = self.peak_mb > self.memory_mb
            if over_time or over_memory:
                self.killed_for = "timeout" if over_time else "memory"
                for proc in kids:
                    try:
                        proc.kill()
                    except psutil.Error:
                        pass
                return

    def stop(self) -> None:
        self._done.set()


def _short_error(exc: BaseException) -> str:
    name = getattr(exc, "ename", type(exc).__name__)
    value = getattr(exc, "evalue", str(exc))
    return f"{name}: {str(value).strip().splitlines()[0] if str(value).strip() else ''}"[:300]


def execute_one(
    notebook: str,
    output: str,
    timeout: float,
    memory_mb: float,
    parameters: dict | None,
    checks_report: str,
) -> NotebookResult:
    """Run one notebook in this worker (the kernel is our child process)."""
    import papermill

    source, target = Path(notebook), Path(output)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not source.exists():
        return NotebookResult(notebook, "missing", 0.0, 0.0, False, "", "notebook not found")
    os.environ["ACADEMY_CHECKS_SELFTEST"] = "1"
    os.environ["ACADEMY_CHECKS_REPORT"] = checks_report
    Path(checks_report).unlink(missing_ok=True)  # the name is unique to this execution
    watchdog = _Watchdog(timeout, memory_mb)
    started = time.monotonic()
    watchdog.start()
    status, error = "ok", ""
    try:
        papermill.execute_notebook(
            str(source),
            str(target),
            parameters=parameters or {},
            kernel_name=KERNEL,
            cwd=str(source.parent),
            execution_timeout=int(timeout),
            progress_bar=False,
            log_output=False,
            request_save_on_cell_execute=False,
        )
    except Exception as exc:  # papermill/nbclient raise many kinds; all mean "not ok"
        status, error = "failed", _short_error(exc)
    finally:
        watchdog.stop()
        watchdog.join()
    seconds = time.monotonic() - started
    if watchdog.killed_for:
        status = watchdog.killed_for
        limit = f"{timeout:.0f} s" if status == "timeout" else f"{memory_mb:.0f} MB"
        error = f"killed: over the {status} limit ({limit})"
    return NotebookResult(
        notebook=notebook,
        status=status,
        seconds=round(seconds, 2),
        peak_mb=round(watchdog.peak_mb, 1),
        cached=False,
        output=str(target),
        error=error,
        proofs=checks_report if Path(checks_report).exists() else "",
    )


# --------------------------------------------------------------------------- driver


def discover(paths: Iterable[Path | str]) -> list[Path]:
    """Notebooks under the given files/folders, sorted, skipping checkpoints and _build."""
    found: list[Path] = []
    for item in paths:
        item = Path(item)
        if item.is_dir():
            found.extend(
                p
                for p in sorted(item.rglob("*.ipynb"))
                if ".ipynb_checkpoints" not in p.parts and "_build" not in p.parts
            )
        else:
            found.append(item)
    return found


def _relative(path: Path) -> Path:
    root = config.project_root()
    try:
        return path.resolve().relative_to(root)
    except ValueError:
        return Path(path.name)


def run(
    paths: Iterable[Path | str],
    jobs: int = 2,
    timeout: float = DEFAULT_TIMEOUT,
    memory_mb: float = LESSON_MEMORY_BUDGET_MB,
    use_cache: bool = True,
    build_dir: Path | None = None,
    progress: bool = True,
    parameters: dict | None = None,
) -> Report:
    """Execute notebooks and return (and write) the report."""
    build = Path(build_dir or config.build_dir())
    notebooks = discover(paths)
    cache_dir = build / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    env = quiet_home_env(build / "home")
    env["ACADEMY_ROOT"] = str(config.project_root())
    env.setdefault("ACADEMY_CACHE_DIR", os.environ.get("ACADEMY_CACHE_DIR", str(config.cache_dir())))
    # The kernel inherits the worker's environment; make our own match for cache keys.
    os.environ.update({k: v for k, v in env.items() if k.startswith("ACADEMY_")})
    fingerprint = environment_fingerprint()

    results: dict[str, NotebookResult] = {}
    pending = []
    for nb in notebooks:
        rel = _relative(nb)
        output = build / "executed" / rel
        if not nb.exists():
            results[str(nb)] = NotebookResult(str(rel), "missing", 0.0, 0.0, False, "", "notebook not found")
            continue
        key = cache_key(nb, fingerprint, parameters)
        hit = cache_dir / f"{key}.json"
        if use_cache and hit.exists() and (cache_dir / f"{key}.ipynb").exists():
            row = NotebookResult(**json.loads(hit.read_text()))
            output.parent.mkdir(parents=True, exist_ok=True)
            # Atomic: another process (an xdist worker) may be reading this executed copy.
            tmp = output.with_suffix(f".{os.getpid()}.tmp")
            shutil.copyfile(cache_dir / f"{key}.ipynb", tmp)
            tmp.replace(output)
            row.notebook, row.output, row.cached = str(rel), str(output), True
            proofs = cache_dir / f"{key}.checks.jsonl"  # recorded when this result was made
            row.proofs = str(proofs) if proofs.exists() else ""
            results[str(nb)] = row
            continue
        pending.append((nb, rel, output, key))

    if pending:
        _execute_pending(pending, results, cache_dir, build, env, jobs, timeout, memory_mb, parameters, progress)

    report = Report([results[str(nb)] for nb in notebooks], time.monotonic() - started, jobs)
    for row in report.results:
        row.over_budget = row.seconds > LESSON_SECONDS_BUDGET or row.peak_mb > LESSON_MEMORY_BUDGET_MB
    write_report(report, build)
    return report


def _execute_pending(pending, results, cache_dir, build, env, jobs, timeout, memory_mb, parameters, progress):
    checks_dir = build / "checks"
    checks_dir.mkdir(parents=True, exist_ok=True)
    context = multiprocessing.get_context("spawn")
    workers = max(1, min(jobs, len(pending)))
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(env,)) as pool:
        futures = {
            pool.submit(
                execute_one,
                str(nb),
                str(output),
                timeout,
                memory_mb,
                parameters,
                str(checks_dir / f"{rel.stem}-{os.getpid()}-{time.time_ns()}.jsonl"),
            ): (nb, rel, key)
            for nb, rel, output, key in pending
        }
        bar = progress_bar(len(futures), progress, "노트북 실행 (executing)", lambda row: f"{row.status} {Path(row.notebook).name}")
        for future in as_completed(futures):
            nb, rel, key = futures[future]
            try:
                row = future.result()
            except Exception as exc:  # a worker died: report it, keep the rest
                row = NotebookResult(str(rel), "failed", 0.0, 0.0, False, "", f"worker error: {exc}")
            row.notebook = str(rel)
            results[str(nb)] = row
            if row.status == "ok":
                (cache_dir / f"{key}.json").write_text(json.dumps(asdict(row)))
                shutil.copyfile(row.output, cache_dir / f"{key}.ipynb")
                if row.proofs:
                    shutil.copyfile(row.proofs, cache_dir / f"{key}.checks.jsonl")
            bar(row)
        bar(None)


def progress_bar(total: int, enabled: bool, label: str, describe):
    """A rich progress bar with ETA; returns update(item), and update(None) closes it."""
    if not enabled:
        return lambda item: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(), TextColumn("{task.description}"))
    bar.start()
    task = bar.add_task("", total=total)

    def update(item):
        if item is None:
            bar.stop()
            return
        bar.update(task, advance=1, description=describe(item))

    return update


def write_report(report: Report, build: Path) -> Path:
    reports = build / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    target = reports / "execution.json"
    tmp = Path(tempfile.mkstemp(dir=reports, suffix=".json")[1])
    tmp.write_text(json.dumps(report.to_json(), ensure_ascii=False, indent=2), encoding="utf-8")
    tmp.replace(target)
    (reports / "execution.txt").write_text(report.table() + "\n", encoding="utf-8")
    return target


# --------------------------------------------------------------------------- errors allowed


def execute_cells_allow_errors(
    nb_text: str, cwd: str, cell_timeout: float = 60, timeout: float = 300, memory_mb: float = 2048
) -> tuple[str, str]:
    """Run every cell even after errors (for tests in assignments); returns (notebook, error)."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.reads(nb_text, as_version=4)
    os.environ["ACADEMY_CHECKS_SELFTEST"] = "0"
    watchdog = _Watchdog(timeout, memory_mb)
    watchdog.start()
    client = NotebookClient(
        nb, timeout=int(cell_timeout), kernel_name=KERNEL, allow_errors=True, resources={"metadata": {"path": cwd}}
    )
    try:
        client.execute()
        error = ""
    except Exception as exc:  # kernel died, timeout: the run as a whole failed
        error = _short_error(exc)
    finally:
        watchdog.stop()
        watchdog.join()
    if watchdog.killed_for:
        error = f"killed: over the {watchdog.killed_for} limit"
    return nbformat.writes(nb), error


def map_cells_allow_errors(payloads: list[tuple[str, str]], jobs: int = 2, build: Path | None = None) -> list[tuple[str, str]]:
    """Run :func:`execute_cells_allow_errors` over (notebook text, cwd) pairs in parallel."""
    build = Path(build or config.build_dir())
    env = quiet_home_env(build / "home")
    env["ACADEMY_ROOT"] = str(config.project_root())
    env["ACADEMY_CACHE_DIR"] = os.environ.get("ACADEMY_CACHE_DIR", str(config.cache_dir()))
    context = multiprocessing.get_context("spawn")
    workers = max(1, min(jobs, len(payloads)))
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker, initargs=(env,)) as pool:
        futures = [pool.submit(execute_cells_allow_errors, text, cwd) for text, cwd in payloads]
        results = []
        for future in futures:
            try:
                results.append(future.result())
            except Exception as exc:  # a worker died
                results.append(("", f"worker error: {exc}"))
    return results
