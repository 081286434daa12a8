"""Isolation for untrusted notebooks: a Jupyter kernel in a box.

A sandboxed kernel runs
  * in fresh network, mount and PID namespaces (``unshare``): no network at all (not
    even loopback is up), the kernel is PID 1 of its namespace so every process it
    starts dies with it, and its view of the file system hides what it must not read;
  * as an unprivileged user (one uid per slot, ``61000 + slot``) with no groups and
    ``no_new_privs``;
  * with resource limits: address space, CPU seconds, processes, file size, open files;
  * with a scrubbed environment (no NBGRADER_* hints, HOME and /tmp private);
  * talking to the grader over the IPC (Unix socket) transport, the only channel out.

``Sandbox.start_kernel()`` returns a started jupyter_client KernelManager and client;
``Sandbox.cleanup()`` kills every process of the slot's uid and removes its files.
Running as root is required for namespaces and the uid switch; `available()` says
whether this machine can do it.

The namespace set-up runs in a small launcher, ``python -m academy.sandbox``, started by
``unshare`` as root inside the new namespaces; it mounts, limits, drops privileges and
execs the kernel.
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import nbformat
from dataclasses import asdict, dataclass, field
from pathlib import Path

BASE_UID = 61000
MAX_OUTPUT_CHARS = 20_000
KEEP_ENV = ("PATH", "LANG", "LC_ALL", "ACADEMY_DATA_DIR", "ACADEMY_CACHE_DIR", "ACADEMY_ROOT", "TZ")


@dataclass
class Limits:
    memory_mb: int = 3072  # address space (virtual), not resident memory: numpy/pandas/arrow reserve a lot
    cpu_seconds: int = 300
    processes: int = 64
    file_size_mb: int = 64
    open_files: int = 256
    tmp_mb: int = 128


@dataclass
class SandboxSpec:
    """What the launcher needs (passed as JSON on the command line)."""

    uid: int
    workdir: str
    masks: list[str] = field(default_factory=list)
    limits: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    keep: list[str] = field(default_factory=list)  # paths that stay visible even under the private /tmp


def available() -> tuple[bool, str]:
    """Can this machine build the sandbox? (root + unshare with namespaces)."""
    if os.geteuid() != 0:
        return False, "the grader must run as root to create sandboxes (namespaces, uid switch)"
    if not shutil.which("unshare"):
        return False, "util-linux `unshare` is not installed"
    probe = subprocess.run(["unshare", "--net", "--mount", "--pid", "--fork", "true"], capture_output=True)
    if probe.returncode != 0:
        return False, f"namespaces are not permitted here: {probe.stderr.decode().strip()}"
    return True, ""


class Sandbox:
    """One slot: a uid, a private work directory, and at most one kernel at a time."""

    def __init__(self, slot: int, runtime: Path, masks: list[Path], limits: Limits | None = None):
        self.slot = slot
        self.uid, self._uid_lock = claim_uid(BASE_UID + slot)
        self.runtime = Path(runtime) / f"uid-{self.uid}"
        self.masks = [str(Path(m).resolve()) for m in masks]
        self.limits = limits or Limits()
        self.km = None
        self.kc = None

    # ---- lifecycle -----------------------------------------------------------

    def prepare(self) -> None:
        self.cleanup()
        (self.runtime / "work").mkdir(parents=True, exist_ok=True)
        for path in (self.runtime, self.runtime / "work"):
            os.chown(path, self.uid, self.uid)
            os.chmod(path, 0o700)

    def launcher_command(self, kernel_argv: list[str]) -> list[str]:
        spec = SandboxSpec(
            uid=self.uid,
            workdir=str(self.runtime / "work"),
            masks=self.masks,
            limits=asdict(self.limits),
            env={k: os.environ[k] for k in KEEP_ENV if k in os.environ},
            keep=self._needed_paths(),
        )
        return [
            "unshare",
            "--net",
            "--mount",
            "--pid",
            "--fork",
            "--kill-child",
            "--mount-proc",
            "--propagation",
            "private",
            sys.executable,
            "-m",
            "academy.sandbox",
            json.dumps(asdict(spec)),
            "--",
            *kernel_argv,
        ]

    def _needed_paths(self) -> list[str]:
        """What the kernel must reach: the engine's code, the interpreter, the data, its work dir."""
        from academy import config

        paths = [config.project_root(), Path(sys.prefix), Path(sys.base_prefix), self.runtime, config.cache_dir()]
        if config.data_mirror():
            paths.append(config.data_mirror())
        return [str(Path(p).resolve()) for p in paths]

    def start_kernel(self, startup_timeout: float = 60):
        """Start a sandboxed ipykernel; returns (KernelManager, BlockingKernelClient)."""
        from jupyter_client import KernelManager

        sandbox = self

        class SandboxKernelManager(KernelManager):
            def format_kernel_cmd(self, extra_arguments=None):
                argv = [sys.executable, "-m", "ipykernel_launcher", "-f", self.connection_file]
                return sandbox.launcher_command(argv)

        self.prepare()
        connection = self.runtime / "kernel.json"
        km = SandboxKernelManager(transport="ipc", ip=str(self.runtime / "ipc"), connection_file=str(connection))
        km.write_connection_file()
        os.chown(connection, self.uid, self.uid)
        self._log = open(self.runtime / "kernel.log", "wb")  # kernel chatter stays out of the grader's output
        km.start_kernel(env={"PATH": os.environ.get("PATH", "")}, stdout=self._log, stderr=self._log)
        kc = km.client()
        kc.start_channels()
        try:
            kc.wait_for_ready(timeout=startup_timeout)
        except RuntimeError:
            kc.stop_channels()
            km.shutdown_kernel(now=True)
            raise
        self.km, self.kc = km, kc
        return km, kc

    def stop_kernel(self) -> None:
        log = getattr(self, "_log", None)
        if log is not None:
            log.close()
            self._log = None
        if self.kc is not None:
            self.kc.stop_channels()
        if self.km is not None:
            try:
                self.km.shutdown_kernel(now=True)
            except Exception:
                pass
        self.km = self.kc = None

    def cleanup(self) -> None:
        """Kill every process of this slot's uid and remove its files."""
        self.stop_kernel()
        kill_uid(self.uid)
        shutil.rmtree(self.runtime, ignore_errors=True)


