"""Parsing canonical columns into typed values, and counting what does not parse.

Values are parsed by :mod:`kpi_cli.values` (one parser per kind); this module applies them to a
source, checks what did not parse or lies outside its domain, and reports bad rows with the
value as given. What a source says about how it writes values is applied here too: naive times
that are local times in a zone (``source_tz``, Intercom's header suffixes), a timestamp format,
the unit of duration columns, minor or micro amounts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TypeVar

from kpi_cli.schemas import MONEY, SOURCES
from kpi_cli.values import EPOCH_UNITS, MAX_INSTANT, MAX_MAGNITUDE, MIN_INSTANT, NumberFormat, epoch_unit, typed

if TYPE_CHECKING:
    from collections.abc import Callable

    import polars as pl

    from kpi_cli.loading import Source

# Sources read at tens of millions of rows: their Parquet text is taken as written (see values.typed).
BULK = {"events"}
AMOUNT_SCALE = {"major": 1.0, "minor": 100.0, "micros": 1_000_000.0}
DAY_US = 86_400_000_000
# Text ending in a zone designator after a time: an aware instant, never re-read in source_tz.
AWARE = r"(?i)\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:z|utc|[+-]\d{2}(?::?\d{2})?)$"
# ``H:MM`` or ``H:MM:SS`` (Freshdesk writes durations so): hours, minutes, seconds.
CLOCK = r"^(\d+):([0-5]\d)(?::([0-5]\d(?:\.\d+)?))?$"
Check = tuple[str, "pl.Expr", str]  # (column, failing condition on typed values, reason)
Frame = TypeVar("Frame", "pl.DataFrame", "pl.LazyFrame")
LABELS = {"ts": "not a date", "num": "not a number", "int": "not a whole number", "bool": "not true/false"}


def _parse_checks(name: str, kinds: dict[str, str], present: list[str], schema: pl.Schema,
                  fmt: NumberFormat) -> list[Check]:
    """Checks that a raw value parsed: evaluated on raw ``c`` beside typed ``__t_c``."""
    import polars as pl

    checks: list[Check] = []
    for c in present:
        kind, value, text = kinds[c], pl.col(f"__t_{c}"), schema[c] == pl.String
        blank = pl.col(c).is_null()
        if text:  # typed inputs (Parquet) have no blank strings to look for
            blank = blank | (pl.col(c).str.strip_chars() == "")
        failed = ~blank & value.is_null()
        if kind in ("num", "int") and text and fmt.comma_hint:
            checks.append((c, failed & pl.col(c).str.contains(",", literal=True),
                           f'not a number: a comma (set [sources.{name}] decimal = "," or thousands = ",")'))
        if kind in LABELS:
            checks.append((c, failed, LABELS[kind]))
        if kind in ("num", "int"):
            checks.append((c, ~value.is_finite(), "not a finite number (NaN or infinity)"))
            checks.append((c, value.abs() > MAX_MAGNITUDE, "magnitude beyond 1e15"))
        if kind == "int":
            checks.append((c, value != value.round(0), LABELS["int"]))
        if kind == "ts":
            checks.append((c, (value < MIN_INSTANT) | (value > MAX_INSTANT),
                           "not between 1900 and 2200 (an epoch in another unit?)"))
    required = [col.name for col in SOURCES[name] if col.required and col.name in present]
    checks += [(c, pl.col(f"__t_{c}").is_null(), "missing value") for c in required]
    return checks


def _first_failing(checks: list[Check], offset: int = 0) -> pl.Expr:
    """Index (plus ``offset``) of the first failing check, null when all pass.

    A small integer per row rather than reason text: the text is looked up for bad rows only.
    """
    import polars as pl

    code = pl.lit(None, dtype=pl.UInt16)
    for i, (_col, cond, _why) in reversed(list(enumerate(checks))):
        code = pl.when(cond.fill_null(False)).then(pl.lit(i + offset, dtype=pl.UInt16)).otherwise(code)
    return code


@dataclass
class Typed:
    """A source's scan with every canonical column parsed, still lazy.

    ``frame`` holds ``_file``, ``_line``, the typed canonical columns, the extra columns and
    ``_check``: the index in ``checks`` of a row's first failing check, null for a good row.
    ``epoch_units`` names, per timestamp column, the epoch units its cells were written in.
    """

    src: Source
    frame: pl.LazyFrame
    checks: list[Check]
    present: list[str]
    epoch_units: dict[str, list[str]] = field(default_factory=dict)


def typed_source(src: Source, transforms: list[pl.Expr] | None = None,
                 checks: list[Check] | None = None) -> Typed:
    """Parse every canonical column of ``src`` lazily and flag bad rows (parsing checks first).

    CSV and JSON are parsed once here and held in memory, so that several passes do not parse
    the text again (their epoch units are read off that copy); Parquet stays a scan, and its
    epoch units come from a scan of the timestamp columns alone.
    """
    held = not src.columnar
    frame, parse_checks, present = _parsed(src, units=held)
    frame = _checked(frame, parse_checks, transforms, checks)
    if held:
        whole = frame.collect(engine="streaming")
        units = _units_found(whole)
        frame = whole.drop(_unit_columns(whole.columns)).lazy()
    else:
        units = _scan_units(src, present)
    return Typed(src, frame, parse_checks + (checks or []), present, units)


def _unit_columns(names: list[str]) -> list[str]:
    return [c for c in names if c.startswith("_u_")]


def _units_found(frame: pl.DataFrame) -> dict[str, list[str]]:
    """Per timestamp column, the epoch units found in its ``_u_`` codes."""
    out = {}
    for u in _unit_columns(frame.columns):
        codes = sorted(frame[u].drop_nulls().unique().to_list())
        if codes:
            out[u[3:]] = [EPOCH_UNITS[i] for i in codes]
    return out


def _scan_units(src: Source, present: list[str]) -> dict[str, list[str]]:
    """Epoch units of a columnar source's timestamp columns that can hold epochs (numbers, text)."""
    import polars as pl

    schema = src.frame.collect_schema()
    kinds = {c.name: c.kind for c in SOURCES[src.name]}
    codes = {c: epoch_unit(pl.col(c), schema[c]) for c in present if kinds[c] == "ts"}
    exprs = [code.unique().implode().alias(f"_u_{c}") for c, code in codes.items() if code is not None]
    if not exprs:
        return {}
    found = src.frame.select(exprs).collect(engine="streaming")
    out = {}
    for u in found.columns:
        got = sorted(i for i in found[u][0] if i is not None)
        if got:
            out[u[3:]] = [EPOCH_UNITS[i] for i in got]
    return out


