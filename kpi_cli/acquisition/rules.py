"""Row rules of the sources the acquisition family owns: ``spend`` and ``traffic`` (SPEC §1.3, §3.2).

They run on every :meth:`kpi_cli.dataset.Dataset.load` of their source, so ``kpi validate`` and
``compute`` reject the same rows. A rate that is missing for a spend row's date is found later,
when the reporting currency is known (:mod:`kpi_cli.acquisition.spend`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kpi_cli.errors import DataError

if TYPE_CHECKING:
    import polars as pl

    from kpi_cli.loading import Source
    from kpi_cli.parsing import Check

CATEGORIES = ("acquisition", "retention")
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


def spend_rules(src: Source, cols: list[str]) -> tuple[list[pl.Expr], list[Check]]:
    """A spend row has a ``date`` or a ``month`` (``YYYY-MM``), an amount of zero or more, and a
    category that is blank, ``acquisition`` or ``retention``; currency and category are case-insensitive."""
    import polars as pl

    if "date" not in cols and "month" not in cols:
        found = ", ".join(src.mapping.values())
        msg = f"source spend ({src.files[0]}): neither a date nor a month column; found: {found}"
        raise DataError(msg, hint='map one in kpi.toml: [sources.spend.columns] date = "<header>" '
                        '(any day of the period) or month = "<header>" (YYYY-MM)')
    transforms = []
    if "currency" in cols:
        transforms.append(pl.col("currency").str.strip_chars().str.to_uppercase())
    if "category" in cols:
        transforms.append(pl.col("category").str.strip_chars().str.to_lowercase())
    if "month" in cols:
        transforms.append(pl.col("month").str.strip_chars())
    checks: list[Check] = []
    if "date" in cols and "month" in cols:
        both_blank = pl.col("date").is_null() & pl.col("month").is_null()
        checks.append(("date", both_blank, "missing value: a date or a month"))
    elif "month" in cols:
        checks.append(("month", pl.col("month").is_null(), "missing value"))
    if "month" in cols:
        checks.append(("month", ~pl.col("month").str.contains(MONTH), "not a month (YYYY-MM)"))
    checks.append(("amount", pl.col("amount") < 0, "negative amount (spend is zero or more)"))
    if "category" in cols:
        checks.append(("category", ~pl.col("category").is_in(CATEGORIES),
                       "category is not acquisition or retention (blank means acquisition)"))
    return transforms, checks


def traffic_rules(_src: Source, cols: list[str]) -> tuple[list[pl.Expr], list[Check]]:
    """Page views and durations cannot be negative."""
    import polars as pl

    checks: list[Check] = [("pageviews", pl.col("pageviews") < 0, "negative pageviews")]
    if "duration_s" in cols:
        checks.append(("duration_s", pl.col("duration_s") < 0, "negative duration"))
    return [], checks


RULES = {"spend": (spend_rules, None), "traffic": (traffic_rules, None)}
