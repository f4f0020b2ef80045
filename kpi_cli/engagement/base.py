"""Events → the per-period table every engagement metric reads.

Day and period boundaries are local midnights turned into UTC instants once; each event finds
its day by binary search, each day its period by a small lookup. Aggregations run on Narwhals,
so the same definitions run on Polars and DuckDB.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import TYPE_CHECKING

import narwhals as nw
import polars as pl

from kpi_cli.engagement.events import Hygiene, Roles, active, load_events
from kpi_cli.engines import backend
from kpi_cli.errors import UsageError
from kpi_cli.grid import Grid
from kpi_cli.periods import Calendar, RangeRequest, resolve_range

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset

COUNTS = ("dau_sum", "days", "active", "active_accounts", "logins", "key_actions", "invites")


@dataclass
class EngagementBase:
    """Per period: Σ daily actives, days, distinct actives, accounts and role event counts."""

    table: pl.DataFrame
    grid: Grid
    hygiene: Hygiene
    actor: str


def build(ds: Dataset, cal: Calendar, req: RangeRequest, as_of: int, roles: Roles, actor: str = "user",
          identified_only: bool = False, engine_name: str = "polars") -> EngagementBase:
    """Clean the events once and aggregate them over the requested periods."""
    if actor not in ("user", "account"):
        msg = f"--actor {actor!r} is not one of user, account"
        raise UsageError(msg)
    events, hygiene = load_events(ds, identified_only)
    data_end = int(events["ts"].max())  # type: ignore[arg-type]
    lo, hi = resolve_range(req, cal, as_of, data_end)
    starts = cal.starts(lo, cal.step(hi, 1))
    grid = Grid(cal, starts, 0, len(starts) - 2, min(as_of, data_end))
    day_cal = Calendar("day", cal.tz, cal.week_start)
    days = day_cal.starts(starts[0], starts[-1])
    day_bounds = [day_cal.instant(d) for d in days]
    day_period = pl.DataFrame(
        {"day": list(range(len(days) - 1)), "idx": [bisect_right(starts, d) - 1 for d in days[:-1]]},
        schema={"day": pl.Int64, "idx": pl.Int64},
    )
    bounds = pl.lit(pl.Series(day_bounds, dtype=pl.Int64))
    ev = events.filter(pl.col("ts") >= day_bounds[0], pl.col("ts") < day_bounds[-1]).with_columns(
        (bounds.search_sorted(pl.col("ts"), side="right").cast(pl.Int64) - 1).alias("day"))
    ev = ev.join(day_period, on="day", how="left")
    who = pl.col("actor") if actor == "user" else pl.col("account_id")
    ev = ev.select("idx", "day", "event", who.alias("who"), "account_id").filter(pl.col("who").is_not_null())
    acting = active(ev, roles)
    native = backend(engine_name)
    table = aggregate(native(ev), native(acting), roles).collect(backend="polars").to_native()
    periods = grid.periods().select("idx", "period", "complete")
    n_days = day_period.group_by("idx").agg(pl.len().cast(pl.Float64).alias("days"))
    out = periods.join(n_days, on="idx", how="left").join(table, on="idx", how="left")
    out = out.with_columns([pl.col(c).fill_null(0).cast(pl.Float64) for c in COUNTS])
    return EngagementBase(out.sort("idx"), grid, hygiene, actor)


def aggregate(events: nw.LazyFrame, acting: nw.LazyFrame, roles: Roles) -> nw.LazyFrame:
    """Per period index: Σ over days of distinct actives, distinct actives, accounts, role counts."""
    daily = acting.group_by("idx", "day").agg(nw.col("who").n_unique().alias("n"))
    table = daily.group_by("idx").agg(nw.col("n").sum().alias("dau_sum"))
    table = table.join(acting.group_by("idx").agg(nw.col("who").n_unique().alias("active")), on="idx", how="left")
    accounts = acting.filter(~nw.col("account_id").is_null()).group_by("idx").agg(
        nw.col("account_id").n_unique().alias("active_accounts"))
    table = table.join(accounts, on="idx", how="left")
    for role, name in (("login", "logins"), ("key_actions", "key_actions"), ("invite", "invites")):
        names = roles.events(role)
        counted = events.filter(nw.col("event").is_in(names)).group_by("idx").agg(nw.len().alias(name))
        table = table.join(counted, on="idx", how="left")
    return table
