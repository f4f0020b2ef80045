"""``kpi report --html``: the whole report as one self-contained page (SPEC §3.5).

One card per metric, grouped by section, each with its value, its changes and a trend chart drawn
as inline SVG (:mod:`kpi_cli.summary.svg`); with a :class:`~kpi_cli.influence.model.TreeResult`, a section
on what moved with the KPI. No JavaScript, no link or source that leaves the file, no timestamp:
the same report gives the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from html import escape

from kpi_cli.influence.model import Decomposition, Scatter, TreeResult
from kpi_cli.render import SYMBOLS, fmt_value, period_label
from kpi_cli.summary.fmt import MINUS, fmt_change, fmt_level, fmt_rho
from kpi_cli.summary.model import SECTIONS, Benchmark, Report, ReportRow
from kpi_cli.summary.style import CSS
from kpi_cli.summary.svg import ChartPoint, attrs, line_chart, scatter_chart

HISTORY = 24  # periods a trend chart shows at most
PREVIOUS = {"day": "previous day", "week": "previous week", "month": "previous month",
            "quarter": "previous quarter", "year": "previous year"}
# The unit a KPI's values are shown in when the report has no row for it, from its change unit.
UNIT_OF_CHANGE = {"pp": "ratio", "points": "score"}


def page(report: Report, tree: TreeResult | None = None) -> str:
    """The whole HTML document for ``report`` (and ``tree``, when given) as text.

    Examples
    --------
    >>> from kpi_cli.summary.model import Point
    >>> feb, mar = date(2024, 2, 1), date(2024, 3, 1)
    >>> row = ReportRow("mrr", "MRR", "revenue", "currency", "pct", mar, 1200.0, 1000.0, 0.2,
    ...                 None, None, True, (Point(feb, 1000.0, True), Point(mar, 1200.0, True)))
    >>> html = page(Report(date(2024, 3, 1), "month", "USD", (row,)))
    >>> html.startswith("<!DOCTYPE html>"), html.count('<svg class="trend"'), "+20.0%" in html
    (True, 1, True)
    """
    units = {row.metric: row.unit for row in report.rows}
    labels = {row.metric: row.label for row in report.rows}
    body = [_header(report)]
    if report.notes:
        body.append('<ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in report.notes) + "</ul>")
    known = {key for key, _ in SECTIONS}
    groups = [*SECTIONS, ("", "Other")]
    for key, heading in groups:
        rows = [r for r in report.rows if (r.section == key if key else r.section not in known)]
        if rows:
            cards = "\n".join(_card(r, report) for r in rows)
            body.append(f'<section class="group" data-section="{escape(key or "other")}">'
                        f'<h2>{escape(heading)}</h2>\n<div class="cards">\n{cards}\n</div></section>')
    if tree is not None:
        body.append(_tree(tree, report.grain, units, labels))
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(report.title)} · {escape(_period(report.period, report.grain))}</title>"
            f"<style>\n{CSS}</style></head>\n<body><main>\n" + "\n".join(body) + "\n</main></body></html>\n")


def _period(day: date, grain: str) -> str:
    """The report's period as its header names it: ``week of 2024-03-04`` for a week.

    Examples
    --------
    >>> _period(date(2024, 3, 4), "week"), _period(date(2024, 1, 1), "quarter")
    ('week of 2024-03-04', '2024-Q1')
    """
    label = period_label(day, grain)
    return f"week of {label}" if grain == "week" else label


def exact(v: float, unit: str, currency: str) -> str:
    """A value with the precision a tooltip owes the reader: percent to 4 places, money to the cent.

    Examples
    --------
    >>> exact(0.215349, "ratio", "USD"), exact(70314.354, "currency", "USD"), exact(43.125, "count", "USD")
    ('21.5349%', '$70,314.35', '43.125')
    >>> exact(-12.5, "currency", "CHF"), exact(6.0, "count", "USD")
    ('-12.50 CHF', '6')
    """
    if unit == "currency":
        sym = SYMBOLS.get(currency, "")
        text = f"{abs(v):,.2f}"
        sign = "-" if v < 0 and text.strip("0.,") else ""
        return f"{sign}{sym}{text}" if sym else f"{sign}{text} {currency}"
    shown = v * 100 if unit == "ratio" else v
    text = f"{shown:,.4f}".rstrip("0").rstrip(".")
    text = "0" if text == "-0" else text
    return f"{text}%" if unit == "ratio" else text


def _header(report: Report) -> str:
    """Title, period and currency."""
    kind = "Week of" if report.grain == "week" else "Period"
    label = period_label(report.period, report.grain)
    return (f"<header><h1>{escape(report.title)}</h1><div class=\"meta\">{kind} <b>{escape(label)}</b> · "
            f"{escape(report.grain)} · currency <b>{escape(report.currency)}</b></div></header>")


def _arrow(text: str) -> str:
    """▲ or ▼ by the sign fmt_change printed; no colour: whether up is good depends on the metric."""
    if text.startswith("+"):
        return "▲ "
    if text.startswith(MINUS):
        return "▼ "
    return ""


def _delta(change: float | None, change_unit: str, base: float | None, against: str, row: ReportRow,
           currency: str) -> str:
    """One change with what it is measured against; the base value is the tooltip."""
    text = fmt_change(change, change_unit)
    tip = f"{against}: {fmt_value(base, row.unit, currency)}"
    return (f'<span class="delta" title="{escape(tip)}"><b>{escape(_arrow(text) + text)}</b> '
            f"vs {escape(against)}</span>")


def _card(row: ReportRow, report: Report) -> str:
    """One metric's card: label, value, changes, reason or benchmark, trend."""
    currency = report.currency
    tag = "" if row.complete else '<span class="tag">incomplete period</span>'
    value = escape(fmt_value(row.value, row.unit, currency))
    if row.value is not None and (row.n is not None or row.moe is not None):
        moe = "" if row.moe is None else f"±{row.moe:.1f} "
        n = "" if row.n is None else f"(n={row.n:,.0f})"
        value += f'<span class="moe">{escape((moe + n).strip())}</span>'
    against = PREVIOUS.get(report.grain, "previous period")
    deltas = [_delta(row.change, row.change_unit, row.previous, against, row, currency)]
    if report.grain != "year":  # a year's previous period is the year earlier: one change says it
        deltas.append(_delta(row.yoy_change, row.change_unit, row.year_ago, "a year earlier", row, currency))
    parts = [f'<article class="card"{attrs({"data-metric": row.metric})}>',
             f"<h3>{escape(row.label)}{tag}</h3>", f'<p class="value">{value}</p>',
             f'<p class="deltas">{"".join(deltas)}</p>']
    if row.value is None and row.reason:
        parts.append(f'<p class="reason">{escape(row.reason)}</p>')
    if row.benchmark is not None:
        parts.append(_badge(row.benchmark))
    elif row.benchmark_note:
        parts.append(f'<p class="note">{escape(row.benchmark_note)}</p>')
    parts.append(_trend(row, report))
    parts.append("</article>")
    return "".join(parts)


