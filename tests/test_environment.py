"""environment.yml (conda) and pyproject.toml (pip) describe the same environment."""
from __future__ import annotations

import re
import tomllib

import yaml

from academy import config

ROOT = config.project_root()
# conda-forge spells a few packages differently from PyPI.
CONDA_TO_PYPI = {"python-duckdb": "duckdb"}
CONDA_ONLY = {"python", "pip", "openjdk"}  # openjdk: pyspark's JVM, a system package for pip users


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    name, spec = match.group(1), match.group(2).replace(" ", "")
    spec = re.sub(r"^=(?=[0-9])", "==", spec)  # conda 'x=1.0' means '==1.0'
    return re.sub(r"[-_.]+", "-", name).lower(), ",".join(sorted(spec.split(","))) if spec else ""


def _pyproject() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["dependencies"] + project["optional-dependencies"]["dev"]
    return dict(_split(r) for r in requirements)


def _environment() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    found = {}
    for item in env["dependencies"]:
        entries = item["pip"] if isinstance(item, dict) else [item]
        for entry in entries:
            name, spec = _split(entry)
            if name not in CONDA_ONLY:
                found[CONDA_TO_PYPI.get(name, name)] = spec
    return found


def test_same_packages():
    pip, conda = _pyproject(), _environment()
    assert set(pip) == set(conda), {
        "only in pyproject": sorted(set(pip) - set(conda)),
        "only in environment.yml": sorted(set(conda) - set(pip)),
    }


def test_same_version_ranges():
    pip, conda = _pyproject(), _environment()
    differ = {name: (pip[name], conda[name]) for name in pip if name in conda and pip[name] != conda[name]}
    assert not differ, differ


def test_environment_python_matches_requires_python():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python.split("=")[1] in requires


def test_readme_quick_start_and_ci_agree():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make run" in readme and "make test" in readme
    commands = [line.strip() for line in ci.splitlines() if line.strip() and not line.startswith(("#", "set ", "cd ", "export "))]
    assert commands == ["make test"], commands


def test_readme_attributes_every_dataset():
    from academy import data

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [d for d in data.Catalog.from_file(config.catalog_path()).ids() if f"`{d}`" not in readme]
    assert not missing, missing
