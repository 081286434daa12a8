"""Isolation for untrusted notebooks: a Jupyter kernel in a box.

A sandboxed kernel runs
  * in fresh network, mount and PID namespaces: no network at all (not even loopback is
    up), the kernel is PID 1 of its namespace so every process it starts dies with it, and
    its view of the file system hides what it must not read;
  * as an unprivileged user (one uid per slot, ``61000 + slot``) with no groups and
    ``no_new_privs``;
  * with resource limits: address space, CPU seconds, processes, file size, open files;
  * with a scrubbed environment (no NBGRADER_* hints, HOME and /tmp private);
  * talking to the grader over the IPC (Unix socket) transport, the only channel out.

Kernels come from a fork server: a clean root process (``python -m academy.sandbox``,
started with the scrubbed environment, never holding grader data) that has imported the
kernel and the course's libraries once. For each kernel it forks; the child enters new
namespaces, forks the namespace's PID 1, which mounts, limits, drops privileges and starts
ipykernel in-process. Starting a kernel this way costs a fork instead of a Python start-up
plus imports, which is most of a small submission's grading time.

``Sandbox.start_kernel()`` returns a connected kernel client; ``Sandbox.cleanup()`` kills
every process of the slot's uid and removes its files. Running as root is required for
namespaces and the uid switch; `available()` says whether this machine can do it.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import nbformat

BASE_UID = 61000
MAX_OUTPUT_CHARS = 20_000  # printed text kept per cell
MAX_RICH_CHARS = 10_000_000  # images, HTML, … kept per cell
MAX_MESSAGE_BYTES = 256 * 1024 * 1024  # a larger message from the kernel is dropped by ZeroMQ
IOPUB_GRACE = 5.0  # seconds of iopub silence after the execute_reply before a cell counts as done
KEEP_ENV = ("PATH", "LANG", "LC_ALL", "ACADEMY_DATA_DIR", "ACADEMY_CACHE_DIR", "ACADEMY_ROOT", "TZ")


@dataclass
class Limits:
    memory_mb: int = 3072  # address space (virtual), not resident memory: numpy/pandas/arrow reserve a lot
    cpu_seconds: int = 300
    processes: int = 64
    file_size_mb: int = 64
    open_files: int = 256
    tmp_mb: int = 128
    disk_mb: int = 512  # the slot's runtime folder (work dir, sockets, log): a tmpfs of this size


@dataclass
class SandboxSpec:
    """What a sandboxed kernel is set up with (sent to the fork server as JSON)."""

    uid: int
    workdir: str
    masks: list[str] = field(default_factory=list)
    limits: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)
    keep: list[str] = field(default_factory=list)  # paths that stay visible even under the private /tmp


def available() -> tuple[bool, str]:
    """Can this machine build the sandbox? (root, and new namespaces permitted)."""
    if os.geteuid() != 0:
        return False, "the grader must run as root to create sandboxes (namespaces, uid switch)"
    probe = subprocess.run(
        [sys.executable, "-c", f"from academy.sandbox import _unshare; _unshare({CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID})"],
        capture_output=True,
        text=True,
    )
    if probe.returncode != 0:
        last_line = (probe.stderr.strip().splitlines() or ["?"])[-1]
        return False, f"namespaces are not permitted here: {last_line}"
    return True, ""


class Sandbox:
    """One slot: a uid, a private work directory, and at most one kernel at a time."""

    def __init__(self, slot: int, runtime: Path, masks: list[Path], limits: Limits | None = None, preload=()):
        """``preload``: (dataset, table) pairs the kernel will load; the fork server keeps
        them parsed in memory so each kernel gets them without reading (academy.data.preload)."""
        self.preload = [list(p) for p in preload]
        self.uid, self._uid_lock = claim_uid(BASE_UID + slot)
        self.runtime = Path(runtime) / f"uid-{self.uid}"
        self.masks = [str(Path(m).resolve()) for m in masks]
        self.limits = limits or Limits()
        self.pid: int | None = None
        self.kc = None

    # ---- lifecycle -----------------------------------------------------------

    def prepare(self) -> None:
        self.cleanup()
        self.runtime.mkdir(parents=True, exist_ok=True)
        # Size-limited: a file-size limit alone would not stop many files from filling the
        # grader's disk. The root file system is read-only inside the sandbox (_enter_sandbox).
        _tmpfs(str(self.runtime), f"mode=0700,uid={self.uid},gid={self.uid},size={self.limits.disk_mb}m")
        (self.runtime / "work").mkdir()
        os.chown(self.runtime / "work", self.uid, self.uid)
        os.chmod(self.runtime / "work", 0o700)

    def spec(self) -> SandboxSpec:
        from academy import config

        env = {k: os.environ[k] for k in KEEP_ENV if k in os.environ}
        # Resolved: a data folder reached through a symlink elsewhere under /tmp would
        # vanish behind the sandbox's private /tmp.
        if config.data_mirror():
            env["ACADEMY_DATA_DIR"] = str(config.data_mirror())
        env["ACADEMY_CACHE_DIR"] = str(config.cache_dir().resolve())
        return SandboxSpec(
            uid=self.uid,
            workdir=str(self.runtime / "work"),
            masks=self.masks,
            limits=asdict(self.limits),
            env=env,
            keep=self._needed_paths(),
        )

    def _needed_paths(self) -> list[str]:
        """What the kernel must reach: the engine's code, the interpreter, the data, its work dir."""
        from academy import config

        paths = [config.project_root(), Path(sys.prefix), Path(sys.base_prefix), self.runtime, config.cache_dir()]
        if config.data_mirror():
            paths.append(config.data_mirror())
        return [str(Path(p).resolve()) for p in paths]

    def start_kernel(self, startup_timeout: float = 60):
        """Start a sandboxed ipykernel; returns a connected BlockingKernelClient."""
        from jupyter_client import BlockingKernelClient
        from jupyter_client.connect import write_connection_file

        self.prepare()
        connection = self.runtime / "kernel.json"
        write_connection_file(str(connection), transport="ipc", ip=str(self.runtime / "ipc"), key=os.urandom(16).hex().encode())
        os.chown(connection, self.uid, self.uid)
        self.pid = fork_server().spawn(self.spec(), str(connection), str(self.runtime / "kernel.log"), self.preload)
        kc = BlockingKernelClient(connection_file=str(connection), context=_zmq_context())
        kc.load_connection_file()
        kc.start_channels()
        try:
            _wait_until_ready(kc, self.is_alive, startup_timeout)
        except RuntimeError:
            kc.stop_channels()
            self.stop_kernel()
            raise
        self.kc = kc
        return kc

    def is_alive(self) -> bool:
        """The kernel's outer process (the fork server's child) is running."""
        import psutil

        try:
            return self.pid is not None and psutil.Process(self.pid).status() != psutil.STATUS_ZOMBIE
        except psutil.Error:
            return False

    def stop_kernel(self) -> None:
        if self.kc is not None:
            self.kc.stop_channels()
            self.kc = None
        if self.pid is not None:
            kill_uid(self.uid)  # the kernel is PID 1 of its namespace: the rest dies with it
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.pid = None

    def cleanup(self) -> None:
        """Kill every process of this slot's uid and remove its files."""
        self.stop_kernel()
        kill_uid(self.uid)
        while os.path.ismount(self.runtime):
            _unmount(str(self.runtime))
        shutil.rmtree(self.runtime, ignore_errors=True)


