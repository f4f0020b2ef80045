"""Subscriptions in typed Parquet, read and checked by the engine itself (``--engine duckdb|spark``).

The engine scans the billing files, drops exact copies, parses and checks every row as the Polars
load does (SPEC §1.3: the same checks in the same order, the same reasons, the same numbering), flags
rows that overlap an earlier row of their item, and holds the good rows for the segments
(:mod:`kpi_cli.revenue.spans`); only counts, the bad rows' places and a few facts are collected.

Typed Parquet only: each column's Parquet type must be the kind's (a timestamp for instants, a number
for amounts, text for text, a boolean for flags), so a value can fail only by being missing, out of
range, not finite or beyond 1e15, or by a row rule. Anything else (CSV, an export preset, naive times
in a source zone, ``keep``/``drop`` filters, another column type) keeps the Polars load, which reads
every form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import narwhals as nw
import polars as pl

from kpi_cli.engines import keep
from kpi_cli.errors import InvariantError
from kpi_cli.parsing import AMOUNT_SCALE, LABELS
from kpi_cli.portable_rows import ROW_FILE, file_indexes, with_places
from kpi_cli.revenue.prep import FAR, INTERVALS, status_mapping, subscription_checks, subscription_rules
from kpi_cli.schemas import MONEY, SOURCES
from kpi_cli.values import MAX_INSTANT, MAX_MAGNITUDE, MIN_INSTANT

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset
    from kpi_cli.engines import Engine
    from kpi_cli.parsing import Typed

NAME = "subscriptions"
CHECK = "_check"
PLACE = "_row"  # file index × 2⁴⁰ + line, as the rows' order on the Polars path
KINDS = {c.name: c.kind for c in SOURCES[NAME]}


def applies(ds: Dataset, engine: str) -> bool:
    """True when ``engine`` is not Polars and ``subscriptions`` is typed Parquet read as it is written."""
    from kpi_cli.loading import _scan_parquet, find_files

    if engine == "polars":
        return False
    files = find_files(NAME, ds.settings)
    if not files or not all(f.lower().endswith(".parquet") for f in files):
        return False  # (typing CSV would read it whole)
    typed = ds.typed(NAME, rules=subscription_rules)
    src = typed.src
    table = getattr(src, "table", None) or {}
    if src.preset is not None or src.headers is None or src.zones or table.get("keep") or table.get("drop"):
        return False
    if any(str(h).startswith("=") for h in src.mapping.values()):
        return False  # a constant column: the Polars load writes it
    # The engine scans a file's own top-level columns by name (a header mapped to a struct field is not one).
    headers = src.headers or src.mapping
    tops = [_scan_parquet(f).collect_schema().names() for f in src.files]  # file metadata, local or remote
    if not all(headers[c] in names for names in tops for c in typed.present):
        return False
    schema = src.frame.collect_schema()
    return all(_fits(KINDS[c], schema[c]) for c in typed.present)


def _fits(kind: str, dtype: pl.DataType) -> bool:
    if kind == "ts":
        # Nanoseconds: DuckDB has no epoch_us of them, and two instants a nanosecond apart are one µs.
        return isinstance(dtype, pl.Datetime) and dtype.time_unit in ("us", "ms")
    if kind in ("num", "int"):
        return dtype.is_integer() or dtype.is_float()
    if kind == "bool":
        return dtype == pl.Boolean
    return dtype == pl.String


def load(engine: Engine, ds: Dataset) -> nw.LazyFrame:
    """The good subscription items on ``engine``, held there: canonical columns, ``interval`` and
    ``status`` normalised, and :data:`PLACE`. Bad rows are raised, or counted and rejected, as on the
    Polars path; exact copies are counted as duplicates."""
    typed = ds.typed(NAME, rules=subscription_rules)
    src = typed.src
    headers = src.headers or src.mapping
    columns = {c: headers[c] for c in typed.present}
    raw = engine.scan(src.files, columns, frozenset(c for c in typed.present if KINDS[c] == "ts"))
    # Exact copies once, at their first place (values as written: "a" and " a" are two rows).
    placed = with_places(engine, raw, file_indexes(typed))
    distinct = placed.group_by(*columns).agg(nw.col(PLACE).min(), nw.len().alias("_copies"))
    frame = engine.trimmed(distinct.with_columns(*_parsed(typed, src.amount_unit)), _text(typed))
    conditions = _parse_conditions(typed) + subscription_checks(nw, typed.present)
    reasons = [(column, reason) for column, _e, reason in typed.checks]
    if [(column, reason) for column, _e, reason in conditions] != reasons:
        msg = f"{NAME}: the engine's row checks differ from the Polars load's"
        raise InvariantError(msg, hint="this is a bug in kpi; use --engine polars and report it")
    frame = _with_overlaps(engine, frame.with_columns(*_transforms(typed)), typed.present)
    code = nw.lit(None, dtype=nw.Int64)
    for i, (_column, cond, _reason) in reversed(list(enumerate(conditions))):
        code = nw.when(cond.fill_null(value=False)).then(nw.lit(i, dtype=nw.Int64)).otherwise(code)
    checked = keep(engine, frame.with_columns(code.alias(CHECK)).drop("_overlap"))
    _settle(engine, ds, typed, checked)
    return checked.filter(nw.col(CHECK).is_null()).drop(CHECK, "_copies")


def _parsed(typed: Typed, amount_unit: str) -> list[nw.Expr]:
    """Numbers as the Polars parse makes them of typed Parquet: floats, money in major units (instants and
    flags are as they are; text is trimmed, a blank missing: :func:`_text`)."""
    scale = AMOUNT_SCALE.get(amount_unit, 1.0)
    out = []
    for c in typed.present:
        if KINDS[c] in ("num", "int"):
            value = nw.col(c).cast(nw.Float64)
            out.append((value / scale if scale != 1.0 and c in MONEY else value).alias(c))
    return out


def _text(typed: Typed) -> list[str]:
    """The text columns, which the engine trims (:meth:`kpi_cli.engines.Engine.trimmed`)."""
    return [c for c in typed.present if KINDS[c] not in ("ts", "bool", "num", "int")]


def _parse_conditions(typed: Typed) -> list[tuple[str, nw.Expr, str]]:
    """The parsing checks of :func:`kpi_cli.parsing._parse_checks`, in its order, for typed Parquet: a
    typed value always parses, so what is left is its domain and whether a required value is there."""
    never = nw.lit(value=False)
    out: list[tuple[str, nw.Expr, str]] = []
    for c in typed.present:
        kind, value = KINDS[c], nw.col(c)
        if kind in LABELS:
            out.append((c, never, LABELS[kind]))
        if kind in ("num", "int"):
            out.append((c, ~value.is_finite(), "not a finite number (NaN or infinity)"))
            out.append((c, value.abs() > MAX_MAGNITUDE, "magnitude beyond 1e15"))
        if kind == "int":
            out.append((c, value != value.round(0), LABELS["int"]))
        if kind == "ts":
            out.append((c, (value < MIN_INSTANT) | (value > MAX_INSTANT),
                        "not between 1900 and 2200 (an epoch in another unit?)"))
    required = [col.name for col in SOURCES[NAME] if col.required and col.name in typed.present]
    return out + [(c, nw.col(c).is_null(), "missing value") for c in required]


def _transforms(typed: Typed) -> list[nw.Expr]:
    """``interval`` and ``status`` normalised as :func:`kpi_cli.revenue.prep.subscription_rules` does (its
    trim is left out: the text is trimmed already, and lower case adds no space)."""
    cols = typed.present
    interval = nw.lit("month")
    if "interval" in cols:
        given = nw.col("interval").str.to_lowercase().fill_null("month")
        interval = given.replace_strict(INTERVALS, default="?", return_dtype=nw.String)
    status: nw.Expr = nw.lit(None, dtype=nw.String)
    if "status" in cols:
        given = nw.col("status").str.to_lowercase()
        status = given
        for key, value in status_mapping(typed.src).items():
            status = nw.when(given == key).then(nw.lit(value)).otherwise(status)
    out = [interval.alias("interval"), status.alias("status")]
    if "discount_duration" in cols:
        out.append(nw.col("discount_duration").str.to_lowercase())
    return out


def _with_overlaps(engine: Engine, frame: nw.LazyFrame, present: list[str]) -> nw.LazyFrame:
    """``_overlap``: the row starts before the latest end among the earlier rows of its item (by start,
    then place), as :func:`kpi_cli.revenue.prep.flag_overlaps`; every row takes part, bad ones too."""
    item = [nw.col(c).fill_null("").alias(f"_k_{c}") for c in ("subscription_id", "item_id") if c in present]
    keys = [f"_k_{c}" for c in ("subscription_id", "item_id") if c in present]
    end = nw.col("end_at").fill_null(FAR) if "end_at" in present else nw.lit(FAR, dtype=nw.Int64)
    # A row with no start is last of its item (it overlaps nothing and ends after every other).
    frame = frame.with_columns(*item, end.alias("_end"), nw.col("start_at").fill_null(FAR).alias("_s"))
    frame = engine.max_before(frame, "_end", keys, ["_s", PLACE], "_before")
    overlap = (nw.col("start_at") < nw.col("_before")).fill_null(value=False)
    return frame.with_columns(overlap.alias("_overlap")).drop(*keys, "_end", "_s", "_before")


def _settle(engine: Engine, ds: Dataset, typed: Typed, checked: nw.LazyFrame) -> None:
    """The bad rows raised, or counted and rejected, as the Polars load does; exact copies counted."""
    counts = engine.collect(checked.select(
        nw.col("_copies").sum().alias("rows"), nw.len().alias("distinct"),
        nw.col(CHECK).is_null().cast(nw.Int64).sum().alias("good")))
    rows, distinct, good = (int(counts[c][0] or 0) for c in ("rows", "distinct", "good"))
    flagged = pl.DataFrame(schema={"_file": pl.UInt32, "_line": pl.Int64, "_check": pl.UInt16})
    if distinct - good:
        bad = engine.collect(checked.filter(~nw.col(CHECK).is_null()).select(PLACE, CHECK))
        flagged = places(bad).with_columns(pl.col(CHECK).cast(pl.UInt16)).select("_file", "_line", CHECK)
    report = ds.settle(typed, flagged, rows)
    report.duplicates = rows - distinct
    report.used = good


def places(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with :data:`PLACE` turned back into ``_file`` (the file's index) and ``_line``."""
    place = pl.col(PLACE).cast(pl.Int64)
    return frame.with_columns((place // ROW_FILE).cast(pl.UInt32).alias("_file"),
                              (place % ROW_FILE).alias("_line")).drop(PLACE)
