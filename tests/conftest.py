"""Test configuration: no network, no writes into $HOME, data from the mirror."""
from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_MIRROR = ROOT.parent / "shared" / "datasets"


def _configure_environment() -> None:
    # Runs at import time of conftest (before any test module imports academy).
    base = Path(os.environ.get("ACADEMY_TEST_HOME") or tempfile.mkdtemp(prefix="academy-test-home-"))
    for var, sub in {
        "JUPYTER_CONFIG_DIR": "jupyter-config",
        "JUPYTER_DATA_DIR": "jupyter-data",
        "JUPYTER_RUNTIME_DIR": "jupyter-runtime",
        "IPYTHONDIR": "ipython",
        "MPLCONFIGDIR": "matplotlib",
    }.items():
        os.environ[var] = str(base / sub)
        (base / sub).mkdir(parents=True, exist_ok=True)
    os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
    os.environ.setdefault("MPLBACKEND", "Agg")
    if not os.environ.get("ACADEMY_DATA_DIR") and SHARED_MIRROR.exists():
        os.environ["ACADEMY_DATA_DIR"] = str(SHARED_MIRROR)
    # Parsed-table cache shared by the whole run (and by the notebook runner).
    os.environ.setdefault("ACADEMY_CACHE_DIR", str(ROOT / "_build" / "data-cache"))


_configure_environment()


class NetworkBlocked(RuntimeError):
    pass


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """Any connection to a non-loopback address fails the test."""
    real_connect = socket.socket.connect

    def guarded(self, address):
        host = address[0] if isinstance(address, tuple) else address
        if isinstance(host, str) and (host.startswith("127.") or host in ("localhost", "::1", "")):
            return real_connect(self, address)
        if self.family == socket.AF_UNIX:
            return real_connect(self, address)
        raise NetworkBlocked(f"network access in tests: {address}")

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def mirror() -> Path:
    path = os.environ.get("ACADEMY_DATA_DIR")
    if not path or not Path(path).exists():
        pytest.fail("ACADEMY_DATA_DIR must point to the data mirror (CI sets it to ../shared/datasets)")
    return Path(path)


@pytest.fixture(scope="session")
def capstone_checks(tmp_path_factory):
    """Run `academy capstone check` once per session for every project in course/15-capstone."""
    from academy import capstone, config
    from academy.sandbox import available

    ok, why = available()
    if not ok:
        pytest.skip(f"sandbox unavailable: {why}")
    out = tmp_path_factory.mktemp("capstone-checks")
    for project in capstone.find_projects(config.project_root() / "course" / "15-capstone"):
        capstone.check(project, out_root=out)
    return out
