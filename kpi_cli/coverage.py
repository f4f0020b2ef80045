"""What a run's data covers: the span of each source it read, and whether the range asked lies outside it.

Read after the run, from the frames the dataset already holds: nothing is scanned again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kpi_cli.api import Run


def source_span(run: Run, name: str) -> tuple[str, int, int] | None:
    """(column, first, last) instants (UTC µs) of a source the run parsed, or None if it read none.

    Billing rows as parsed (the first timestamp column through the latest instant mentioned, far-future
    "no end" sentinels aside); events after hygiene.
    """
    import polars as pl

    from kpi_cli.schemas import SOURCES

    if name == "events":
        for key, value in run.dataset.memo.items():
            if key.startswith("events:clean") and isinstance(value, tuple) and value[0].height:
                return "timestamp", int(value[0]["ts"].min()), int(value[0]["ts"].max())
        return None
    held = run.dataset.memo.get(f"span:{name}")  # billing read by the engine: its span, worked out there
    if isinstance(held, tuple):
        return held[0], held[1], held[2]
    frame = run.dataset._cache.get(name)
    if frame is None or not frame.height or name not in SOURCES:
        return None
    cols = [c.name for c in SOURCES[name] if c.kind == "ts" and c.name in frame.columns]
    if not cols or frame.schema[cols[0]] not in (pl.Int64, pl.Datetime("us", "UTC"), pl.Datetime("us")):
        return None
    far = 7_258_118_400_000_000  # 2200-01-01: later instants are "still running" sentinels, not data
    ints = [pl.col(c).cast(pl.Int64) for c in cols]
    lo, hi = frame.select(ints[0].min().alias("lo"), pl.max_horizontal(
        [e.filter(e < far).max() for e in ints]).alias("hi")).row(0)
    return None if lo is None or hi is None else (cols[0], int(lo), int(hi))


def when(run: Run, us: int) -> str:
    """A UTC instant (µs) as ``YYYY-MM-DD HH:MM`` in the reporting timezone."""
    from datetime import UTC, datetime

    from kpi_cli.periods import zone

    moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
    return moment.astimezone(zone(str(run.settings.values["tz"]))).strftime("%Y-%m-%d %H:%M")


def outside_data(run: Run) -> list[str]:
    """A warning when the range asked for lies wholly before or after the data (SPEC §4.2: say so)."""
    if run.options.range.is_empty():
        return []
    from kpi_cli.options import calendar_of
    from kpi_cli.periods import parse_as_of, resolve_range

    spans = [s for s in (source_span(run, n) for n in ("subscriptions", "invoices", "events")) if s is not None]
    if not spans:
        return []
    cal = calendar_of(run.settings.values)
    first, last = min(s[1] for s in spans), max(s[2] for s in spans)
    lo, hi = resolve_range(run.options.range, cal, parse_as_of(run.options.as_of, cal), last)
    if cal.instant(cal.step(hi, 1)) > first and cal.instant(lo) <= last:
        return []
    where = "before" if cal.instant(lo) <= last else "after"
    subs = run.dataset._cache.get("subscriptions")
    held = run.dataset.memo.get("span:subscriptions")
    running = (held[3] if isinstance(held, tuple) else
               subs is not None and "end_at" in subs.columns and bool(subs["end_at"].null_count()))
    if where == "after" and running:
        return []  # subscriptions still running reach every later period: MRR there is real, not absent
    asked = f"{lo} … {cal.step(hi, 1) - timedelta(days=1)}"
    covers = f"{cal.local_date(first)} … {cal.local_date(last)}"
    return [f"the range asked for ({asked}) lies wholly {where} the data, which covers {covers}"]