def _parsed(src: Source, *extra: pl.Expr, units: bool = False) -> tuple[pl.LazyFrame, list[Check], list[str]]:
    """``_file, _line``, the typed canonical columns, the other columns, ``_check`` (first failing
    parsing check), ``extra`` (expressions on the raw columns) and with ``units`` the epoch unit
    code ``_u_c`` of each timestamp column that can hold epochs, lazily."""
    import polars as pl

    raw = src.frame
    schema = raw.collect_schema()
    kinds = {c.name: c.kind for c in SOURCES[src.name]}
    present = [c for c in kinds if c in schema]
    fmt = NumberFormat.of(src.name, getattr(src, "table", None) or {})
    parse_checks = _parse_checks(src.name, kinds, present, schema, fmt)
    others = [c for c in schema.names() if c not in kinds and c not in ("_file", "_line")]
    scale = AMOUNT_SCALE.get(src.amount_unit, 1.0)
    trim = not (src.columnar and src.name in BULK)
    zones: dict[str, str] = getattr(src, "zones", None) or {}
    stamp_format: str = getattr(src, "datetime_format", "") or ""
    to_minutes = _minutes_factor(getattr(src, "duration_unit", "minutes"))
    parsed = []
    for c in present:
        expr = typed(c, kinds[c], schema[c], trim=trim, fmt=fmt)
        if kinds[c] == "ts":
            expr = _stamp(c, schema[c], expr, stamp_format, zones.get(c))
        elif c.endswith("_minutes") and kinds[c] == "num":
            expr = _duration(c, schema[c], expr, to_minutes)
        parsed.append((expr / scale if scale != 1.0 and c in MONEY else expr).alias(f"__t_{c}"))
    codes = [(c, epoch_unit(pl.col(c), schema[c])) for c in present if units and kinds[c] == "ts"]
    unit_cols = [code.alias(f"_u_{c}") for c, code in codes if code is not None]
    # Other columns (attributes for --by, like customers.channel) follow the blank rule too (SPEC §1.3):
    # trimmed, and a cell of only whitespace is blank, so "  " is no group of its own.
    kept = [_blank_text(c) if trim and schema[c] == pl.String else pl.col(c) for c in others]
    frame = (raw.with_columns(parsed)
             .with_columns(_first_failing(parse_checks).alias("_check"), *extra, *unit_cols)
             .select("_file", "_line", *[pl.col(f"__t_{c}").alias(c) for c in present], *kept, "_check",
                     *[e.meta.output_name() for e in (*extra, *unit_cols)]))
    return frame, parse_checks, present


