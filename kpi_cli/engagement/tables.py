"""Engagement tables with their own commands: ``kpi lifecycle`` and ``kpi stickiness`` (SPEC §3.3)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from kpi_cli.engagement.base import EngagementBase


def lifecycle(base: EngagementBase) -> pl.DataFrame:
    """Growth accounting per period: new, returning, resurrecting, dormant (negative), quick ratio.

    new: the actor's first active period ever; returning: active now and in the period before;
    resurrecting: active now, not before, and not new; dormant: active before, not now.
    """
    active = base.acting.select("idx", "who").unique()
    before = active.with_columns((pl.col("idx") + 1).alias("idx")).with_columns(pl.lit(True).alias("was"))
    now = active.join(before, on=["idx", "who"], how="left").join(base.first_seen, on="who", how="left")
    was = pl.col("was").fill_null(False)
    counts = now.group_by("idx").agg(
        (pl.col("first_idx") == pl.col("idx")).sum().alias("new"),
        was.sum().alias("returning"),
        (~was & (pl.col("first_idx") < pl.col("idx"))).sum().alias("resurrecting"),
    )
    dormant = before.join(active, on=["idx", "who"], how="anti").group_by("idx").agg(
        (-pl.len().cast(pl.Int64)).alias("dormant"))
    periods = base.grid.periods().filter(pl.col("idx") >= base.grid.first).select("idx", "period", "complete")
    out = periods.join(counts, on="idx", how="left").join(dormant, on="idx", how="left")
    out = out.with_columns([pl.col(c).fill_null(0).cast(pl.Int64) for c in ("new", "returning", "resurrecting",
                                                                               "dormant")])
    gained = pl.col("new") + pl.col("resurrecting")
    quick = pl.when(pl.col("dormant") != 0).then(gained / -pl.col("dormant")).otherwise(None)
    return out.sort("idx").select("period", "new", "returning", "resurrecting", "dormant",
                                  quick.cast(pl.Float64).alias("quick_ratio"), "complete")


def stickiness(base: EngagementBase) -> pl.DataFrame:
    """Per period: actors active on exactly n days of it, and on at least n (cumulative)."""
    days = base.acting.filter(pl.col("idx") >= base.grid.first).group_by("idx", "who").agg(
        pl.col("day").n_unique().alias("days_active"))
    hist = days.group_by("idx", "days_active").agg(pl.len().alias("actors")).sort("idx", "days_active")
    hist = hist.with_columns(pl.col("actors").cum_sum(reverse=True).over("idx").alias("cumulative"))
    periods = base.grid.periods().select("idx", "period", "complete")
    return hist.join(periods, on="idx", how="left").sort("idx", "days_active").select(
        "period", pl.col("days_active").cast(pl.Int64), pl.col("actors").cast(pl.Int64),
        pl.col("cumulative").cast(pl.Int64), "complete")
