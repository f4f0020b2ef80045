"""The report as tables a person reads at a glance: one per section, one row per metric."""

from __future__ import annotations

from kpi_cli.render import FEW_RESPONSES, Column, Grid, fmt_nps, fmt_value, period_label
from kpi_cli.summary.fmt import fmt_change, sparkline
from kpi_cli.summary.model import SECTIONS, Report, ReportRow

SPARK = 12
INCOMPLETE_MARK = "┊"


def value_text(row: ReportRow, currency: str) -> str:
    """The value as the table shows it: NPS with margin and n, other survey metrics with n, ``*`` when
    the period is not complete.

    Examples
    --------
    >>> from datetime import date
    >>> r = ReportRow("csat", "CSAT", "satisfaction", "ratio", "pp", date(2024, 3, 1), 0.8, None, None, None,
    ...               None, False, (), n=20.0)
    >>> value_text(r, "USD")
    '80.0% (n=20) *'
    """
    if row.metric == "nps":
        text = fmt_nps(row.value, row.moe, row.n)
    else:
        text = fmt_value(row.value, row.unit, currency)
        if row.moe is not None and row.value is not None:
            text += f" ±{row.moe:.1f}"
        if row.n is not None and row.value is not None:
            text += f" (n={row.n:.0f})"
    return text + ("" if row.complete else " *")


def trend_text(row: ReportRow, ascii_only: bool = False) -> str:
    """The last 12 complete periods as a sparkline; an incomplete report period follows a ``┊``.

    Examples
    --------
    >>> from datetime import date
    >>> from kpi_cli.summary.model import Point
    >>> pts = tuple(Point(date(2024, m, 1), float(m), m < 3) for m in (1, 2, 3))
    >>> r = ReportRow("mrr", "MRR", "revenue", "currency", "pct", date(2024, 3, 1), 3.0, 2.0, 0.5, None, None,
    ...               False, pts)
    >>> trend_text(r)
    '▁▅┊█'
    """
    done = [p for p in row.history if p.complete and p.period <= row.period][-SPARK:]
    values = [p.value for p in done]
    if not row.complete:
        values.append(row.value)
    line = sparkline(values, ascii_only)
    if not row.complete:
        line = line[:-1] + (":" if ascii_only else INCOMPLETE_MARK) + line[-1]
    return line


def note_text(row: ReportRow) -> str:
    """A null's reason, else the benchmark badge, else nothing."""
    if row.value is None:
        return row.reason
    return row.benchmark.badge if row.benchmark is not None else ""


def grids(report: Report, ascii_only: bool = False) -> list[Grid]:
    """One :class:`~kpi_cli.render.Grid` per section that has rows."""
    out = []
    label = period_label(report.period, report.grain)
    for key, heading in SECTIONS:
        rows = [r for r in report.rows if r.section == key]
        if not rows:
            continue
        faint = [r.n is not None and r.n < FEW_RESPONSES for r in rows]
        columns = [
            Column(heading, [r.label for r in rows], wrap=True, right=False),
            Column(label, [value_text(r, report.currency) for r in rows], faint=faint),
            Column("Δ prev", [fmt_change(r.change, r.change_unit) for r in rows]),
            Column("Δ year", [fmt_change(r.yoy_change, r.change_unit) for r in rows]),
            Column("trend", [trend_text(r, ascii_only) for r in rows], right=False),
        ]
        notes = [note_text(r) for r in rows]
        if any(notes):
            columns.append(Column("note", notes, wrap=True, right=False))
        out.append(Grid(columns, 1))
    if out:
        incomplete = any(not r.complete for r in report.rows)
        out[-1].caption = ("Changes: pp for rates, pts for scores, % otherwise (never the % change of a rate). "
                           f"Trend: the last {SPARK} complete periods, min to max"
                           + (f"; * and {INCOMPLETE_MARK}: the period is not complete yet." if incomplete else ".")
                           + (f" Grey: fewer than {FEW_RESPONSES} responses." if any(r.n is not None for r in
                                                                                       report.rows) else ""))
    return out