def _zmq_context():
    """One ZeroMQ context per grader process whose sockets refuse oversized messages:
    a kernel must not be able to make the grader hold gigabytes."""
    global _ZMQ_CONTEXT
    if _ZMQ_CONTEXT is None:
        import zmq

        _ZMQ_CONTEXT = zmq.Context()
        _ZMQ_CONTEXT.setsockopt(zmq.MAXMSGSIZE, MAX_MESSAGE_BYTES)
    return _ZMQ_CONTEXT


_ZMQ_CONTEXT = None


def _wait_until_ready(kc, is_alive, timeout: float) -> None:
    """kernel_info answered on shell and seen on iopub (so no output is lost); notices death."""
    import queue

    deadline = time.monotonic() + timeout
    while True:
        msg_id = kc.kernel_info()
        seen = time.monotonic() + 0.1  # iopub may not be subscribed yet: ask again soon
        while time.monotonic() < seen:
            try:
                msg = kc.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                if not is_alive():
                    raise RuntimeError("the sandboxed kernel exited during start-up (see kernel.log)") from None
                continue
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                _drain_shell_until(kc, msg_id)
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the sandboxed kernel did not start within {timeout:.0f} s")


def _drain_shell_until(kc, msg_id: str) -> None:
    """Consume kernel_info replies up to ours: the shell queue must be empty for execute replies."""
    import queue

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            reply = kc.get_shell_msg(timeout=0.2)
        except queue.Empty:
            continue
        if reply.get("parent_header", {}).get("msg_id") == msg_id:
            return


class KernelGone(Exception):
    pass


