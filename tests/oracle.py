"""Brute-force revenue oracle in plain Python (no dataframe library), written from SPEC §3.1 / §2.

It evaluates every customer's MRR at every month-end snapshot by looping over all rows, in exact
rational arithmetic (``fractions.Fraction``), and classifies each customer's movement between
consecutive snapshots. It is deliberately naive so that it can be trusted by reading it.

Scope: one currency, no discounts, no trial_end_at, ``churn_at="end"``, calendar months in UTC.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from fractions import Fraction

# statuses whose span contributes 0 (SPEC §3.1); active, past_due, canceled and blank count
NON_PAYING = {"trialing", "paused", "unpaid", "incomplete"}

# interval unit → monthly factor for one unit (SPEC §3.1: f = 1/count month, 1/(3·count) quarter, …)
UNIT_FACTOR = {
    "month": Fraction(1),
    "quarter": Fraction(1, 3),
    "year": Fraction(1, 12),
    "week": Fraction(52, 12),
    "day": Fraction(365, 12),
}


@dataclass(frozen=True)
class Row:
    """One subscription span: [start, end), end None = still running."""

    customer: str
    sub: str
    start: date
    end: date | None
    amount: Fraction
    interval: str = "month"
    count: int = 1
    qty: int = 1
    status: str | None = None

    def monthly_value(self) -> Fraction:
        if (self.status or "").lower() in NON_PAYING:
            return Fraction(0)
        value = self.amount * self.qty * UNIT_FACTOR[self.interval] / self.count
        return max(value, Fraction(0))

    def active_at_end_of(self, month_end_exclusive: date) -> bool:
        """Active at the last instant before ``month_end_exclusive`` (day resolution, end exclusive)."""
        return self.start < month_end_exclusive and (self.end is None or month_end_exclusive <= self.end)


def next_month(d: date) -> date:
    return date(d.year + (d.month == 12), d.month % 12 + 1, 1)


def prev_month(d: date) -> date:
    return date(d.year - (d.month == 1), (d.month - 2) % 12 + 1, 1)


def month_range(first: date, last: date) -> list[date]:
    """First days of the months first … last (inclusive)."""
    out, d = [], first.replace(day=1)
    while d <= last:
        out.append(d)
        d = next_month(d)
    return out


def customer_mrr(rows: Iterable[Row], month: date) -> dict[str, Fraction]:
    """MRR_c at the snapshot ending the month that starts on ``month`` (every customer, 0 included)."""
    cutoff = next_month(month)
    out: dict[str, Fraction] = {}
    for r in rows:
        out.setdefault(r.customer, Fraction(0))
        if r.active_at_end_of(cutoff):
            out[r.customer] += r.monthly_value()
    return out


@dataclass
class Period:
    """The oracle's answer for one month P = [s, e)."""

    period: date
    start: dict[str, Fraction]  # MRR_c(s)
    end: dict[str, Fraction]  # MRR_c(e)
    movement: dict[str, str]  # customer → new|expansion|contraction|churned|reactivation (movers only)

    def total(self, kind: str) -> Fraction:
        """Σ of the movement ``kind`` in the SPEC's sign convention (all amounts ≥ 0)."""
        out = Fraction(0)
        for c, m in self.movement.items():
            if m != kind:
                continue
            a, b = self.start[c], self.end[c]
            out += {"new": b, "reactivation": b, "expansion": b - a, "contraction": a - b, "churned": a}[m]
        return out

    def count(self, kind: str) -> int:
        return sum(1 for m in self.movement.values() if m == kind)

    @property
    def start_mrr(self) -> Fraction:
        return sum(self.start.values(), Fraction(0))

    @property
    def end_mrr(self) -> Fraction:
        return sum(self.end.values(), Fraction(0))

    @property
    def customers_start(self) -> int:
        return sum(1 for v in self.start.values() if v > 0)

    @property
    def customers_end(self) -> int:
        return sum(1 for v in self.end.values() if v > 0)


def evaluate(rows: Sequence[Row], first: date, last: date) -> list[Period]:
    """Snapshots and movements for every month first … last.

    "Ever paying before" looks at every month-end snapshot since the month before the earliest
    row, so it is independent of the requested range.
    """
    if not rows:
        msg = "no rows"
        raise ValueError(msg)
    origin = prev_month(min(first.replace(day=1), min(r.start for r in rows).replace(day=1)))
    history = month_range(origin, last)
    snapshots = {m: customer_mrr(rows, m) for m in history}
    customers = sorted({r.customer for r in rows})
    ever_paid: set[str] = set()
    out: list[Period] = []
    for prev, cur in itertools.pairwise(history):
        a_all, b_all = snapshots[prev], snapshots[cur]
        moves: dict[str, str] = {}
        for c in customers:
            a, b = a_all[c], b_all[c]
            if a > 0:
                ever_paid.add(c)  # paying at snapshot s, which is earlier than e
            if a == 0 and b > 0:
                moves[c] = "reactivation" if c in ever_paid else "new"
            elif a > 0 and b == 0:
                moves[c] = "churned"
            elif a > 0 and b > a:
                moves[c] = "expansion"
            elif a > 0 and 0 < b < a:
                moves[c] = "contraction"
        if cur >= first.replace(day=1):
            out.append(Period(cur, dict(a_all), dict(b_all), moves))
    return out


def ratio(num: Fraction | int, den: Fraction | int) -> float | None:
    """SPEC: a ratio with a zero denominator is null."""
    return None if den == 0 else float(Fraction(num) / Fraction(den))


def metrics(p: Period) -> dict[str, float | None]:
    """The SPEC §3.1 metrics of one period, from the oracle's snapshots."""
    new, exp, react = p.total("new"), p.total("expansion"), p.total("reactivation")
    contr, churned = p.total("contraction"), p.total("churned")
    s, e = p.start_mrr, p.end_mrr
    n_new, n_react, n_churn = p.count("new"), p.count("reactivation"), p.count("churned")
    return {
        "mrr": float(e),
        "arr": float(12 * e),
        "new_mrr": float(new),
        "expansion_mrr": float(exp),
        "reactivation_mrr": float(react),
        "contraction_mrr": float(contr),
        "churned_mrr": float(churned),
        "fx_mrr": 0.0,
        "net_new_mrr": float(new + react + exp - contr - churned),
        "customers": float(p.customers_end),
        "new_customers": float(n_new),
        "reactivated_customers": float(n_react),
        "churned_customers": float(n_churn),
        "arpa": ratio(e, p.customers_end),
        "asp": ratio(new, n_new),
        "customer_churn_rate": ratio(n_churn, p.customers_start),
        "customer_retention_rate": ratio(p.customers_end - n_new - n_react, p.customers_start),
        "gross_mrr_churn_rate": ratio(churned + contr, s),
        "net_mrr_churn_rate": ratio(churned + contr - exp - react, s),
        "nrr": ratio(s + exp - contr - churned, s),
        "grr": ratio(s - contr - churned, s),
        "quick_ratio": ratio(new + exp + react, contr + churned),
    }
