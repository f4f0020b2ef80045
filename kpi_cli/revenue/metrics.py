"""Revenue metric values from the base table: columns, ratios and the special cases.

Every function returns ``groups…, idx, value, numerator, denominator`` rows; the API layer
turns them into the long output shape.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.money import fsum
from kpi_cli.registry import METRICS

if TYPE_CHECKING:
    from kpi_cli.revenue.base import RevenueBase

PER_YEAR = {"day": 365, "week": 52, "month": 12, "quarter": 4, "year": 1}
LTV_WINDOW = 6


def extended(table: pl.DataFrame, churn_denominator: str) -> pl.DataFrame:
    """The base table plus the derived columns ratios refer to by name."""
    c = pl.col
    den = c("start_customers") + (c("new_n") if churn_denominator == "start_plus_new" else 0)
    return table.with_columns(
        (12 * c("mrr")).alias("arr"),
        (c("new") + c("reactivation") + c("expansion") - c("contraction") - c("churned") + c("fx")).alias("net_new"),
        (c("customers") - c("start_customers")).alias("customers_delta"),
        (c("customers") - c("new_n") - c("reactivation_n")).alias("retained_customers"),
        den.alias("churn_denominator"),
        (c("churned") + c("contraction")).alias("gross_churn"),
        (c("churned") + c("contraction") - c("expansion") - c("reactivation")).alias("net_churn"),
        (c("start_mrr") + c("expansion") - c("contraction") - c("churned")).alias("nrr_num"),
        (c("start_mrr") - c("contraction") - c("churned")).alias("grr_num"),
        (c("new") + c("expansion") + c("reactivation")).alias("quick_num"),
        (c("contraction") + c("churned")).alias("quick_den"),
    )


def ratio(num: pl.Expr, den: pl.Expr) -> list[pl.Expr]:
    """value, numerator, denominator; a zero denominator gives null, never 0 or infinity."""
    return [
        pl.when(den != 0).then(num / den).otherwise(None).cast(pl.Float64).alias("value"),
        num.cast(pl.Float64).alias("numerator"),
        den.cast(pl.Float64).alias("denominator"),
    ]


def evaluate(base: RevenueBase, metric_id: str, options: dict[str, object], since: int | None = None
             ) -> pl.DataFrame:
    """Rows of one metric for the requested periods of ``base`` (from period index ``since`` when given:
    the look-back another metric reads, e.g. customers at P − 1)."""
    m = METRICS[metric_id]
    keys = [*base.groups, "idx"]
    table = extended(base.table, str(options.get("churn_denominator", "start")))
    if m.special:
        out = SPECIALS[m.special](base, table, metric_id, options)
    elif m.ratio:
        out = table.select(*keys, *ratio(pl.col(m.ratio[0]), pl.col(m.ratio[1])))
    else:
        assert m.value is not None
        out = table.select(*keys, pl.col(m.value).cast(pl.Float64).alias("value"),
                           pl.lit(None, dtype=pl.Float64).alias("numerator"),
                           pl.lit(None, dtype=pl.Float64).alias("denominator"))
    return out.filter(pl.col("idx") >= (base.grid.first if since is None else since))


def _ltv(base: RevenueBase, table: pl.DataFrame, _id: str, options: dict[str, object]) -> pl.DataFrame:
    margin = float(options.get("gross_margin") or 1.0)  # type: ignore[arg-type]
    c = pl.col
    churn = pl.when(c("churn_denominator") != 0).then(c("churned_n") / c("churn_denominator"))
    over = base.groups or None
    t = table.sort([*base.groups, "idx"]).with_columns(churn.alias("_churn"))
    avg = c("_churn").shift(1).rolling_mean(LTV_WINDOW, min_samples=1)
    t = t.with_columns((avg.over(over) if over else avg).alias("_avg"))
    arpa = pl.when(c("customers") != 0).then(c("mrr") / c("customers"))
    num = arpa * margin
    return t.select(*base.groups, "idx",
                    pl.when(c("_avg") > 0).then(num / c("_avg")).otherwise(None).alias("value"),
                    num.alias("numerator"), c("_avg").alias("denominator"))


def _values_at(base: RevenueBase, targets: list[int]) -> pl.DataFrame:
    """Each unit's MRR (reporting currency) at the snapshots ``targets``: unit…, j, v."""
    unit = list(dict.fromkeys(["customer_id", "currency", *base.groups]))
    lo, hi = min(targets), max(targets)
    pts = base.points.sort([*unit, "idx"]).with_columns(
        pl.col("idx").shift(-1).over(unit).fill_null(base.grid.last + 1).alias("_next"))
    pts = pts.filter(pl.col("b") > 0, pl.col("_next") > lo, pl.col("idx") <= hi)
    exploded = pts.with_columns(
        pl.int_ranges(pl.col("idx").clip(lower_bound=lo), pl.col("_next").clip(upper_bound=hi + 1)).alias("j")
    ).explode("j").filter(pl.col("j").is_in(targets))
    rates = base.rates.rename({"idx": "j"})
    return exploded.join(rates, on=["currency", "j"], how="left").select(
        *unit, "j", (pl.col("b") * pl.col("rate")).alias("v"))


