"""Web sessions per period: visitor conversion and bounce rate (SPEC §3.2).

From ``traffic`` (one row per session), or, without it, from the ``events`` log: sessions of the
``pageview`` role's events, split like engagement sessions (``session_id``, else gaps over
``--session-gap``), a bounce being a session of one page view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.locate import slot

if TYPE_CHECKING:
    from datetime import date

    from kpi_cli.dataset import Dataset
    from kpi_cli.engagement.events import Exclusions
    from kpi_cli.periods import Calendar

SESSION_CAP_US = 24 * 3_600_000_000


@dataclass
class Sessions:
    """One row per session: ``period`` (date), ``visitor``, ``channel``, ``bounce`` and the signup flag.

    From events ``bounce_ga4`` is ``bounce`` (a one-view session lasts 0 s and has no key event) and
    ``signed_up`` is null. ``end`` is the last session start (UTC µs), for completeness.
    """

    rows: pl.DataFrame
    source: str  # traffic | events
    end: int | None


def _place(frame: pl.DataFrame, column: str, starts: list[date], cal: Calendar) -> pl.DataFrame:
    """Add ``period``: the period (of ``starts``) containing instant ``column``; others left out."""
    bounds = [cal.instant(d) for d in starts] + [cal.instant(cal.step(starts[-1], 1))]
    idx = slot(pl.col(column), bounds)
    lookup = pl.Series("period", starts, dtype=pl.Date)
    placed = frame.with_columns(idx.alias("_i")).filter(pl.col("_i") >= 0, pl.col("_i") < len(starts))
    return placed.with_columns(pl.lit(lookup).gather(pl.col("_i")).alias("period")).drop("_i")


def from_traffic(ds: Dataset, starts: list[date], cal: Calendar, engaged_seconds: float) -> Sessions:
    """Sessions of the ``traffic`` source.

    A session id repeated within a visitor is one session (its rows' page views added, the
    longest duration, any key event or signup). A visitor signed up in a session when
    ``signed_up`` is true, or, without that column, when the session carries the ``user_id``
    of the signup.
    """
    raw = ds.load("traffic")
    assert raw is not None
    cols = raw.columns
    false = pl.lit(False)
    duration = pl.col("duration_s").cast(pl.Float64) if "duration_s" in cols else pl.lit(None, dtype=pl.Float64)
    key_event = pl.col("key_event") if "key_event" in cols else pl.lit(None, dtype=pl.Boolean)
    if "signed_up" in cols:
        signed = pl.col("signed_up").fill_null(False)
    elif "user_id" in cols:
        signed = pl.col("user_id").is_not_null()
    else:
        signed = false
    channel = (pl.col("channel").cast(pl.String).sort_by("started_at").first() if "channel" in cols
               else pl.lit(None, dtype=pl.String))
    per = raw.group_by("visitor_id", "session_id").agg(
        pl.col("started_at").min(), pl.col("pageviews").sum(), duration.max().alias("duration_s"),
        key_event.fill_null(False).any().alias("key_event"), signed.any().alias("signed_up"),
        channel.alias("channel"))
    engaged = (pl.col("duration_s").fill_null(0) > engaged_seconds) | pl.col("key_event") | (pl.col("pageviews") >= 2)
    rows = per.select("started_at", pl.col("visitor_id").alias("visitor"), "channel",
                      (pl.col("pageviews") <= 1).alias("bounce"), (~engaged).alias("bounce_ga4"), "signed_up")
    end = int(raw["started_at"].max()) if raw.height else None  # type: ignore[arg-type]
    return Sessions(_place(rows, "started_at", starts, cal).drop("started_at"), "traffic", end)


def clean_events(ds: Dataset, identified_only: bool, exclusions: Exclusions | None) -> pl.DataFrame:
    """The cleaned events log as engagement reads it; a log engagement already cleaned is reused
    (cleaning 20M events twice is the cost to avoid), else one narrowed to event and session ids."""
    from kpi_cli.engagement.hygiene import load_events

    if exclusions:  # the log is then cleaned whole, under one key, whoever asks first
        return load_events(ds, identified_only, exclusions)[0]
    prefix = f"events:clean:{identified_only}:"
    src = ds.sources.get("events")
    wanted = {"event", "session_id"} & ({"event", *src.mapping} if src is not None else {"event"})
    for key, found in ds.memo.items():
        frame = found[0] if key.startswith(prefix) and isinstance(found, tuple) else None
        if isinstance(frame, pl.DataFrame) and wanted <= set(frame.columns):
            return frame
    return load_events(ds, identified_only, None, frozenset({"event", "session_id"}))[0]


def from_events(ds: Dataset, starts: list[date], cal: Calendar, pageview: list[str], gap_s: float,
                identified_only: bool = False, exclusions: Exclusions | None = None) -> Sessions:
    """Page-view sessions of the cleaned events log (after engagement's dedup, identity and exclusion rules)."""
    events = clean_events(ds, identified_only, exclusions)
    views = events.filter(pl.col("event").is_in(pageview)).select(
        pl.col("actor").alias("visitor"), "ts",
        (pl.col("session_id") if "session_id" in events.columns else pl.lit(None, dtype=pl.String)).alias("sid"))
    gap_us = int(gap_s * 1_000_000)
    # Sorted by visitor and time, a gap run is a contiguous block: its start is forward-filled, no
    # window over string keys (the cost on millions of views). Views with a session_id group by it.
    views = views.sort("visitor", "ts")
    ts, visitor = pl.col("ts"), pl.col("visitor")
    first = (visitor != visitor.shift(1)).fill_null(True) | ((ts - ts.shift(1)) > gap_us).fill_null(True)
    runs = views.filter(pl.col("sid").is_null()).with_columns(first.alias("_first"))
    runs = runs.with_columns(pl.col("_first").cum_sum().alias("_run"),
                             pl.when(pl.col("_first")).then(ts).forward_fill().alias("_start"))
    by_run = runs.group_by("_run", ((ts - pl.col("_start")) // SESSION_CAP_US).alias("_piece")).agg(
        visitor.first(), ts.min().alias("started_at"), pl.len().alias("n"))
    tagged = views.filter(pl.col("sid").is_not_null())
    tagged = tagged.with_columns(((ts - ts.min().over("visitor", "sid")) // SESSION_CAP_US).alias("_piece"))
    by_sid = tagged.group_by("visitor", "sid", "_piece").agg(ts.min().alias("started_at"), pl.len().alias("n"))
    per = pl.concat([by_run.select("visitor", "started_at", "n"), by_sid.select("visitor", "started_at", "n")])
    rows = per.select("started_at", "visitor", pl.lit(None, dtype=pl.String).alias("channel"),
                      (pl.col("n") <= 1).alias("bounce"), (pl.col("n") <= 1).alias("bounce_ga4"),
                      pl.lit(None, dtype=pl.Boolean).alias("signed_up"))
    end = int(events["ts"].max()) if events.height else None  # type: ignore[arg-type]
    return Sessions(_place(rows, "started_at", starts, cal).drop("started_at"), "events", end)


def counts(sessions: Sessions, channel: bool) -> pl.DataFrame:
    """Per ``period`` [and ``channel``]: sessions, bounces (both rules), visitors, converted visitors.

    Per channel a visitor counts in every channel it had a session in; it converted in the
    channel of its signup session.
    """
    keys = ["period", *(["channel"] if channel else [])]
    rows = sessions.rows
    return rows.group_by(keys).agg(
        pl.len().alias("sessions"), pl.col("bounce").sum().alias("bounces"),
        pl.col("bounce_ga4").sum().alias("bounces_ga4"), pl.col("visitor").n_unique().alias("visitors"),
        pl.col("visitor").filter(pl.col("signed_up").fill_null(False)).n_unique().alias("converted"))
