"""What ``kpi tree`` finds, independent of how it is shown (table, long rows, HTML section)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

# SPEC §3.5's long output columns, in order.
STAT_COLUMNS = ("kpi", "influencer", "level", "lag", "n", "method", "value", "ci_low", "ci_high", "r_needed",
                "verdict", "detail", "reason")
CHANGE_COLUMNS = ("metric", "period", "value", "change", "change_unit", "complete")
VERDICTS = ("moved together", "moved opposite", "possible, not reliable", "no detectable relationship",
            "mechanical")
FOOTER = ("An association in aggregate changes, not a cause: only an experiment (changing the influencer "
          "for some accounts and not others) tests cause.")
ACCOUNT_FOOTER = ("An association across accounts, not a cause: accounts that differ in the influencer differ in "
                  "other ways too; only an experiment tests cause.")


@dataclass(frozen=True)
class StatRow:
    """One row of the long output: one influencer at one lag (period level) or one test (account level)."""

    kpi: str
    influencer: str
    level: str  # period | account
    lag: int | None
    n: int
    method: str  # spearman | pearson | auc
    value: float | None
    ci_low: float | None
    ci_high: float | None
    r_needed: float | None
    verdict: str | None
    detail: str
    reason: str


@dataclass(frozen=True)
class Change:
    """One row of the change table."""

    metric: str
    period: date
    value: float | None
    change: float | None
    change_unit: str
    complete: bool


@dataclass(frozen=True)
class Scatter:
    """Δx vs Δy of one influencer at its best lag, for the HTML page."""

    influencer: str
    lag: int
    points: tuple[tuple[date, float, float], ...]  # (period of Δy, Δx_{t−lag}, Δy_t)
    rho: float | None
    ci: tuple[float, float] | None
    x_unit: str  # change unit of the influencer
    y_unit: str  # change unit of the KPI


@dataclass(frozen=True)
class Term:
    """One term of a formula KPI's exact change decomposition."""

    metric: str  # the part's id (or a name such as "churned_mrr")
    label: str
    contribution: float  # in the KPI's change unit; the terms sum to the KPI's change


@dataclass(frozen=True)
class Decomposition:
    """The exact decomposition of a formula KPI's change from one period to the next."""

    kpi: str
    period: date
    previous: float | None
    value: float | None
    change_unit: str
    terms: tuple[Term, ...]
    formula: str  # e.g. "customer_churn_rate = churned_customers / customers at start"


@dataclass(frozen=True)
class TreeResult:
    """Everything ``kpi tree`` found for one KPI."""

    kpi: str
    level: str
    periods: int  # complete periods in the window
    stats: tuple[StatRow, ...]
    changes: tuple[Change, ...]
    verdicts: dict[str, tuple[str | None, str]]  # influencer → (verdict, detail)
    decomposition: Decomposition | None = None
    scatters: tuple[Scatter, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)
    footer: str = FOOTER
