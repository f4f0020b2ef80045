"""Parsing canonical columns into typed values, and counting what does not parse.

Instants become ``Int64`` microseconds since the epoch in UTC: the one representation every
engine handles alike. Naive timestamps are UTC; epochs of 1e11 or more are milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from kpi_cli.schemas import MONEY, SOURCES

if TYPE_CHECKING:
    from collections.abc import Callable

    import polars as pl

    from kpi_cli.loading import Source

MS_THRESHOLD = 100_000_000_000  # 1e11 s is the year 5138; anything larger is milliseconds
TRUE = ("true", "t", "yes", "y", "1")
FALSE = ("false", "f", "no", "n", "0")


@dataclass
class Parsed:
    """A source after parsing: good rows, bad rows (with reasons) and the counts."""

    name: str
    good: pl.DataFrame
    bad: pl.DataFrame  # raw columns + _file, _line, column, value, reason
    rows_read: int
    duplicates: int


def instant(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """Expression turning a raw timestamp column into UTC microseconds (null if unparseable)."""
    import polars as pl

    if dtype == pl.Date:
        return expr.cast(pl.Datetime("us")).cast(pl.Int64)
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is not None:
            expr = expr.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
        return expr.dt.cast_time_unit("us").cast(pl.Int64)
    if dtype.is_numeric():
        return _epoch(expr.cast(pl.Int64, strict=False))
    text = expr.cast(pl.String).str.strip_chars().str.replace("T", " ", literal=True)
    aware = text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f%#z", strict=False, time_unit="us")
    aware = aware.dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return pl.coalesce(
        aware,
        text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", strict=False, time_unit="us"),
        text.str.to_datetime("%Y-%m-%d %H:%M", strict=False, time_unit="us"),
        text.str.to_date("%Y-%m-%d", strict=False).cast(pl.Datetime("us")),
        text.str.to_date("%Y/%m/%d", strict=False).cast(pl.Datetime("us")),
    ).cast(pl.Int64).fill_null(_epoch(pl.when(text.str.contains(r"^-?\d+$")).then(text).cast(pl.Int64, strict=False)))


def _epoch(ints: pl.Expr) -> pl.Expr:
    import polars as pl

    return pl.when(ints.abs() >= MS_THRESHOLD).then(ints * 1_000).otherwise(ints * 1_000_000)


def typed(name: str, kind: str, dtype: pl.DataType, trim: bool = True) -> pl.Expr:
    """Parse column ``name`` of ``kind`` from its raw ``dtype``.

    Text is trimmed and a blank is null; with ``trim=False`` (Parquet, whose strings a program
    wrote) only the empty string is null, which is several times cheaper on large files.
    """
    import polars as pl

    col = pl.col(name)
    if kind == "ts":
        return instant(col, dtype).alias(name)
    if kind in ("num", "int"):
        if dtype.is_numeric():
            return col.cast(pl.Float64).alias(name)
        text = col.cast(pl.String).str.strip_chars().str.replace_all(r"^\$|,", "")
        return text.cast(pl.Float64, strict=False).alias(name)
    if kind == "bool":
        if dtype == pl.Boolean:
            return col.alias(name)
        text = col.cast(pl.String).str.strip_chars().str.to_lowercase()
        return (pl.when(text.is_in(TRUE)).then(True).when(text.is_in(FALSE)).then(False)
                .otherwise(None).alias(name))
    if kind == "json":
        return col.alias(name)
    if dtype == pl.String:
        text = col.str.strip_chars() if trim else col
        return pl.when(text.str.len_bytes() == 0).then(None).otherwise(text).alias(name)
    return col.cast(pl.String).alias(name)


Check = tuple[str, "pl.Expr", str]  # (column, failing condition on typed values, reason)
Frame = TypeVar("Frame", "pl.DataFrame", "pl.LazyFrame")


def _parse_checks(name: str, kinds: dict[str, str], present: list[str], schema: pl.Schema) -> list[Check]:
    """Checks that a raw value parsed: evaluated on raw ``c`` beside typed ``__t_c``."""
    import polars as pl

    labels = {"ts": "not a date", "num": "not a number", "int": "not a whole number", "bool": "not true/false"}
    checks: list[Check] = []
    for c in present:
        kind, typed_col = kinds[c], pl.col(f"__t_{c}")
        blank = pl.col(c).is_null()
        if schema[c] == pl.String:  # typed inputs (Parquet) have no blank strings to look for
            blank = blank | (pl.col(c).str.strip_chars() == "")
        if kind in labels:
            checks.append((c, ~blank & typed_col.is_null(), labels[kind]))
        if kind == "int":
            checks.append((c, typed_col.is_not_null() & (typed_col != typed_col.round(0)), labels["int"]))
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
    """

    src: Source
    frame: pl.LazyFrame
    checks: list[Check]
    present: list[str]


