"""The exact part of a tree: a formula KPI's latest change split into its terms, which sum to it.

- A ratio a/b: Δ(a/b) = (a₁ − a₀)/b₁ + a₀·(1/b₁ − 1/b₀) — the numerator's effect at the new base
  plus the base's effect; both scaled when the value is k·a/b (NPS is 100·(P − D)/n).
- NRR and GRR: 1 + (expansion − contraction − churned)/MRR at the start; each movement's share of
  the starting MRR changes on its own, and what the movements leave (fx, rounding) is "other".
- MRR: its relative change is the period's movements over the previous MRR.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from kpi_cli.changes import change_unit
from kpi_cli.influence.model import Decomposition, Term
from kpi_cli.registry import METRICS

if TYPE_CHECKING:
    from kpi_cli.api import Run

RETENTION_PARTS = {"nrr": (("expansion_mrr", 1.0), ("contraction_mrr", -1.0), ("churned_mrr", -1.0)),
                   "grr": (("contraction_mrr", -1.0), ("churned_mrr", -1.0))}
MRR_PARTS = (("new_mrr", 1.0), ("expansion_mrr", 1.0), ("reactivation_mrr", 1.0), ("contraction_mrr", -1.0),
             ("churned_mrr", -1.0), ("fx_mrr", 1.0))
# Base-table columns as a reader names them.
NAMES = {"churned_n": "churned customers", "churn_denominator": "customers at the start",
         "start_customers": "customers at the start", "start_mrr": "MRR at the start", "active": "active users",
         "customers_delta": "customer change", "retained_customers": "retained customers", "mrr": "MRR",
         "customers": "customers", "dau": "average DAU", "sessions": "sessions", "visitors": "visitors",
         "converted": "converted visitors", "bounces": "bounced sessions"}


def parts_of(kpi: str) -> tuple[str, ...]:
    """The extra metrics the decomposition of ``kpi`` reads (the same compute run gets them)."""
    if kpi in RETENTION_PARTS:
        return (*tuple(p for p, _ in RETENTION_PARTS[kpi]), "mrr")
    if kpi == "mrr":
        return tuple(p for p, _ in MRR_PARTS)
    return ()


Values = dict[str, dict[date, tuple[float | None, bool, float | None, float | None]]]


def decomposition(run: Run, kpi: str, window: list[date], values: Values) -> Decomposition | None:
    """The latest complete change of ``kpi`` split exactly into its terms; None for a KPI that is not a
    formula, or when the two periods lack a part."""
    m = METRICS[kpi]
    done = [p for p in window if values[kpi].get(p, (None, False))[1]]
    if not done:
        return None
    p1 = done[-1]
    p0 = window[window.index(p1) - 1] if window.index(p1) else None
    if p0 is None:
        from kpi_cli.options import calendar_of

        p0 = calendar_of(run.settings.values).step(p1, -1)
    now, before = values[kpi].get(p1), values[kpi].get(p0)
    if now is None or before is None or now[0] is None or before[0] is None:
        return None
    cu = change_unit(m.unit_for(run.options))
    if kpi in RETENTION_PARTS:
        terms = _movement_terms(RETENTION_PARTS[kpi], values, p0, p1, now[3], before[3], relative=False)
        signed = " ".join(("+ " if s > 0 else "− ") + p for p, s in RETENTION_PARTS[kpi]).removeprefix("+ ")
        formula = f"{kpi} = 1 + ({signed}) / MRR at the start"
        if terms is None or now[3] is None or before[3] is None:
            return None
        return _closed(kpi, p1, before[0], now[0], cu, terms, formula)
    if kpi == "mrr":
        terms = _movement_terms(MRR_PARTS, values, p1, p1, before[0], before[0], relative=True)
        if terms is None:
            return None
        return _closed(kpi, p1, before[0], now[0], cu, terms, "mrr change = new + expansion + reactivation − "
                       "contraction − churned + fx")
    a1, b1, a0, b0 = now[2], now[3], before[2], before[3]
    if None in (a1, b1, a0, b0) or not b1 or not b0:
        return None
    assert a1 is not None
    assert b1 is not None
    assert a0 is not None
    assert b0 is not None
    k = now[0] / (a1 / b1) if a1 else (before[0] / (a0 / b0) if a0 else 1.0)
    num, den = _names(kpi)
    terms = [Term(num, num, k * (a1 - a0) / b1), Term(den, den, k * a0 * (1 / b1 - 1 / b0))]
    if cu == "pct":  # a per-user count or a currency ratio: terms as shares of the previous value
        terms = [Term(t.metric, t.label, t.contribution / before[0]) for t in terms] if before[0] else []
        if not terms:
            return None
    scale = f"{k:g} × " if abs(k - 1) > 1e-9 else ""
    top = f"({num})" if " " in num else num
    return Decomposition(kpi, p1, before[0], now[0], cu, tuple(terms), f"{kpi} = {scale}{top} / {den}")


def _names(kpi: str) -> tuple[str, str]:
    m = METRICS[kpi]
    if m.ratio is not None:
        return NAMES.get(m.ratio[0], m.ratio[0]), NAMES.get(m.ratio[1], m.ratio[1])
    if len(m.of) == 2:  # a metric built from two parts (cac = spend / new customers), formula or evaluator
        return tuple(METRICS[p.partition("@")[0]].label for p in m.of)  # type: ignore[return-value]
    if kpi == "nps":
        return "promoters − detractors", "responses"
    return "numerator", "denominator"


def _movement_terms(parts: tuple[tuple[str, float], ...], values: Values, p0: date, p1: date,
                    base1: float | None, base0: float | None, relative: bool) -> list[Term] | None:
    """Each movement's term: its share of the starting MRR now minus then (or, ``relative``, the
    period's movement over the previous MRR)."""
    if not base1 or not base0:
        return None
    terms = []
    for mid, sign in parts:
        v1 = values.get(mid, {}).get(p1, (None,))[0]
        v0 = values.get(mid, {}).get(p0, (None,))[0]
        if v1 is None or (v0 is None and not relative):
            return None
        assert v1 is not None
        contribution = sign * v1 / base1 if relative else sign * (v1 / base1 - (v0 or 0.0) / base0)
        terms.append(Term(mid, METRICS[mid].label, contribution))
    return terms


def _closed(kpi: str, p1: date, before: float, now: float, cu: str, terms: list[Term], formula: str) -> Decomposition:
    """The decomposition with an "other" term for what the named terms leave, so the terms sum exactly."""
    total = (now - before) if cu != "pct" else (now / before - 1 if before else 0.0)
    rest = total - sum(t.contribution for t in terms)
    if abs(rest) > 1e-12 * max(1.0, abs(total)):
        terms = [*terms, Term("other", "other (fx, rounding, customers outside the movements)", rest)]
    return Decomposition(kpi, p1, before, now, cu, tuple(terms), formula)