def _badge(b: Benchmark) -> str:
    """The benchmark's one-line badge; where it comes from is its tooltip (a source URL stays text)."""
    tip = " · ".join(t for t in (b.population, b.year, f"{b.confidence}", b.note, f"source: {b.source}") if t)
    return f'<p class="badge" title="{escape(tip)}">{escape(b.badge)}</p>'


def _trend(row: ReportRow, report: Report) -> str:
    """The trend chart of ``row.history``, with the benchmark band when it is on the metric's own scale."""
    history = row.history[-HISTORY:]
    currency, grain = report.currency, report.grain
    points = []
    for p in history:
        tip = "" if p.value is None else f"{period_label(p.period, grain)}: {exact(p.value, row.unit, currency)}"
        points.append(ChartPoint(p.value, p.complete, tip + ("" if p.complete else " (incomplete)")))
    band: tuple[float | None, float | None] | None = None
    reference, band_tip = None, ""
    b = row.benchmark
    # A compounded comparison (monthly churn against an annual band) is not on this chart's scale:
    # its badge says it, the band would mislead.
    if b is not None and b.compared is not None and row.value is not None and b.compared == row.value:
        low, high = b.low, b.high
        if low is not None and high is not None and low > high:
            low, high = high, low
        shown = {(True, True): f"{fmt_value(low, row.unit, currency)}–{fmt_value(high, row.unit, currency)}",
                 (True, False): f"≥ {fmt_value(low, row.unit, currency)}",
                 (False, True): f"≤ {fmt_value(high, row.unit, currency)}",
                 (False, False): fmt_value(b.value, row.unit, currency)}[(low is not None, high is not None)]
        band_tip = " · ".join(t for t in (f"benchmark {shown}", f"{b.population} {b.year}".strip(), b.source) if t)
        if low is not None or high is not None:
            band = (low, high)
        elif b.value is not None:
            reference = b.value
    first = period_label(history[0].period, grain) if history else ""
    last = period_label(history[-1].period, grain) if history else ""
    return line_chart(points, lambda v: fmt_value(v, row.unit, currency), first, last,
                      {"class": "trend", "data-metric": row.metric}, band, reference, band_tip)