def typed_source(src: Source, transforms: list[pl.Expr] | None = None,
                 checks: list[Check] | None = None) -> Typed:
    """Parse every canonical column of ``src`` lazily and flag bad rows (parsing checks first)."""
    frame, parse_checks, present = _parsed(src)
    return Typed(src, _checked(frame, parse_checks, transforms, checks), parse_checks + (checks or []), present)


def _parsed(src: Source, *extra: pl.Expr) -> tuple[pl.LazyFrame, list[Check], list[str]]:
    """``_file, _line``, the typed canonical columns, the other columns, ``_check`` (first failing
    parsing check) and ``extra`` (expressions on the raw columns), lazily."""
    import polars as pl

    raw = src.frame
    schema = raw.collect_schema()
    kinds = {c.name: c.kind for c in SOURCES[src.name]}
    present = [c for c in kinds if c in schema]
    parse_checks = _parse_checks(src.name, kinds, present, schema)
    others = [c for c in schema.names() if c not in kinds and c not in ("_file", "_line")]
    scale = 100.0 if src.amount_unit == "minor" else 1.0
    parsed = []
    for c in present:
        expr = typed(c, kinds[c], schema[c], trim=not src.columnar)
        parsed.append((expr / scale if scale != 1.0 and c in MONEY else expr).alias(f"__t_{c}"))
    frame = (raw.with_columns(parsed)
             .with_columns(_first_failing(parse_checks).alias("_check"), *extra)
             .select("_file", "_line", *[pl.col(f"__t_{c}").alias(c) for c in present], *others, "_check",
                     *[e.meta.output_name() for e in extra]))
    return frame, parse_checks, present


def _checked(frame: Frame, parse_checks: list[Check], transforms: list[pl.Expr] | None,
             checks: list[Check] | None) -> Frame:
    """``transforms`` applied, then ``checks`` (numbered after the parsing checks) folded into ``_check``."""
    import polars as pl

    if transforms:
        frame = frame.with_columns(transforms)
    if checks:
        frame = frame.with_columns(pl.coalesce("_check", _first_failing(checks, len(parse_checks))))
    return frame


def parse_source(src: Source, transforms: list[pl.Expr] | None = None, checks: list[Check] | None = None,
                 frame_step: Callable[[pl.DataFrame], pl.DataFrame] | None = None) -> Parsed:
    """Scan the source once: parse every canonical column, drop exact duplicates, flag bad rows.

    ``transforms`` rewrite typed columns (e.g. normalise an enum) and ``frame_step`` may add
    columns needing the whole frame (e.g. an order) before ``checks`` run; the
    first failing check of a row, parsing first, names its reason. Raw text is not kept for the
    good rows: the few bad ones are read again to show their values as given.
    """
    import polars as pl

    keys = [c for c in src.frame.collect_schema().names() if c not in ("_file", "_line")]
    lazy, parse_checks, present = _parsed(src, pl.struct(keys).hash(7).alias("_hash"))
    frame = lazy.collect()
    rows_read = frame.height
    frame = _drop_exact_duplicates(frame).drop("_hash")
    duplicates = rows_read - frame.height
    if transforms:
        frame = frame.with_columns(transforms)
    if frame_step is not None:
        frame = frame_step(frame)
    frame = _checked(frame, parse_checks, None, checks)
    is_bad = pl.col("_check").is_not_null()
    bad = bad_rows(src, frame.filter(is_bad).select("_file", "_line", "_check"), parse_checks + (checks or []),
                   present)
    helpers = [c for c in frame.columns if c.startswith("_") and c not in ("_file", "_line")]
    good = frame.filter(~is_bad).drop(*helpers)
    return Parsed(src.name, good, bad, rows_read, duplicates)


def bad_rows(src: Source, flagged: pl.DataFrame, checks: list[Check], present: list[str]) -> pl.DataFrame:
    """Bad rows (``_file, _line, _check``) with ``column``, ``value`` as given and ``reason``."""
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
    """``file:line column=value reason`` for the first ``limit`` bad rows."""
    out = []
    for row in bad.head(limit).iter_rows(named=True):
        out.append(f"{row['_file']}:{row['_line']} {row['column']}={row['value']!s} {row['reason']}")
    return out


def rejects_frame(bad: pl.DataFrame) -> pl.DataFrame:
    """Bad rows as the user gave them, with where they came from and why they were rejected."""
    import polars as pl

    raw_cols = [c for c in bad.columns if c not in ("_file", "_line", "reason", "column", "value")]
    return bad.select(pl.col("_file").alias("file"), pl.col("_line").alias("line"), *raw_cols, "column", "reason")
