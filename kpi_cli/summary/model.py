"""What a report holds, independent of how it is shown (terminal, rows, HTML).

Nothing here imports a dataframe library: the renderers take these plain values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

# Report sections in order, with their headings (SPEC §3.5).
SECTIONS = (("revenue", "Revenue"), ("acquisition", "Acquisition"), ("engagement", "Engagement"),
            ("satisfaction", "Satisfaction & support"))


@dataclass(frozen=True)
class Point:
    """One period of a metric's history."""

    period: date
    value: float | None
    complete: bool


@dataclass(frozen=True)
class Benchmark:
    """A benchmark that applies to a metric, with the metric's value on the benchmark's basis."""

    metric: str
    basis: str  # monthly | annual | point
    low: float | None
    high: float | None
    value: float | None  # a point benchmark (e.g. NPS 41); low/high may then be None
    population: str
    year: str
    source: str
    confidence: str  # seed | published
    compared: float | None  # the metric's value converted to the basis (monthly churn compounded to annual)
    position: str | None  # below | within | above (None when compared is None)
    badge: str  # one line, e.g. "within 10–20% · seed heuristic"
    note: str = ""  # how the comparison was made, e.g. "monthly 2.0% compounded: 21.5%/yr"


@dataclass(frozen=True)
class ReportRow:
    """One metric of the report."""

    metric: str
    label: str
    section: str  # a key of SECTIONS
    unit: str  # the metric's unit under the run's options (Metric.unit_for)
    change_unit: str  # pp | points | pct (kpi_cli.changes)
    period: date
    value: float | None
    previous: float | None
    change: float | None
    year_ago: float | None
    yoy_change: float | None
    complete: bool
    history: tuple[Point, ...]  # oldest first, ending at ``period``; up to 24 periods
    reason: str = ""  # why value is null ("" when it is not)
    n: float | None = None  # survey metrics: responses
    moe: float | None = None  # survey metrics: margin of error, in points
    benchmark: Benchmark | None = None
    benchmark_note: str = ""  # why no badge, when a benchmark exists for the metric but does not match


@dataclass(frozen=True)
class Report:
    """A whole report: its period and its rows in section order."""

    period: date
    grain: str  # day | week | month | quarter | year
    currency: str
    rows: tuple[ReportRow, ...]
    title: str = "KPI report"
    notes: tuple[str, ...] = field(default_factory=tuple)  # e.g. sources that were absent
    # The run's series, metric → period → (value, complete, numerator, denominator): the HTML tree section
    # reads them rather than computing again.
    series: dict[str, dict[date, tuple[float | None, bool, float | None, float | None]]] = field(
        default_factory=dict, repr=False, compare=False)
