"""Conversion funnels of a Parquet log on any engine (``kpi funnel … --engine duckdb|spark``).

The rules of :mod:`kpi_cli.engagement.funnel`, on the engine's own scan of the log (rows checked,
event ids and anonymous ids cleaned: :mod:`kpi_cli.engagement.portable_hygiene`), written on
Narwhals with joins and group-bys (no as-of join: Narwhals has none on Spark):

- rows equal in every column go (the first stays), as hygiene leaves the log; each row's place is
  (instant, file index × 2⁴⁰ + line), the order the Polars path numbers an actor's rows in;
- entrants: each actor's first step-1 row in the range; the others are reached step by step: the
  actor's first row of the step's event after the previous step's row (``loose``), its very next row
  if that is the step's event (``strict``), or its first such row in the window other than the entry
  (``any``); a step reached later than ``window`` after the entry is not reached.

Only one row per entrant and step comes back; the table is made by the Polars code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import narwhals as nw
import polars as pl

from kpi_cli.engagement import portable, portable_hygiene
from kpi_cli.engagement.events import event_rules
from kpi_cli.engines import engine_for
from kpi_cli.portable_rows import file_indexes, with_places

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset
    from kpi_cli.engagement.events import Exclusions
    from kpi_cli.engines import Engine

def applies(ds: Dataset, *, actor: str, exclusions: Exclusions | None, engine: str) -> bool:
    """True for a funnel on another engine than Polars over a Parquet log with the run's actor."""
    return portable.applies(ds, by=(), needs=frozenset(), exclusions=exclusions, engine=engine, actor=actor)


class Log:
    """The funnel's rows on the engine: ``who, timestamp, _row, event`` of kept rows with an actor,
    exact copies gone; what occurs in them and their last instant."""

    def __init__(self, ds: Dataset, engine_name: str, steps: list[str], *, actor: str, order: str,
                 identified_only: bool) -> None:
        self.engine = engine = engine_for(engine_name)
        typed = ds.typed("events", rules=event_rules)
        log = portable.checked(engine, typed, extras=True)
        report = portable.settle(engine, ds, typed, log)  # bad rows raised or rejected, as on Polars
        log, kept = portable.cleaned(engine, log, typed, identified_only=identified_only)
        portable.audit(engine, ds, typed, log, report, identified_only=identified_only)  # -v: duplicates, rows used
        if not portable_hygiene.needed(typed.present):  # hygiene placed the rows already
            log = with_places(engine, log, file_indexes(typed))
        key, has_who = portable.actor_of(typed.present, account=actor == "account")
        who = nw.col(key)
        rows = log.filter(kept & has_who)
        facts = engine.collect(rows.group_by("event").agg(nw.col("timestamp").max().alias("_last")))
        self.occurring = {e for e in facts["event"].to_list() if e is not None}
        last = facts["_last"].max()
        self.data_end = None if last is None else int(last)  # type: ignore[arg-type]
        if order != "strict":  # only the steps' rows can be reached (a copy is of the same event)
            rows = rows.filter(nw.col("event").is_in(sorted(set(steps))))
        values = [*typed.present, *typed.src.extra]
        self.rows = portable.keep(engine, distinct_rows(rows, values, who))


