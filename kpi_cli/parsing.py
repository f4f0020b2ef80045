"""Parsing canonical columns into typed values, and counting what does not parse.

Instants become ``Int64`` microseconds since the epoch in UTC: the one representation every
engine handles alike. Naive timestamps are UTC; epochs of 1e11 or more are milliseconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kpi_cli.schemas import MONEY, SOURCES

if TYPE_CHECKING:
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
    counts: dict[str, int] = field(default_factory=dict)


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


def typed(name: str, kind: str, dtype: pl.DataType) -> pl.Expr:
    """Parse column ``name`` of ``kind`` from its raw ``dtype``."""
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
        stripped = col.str.strip_chars()
        return pl.when(stripped == "").then(None).otherwise(stripped).alias(name)
    return col.cast(pl.String).alias(name)


def parse_source(src: Source, extra_checks: list[tuple[str, pl.Expr, str]] | None = None) -> Parsed:
    """Collect the source once, parse every canonical column and split good from bad rows.

    ``extra_checks`` are ``(column, failing_condition, reason)`` evaluated on the typed values,
    in order; the first failing check of a row names its reason.
    """
    import polars as pl

    raw = src.frame
    schema = raw.collect_schema()
    kinds = {c.name: c.kind for c in SOURCES[src.name]}
    present = [c for c in kinds if c in schema]
    parsed = [typed(c, kinds[c], schema[c]) for c in present]
    scale = 100.0 if src.amount_unit == "minor" else 1.0
    if scale != 1.0:
        parsed = [e / scale if e.meta.output_name() in MONEY else e for e in parsed]
    raw_df = raw.collect()
    rows_read = raw_df.height
    keys = [c for c in raw_df.columns if c not in ("_file", "_line")]
    deduped = raw_df.unique(subset=keys, keep="first", maintain_order=True) if keys else raw_df
    duplicates = rows_read - deduped.height
    typed_df = deduped.with_columns(parsed)
    checks: list[tuple[str, pl.Expr, str]] = []
    for c in present:
        kind = kinds[c]
        raw_col = pl.col(f"_raw_{c}")
        blank = raw_col.is_null() | (raw_col.cast(pl.String).str.strip_chars() == "")
        if kind in ("ts", "num", "int", "bool"):
            label = {"ts": "not a date", "num": "not a number", "int": "not a whole number",
                     "bool": "not true/false"}[kind]
            checks.append((c, ~blank & pl.col(c).is_null(), label))
        if kind == "int":
            checks.append((c, pl.col(c).is_not_null() & (pl.col(c) != pl.col(c).round(0)), "not a whole number"))
    required = [col.name for col in SOURCES[src.name] if col.required]
    checks += [(c, pl.col(c).is_null(), "missing value") for c in required if c in present]
    checks += extra_checks or []
    # Keep the raw text beside the typed value so a rejected row can be shown as it was given.
    with_raw = typed_df.with_columns([deduped[c].cast(pl.String).alias(f"_raw_{c}") for c in present])
    reason = pl.lit(None, dtype=pl.String)
    column = pl.lit(None, dtype=pl.String)
    for col_name, cond, why in reversed(checks):
        reason = pl.when(cond).then(pl.lit(why)).otherwise(reason)
        column = pl.when(cond).then(pl.lit(col_name)).otherwise(column)
    flagged = with_raw.with_columns(reason.alias("reason"), column.alias("column"))
    bad_mask = pl.col("reason").is_not_null()
    bad = flagged.filter(bad_mask)
    if bad.height:
        value = pl.lit(None, dtype=pl.String)
        for c in present:
            value = pl.when(pl.col("column") == c).then(pl.col(f"_raw_{c}")).otherwise(value)
        bad = bad.with_columns(value.alias("value"))
    else:
        bad = bad.with_columns(pl.lit(None, dtype=pl.String).alias("value"))
    good = flagged.filter(~bad_mask).drop("reason", "column")
    return Parsed(src.name, good, bad, rows_read, duplicates)


def reject(parsed: Parsed, condition: pl.Expr, column: str, reason: str) -> None:
    """Move the good rows meeting ``condition`` (typed values) to the bad rows, in place."""
    import polars as pl

    mask = parsed.good.select(condition.fill_null(False)).to_series()
    if not mask.any():
        return
    moved = parsed.good.filter(mask).with_columns(
        pl.lit(reason).alias("reason"), pl.lit(column).alias("column"),
        pl.col(f"_raw_{column}").alias("value") if f"_raw_{column}" in parsed.good.columns
        else pl.lit(None, dtype=pl.String).alias("value"),
    )
    parsed.bad = pl.concat([parsed.bad, moved.select(parsed.bad.columns)], how="vertical_relaxed")
    parsed.good = parsed.good.filter(~mask)


def finish(parsed: Parsed) -> pl.DataFrame:
    """Good rows without the raw-text helper columns."""
    return parsed.good.drop([c for c in parsed.good.columns if c.startswith("_raw_")])


def bad_row_lines(bad: pl.DataFrame, limit: int = 10) -> list[str]:
    """``file:line column=value reason`` for the first ``limit`` bad rows."""
    out = []
    for row in bad.head(limit).iter_rows(named=True):
        out.append(f"{row['_file']}:{row['_line']} {row['column']}={row['value']!s} {row['reason']}")
    return out


def rejects_frame(bad: pl.DataFrame) -> pl.DataFrame:
    """Bad rows as the user gave them, with where they came from and why they were rejected."""
    import polars as pl

    raw_cols = [c for c in bad.columns if c.startswith("_raw_")]
    return bad.select(
        pl.col("_file").alias("file"), pl.col("_line").alias("line"),
        *[pl.col(c).alias(c.removeprefix("_raw_")) for c in raw_cols],
        pl.col("column"), pl.col("reason"),
    )