def _ttm(base: RevenueBase, _table: pl.DataFrame, metric_id: str, _o: dict[str, object]) -> pl.DataFrame:
    lag = PER_YEAR[base.grid.cal.grain]
    wanted = list(range(base.grid.first, base.grid.last + 1))
    unit = list(dict.fromkeys(["customer_id", "currency", *base.groups]))
    vals = _values_at(base, sorted({*wanted, *(j - lag for j in wanted if j - lag >= 0)}))
    now = vals.filter(pl.col("j").is_in(wanted))
    then = vals.with_columns((pl.col("j") + lag).alias("j")).filter(pl.col("j").is_in(wanted))
    pair = then.rename({"v": "then"}).join(now.rename({"v": "now"}), on=[*unit, "j"], how="left")
    kept = pl.col("now").fill_null(0.0)
    num = kept if metric_id == "nrr_ttm" else pl.min_horizontal(kept, pl.col("then"))
    agg = pair.group_by(*base.groups, "j").agg(fsum(num).alias("n"), fsum(pl.col("then")).alias("d"))
    frame = pl.DataFrame({"idx": wanted}, schema={"idx": pl.Int64})
    groups = base.table.select(base.groups).unique() if base.groups else None
    if groups is not None:
        frame = groups.join(frame, how="cross")
    joined = frame.join(agg.rename({"j": "idx"}), on=[*base.groups, "idx"], how="left")
    return joined.select(*base.groups, "idx", *ratio(pl.col("n").fill_null(0.0), pl.col("d").fill_null(0.0)))


def _period_index(base: RevenueBase, frame: pl.DataFrame, col: str) -> pl.DataFrame:
    """Add ``idx``: the period containing instant ``col`` (null outside the grid)."""
    bounds = base.grid.frame().select(pl.col("b_us").alias("_b"), "idx")
    out = frame.sort(col).join_asof(bounds, left_on=col, right_on="_b", strategy="backward").drop("_b")
    return out.with_columns(pl.when(pl.col("idx") <= base.grid.last).then(pl.col("idx")).alias("idx"))


def _group_attrs(base: RevenueBase) -> pl.DataFrame | None:
    """customer_id → group values (first seen), for metrics counted per customer.

    A customer who never paid (a signup that did not convert) has no segment: its groups that are
    columns of ``customers`` come from there, the others (plan, currency) are blank.
    """
    if not base.groups:
        return None
    from kpi_cli.revenue.base import NO_GROUP

    paid = base.segments.sort("start_us").unique("customer_id", keep="first").select("customer_id", *base.groups)
    customers = base.dataset.load("customers", required=False) if base.dataset.has("customers") else None
    if customers is None:
        return paid
    own = [g for g in base.groups if g in customers.columns and g not in ("plan", "currency")]
    others = customers.select("customer_id", *[pl.col(g).cast(pl.String).fill_null(NO_GROUP) for g in own]).unique(
        "customer_id", keep="first").join(paid.select("customer_id"), on="customer_id", how="anti")
    others = others.with_columns([pl.lit(NO_GROUP).alias(g) for g in base.groups if g not in own])
    return pl.concat([paid, others.select(paid.columns)], how="vertical_relaxed")


