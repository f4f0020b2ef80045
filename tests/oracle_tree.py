"""An independent implementation of SPEC §3.5's period-level ``kpi tree`` and ``kpi report`` rows.

Written from the SPEC text alone (no ``kpi_cli`` code read): it starts from metric series as
``kpi compute … -f csv`` prints them and units as ``kpi list -f csv`` prints them, and works out
the change table, the lagged Spearman (or Pearson) correlations with their Fisher-z intervals,
``r_needed`` and the verdict of each influencer, and the report's previous / year-ago changes.
Plain Python with ``math`` only, except Student's t quantile (``scipy.stats.t.ppf``).

>>> change(0.05, 0.07, "ratio")
(0.020000000000000004, 'pp')
>>> change(0.0, 3.0, "count")
(None, 'pct')
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass

Z95 = 1.959964
LAGS = (0, 1, 2, 3)
MIN_PAIRS = 10
MOVED_TOGETHER = "moved together"
MOVED_OPPOSITE = "moved opposite"
POSSIBLE = "possible, not reliable"
NOTHING = "no detectable relationship"
MECHANICAL = "mechanical"

# The metrics' base columns, from SPEC §3.1/§3.3 definitions (numerator, denominator): two metrics
# sharing one are "mechanical" partners. Only the metrics the tests use are listed.
BASES: dict[str, tuple[str, str]] = {
    "customer_churn_rate": ("churned_customers", "customers_start"),
    "customer_growth_rate": ("customers_change", "customers_start"),
    "customer_retention_rate": ("retained_customers", "customers_start"),
    "upgrade_rate": ("expanding_customers", "customers_start"),
    "downgrade_rate": ("contracting_customers", "customers_start"),
    "logins_per_user": ("login_events", "active_actors"),
    "key_actions_per_user": ("key_action_events", "active_actors"),
    "invites_per_user": ("invite_events", "active_actors"),
    "session_minutes_per_user": ("session_minutes", "active_actors"),
    "sessions_per_user": ("sessions", "active_actors"),
    "dau_mau": ("average_dau", "mau"),
    "nps": ("promoters_minus_detractors", "nps_responses"),
    "ces": ("ces_score_sum", "ces_responses"),
    "tickets_per_user": ("tickets", "active_actors"),
    "first_response_time": ("first_response_hours", "answered_tickets"),
}

Series = dict[str, tuple[float | None, bool]]  # period (YYYY-MM-DD) -> (value, complete)


def parse_compute_csv(text: str) -> dict[str, Series]:
    """``kpi compute -f csv`` output (no ``--by``) as {metric: {period: (value, complete)}}."""
    out: dict[str, Series] = {}
    for row in csv.DictReader(io.StringIO(text)):
        value = float(row["value"]) if row["value"] != "" else None
        out.setdefault(row["metric"], {})[row["period"]] = (value, row["complete"] == "true")
    return out


def parse_units(list_csv: str) -> dict[str, str]:
    """``kpi list -f csv`` output as {metric id: unit}."""
    return {row["id"]: row["unit"] for row in csv.DictReader(io.StringIO(list_csv))}


def add_months(period: str, k: int) -> str:
    """The first day of the month ``k`` months after ``period`` (``YYYY-MM-DD``).

    >>> add_months("2024-01-01", -1), add_months("2023-12-01", 13)
    ('2023-12-01', '2025-01-01')
    """
    y, m = int(period[:4]), int(period[5:7])
    idx = y * 12 + (m - 1) + k
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}-01"


def change_unit(unit: str) -> str:
    """``pp`` for ratios, ``points`` for scores, ``pct`` for every other unit (SPEC §3.5)."""
    return {"ratio": "pp", "score": "points"}.get(unit, "pct")


def change(prev: float | None, cur: float | None, unit: str) -> tuple[float | None, str]:
    """The change from ``prev`` to ``cur`` by unit: absolute for ratio/score, else relative.

    A null on either side is null; a relative change from a zero base is null.
    """
    cu = change_unit(unit)
    if prev is None or cur is None:
        return None, cu
    if cu == "pct":
        return (None if prev == 0 else cur / prev - 1), cu
    return cur - prev, cu


def window(series: dict[str, Series], kpi: str, last: int, metrics: list[str] | None = None) -> list[str]:
    """The last ``last`` periods (oldest first) ending at the last one complete for the KPI and every one
    of ``metrics``: "the last 24 complete periods" of the series read together (SPEC §3.5).

    An influencer's own incomplete period before that end (a gap) stays in the change table but is never
    paired (see ``stat_changes``).
    """
    names = [kpi, *(metrics or [])]
    periods = sorted(series[kpi])
    done = [p for p in periods if all(series.get(m, {}).get(p, (None, True))[1] for m in names)]
    if not done:
        return []
    return [p for p in periods if p <= done[-1]][-last:]


@dataclass
class ChangeRow:
    """One row of ``kpi tree --changes``."""

    metric: str
    period: str
    value: float | None
    change: float | None
    change_unit: str
    complete: bool


def change_table(series: dict[str, Series], units: dict[str, str], metrics: list[str],
                 periods: list[str]) -> list[ChangeRow]:
    """Per metric and window period: value and change from the month before (read from the data)."""
    rows = []
    for m in metrics:
        for p in periods:
            prev = series[m].get(add_months(p, -1), (None, True))[0]
            value, complete = series[m][p]
            c, cu = change(prev, value, units[m])
            rows.append(ChangeRow(m, p, value, c, cu, complete))
    return rows


def ranks(xs: list[float]) -> list[float]:
    """1-based ranks, ties sharing their average rank.

    >>> ranks([10.0, 20.0, 10.0, 5.0])
    [2.5, 4.0, 2.5, 1.0]
    """
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    out = [0.0] * len(xs)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and xs[order[j + 1]] == xs[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def pearson(xs: list[float], ys: list[float]) -> float | None:
    """Pearson's r; null when either side is constant."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    syy = sum((y - my) ** 2 for y in ys)
    if sxx == 0 or syy == 0:
        return None
    return sxy / math.sqrt(sxx * syy)


