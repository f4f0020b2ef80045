"""Spend rows → reporting-currency amounts per period, category and channel (SPEC §3.2).

A ``date`` row belongs to the period of its day; a ``month`` row (``YYYY-MM``) to that calendar
month. A spend sheet's date is a calendar day, not an instant: a bare date (midnight UTC) is that
day whatever ``--tz`` says; a date with a time of day is an instant, converted to the reporting
timezone before its day is taken. Each row converts at the ``fx_rates`` rate on or before its
date (a month row: the month's last day, the instant of the month-end MRR snapshot); a currency
with no such rate is a bad row. At ``--period week|day`` month rows are a usage error unless
``--spend-allocation prorate`` spreads each evenly over its days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.errors import UsageError
from kpi_cli.money import fsum

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset
    from kpi_cli.periods import Calendar

DAY_US = 86_400_000_000
MONTHLY = "spend has monthly granularity; use --period month|quarter|year or --spend-allocation prorate"


@dataclass
class Spend:
    """Spend in the reporting currency: one row per (day, category, channel) piece.

    ``rows`` has ``day`` (date: the row's day, or its month's first day; a prorated month row
    one piece per day), ``category``, ``channel`` (text, null when blank) and ``amount``.
    ``end`` is the day after the last day any row covers.
    """

    rows: pl.DataFrame
    currency: str
    end: date | None


def spend_currency(ds: Dataset, spend: pl.DataFrame, wanted: str | None, billing: str | None) -> str:
    """``--currency``; else the one billing uses; else the spend's one currency (several: a usage error)."""
    if wanted:
        return wanted.strip().upper()
    if billing:
        return billing
    found = sorted(spend["currency"].drop_nulls().unique().to_list()) if "currency" in spend.columns else []
    if len(found) <= 1:
        return found[0] if found else "USD"
    msg = f"spend has several currencies ({', '.join(found)})"
    raise UsageError(msg, hint="pick the reporting one with --currency (and provide fx_rates)")


def days_of(spend: pl.DataFrame, tz: str) -> pl.DataFrame:
    """Add ``day`` (the row's day or its month's first day), ``monthly`` and ``rate_day``."""
    has_date, has_month = "date" in spend.columns, "month" in spend.columns
    when = pl.col("date") if has_date else pl.lit(None, dtype=pl.Int64)
    instant = pl.from_epoch(when, time_unit="us").dt.replace_time_zone("UTC")
    day = pl.when(when % DAY_US == 0).then(instant.dt.date()).otherwise(instant.dt.convert_time_zone(tz).dt.date())
    month = (pl.concat_str(pl.col("month"), pl.lit("-01")).str.to_date("%Y-%m-%d", strict=False) if has_month
             else pl.lit(None, dtype=pl.Date))
    # A row with both a date and a month: the date is the more precise of the two.
    monthly = when.is_null() & month.is_not_null()
    return spend.with_columns(
        pl.when(monthly).then(month).otherwise(day).alias("day"), monthly.alias("monthly"),
        pl.when(monthly).then(month.dt.month_end()).otherwise(day).alias("rate_day"))


