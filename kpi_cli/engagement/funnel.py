"""Conversion funnels (``kpi funnel STEP…``): ordered steps within a window from the entry.

Entrants are actors whose first step-1 event falls in the range; each converts through step k
when its step-k event follows step k−1 (``loose``: other events may sit between; ``strict``:
it must be the actor's very next event; ``any``: each step anywhere in the window) no later than
``window`` after the entry. A later repeat of step 1 does not restart the window, and a step
naming the same event as the one before needs a later occurrence. Entrants whose window is
still open at the data's completeness instant are ``pending`` and left out of every rate.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.engagement import portable_funnel, streamed
from kpi_cli.engagement.events import Exclusions
from kpi_cli.engagement.hygiene import load_events
from kpi_cli.errors import DataError, UsageError
from kpi_cli.periods import Calendar, RangeRequest, resolve_range

if TYPE_CHECKING:
    from collections.abc import Iterable

    from kpi_cli.dataset import Dataset

ORDERS = ("loose", "strict", "any")


def table(ds: Dataset, cal: Calendar, req: RangeRequest, as_of: int, steps: list[str], *,
          window_us: int, order: str = "loose", actor: str = "user", identified_only: bool = False,
          exclusions: Exclusions | None = None, engine: str = "polars") -> pl.DataFrame:
    """``step, event, actors, conversion, step_conversion, median_time_to_convert, pending``."""
    if len(steps) < 2:
        msg = "a funnel needs at least two steps"
        raise UsageError(msg, hint='e.g. kpi funnel "Signed Up" "Report Created"')
    if order not in ORDERS:
        msg = f"--order {order!r} is not one of {', '.join(ORDERS)}"
        raise UsageError(msg)
    on_engine = None
    buckets: Iterable[pl.DataFrame] = []
    if portable_funnel.applies(ds, actor=actor, exclusions=exclusions, engine=engine):
        on_engine = portable_funnel.Log(ds, engine, steps, actor=actor, order=order, identified_only=identified_only)
        occurring, data_end = on_engine.occurring, on_engine.data_end
    elif streamed.applies(ds, by=(), needs=frozenset(), exclusions=exclusions, engine="polars", actor=actor):
        from kpi_cli.engagement import streamed_funnel

        # A plain log: the actors in buckets, one pass each, so memory follows the largest bucket.
        occurring, data_end = streamed_funnel.first_pass(ds, actor)
        buckets = streamed_funnel.buckets(ds, actor)
    else:
        # Only the timestamp, event name and actor are read: a narrow log holds no other column.
        narrow = frozenset({"event", "account_id"} if actor == "account" else {"event"})
        events, _ = load_events(ds, identified_only, exclusions, narrow)
        who = pl.col("actor") if actor == "user" else pl.col("account_id")
        # Ties of (actor, instant) stay in file order: hygiene leaves the rows in it.
        events = (events.with_columns(who.alias("who")).filter(pl.col("who").is_not_null())
                  .select("who", "ts", "event").sort("who", "ts", maintain_order=True).with_row_index("_row"))
        occurring = set(events["event"].unique().drop_nulls())
        data_end = int(events["ts"].max())  # type: ignore[arg-type]
        buckets = [events]
    missing = [s for s in steps if s not in occurring]
    if missing:
        msg = f"funnel step {missing[0]!r} never occurs in events"
        raise DataError(msg, hint="step names must match the event column exactly (kpi validate shows the file)")
    assert data_end is not None  # a step occurs: some row has an actor
    lo, hi = resolve_range(req, cal, as_of, data_end)
    start, stop = cal.instant(lo), cal.instant(cal.step(hi, 1))
    parts = [_reach(events, steps, start, stop, window_us, order, min(as_of, data_end)) for events in buckets]
    if on_engine is not None:
        parts = [portable_funnel.reach(on_engine, steps, start, stop, window_us, order, min(as_of, data_end))]
    pending = sum(p for _, p in parts)
    reached = [pl.concat([r[k] for r, _ in parts]) for k in range(len(steps))]
    counts = [r.height for r in reached]
    rows = []
    for k, (name, r) in enumerate(zip(steps, reached, strict=True)):
        median = (r["t"] - r["t0"]).median() if k and r.height else None
        rows.append({
            "step": k + 1, "event": name, "actors": counts[k],
            "conversion": counts[k] / counts[0] if counts[0] else None,
            "step_conversion": (counts[k] / counts[k - 1] if counts[k - 1] else None) if k else
            (1.0 if counts[0] else None),
            "median_time_to_convert": float(median) / 1_000_000 if median is not None else None,  # type: ignore[arg-type]
            "pending": pending,
        })
    return pl.DataFrame(rows, schema={"step": pl.Int64, "event": pl.String, "actors": pl.Int64,
                                      "conversion": pl.Float64, "step_conversion": pl.Float64,
                                      "median_time_to_convert": pl.Float64, "pending": pl.Int64})


def _reach(events: pl.DataFrame, steps: list[str], start: int, stop: int, window_us: int, order: str,
           complete_before: int) -> tuple[list[pl.DataFrame], int]:
    """Per step, the entrants of ``events`` (``who, ts, event, _row``: rows numbered in (actor, time) order)
    that reach it (``who, t0, t``), and how many entrants are pending."""
    entries = (events.filter(pl.col("event") == steps[0], pl.col("ts") >= start, pl.col("ts") < stop)
               .sort("ts", "_row").unique("who", keep="first")
               .select("who", pl.col("ts").alias("t0"), pl.col("_row").alias("r0")))
    mature = entries.filter(pl.col("t0") + window_us <= complete_before)
    pending = entries.height - mature.height
    reached = [mature.select("who", "t0", pl.col("t0").alias("t"), pl.col("r0").alias("r"))]
    for k, name in enumerate(steps[1:], start=1):
        prev = reached[-1]
        if order == "any":
            nxt = _first_in_window(events, mature, name, window_us)
            nxt = nxt.join(prev.select("who"), on="who", how="semi")
            if k > 1:  # the time to step k is when the last of steps 1..k has happened
                nxt = nxt.join(prev.select("who", pl.col("t").alias("_tp")), on="who").with_columns(
                    pl.max_horizontal("t", "_tp").alias("t")).drop("_tp")
        else:
            nxt = _next_step(events, prev, name, order, same_as_before=steps[k - 1] == name)
            nxt = nxt.filter(pl.col("t") <= pl.col("t0") + window_us)
        reached.append(nxt)
    return [r.select("who", "t0", "t") for r in reached], pending


def _next_step(events: pl.DataFrame, prev: pl.DataFrame, name: str, order: str, same_as_before: bool
               ) -> pl.DataFrame:
    """For each actor at the previous step, its next qualifying event (after that step's row)."""
    if order == "strict":
        # The actor's very next event (by time, then file order) must be the step.
        following = events.select("who", pl.col("_row").alias("r"), pl.col("_row").shift(-1).over("who")
                                  .alias("_next"))
        nxt = prev.join(following, on=["who", "r"]).join(
            events.select(pl.col("_row").alias("_next"), pl.col("ts").alias("t_n"), "event"), on="_next")
        return nxt.filter(pl.col("event") == name).select("who", "t0", pl.col("t_n").alias("t"),
                                                          pl.col("_next").alias("r"))
    candidates = events.filter(pl.col("event") == name).select("who", pl.col("_row").alias("r_c"),
                                                               pl.col("ts").alias("t_c"))
    # Rows are numbered in (actor, time) order, so "a later row of the same actor" is the next one;
    # a different event may share the previous step's instant, the same event needs a later row.
    nxt = prev.sort("r").join_asof(candidates.sort("r_c"), left_on="r", right_on="r_c", by="who",
                                   strategy="forward", allow_exact_matches=not same_as_before,
                                   check_sortedness=False)
    return nxt.filter(pl.col("r_c").is_not_null()).select("who", "t0", pl.col("t_c").alias("t"),
                                                           pl.col("r_c").alias("r"))


def _first_in_window(events: pl.DataFrame, entrants: pl.DataFrame, name: str, window_us: int) -> pl.DataFrame:
    """Each entrant's first ``name`` event in [t0, t0 + window]."""
    hits = events.filter(pl.col("event") == name).join(entrants.select("who", "t0", "r0"), on="who")
    hits = hits.filter(pl.col("ts") >= pl.col("t0"), pl.col("ts") <= pl.col("t0") + window_us,
                       pl.col("_row") != pl.col("r0"))
    return hits.group_by("who").agg(pl.col("t0").first(), pl.col("ts").min().alias("t"),
                                    pl.col("_row").min().alias("r"))
