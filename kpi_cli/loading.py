"""A located source: its files (:mod:`kpi_cli.files`), its header mapping (:mod:`kpi_cli.mapping`), read lazily.

Nothing here parses values: :mod:`kpi_cli.parsing` does that and counts what fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kpi_cli.errors import DataError, UsageError
from kpi_cli.files import PART_SUFFIXES, REMOTE, SUFFIXES, find_files  # noqa: F401 (found here by callers)
from kpi_cli.mapping import column_expr, preset_of, resolve
from kpi_cli.presets import Preset, source_defaults
from kpi_cli.records import RECORD, Records, csv_headers, header_zones, is_json, read_records, unique_names
from kpi_cli.schemas import KEEP_EXTRA, SOURCES
from kpi_cli.shape import (
    Filter,
    duration_unit,
    filtered,
    filters,
    probed,
    rewritten,
    zone_suffix,  # noqa: F401 (kpi init reads it from here)
    zones_of,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    import polars as pl

    from kpi_cli.config import Settings

NESTED = "list, array or struct"


@dataclass
class Source:
    """A located source: its files, the header → canonical mapping and the scan.

    ``frame`` (canonical names, raw values, ``_file`` and ``_line``) is read on first use: CSV and
    JSON through :mod:`kpi_cli.records`, which also yields ``bad_records`` (records that cannot be
    rows: ``_file`` as the path, ``_line``, ``column``, ``value``, ``reason`` and the canonical
    columns as split), Parquet as a lazy scan.
    """

    name: str
    files: list[str]
    mapping: dict[str, str]  # canonical -> header as found
    reader: Callable[[], tuple[pl.LazyFrame, pl.DataFrame | None]]
    preset: Preset | None = None
    amount_unit: str = "major"
    extra: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    table: dict[str, object] = field(default_factory=dict)  # the source's config table (decimal, status …)
    _read: tuple[pl.LazyFrame, pl.DataFrame | None] | None = field(default=None, repr=False)
    # Timestamp column -> IANA zone its naive values are local times in (source_tz, or a header's
    # "(Area/City)" suffix); parsing turns those into UTC.
    zones: dict[str, str] = field(default_factory=dict)
    duration_unit: str = "minutes"  # the unit the ``*_minutes`` columns are written in
    datetime_format: str = ""  # a strftime format tried first for timestamps
    # What locating decided (the zones of naive times) and what reading found (rows left out by a
    # preset's filter, refilled on every read): :attr:`notes`, for -v and kpi validate.
    found_notes: list[str] = field(default_factory=list)
    read_notes: list[str] = field(default_factory=list)
    # Canonical -> header over every file (``mapping`` is the last file's); None when two files give one
    # column different headers (an engine's scan by name cannot read those alike).
    headers: dict[str, str] | None = None

    @property
    def notes(self) -> list[str]:
        """What locating and reading the source decided, for ``-v`` and ``kpi validate``."""
        return [*self.found_notes, *self.read_notes]

    @property
    def columnar(self) -> bool:
        """Every file is Parquet: typed values, scanned again cheaply on each pass."""
        return all(".parquet" in f.lower() for f in self.files)

    @property
    def frame(self) -> pl.LazyFrame:
        """The rows, with canonical names plus ``_file`` and ``_line`` (read once, then held)."""
        if self._read is None:
            self._read = self.reader()
        return self._read[0]

    @property
    def bad_records(self) -> pl.DataFrame | None:
        """Records that could not be rows (None when there are none)."""
        self.frame  # noqa: B018 - reading the files finds them
        assert self._read is not None
        return self._read[1]

    def release(self) -> None:
        """Let go of the text read (a later use reads the files again)."""
        self._read = None


def _is_parquet(path: str) -> bool:
    lower = path.lower()
    return lower.endswith(".parquet") or (path.startswith(REMOTE) and ".parquet" in lower)


def _scan_one(path: str, table: dict[str, object] | None = None, source: str = "") -> pl.LazyFrame:
    """A frame whose schema is the file's columns, for reading headers (``kpi init`` too).

    Parquet is a lazy scan; JSON lines are read whole (their columns are the union of the
    objects' keys); a CSV file's header line alone is read, its delimiter sniffed.
    """
    import polars as pl

    table = table or {}
    if _is_parquet(path) or path.startswith(REMOTE):
        return _scan(path)
    if is_json(path):
        return read_records(path, table, source or "data").frame.drop("_line").lazy()
    headers, _ = csv_headers(path, table, source or "data")
    return pl.LazyFrame(schema=dict.fromkeys(unique_names(headers), pl.String))


def _scan_parquet(path: str) -> pl.LazyFrame:
    import polars as pl

    try:
        return pl.scan_parquet(path)
    except (OSError, pl.exceptions.ComputeError) as e:
        msg = f"cannot read {path}: {str(e).splitlines()[0]}"
        raise DataError(msg, hint="check the file is Parquet and not truncated") from None


def _scan(path: str) -> pl.LazyFrame:
    """Parquet, or a remote CSV/JSON-lines file through Polars' object-store readers (which count
    records, not lines: a remote text file's "line" is its record number + 1)."""
    import polars as pl

    if _is_parquet(path):
        return _scan_parquet(path)
    try:
        if is_json(path):
            return pl.scan_ndjson(path, infer_schema_length=None)
        return pl.scan_csv(path, infer_schema=False)
    except (OSError, pl.exceptions.PolarsError) as e:
        msg = f"cannot read {path}: {str(e).splitlines()[0]}"
        raise DataError(msg, hint="check the URL, your credentials, and that the file is CSV or JSON lines") from None


def _headers(frame: pl.LazyFrame, path: str) -> list[str]:
    import polars as pl

    try:
        return list(frame.collect_schema().names())
    except (OSError, pl.exceptions.PolarsError) as e:
        msg = f"cannot read {path}: {str(e).splitlines()[0]}"
        raise DataError(msg, hint="check the file is CSV, Parquet or JSONL and not truncated") from None


def load_source(name: str, settings: Settings, *, required: bool = True) -> Source | None:
    """Locate source ``name`` and map its headers; its rows are read on first use of ``frame``.

    Returns None when the source is absent and not ``required``.
    """
    files = find_files(name, settings)
    if not files:
        if not required:
            return None
        msg = f"source {name} not found in {settings.data_place}"
        hint = (f"put {name}.csv (or .parquet, .jsonl, a {name}/ folder) in the data directory, "
                f"or pass --data DIR / set [sources.{name}] path")
        raise DataError(msg, hint=hint)
    own = settings.source_table(name)
    table = source_defaults(own)
    probe = None if "header_rows" in own else getattr(preset_of(name, own), "header_probe", None)
    plans: list[_Plan] = []
    mapping: dict[str, str] = {}
    preset = None
    extra: list[str] = []
    zones: dict[str, str] = {}
    headers: dict[str, str] | None = {}
    for number, path in enumerate(files):
        plan = _plan(name, number, path, probed(table, probe, path, name))
        if not plan.headers:
            msg = f"source {name} ({path}) is empty: no header row"
            raise DataError(msg, hint=f"export {name} again with its header line")
        found = resolve(name, plan.headers + plan.nested, table, path)
        mapping, preset = found.mapping, found.preset
        if headers is not None and any(headers.setdefault(c, h) != h for c, h in mapping.items()):
            headers = None
        zones.update({c: plan.zones[h] for c, h in mapping.items() if h in plan.zones})  # Qualtrics' row 3
        zones.update(found.zones)
        _refuse_nested(name, path, mapping, plan.schema)
        mapped = set(mapping.values())
        # Unmapped columns stay as attributes, except those named like a canonical column (the
        # preset mapped that role elsewhere, e.g. Segment's event_text over event).
        names = [n for n, h in zip(unique_names(plan.headers), plan.headers, strict=True) if h not in found.ignored]
        extra = [h for h in names if h not in mapped and h not in mapping] if name in KEEP_EXTRA else []
        plan.columns = [*mapping.items(), *((h, h) for h in extra)]
        plan.constants = found.constants
        plan.rewrite = {c: preset.rewrite[c] for c in mapping if c in preset.rewrite} if preset else {}
        plan.filters = filters(preset, table, plan.headers)
        plans.append(plan)
    mapping = {**mapping, **{c: f"={v}" for c, v in plans[-1].constants.items()}}
    unit = str(table.get("amount_unit") or (preset.amount_unit if preset else "major"))
    if unit not in ("major", "minor", "micros"):
        msg = f"source {name}: amount_unit {unit!r} must be major, minor or micros"
        raise UsageError(msg, hint=f'set [sources.{name}] amount_unit = "minor" for cents ("micros" for Google Ads)')
    notes: list[str] = []
    src = Source(name, files, mapping, lambda: _read(plans, list(mapping), notes), preset, unit, extra, table=table,
                 read_notes=notes)
    src.zones = zones_of(name, table, preset, mapping, zones, src.warnings)
    src.headers = headers
    for zone in dict.fromkeys(src.zones.values()):
        columns = ", ".join(c for c, z in src.zones.items() if z == zone)
        src.found_notes.append(f"{name}: naive times of {columns} read as local times in {zone}")
    src.duration_unit = duration_unit(name, table, preset)
    src.datetime_format = str(table.get("datetime_format") or (preset.datetime_format if preset else ""))
    if preset and preset.snapshot:
        src.warnings.append(f"{name}: {preset.note}")
    return src


@dataclass
class _Plan:
    """How to read one file of a source: its headers, and (once mapped) the columns to keep."""

    source: str
    number: int  # the file's index in Source.files
    path: str
    headers: list[str]
    table: dict[str, object]
    nested: list[str] = field(default_factory=list)  # "parent.field" of struct columns
    schema: dict[str, pl.DataType] = field(default_factory=dict)  # typed files (Parquet, JSON)
    records: Records | None = None  # JSON lines, read whole to know their keys
    columns: list[tuple[str, str]] = field(default_factory=list)  # (output name, header)
    constants: dict[str, str] = field(default_factory=dict)  # canonical -> value of every row
    rewrite: dict[str, tuple[str, str]] = field(default_factory=dict)  # canonical -> (regex, replacement)
    filters: list[Filter] = field(default_factory=list)
    zones: dict[str, str] = field(default_factory=dict)  # header -> zone its header rows give


def _plan(name: str, number: int, path: str, table: dict[str, object]) -> _Plan:
    """Read one file's headers (the header rows of a CSV, the keys of JSON lines, a Parquet schema)."""
    import polars as pl

    if _is_parquet(path) or path.startswith(REMOTE):
        frame = _scan(path)
        schema = dict(frame.collect_schema())
        plan = _Plan(name, number, path, _headers(frame, path), table, schema=schema)
    elif is_json(path):
        records = read_records(path, table, name)
        schema = dict(records.frame.drop("_line").schema)
        plan = _Plan(name, number, path, records.headers, table, schema=schema, records=records)
    else:
        plan = _Plan(name, number, path, csv_headers(path, table, name)[0], table)
        plan.zones = header_zones(path, table, name)
    plan.nested = [f"{n}.{f.name}" for n, dt in plan.schema.items() if isinstance(dt, pl.Struct) for f in dt.fields]
    return plan


def _refuse_nested(name: str, path: str, mapping: dict[str, str], schema: dict[str, pl.DataType]) -> None:
    """A list or struct where a canonical column wants one value is an error naming the column."""
    kinds = {c.name: c.kind for c in SOURCES[name]}
    for col, header in mapping.items():
        dtype = schema.get(header)
        if dtype is not None and dtype.is_nested() and kinds[col] != "json":
            msg = f"source {name} ({path}): column {header!r} (mapped to {col}) holds a {dtype}, not one value"
            hint = f'map {col} to a plain column in [sources.{name}.columns], or to a field ("{header}.<field>")'
            raise DataError(msg, hint=hint)


def _read(plans: list[_Plan], canonical: list[str],
          notes: list[str] | None = None) -> tuple[pl.LazyFrame, pl.DataFrame | None]:
    """Every file's rows (canonical names, ``_file``, ``_line``) and the bad records found.

    Rows a preset's filter leaves out (Typeform's partial responses) are counted in ``notes``.
    """
    import polars as pl

    frames: list[pl.LazyFrame] = []
    bad: list[pl.DataFrame] = []
    if notes is not None:
        notes.clear()  # read again after a release: counted again, not twice
    for plan in plans:
        if plan.records is None and (_is_parquet(plan.path) or plan.path.startswith(REMOTE)):
            # Parquet has no lines: a row's "line" is its index + 2, as if a header were line 1.
            frame = _scan(plan.path).with_row_index("_line", offset=2)
            headers = list(plan.schema)
        else:
            records = plan.records or read_records(plan.path, plan.table, plan.source)
            plan.records = None  # held by the source's frame from here on
            frame, headers = records.frame.lazy(), unique_names(records.headers)
            if records.headers != plan.headers:
                msg = f"cannot read {plan.path}: its header changed while it was read"
                raise DataError(msg, hint="run again once the file is written")
            if records.bad:
                bad.append(_bad_frame(plan, records, canonical))
        if plan.filters:
            frame = filtered(frame, plan.filters, plan.source, plan.path, notes)
        exprs = [rewritten(column_expr(h, headers), plan.rewrite.get(c)).alias(c) for c, h in plan.columns]
        exprs += [pl.lit(v, dtype=pl.String).alias(c) for c, v in plan.constants.items()]
        frames.append(frame.select(
            # The file as its index in ``files``: a path string repeated on every row costs memory.
            pl.lit(plan.number, dtype=pl.UInt32).alias("_file"), pl.col("_line").cast(pl.Int64), *exprs))
    combined = frames[0] if len(frames) == 1 else pl.concat(frames, how="diagonal_relaxed")
    return combined, (pl.concat(bad, how="diagonal_relaxed") if bad else None)


def _bad_frame(plan: _Plan, records: Records, canonical: list[str]) -> pl.DataFrame:
    """Bad records as bad rows: path, line, ``(record)``, the text, the reason, columns as split."""
    import polars as pl

    mapped = dict(plan.columns)
    rows = [{"_file": plan.path, "_line": b["_line"], "column": RECORD, "value": b["value"], "reason": b["reason"],
             **{c: b["fields"].get(mapped[c]) for c in canonical if c in mapped}} for b in records.bad]
    schema = {"_file": pl.String, "_line": pl.Int64, "column": pl.String, "value": pl.String, "reason": pl.String,
              **{c: pl.String for c in canonical if c in mapped}}
    if any("record" in b for b in records.bad):  # JSON lines that are not objects: their text
        schema["record"] = pl.String
        for row, b in zip(rows, records.bad, strict=True):
            row["record"] = b.get("record")
    return pl.DataFrame(rows, schema=schema, orient="row" if not rows else None)
