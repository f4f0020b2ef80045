"""Engagement tables with their own commands: ``kpi lifecycle`` and ``kpi stickiness`` (SPEC §3.3).

The counts are written once on Narwhals (:func:`lifecycle_counts`, :func:`stickiness_counts`): the
default path runs them on the Polars rows it holds, ``--engine duckdb`` on the engine's own scan
(:mod:`kpi_cli.engagement.portable`), which hands the small results over in the base's ``tables``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import narwhals as nw
import polars as pl

if TYPE_CHECKING:
    from kpi_cli.engagement.base import EngagementBase

LIFECYCLE = ("new", "returning", "resurrecting", "dormant")


def distinct(frame: nw.LazyFrame, *columns: str) -> nw.LazyFrame:
    """The distinct ``columns`` of ``frame``, as a grouping: Narwhals' ``unique`` is a window on SQL engines."""
    return frame.group_by(*columns).agg(nw.len().alias("_n")).drop("_n")


def lifecycle_counts(active: nw.LazyFrame, first_seen: nw.LazyFrame) -> nw.LazyFrame:
    """``idx, new, returning, resurrecting, dormant`` from the distinct active ``idx, who`` and each
    actor's ``who, first_idx`` (its first active period ever, negative before the grid).

    new: the actor's first active period; returning: active now and in the period before;
    resurrecting: active now, not before, and not new; dormant: active before, not now (negative).
    """
    before = active.with_columns((nw.col("idx") + 1).alias("idx"), nw.lit(value=True).alias("was"))
    now = active.join(before, on=["idx", "who"], how="left").join(first_seen, on="who", how="left")
    was = nw.col("was").fill_null(value=False)
    counts = now.group_by("idx").agg(
        (nw.col("first_idx") == nw.col("idx")).cast(nw.Int64).sum().alias("new"),
        was.cast(nw.Int64).sum().alias("returning"),
        ((~was) & (nw.col("first_idx") < nw.col("idx"))).cast(nw.Int64).sum().alias("resurrecting"),
    )
    dormant = before.join(active, on=["idx", "who"], how="anti").group_by("idx").agg(
        (-nw.len().cast(nw.Int64)).alias("dormant"))
    return counts.join(dormant, on="idx", how="full", suffix="_d").select(
        nw.coalesce("idx", "idx_d").alias("idx"), "new", "returning", "resurrecting", "dormant")


def stickiness_counts(acting: nw.LazyFrame, first: int) -> nw.LazyFrame:
    """``idx, days_active, actors``: per period from ``first``, actors active on exactly n of its days."""
    days = acting.filter(nw.col("idx") >= first).group_by("idx", "who").agg(
        nw.col("day").n_unique().alias("days_active"))
    return days.group_by("idx", "days_active").agg(nw.len().alias("actors"))


def lifecycle(base: EngagementBase) -> pl.DataFrame:
    """Growth accounting per period: new, returning, resurrecting, dormant (negative), quick ratio."""
    counts = base.tables.get("lifecycle")
    if counts is None:
        active = distinct(nw.from_native(base.acting.lazy()), "idx", "who")
        found = lifecycle_counts(active, nw.from_native(base.first_seen.lazy())).collect(backend="polars")
        counts = found.to_native()
    periods = base.grid.periods().filter(pl.col("idx") >= base.grid.first).select("idx", "period", "complete")
    out = periods.join(counts.with_columns(pl.col("idx").cast(pl.Int64)), on="idx", how="left")
    out = out.with_columns([pl.col(c).fill_null(0).cast(pl.Int64) for c in LIFECYCLE])
    gained = pl.col("new") + pl.col("resurrecting")
    quick = pl.when(pl.col("dormant") != 0).then(gained / -pl.col("dormant")).otherwise(None)
    return out.sort("idx").select("period", *LIFECYCLE, quick.cast(pl.Float64).alias("quick_ratio"), "complete")


def stickiness(base: EngagementBase) -> pl.DataFrame:
    """Per period: actors active on exactly n days of it, and on at least n (cumulative)."""
    hist = base.tables.get("stickiness")
    if hist is None:
        acting = nw.from_native(base.acting.lazy())
        hist = stickiness_counts(acting, base.grid.first).collect(backend="polars").to_native()
    hist = hist.with_columns(pl.col("idx").cast(pl.Int64), pl.col("days_active").cast(pl.Int64),
                             pl.col("actors").cast(pl.Int64)).sort("idx", "days_active")
    hist = hist.with_columns(pl.col("actors").cum_sum(reverse=True).over("idx").alias("cumulative"))
    periods = base.grid.periods().select("idx", "period", "complete")
    return hist.join(periods, on="idx", how="left").sort("idx", "days_active").select(
        "period", "days_active", "actors", pl.col("cumulative").cast(pl.Int64), "complete")
