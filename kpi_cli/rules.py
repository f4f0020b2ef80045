"""Each source's row rules beyond parsing (SPEC §1.3), in one registry.

:meth:`kpi_cli.dataset.Dataset.load` applies a source's rules by default, so every reader of a
source (revenue, ``--by`` groups, ``kpi validate``) rejects the same rows for the same reasons.
A rule set is ``(rules, frame_step)``: ``rules(src, columns)`` gives transforms and checks on
typed values; ``frame_step`` adds columns that need the whole frame (an order, a repeat).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

    import polars as pl

    from kpi_cli.loading import Source
    from kpi_cli.parsing import Check

    Rules = Callable[[Source, list[str]], tuple[list[pl.Expr], list[Check]]]
    FrameStep = Callable[[pl.DataFrame], pl.DataFrame]


def invoice_rules(_src: Source, _cols: list[str]) -> tuple[list[pl.Expr], list[Check]]:
    """A line's service period must not end before it starts."""
    import polars as pl

    return [], [("period_end", pl.col("period_end") < pl.col("period_start"), "period_end before period_start")]


def customer_rules(_src: Source, _cols: list[str]) -> tuple[list[pl.Expr], list[Check]]:
    """One row per customer: a repeated id is a bad row at each of its lines (see :func:`flag_repeats`)."""
    import polars as pl

    return [], [("customer_id", pl.col("_also_line").is_not_null(), "customer_id repeated (also {also})")]


def flag_repeats(frame: pl.DataFrame) -> pl.DataFrame:
    """``_also_file``/``_also_line``: for a ``customer_id`` on several rows, another row holding it.

    The first row names the second, every later one the first, so each line of a repeat is
    reported with a line to compare it with. Exact duplicate rows were dropped before this.
    """
    import polars as pl

    rows = (frame.select("customer_id", "_file", "_line").filter(pl.col("customer_id").is_not_null())
            .sort("_file", "_line"))
    repeated = rows.filter(pl.col("customer_id").is_duplicated())
    if repeated.height == 0:
        return frame.with_columns(pl.lit(None, dtype=pl.UInt32).alias("_also_file"),
                                  pl.lit(None, dtype=pl.Int64).alias("_also_line"))
    firsts = repeated.group_by("customer_id", maintain_order=True).agg(
        pl.col("_file").get(0).alias("_f0"), pl.col("_line").get(0).alias("_l0"),
        pl.col("_file").get(1).alias("_f1"), pl.col("_line").get(1).alias("_l1"))
    first = (pl.col("_file") == pl.col("_f0")) & (pl.col("_line") == pl.col("_l0"))
    also = repeated.join(firsts, on="customer_id").select(
        "_file", "_line",
        pl.when(first).then(pl.col("_f1")).otherwise(pl.col("_f0")).cast(pl.UInt32).alias("_also_file"),
        pl.when(first).then(pl.col("_l1")).otherwise(pl.col("_l0")).cast(pl.Int64).alias("_also_line"))
    return frame.join(also, on=["_file", "_line"], how="left", maintain_order="left")


def fx_rules(_src: Source, _cols: list[str]) -> tuple[list[pl.Expr], list[Check]]:
    """A rate is reporting-currency units per unit: zero or negative cannot be one."""
    import polars as pl

    return [], [("rate", pl.col("rate") <= 0, "rate must be positive")]


# Families that own sources keep their rules beside their metrics: ``module`` holds ``RULES``, a dict
# of source name → (rules, frame_step). Imported only when that source is loaded.
FAMILY_RULES = {"spend": "kpi_cli.acquisition.rules", "traffic": "kpi_cli.acquisition.rules",
                "surveys": "kpi_cli.surveys.rules", "tickets": "kpi_cli.support.rules"}


def row_rules(name: str) -> tuple[Rules | None, FrameStep | None]:
    """The rules and frame step of source ``name`` (``(None, None)`` when it has none beyond parsing)."""
    import importlib

    from kpi_cli.revenue.prep import flag_overlaps, subscription_rules

    registry: dict[str, tuple[Rules | None, FrameStep | None]] = {
        "subscriptions": (subscription_rules, flag_overlaps),
        "invoices": (invoice_rules, None),
        "customers": (customer_rules, flag_repeats),
        "fx_rates": (fx_rules, None),
    }
    if name in FAMILY_RULES:
        try:
            module = importlib.import_module(FAMILY_RULES[name])
        except ModuleNotFoundError:  # a family not built yet: parsing rules only
            return None, None
        found: dict[str, tuple[Rules | None, FrameStep | None]] = module.RULES
        return found.get(name, (None, None))
    return registry.get(name, (None, None))
