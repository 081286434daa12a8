"""academy.execute: parallel runs, budgets, failure reports and the cache."""
from __future__ import annotations

import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from academy import execute

pytestmark = pytest.mark.slow


def _notebook(path, *sources):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    root = tmp_path_factory.mktemp("nbs")
    good = _notebook(root / "good.ipynb", "import os\nprint('selftest', os.environ.get('ACADEMY_CHECKS_SELFTEST'))", "x = 6 * 7\nx")
    bad = _notebook(root / "bad.ipynb", "raise ValueError('부러진 노트북')")
    slow = _notebook(root / "slow.ipynb", "import time\ntime.sleep(60)")
    hog = _notebook(root / "hog.ipynb", "import time\nblock = bytearray(600 * 2**20)\ntime.sleep(30)")
    missing = root / "missing.ipynb"
    build = root / "_build"
    report = execute.run(
        [good, bad, slow, hog, missing], jobs=2, timeout=8, memory_mb=300, build_dir=build, progress=False
    )
    return root, build, report


def test_statuses(batch):
    _, _, report = batch
    status = {r.notebook.split("/")[-1]: r.status for r in report.results}
    assert status == {
        "good.ipynb": "ok",
        "bad.ipynb": "failed",
        "slow.ipynb": "timeout",
        "hog.ipynb": "memory",
        "missing.ipynb": "missing",
    }
    assert not report.ok


def test_outputs_and_errors_are_kept(batch):
    _, _, report = batch
    rows = report.by_notebook()
    good = nbformat.read(next(r.output for r in report.results if r.notebook.endswith("good.ipynb")), 4)
    assert good.cells[1].outputs[0]["data"]["text/plain"] == "42"
    assert "selftest 1" in good.cells[0].outputs[0]["text"]  # self-check proof mode is on
    bad = next(r for r in rows.values() if r.notebook.endswith("bad.ipynb"))
    assert "ValueError" in bad.error and "부러진" in bad.error
    executed_bad = nbformat.read(bad.output, 4)
    outputs = [o for c in executed_bad.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs and outputs[0]["output_type"] == "error"
    hog = next(r for r in rows.values() if r.notebook.endswith("hog.ipynb"))
    assert hog.peak_mb > 300


def test_report_written(batch):
    _, build, report = batch
    saved = json.loads((build / "reports" / "execution.json").read_text())
    assert [r["status"] for r in saved["results"]] == [r.status for r in report.results]
    table = (build / "reports" / "execution.txt").read_text()
    assert "FAILED" in table and "TIMEOUT" in table and "MEMORY" in table


def test_cache_hits_and_invalidation(batch):
    root, build, first = batch
    good = root / "good.ipynb"
    again = execute.run([good], build_dir=build, progress=False)
    assert again.results[0].cached and again.results[0].status == "ok"
    nb = nbformat.read(good, 4)
    nb.cells[1].source = "x = 6 * 8\nx"
    nbformat.write(nb, good)
    changed = execute.run([good], build_dir=build, progress=False)
    assert not changed.results[0].cached
    out = nbformat.read(changed.results[0].output, 4)
    assert out.cells[1].outputs[0]["data"]["text/plain"] == "48"


def test_cache_key_depends_on_datasets(tmp_path, monkeypatch):
    nb = _notebook(tmp_path / "d.ipynb", "from academy import data\nstores = data.load('busan-stores')")
    fingerprint = "env"
    key = execute.cache_key(nb, fingerprint)
    from academy import data

    real = data.Catalog.fingerprint
    monkeypatch.setattr(
        data.Catalog, "fingerprint", lambda self, d: "changed" if d == "busan-stores" else real(self, d)
    )
    assert execute.cache_key(nb, fingerprint) != key