class _TooLarge(Exception):
    pass


class SandboxKernel:
    """The student's sandboxed kernel, driven message by message."""

    def __init__(self, sandbox):
        self.sandbox = sandbox
        self.kc = sandbox.start_kernel()
        self.dead_reason = ""

    def run(self, code: str, timeout: float) -> tuple[list[dict], str]:
        """Execute code; returns (nbformat outputs, error name or '')."""
        if self.dead_reason:
            raise KernelGone(self.dead_reason)
        outputs: list[dict] = []
        chars = [0]
        rich = [0]
        error = [""]

        def hook(msg):
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                if chars[0] < MAX_OUTPUT_CHARS:
                    text = content["text"][: MAX_OUTPUT_CHARS - chars[0]]
                    outputs.append(nbformat.v4.new_output("stream", name=content["name"], text=text))
                chars[0] += len(content["text"])
            elif kind in ("execute_result", "display_data"):
                data = {}
                for mime, value in content.get("data", {}).items():
                    size = len(str(value))
                    if size < 2_000_000 and rich[0] + size <= MAX_RICH_CHARS:
                        data[mime] = value
                        rich[0] += size
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
        """Send code and pass its iopub messages to hook until done; notices a dead kernel fast.

        Done is the iopub "idle" status, or, since a flooded iopub socket may drop messages
        (the idle one included), the shell's execute_reply followed by a long-quiet iopub:
        outputs travel on iopub and may arrive well after the reply on a loaded machine.
        """
        import queue

        msg_id = self.kc.execute(code, store_history=store_history, allow_stdin=False)
        deadline = time.monotonic() + timeout
        replied, quiet_since = False, time.monotonic()
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            try:
                msg = self.kc.get_iopub_msg(timeout=min(0.2, remaining))
            except ValueError:
                continue  # fails its signature check: a kernel out of memory can send half a message
            except queue.Empty:
                if replied and time.monotonic() - quiet_since > IOPUB_GRACE:
                    return  # replied long ago and nothing since: the idle status was lost
                if not self.sandbox.is_alive():
                    self.kill("커널이 비정상 종료되었어요 (kernel died: memory limit, os._exit or crash)")
                    raise KernelGone(self.dead_reason) from None
                replied = replied or self._has_replied(msg_id)
                continue
            quiet_since = time.monotonic()
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            if msg["msg_type"] == "status" and msg["content"].get("execution_state") == "idle":
                break
            hook(msg)
        if not replied:
            self._has_replied(msg_id, wait=0.5)  # keeps the shell queue empty for the next request

    def _has_replied(self, msg_id: str, wait: float = 0.0) -> bool:
        """Consume shell messages; True once the execute_reply to msg_id has arrived."""
        import queue

        while True:
            try:
                reply = self.kc.get_shell_msg(timeout=wait)
            except ValueError:
                continue  # a corrupted message (see _execute)
            except queue.Empty:
                return False
            if reply.get("parent_header", {}).get("msg_id") == msg_id:
                return True

    def request(self, req: dict, timeout: float = 30) -> dict:
        """A grader request answered by academy.grading.codec.serve inside the kernel."""
        from academy.grading.codec import MAX_BYTES as MAX_REPLY_BYTES
        from academy.grading.codec import REPLY_MIME, parse_reply, request_code

        if self.dead_reason:
            raise KernelGone(self.dead_reason)
        chunks: list[str] = []
        size = [0]

        def hook(msg):
            if msg["msg_type"] == "display_data":
                text = msg["content"].get("data", {}).get(REPLY_MIME)
                if not isinstance(text, str):
                    return
                size[0] += len(text)
                if size[0] > 2 * MAX_REPLY_BYTES:  # base64 and JSON overhead included
                    raise _TooLarge
                chunks.append(text)

        try:
            self._execute(request_code(req), timeout, hook, store_history=False)
        except TimeoutError:
            self.kill("값을 가져오는 중 시간 초과 (timeout while fetching a value)")
            raise KernelGone(self.dead_reason) from None
        except _TooLarge:
            self.kill("커널이 너무 큰 값을 보냈어요 (reply too large)")
            raise KernelGone(self.dead_reason) from None
        reply = parse_reply("\n".join(chunks))
        if "broken" in reply:  # serve() always answers; silence means the kernel was tampered with
            self.kill(f"채점 요청에 응답하지 않았어요 — 커널을 종료했어요 (no valid reply: {reply['broken']})")
            raise KernelGone(self.dead_reason)
        return reply

    def kill(self, reason: str) -> None:
        self.dead_reason = self.dead_reason or reason
        self.sandbox.stop_kernel()

    def close(self) -> None:
        self.sandbox.cleanup()


