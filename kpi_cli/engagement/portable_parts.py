"""Event counts, active accounts, sessions and calendar windows of a plain Parquet log, on any engine.

The optional parts of the engagement table (:mod:`kpi_cli.engagement.base`) beyond the active-user
family, for :mod:`kpi_cli.engagement.portable`: each is one query on the engine's own scan of the log,
written on Narwhals, and only a small table comes back.

- Role counts (logins, key actions, invites) count rows, and an exact duplicate row (equal in every
  column, extra columns included) counts once, as hygiene leaves it: the rows of the counted events are
  grouped by every column, so each distinct row is one group, then counted per period and event.
- Active accounts: distinct (period, account) pairs of the active rows.
- Sessions: :func:`kpi_cli.engagement.base.sessions` on the engine, over the distinct (actor, instant)
  pairs of the active rows from a day before the grid (a session starting there is recognised and left
  out): tied events are one point of a timeline, so no order between them needs deciding.
- WAU/MAU off their grain and the calendar shares read the (day, actor) pairs, collected: weeks and
  months are whole local days, so a day's first instant stands for its rows (the streamed Polars path
  does the same).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import narwhals as nw
import polars as pl

from kpi_cli.engagement.base import SESSION_CAP_US, calendar_shares, sessions
from kpi_cli.engagement.windows import OWN_GRAIN, window_counts
from kpi_cli.portable_rows import day_of

if TYPE_CHECKING:
    from kpi_cli.engagement.events import Roles
    from kpi_cli.engines import Engine
    from kpi_cli.periods import Calendar

ROLES = (("login", "logins"), ("key_actions", "key_actions"), ("invite", "invites"))


def with_periods(engine: Engine, rows: nw.LazyFrame, day_bounds: list[int], day_period: pl.DataFrame
                 ) -> nw.LazyFrame:
    """``rows`` (with ``timestamp``) and ``idx``: the period of each row's local day, -1 outside the days."""

    days = day_of(engine, rows.with_columns(nw.lit(value=True).alias("_counted")), day_bounds)
    periods = engine.table(day_period.select(pl.col("day").cast(pl.Int32), pl.col("idx").cast(pl.Int64)))
    out = days.join(periods, on="day", how="left")
    return out.with_columns(nw.col("idx").fill_null(-1)).drop("_counted")


def counts(engine: Engine, log: nw.LazyFrame, good: nw.Expr, who: str, acting: nw.Expr, roles: Roles,
           day_bounds: list[int], day_period: pl.DataFrame, values: list[str], *, accounts: bool,
           keys: list[str] | None = None) -> pl.DataFrame:
    """``keys…, idx, logins, key_actions, invites`` (and ``active_accounts``): base.aggregate's counts.

    ``values`` names every column of the source as scanned (an exact duplicate is equal in all of them);
    ``acting`` marks a row that makes its actor active; ``keys`` are group columns of the rows.
    """
    keys = keys or []
    ts = nw.col("timestamp")
    inside = good & ~nw.col(who).is_null() & (ts >= day_bounds[0]) & (ts < day_bounds[-1])
    names = sorted({e for role, _ in ROLES for e in roles.events(role)})
    out = pl.DataFrame({**{k: pl.Series([], dtype=pl.String) for k in keys}, "idx": pl.Series([], dtype=pl.Int64)})
    if names:
        rows = with_periods(engine, log.filter(inside, nw.col("event").is_in(names)).select(*values, *keys),
                            day_bounds, day_period)
        distinct = rows.filter(nw.col("idx") >= 0).group_by("idx", *values, *keys).agg(nw.len().alias("_copies"))
        per_event = engine.collect(distinct.group_by(*keys, "idx", "event").agg(nw.len().alias("n")))
        per_event = per_event.with_columns(pl.col("idx").cast(pl.Int64), pl.col("n").cast(pl.Int64))
        out = per_event.group_by(*keys, "idx").agg(
            [pl.col("n").filter(pl.col("event").is_in(roles.events(role))).sum().alias(name) for role, name in ROLES])
    if accounts:
        rows = with_periods(engine, log.filter(inside & acting & ~nw.col("account_id").is_null())
                            .select("timestamp", "_key_account_id", *keys), day_bounds, day_period)
        pairs = rows.filter(nw.col("idx") >= 0).group_by(*keys, "idx", "_key_account_id").agg(nw.len().alias("_n"))
        active = engine.collect(pairs.group_by(*keys, "idx").agg(nw.len().alias("active_accounts")))
        active = active.with_columns(pl.col("idx").cast(pl.Int64), pl.col("active_accounts").cast(pl.Int64))
        out = out.join(active, on=[*keys, "idx"], how="full", coalesce=True)
    return out


def session_table(engine: Engine, log: nw.LazyFrame, counted: nw.Expr, who: str, day_bounds: list[int],
                  day_period: pl.DataFrame, gap_s: float, keys: list[str] | None = None) -> pl.DataFrame:
    """``idx, sessions, session_seconds, median_session_seconds`` of the ``counted`` rows (per group of
    ``keys``)."""
    keys = keys or []
    ts = nw.col("timestamp")
    window = counted & (ts >= day_bounds[0] - SESSION_CAP_US) & (ts < day_bounds[-1])
    rows = with_periods(engine, log.filter(window).select("timestamp", nw.col(f"_key_{who}").alias("who"), *keys),
                        day_bounds, day_period)
    # Events of one actor at one instant are one point of its timeline: sessions are the same on the
    # distinct (actor, instant) pairs, and without ties no order between tied rows needs deciding. With
    # groups the runs are found on those pairs, and each group joins the pieces its rows fall in.
    points = rows.group_by("who", "timestamp", "idx").agg(nw.len().alias("_n")).select(
        "who", nw.col("timestamp").alias("ts"), "idx", nw.lit(None, dtype=nw.String).alias("session_id"))
    tagged = None
    if keys:
        tagged = rows.group_by("who", "timestamp", *keys).agg(nw.len().alias("_n")).select(
            "who", nw.col("timestamp").alias("ts"), *keys)
    out = engine.collect(sessions(points, gap_s, tuple(keys), tagged=tagged))
    return out.with_columns(pl.col("idx").cast(pl.Int64), pl.col("sessions").cast(pl.Int64),
                            pl.col("session_seconds", "median_session_seconds").cast(pl.Float64))


def window_tables(engine: Engine, found: nw.LazyFrame, day_bounds: list[int], starts: list, first: int, last: int,
                  cal: Calendar, windows: list[str], *, shares: bool, keys: list[str] | None = None
                  ) -> list[pl.DataFrame]:
    """WAU/MAU off their grain (``windows``) and, with ``shares``, the calendar shares, from the pairs
    (per group of ``keys``)."""
    keys = keys or []
    pairs = engine.collect(found.filter(nw.col("day") >= 0).select("day", "who", *keys))
    log = pairs.select(pl.col("who"), pl.lit(pl.Series(day_bounds, dtype=pl.Int64)).gather(pl.col("day")).alias("ts"),
                       *keys)
    out = [window_counts(log, starts, first, last, cal, m, keys) for m in windows if m in OWN_GRAIN]
    if shares:
        out.append(calendar_shares(log, starts, first, cal, tuple(keys)))
    return out
