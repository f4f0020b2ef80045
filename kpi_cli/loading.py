"""Finding a source's files, matching its headers to canonical columns, scanning it lazily.

Nothing here parses values: :mod:`kpi_cli.parsing` does that and counts what fails.
"""

from __future__ import annotations

import glob
import gzip
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from kpi_cli.errors import DataError, UsageError
from kpi_cli.presets import ALL_PRESET_NAMES, PRESET_SOURCES, PRESETS, Preset
from kpi_cli.schemas import KEEP_EXTRA, SOURCES, normalise

if TYPE_CHECKING:
    import polars as pl

    from kpi_cli.config import Settings

SUFFIXES = (".parquet", ".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".ndjson")
REMOTE = ("s3://", "gs://", "gcs://", "az://", "abfs://", "http://", "https://", "hf://")


@dataclass
class Source:
    """A located source: its files, the header → canonical mapping and the scan."""

    name: str
    files: list[str]
    mapping: dict[str, str]  # canonical -> header as found
    frame: pl.LazyFrame  # canonical names, raw values, plus _file and _line
    preset: Preset | None = None
    amount_unit: str = "major"
    extra: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    table: dict[str, object] = field(default_factory=dict)  # the source's config table (decimal, status …)

    @property
    def columnar(self) -> bool:
        """Every file is Parquet: typed values, scanned again cheaply on each pass."""
        return all(".parquet" in f.lower() for f in self.files)


def find_files(name: str, settings: Settings) -> list[str]:
    """The files of source ``name``: config path/glob, else the first match in the data dir."""
    configured = settings.source_table(name).get("path")
    if configured:
        text = str(configured)
        if text.startswith(REMOTE):
            return [text]
        base = settings.project_file.parent if settings.project_file else Path()
        pattern = text if Path(text).is_absolute() else str(base / text)
        found = sorted(glob.glob(pattern, recursive=True)) if any(c in text for c in "*?[") else [pattern]
        if not found or not all(Path(f).exists() for f in found):
            msg = f"source {name}: {text} matches no file"
            raise DataError(msg, hint=f"fix [sources.{name}] path in the config")
        return _expand(found)
    root = settings.data_dir
    for suffix in SUFFIXES:
        candidate = root / f"{name}{suffix}"
        if candidate.is_file():
            return [str(candidate)]
    folder = root / name
    if folder.is_dir():
        parts = sorted(str(p) for p in folder.rglob("*") if p.is_file() and p.name.endswith(SUFFIXES))
        if parts:
            return parts
    return []


def _expand(paths: list[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        if Path(p).is_dir():
            out += sorted(str(f) for f in Path(p).rglob("*") if f.is_file() and f.name.endswith(SUFFIXES))
        else:
            out.append(p)
    return out


def _scan_one(path: str) -> pl.LazyFrame:
    """Scan one file with every CSV column as text (parsing is ours, so bad values are counted)."""
    import polars as pl

    lower = path.lower()
    try:
        if lower.endswith(".parquet") or (path.startswith(REMOTE) and ".parquet" in lower):
            return pl.scan_parquet(path)
        if lower.endswith((".jsonl", ".ndjson")):
            return pl.scan_ndjson(path, infer_schema_length=None)
        if lower.endswith(".jsonl.gz"):
            with gzip.open(path, "rb") as f:
                return pl.read_ndjson(io.BytesIO(f.read())).lazy()
        if lower.endswith(".gz"):
            with gzip.open(path, "rb") as f:
                return pl.read_csv(f.read(), infer_schema=False).lazy()
        return pl.scan_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.ComputeError) as e:
        msg = f"cannot read {path}: {str(e).splitlines()[0]}"
        raise DataError(msg, hint="check the file is CSV, Parquet or JSONL and not truncated") from None


def _headers(frame: pl.LazyFrame, path: str) -> list[str]:
    import polars as pl

    try:
        return list(frame.collect_schema().names())
    except (OSError, pl.exceptions.PolarsError) as e:
        msg = f"cannot read {path}: {str(e).splitlines()[0]}"
        raise DataError(msg, hint="check the file is CSV, Parquet or JSONL and not truncated") from None


def resolve_columns(
    name: str, headers: list[str], settings: Settings, path: str
) -> tuple[dict[str, str], Preset | None]:
    """Map canonical columns to headers: config columns > preset > case/punctuation-insensitive match."""
    table = settings.source_table(name)
    preset = None
    if table.get("preset"):
        key = str(table["preset"]).lower()
        if key not in ALL_PRESET_NAMES:
            msg = f"source {name}: unknown preset {table['preset']!r}"
            raise DataError(msg, hint=f"use one of: {', '.join(ALL_PRESET_NAMES)}")
        home = PRESET_SOURCES[key]
        if home != name:
            msg = f"source {name}: preset {key!r} is for {home}, not {name}"
            raise DataError(msg, hint=f"remove preset from [sources.{name}] or move it to [sources.{home}]")
        preset = PRESETS.get(key)
    by_key = {normalise(h): h for h in reversed(headers)}
    explicit = {str(k): str(v) for k, v in (table.get("columns") or {}).items()}
    mapping: dict[str, str] = {}
    for col in SOURCES[name]:
        if col.name in explicit:
            header = explicit[col.name]
            if header not in headers and normalise(header) not in by_key:
                msg = (f"source {name} ({path}): mapped column {col.name} = {header!r} is not in the file; "
                       f"found: {', '.join(headers[:12])}")
                raise DataError(msg, hint=f"fix [sources.{name}.columns] {col.name} in the config")
            mapping[col.name] = header if header in headers else by_key[normalise(header)]
            continue
        candidates = (preset.columns.get(col.name, ()) if preset else ()) + (col.name,)
        for cand in candidates:
            if normalise(cand) in by_key:
                mapping[col.name] = by_key[normalise(cand)]
                break
    missing = [c.name for c in SOURCES[name] if c.required and c.name not in mapping]
    if missing:
        first = missing[0]
        msg = (f"source {name} ({path}): required column {first} not found; "
               f"found: {', '.join(headers[:12])}{' …' if len(headers) > 12 else ''}")
        hint = f'map it in kpi.toml: [sources.{name}.columns] {first} = "<your header>"'
        if not preset:
            hint += " (or set a preset: stripe, chargebee, recurly, baremetrics)"
        raise DataError(msg, hint=hint)
    return mapping, preset


def _column(header: str, headers: list[str]) -> pl.Expr:
    """A plain column, or ``parent.field`` inside a struct column."""
    import polars as pl

    if header in headers:
        return pl.col(header)
    parent, _, leaf = header.partition(".")
    return pl.col(parent).struct.field(leaf)


def load_source(name: str, settings: Settings, *, required: bool = True) -> Source | None:
    """Locate and lazily scan source ``name`` with canonical column names.

    Returns None when the source is absent and not ``required``.
    """
    import polars as pl

    files = find_files(name, settings)
    if not files:
        if not required:
            return None
        msg = f"source {name} not found in {settings.data_dir}"
        hint = (f"put {name}.csv (or .parquet, .jsonl, a {name}/ folder) in the data directory, "
                f"or pass --data DIR / set [sources.{name}] path")
        raise DataError(msg, hint=hint)
    frames: list[pl.LazyFrame] = []
    mapping: dict[str, str] = {}
    preset = None
    extra: list[str] = []
    for number, path in enumerate(files):
        frame = _scan_one(path)
        headers = _headers(frame, path)
        if not headers:
            msg = f"source {name} ({path}) is empty: no header row"
            raise DataError(msg, hint=f"export {name} again with its header line")
        # Fields of struct columns (JSON exports nest them) can be mapped as "parent.field".
        schema = frame.collect_schema()
        nested = [f"{n}.{f.name}" for n, dt in schema.items() if isinstance(dt, pl.Struct) for f in dt.fields]
        mapping, preset = resolve_columns(name, headers + nested, settings, path)
        mapped = set(mapping.values())
        # Unmapped columns stay as attributes, except those named like a canonical column (the
        # preset mapped that role elsewhere, e.g. Segment's event_text over event).
        extra = [h for h in headers if h not in mapped and h not in mapping] if name in KEEP_EXTRA else []
        exprs = [_column(h, headers).alias(c) for c, h in mapping.items()] + [pl.col(h) for h in extra]
        frames.append(
            frame.with_row_index("_line", offset=2)
            # The file as its index in ``files``: a path string repeated on every row costs memory.
            .select(pl.lit(number, dtype=pl.UInt32).alias("_file"), pl.col("_line").cast(pl.Int64), *exprs)
        )
    combined = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
    table = settings.source_table(name)
    unit = str(table.get("amount_unit") or (preset.amount_unit if preset else "major"))
    if unit not in ("major", "minor"):
        msg = f"source {name}: amount_unit {unit!r} must be major or minor"
        raise UsageError(msg, hint=f'set [sources.{name}] amount_unit = "minor" for cents')
    src = Source(name, files, mapping, combined, preset, unit, extra, table=table)
    if preset and preset.snapshot:
        src.warnings.append(f"{name}: {preset.note}")
    return src
