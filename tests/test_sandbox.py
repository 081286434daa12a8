"""The sandbox on its own: what untrusted code can and cannot do inside it."""
from __future__ import annotations

import os

import pytest

from academy import config
from academy.sandbox import Sandbox, SandboxKernel, available, kill_uid

OK, WHY = available()
pytestmark = [pytest.mark.slow, pytest.mark.skipif(not OK, reason=f"sandbox unavailable: {WHY}")]


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    secret_dir = tmp_path_factory.mktemp("secret")
    (secret_dir / "hidden.txt").write_text("answer")
    secret_root = config.build_dir() / "test-secret"
    secret_root.mkdir(parents=True, exist_ok=True)
    (secret_root / "solutions.txt").write_text("solution")
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    box = Sandbox(7, config.build_dir() / "sandbox", masks=[secret_root])
    k = SandboxKernel(box)
    os.environ.pop("NBGRADER_EXECUTION")
    yield k, secret_root, secret_dir
    k.close()


def run(k, code):
    outputs, error = k.run(code, 30)
    text = "".join(o.get("text", "") for o in outputs if o.get("output_type") == "stream")
    return text.strip(), error, outputs


def test_runs_as_unprivileged_uid_in_own_pid_namespace(kernel):
    k, _, _ = kernel
    text, error, _ = run(k, "import os; print(os.getuid(), os.geteuid(), os.getgroups(), os.getpid())")
    uid, euid, groups, pid = text.split(" ", 2)[0], text.split(" ")[1], text.split(" ")[2], text.split(" ")[-1]
    assert int(uid) >= 61000 and uid == euid and groups == "[]" and pid == "1"


def test_no_network(kernel):
    k, _, _ = kernel
    text, _, _ = run(k, "import socket\ntry:\n  socket.create_connection(('127.0.0.1', 22), timeout=2); print('open')\nexcept OSError as e: print('blocked')")
    assert text == "blocked"


def test_masked_paths_and_other_tmp_files_are_unreadable(kernel):
    k, secret_root, secret_dir = kernel
    text, _, _ = run(k, f"""
out = []
for path in [{str(secret_root / 'solutions.txt')!r}, {str(secret_dir / 'hidden.txt')!r}, '/root/.bash_history', '/etc/shadow']:
    try:
        open(path).read(); out.append('READ ' + path)
    except OSError:
        out.append('denied')
print(out)""")
    assert "READ" not in text, text


def test_environment_is_scrubbed(kernel):
    k, _, _ = kernel
    text, _, _ = run(k, "import os; print(sorted(k for k in os.environ if 'NBGRADER' in k or 'JPY' in k), os.environ['HOME'])")
    assert text == "[] /tmp/home"


def test_limits_stop_fork_bombs_and_memory_hogs(kernel):
    k, _, _ = kernel
    text, _, _ = run(k, "import resource; print(resource.getrlimit(resource.RLIMIT_NPROC)[0], resource.getrlimit(resource.RLIMIT_AS)[0] // 2**20)")
    nproc, memory = map(int, text.split())
    assert nproc <= 64 and memory <= 4096
    _, error, _ = run(k, "x = bytearray(8 * 2**30)")
    assert error == "MemoryError"


def test_cleanup_kills_escaped_processes(tmp_path):
    import time

    import psutil

    box = Sandbox(8, config.build_dir() / "sandbox", masks=[])
    k = SandboxKernel(box)
    run(k, "import subprocess\nsubprocess.Popen(['sleep', '300'], start_new_session=True)")
    time.sleep(0.3)
    uid = box.uid
    assert [p for p in psutil.process_iter(["uids"]) if p.info["uids"].real == uid]
    k.close()
    alive = [p for p in psutil.process_iter(["uids", "status"]) if p.info["uids"] and p.info["uids"].real == uid and p.info["status"] != psutil.STATUS_ZOMBIE]
    assert not alive
    assert kill_uid(uid) == 0