def _blank_text(name: str) -> pl.Expr:
    """Text column ``name`` trimmed, a blank cell null."""
    import polars as pl

    text = pl.col(name).str.strip_chars()
    return pl.when(text == "").then(None).otherwise(text).alias(name)


def _minutes_factor(unit: str) -> float:
    from kpi_cli.presets import DURATION_UNITS

    return DURATION_UNITS.get(unit, 1.0)


def _stamp(name: str, dtype: pl.DataType, parsed: pl.Expr, stamp_format: str, zone: str | None) -> pl.Expr:
    """Timestamp ``name`` in UTC µs: ``stamp_format`` tried first, naive values read in ``zone``.

    Only naive values move: an ISO-8601 offset, ``Z`` or ``UTC`` already says the instant, and an
    epoch is UTC by definition. Local times are DST-correct: ``2024-03-10 12:00`` in New York is
    16:00 UTC, the day before 17:00 UTC. A wall time repeated when clocks go back is read as its
    first occurrence, and one that never happened (in the hour skipped when clocks go forward) with
    the offset in force before the jump (as Python's zoneinfo and java.time do): 02:30 in New York
    on 2024-03-10 is 07:30 UTC.
    """
    import polars as pl

    col = pl.col(name)
    text = dtype == pl.String
    if stamp_format and text:
        own = col.str.strip_chars().str.to_datetime(stamp_format, strict=False, time_unit="us").cast(pl.Int64)
        parsed = pl.coalesce(own, parsed)
    if zone is None:
        return parsed
    if text:
        raw = col.str.strip_chars()
        naive = ~raw.str.contains(AWARE) & ~raw.str.contains(r"^[+-]?\d+(?:\.\d*)?$")
    elif dtype == pl.Date or (isinstance(dtype, pl.Datetime) and dtype.time_zone is None):
        naive = pl.lit(True)
    else:  # epochs and zone-aware datetimes are instants already
        return parsed

    def utc(local: pl.Expr) -> pl.Expr:
        zoned = local.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        return zoned.dt.convert_time_zone("UTC").dt.replace_time_zone(None).dt.epoch("us")

    local = pl.from_epoch(parsed, time_unit="us")
    # In a skipped hour: the offset of the day before, i.e. the one in force before the jump.
    moved = pl.coalesce(utc(local), utc(local - pl.duration(days=1)) + DAY_US)
    return pl.when(naive).then(moved).otherwise(parsed)


