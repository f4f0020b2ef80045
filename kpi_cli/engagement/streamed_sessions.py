"""Sessions of a plain event log, streamed: memory bounded by the sessions still open, not by rows.

A session (SPEC §3.3) is a run of an actor's active events with gaps of at most ``--session-gap``,
cut into 24-hour pieces from its first event; it belongs to the period of its first event. The
log is read slice by slice (the slices of :func:`kpi_cli.engagement.streamed.stream`); each slice's
active rows join the rows of the runs left open by the slices before, and a run is *closed* once
no later row can reach it: every later row is at or after the earliest instant of the slices still
to come (known from the pairs pass), so a run whose last event is more than the gap before that
instant can neither grow nor be split. Closed runs become sessions and are let go; open runs are
carried. On a time-sorted log the carry is the sessions in progress at a slice boundary; on an
unsorted one more is carried, and the answer is the same.

Only logs without a ``session_id`` column take this path: an exported session id can reappear at
any later time, so no run of it is ever known to be closed.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.engagement.base import SESSION_CAP_US
from kpi_cli.engagement.events import actor_key, event_rules

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset

ROWS = pl.Schema({"who": pl.UInt64(), "ts": pl.Int64(), "idx": pl.Int64()})


def table(ds: Dataset, acting: pl.Expr, who: str, day_bounds: list[int], day_period: pl.DataFrame,
          gap_s: float, slice_rows: int, slice_starts: list[int | None]) -> pl.DataFrame:
    """``idx, sessions, session_seconds, median_session_seconds``: base.sessions' part, streamed.

    ``acting`` marks a good row that makes its actor active; ``slice_starts`` holds the earliest good
    instant of each slice of ``slice_rows`` rows (None for a slice without one).
    """
    from kpi_cli.engagement.streamed import bad_row
    from kpi_cli.locate import slot

    typed = ds.typed("events", rules=event_rules)
    bad = bad_row(ds)
    ts = pl.col("timestamp")
    day = slot(ts, day_bounds)
    idx = pl.when(day >= 0).then(pl.lit(day_period["idx"]).gather(day.clip(lower_bound=0))).otherwise(-1)
    # As the full path: a day before the grid lets sessions that start there be recognised and left out.
    window = (ts >= day_bounds[0] - SESSION_CAP_US) & (ts < day_bounds[-1])

    def plan(lf: pl.LazyFrame) -> pl.LazyFrame:
        return (lf.with_columns(bad.alias("_bad")).filter(~pl.col("_bad") & acting & window & pl.col(who).is_not_null())
                .select(actor_key(pl.col(who)).alias("who"), ts.alias("ts"), idx.cast(pl.Int64).alias("idx")))

    later = _later_starts(slice_starts)
    gap_us = int(gap_s * 1_000_000)
    carry = pl.DataFrame(schema=ROWS)
    found: list[pl.DataFrame] = []

    def read(i: int) -> pl.DataFrame:
        # The slice first, then the filter: slice i holds the rows of the first pass's slice i (a slice
        # after a filter would also read the log from its start, every time).
        return plan(typed.frame.slice(i * slice_rows, slice_rows)).collect(engine="streaming")

    with ThreadPoolExecutor(max_workers=1) as reader:
        coming = reader.submit(read, 0) if slice_starts else None
        for i in range(len(slice_starts)):
            assert coming is not None
            rows = coming.result()
            coming = reader.submit(read, i + 1) if i + 1 < len(slice_starts) else None
            closed, carry = _close(pl.concat([carry, rows.cast(ROWS)]), later[i], gap_us)
            found.append(closed)
    seconds = pl.concat(found) if found else pl.DataFrame(schema={"idx": pl.Int64, "us": pl.Int64})
    # Durations summed in whole µs: exact, whatever the order the sessions come in.
    return seconds.group_by("idx").agg(
        pl.len().alias("sessions"), (pl.col("us").sum() / 1_000_000).alias("session_seconds"),
        (pl.col("us") / 1_000_000).median().alias("median_session_seconds"))


def _later_starts(starts: list[int | None]) -> list[int | None]:
    """For each slice, the earliest instant of the slices after it (None after the last)."""
    out: list[int | None] = []
    soonest: int | None = None
    for s in reversed(starts):
        out.append(soonest)
        if s is not None:
            soonest = s if soonest is None else min(soonest, s)
    return out[::-1]


def _close(rows: pl.DataFrame, later: int | None, gap_us: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The sessions (``idx, us``) of the runs no later row can reach, and the rows of the others.

    A piece's period is its first row's: periods only grow with time (rows before the grid are -1).
    """
    ts = pl.col("ts")
    # A time-sorted slice (the carry is older than it) needs only a stable sort by actor.
    ordered = rows.sort("who", maintain_order=True) if rows["ts"].is_sorted() else rows.sort("who", "ts")
    new_run = ((pl.col("who") != pl.col("who").shift()) | (ts - ts.shift() > gap_us)).fill_null(value=True)
    # Run numbers count up along the sorted rows: telling Polars so makes the grouping a scan.
    ordered = ordered.with_columns(new_run.cum_sum().cast(pl.UInt32).alias("_run").set_sorted())
    runs = ordered.group_by("_run", maintain_order=True).agg(
        ts.first().alias("first"), ts.last().alias("last"), pl.col("idx").first())
    done = pl.lit(value=True) if later is None else (later - pl.col("last") > gap_us)
    closed = runs.filter(done)
    whole = closed.filter(pl.col("last") - pl.col("first") < SESSION_CAP_US)  # one piece: nearly every run
    long_runs = closed.filter(pl.col("last") - pl.col("first") >= SESSION_CAP_US)
    pieces = [whole.select("idx", (pl.col("last") - pl.col("first")).alias("us"))]
    if long_runs.height:
        cut = ordered.join(long_runs.select("_run", "first"), on="_run").group_by(
            "_run", ((ts - pl.col("first")) // SESSION_CAP_US).alias("_piece")).agg(
            (ts.max() - ts.min()).alias("us"), pl.col("idx").min())
        pieces.append(cut.select("idx", "us"))
    open_runs = runs.filter(~done)["_run"]
    open_rows = ordered.filter(pl.col("_run").is_in(open_runs.implode())).select(list(ROWS))
    # Carried rows stay in time order, so the next slice's check above still finds a sorted log.
    found = pl.concat(pieces).filter(pl.col("idx") >= 0)
    return found, open_rows.sort("ts")
