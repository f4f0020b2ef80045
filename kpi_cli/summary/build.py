"""``kpi report``: every available metric for one period, its changes and its history, from ONE compute run.

The report period P is what the range options name (default: the last complete period). One
:func:`kpi_cli.api.compute_run` over P − 23 … P (reaching back to the year-ago period on day and week
grains) gives the value, the previous period, the same period a year earlier and the history the
sparklines and charts draw: history is computed in the same pass, never once per period.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from typing import TYPE_CHECKING, Any

from kpi_cli.changes import change, change_unit
from kpi_cli.errors import UsageError
from kpi_cli.registry import METRICS
from kpi_cli.summary.model import SECTIONS, Point, Report, ReportRow

if TYPE_CHECKING:
    import polars as pl

    from kpi_cli.api import Run
    from kpi_cli.influence.model import TreeResult
    from kpi_cli.periods import Calendar

HISTORY = 24  # periods of history each metric carries (the HTML trend; the sparkline shows the last 12)
# Machine formats' columns (SPEC §3.5), in order.
COLUMNS = ("metric", "period", "value", "previous", "change", "change_unit", "year_ago", "yoy_change",
           "benchmark_low", "benchmark_high", "benchmark_source", "complete")
# Survey metrics whose denominator is the responses they read: their rows carry n (and a margin).
SURVEY_N = ("nps", "csat", "ces", "detractor_recovery_rate")
# Metrics the report folds into another's row rather than showing on their own.
FOLDED = {"nps_moe": "nps"}


def year_ago(p: date, cal: Calendar) -> date:
    """The same period a year earlier: 12 months, 4 quarters, 1 year, 52 weeks (same weekday), or the
    same calendar day (29 February → 28 February).

    Examples
    --------
    >>> from kpi_cli.periods import Calendar
    >>> year_ago(date(2024, 3, 1), Calendar()), year_ago(date(2024, 3, 4), Calendar(grain="week"))
    (datetime.date(2023, 3, 1), datetime.date(2023, 3, 6))
    >>> year_ago(date(2024, 2, 29), Calendar(grain="day"))
    datetime.date(2023, 2, 28)
    """
    if cal.grain == "day":
        try:
            return p.replace(year=p.year - 1)
        except ValueError:
            return p.replace(year=p.year - 1, day=28)
    if cal.grain == "week":
        return cal.step(p, -52)
    return cal.step(p, -{"month": 12, "quarter": 4, "year": 1}[cal.grain])


def report_period(run: Run, ids: list[str]) -> date:
    """The one period the report shows: what the range options name, else the last complete one."""
    from kpi_cli.graph import Graph

    graph = Graph(run, ids)
    if run.options.range.is_empty():
        # "The last complete one" for the whole report: complete for every family shown, so the default
        # is the period before the EARLIEST data end (compute's span ends at the latest one).
        from kpi_cli.periods import resolve_range

        ends = graph.data_ends()
        if ends:
            return resolve_range(run.options.range, graph.calendar, graph.as_of, min(ends))[1]
    if graph.first != graph.last:
        msg = "kpi report shows one period, and this range names several"
        raise UsageError(msg, hint="use --month 2024-03 (or last), --last 1, or a quarter or year at its grain: "
                         "--quarter 2024-Q2 --period quarter, --year 2024 --period year")
    return graph.last


def report_run(run: Run, metrics: str | list[str] = "all") -> Report:
    """The :class:`~kpi_cli.summary.model.Report` for the run's period.

    Examples
    --------
    >>> from kpi_cli.api import Run, _options
    >>> r = report_run(Run.start(_options("sample_data", {"month": "2024-03"})), "mrr,customer_churn_rate")
    >>> [(row.metric, row.change_unit, len(row.history)) for row in r.rows]
    [('mrr', 'pct', 24), ('customer_churn_rate', 'pp', 24)]
    """
    from kpi_cli.api import availability, compute_run, with_companions
    from kpi_cli.influence.period import series_of
    from kpi_cli.options import calendar_of
    from kpi_cli.periods import RangeRequest
    from kpi_cli.registry import resolve

    if run.options.by:
        msg = "kpi report shows the whole company: --by is not supported here"
        raise UsageError(msg, hint="use kpi compute … --by DIM for a breakdown")
    cal = calendar_of(run.settings.values)
    available = availability(run)
    asked = with_companions(resolve(metrics, lambda m: available(m.id)))
    period = report_period(run, asked)
    # One period more than the history: the tree section's first change reads the period before it.
    first = min(cal.step(period, -HISTORY), year_ago(period, cal))
    run.options = replace(run.options, range=RangeRequest(from_=first.isoformat(), to=period.isoformat()))
    # ARPA picks a benchmark's ARPA band: computed in the same run even when not shown.
    extra = ["arpa"] if "arpa" not in asked and available("arpa") else []
    df = compute_run([*asked, *extra], run)
    computed = run.info.get("metrics", [])
    ids = [m for m in computed if m not in FOLDED and m not in extra]
    series = series_of(df, computed)
    rows = [_row(mid, period, cal, series, run) for mid in ids]
    order = {key: i for i, (key, _) in enumerate(SECTIONS)}
    rows.sort(key=lambda r: order.get(r.section, len(order)))
    rows = _with_benchmarks(rows, run, cal.grain, series)
    return Report(period, cal.grain, run.info.get("currency") or str(run.settings.values.get("currency") or "USD"),
                  tuple(rows), series=series)


def _row(mid: str, period: date, cal: Calendar, series: dict[str, Any], run: Run) -> ReportRow:
    m = METRICS[mid]
    unit = m.unit_for(run.options)
    cu = change_unit(unit)
    points = series.get(mid, {})
    starts = cal.starts(cal.step(period, -(HISTORY - 1)), cal.step(period, 1))[:-1]
    history = tuple(Point(p, points.get(p, (None,))[0], points.get(p, (None, True))[1]) for p in starts)
    value, complete, _num, den = points.get(period, (None, _complete(period, run, cal), None, None))
    previous = points.get(cal.step(period, -1), (None,))[0]
    before = points.get(year_ago(period, cal), (None,))[0]
    n = moe = None
    if mid in SURVEY_N:
        n = den
        if mid == "nps":
            moe = series.get("nps_moe", {}).get(period, (None,))[0]
        elif unit == "ratio" and value is not None and den:
            moe = 1.959964 * 100 * math.sqrt(max(value * (1 - value), 0.0) / den)  # Wald margin, in points
    section = m.listed_group
    return ReportRow(mid, m.label, section, unit, cu, period, value, previous, change(value, previous, unit),
                     before, change(value, before, unit), complete, history,
                     reason=_reason(mid, points.get(period), points) if value is None else "", n=n, moe=moe)


def _complete(period: date, run: Run, cal: Calendar) -> bool:
    from kpi_cli.periods import parse_as_of

    return cal.instant(cal.step(period, 1)) <= parse_as_of(run.options.as_of, cal)


def _reason(mid: str, at: tuple[float | None, bool, float | None, float | None] | None,
            points: dict[date, Any]) -> str:
    """Why a value is null, in words a reader can act on."""
    if not points or all(v[0] is None for v in points.values()):
        return "no data for it in this range"
    if at is None:
        return "no data in this period"
    _, _, num, den = at
    if den == 0:
        return "undefined: its denominator is 0 in this period"
    if num is None and den is None:
        return "not computable in this period"
    return f"a part is missing in this period (kpi explain {mid})"


def _with_benchmarks(rows: list[ReportRow], run: Run, grain: str, series: dict[str, Any]) -> list[ReportRow]:
    """Each row with the benchmark that applies at this grain (or why none does)."""
    from kpi_cli.summary import benchmarks

    entries = benchmarks.load(run.settings.tables.get("benchmarks"))
    currency = run.info.get("currency") or run.settings.values.get("currency")
    arpa = series.get("arpa", {}).get(rows[0].period, (None,))[0] if rows and currency == "USD" else None
    known = {e.metric for e in entries}
    out = []
    for r in rows:
        if r.metric not in known:
            out.append(r)
            continue
        found, why = benchmarks.match(r.metric, r.value, grain, entries, arpa_usd=arpa)
        out.append(replace(r, benchmark=found, benchmark_note="" if found else why))
    return out


def rows_frame(report: Report) -> pl.DataFrame:
    """The report as rows with SPEC §3.5's columns (machine formats)."""
    import polars as pl

    from kpi_cli.summary.benchmarks import on_grain

    records = []
    for r in report.rows:
        b = r.benchmark
        low = b.low if b is not None and b.low is not None else (b.value if b is not None else None)
        high = b.high if b is not None and b.high is not None else (b.value if b is not None else None)
        if b is not None:  # on the value's own scale: a monthly churn beside an annual band would mislead
            low, high = (on_grain(r.metric, x, report.grain, b.basis) for x in (low, high))
        records.append((r.metric, r.period, r.value, r.previous, r.change, r.change_unit, r.year_ago, r.yoy_change,
                        low, high, b.source if b is not None else None, r.complete))
    schema = {"metric": pl.String, "period": pl.Date, "value": pl.Float64, "previous": pl.Float64,
              "change": pl.Float64, "change_unit": pl.String, "year_ago": pl.Float64, "yoy_change": pl.Float64,
              "benchmark_low": pl.Float64, "benchmark_high": pl.Float64, "benchmark_source": pl.String,
              "complete": pl.Boolean}
    return pl.DataFrame(records, schema=schema, orient="row")


TREE_KPIS = ("customer_churn_rate", "nps")


def report_tree(run: Run, report: Report) -> TreeResult | None:
    """The tree of the report's first result KPI (churn, else NPS) against the default influencers the
    report computed, from the report's own rows: no second run. None when no such KPI is there."""
    from kpi_cli.influence.period import DEFAULT_INFLUENCERS, from_series

    shown = {r.metric for r in report.rows}
    for kpi in TREE_KPIS:
        influencers = [m for m in DEFAULT_INFLUENCERS[kpi] if m in shown]
        if kpi in shown and influencers:
            window = [p.period for p in next(r for r in report.rows if r.metric == kpi).history]
            return from_series(run, kpi, influencers, "spearman", window, report.series)
    return None