def _duration(name: str, dtype: pl.DataType, parsed: pl.Expr, to_minutes: float) -> pl.Expr:
    """Duration ``name`` in minutes: a number in the source's ``duration_unit``, or ``H:MM[:SS]``."""
    import polars as pl

    if dtype != pl.String:
        return parsed * to_minutes if to_minutes != 1.0 else parsed
    clock = pl.col(name).str.strip_chars().str.extract_groups(CLOCK)
    hours, minutes = clock.struct.field("1").cast(pl.Float64), clock.struct.field("2").cast(pl.Float64)
    seconds = clock.struct.field("3").cast(pl.Float64).fill_null(0.0)
    as_clock = hours * 60 + minutes + seconds / 60
    return pl.coalesce(parsed * to_minutes if to_minutes != 1.0 else parsed, as_clock)


def _checked(frame: Frame, parse_checks: list[Check], transforms: list[pl.Expr] | None,
             checks: list[Check] | None) -> Frame:
    """``transforms`` applied, then ``checks`` (numbered after the parsing checks) folded into ``_check``."""
    import polars as pl

    if transforms:
        frame = frame.with_columns(transforms)
    if checks:
        frame = frame.with_columns(pl.coalesce("_check", _first_failing(checks, len(parse_checks))))
    return frame


@dataclass
class Parsed:
    """A source after parsing: good rows, bad rows (with reasons) and the counts."""

    name: str
    good: pl.DataFrame
    bad: pl.DataFrame  # raw columns + _file, _line, column, value, reason
    rows_read: int
    duplicates: int
    epoch_units: dict[str, list[str]] = field(default_factory=dict)


# Columns a frame step may add to name the other row a bad row conflicts with: ``{also}`` in a
# reason becomes "line N" (or "file:N" in another file).
ALSO = ("_also_file", "_also_line")


def parse_source(src: Source, transforms: list[pl.Expr] | None = None, checks: list[Check] | None = None,
                 frame_step: Callable[[pl.DataFrame], pl.DataFrame] | None = None) -> Parsed:
    """Scan the source once: parse every canonical column, drop exact duplicates, flag bad rows.

    ``transforms`` rewrite typed columns (e.g. normalise an enum) and ``frame_step`` may add
    columns needing the whole frame (e.g. an order, or :data:`ALSO`) before ``checks`` run; the
    first failing check of a row, parsing first, names its reason. Raw text is not kept for the
    good rows: the few bad ones are read again to show their values as given.
    """
    import polars as pl

    keys = [c for c in src.frame.collect_schema().names() if c not in ("_file", "_line")]
    lazy, parse_checks, present = _parsed(src, pl.struct(keys).hash(7).alias("_hash"), units=True)
    frame = lazy.collect()
    rows_read = frame.height
    units = _units_found(frame)
    frame = frame.drop(_unit_columns(frame.columns))
    frame = _drop_exact_duplicates(frame).drop("_hash")
    duplicates = rows_read - frame.height
    if transforms:
        frame = frame.with_columns(transforms)
    if frame_step is not None:
        frame = frame_step(frame)
    frame = _checked(frame, parse_checks, None, checks)
    is_bad = pl.col("_check").is_not_null()
    flagged = frame.filter(is_bad).select("_file", "_line", "_check", *[c for c in ALSO if c in frame.columns])
    bad = bad_rows(src, flagged, parse_checks + (checks or []), present)
    helpers = [c for c in frame.columns if c.startswith("_") and c not in ("_file", "_line")]
    good = frame.filter(~is_bad).drop(*helpers)
    return Parsed(src.name, good, bad, rows_read, duplicates, units)


