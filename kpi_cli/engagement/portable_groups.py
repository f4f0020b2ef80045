"""``--by`` groups of an event log on any engine: text columns of the log and customer attributes.

Each dimension becomes a text column ``_g<i>`` of the engine's scan, as
:func:`kpi_cli.engagement.groups.group_exprs` makes it on Polars: the log's own text column (an
empty canonical value is missing, as the Polars parse reads it), or the ``customers`` attribute of
the row's account (one equi-join with the small table of customers, the first row of a repeated
customer id), or an event property ``prop.NAME``: the log's column NAME where it has one, else
the field NAME of the JSON text in ``properties``, read by the engine's own JSON function
(:meth:`kpi_cli.engines.Engine.json_field`), a missing value being
:data:`~kpi_cli.engagement.groups.NULL_GROUP`. Columns of another type, and properties held as a
Parquet struct, keep the Polars path.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import narwhals as nw
import polars as pl

from kpi_cli.engagement.groups import NULL_GROUP

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset
    from kpi_cli.engines import Engine
    from kpi_cli.parsing import Typed


# A property name the engines' JSON paths read alike (a nested one as a.b); another keeps the Polars path.
PROPERTY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*")


def _customers(ds: Dataset) -> pl.DataFrame | None:
    return ds.load("customers", required=False)


def portable(ds: Dataset, typed: Typed, by: tuple[str, ...]) -> bool:
    """True when every dimension of ``by`` is a text column of the log or an attribute of customers."""
    schema = typed.src.frame.collect_schema()
    customers = None
    for dim in by:
        name = dim.removeprefix("prop.")
        if dim.startswith("prop.") and name not in typed.present and name not in typed.src.extra:
            if "properties" in typed.present and (schema.get("properties") != pl.String
                                                  or not PROPERTY.fullmatch(name)):
                return False
            continue  # JSON text, or no properties: all missing
        column = name if dim.startswith("prop.") else dim
        if column in typed.present or column in typed.src.extra:
            if schema.get(column) != pl.String:  # the scan's names are the canonical ones
                return False
            continue
        if "account_id" not in typed.present:
            return False
        customers = _customers(ds) if customers is None else customers
        if customers is None or dim not in customers.columns or "customer_id" not in customers.columns:
            return False  # the Polars path names the unknown dimension
    return True


def with_groups(engine: Engine, log: nw.LazyFrame, ds: Dataset, typed: Typed, by: tuple[str, ...],
                keys: list[str]) -> nw.LazyFrame:
    """``log`` and a text column per dimension (``keys``, in order); see the module docstring."""
    exprs = []
    for dim, key in zip(by, keys, strict=True):
        name = dim.removeprefix("prop.")
        if dim.startswith("prop.") and (name in typed.present or name in typed.src.extra):
            dim = name  # a property is the log's own column where it has one
        value: nw.Expr
        if dim.startswith("prop."):
            if "properties" in typed.present:
                log = engine.json_field(log, "properties", f"$.{name}", f"_p{key}")
                value = nw.col(f"_p{key}")
            else:
                value = nw.lit(None, dtype=nw.String)
        elif dim in typed.present or dim in typed.src.extra:
            value = nw.col(dim)  # a blank of the log's own columns is null already (portable.checked)
        else:
            customers = _customers(ds)
            assert customers is not None
            attrs = customers.select(pl.col("customer_id").cast(pl.String).alias("_cid"),
                                     pl.col(dim).cast(pl.String).alias(f"_a{key}")).filter(
                pl.col("_cid").is_not_null()).unique("_cid", keep="first", maintain_order=True)
            log = log.join(engine.table(attrs), left_on="account_id", right_on="_cid", how="left")
            value = nw.col(f"_a{key}")
        exprs.append(value.fill_null(NULL_GROUP).alias(key))
    return log.with_columns(*exprs)
