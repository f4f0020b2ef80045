"""The MRR roll-forward on any Narwhals backend (Polars by default, DuckDB, Spark).

Cost grows with billing rows, not customers × periods: each segment adds a +value delta at the
first period whose end snapshot it covers and a −value delta at the first it does not; a
running sum per customer gives its MRR at *change points* only, and movements are classified
there. Stocks (MRR, paying customers) are running sums of the per-period net changes.

Snapshot rule (SPEC §2): the state at the last instant of period j, i.e. a span [p0, p1)
covers the end of period j iff p0 < B(j+1) ≤ p1, with B(j) the UTC instant period j starts.
With i(t) the period containing t, that is i(p0) ≤ j < i(p1).

Money is summed in the engine's fixed point (``money``: Int128 pico-units on Polars and DuckDB,
Decimal(38, 12) on Spark; see :mod:`kpi_cli.money`), so reruns give the same bits on each engine.
"""

from __future__ import annotations

from typing import Any

import narwhals as nw

from kpi_cli.money import PICO, Money

EPS = 1e-6  # values closer than a millionth of a currency unit are equal
UNIT = ["customer_id", "currency"]
MOVES = ("new", "reactivation", "expansion", "contraction", "churned")


def change_points(segments: nw.LazyFrame, rates: nw.LazyFrame, groups: list[str], last: int,
                  money: Money = PICO) -> nw.LazyFrame:
    """Per unit (customer, currency, groups) and period where its MRR changes: a, b and class.

    ``last`` is the index of the last period wanted; ``rates`` has ``currency, idx, rate``.
    Columns: unit…, idx, a, b (native), a_r, b_r (reporting currency), paid_before, movement.
    """
    unit = list(dict.fromkeys([*UNIT, *groups]))
    seg = segments.filter(nw.col("i0") < nw.col("i1"), nw.col("i0") <= last)
    deltas = nw.concat(
        [
            seg.select(*unit, nw.col("i0").alias("idx"), nw.col("value").alias("dv")),
            seg.filter(nw.col("i1") <= last).select(*unit, nw.col("i1").alias("idx"), (-nw.col("value")).alias("dv")),
        ]
    )
    # Each period's net change stays fixed-point into the running sum: only the level is turned back into
    # a float (each turn costs a text round trip per row on SQL engines, and a float of a large sum
    # need not turn back into the same pico-units).
    points = deltas.group_by(*unit, "idx").agg(money.fixed(nw.col("dv")).sum().alias("_dv"))
    # The running sum is a column before it is read: SQL engines would compute a window once per use.
    points = points.with_columns(nw.col("_dv").cum_sum().over(*unit, order_by="idx").alias("_run"))
    running = money.unfixed(nw.col("_run"))
    points = points.with_columns(running.alias("b")).with_columns(
        nw.when(nw.col("b").abs() < EPS).then(0.0).otherwise(nw.col("b")).alias("b")).drop("_run", "_dv")
    # Both read only b, so one pass: a is the previous b, paid_before any earlier b > 0.
    points = points.with_columns(
        nw.col("b").shift(1).over(*unit, order_by="idx").fill_null(0.0).alias("a"),
        ((nw.col("b") > 0).cast(nw.Int64).cum_sum().over(*unit, order_by="idx")
         - (nw.col("b") > 0).cast(nw.Int64)).clip(upper_bound=1).alias("paid_before"),
    )
    points = points.join(rates, on=["currency", "idx"], how="left").with_columns(
        (nw.col("a") * nw.col("rate")).alias("a_r"), (nw.col("b") * nw.col("rate")).alias("b_r")
    )
    a, b = nw.col("a"), nw.col("b")
    moved = (b - a).abs() >= EPS
    movement = (
        nw.when(moved & (a == 0) & (b > 0) & (nw.col("paid_before") == 0)).then(nw.lit("new"))
        .when(moved & (a == 0) & (b > 0)).then(nw.lit("reactivation"))
        .when(moved & (a > 0) & (b == 0)).then(nw.lit("churned"))
        .when(moved & (a > 0) & (b > a)).then(nw.lit("expansion"))
        .when(moved & (a > 0) & (b < a)).then(nw.lit("contraction"))
        .otherwise(nw.lit("none"))
    )
    return points.with_columns(movement.alias("movement"))