def spearman(xs: list[float], ys: list[float]) -> float | None:
    """Spearman's ρ: Pearson's r of the average ranks."""
    return pearson(ranks(xs), ranks(ys))


def fisher_ci(r: float, n: int, method: str = "spearman") -> tuple[float, float]:
    """95% interval from Fisher's z: variance (1 + r²/2)/(n − 3) for Spearman, 1/(n − 3) for Pearson."""
    if abs(r) >= 1:  # z is infinite: the interval collapses onto ±1
        return r, r
    var = (1 + r * r / 2) / (n - 3) if method == "spearman" else 1 / (n - 3)
    z = math.atanh(r)
    half = Z95 * math.sqrt(var)
    return math.tanh(z - half), math.tanh(z + half)


def r_needed(n: int, influencers: int) -> float | None:
    """Two-sided critical |r| from Student's t, n − 2 df, α = 0.05 / (influencers × 4)."""
    from scipy.stats import t  # the one library function the oracle uses

    df = n - 2
    if df < 1:
        return None
    alpha = 0.05 / (influencers * len(LAGS))
    tc = float(t.ppf(1 - alpha / 2, df))
    return tc / math.sqrt(df + tc * tc)


def lag_pairs(dx: list[float | None], dy: list[float | None], k: int) -> tuple[list[float], list[float]]:
    """Pairs (Δx_{t−k}, Δy_t) over the window where both are known (index t from k on)."""
    xs, ys = [], []
    for t in range(k, len(dy)):
        a, b = dx[t - k], dy[t]
        if a is not None and b is not None:
            xs.append(a)
            ys.append(b)
    return xs, ys


@dataclass
class TreeRow:
    """One row of ``kpi tree --level period`` (``detail`` and ``reason`` are not modelled)."""

    kpi: str
    influencer: str
    lag: int
    n: int
    method: str
    value: float | None
    ci_low: float | None
    ci_high: float | None
    r_needed: float | None
    verdict: str | None = None


def mechanical(kpi: str, influencer: str) -> bool:
    """Do the two metrics share a base column (numerator or denominator)?"""
    a, b = BASES.get(kpi), BASES.get(influencer)
    return bool(a and b and set(a) & set(b))


def verdict(rows: list[TreeRow]) -> tuple[str, TreeRow | None]:
    """The influencer's verdict from its lag rows, and the row that decided it (if any)."""
    known = [r for r in rows if r.value is not None]
    above = [r for r in known if r.r_needed is not None and abs(r.value or 0.0) > r.r_needed]
    if above:
        best = max(above, key=lambda r: abs(r.value or 0.0))
        return (MOVED_TOGETHER if (best.value or 0.0) > 0 else MOVED_OPPOSITE), best
    excl = [r for r in known if r.ci_low is not None and r.ci_high is not None
            and (r.ci_low > 0 or r.ci_high < 0)]
    if excl:
        return POSSIBLE, max(excl, key=lambda r: abs(r.value or 0.0))
    return NOTHING, None


def tree_rows(kpi: str, influencers: list[str], changes: list[ChangeRow],
              method: str = "spearman") -> list[TreeRow]:
    """Every (influencer, lag) row, with the influencer's verdict on each row that has a ρ."""
    by_metric: dict[str, list[float | None]] = {}
    for c in changes:  # an incomplete period's change never enters the statistics
        by_metric.setdefault(c.metric, []).append(c.change if c.complete else None)
    dy = by_metric[kpi]
    out: list[TreeRow] = []
    for infl in influencers:
        rows = []
        for k in LAGS:
            xs, ys = lag_pairs(by_metric[infl], dy, k)
            n = len(xs)
            need = r_needed(n, len(influencers))
            rho = None
            if n >= MIN_PAIRS:
                rho = spearman(xs, ys) if method == "spearman" else pearson(xs, ys)
            lo = hi = None
            if rho is not None:
                lo, hi = fisher_ci(rho, n, method)
            rows.append(TreeRow(kpi, infl, k, n, method, rho, lo, hi, need))
        word, _ = verdict(rows)
        if mechanical(kpi, infl):
            word = MECHANICAL
        for r in rows:
            r.verdict = word if r.value is not None else None
        out.extend(rows)
    return out


@dataclass
class ReportRow:
    """The numeric part of one ``kpi report -f csv`` row."""

    metric: str
    period: str
    value: float | None
    previous: float | None
    change: float | None
    change_unit: str
    year_ago: float | None
    yoy_change: float | None
    complete: bool


def report_row(metric: str, unit: str, series: Series, month: str) -> ReportRow:
    """Value for ``month``, the month before and the same month a year earlier, with their changes."""
    value, complete = series.get(month, (None, True))
    previous = series.get(add_months(month, -1), (None, True))[0]
    year_ago = series.get(add_months(month, -12), (None, True))[0]
    c, cu = change(previous, value, unit)
    yoy, _ = change(year_ago, value, unit)
    return ReportRow(metric, month, value, previous, c, cu, year_ago, yoy, complete)