_CLAIMED: dict[int, tuple[int, object]] = {}  # preferred uid -> the uid claimed for it


def claim_uid(preferred: int, span: int = 1000) -> tuple[int, object]:
    """A sandbox uid no other grader on this machine is using (held by a file lock).

    Cleanup kills every process of the uid, so two concurrent batches must never share one.
    A worker keeps its claim for its lifetime; the lock is released when the process exits.
    """
    import fcntl

    if preferred in _CLAIMED:
        return _CLAIMED[preferred]
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
        _CLAIMED[preferred] = (uid, handle)
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


# --------------------------------------------------------------------------- fork server

# Imported once by the fork server so a kernel starts without paying for them. Only what
# course notebooks commonly use; a module that fails to import is simply not preloaded.
PRELOAD = (
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "matplotlib.pyplot",
    "ipykernel.kernelapp",
    "ipykernel.ipkernel",
    "ipykernel.zmqshell",
    "academy.data",
    "academy.plotting",
    "academy.checks",
    "academy.grading.codec",
)
HOME = "/tmp/home"
KERNEL_ENV = {
    "HOME": HOME,
    "TMPDIR": "/tmp",
    "PYTHONNOUSERSITE": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
    "MPLBACKEND": "module://matplotlib_inline.backend_inline",
    "MPLCONFIGDIR": f"{HOME}/.mpl",
    "IPYTHONDIR": f"{HOME}/.ipython",
    "JUPYTER_CONFIG_DIR": f"{HOME}/.jupyter",
    "JUPYTER_DATA_DIR": f"{HOME}/.local/share/jupyter",
    "JUPYTER_RUNTIME_DIR": f"{HOME}/.jupyter-runtime",
    "JUPYTER_PLATFORM_DIRS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "ARROW_DEFAULT_MEMORY_POOL": "system",  # jemalloc reserves ~1 GB of address space up front
    "MALLOC_ARENA_MAX": "2",
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


class ForkServer:
    """The grader's handle on its fork server (one per grader process)."""

    def __init__(self):
        from academy import config

        env = {k: os.environ[k] for k in KEEP_ENV if k in os.environ}
        env.update(KERNEL_ENV)
        # Imports happen here, as root, before any sandbox exists: matplotlib's font cache
        # must not go to the kernels' HOME.
        env["MPLCONFIGDIR"] = str(config.build_dir() / "sandbox" / "mplconfig")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "academy.sandbox"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            cwd="/",
            text=True,
        )

    def spawn(self, spec: SandboxSpec, connection_file: str, log_file: str, preload=()) -> int:
        request = {"spec": asdict(spec), "connection_file": connection_file, "log_file": log_file, "preload": list(preload)}
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the sandbox fork server exited (code {self.proc.poll()})")
        return json.loads(line)["pid"]


_FORK_SERVER: ForkServer | None = None


def fork_server() -> ForkServer:
    """This process's fork server, started on first use (and again if it died)."""
    global _FORK_SERVER
    if _FORK_SERVER is None or _FORK_SERVER.proc.poll() is not None:
        _FORK_SERVER = ForkServer()
    return _FORK_SERVER


def serve() -> None:
    """The fork server's loop: one JSON request per line in, the kernel's outer pid out."""
    import importlib

    # No debugger in a sandbox: ipykernel then skips debugpy, which costs 0.5 s per kernel.
    sys.modules["debugpy"] = None
    for module in PRELOAD:
        with contextlib.suppress(Exception):
            importlib.import_module(module)
    with contextlib.suppress(Exception):
        importlib.import_module("academy.plotting").register_fonts()
    preloaded: set[tuple] = set()
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)  # stray prints must not corrupt the protocol
    for line in sys.stdin:
        with contextlib.suppress(ChildProcessError):
            while os.waitpid(-1, os.WNOHANG)[0]:
                pass  # reap finished kernels
        request = json.loads(line)
        for dataset, table in request.get("preload", []):
            if (dataset, table) not in preloaded:
                preloaded.add((dataset, table))
                with contextlib.suppress(Exception):  # the kernel then reports the problem itself
                    importlib.import_module("academy.data").preload(dataset, table)
        pid = os.fork()
        if pid == 0:
            _kernel_child(SandboxSpec(**request["spec"]), request["connection_file"], request["log_file"])
        replies.write(json.dumps({"pid": pid}) + "\n")
        replies.flush()