def roll_forward(points: nw.LazyFrame, periods: nw.LazyFrame, rates: nw.LazyFrame, groups: list[str],
                 first: int, last: int, money: Money = PICO) -> nw.LazyFrame:
    """Per group and period ``first..last``: start/end MRR and customers, each movement, fx.

    ``periods`` has one row per period index ``idx`` from 0 to ``last``.
    """
    per_currency = list(dict.fromkeys([*groups, "currency"]))
    a_r, b_r = nw.col("a_r"), nw.col("b_r")
    aggs: list[Any] = []
    for m in MOVES:
        is_m = nw.col("movement") == m
        amount = {"new": b_r, "reactivation": b_r, "expansion": b_r - a_r, "contraction": a_r - b_r,
                  "churned": a_r}[m]
        aggs += [money.fsum(nw.when(is_m).then(amount).otherwise(0.0)).alias(m),
                 nw.when(is_m).then(1).otherwise(0).sum().alias(f"{m}_n")]
    aggs.append(((nw.col("b") > 0).cast(nw.Int64) - (nw.col("a") > 0).cast(nw.Int64)).sum().alias("d_customers"))
    moves = points.group_by(*groups, "idx").agg(*aggs)
    # Native MRR stock per currency: a running sum of net changes over the dense period list.
    native = points.group_by(*per_currency, "idx").agg(money.fsum(nw.col("b") - nw.col("a")).alias("d_native"))
    combos = native.select(*per_currency).unique()
    dense = combos.join(periods, how="cross").join(native, on=[*per_currency, "idx"], how="left")
    dense = dense.with_columns(nw.col("d_native").fill_null(0.0))
    level = money.fixed(nw.col("d_native")).cum_sum().over(*per_currency, order_by="idx")
    dense = dense.with_columns(level.alias("_lvl"))
    dense = dense.with_columns(money.unfixed(nw.col("_lvl")).alias("n_e")).drop("_lvl")
    # Sums of +v/−v deltas leave float dust where the stock is really 0; snap it like change points.
    dense = dense.with_columns(nw.when(nw.col("n_e").abs() < EPS).then(0.0).otherwise(nw.col("n_e")).alias("n_e"))
    dense = dense.join(rates, on=["currency", "idx"], how="left").with_columns(
        nw.col("n_e").shift(1).over(*per_currency, order_by="idx").fill_null(0.0).alias("n_s"),
        nw.col("rate").shift(1).over(*per_currency, order_by="idx").alias("rate_s"),
    )
    stock = dense.group_by(*groups, "idx").agg(
        money.fsum(nw.col("n_e") * nw.col("rate")).alias("mrr"),
        money.fsum(nw.col("n_s") * nw.col("rate_s").fill_null(nw.col("rate"))).alias("start_mrr"),
        money.fsum(nw.col("n_s") * (nw.col("rate") - nw.col("rate_s").fill_null(nw.col("rate")))).alias("fx"),
    )
    table = stock.join(moves, on=[*groups, "idx"], how="left")
    fill = [nw.col(m).fill_null(0.0) for m in MOVES] + [nw.col(f"{m}_n").fill_null(0) for m in MOVES]
    table = table.with_columns(*fill, nw.col("d_customers").fill_null(0))
    table = table.with_columns(nw.col("d_customers").cum_sum().over(*groups, order_by="idx").alias("customers"))
    table = table.with_columns(
        nw.col("customers").shift(1).over(*groups, order_by="idx").fill_null(0).alias("start_customers")
    )
    return table.filter(nw.col("idx") >= first, nw.col("idx") <= last).drop("d_customers")
