"""Billing rows as subscription items: the option rules, the row rules and invoices turned into items.

The items become segments (spans of constant monthly value) in :mod:`kpi_cli.revenue.spans`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from kpi_cli.errors import UsageError
from kpi_cli.parsing import Check

if TYPE_CHECKING:
    from kpi_cli.loading import Source

INTERVALS = {
    "day": "day", "daily": "day", "days": "day",
    "week": "week", "weekly": "week", "weeks": "week",
    "month": "month", "monthly": "month", "months": "month", "mo": "month",
    "quarter": "quarter", "quarterly": "quarter", "quarters": "quarter",
    "year": "year", "yearly": "year", "annual": "year", "annually": "year", "years": "year",
}
# Monthly factor per unit of interval: SPEC §3.1's f(interval, interval_count) × count.
MONTHS_PER = {"day": 12 / 365, "week": 12 / 52, "month": 1.0, "quarter": 3.0, "year": 12.0}
ZERO_STATUSES = ("trialing", "paused", "unpaid", "incomplete")
STATUSES = (*ZERO_STATUSES, "active", "past_due", "canceled")  # SPEC §3.1; presets map their own onto these
FAR = 2**62  # an "open" end, later than any real instant
NONE = -FAR  # "no trial" / "no discount window": earlier than any real instant, 1970 and before included


@dataclass(frozen=True)
class RevenueRules:
    """The revenue options in force (echoed by ``kpi explain``)."""

    discounts: str = "recurring"  # none | recurring | all
    churn_at: str = "end"  # end | cancel
    currency: str | None = None


def subscription_rules(src: Source, cols: list[str]) -> tuple[list[pl.Expr], list[Check]]:
    """Normalised enums and the row rules beyond parsing (SPEC §1.3), as expressions.

    Overlaps come from :func:`flag_overlaps`, which the loader runs on the whole frame.
    """
    status_map = status_mapping(src)
    # A blank interval is the default month before the lookup, so it can never be "unknown".
    transforms = [
        pl.col("interval").str.to_lowercase().str.strip_chars().fill_null("month")
        .replace_strict(INTERVALS, default="?").alias("interval")
        if "interval" in cols else pl.lit("month").alias("interval"),
        pl.col("status").str.to_lowercase().str.strip_chars().replace(status_map).alias("status")
        if "status" in cols else pl.lit(None, dtype=pl.String).alias("status"),
    ]
    if "discount_duration" in cols:
        transforms.append(pl.col("discount_duration").str.to_lowercase().str.strip_chars())
    return transforms, subscription_checks(pl, cols)


def subscription_checks(ns: Any, cols: list[str]) -> list[tuple[str, Any, str]]:
    """The row rules beyond parsing (SPEC §1.3), in their order, in the expressions of ``ns``: ``polars``
    for the Polars load, ``narwhals`` for the engine's (:mod:`kpi_cli.revenue.portable_load`).

    They read the normalised ``interval``/``status`` and the loader's ``_overlap``.
    """
    col = ns.col
    checks: list[tuple[str, Any, str]] = [("amount", col("amount") < 0, "negative amount")]
    if "quantity" in cols:
        checks.append(("quantity", col("quantity") < 0, "negative quantity"))
    if "interval_count" in cols:
        checks.append(("interval_count", col("interval_count") <= 0, "interval_count must be ≥ 1"))
    checks.append(("interval", col("interval") == "?", "unknown interval (day/week/month/quarter/year)"))
    if "status" in cols:
        checks.append(("status", ~col("status").is_in(STATUSES),
                       'unknown status (map it: [sources.subscriptions.status] {key} = "paused")'))
    if "end_at" in cols:
        checks.append(("end_at", col("end_at") < col("start_at"), "end_at before start_at"))
    if "discount_percent" in cols:
        pct = col("discount_percent")
        checks.append(("discount_percent", (pct < 0) | (pct > 100), "discount_percent outside 0–100"))
    if "discount_amount" in cols:
        checks.append(("discount_amount", col("discount_amount") < 0, "negative discount_amount"))
    if "discount_duration" in cols:
        checks.append(("discount_duration", ~col("discount_duration").is_in(["once", "repeating", "forever"]),
                       "discount_duration must be once, repeating or forever"))
    checks.append(("start_at", col("_overlap"), "overlaps an earlier row of the same subscription item"))
    return checks


def status_mapping(src: Source) -> dict[str, str]:
    """Export status → canonical status: the preset's table, then ``[sources.S.status]`` over it.

    A mapped value must be a status of SPEC §3.1 (anything else is a usage error naming the key).
    """
    mapping = dict(src.preset.statuses) if src.preset else {}
    user = getattr(src, "table", {}).get("status") or {}
    if not isinstance(user, dict):
        msg = f"[sources.{src.name}] status must be a table of export status = canonical status"
        raise UsageError(msg, hint=f'e.g. [sources.{src.name}.status] on_hold = "paused"')
    for key, value in user.items():
        target = str(value).strip().lower()
        if target not in STATUSES:
            msg = f"[sources.{src.name}.status] {key} = {value!r} is not a known status"
            raise UsageError(msg, hint=f"map it to one of: {', '.join(STATUSES)}")
        mapping[str(key).strip().lower()] = target
    return mapping


def flag_overlaps(frame: pl.DataFrame) -> pl.DataFrame:
    """Add ``_overlap``: the row starts before the latest end among earlier rows of its item.

    Sorted by item and start, rows that each start at or after the previous row's end have
    non-decreasing ends, so the previous row's end *is* the latest one; the exact running
    maximum (a slower window) is only needed when that cheap test finds something.
    """
    item = [c for c in ("subscription_id", "item_id") if c in frame.columns]
    keys = [f"_k_{c}" for c in item]
    # Sort a narrow copy (keys, start, end, row number), not the whole frame: memory matters here.
    narrow = frame.select(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("_row"),
        *[pl.col(c).fill_null("").alias(f"_k_{c}") for c in item],
        pl.col("start_at"),
        (pl.col("end_at").fill_null(FAR) if "end_at" in frame.columns else pl.lit(FAR)).alias("_end"),
    ).sort([*keys, "start_at", "_row"], nulls_last=True)
    same_item = pl.all_horizontal([pl.col(k) == pl.col(k).shift(1) for k in keys])
    flagged = narrow.filter((same_item & (pl.col("start_at") < pl.col("_end").shift(1))).fill_null(False))
    if flagged.height:
        latest = pl.col("_end").cum_max().shift(1).over(keys)
        flagged = narrow.filter((pl.col("start_at") < latest).fill_null(False))
    rows = pl.int_range(pl.len(), dtype=pl.UInt32)
    return frame.with_columns(rows.is_in(flagged["_row"].implode()).alias("_overlap"))


def invoices_to_items(inv: pl.DataFrame) -> pl.DataFrame:
    """Subscription-shaped rows from the recurring invoice lines (SPEC §3.1).

    A line is recurring when ``recurring`` is true, or when it is blank and the line has a
    ``subscription_id``; a proration never is. Its service period becomes the row's span; its
    length decides the interval (whole months when it is at least ~28 days, else weeks or
    days), so the line amount is normalised like a price. Discounts on a line reduce it; tax is
    never included.
    """
    cols = inv.columns
    has_sub = pl.col("subscription_id").is_not_null() if "subscription_id" in cols else pl.lit(False)
    recurring = pl.col("recurring").fill_null(has_sub) if "recurring" in cols else has_sub
    proration = pl.col("proration").fill_null(False) if "proration" in cols else pl.lit(False)
    # customer_id (required, never null here) keeps the predicate a real column: Polars 2.1
    # rejects a broadcast constant predicate on ≥ 16k rows.
    g = inv.filter(recurring & ~proration & pl.col("customer_id").is_not_null())
    days = (pl.col("period_end") - pl.col("period_start")) / 86_400_000_000
    months = (days / 30.4375).round(0)
    amount = pl.col("amount") - (pl.col("discount_amount").fill_null(0) if "discount_amount" in g.columns else 0)
    return g.select(
        pl.col("customer_id"),
        pl.coalesce(pl.col("subscription_id"), pl.col("customer_id")).alias("subscription_id")
        if "subscription_id" in g.columns else pl.col("customer_id").alias("subscription_id"),
        pl.concat_str([pl.col("_file").cast(pl.String), pl.col("_line").cast(pl.String)], separator=":")
        .alias("item_id"),
        pl.col("period_start").alias("start_at"),
        pl.col("period_end").alias("end_at"),
        amount.clip(lower_bound=0).alias("amount"),
        (pl.col("currency") if "currency" in g.columns else pl.lit(None, dtype=pl.String)).alias("currency"),
        pl.when(days >= 27.5).then(pl.lit("month")).when(days % 7 == 0).then(pl.lit("week"))
        .otherwise(pl.lit("day")).alias("interval"),
        pl.when(days >= 27.5).then(months).when(days % 7 == 0).then(days / 7).otherwise(days)
        .clip(lower_bound=1).alias("interval_count"),
        pl.col("_file"), pl.col("_line"),
    )