def convert(ds: Dataset, spend: pl.DataFrame, currency: str) -> pl.DataFrame:
    """``amount`` in ``currency``: rows in another currency at the rate on or before ``rate_day``.

    A row without such a rate is a bad row (:meth:`Dataset.reject`: raised under
    ``--on-bad-rows error``, else left out and counted).
    """
    cur = pl.col("currency").fill_null(currency) if "currency" in spend.columns else pl.lit(currency)
    spend = spend.with_columns(cur.alias("currency"))
    foreign = spend.filter(pl.col("currency") != currency)
    if foreign.height == 0:
        return spend
    fx = ds.load("fx_rates", required=False) if ds.has("fx_rates") else None
    if fx is None:
        rates = pl.DataFrame(schema={"currency": pl.String, "_at": pl.Int64, "rate": pl.Float64})
    else:
        rates = fx.select(pl.col("currency").str.strip_chars().str.to_uppercase(), pl.col("date").alias("_at"),
                          pl.col("rate").cast(pl.Float64)).sort("_at", "rate")
    at = pl.col("rate_day").cast(pl.Datetime("us")).cast(pl.Int64).alias("_at")
    # Sorted by instant as a whole, so within each currency too (Polars cannot check that with ``by``).
    joined = (foreign.with_columns(at).sort("_at")
              .join_asof(rates, on="_at", by="currency", strategy="backward", check_sortedness=False).drop("_at"))
    missing = joined.filter(pl.col("rate").is_null())
    where = "fx_rates has none on or before the row's date" if fx is not None else "there is no fx_rates source"
    for c in sorted(missing["currency"].unique().to_list()):
        ds.reject("spend", missing.filter(pl.col("currency") == c), "currency", f"no fx rate for {c} → {currency} "
                  f"({where})", hint=f"add fx_rates rows (date, currency, rate in {currency}) for {c} on or before "
                  "each spend date (a month row: its last day), or pass --on-bad-rows skip to leave those rows out")
    converted = joined.filter(pl.col("rate").is_not_null()).with_columns(pl.col("amount") * pl.col("rate"))
    home = spend.filter(pl.col("currency") == currency)
    return pl.concat([home, converted.drop("rate")], how="vertical_relaxed").sort("_file", "_line")


def prorate(spend: pl.DataFrame) -> pl.DataFrame:
    """Month rows spread evenly over their days (one piece per day); day rows as they are."""
    monthly = spend.filter(pl.col("monthly"))
    if monthly.height == 0:
        return spend
    days = pl.col("day").dt.month_end().dt.day()
    pieces = monthly.with_columns(
        pl.date_ranges(pl.col("day"), pl.col("day").dt.month_end()).alias("day"),
        (pl.col("amount") / days).alias("amount")).explode("day")
    return pl.concat([spend.filter(~pl.col("monthly")), pieces], how="vertical_relaxed")


def load_spend(ds: Dataset, cal: Calendar, currency: str, allocation: str) -> Spend:
    """Spend of the run: converted, placed on days, prorated when asked (the grain decides if it must be)."""
    raw = ds.load("spend")
    assert raw is not None
    spend = days_of(raw, cal.tz)
    spend = convert(ds, spend, currency)
    if cal.grain in ("day", "week") and spend["monthly"].any():
        if allocation != "prorate":
            raise UsageError(MONTHLY, hint="monthly rows cannot be split into weeks or days without a rule")
        spend = prorate(spend)
    category = pl.col("category").fill_null("acquisition") if "category" in spend.columns else pl.lit("acquisition")
    channel = pl.col("channel").cast(pl.String) if "channel" in spend.columns else pl.lit(None, dtype=pl.String)
    rows = spend.select("day", category.alias("category"), channel.alias("channel"),
                        pl.col("amount").cast(pl.Float64), "monthly")
    end = None
    if rows.height:
        last_day = rows.select(pl.when(pl.col("monthly")).then(pl.col("day").dt.month_end())
                               .otherwise(pl.col("day")).max()).item()
        end = last_day + timedelta(days=1)
    return Spend(rows.drop("monthly"), currency, end)


def per_period(spend: Spend, starts: list[date], cal: Calendar, channel: bool) -> pl.DataFrame:
    """``period``, ``category``, [``channel``], ``amount``, ``rows`` over the periods starting at ``starts``.

    Pieces outside ``starts[0] … starts[-1]``'s period are left out; sums are exact (pico-units).
    """
    stop = cal.step(starts[-1], 1)
    bounds = pl.DataFrame({"period": starts}, schema={"period": pl.Date}).sort("period")
    inside = spend.rows.filter(pl.col("day") >= starts[0], pl.col("day") < stop).sort("day")
    placed = inside.join_asof(bounds, left_on="day", right_on="period", strategy="backward")
    keys = ["period", "category", *(["channel"] if channel else [])]
    return placed.group_by(keys).agg(fsum(pl.col("amount")).alias("amount"), pl.len().alias("rows")).sort(
        keys, nulls_last=True)
