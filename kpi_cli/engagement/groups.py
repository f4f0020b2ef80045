"""``--by`` for engagement metrics: each event's group value, and group keys back to their names.

A dimension is, in this order, ``prop.NAME`` inside properties, a column of events (extra columns
of an export are properties), or a column of ``customers`` looked up through the event's
``account_id`` (customer_id = account_id). Inside the computation a null group value is the
:data:`NULL_GROUP` text, so joins and group-bys keep it on every engine (a join never matches
nulls); :func:`named` turns it back into null for the output.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.engagement.events import property_value
from kpi_cli.errors import UsageError

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset

NULL_GROUP = "\u2400null\u2400"  # a null group value while computing (no real value looks like it)
HIDDEN = ("_file", "_line", "ts", "actor")  # event columns not offered in the hint


def internal_names(by: tuple[str, ...]) -> list[str]:
    """Plain column names for the dimensions (a dim like "prop.plan" is no SQL identifier)."""
    return [f"_g{i}" for i in range(len(by))]


def group_exprs(ds: Dataset, events: pl.DataFrame, by: tuple[str, ...]) -> list[pl.Expr]:
    """One String expression per dimension, evaluable on ``events`` and on any frame with its columns."""
    out = []
    for dim in by:
        if dim.startswith("prop."):
            expr = property_value(events, dim.removeprefix("prop."))
        elif dim in events.columns:
            expr = pl.col(dim).cast(pl.String)
        else:
            expr = _customer_attribute(ds, events, dim)
        out.append(expr.cast(pl.String).fill_null(NULL_GROUP))
    return out


def _customer_attribute(ds: Dataset, events: pl.DataFrame, dim: str) -> pl.Expr:
    """``customers.DIM`` of the event's account; null without an account or for an unknown one."""
    customers = ds.load("customers", required=False)
    if customers is None or dim not in customers.columns or "customer_id" not in customers.columns:
        ev_cols = [c for c in events.columns if c not in HIDDEN]
        cust_cols = [] if customers is None else [c for c in customers.columns if not c.startswith("_")]
        msg = f"--by {dim}: not a column of events (nor prop.NAME) nor of customers"
        hint = f"events columns: {', '.join(ev_cols[:15])}; customers columns: {', '.join(cust_cols) or '(none)'}"
        raise UsageError(msg, hint=hint)
    attrs = customers.select(pl.col("customer_id").cast(pl.String), pl.col(dim).cast(pl.String)).filter(
        pl.col("customer_id").is_not_null()).unique("customer_id", keep="first", maintain_order=True)
    if attrs.height == 0:
        return pl.lit(None, dtype=pl.String)
    return pl.col("account_id").cast(pl.String).replace_strict(
        attrs["customer_id"], attrs[dim], default=None, return_dtype=pl.String)


def named(frame: pl.DataFrame, keys: list[str], dims: list[str]) -> pl.DataFrame:
    """Internal group columns renamed to their dimensions, :data:`NULL_GROUP` back to null."""
    if not keys:
        return frame
    nulls = [pl.when(pl.col(k) == NULL_GROUP).then(None).otherwise(pl.col(k)).alias(k) for k in keys]
    return frame.with_columns(nulls).rename(dict(zip(keys, dims, strict=True)))


def at_first(col: str, by: str = "ts") -> pl.Expr:
    """In an aggregation: ``col`` on the row with the earliest ``by`` (the first such row on ties)."""
    return pl.col(col).get(pl.col(by).arg_min())


def at_last(col: str, by: str = "ts") -> pl.Expr:
    """In an aggregation: ``col`` on the row with the latest ``by``."""
    return pl.col(col).get(pl.col(by).arg_max())


def over(expr: pl.Expr, keys: list[str]) -> pl.Expr:
    """``expr`` per group of ``keys`` (the whole frame when there are none)."""
    return expr.over(keys) if keys else expr


def groups_cross(frame: pl.DataFrame, keys: list[str], other: pl.DataFrame) -> pl.DataFrame:
    """Every group of ``frame`` (by ``keys``) with every row of ``other``; ``other`` alone without keys."""
    return frame.select(keys).unique().join(other, how="cross") if keys else other
