"""Where things live: project root, data mirror, caches, build output.

Everything is computed on call (no I/O at import time) and can be redirected
with environment variables, which is how CI and the tests keep $HOME clean.
"""
from __future__ import annotations

import os
from pathlib import Path

# Source checkout layout: src/academy/config.py -> project root is two levels up.
_PACKAGE_DIR = Path(__file__).resolve().parent


def project_root() -> Path:
    """The course checkout: $ACADEMY_ROOT, else the source tree this package lives in."""
    env = os.environ.get("ACADEMY_ROOT")
    if env:
        return Path(env).resolve()
    return _PACKAGE_DIR.parents[1]


def catalog_path() -> Path:
    env = os.environ.get("ACADEMY_CATALOG")
    return Path(env) if env else project_root() / "datasets" / "catalog.yml"


def data_mirror() -> Path | None:
    """A folder laid out like shared/datasets/<dataset-id>/<file>, if configured."""
    env = os.environ.get("ACADEMY_DATA_DIR")
    return Path(env).resolve() if env else None


def cache_dir() -> Path:
    """Downloaded files and parquet caches. $ACADEMY_CACHE_DIR, else the user cache."""
    env = os.environ.get("ACADEMY_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "busan-data-academy"


def build_dir() -> Path:
    env = os.environ.get("ACADEMY_BUILD_DIR")
    return Path(env) if env else project_root() / "_build"