class KernelGone(Exception):
    pass


class SandboxKernel:
    """The student's sandboxed kernel, driven message by message."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.km, self.kc = sandbox.start_kernel()
        self.dead_reason = ""

    def run(self, code: str, timeout: float) -> tuple[list[dict], str]:
        """Execute code; returns (nbformat outputs, error name or '')."""
        if self.dead_reason:
            raise KernelGone(self.dead_reason)
        outputs: list[dict] = []
        chars = [0]
        error = [""]

        def hook(msg):
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                if chars[0] < MAX_OUTPUT_CHARS:
                    text = content["text"][: MAX_OUTPUT_CHARS - chars[0]]
                    outputs.append(nbformat.v4.new_output("stream", name=content["name"], text=text))
                chars[0] += len(content["text"])
            elif kind in ("execute_result", "display_data"):
                data = {k: v for k, v in content.get("data", {}).items() if len(str(v)) < 2_000_000}
                if kind == "execute_result":
                    outputs.append(nbformat.v4.new_output("execute_result", data=data, execution_count=content.get("execution_count")))
                else:
                    outputs.append(nbformat.v4.new_output("display_data", data=data))
            elif kind == "error":
                error[0] = content.get("ename", "Error")
                outputs.append(
                    nbformat.v4.new_output("error", ename=content.get("ename", ""), evalue=str(content.get("evalue", ""))[:2000], traceback=[])
                )

        try:
            self._execute(code, timeout, hook, store_history=True)
        except TimeoutError:
            self.kill(f"셀 실행 시간 초과 ({timeout:.0f}초) — 커널을 종료했어요 (cell timeout)")
            error[0] = "Timeout"
        except KernelGone:
            error[0] = "KernelDied"
        if chars[0] > MAX_OUTPUT_CHARS:
            outputs.append(nbformat.v4.new_output("stream", name="stdout", text=f"\n… 출력이 너무 길어 {chars[0]:,}자 중 일부만 남겼어요."))
        return outputs, error[0]

    def _execute(self, code: str, timeout: float, hook, store_history: bool) -> None:
        """Send code and pass its iopub messages to hook until idle; notices a dead kernel fast."""
        import queue

        msg_id = self.kc.execute(code, store_history=store_history, allow_stdin=False)
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            try:
                msg = self.kc.get_iopub_msg(timeout=min(0.2, remaining))
            except queue.Empty:
                if not self.km.is_alive():
                    self.kill("커널이 비정상 종료되었어요 (kernel died: memory limit, os._exit or crash)")
                    raise KernelGone(self.dead_reason) from None
                continue
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                break
            hook(msg)
        try:
            self.kc.get_shell_msg(timeout=0.5)  # the execute_reply; keeps the shell queue empty
        except queue.Empty:
            pass

    def request(self, req: dict, timeout: float = 30) -> dict:
        """A grader request answered by academy.grading.codec.serve inside the kernel."""
        from academy.grading.codec import parse_reply, request_code

        if self.dead_reason:
            raise KernelGone(self.dead_reason)
        chunks: list[str] = []

        def hook(msg):
            if msg["msg_type"] == "stream":
                chunks.append(msg["content"]["text"])

        try:
            self._execute(request_code(req), timeout, hook, store_history=False)
        except TimeoutError:
            self.kill("값을 가져오는 중 시간 초과 (timeout while fetching a value)")
            raise KernelGone(self.dead_reason) from None
        return parse_reply("".join(chunks))

    def kill(self, reason: str) -> None:
        self.dead_reason = self.dead_reason or reason
        self.sandbox.stop_kernel()

    def close(self) -> None:
        self.sandbox.cleanup()


_CLAIMED: dict[int, object] = {}


def claim_uid(preferred: int, span: int = 1000) -> tuple[int, object]:
    """A sandbox uid no other grader on this machine is using (held by a file lock).

    Cleanup kills every process of the uid, so two concurrent batches must never share one.
    A worker keeps its claim for its lifetime; the lock is released when the process exits.
    """
    import fcntl

    if preferred in _CLAIMED:
        return preferred, _CLAIMED[preferred]
    locks = Path("/run/academy-sandbox")
    locks.mkdir(parents=True, exist_ok=True)
    candidates = [preferred] + [BASE_UID + i for i in range(span) if BASE_UID + i != preferred]
    for uid in candidates:
        handle = open(locks / f"{uid}.lock", "w")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            continue
        _CLAIMED[uid] = handle
        return uid, handle
    raise RuntimeError("no free sandbox uid")


def kill_uid(uid: int) -> int:
    import psutil

    killed = 0
    for _ in range(3):
        victims = [
            p
            for p in psutil.process_iter(["uids", "status"])
            if p.info["uids"] and p.info["uids"].real == uid and p.info["status"] != psutil.STATUS_ZOMBIE
        ]
        if not victims:
            break
        for proc in victims:
            try:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            except psutil.Error:
                pass
        time.sleep(0.05)
    return killed


# --------------------------------------------------------------------------- launcher (runs as root inside the namespaces)


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True)


def _traversable_python() -> None:
    """Make the interpreter reachable for the unprivileged user.

    The interpreter may live under a 0700 directory such as /root/.pyenv. Inside our
    mount namespace, replace that directory with an empty tmpfs (mode 755) and bind
    only the needed child back into it: the user can run Python and sees nothing else.
    """
    targets = {Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().parent, Path(sys.prefix).resolve()}
    for target in sorted(targets):
        parts = target.parts
        for depth in range(1, len(parts)):
            parent = Path(*parts[:depth])
            child = Path(*parts[: depth + 1])
            mode = parent.stat().st_mode
            if mode & 0o001:
                continue
            staging = Path("/run") / f"academy-keep-{depth}-{abs(hash(str(child)))}"
            staging.mkdir(parents=True, exist_ok=True)
            _mount("--bind", str(child), str(staging))
            _mount("-t", "tmpfs", "-o", "mode=755,size=1m", "tmpfs", str(parent))
            child.mkdir(parents=True, exist_ok=True)
            _mount("--bind", str(staging), str(child))
            break


def _private_tmp(keep: list[str], size_mb: int) -> None:
    """A fresh /tmp (other users' and graders' temp files vanish), keeping needed paths.

    A checkout, virtualenv or data cache may itself live under /tmp (CI clones often do):
    those are bound aside, the tmpfs is mounted, and they are bound back at the same paths.
    """
    tmp = Path("/tmp")
    inside = sorted({Path(p) for p in keep if Path(p) != tmp and tmp in Path(p).parents and Path(p).exists()})
    roots = [p for p in inside if not any(q in p.parents for q in inside)]
    staged = []
    for i, path in enumerate(roots):
        staging = Path("/run") / f"academy-keep-tmp-{os.getpid()}-{i}"
        staging.mkdir(parents=True, exist_ok=True)
        _mount("--bind", str(path), str(staging))
        staged.append((staging, path))
    _mount("-t", "tmpfs", "-o", f"mode=1777,size={size_mb}m", "tmpfs", "/tmp")
    for staging, path in staged:
        path.mkdir(parents=True, exist_ok=True)
        _mount("--bind", str(staging), str(path))


def _mask(path: str) -> None:
    target = Path(path)
    if target.is_dir():
        _mount("-t", "tmpfs", "-o", "mode=000,size=1k", "tmpfs", path)
    elif target.exists():
        _mount("--bind", "/dev/null", path)


def _set_limits(limits: Limits) -> None:
    import resource

    mb = 1024 * 1024
    pairs = {
        resource.RLIMIT_AS: limits.memory_mb * mb,
        resource.RLIMIT_CPU: limits.cpu_seconds,
        resource.RLIMIT_NPROC: limits.processes,
        resource.RLIMIT_FSIZE: limits.file_size_mb * mb,
        resource.RLIMIT_NOFILE: limits.open_files,
        resource.RLIMIT_CORE: 0,
    }
    for kind, value in pairs.items():
        resource.setrlimit(kind, (value, value))


def _no_new_privs() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_NO_NEW_PRIVS = 38
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def launch(spec: SandboxSpec, argv: list[str]) -> None:
    limits = Limits(**spec.limits)
    _private_tmp(spec.keep, limits.tmp_mb)
    if Path("/dev/shm").exists():
        _mount("-t", "tmpfs", "-o", "mode=1777,size=16m", "tmpfs", "/dev/shm")
    _traversable_python()
    for path in spec.masks:
        _mask(path)
    home = "/tmp/home"
    os.makedirs(home, exist_ok=True)
    os.chown(home, spec.uid, spec.uid)
    env = dict(spec.env)
    env.update(
        HOME=home,
        TMPDIR="/tmp",
        PYTHONNOUSERSITE="1",
        PYTHONDONTWRITEBYTECODE="1",
        MPLBACKEND="module://matplotlib_inline.backend_inline",
        MPLCONFIGDIR=f"{home}/.mpl",
        IPYTHONDIR=f"{home}/.ipython",
        JUPYTER_CONFIG_DIR=f"{home}/.jupyter",
        JUPYTER_DATA_DIR=f"{home}/.local/share/jupyter",
        JUPYTER_RUNTIME_DIR=f"{home}/.jupyter-runtime",
        JUPYTER_PLATFORM_DIRS="1",
        OPENBLAS_NUM_THREADS="1",
        ARROW_DEFAULT_MEMORY_POOL="system",  # jemalloc reserves ~1 GB of address space up front
        MALLOC_ARENA_MAX="2",
        OMP_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    os.chdir(spec.workdir)
    _set_limits(limits)
    os.setgroups([])
    os.setgid(spec.uid)
    os.setuid(spec.uid)
    _no_new_privs()
    os.execvpe(argv[0], argv, env)


def main(args: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if args is None else args)
    split = args.index("--")
    spec = SandboxSpec(**json.loads(args[0]))
    launch(spec, args[split + 1 :])


if __name__ == "__main__":
    main()