def _kernel_child(spec: SandboxSpec, connection_file: str, log_file: str) -> None:
    """In the fork: new namespaces, then PID 1 of the new PID namespace becomes the kernel."""
    try:
        log = os.open(log_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.closerange(3, 65536)
        _die_with_parent()  # the fork server exits when its grader worker dies
        _unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID)
        inner = os.fork()
        if inner == 0:
            _enter_sandbox(spec)
            _start_kernel(connection_file)
            os._exit(0)
        _, status = os.waitpid(inner, 0)
        os._exit(os.waitstatus_to_exitcode(status) & 0xFF)
    except BaseException:
        import traceback

        traceback.print_exc()
        os._exit(70)


def _start_kernel(connection_file: str) -> None:
    from ipykernel.kernelapp import IPKernelApp

    # As `python -m ipykernel_launcher` would see it: not the fork server's directory on the path.
    if sys.path and sys.path[0] == "/":
        del sys.path[0]
    sys.argv = ["ipykernel_launcher", "-f", connection_file]
    app = IPKernelApp.instance()
    app.initialize(["-f", connection_file])
    app.start()


# --------------------------------------------------------------------------- inside the namespaces (root, then the uid)

CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET = 0x00020000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 32, 4096, 16384, 1 << 18


@functools.cache
def _libc():
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _syscall(name: str, what: str, *args) -> None:
    """Call a libc function; a non-zero result raises OSError naming ``what``."""
    import ctypes

    if getattr(_libc(), name)(*args) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def _unshare(flags: int) -> None:
    _syscall("unshare", "unshare", flags)


def _mount(source: str | None, target: str, fstype: str | None = None, flags: int = 0, options: str | None = None) -> None:
    import ctypes

    def c(text):
        return text.encode() if text is not None else None

    _syscall("mount", f"mount {target}", c(source), c(target), c(fstype), ctypes.c_ulong(flags), c(options))


def _unmount(target: str) -> None:
    MNT_DETACH = 2
    _syscall("umount2", f"umount {target}", target.encode(), MNT_DETACH)


def _bind(source: str, target: str) -> None:
    _mount(source, target, None, MS_BIND | MS_REC)


def _tmpfs(target: str, options: str) -> None:
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, options)


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
            _bind(str(child), str(staging))
            _tmpfs(str(parent), "mode=755,size=1m")
            child.mkdir(parents=True, exist_ok=True)
            _bind(str(staging), str(child))
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
        staging = Path("/run") / f"academy-keep-tmp-{i}"
        staging.mkdir(parents=True, exist_ok=True)
        _bind(str(path), str(staging))
        staged.append((staging, path))
    _tmpfs("/tmp", f"mode=1777,size={size_mb}m")
    for staging, path in staged:
        path.mkdir(parents=True, exist_ok=True)
        _bind(str(staging), str(path))


def _mask(path: str) -> None:
    target = Path(path)
    if target.is_dir():
        _tmpfs(path, "mode=000,size=1k")
    elif target.exists():
        _bind("/dev/null", path)


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


def _die_with_parent() -> None:
    """SIGKILL when the parent process ends (cleared by a uid change: set it after)."""
    PR_SET_PDEATHSIG = 1
    _libc().prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _no_new_privs() -> None:
    PR_SET_NO_NEW_PRIVS = 38
    _libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def _enter_sandbox(spec: SandboxSpec) -> None:
    """As PID 1 of the new namespaces: mounts, environment, limits, then drop to the uid."""
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we mount leaks to the host
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)  # shows this namespace only
    limits = Limits(**spec.limits)
    _private_tmp(spec.keep, limits.tmp_mb)
    if Path("/dev/shm").exists():
        _tmpfs("/dev/shm", "mode=1777,size=16m")
    _traversable_python()
    for path in spec.masks:
        _mask(path)
    # Read-only root: only the size-limited tmpfs mounts (/tmp, /dev/shm, the work folder)
    # stay writable, so /var/tmp and friends cannot be filled.
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY)
    os.makedirs(HOME, exist_ok=True)
    os.chown(HOME, spec.uid, spec.uid)
    os.environ.clear()
    os.environ.update(spec.env)
    os.environ.update(KERNEL_ENV)
    os.chdir(spec.workdir)
    _set_limits(limits)
    os.setgroups([])
    os.setgid(spec.uid)
    os.setuid(spec.uid)
    _no_new_privs()
    _die_with_parent()  # orphaned by a dead grader, the whole namespace goes


if __name__ == "__main__":
    serve()
