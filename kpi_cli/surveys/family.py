"""The surveys family on the metric graph: responses → base → nps, nps_moe, csat, ces, recovery, coverage."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.errors import UsageError
from kpi_cli.graph import Family
from kpi_cli.surveys import accounts, scores
from kpi_cli.surveys.base import SurveyBase, build, customer_columns, survey_columns

if TYPE_CHECKING:
    from kpi_cli.graph import Graph
    from kpi_cli.revenue.base import RevenueBase

BILLING = ("subscriptions", "invoices")


def build_base(graph: Graph) -> SurveyBase:
    """Every response of the source, on a grid from the data's first period through the last requested."""
    opts = graph.run.options
    return build(graph.run.dataset, graph.calendar, graph.periods(graph.lookback("surveys")), graph.as_of,
                 graph.by, opts.ces_scale)


def evaluate(graph: Graph, base: SurveyBase, mid: str) -> pl.DataFrame:
    """Rows of survey metric ``mid`` over the requested periods and the look-back other metrics read."""
    dates = graph.periods(graph.lookback("surveys"))
    opts = graph.run.options
    if mid in ("nps", "nps_moe"):
        if "nps" not in base.memo:
            base.memo["nps"], base.memo["nps_moe"] = _nps(graph, base, dates)
        return base.memo[mid]
    if mid == "csat":
        return scores.csat_rows(base, dates, opts.csat)
    if mid == "ces":
        return scores.ces_rows(base, dates)
    if mid == "detractor_recovery_rate":
        return scores.recovery_rows(base, dates)
    if mid == "nps_coverage_mrr":
        own = [d for d in graph.by if d in survey_columns(graph.run.dataset)]
        if own:
            msg = f"--by {own[0]}: nps_coverage_mrr divides MRR, which does not split by a survey column"
            raise UsageError(msg, hint="split it by a column of customers (segment, plan_tier…) instead")
        accounts.require_accounts(base, "nps_coverage_mrr")
        return accounts.coverage_rows(base, dates, accounts.account_mrr(_revenue(graph), base, dates))
    msg = f"{mid} is not a survey metric"
    raise ValueError(msg)


def _nps(graph: Graph, base: SurveyBase, dates: list[date]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """nps and nps_moe rows under ``--nps-unit`` and ``--nps-weight``."""
    opts = graph.run.options
    nps = base.responses.filter(pl.col("survey") == "nps")
    if opts.nps_weight == "mrr":
        accounts.require_accounts(base, "--nps-weight mrr")
        ds = graph.run.dataset
        if not any(ds.has(s) for s in BILLING):
            msg = "--nps-weight mrr weighs each account by its MRR: it needs billing data (subscriptions or invoices)"
            raise UsageError(msg, hint="add subscriptions or invoices to the data, or drop --nps-weight mrr")
        units = accounts.weighted(accounts.account_units(base), accounts.account_mrr(_revenue(graph), base, dates))
    elif opts.nps_unit == "account":
        accounts.require_accounts(base, "--nps-unit account")
        units = accounts.account_units(base)
    else:
        units = scores.respondent_units(base)
    return scores.nps_rows(base, dates, units, nps)


def _revenue(graph: Graph) -> RevenueBase:
    """The revenue base for account MRR: the run's own when revenue metrics take part (its span and
    groups are then shared), else one built here without groups over this run's periods."""
    if "revenue" in graph.families:
        found: RevenueBase = graph.base("revenue")
        return found
    from kpi_cli.periods import RangeRequest
    from kpi_cli.revenue.base import build as build_revenue
    from kpi_cli.revenue.prep import RevenueRules

    v = graph.run.settings.values
    req = RangeRequest(from_=graph.first.isoformat(), to=graph.last.isoformat())
    rules = RevenueRules(v["discounts"], v["churn_at"], v["currency"])
    return build_revenue(graph.run.dataset, graph.calendar, req, graph.as_of, rules, (), v["engine"], 0)


def dims(graph: Graph) -> set[str]:
    """Columns of surveys (touchpoint, wave, account_id, extra export columns) and of customers."""
    ds = graph.run.dataset
    return set(survey_columns(ds)) | set(customer_columns(ds))


def data_end(graph: Graph) -> int | None:
    """The last responded_at of the surveys source."""
    frame = graph.run.dataset.load("surveys")
    if frame is None or frame.height == 0:
        return None
    return int(frame["responded_at"].max())  # type: ignore[arg-type]


FAMILY = Family("surveys", ("surveys",), build_base, evaluate, dims, data_end)
