"""The acquisition and cost family on the metric graph (SPEC §3.2).

Metrics built from other families' metrics (``cac`` from ``new_customers``, ``cpa`` from
``new_signups``, ``crc`` from ``customers@1`` and ``churned_customers``) read those parts through
the graph, so each base is built once per run whatever mix is asked; the paid basis and the
per-channel splits read the revenue base's own new-customer classification.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.acquisition import customers as cust
from kpi_cli.acquisition import spend as sp
from kpi_cli.acquisition.base import AcquisitionBase
from kpi_cli.acquisition.channels import UNATTRIBUTED, ChannelMap
from kpi_cli.graph import Family

if TYPE_CHECKING:
    from collections.abc import Callable

    from kpi_cli.graph import Graph

SPEND_METRICS = ("acquisition_spend", "retention_spend", "cac", "cpa", "ltv_cac_ratio", "cac_payback_months", "crc")
WEB_METRICS = ("visitor_conversion_rate", "bounce_rate")


def build(graph: Graph) -> AcquisitionBase:
    """The base; ``[channels]`` is checked here, before any data is read."""
    return AcquisitionBase(graph, ChannelMap.from_table(graph.run.settings.tables.get("channels", {})))


def _keys(graph: Graph) -> list[str]:
    return ["period", *(["channel"] if "channel" in graph.by else [])]


def _ratio(graph: Graph, frame: pl.DataFrame, num: str, den: str) -> pl.DataFrame:
    """Rows of ``num / den`` from one frame (zero denominator → null)."""
    n, d = pl.col(num).cast(pl.Float64), pl.col(den).cast(pl.Float64)
    return frame.select(*_keys(graph), pl.when(d != 0).then(n / d).alias("value"), n.alias("numerator"),
                        d.alias("denominator"), "complete")


def _spend_lagged(graph: Graph, base: AcquisitionBase, paid: bool = False) -> pl.DataFrame:
    lag = graph.run.options.cac_lag
    if not paid:
        return graph.rows("acquisition_spend", lag=lag)
    rows = base.spend_rows("acquisition", paid=True)
    return graph.shift(rows, lag) if lag else rows


def _acquisition_spend(graph: Graph, base: AcquisitionBase) -> pl.DataFrame:
    return base.spend_rows("acquisition")


def _retention_spend(graph: Graph, base: AcquisitionBase) -> pl.DataFrame:
    return base.spend_rows("retention")


def _cac(graph: Graph, base: AcquisitionBase) -> pl.DataFrame:
    paid = graph.run.options.cac_basis == "paid"
    counts = base.customer_counts(pl.col("class") == "paid" if paid else None, spend_channels=True)
    new = counts.select(*_keys(graph), pl.col("n").alias("value"), "complete")
    return graph.formula("ratio", _spend_lagged(graph, base, paid), new)


def _cpa(graph: Graph, base: AcquisitionBase) -> pl.DataFrame:
    signups = graph.rows("new_signups")
    if base.by_channel:  # signups without a channel meet the spend without one, in one group
        signups = signups.with_columns(pl.col("channel").fill_null(UNATTRIBUTED))
    return graph.formula("ratio", _spend_lagged(graph, base), signups)


def _ltv_cac_ratio(graph: Graph, base: AcquisitionBase) -> pl.DataFrame:
    ds = graph.run.dataset
    if float(graph.run.settings.values.get("gross_margin") or 1.0) == 1.0:
        warning = ("ltv_cac_ratio at --gross-margin 1.0 (the default) is revenue LTV; the 3:1 rule assumes "
                   "gross-margin LTV (e.g. --gross-margin 0.8)")
        if warning not in ds.advice:
            ds.advice.append(warning)
    return graph.formula("ratio", graph.rows("ltv"), graph.rows("cac"))


def _cac_payback_months(graph: Graph, base: AcquisitionBase) -> pl.DataFrame:
    margin = float(graph.run.settings.values.get("gross_margin") or 1.0)
    parts = ["new_mrr"]
    if graph.run.options.payback_basis == "new_plus_expansion":
        parts += ["reactivation_mrr", "expansion_mrr"]
    keys = graph.keys()
    den = graph.rows(parts[0]).select(*keys, "value", "complete")
    for part in parts[1:]:
        other = graph.rows(part).select(*keys, pl.col("value").alias("_v"), pl.col("complete").alias("_c"))
        den = den.join(other, on=keys, how="full", coalesce=True, nulls_equal=True).select(
            *keys, (pl.col("value").fill_null(0) + pl.col("_v").fill_null(0)).alias("value"),
            pl.coalesce(pl.col("complete") & pl.col("_c"), pl.col("complete"), pl.col("_c")).alias("complete"))
    den = den.with_columns(pl.col("value") * margin)
    return graph.formula("ratio", _spend_lagged(graph, base), den, missing_b=0.0)


def _crc(graph: Graph, base: AcquisitionBase) -> pl.DataFrame:
    retained = graph.formula("difference", graph.rows("customers", lag=1), graph.rows("churned_customers"))
    return graph.formula("ratio", graph.rows("retention_spend"), retained)


def _visitor_conversion_rate(graph: Graph, base: AcquisitionBase) -> pl.DataFrame:
    return _ratio(graph, base.session_counts(), "converted", "visitors")


def _bounce_rate(graph: Graph, base: AcquisitionBase) -> pl.DataFrame:
    bounced = "bounces_ga4" if graph.run.options.bounce == "ga4" else "bounces"
    return _ratio(graph, base.session_counts(), bounced, "sessions")


def _paid_share(graph: Graph, base: AcquisitionBase) -> pl.DataFrame:
    paid = base.customer_counts(pl.col("class") == "paid", "num")
    known = base.customer_counts(pl.col("class").is_not_null(), "den")
    return _ratio(graph, paid.join(known.drop("complete"), on=_keys(graph)), "num", "den")


def _unattributed_share(graph: Graph, base: AcquisitionBase) -> pl.DataFrame:
    blank = base.customer_counts(pl.col("class").is_null(), "num")
    every = base.customer_counts(None, "den")
    return _ratio(graph, blank.join(every.drop("complete"), on=_keys(graph)), "num", "den")


def _referral(referred: bool) -> Callable[[Graph, AcquisitionBase], pl.DataFrame]:
    def rows(graph: Graph, base: AcquisitionBase) -> pl.DataFrame:
        from kpi_cli.acquisition.traffic import _place
        from kpi_cli.options import parse_duration_days

        within = graph.run.options.within
        window = int((parse_duration_days(within, "--within") if within else 90.0) * 86_400_000_000)
        rev = base.revenue
        cohort = cust.referral_cohort(graph.run.dataset, rev, window, rev.grid.complete_before)
        cohort = cohort.filter(pl.col("referred") == referred)
        if base.by_channel:
            attrs = cust.channels(graph.run.dataset, "--by channel", required=True)
            cohort = cohort.join(attrs, on="customer_id", how="left")
        placed = _place(cohort, "t0", base.starts, graph.calendar)
        keys = _keys(graph)
        agg = placed.group_by(keys).agg(pl.col("hit").sum().alias("num"), pl.len().alias("den"))
        frame = base.dense(base.periods(cust.complete_map(rev)), agg)
        return _ratio(graph, frame.with_columns(pl.col("num", "den").fill_null(0)), "num", "den")

    return rows


EVALUATORS: dict[str, Callable[[Graph, AcquisitionBase], pl.DataFrame]] = {
    "acquisition_spend": _acquisition_spend,
    "retention_spend": _retention_spend,
    "cac": _cac,
    "cpa": _cpa,
    "ltv_cac_ratio": _ltv_cac_ratio,
    "cac_payback_months": _cac_payback_months,
    "crc": _crc,
    "visitor_conversion_rate": _visitor_conversion_rate,
    "bounce_rate": _bounce_rate,
    "paid_share": _paid_share,
    "unattributed_share": _unattributed_share,
    "referral_conversion_rate": _referral(True),
    "non_referral_conversion_rate": _referral(False),
}


def evaluate(graph: Graph, base: AcquisitionBase, mid: str) -> pl.DataFrame:
    """Rows of acquisition metric ``mid`` over the requested periods and the look-back."""
    rows = EVALUATORS[mid](graph, base)
    return rows.select(*graph.keys(), "value", "numerator", "denominator", "complete").sort(
        graph.keys(), nulls_last=True)


def dims(graph: Graph) -> set[str] | None:
    """Acquisition metrics split by ``channel`` only (None when the run evaluates none of them)."""
    return {"channel"} if graph.ids_of("acquisition") else None


def data_end(graph: Graph) -> int | None:
    """The end of the data the asked metrics read: the day after the last spend day (a month row: its
    month) — spend rows cover whole days — or the last traffic session's start."""
    ds, cal = graph.run.dataset, graph.calendar
    ids = graph.ids_of("acquisition")
    ends: list[int] = []
    if any(m in ids for m in SPEND_METRICS) and ds.has("spend"):
        raw = ds.load("spend")
        if raw is not None and raw.height:
            days = sp.days_of(raw, cal.tz)
            last = days.select(pl.when(pl.col("monthly")).then(pl.col("day").dt.month_end())
                               .otherwise(pl.col("day")).max()).item()
            ends.append(cal.instant(last + timedelta(days=1)))
    if any(m in ids for m in WEB_METRICS) and ds.has("traffic"):
        raw = ds.load("traffic")
        if raw is not None and raw.height:
            ends.append(int(raw["started_at"].max()))  # type: ignore[arg-type]
    return max(ends) if ends else None


FAMILY = Family("acquisition", ("spend", "traffic"), build, evaluate, dims, data_end)
