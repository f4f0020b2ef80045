"""Customer-side parts of acquisition metrics: new customers by channel, referral conversion.

New customers are the revenue family's own classification (first-time paying at the end of P,
SPEC §3.1), read off the revenue base's change points, so ``cac``'s denominator is exactly
``new_customers`` and the sum over channels is the blended count. Each customer's channel is
``customers.channel`` (blank, or a customer missing from ``customers``: no channel).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.errors import DataError

if TYPE_CHECKING:
    from datetime import date

    from kpi_cli.dataset import Dataset
    from kpi_cli.revenue.base import RevenueBase


def channels(ds: Dataset, why: str, *, required: bool) -> pl.DataFrame:
    """``customer_id, channel`` (text, null when blank); without the column: an error when ``required``."""
    customers = ds.load("customers", required=False) if ds.has("customers") else None
    if customers is None or "channel" not in customers.columns:
        if required:
            where = "there is no customers source" if customers is None else "customers has no channel column"
            msg = f"{why} needs each customer's channel, and {where}"
            raise DataError(msg, hint='add customers.csv with customer_id and channel, or map it: '
                            '[sources.customers.columns] channel = "<header>"')
        return pl.DataFrame(schema={"customer_id": pl.String, "channel": pl.String})
    return customers.select("customer_id", pl.col("channel").cast(pl.String)).unique("customer_id", keep="first")


def new_customers(base: RevenueBase, attrs: pl.DataFrame, starts: list[date]) -> pl.DataFrame:
    """One row per new customer (unit of the revenue base) and period: ``period``, ``customer_id``, ``channel``.

    Units are (customer, currency) as revenue counts them; periods outside ``starts`` are left out.
    """
    grid_starts = base.grid.starts
    index = {d: i for i, d in enumerate(grid_starts)}
    wanted = {index[d]: d for d in starts if d in index}
    pts = base.points.filter(pl.col("movement") == "new", pl.col("idx").is_in(list(wanted)))
    pts = pts.select("customer_id", "currency", "idx").unique()
    lookup = pl.DataFrame({"idx": list(wanted), "period": list(wanted.values())},
                          schema={"idx": pl.Int64, "period": pl.Date})
    out = pts.join(lookup, on="idx").join(attrs, on="customer_id", how="left")
    return out.select("period", "customer_id", "channel")


def complete_map(base: RevenueBase) -> dict[date, bool]:
    """Period start → complete, as the revenue base decided it."""
    periods = base.grid.periods()
    return dict(zip(periods["period"].to_list(), periods["complete"].to_list(), strict=True))


def referral_cohort(ds: Dataset, base: RevenueBase, window_us: int, horizon: int) -> pl.DataFrame:
    """Customers created before ``horizon − window`` (window ended): ``customer_id, t0, referred, hit``.

    ``hit``: paying (a paying segment starts) no later than ``window`` after ``created_at``, as
    ``freemium_conversion_rate`` reads it; ``referred``: ``referred_by`` is not blank.
    """
    customers = ds.load("customers", required=False) if ds.has("customers") else None
    if customers is None or "created_at" not in customers.columns:
        msg = "referral conversion needs customers with created_at (and referred_by)"
        raise DataError(msg, hint="add customers.csv with customer_id, created_at and referred_by")
    referred = (pl.col("referred_by").cast(pl.String).is_not_null() if "referred_by" in customers.columns
                else pl.lit(False))
    by_events = referred_accounts(ds)
    if by_events is not None:
        referred = referred | pl.col("customer_id").cast(pl.String).is_in(by_events.implode())
    signups = customers.select("customer_id", pl.col("created_at").alias("t0"), referred.alias("referred"))
    signups = signups.drop_nulls("t0").unique("customer_id", keep="first")
    paid = base.segments.group_by("customer_id").agg(pl.col("start_us").min().alias("paid_at"))
    cohort = signups.join(paid, on="customer_id", how="left").with_columns(
        (pl.col("paid_at") <= pl.col("t0") + window_us).fill_null(False).alias("hit"))
    return cohort.filter(pl.col("t0") + window_us <= horizon).drop("paid_at")


def referred_accounts(ds: Dataset) -> pl.Series | None:
    """Accounts with a ``signup`` event whose ``type`` is ``referred`` (SPEC §3.2: the other way to
    know a referral), through the event's ``account_id`` (= customer_id); None without such events."""
    from kpi_cli.engagement.events import Roles, property_value
    from kpi_cli.engagement.hygiene import load_events
    from kpi_cli.loading import load_source

    src = load_source("events", ds.settings, required=False) if ds.has("events") else None
    if src is None or "account_id" not in src.mapping:
        return None
    if "type" not in src.extra and "properties" not in src.mapping:
        return None
    roles = Roles.from_table(ds.settings.tables.get("events", {}))
    events, _ = load_events(ds)
    kind = property_value(events, "type")
    found = events.filter(pl.col("event").is_in(roles.events("signup")), kind.str.to_lowercase() == "referred",
                          pl.col("account_id").is_not_null())
    return found["account_id"].cast(pl.String).unique()
