"""Retention triangles of users or accounts from events (``kpi cohort --of users|accounts``).

A cohort is the period of each actor's first ``signup`` event (or first active event when the
log has no signups). Cell k counts the cohort's actors active in bucket k: the calendar period
k after the cohort's (``--clock calendar``) or days [k·L, (k+1)·L) after the actor's own entry,
L = 7 days a week, 30 a month (``--clock rolling``). ``--criterion on-or-after`` counts an actor
in every bucket up to its last active one (unbounded retention).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.engagement import portable_cohorts, streamed
from kpi_cli.engagement.events import Exclusions, Roles, active, actor_key
from kpi_cli.engagement.hygiene import load_events
from kpi_cli.errors import DataError, UsageError
from kpi_cli.locate import slot
from kpi_cli.periods import Calendar, RangeRequest, resolve_range

if TYPE_CHECKING:
    from datetime import date

    from kpi_cli.dataset import Dataset

DAY_US = 86_400_000_000
ROLLING_DAYS = {"week": 7, "month": 30}


def table(ds: Dataset, cal: Calendar, req: RangeRequest, as_of: int, roles: Roles, *, of: str = "users",
          criterion: str = "on", clock: str = "calendar", periods: int | None = None,
          identified_only: bool = False, exclusions: Exclusions | None = None, engine: str = "polars"
          ) -> pl.DataFrame:
    """Long cohort table ``cohort, period_index, cohort_size, retained, rate``; null cohort = summary."""
    if cal.grain not in ROLLING_DAYS:
        msg = "event cohorts use --period week or month"
        raise UsageError(msg)
    if criterion not in ("on", "on-or-after"):
        msg = f"--criterion {criterion!r} is not one of on, on-or-after"
        raise UsageError(msg)
    if clock not in ("calendar", "rolling"):
        msg = f"--clock {clock!r} is not one of calendar, rolling"
        raise UsageError(msg)
    last = 0
    if portable_cohorts.applies(ds, of=of, exclusions=exclusions, engine=engine):
        length = ROLLING_DAYS[cal.grain] * DAY_US
        entries, hits, starts, bounds, complete_before = portable_cohorts.inputs(
            ds, cal, req, as_of, roles, engine, of=of, clock=clock, length_us=length, identified_only=identified_only)
        last = len(starts) - 2
    elif streamed.applies(ds, by=(), needs=frozenset(), exclusions=exclusions, engine="polars",
                        actor="account" if of == "accounts" else "user"):
        from kpi_cli.engagement import streamed_rolling

        end: int | None = None
        if req.is_empty() or req.last is not None:  # as the full path: from the first event's month
            first, end = streamed_rolling.span(ds)
            if req.is_empty():
                req = RangeRequest(from_=cal.local_date(first).isoformat()[:7])
        lo, hi = resolve_range(req, cal, as_of, end)
        starts = cal.starts(lo, cal.step(hi, 1))
        bounds = [cal.instant(d) for d in starts]
        entry, seen, data_end = streamed.cohort_inputs(ds, roles, "user_id" if of == "users" else "account_id",
                                                       bounds)
        complete_before = min(as_of, data_end)
        last = len(starts) - 2
        entries = (entry.filter(pl.col("t0") >= bounds[0], pl.col("t0") < bounds[-1])
                   .with_columns(slot(pl.col("t0"), bounds).alias("c0")))
        if clock == "calendar":
            c0 = pl.col("c0").cast(pl.Int32)
            hits = (seen.lazy().join(entries.lazy(), on="who")
                    .filter((pl.col("p") > c0) | ((pl.col("p") == c0) & (pl.col("last") >= pl.col("t0"))))
                    .select("who", "c0", (pl.col("p").cast(pl.Int64) - pl.col("c0")).alias("k")))
            length = 0
        else:
            length = ROLLING_DAYS[cal.grain] * DAY_US
            hits = streamed_rolling.rolling_hits(ds, roles, "user_id" if of == "users" else "account_id", entries,
                                                 length).lazy()
    else:
        entries, hits, starts, bounds, complete_before, length = _from_log(
            ds, cal, req, as_of, roles, of=of, clock=clock, identified_only=identified_only, exclusions=exclusions)
        last = len(starts) - 2
    if criterion == "on-or-after":
        reach = hits.group_by("who", "c0").agg(pl.col("k").max().alias("kmax"))
        hits = reach.with_columns(pl.int_ranges(0, pl.col("kmax") + 1).alias("k")).explode("k").select(
            "who", "c0", "k")
    counts = hits.group_by("c0", "k").agg(pl.len().cast(pl.Float64).alias("retained")).collect(engine="streaming")
    sizes = entries.group_by("c0").agg(pl.len().cast(pl.Float64).alias("cohort_size"))
    horizon = pl.min_horizontal(last - pl.col("c0"), periods if periods is not None else last)
    cells = sizes.with_columns(pl.int_ranges(0, horizon + 1).alias("k")).explode("k")
    cells = cells.join(counts, on=["c0", "k"], how="left").with_columns(pl.col("retained").fill_null(0.0))
    if clock == "calendar":
        ends = pl.lit(pl.Series(bounds[1:], dtype=pl.Int64)).gather(pl.col("c0") + pl.col("k"))
        cells = cells.with_columns((ends <= complete_before).alias("complete"))
    else:
        latest = entries.group_by("c0").agg(pl.col("t0").max().alias("t_last"))
        cells = cells.join(latest, on="c0").with_columns(
            (pl.col("t_last") + (pl.col("k") + 1) * length <= complete_before).alias("complete")).drop("t_last")
    # The entry bucket is known as soon as the actor enters (research/product.md §2(c) shows W0 of a
    # cohort in an unfinished week as 100 %); later buckets wait until they are over.
    cells = cells.with_columns((pl.col("complete") | (pl.col("k") == 0)).alias("complete"))
    cells = cells.with_columns(pl.when(pl.col("complete")).then(pl.col("retained")).alias("retained"))
    start_dates = pl.DataFrame({"c0": list(range(len(starts))), "cohort": starts},
                               schema={"c0": pl.Int64, "cohort": pl.Date})
    body = cells.join(start_dates, on="c0").select("cohort", "k", "cohort_size", "retained")
    summary = cells.filter(pl.col("complete")).group_by("k").agg(pl.col("cohort_size").sum(),
                                                                  pl.col("retained").sum())
    summary = summary.with_columns(pl.lit(None, dtype=pl.Date).alias("cohort")).select(body.columns)
    out = pl.concat([body, summary]).with_columns((pl.col("retained") / pl.col("cohort_size")).alias("rate"))
    return out.rename({"k": "period_index"}).sort(["cohort", "period_index"], nulls_last=True).select(
        "cohort", "period_index", "cohort_size", "retained", "rate")


def _from_log(ds: Dataset, cal: Calendar, req: RangeRequest, as_of: int, roles: Roles, *, of: str, clock: str,
              identified_only: bool, exclusions: Exclusions | None
              ) -> tuple[pl.DataFrame, pl.LazyFrame, list[date], list[int], int, int]:
    """Entries (``who, t0, c0``) and hits (``who, c0, k``) from the clean log, as hygiene leaves it."""
    # Only the timestamp, event name and actor are read: a narrow log holds no other column.
    narrow = frozenset({"event", "account_id"} if of == "accounts" else {"event"})
    events, _ = load_events(ds, identified_only, exclusions, narrow)
    who = pl.col("actor") if of == "users" else pl.col("account_id")
    if not events.select(who.is_not_null().any()).item():
        msg = f"no events carry an {'actor' if of == 'users' else 'account_id'} to build cohorts of {of}"
        raise DataError(msg, hint="map account_id for --of accounts")
    data_end = int(events["ts"].max())  # type: ignore[arg-type]
    complete_before = min(as_of, data_end)
    if req.is_empty():
        req = RangeRequest(from_=cal.local_date(int(events["ts"].min())).isoformat()[:7])  # type: ignore[arg-type]
    lo, hi = resolve_range(req, cal, as_of, data_end)
    starts = cal.starts(lo, cal.step(hi, 1))
    bounds = [cal.instant(d) for d in starts]
    # Actors by hash (see actor_key) and one lazy plan: the log is read, not copied.
    keyed = events.lazy().filter(who.is_not_null()).select(actor_key(who).alias("who"), "ts", "event")
    names = roles.events("signup")
    has_signups = bool(events.select(pl.col("event").is_in(names).any()).item())
    entry_rows = keyed.filter(pl.col("event").is_in(names)) if has_signups else active(keyed, roles)

    def period_of(col: str) -> pl.Expr:
        return slot(pl.col(col), bounds)

    entries = (entry_rows.group_by("who").agg(pl.col("ts").min().alias("t0"))
               .filter(pl.col("t0") >= bounds[0], pl.col("t0") < bounds[-1]).with_columns(period_of("t0").alias("c0"))
               .collect())
    acts = active(keyed, roles).select("who", "ts").join(entries.lazy(), on="who").filter(pl.col("ts") >= pl.col("t0"))
    length = ROLLING_DAYS[cal.grain] * DAY_US
    if clock == "calendar":
        acts = acts.filter(pl.col("ts") < bounds[-1]).with_columns((period_of("ts") - pl.col("c0")).alias("k"))
    else:
        acts = acts.with_columns(((pl.col("ts") - pl.col("t0")) // length).alias("k"))
    return entries, acts.select("who", "c0", "k").unique(), starts, bounds, complete_before, length