def test_needed_paths_under_tmp_stay_visible(tmp_path, monkeypatch):
    """CI may clone the project under /tmp: the private /tmp must keep what the kernel needs,
    also when the data folder is configured through a symlink (only its target is kept)."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "x.txt").write_text("kept")
    (tmp_path / "link").symlink_to(mirror)
    (tmp_path / "private.txt").write_text("gone")
    monkeypatch.setenv("ACADEMY_DATA_DIR", str(tmp_path / "link"))
    k = SandboxKernel(Sandbox(9, config.build_dir() / "sandbox", masks=[]))
    try:
        code = f"import os\nfrom academy import config\nprint((config.data_mirror() / 'x.txt').read_text(), os.path.exists({str(tmp_path / 'private.txt')!r}))"
        text, _, _ = run(k, code)
    finally:
        k.close()
    assert text == "kept False"


def test_kernel_is_a_normal_ipykernel_with_inline_plots(kernel):
    k, _, _ = kernel
    _, error, outputs = run(k, "import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()")
    assert not error
    assert any("image/png" in o.get("data", {}) for o in outputs), outputs
    text, _, _ = run(k, "import sys\nprint(sys.argv[0], 'debugpy' in sys.modules and sys.modules['debugpy'] is None)")
    assert text == "ipykernel_launcher True"


def test_preloaded_tables_reach_the_kernel_without_reading(tmp_path):
    box = Sandbox(8, config.build_dir() / "sandbox", masks=[], preload=[("busan-stores", None)])
    k = SandboxKernel(box)
    try:
        code = (
            "from academy import data\n"
            "data._verified_path = None  # reading any file would now fail\n"
            "stores = data.load('busan-stores')\n"
            "print(len(stores))"
        )
        text, error, _ = run(k, code)
    finally:
        k.close()
    assert not error and int(text) > 100_000


def test_kernels_die_with_their_grader(tmp_path):
    """A grader worker killed mid-submission leaves no sandboxed process behind."""
    import time

    import psutil

    from academy import sandbox

    box = Sandbox(8, config.build_dir() / "sandbox", masks=[])
    k = SandboxKernel(box)
    run(k, "import subprocess\nsubprocess.Popen(['sleep', '300'], start_new_session=True)")

    def alive():
        return [p for p in psutil.process_iter(["uids", "status"]) if p.info["uids"] and p.info["uids"].real == box.uid and p.info["status"] != psutil.STATUS_ZOMBIE]

    assert len(alive()) >= 2
    sandbox.fork_server().proc.kill()  # what happens to it when its worker dies
    deadline = time.monotonic() + 5
    while alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive()
    k.close()


def test_disk_cannot_be_filled():
    """Many files under the file-size limit still stop at the slot's quota; the rest of the
    file system is read-only."""
    code = (
        "import errno, os\n"
        "written, stop = 0, ''\n"
        "try:\n"
        "    for i in range(40):\n"
        "        with open(f'fill{i}', 'wb') as fh:\n"
        "            fh.write(b'0' * 32 * 2**20)\n"
        "        written += 32\n"
        "except OSError as exc:\n"
        "    stop = errno.errorcode[exc.errno]\n"
        "for i in range(40):\n"
        "    if os.path.exists(f'fill{i}'): os.remove(f'fill{i}')\n"
        "try:\n"
        "    open('/var/tmp/x', 'w')\n"
        "    var_tmp = 'writable'\n"
        "except OSError as exc:\n"
        "    var_tmp = errno.errorcode[exc.errno]\n"
        "print(written, stop, var_tmp)"
    )
    k = SandboxKernel(Sandbox(9, config.build_dir() / "sandbox", masks=[]))
    try:
        text, error, _ = run(k, code)
    finally:
        k.close()
    written, stop, var_tmp = (text.split() + ["?"] * 3)[:3] if not error else (text, error, "")
    assert int(written) < 600 and stop == "ENOSPC" and var_tmp in ("EROFS", "EACCES")