def _rate_per_period(base: RevenueBase, cohort: pl.DataFrame, hit: str) -> pl.DataFrame:
    """Share of ``cohort`` rows (customer_id, idx, bool ``hit``) per group and period."""
    attrs = _group_attrs(base)
    if attrs is not None:
        cohort = cohort.join(attrs, on="customer_id", how="left")
    agg = cohort.group_by(*base.groups, "idx").agg(pl.col(hit).sum().alias("n"), pl.len().alias("d"))
    frame = pl.DataFrame({"idx": list(range(base.grid.first, base.grid.last + 1))}, schema={"idx": pl.Int64})
    if base.groups:
        seen = pl.concat([base.table.select(base.groups), agg.select(base.groups)], how="vertical_relaxed")
        frame = seen.unique().join(frame, how="cross")
    joined = frame.join(agg, on=[*base.groups, "idx"], how="left")
    return joined.select(*base.groups, "idx", *ratio(pl.col("n").fill_null(0), pl.col("d").fill_null(0)))


def _first_paying(base: RevenueBase) -> pl.DataFrame:
    return base.segments.group_by("customer_id").agg(pl.col("start_us").min().alias("paid_at"))


def _within_us(options: dict[str, object], default_days: float) -> int:
    from kpi_cli.options import parse_duration_days

    raw = options.get("within")
    days = parse_duration_days(str(raw), "--within") if raw else default_days
    return int(days * 86_400_000_000)


def _trial_conversion(base: RevenueBase, _t: pl.DataFrame, _id: str, options: dict[str, object]) -> pl.DataFrame:
    items = base.items
    cols = items.columns
    status = pl.col("status") if "status" in cols else pl.lit(None, dtype=pl.String)
    trial_end = pl.col("trial_end_at") if "trial_end_at" in cols else pl.lit(None, dtype=pl.Int64)
    end = pl.col("end_at") if "end_at" in cols else pl.lit(None, dtype=pl.Int64)
    trials = items.select(
        "customer_id", pl.col("start_at").alias("t0"),
        pl.when(status == "trialing").then(pl.coalesce(trial_end, end)).otherwise(trial_end).alias("t1"),
        ((status == "trialing").fill_null(False) | (trial_end > pl.col("start_at")).fill_null(False)).alias("is_trial"),
    ).filter(pl.col("is_trial"), pl.col("t1").is_not_null())
    first = trials.sort("t0").unique("customer_id", keep="first")
    window = _within_us(options, 30)
    paid = base.segments.join(first.select("customer_id", "t0"), on="customer_id").filter(
        pl.col("start_us") >= pl.col("t0")).group_by("customer_id").agg(pl.col("start_us").min().alias("paid_at"))
    cohort = first.join(paid, on="customer_id", how="left").with_columns(
        (pl.col("paid_at") <= pl.col("t1") + window).fill_null(False).alias("hit"))
    cohort = cohort.filter(pl.col("t1") + window <= base.grid.complete_before)
    return _rate_per_period(base, _period_index(base, cohort, "t0").drop_nulls("idx"), "hit")


