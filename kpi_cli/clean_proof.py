"""A Parquet log whose statistics prove no row check can fail: the checks need not run per row.

The row checks of an untrimmed Parquet source (the events log) that can fail on typed columns are
a missing value (null, or empty text), an instant outside 1900–2200 and no actor id. Each is a
predicate on the raw column that Polars' Parquet reader decides from row-group statistics (null
counts, minima and maxima) without reading the data when no row group can hold such a row; when
one might, those row groups are read and the rows counted exactly. A count of zero proves every
row good, so a pass over the log can skip the checks and the columns only they read (the event
name, for a distinct count of actors). Any other check, a text timestamp, a zone for naive times
or a trimmed source: no proof, the checks run.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.parsing import LABELS

if TYPE_CHECKING:
    from kpi_cli.parsing import Typed

UNTRIMMED = frozenset({"events"})  # kpi_cli.parsing: columnar sources of these are not trimmed


def no_row_can_fail(typed: Typed) -> bool:
    """True when the statistics (or an exact count where they cannot tell) show no bad row."""
    src = typed.src
    if not src.columnar or src.name not in UNTRIMMED or any(not f.lower().endswith(".parquet") for f in src.files):
        return False
    raw = src.frame
    schema = raw.collect_schema()
    fails = []
    for column, _expr, reason in typed.checks:
        dtype = schema.get(column)
        if dtype is None:
            return False
        text = dtype == pl.String
        missing = pl.col(column).is_null() | (pl.col(column) == "") if text else pl.col(column).is_null()
        instant = isinstance(dtype, pl.Datetime) and not src.zones.get(column) and not src.datetime_format
        if reason == LABELS["ts"] and instant:
            continue  # a Parquet timestamp always parses
        if reason.startswith("not between 1900 and 2200") and instant:
            zone = dtype.time_zone  # type: ignore[attr-defined]
            lo, hi = (pl.lit(datetime(y, 1, 1, tzinfo=UTC)).dt.convert_time_zone(zone) if zone
                      else pl.lit(datetime(y, 1, 1)) for y in (1900, 2200))
            fails.append((pl.col(column) < lo) | (pl.col(column) > hi))
        elif reason == "missing value" and (text or instant):
            fails.append(missing)
        elif reason == "no user_id or anonymous_id" and text:
            ids = [c for c in ("user_id", "anonymous_id") if c in schema]
            if any(schema[c] != pl.String for c in ids):
                return False
            fails.append(pl.all_horizontal([pl.col(c).is_null() | (pl.col(c) == "") for c in ids]))
        else:
            return False
    if not fails:
        return True
    return raw.filter(pl.any_horizontal(fails)).select(pl.len()).collect().item() == 0
