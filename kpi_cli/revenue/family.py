"""The revenue family on the metric graph: billing data → base table → metric rows (SPEC §3.1)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.graph import Family
from kpi_cli.options import calendar_of
from kpi_cli.periods import parse_as_of
from kpi_cli.revenue.base import RevenueBase, build, shown_group
from kpi_cli.revenue.billing import billing
from kpi_cli.revenue.metrics import LTV_WINDOW, PER_YEAR, evaluate
from kpi_cli.revenue.prep import RevenueRules

if TYPE_CHECKING:
    from kpi_cli.graph import Graph


def _own_lookback(graph: Graph) -> int:
    """Periods before the first requested that the asked revenue metrics read themselves."""
    ids = graph.ids_of("revenue")
    lookback = LTV_WINDOW if "ltv" in ids else 0
    if any(m in ids for m in ("nrr_ttm", "grr_ttm")):
        lookback = max(lookback, PER_YEAR[graph.calendar.grain])
    return lookback


def build_base(graph: Graph) -> RevenueBase:
    """The revenue base for the run's range and ``--by`` groups, reaching back as far as any metric reads."""
    run = graph.run
    v = run.settings.values
    cal = calendar_of(v)
    rules = RevenueRules(v["discounts"], v["churn_at"], v["currency"])
    lookback = max(_own_lookback(graph), graph.lookback("revenue"))
    base = build(run.dataset, cal, graph.range_request, parse_as_of(run.options.as_of, cal), rules, graph.by,
                 v["engine"], lookback)
    run.info.update(currency=base.currency, first=base.grid.starts[base.grid.first],
                    last=base.grid.starts[base.grid.last])
    return base


def evaluate_rows(graph: Graph, base: RevenueBase, mid: str) -> pl.DataFrame:
    """One revenue metric's rows: requested periods plus the look-back other metrics read."""
    since = max(base.grid.first - graph.lookback("revenue"), 0)
    periods = base.grid.periods().select("idx", "period", "complete")
    rows = evaluate(base, mid, graph.run.metric_options, since).join(periods, on="idx", how="left")
    return rows.select("period", *[shown_group(g) for g in base.groups], "value", "numerator", "denominator",
                       "complete")


def dims(graph: Graph) -> set[str]:
    """plan, currency and the columns of ``customers``."""
    ds = graph.run.dataset
    out = {"plan", "currency"}
    if ds.has("customers"):
        customers = ds.load("customers", required=False)
        if customers is not None:
            out |= {c for c in customers.columns if not c.startswith("_")}
    return out


def last_instant(graph: Graph) -> int | None:
    """The last instant of the billing data."""
    run = graph.run
    return billing(run.dataset, run.settings.values["engine"]).end


FAMILY = Family("revenue", ("subscriptions", "invoices"), build_base, evaluate_rows, dims, last_instant)