def reach(log: Log, steps: list[str], start: int, stop: int, window_us: int, order: str,
          complete_before: int) -> tuple[list[pl.DataFrame], int]:
    """Per step, the entrants that reach it (``who, t0, t``), and how many entrants are pending."""
    engine, rows = log.engine, log.rows
    ts = nw.col("timestamp")
    firsts = rows.filter(nw.col("event") == steps[0], ts >= start, ts < stop)
    entries = engine.collect(portable_hygiene.earliest(engine, firsts.select("who", "timestamp", "_row"), "who"))
    mature = entries.filter(pl.col("timestamp") + window_us <= complete_before)
    pending = entries.height - mature.height
    prev = mature.select("who", pl.col("timestamp").alias("t0"), pl.col("timestamp").alias("t"),
                         pl.col("_row").alias("r"))
    reached = [prev]
    following = None
    if order == "strict":
        following = portable.keep(engine, following_rows(rows))
    for k, name in enumerate(steps[1:], start=1):
        at = engine.table(prev.select("who", "t0", "t", "r"))
        if order == "any":
            entrants = engine.table(mature.select("who", pl.col("timestamp").alias("t0"), pl.col("_row").alias("r0")))
            found = engine.collect(first_in_window(rows, entrants, name, window_us))
            nxt = found.join(prev.select("who", pl.col("t").alias("_tp")), on="who", how="inner")
            if k > 1:  # the time to step k is when the last of steps 1..k has happened
                nxt = nxt.with_columns(pl.max_horizontal("t", "_tp").alias("t"))
            nxt = nxt.drop("_tp")
        elif order == "strict":
            assert following is not None
            nxt = engine.collect(next_strict(following, at, name))
        else:
            nxt = engine.collect(next_loose(engine, rows, at, name))
        if order != "any":
            nxt = nxt.filter(pl.col("t") <= pl.col("t0") + window_us)
        prev = nxt.select("who", "t0", "t", "r")
        reached.append(prev)
    return [r.select("who", pl.col("t0").cast(pl.Int64), pl.col("t").cast(pl.Int64)) for r in reached], pending



def distinct_rows(rows: nw.LazyFrame, values: list[str], who: nw.Expr) -> nw.LazyFrame:
    """``who, timestamp, _row, event``: one row per distinct row of the source's ``values`` (exact copies
    once), at its first place."""
    distinct = rows.group_by(*values).agg(nw.col("_row").min(), who.min().alias("who"))
    return distinct.select("who", "timestamp", "_row", "event")


def following_rows(rows: nw.LazyFrame) -> nw.LazyFrame:
    """``who, r, t, _next, _e``: each row (place ``r``) and the actor's next row by (instant, place)."""
    def after(c: str) -> nw.Expr:
        return nw.col(c).shift(-1).over("who", order_by=["timestamp", "_row"])

    return rows.select("who", nw.col("_row").alias("r"), after("timestamp").alias("t"), after("_row").alias("_next"),
                       after("event").alias("_e"))


def next_loose(engine: Engine, rows: nw.LazyFrame, at: nw.LazyFrame, name: str) -> nw.LazyFrame:
    """``who, t0, t, r``: each actor's first ``name`` row after its place ``at`` (``who, t0, t, r``)."""
    ts = nw.col("timestamp")
    later = rows.filter(nw.col("event") == name).join(
        at.select("who", "t0", nw.col("t").alias("_tp"), nw.col("r").alias("_rp")), on="who", how="inner")
    later = later.filter((ts > nw.col("_tp")) | ((ts == nw.col("_tp")) & (nw.col("_row") > nw.col("_rp"))))
    first = portable_hygiene.earliest(engine, later.select("who", "t0", "timestamp", "_row"), "who")
    return first.select("who", "t0", ts.alias("t"), nw.col("_row").alias("r"))


def next_strict(following: nw.LazyFrame, at: nw.LazyFrame, name: str) -> nw.LazyFrame:
    """``who, t0, t, r``: each actor's very next row after its place ``at``, when it is a ``name`` row."""
    return (following.join(at.select("who", "r", "t0"), on=["who", "r"], how="inner").filter(nw.col("_e") == name)
            .select("who", "t0", "t", nw.col("_next").alias("r")))


def first_in_window(rows: nw.LazyFrame, entrants: nw.LazyFrame, name: str, window_us: int) -> nw.LazyFrame:
    """``who, t0, t, r``: each entrant's (``who, t0, r0``) first ``name`` row in [t0, t0 + window] but its entry."""
    ts = nw.col("timestamp")
    hits = rows.filter(nw.col("event") == name).join(entrants, on="who", how="inner")
    hits = hits.filter(ts >= nw.col("t0"), ts <= nw.col("t0") + window_us, nw.col("_row") != nw.col("r0"))
    return hits.group_by("who").agg(nw.col("t0").min(), ts.min().alias("t"), nw.col("_row").min().alias("r"))
