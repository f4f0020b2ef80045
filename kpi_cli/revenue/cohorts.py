"""Billing cohorts: customers grouped by their first paying period (ChartMogul-style).

``customers``: logo retention, the share of the cohort paying k periods later.
``mrr``: net MRR retention (Σ MRR at k ÷ the cohort's MRR in its first period) and gross
(Σ min(MRR at k, first MRR) ÷ the same), so expansion cannot lift gross above 1.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.money import fsum

if TYPE_CHECKING:
    from kpi_cli.revenue.base import RevenueBase


def customer_values(base: RevenueBase) -> pl.DataFrame:
    """Dense ``customer_id, j, v`` (reporting currency) for every period a customer pays in."""
    # A unit's own next change point ends its span: with --by, one customer has a unit per group (a plan
    # change is two points at one period), and a shift over the customer alone followed row order.
    unit = ["customer_id", "currency", *base.groups]
    last = base.grid.last
    pts = base.points.sort([*unit, "idx"]).with_columns(
        pl.col("idx").shift(-1).over(unit).fill_null(last + 1).alias("_next")).filter(pl.col("b") > 0)
    dense = pts.with_columns(pl.int_ranges("idx", pl.col("_next").clip(upper_bound=last + 1)).alias("j")).explode("j")
    dense = dense.drop_nulls("j").join(base.rates.rename({"idx": "j"}), on=["currency", "j"], how="left")
    return dense.group_by("customer_id", "j").agg(fsum(pl.col("b") * pl.col("rate")).alias("v"))


def table(base: RevenueBase, of: str, periods: int | None = None) -> pl.DataFrame:
    """Long cohort table: ``cohort, period_index, cohort_size, retained, rate`` (+ gross for mrr).

    Cells in incomplete periods are null; rows with a null cohort are the weighted summary
    per period_index (Σ retained ÷ Σ cohort_size over cohorts whose cell is complete).
    """
    vals = customer_values(base)
    first = vals.group_by("customer_id").agg(pl.col("j").min().alias("c0"))
    vals = vals.join(first, on="customer_id")
    initial = vals.filter(pl.col("j") == pl.col("c0")).select("customer_id", pl.col("v").alias("v0"))
    vals = vals.join(initial, on="customer_id").with_columns((pl.col("j") - pl.col("c0")).alias("k"))
    cohorts = first.join(initial, on="customer_id").filter(pl.col("c0") >= base.grid.first)
    size_expr = pl.len() if of == "customers" else fsum(pl.col("v0"))
    sizes = cohorts.group_by("c0").agg(size_expr.cast(pl.Float64).alias("cohort_size"))
    horizon = base.grid.last
    n_max = periods if periods is not None else horizon
    cells = sizes.with_columns(pl.int_ranges(0, pl.min_horizontal(horizon - pl.col("c0"), n_max) + 1).alias("k"))
    cells = cells.explode("k").with_columns((pl.col("c0") + pl.col("k")).alias("j"))
    kept = vals.filter(pl.col("c0") >= base.grid.first)
    if of == "customers":
        agg = kept.group_by("c0", "k").agg(pl.len().cast(pl.Float64).alias("retained"))
    else:
        agg = kept.group_by("c0", "k").agg(fsum(pl.col("v")).alias("retained"),
                                          fsum(pl.min_horizontal("v", "v0")).alias("gross_retained"))
    cells = cells.join(agg, on=["c0", "k"], how="left")
    fill = [pl.col("retained").fill_null(0.0)]
    if of == "mrr":
        fill.append(pl.col("gross_retained").fill_null(0.0))
    periods_df = base.grid.periods().select("idx", "period", "complete")
    cells = cells.with_columns(fill).join(periods_df.rename({"idx": "j"}), on="j", how="left")
    cells = cells.join(periods_df.select(pl.col("idx").alias("c0"), pl.col("period").alias("cohort")), on="c0")
    value_cols = ["retained", "gross_retained"] if of == "mrr" else ["retained"]
    cells = cells.with_columns([pl.when(pl.col("complete")).then(pl.col(c)).alias(c) for c in value_cols])
    summary = cells.filter(pl.col("complete")).group_by("k").agg(
        fsum(pl.col("cohort_size")), *[fsum(pl.col(c)) for c in value_cols])
    summary = summary.with_columns(pl.lit(None, dtype=pl.Date).alias("cohort"))
    body = cells.select("cohort", "k", "cohort_size", *value_cols)
    out = pl.concat([body, summary.select(body.columns)], how="vertical_relaxed")
    rate = [(pl.col("retained") / pl.col("cohort_size")).alias("rate")]
    if of == "mrr":
        rate.append((pl.col("gross_retained") / pl.col("cohort_size")).alias("gross_rate"))
    out = out.with_columns(rate).rename({"k": "period_index"})
    order = ["cohort", "period_index", "cohort_size", "retained", "rate"]
    if of == "mrr":
        order += ["gross_retained", "gross_rate"]
    return out.sort(["cohort", "period_index"], nulls_last=True).select(order)