def bad_rows(src: Source, flagged: pl.DataFrame, checks: list[Check], present: list[str]) -> pl.DataFrame:
    """Bad rows (``_file, _line, _check``) with ``column``, ``value`` as given and ``reason``.

    A reason may hold ``{key}`` (the value as a key of a TOML mapping table, for a hint that
    shows the mapping to write) and ``{also}`` (the conflicting row of :data:`ALSO`).
    """
    import polars as pl

    bad = flagged.with_columns(
        pl.col("_check").replace_strict({i: c[2] for i, c in enumerate(checks)}, return_dtype=pl.String)
        .alias("reason"),
        pl.col("_check").replace_strict({i: c[0] for i, c in enumerate(checks)}, return_dtype=pl.String)
        .alias("column"),
    ).drop("_check")
    if bad.height:
        bad = _with_raw_values(src, bad, present)
    else:
        bad = bad.with_columns(pl.lit(None, dtype=pl.String).alias("value"))
    reason = pl.col("reason")
    if any("{key}" in c[2] for c in checks):
        key = pl.col("value").str.strip_chars().str.to_lowercase()
        key = pl.when(key.str.contains(r"^[a-z0-9_-]+$")).then(key).otherwise(pl.format('"{}"', key))
        reason = reason.str.replace("{key}", key.fill_null(""), literal=True)
    if "_also_line" in bad.columns:
        files = dict(enumerate(src.files))
        other = pl.col("_also_file").replace_strict(files, return_dtype=pl.String)
        also = (pl.when(pl.col("_also_file") == pl.col("_file")).then(pl.format("line {}", "_also_line"))
                .otherwise(pl.format("{}:{}", other, "_also_line")))
        reason = reason.str.replace("{also}", also.fill_null(""), literal=True)
        bad = bad.with_columns(reason.alias("reason")).drop(*ALSO)
    else:
        bad = bad.with_columns(reason.alias("reason"))
    return bad.with_columns(pl.col("_file").replace_strict(dict(enumerate(src.files)), return_dtype=pl.String))


def _drop_exact_duplicates(frame: pl.DataFrame) -> pl.DataFrame:
    """Drop rows repeating an earlier row exactly (``_file``/``_line`` aside), keeping the first.

    A 64-bit row hash finds candidates cheaply (hashing whole rows of text for uniqueness costs
    hundreds of MB); only rows whose hash repeats are compared value by value.
    """
    import polars as pl

    repeated = ~pl.col("_hash").is_first_distinct()
    if not frame.select(repeated.any()).item():
        return frame
    values = [c for c in frame.columns if c not in ("_file", "_line", "_hash")]
    marked = frame.with_columns(pl.int_range(pl.len()).alias("_row"))
    suspects = marked.filter(pl.col("_hash").is_in(marked.filter(repeated)["_hash"].implode()))
    dups = suspects.filter(~pl.struct(values).is_first_distinct())["_row"]
    return marked.filter(~pl.col("_row").is_in(dups.implode())).drop("_row")


def _with_raw_values(src: Source, bad: pl.DataFrame, present: list[str]) -> pl.DataFrame:
    """Join the raw text of the bad rows (read again, few rows) and the offending ``value``."""
    import polars as pl

    where = bad.select("_file", "_line")
    raw = (src.frame.select("_file", "_line", *[pl.col(c).cast(pl.String) for c in present])
           .join(where.lazy(), on=["_file", "_line"], how="semi").collect())
    raw = raw.unique(["_file", "_line"], keep="first")
    out = bad.join(raw, on=["_file", "_line"], how="left")
    value = pl.lit(None, dtype=pl.String)
    for c in present:
        value = pl.when(pl.col("column") == c).then(pl.col(c)).otherwise(value)
    return out.with_columns(value.alias("value")).sort("_file", "_line")


def bad_row_lines(bad: pl.DataFrame, limit: int = 10) -> list[str]:
    """``file:line column=value reason`` for the first ``limit`` bad rows (a blank value shows as nothing)."""
    out = []
    for row in bad.head(limit).iter_rows(named=True):
        value = "" if row["value"] is None else row["value"]
        out.append(f"{row['_file']}:{row['_line']} {row['column']}={value} {row['reason']}")
    return out


def rejects_frame(bad: pl.DataFrame) -> pl.DataFrame:
    """Bad rows as the user gave them, with where they came from and why they were rejected."""
    import polars as pl

    raw_cols = [c for c in bad.columns if c not in ("_file", "_line", "reason", "column", "value")]
    return bad.select(pl.col("_file").alias("file"), pl.col("_line").alias("line"), *raw_cols, "column", "reason")