def _tree(tree: TreeResult, grain: str, units: dict[str, str], labels: dict[str, str]) -> str:
    """The section "What moved with <kpi>": decomposition, verdicts, scatters, footer."""
    kpi = labels.get(tree.kpi, tree.kpi)
    parts = [f'<section class="tree"{attrs({"data-kpi": tree.kpi})}><h2>What moved with {escape(kpi)}</h2>']
    if tree.warnings:
        parts.append('<ul class="notes">' + "".join(f"<li>{escape(w)}</li>" for w in tree.warnings) + "</ul>")
    if tree.decomposition is not None:
        parts.append(_decomposition(tree.decomposition, grain, units, kpi))
    if tree.verdicts:
        rows = "".join(f"<tr><td>{escape(labels.get(name, name))}</td><td>{escape(verdict or '—')}</td>"
                       f"<td>{escape(detail)}</td></tr>" for name, (verdict, detail) in tree.verdicts.items())
        parts.append(f'<div class="panel"><h3>Influencers ({tree.level} level, {tree.periods} complete periods)'
                     f"</h3><table><thead><tr><th>influencer</th><th>verdict</th><th>detail</th></tr></thead>"
                     f"<tbody>{rows}</tbody></table></div>")
    if tree.scatters:
        pairs = {(r.influencer, r.lag): r.n for r in tree.stats}
        figures = "".join(_scatter(s, grain, kpi, labels, pairs.get((s.influencer, s.lag))) for s in tree.scatters)
        parts.append(f'<div class="panel"><h3>Change against change, influencer leading</h3>'
                     f'<div class="scatters">{figures}</div></div>')
    parts.append(f'<p class="footer">{escape(tree.footer)}</p></section>')
    return "".join(parts)


def _decomposition(d: Decomposition, grain: str, units: dict[str, str], kpi: str) -> str:
    """The exact decomposition of the KPI's change as a table, each term with a bar to its size."""
    unit = units.get(d.kpi, UNIT_OF_CHANGE.get(d.change_unit, "count"))
    biggest = max((abs(t.contribution) for t in d.terms), default=0.0)
    rows = []
    for t in d.terms:
        width = 0.0 if biggest == 0 else abs(t.contribution) / biggest * 100
        part = fmt_change(t.contribution, d.change_unit, 2)
        rows.append(f'<tr><td>{escape(t.label)}</td><td class="num">{escape(part)}</td>'
                    f'<td style="width:40%"><span class="bar" style="width:{width:.1f}%"></span></td></tr>')
    total = fmt_change(sum(t.contribution for t in d.terms), d.change_unit, 2)
    rows.append(f'<tr><th>total</th><td class="num"><b>{escape(total)}</b></td><td></td></tr>')
    span = (f"{fmt_level(d.previous, unit)} → {fmt_level(d.value, unit)} in "
            f"{period_label(d.period, grain)}")
    return (f'<div class="panel"><h3>Why {escape(kpi)} changed: {escape(span)}</h3>'
            f'<p class="note">{escape(d.formula)}</p><table><thead><tr><th>part</th><th>contribution</th><th></th>'
            f"</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")


def _lead(lag: int, grain: str) -> str:
    """How far the influencer leads, in the report's periods.

    Examples
    --------
    >>> _lead(0, "month"), _lead(1, "month"), _lead(2, "quarter")
    ('same period', 'leading by 1 month', 'leading by 2 quarters')
    """
    if lag == 0:
        return "same period"
    return f"leading by {lag} {grain}{'' if lag == 1 else 's'}"


def _scatter(s: Scatter, grain: str, kpi: str, labels: dict[str, str], n: int | None) -> str:
    """One influencer's Δx vs Δy at its best lag, the interval in the caption (n: the statistic's pairs)."""
    name = labels.get(s.influencer, s.influencer)
    pts: Sequence[tuple[float, float, str]] = [
        (x, y, f"{period_label(d, grain)}: Δ{name} {fmt_change(x, s.x_unit)}, Δ{kpi} {fmt_change(y, s.y_unit)}")
        for d, x, y in s.points if math.isfinite(x) and math.isfinite(y)]
    svg = scatter_chart(pts, lambda v: fmt_change(v, s.x_unit), lambda v: fmt_change(v, s.y_unit),
                        f"Δ {name} (lag {s.lag})", f"Δ {kpi}", {"class": "scatter", "data-influencer": s.influencer})
    rho = "ρ not computed" if s.rho is None else f"ρ = {fmt_rho(s.rho)}"
    ci = "" if s.ci is None else f", 95% CI {fmt_rho(s.ci[0])} to {fmt_rho(s.ci[1])}"
    caption = (f"<b>{escape(name)}</b> {escape(_lead(s.lag, grain))}: {escape(rho + ci)}, "
               f"n = {len(pts) if n is None else n}")
    return f"<figure>{svg}<figcaption>{caption}</figcaption></figure>"
