"""Billing data → segments → the per-period base table every revenue metric reads.

This is where a run's options meet the data: the reporting currency and its rates, the period
grid (from the first billing period to one past the last requested), the ``--by`` groups, and
the roll-forward check that must hold to the cent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

import narwhals as nw
import polars as pl

from kpi_cli.engines import engine_for, keep
from kpi_cli.errors import DataError, InvariantError, UsageError
from kpi_cli.grid import Grid
from kpi_cli.money import money_for
from kpi_cli.periods import Calendar, RangeRequest, resolve_range
from kpi_cli.revenue import engine, spans
from kpi_cli.revenue.billing import Billing, billing, billing_source
from kpi_cli.revenue.prep import RevenueRules

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset
    from kpi_cli.engines import Engine

NO_GROUP = "\x00(blank)"  # a --by value that is blank, inside the pipeline


def shown_group(name: str) -> pl.Expr:
    """Group column ``name`` as output shows it: text, blank where the value was blank."""
    col = pl.col(name).cast(pl.String)
    return pl.when(col == NO_GROUP).then(None).otherwise(col).alias(name)


def reporting_currency(ds: Dataset, currencies: list[str | None] | None, wanted: str | None,
                       per_currency: bool = False) -> str:
    """``--currency``; else the one currency of the data; else the one ``fx_rates`` converts into.

    ``currencies``: the billing rows' distinct currencies (:attr:`kpi_cli.revenue.billing.Billing.currencies`).

    ``fx_rates`` gives each rate in the reporting currency, so when the billing data holds several
    currencies and exactly one of them has no rate of its own, that one is the reporting currency.
    With ``per_currency`` (``--by currency`` without ``--currency``) each currency is reported in
    itself and several are fine: the result is then ``""``.
    """
    if wanted:
        return wanted.strip().upper()
    found = sorted(c for c in currencies or [] if c is not None)
    if len(found) <= 1:
        return found[0] if found else "USD"
    if per_currency:
        return ""
    fx = ds.load("fx_rates", required=False) if ds.has("fx_rates") else None
    if fx is not None:
        converted = set(fx.filter(pl.col("rate") != 1.0)["currency"].str.strip_chars().str.to_uppercase().to_list())
        unconverted = [c for c in found if c not in converted]
        if len(unconverted) == 1:
            ds.notes.append(f"reporting currency {unconverted[0]}: the one billing currency fx_rates converts into")
            return unconverted[0]
    msg = f"billing data has several currencies ({', '.join(found)})"
    raise UsageError(msg, hint="pick the reporting one with --currency (and provide fx_rates), "
                     "or split with --by currency")


def rates_frame(ds: Dataset, bill: Billing, currency: str, grid: Grid) -> tuple[pl.DataFrame, Billing]:
    """Rate per (currency, period index) at each snapshot date.

    A row in a currency with no rate is a bad row (SPEC §1.3): raised under ``--on-bad-rows error``,
    else left out, counted and written to the rejects. With ``currency == ""`` every currency is
    reported in itself (rate 1).
    """
    idx = pl.DataFrame({"idx": list(range(len(grid.starts) - 1))}, schema={"idx": pl.Int64})
    items = bill.items
    if "currency" not in items.collect_schema().names():
        items = items.with_columns(nw.lit(currency).alias("currency"))
    bill = bill.where(items.with_columns(nw.col("currency").fill_null(currency)))
    present = sorted({currency if c is None else c for c in bill.currencies or [None]})
    if currency == "":
        return pl.concat([idx.with_columns(pl.lit(c).alias("currency"), pl.lit(1.0).alias("rate"))
                          for c in present]), bill
    foreign = [c for c in present if c != currency]
    frames = [idx.with_columns(pl.lit(currency).alias("currency"), pl.lit(1.0).alias("rate"))]
    if not foreign:
        return pl.concat(frames), bill
    fx = ds.load("fx_rates", required=False) if ds.has("fx_rates") else None
    if fx is not None:
        fx = fx.with_columns(pl.col("currency").str.strip_chars().str.to_uppercase())
    known = set() if fx is None else set(fx["currency"].unique().to_list())
    missing = [c for c in foreign if c not in known]
    if missing:
        where = "fx_rates has none" if fx is not None else "there is no fx_rates source"
        for c in missing:
            ds.reject(billing_source(ds), bill.rows(nw.col("currency") == c), "currency",
                      f"no fx rate for {c} → {currency} ({where})",
                      hint=f"add fx_rates rows (date, currency, rate in {currency}) for {', '.join(missing)}, "
                      "or pass --on-bad-rows skip to leave those rows out")
        bill = bill.where(bill.items.filter(~nw.col("currency").is_in(missing)))
        if bill.engine.collect(bill.items.select(nw.len().alias("n")))["n"][0] == 0:
            msg = "no billing rows left after removing currencies without rates"
            raise DataError(msg, hint="add fx_rates for those currencies")
        foreign = [c for c in foreign if c not in missing]
    if foreign and fx is not None:
        snap_days = [grid.starts[j + 1] - timedelta(days=1) for j in range(len(grid.starts) - 1)]
        snaps = pl.DataFrame({"idx": list(range(len(snap_days))), "day": snap_days})
        snaps = snaps.with_columns(pl.col("idx").cast(pl.Int64), pl.col("day").cast(pl.Datetime("us"))
                                   .cast(pl.Int64))
        for c in foreign:
            r = fx.filter(pl.col("currency") == c).select("date", "rate").sort("date", "rate")
            joined = snaps.join_asof(r, left_on="day", right_on="date", strategy="backward")
            if joined["rate"].null_count():
                ds.warnings.append(f"fx_rates: no {c} rate on or before some snapshots; the earliest is used")
                joined = joined.with_columns(pl.col("rate").fill_null(r["rate"][0]))
            frames.append(joined.select("idx", pl.lit(c).alias("currency"), "rate"))
    return pl.concat(frames, how="vertical_relaxed"), bill


def make_grid(cal: Calendar, req: RangeRequest, as_of: int, bill: Billing, lookback: int,
              clamp: bool = False) -> Grid:
    """The period grid from the first billing period through one period past the request.

    With ``clamp`` the request starts no earlier than the data's first period.
    """
    end = bill.end
    lo, hi = resolve_range(req, cal, as_of, end)
    first_data = cal.floor(cal.local_date(bill.first))
    if clamp:
        lo = min(max(lo, first_data), hi)
    origin = min(first_data, cal.step(lo, -lookback))
    starts = cal.starts(origin, cal.step(hi, 1))
    first, last = starts.index(lo), starts.index(hi)
    return Grid(cal, starts, first, last, min(as_of, end))


@dataclass
class RevenueBase:
    """Everything revenue metrics need: base table, change points, grid and rules.

    ``points``, ``items`` and ``segments`` (billing-sized) are collected from where they live on first
    use only: most metrics read the base table alone.
    """

    table: pl.DataFrame  # per (groups…, idx): stocks and movements, plus period & complete
    change_points: nw.LazyFrame  # held on ``engine``: unit, idx, a, b, a_r, b_r, movement
    engine: Engine
    rates: pl.DataFrame
    bill: Billing  # the items, with the groups as columns
    spans: nw.LazyFrame  # the segments, where the items are
    grid: Grid
    groups: list[str]
    rules: RevenueRules
    currency: str
    dataset: Dataset  # for sources a metric reads on demand (customers for signups)
    _held: dict[str, pl.DataFrame] = field(default_factory=dict, repr=False)

    @property
    def points(self) -> pl.DataFrame:
        """The change points: per unit (customer, currency, groups) and period where its MRR changes."""
        if "points" not in self._held:
            found = self.engine.collect(self.change_points)
            self._held["points"] = found.with_columns(pl.col("idx").cast(pl.Int64))
        return self._held["points"]

    @points.setter
    def points(self, frame: pl.DataFrame) -> None:  # e.g. the same points in another order (tests)
        self._held["points"] = frame

    @property
    def items(self) -> pl.DataFrame:
        """The validated billing items (``_file``, ``_line``, canonical columns, the groups)."""
        if "items" not in self._held:
            self._held["items"] = self.bill.collected(self.bill.items)
        return self._held["items"]

    @property
    def segments(self) -> pl.DataFrame:
        """``customer_id, subscription_id, currency, plan, groups…, start_us, end_us, value``."""
        if "segments" not in self._held:
            self._held["segments"] = self.bill.collected(self.spans)
        return self._held["segments"]


def build(ds: Dataset, cal: Calendar, req: RangeRequest, as_of: int, rules: RevenueRules,
          by: tuple[str, ...] = (), engine_name: str = "polars", lookback: int = 0,
          clamp: bool = False) -> RevenueBase:
    """Load billing data and run the roll-forward for every requested period and group."""
    bill = billing(ds, engine_name)
    grid = make_grid(cal, req, as_of, bill, lookback, clamp)
    currency = reporting_currency(ds, bill.currencies, rules.currency, per_currency="currency" in by)
    rates, bill = rates_frame(ds, bill, currency, grid)
    bill, groups = _attach_groups(ds, bill, by)
    # Joins never match a null key: a blank plan (or a customer missing from customers) is held as a
    # named group so its MRR is kept, and shown as blank again on output (see ``shown_group``).
    bill = bill.where(bill.items.with_columns([nw.col(g).cast(nw.String).fill_null(NO_GROUP) for g in groups]))
    segs = spans.segments(bill.engine, bill.items, rules, tuple(groups))
    segs = segs.with_columns(nw.col("currency").fill_null(currency))
    first = max(grid.first - lookback, 0)
    periods = pl.DataFrame({"idx": list(range(grid.last + 1))}, schema={"idx": pl.Int64})
    on = engine_for(engine_name)
    native, money = on.table, money_for(on)  # money: the engine's exact fixed point (Spark has no Int128)
    unit = list(dict.fromkeys(["customer_id", "currency", *groups]))
    held: dict[str, pl.DataFrame] = {}
    if bill.on_engine:  # one query reads the segments here (and a metric may collect them): not held
        seg_lf = spans.period_index(on, segs, grid, {"start_us": "i0", "end_us": "i1"}).select(*unit, "i0", "i1",
                                                                                                "value")
    else:
        held["segments"] = bill.collected(segs)
        # Instants → period indexes by binary search on the (small) sorted boundary list, once.
        bounds = pl.lit(grid.frame()["b_us"])
        seg_lf = native(held["segments"].select(
            *unit,
            (bounds.search_sorted(pl.col("start_us"), side="right").cast(pl.Int64) - 1).alias("i0"),
            (bounds.search_sorted(pl.col("end_us"), side="right").cast(pl.Int64) - 1).alias("i1"),
            "value",
        ))
    # Held once: the roll-forward reads the change points, and so do the metrics that follow customers.
    points = keep(on, engine.change_points(seg_lf, native(rates), groups, grid.last, money))
    table = engine.roll_forward(points, native(periods), native(rates), groups, first, grid.last, money)
    base = table.collect(backend="polars").to_native()
    # Engines differ in integer sum types (DuckDB gives 128-bit): one numeric type from here on.
    base = base.with_columns(pl.exclude("idx", *groups).cast(pl.Float64), pl.col("idx").cast(pl.Int64))
    if not groups:
        # Periods in which nobody paid still get a row (of zeros).
        wanted = periods.filter(pl.col("idx") >= first)
        base = wanted.join(base, on="idx", how="left").with_columns(pl.exclude("idx").fill_null(0.0))
    base = base.join(grid.periods().select("idx", "period", "complete"), on="idx", how="left")
    base = base.sort([*groups, "idx"], nulls_last=True)
    _check_roll_forward(base)
    return RevenueBase(base, points, on, rates, bill, segs, grid, groups, rules, currency, ds, held)


def _attach_groups(ds: Dataset, bill: Billing, by: tuple[str, ...]) -> tuple[Billing, list[str]]:
    groups: list[str] = []
    items = bill.items
    for dim in by:
        if dim in ("plan", "currency"):
            if dim == "plan" and "plan" not in items.collect_schema().names():
                msg = "--by plan: the billing data has no plan column"
                raise UsageError(msg,
                                 hint='map it: [sources.subscriptions.columns] plan = "<header>"')
            groups.append(dim)
            continue
        customers = ds.load("customers", required=False)
        if customers is None or dim not in customers.columns:
            cols = [] if customers is None else [c for c in customers.columns if not c.startswith("_")]
            msg = f"--by {dim}: not plan, currency or a column of customers"
            raise UsageError(msg, hint=f"customers columns: {', '.join(cols) or '(no customers source)'}")
        attrs = customers.select("customer_id", pl.col(dim).cast(pl.String)).unique("customer_id", keep="first")
        items = items.join(bill.engine.table(attrs), on="customer_id", how="left")
        groups.append(dim)
    return bill.where(items), groups


def _check_roll_forward(base: pl.DataFrame) -> None:
    """start + new + expansion + reactivation − contraction − churned + fx = end, to the cent."""
    moved = (pl.col("start_mrr") + pl.col("new") + pl.col("expansion") + pl.col("reactivation")
             - pl.col("contraction") - pl.col("churned") + pl.col("fx"))
    bad = base.filter((moved - pl.col("mrr")).abs() > 0.005)
    if bad.height:
        row = bad.row(0, named=True)
        msg = (f"MRR roll-forward does not balance for {row['period']}: start {row['start_mrr']:.2f} + movements "
               f"≠ end {row['mrr']:.2f}")
        raise InvariantError(msg, hint="this is a bug in kpi; please report it with --debug output")
