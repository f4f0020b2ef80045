"""Row rules of the ``tickets`` source (SPEC §1.3, §3.4), run on every load of it.

A response or a resolution before the ticket was created cannot have happened, and neither can a
negative duration: such rows are bad rows (named ``file:line``), not silently negative hours. A
response at the very instant of creation is valid (an auto-acknowledged or agent-opened ticket
answered in the same second): 0 hours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

    from kpi_cli.loading import Source
    from kpi_cli.parsing import Check

# Timestamps that must not precede created_at, and the durations (minutes) that must not be negative.
AFTER_CREATION = ("first_response_at", "first_resolved_at", "resolved_at")
DURATIONS = ("first_response_minutes", "first_response_business_minutes", "full_resolution_minutes",
             "full_resolution_business_minutes")


def ticket_rules(_src: Source, cols: list[str]) -> tuple[list[pl.Expr], list[Check]]:
    """Checks on typed ticket values: nothing before creation, no negative duration or reopen count."""
    import polars as pl

    checks: list[Check] = []
    for c in AFTER_CREATION:
        if c in cols:
            checks.append((c, pl.col(c) < pl.col("created_at"), f"{c} before created_at"))
    for c in DURATIONS:
        if c in cols:
            checks.append((c, pl.col(c) < 0, "negative duration"))
    if "reopens" in cols:
        checks.append(("reopens", pl.col("reopens") < 0, "negative reopens"))
    return [], checks


RULES = {"tickets": (ticket_rules, None)}
