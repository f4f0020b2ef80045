"""From subscription items to *segments* on any engine: spans of constant monthly value per customer.

A subscription row (SPEC §1.2) is one item at one price and quantity; trials and discounts that
start or stop inside it split it into up to three segments. Everything after this module works on
segments alone, so the option rules (``--discounts``, ``--churn-at``, statuses) live here. Written on
Narwhals' lazy API: the default path runs it on the Polars frame it loaded, ``--engine duckdb|spark`` on
the engine's scan of the billing files (:mod:`kpi_cli.revenue.portable_load`), with the same float
operations in the same order. Not always the same bits: Polars may fuse ``base - base * pct / 100`` into
one multiply-add (10 a quarter at 10 % off: 2.9999999999999996 on Polars, 3.0 on DuckDB), one unit in the
last place, far inside the 1e-9 the engines are held to and gone once money is summed in pico-units.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import narwhals as nw

from kpi_cli.portable_rows import DAY_US, bound_index
from kpi_cli.revenue.prep import FAR, MONTHS_PER, NONE, ZERO_STATUSES

if TYPE_CHECKING:
    from kpi_cli.engines import Engine
    from kpi_cli.grid import Grid
    from kpi_cli.revenue.prep import RevenueRules

# One billing interval as (months, days): a "once" coupon reaches one interval past the start, calendar-aware.
INTERVAL_MONTHS = {"month": 1, "quarter": 3, "year": 12}
INTERVAL_DAYS = {"day": 1, "week": 7}


def segments(engine: Engine, items: nw.LazyFrame, rules: RevenueRules, keep: tuple[str, ...] = ()) -> nw.LazyFrame:
    """Split ``items`` at trial and discount boundaries into spans of constant monthly value.

    Returns columns ``customer_id, subscription_id, currency, plan, *keep, start_us, end_us, value``
    (``end_us`` is ``FAR`` for an open span); spans worth nothing are dropped.

    Examples
    --------
    A $1,200 yearly seat ×2 is worth 200 a month:

    >>> import polars as pl
    >>> from kpi_cli.engines import engine_for
    >>> from kpi_cli.revenue.prep import RevenueRules
    >>> items = nw.from_native(pl.LazyFrame({"customer_id": ["B"], "subscription_id": ["b1"], "start_at": [0],
    ...     "end_at": [None], "amount": [1200.0], "interval": ["year"], "quantity": [2.0]}))
    >>> engine = engine_for("polars")
    >>> engine.collect(segments(engine, items, RevenueRules()))["value"].to_list()
    [200.0]
    """
    cols = items.collect_schema().names()

    def opt(name: str, default: Any = None, dtype: Any = None) -> nw.Expr:
        return nw.col(name) if name in cols else nw.lit(default, dtype=dtype)

    count = opt("interval_count", 1.0, nw.Float64).cast(nw.Float64).fill_null(1.0)
    interval = opt("interval", "month", nw.String).fill_null("month")
    months = interval.replace_strict(MONTHS_PER, default=1.0, return_dtype=nw.Float64)
    per_month = 1.0 / (months * count)
    base = nw.col("amount") * opt("quantity", 1.0, nw.Float64).cast(nw.Float64).fill_null(1.0) * per_month
    pct = opt("discount_percent", None, nw.Float64).cast(nw.Float64)
    off = opt("discount_amount", None, nw.Float64).cast(nw.Float64)
    discount = nw.when(pct.fill_null(0) > 0).then(base * pct / 100).otherwise(off.fill_null(0) * per_month)
    duration = opt("discount_duration", None, nw.String).fill_null("forever")
    end = opt("end_at", None, nw.Int64)
    if rules.churn_at == "cancel" and "canceled_at" in cols:
        end = nw.min_horizontal(end.fill_null(FAR), nw.col("canceled_at").fill_null(FAR))
    end = end.fill_null(FAR)
    if "is_metered" in cols:
        items = items.filter(~nw.col("is_metered").fill_null(value=False))
    # Discount window [d_from, d_to): which instants of the row carry the discount.
    d_to: nw.Expr = nw.lit(None, dtype=nw.Int64)
    if rules.discounts != "none":
        if rules.discounts == "all" and "discount_duration" in cols:
            items = once_reach(engine, items, interval, count)
            d_to = nw.when(duration == "once").then(nw.col("_once")).otherwise(d_to)
        d_to = nw.when(duration == "forever").then(nw.lit(FAR, dtype=nw.Int64)).otherwise(d_to)
        repeating_to = opt("discount_end_at", None, nw.Int64).fill_null(FAR)
        d_to = nw.when(duration == "repeating").then(repeating_to).otherwise(d_to)
    zero_status = opt("status", None, nw.String).is_in(ZERO_STATUSES).fill_null(value=False)
    has_discount = (pct.fill_null(0) > 0) | (off.fill_null(0) > 0)
    extra = [k for k in keep if k not in ("currency", "plan")]
    prepared = items.select(
        nw.col("customer_id"),
        nw.col("subscription_id"),
        opt("currency", None, nw.String).str.to_uppercase().alias("currency"),
        opt("plan", None, nw.String).alias("plan"),
        *[nw.col(k) for k in extra],
        nw.col("start_at").alias("s"),
        end.alias("e"),
        nw.when(zero_status).then(nw.lit(0.0)).otherwise(base).alias("base"),
        nw.when(has_discount).then(discount).otherwise(nw.lit(0.0)).alias("disc"),
        opt("trial_end_at", None, nw.Int64).fill_null(NONE).alias("t_end"),
        d_to.fill_null(NONE).alias("d_end"),
    )
    lo = _clip(nw.min_horizontal(nw.col("t_end"), nw.col("d_end")))
    hi = _clip(nw.max_horizontal(nw.col("t_end"), nw.col("d_end")))
    pieces = nw.concat([
        prepared.with_columns(nw.col("s").alias("p0"), lo.alias("p1")),
        prepared.with_columns(lo.alias("p0"), hi.alias("p1")),
        prepared.with_columns(hi.alias("p0"), nw.col("e").alias("p1")),
    ])
    value = nw.when(nw.col("p0") < nw.col("t_end")).then(nw.lit(0.0)).otherwise(
        nw.when(nw.col("p0") < nw.col("d_end")).then(nw.col("base") - nw.col("disc")).otherwise(nw.col("base")))
    return (
        pieces.filter(nw.col("p0") < nw.col("p1"))
        .select("customer_id", "subscription_id", "currency", "plan", *extra, nw.col("p0").alias("start_us"),
                nw.col("p1").alias("end_us"), value.clip(lower_bound=0.0).alias("value"))
        .filter(nw.col("value") > 0)
    )


def _clip(x: nw.Expr) -> nw.Expr:
    """``x`` clipped to the row's span [s, e], as Polars' ``clip(s, e)``."""
    return nw.min_horizontal(nw.max_horizontal(x, nw.col("s")), nw.col("e"))


def once_reach(engine: Engine, items: nw.LazyFrame, interval: nw.Expr, count: nw.Expr) -> nw.LazyFrame:
    """``items`` and ``_once``: the start plus one billing interval, calendar-aware (a "once" coupon's reach).

    Months, quarters and years move the calendar month (the 31st of January plus a month is the 28th of
    February, as Polars' ``offset_by`` and SQL's interval arithmetic agree); days and weeks are whole days.
    """
    months = nw.lit(0, dtype=nw.Int64)
    for unit, n in INTERVAL_MONTHS.items():
        months = nw.when(interval == unit).then(count.cast(nw.Int64) * n).otherwise(months)
    days = nw.lit(0, dtype=nw.Int64)
    for unit, n in INTERVAL_DAYS.items():
        days = nw.when(interval == unit).then(count.cast(nw.Int64) * n).otherwise(days)
    # An unknown interval is rejected before; a blank one is a month (the default).
    months = nw.when((months == 0) & (days == 0)).then(count.cast(nw.Int64)).otherwise(months)
    items = items.with_columns(months.alias("_months"), days.alias("_days"))
    items = engine.add_months(items, "start_at", "_months", "_moved")
    return items.with_columns((nw.col("_moved") + nw.col("_days") * DAY_US).alias("_once")).drop(
        "_months", "_days", "_moved")


def period_index(engine: Engine, frame: nw.LazyFrame, grid: Grid, columns: dict[str, str]) -> nw.LazyFrame:
    """``frame`` with, for each ``column → alias``, the index of the grid period holding the instant:
    -1 before the first period, the last index + 1 from the last boundary on (as a binary search of
    the boundaries, ``search_sorted(side="right") - 1``, gives it): :func:`kpi_cli.portable_rows.bound_index`."""
    bounds = [grid.cal.instant(d) for d in grid.starts]
    for column, alias in columns.items():
        frame = bound_index(engine, frame, column, bounds, alias)
    return frame