def _freemium_conversion(base: RevenueBase, _t: pl.DataFrame, _id: str, options: dict[str, object]) -> pl.DataFrame:
    from kpi_cli.errors import DataError

    customers = base.dataset.load("customers", required=False)
    if customers is None or "created_at" not in customers.columns:
        msg = "freemium_conversion_rate needs customers with created_at"
        raise DataError(msg,
                        hint="add customers.csv with customer_id and created_at")
    window = _within_us(options, 90)
    signups = customers.select("customer_id", pl.col("created_at").alias("t0")).drop_nulls("t0")
    signups = signups.unique("customer_id", keep="first")
    cohort = signups.join(_first_paying(base), on="customer_id", how="left").with_columns(
        (pl.col("paid_at") <= pl.col("t0") + window).fill_null(False).alias("hit"))
    cohort = cohort.filter(pl.col("t0") + window <= base.grid.complete_before)
    return _rate_per_period(base, _period_index(base, cohort, "t0").drop_nulls("idx"), "hit")


def _renewal(base: RevenueBase, _t: pl.DataFrame, _id: str, options: dict[str, object]) -> pl.DataFrame:
    items = base.items
    months = {"year": 12, "quarter": 3, "month": 1}
    interval = pl.col("interval") if "interval" in items.columns else pl.lit("month")
    count = pl.col("interval_count").fill_null(1) if "interval_count" in items.columns else pl.lit(1.0)
    end = pl.col("end_at") if "end_at" in items.columns else pl.lit(None, dtype=pl.Int64)
    if options.get("churn_at") == "cancel" and "canceled_at" in items.columns:
        end = pl.min_horizontal(end, pl.col("canceled_at"))
    subs = items.with_columns(end.alias("_end"), (interval.replace_strict(months, default=0) * count)
                              .alias("term")).group_by("subscription_id").agg(
        pl.col("customer_id").first(), pl.col("start_at").min().alias("s"),
        pl.when(pl.col("_end").null_count() > 0).then(None).otherwise(pl.col("_end").max()).alias("e"),
        pl.col("term").sort_by("start_at").first().cast(pl.Int64).alias("term"),
    ).filter(pl.col("term") >= 12)
    horizon = base.grid.frame()["b_us"].max()
    terms = subs.with_columns(pl.int_ranges(1, 101).alias("n")).explode("n").with_columns(
        pl.col("s").cast(pl.Datetime("us")).dt.offset_by((pl.col("n") * pl.col("term")).cast(pl.String) + "mo")
        .cast(pl.Int64).alias("boundary"))
    terms = terms.filter(pl.col("boundary") <= horizon, pl.col("e").is_null() | (pl.col("e") >= pl.col("boundary")))
    terms = terms.with_columns((pl.col("e").is_null() | (pl.col("e") > pl.col("boundary"))).alias("hit"))
    return _rate_per_period(base, _period_index(base, terms, "boundary").drop_nulls("idx"), "hit")


def _cross_sell(base: RevenueBase, _t: pl.DataFrame, _id: str, _o: dict[str, object]) -> pl.DataFrame:
    segs = base.segments
    key = "plan" if segs["plan"].null_count() < segs.height else "subscription_id"
    bounds = base.grid.frame()["b_us"].to_list()
    rows = []
    for j in range(base.grid.first, base.grid.last + 1):
        s, e = bounds[j], bounds[j + 1]
        active = segs.filter(pl.col("start_us") < s, pl.col("end_us") >= s)
        had = active.select("customer_id", key).unique()
        started = segs.filter(pl.col("start_us") >= s, pl.col("start_us") < e,
                              pl.col("customer_id").is_in(had["customer_id"].implode()))
        fresh = started.join(had, on=["customer_id", key], how="anti").select("customer_id").unique()
        rows.append(had.select("customer_id").unique().with_columns(
            pl.lit(j, dtype=pl.Int64).alias("idx"),
            pl.col("customer_id").is_in(fresh["customer_id"].implode()).alias("hit")))
    cohort = pl.concat(rows) if rows else pl.DataFrame(schema={"customer_id": pl.String, "idx": pl.Int64,
                                                                  "hit": pl.Boolean})
    return _rate_per_period(base, cohort, "hit")


SPECIALS = {
    "ltv": _ltv,
    "ttm": _ttm,
    "trial_conversion": _trial_conversion,
    "freemium_conversion": _freemium_conversion,
    "renewal": _renewal,
    "cross_sell": _cross_sell,
}
