"""Event cohorts of a Parquet log on any engine (``kpi cohort --of users|accounts --engine duckdb|spark``).

The inputs :mod:`kpi_cli.engagement.cohorts` reads, worked out on the engine's own scan of the log
(rows checked, event ids and anonymous ids cleaned: :mod:`kpi_cli.engagement.portable`,
:mod:`kpi_cli.engagement.portable_hygiene`), in three queries whose results are small:

1. the span of the kept rows and whether the log holds a sign-up (the cohorts' entry, else the
   first active event) and an actor;
2. each actor's entry instant ``t0`` (one row per actor);
3. the distinct (actor, cohort, bucket) triples of the active rows at or after the entry: bucket
   ``k`` is the calendar period of the row less the cohort's (its local day found as for the
   active-user family, then the day's period), or ⌊(t − t₀) / L⌋ on the rolling clock.

The triangles are then counted in Polars from those, by the same code as on every other path.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import narwhals as nw
import polars as pl

from kpi_cli.engagement import portable
from kpi_cli.engagement.events import active_condition_nw, event_rules
from kpi_cli.engines import engine_for
from kpi_cli.errors import DataError
from kpi_cli.locate import slot
from kpi_cli.periods import RangeRequest, resolve_range
from kpi_cli.portable_rows import day_of

if TYPE_CHECKING:
    from datetime import date

    from kpi_cli.dataset import Dataset
    from kpi_cli.engagement.events import Exclusions, Roles
    from kpi_cli.engines import Engine
    from kpi_cli.periods import Calendar



def applies(ds: Dataset, *, of: str, exclusions: Exclusions | None, engine: str) -> bool:
    """True for a cohort run on another engine than Polars over a Parquet log with the cohort's actor."""
    return portable.applies(ds, by=(), needs=frozenset(), exclusions=exclusions, engine=engine,
                            actor="account" if of == "accounts" else "user")


def inputs(ds: Dataset, cal: Calendar, req: RangeRequest, as_of: int, roles: Roles, engine_name: str, *, of: str,
           clock: str, length_us: int, identified_only: bool
           ) -> tuple[pl.DataFrame, pl.LazyFrame, list[date], list[int], int]:
    """``entries`` (``who, t0, c0``), ``hits`` (``who, c0, k``), the period starts and bounds, and the
    instant before which periods are complete: what ``cohorts._from_log`` gives, from the engine."""
    engine = engine_for(engine_name)
    typed = ds.typed("events", rules=event_rules)
    log = portable.checked(engine, typed, extras=ds.audit)
    report = portable.settle(engine, ds, typed, log)  # bad rows raised or rejected, as on Polars
    log, kept = portable.cleaned(engine, log, typed, identified_only=identified_only)
    portable.audit(engine, ds, typed, log, report, identified_only=identified_only)  # -v: duplicates, rows used
    key, has_who = portable.actor_of(typed.present, account=of == "accounts")
    who_key = nw.col(key)
    signups = roles.events("signup")
    ts = nw.col("timestamp")
    signup = nw.col("event").is_in(signups) if signups else nw.lit(value=False)
    facts = engine.collect(log.filter(kept).select(
        ts.min().alias("first"), ts.max().alias("last"), has_who.cast(nw.Int64).max().alias("any_who"),
        signup.cast(nw.Int64).max().alias("any_signup")))
    first, last, any_who, any_signup = facts.row(0)
    if first is None:
        msg = "no events to compute from (the file has only a header, or every row was rejected)"
        raise DataError(msg, hint="check the export, or run `kpi validate`")
    if not any_who:
        msg = f"no events carry an {'actor' if of == 'users' else 'account_id'} to build cohorts of {of}"
        raise DataError(msg, hint="map account_id for --of accounts")
    complete_before = min(as_of, int(last))
    if req.is_empty():
        req = RangeRequest(from_=cal.local_date(int(first)).isoformat()[:7])
    lo, hi = resolve_range(req, cal, as_of, int(last))
    starts = cal.starts(lo, cal.step(hi, 1))
    bounds = [cal.instant(d) for d in starts]
    acting = kept & has_who & active_condition_nw(roles)
    entering = (kept & has_who & signup) if any_signup else acting
    rows = log.select(ts, who_key.alias("who"), acting.fill_null(value=False).alias("_acting"),
                      entering.fill_null(value=False).alias("_entering"))
    entry = engine.collect(rows.filter(nw.col("_entering")).group_by("who").agg(ts.min().alias("t0")))
    entries = (entry.filter(pl.col("t0") >= bounds[0], pl.col("t0") < bounds[-1])
               .with_columns(slot(pl.col("t0"), bounds).alias("c0")))
    entered = engine.table(entries.select("who", "t0", pl.col("c0").cast(pl.Int64)))
    if clock == "calendar":
        days = (starts[-1] - starts[0]).days
        day_bounds = [cal.instant(starts[0] + timedelta(days=i)) for i in range(days + 1)]
        day_period = pl.DataFrame({"day": list(range(days)),
                                   "_p": [slot_of(b, bounds) for b in day_bounds[:-1]]},
                                  schema={"day": pl.Int32, "_p": pl.Int64})
        plan = hits_plan(engine, rows, entered, end=bounds[-1], days=(day_bounds, day_period))
    else:
        plan = hits_plan(engine, rows, entered, end=bounds[-1], length_us=length_us)
    hits = engine.collect(plan)
    hits = hits.with_columns(pl.col("c0").cast(pl.Int64), pl.col("k").cast(pl.Int64))
    return entries.select("who", "t0", pl.col("c0").cast(pl.Int64)), hits.lazy(), starts, bounds, complete_before


def hits_plan(engine: Engine, rows: nw.LazyFrame, entered: nw.LazyFrame, *, end: int,
              days: tuple[list[int], pl.DataFrame] | None = None, length_us: int = 0) -> nw.LazyFrame:
    """``who, c0, k``: the distinct buckets of the ``_acting`` ``rows`` (``timestamp, who``) of the
    ``entered`` actors (``who, t0, c0``) at or after their entry: the calendar period (``days``: local
    day bounds and each day's period ``_p``; rows before ``end``) less the cohort's, else whole
    ``length_us`` spans since the entry."""

    ts = nw.col("timestamp")
    acts = rows.filter(nw.col("_acting")).select("who", "timestamp").join(entered, on="who", how="inner").filter(
        ts >= nw.col("t0"))
    if days is not None:
        day_bounds, day_period = days
        inside = acts.filter(ts < end).with_columns(nw.lit(value=True).alias("_counted"))
        found = day_of(engine, inside, day_bounds).join(engine.table(day_period), on="day", how="left")
        k = nw.col("_p") - nw.col("c0")
    else:
        since = ts - nw.col("t0")  # ≥ 0: floor division as (x − x mod L) / L, exact below 2⁵³ µs
        found, k = acts, ((since - since % length_us) / length_us).cast(nw.Int64)
    return found.select("who", "c0", k.alias("k")).group_by("who", "c0", "k").agg(nw.len().alias("_n")).select(
        "who", "c0", "k")


def slot_of(instant: int, bounds: list[int]) -> int:
    """The index ``i`` with ``bounds[i] <= instant < bounds[i + 1]`` (as :func:`kpi_cli.locate.slot`)."""
    from bisect import bisect_right

    return bisect_right(bounds, instant) - 1
