"""``--by`` groups of an event log on any engine: text columns of the log and customer attributes.

Each dimension becomes a text column ``_g<i>`` of the engine's scan, as
:func:`kpi_cli.engagement.groups.group_exprs` makes it on Polars: the log's own text column (an
empty canonical value is missing, as the Polars parse reads it), or the ``customers`` attribute of
the row's account (one equi-join with the small table of customers, the first row of a repeated
customer id), a missing value being :data:`~kpi_cli.engagement.groups.NULL_GROUP`. Event
properties (``prop.NAME``, JSON) and columns of another type keep the Polars path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import narwhals as nw
import polars as pl

from kpi_cli.engagement.groups import NULL_GROUP

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset
    from kpi_cli.engines import Engine
    from kpi_cli.parsing import Typed


def _customers(ds: Dataset) -> pl.DataFrame | None:
    return ds.load("customers", required=False)


def portable(ds: Dataset, typed: Typed, by: tuple[str, ...]) -> bool:
    """True when every dimension of ``by`` is a text column of the log or an attribute of customers."""
    schema = typed.src.frame.collect_schema()
    customers = None
    for dim in by:
        header = typed.src.mapping.get(dim) if dim in typed.present else dim if dim in typed.src.extra else None
        if header is not None:
            if schema.get(header) != pl.String:
                return False
            continue
        if dim.startswith("prop.") or "account_id" not in typed.present:
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
        if dim in typed.present:
            value: nw.Expr = nw.when(nw.col(dim).str.len_chars() > 0).then(nw.col(dim))
        elif dim in typed.src.extra:
            value = nw.col(dim)
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
