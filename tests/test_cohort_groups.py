"""Billing cohorts do not depend on the order of the change points, nor on ``--by`` (found on Spark).

A cohort table is per customer: with ``--by plan`` a customer has one unit per plan, and a plan change
is two change points in one period (the old plan's MRR to 0, the new one's from 0). Each unit's span
must end at its own next change point; shifted over the customer alone, the span ended at whichever of
the two came first in row order, and Spark, which delivers rows in another order than Polars, gave
other retained MRR (``cohort --of mrr``: 1525.80 against 1592.46 in one cell of the generated company).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kpi_cli import cohort
from kpi_cli.api import Run, _options
from kpi_cli.revenue import cohorts
from kpi_cli.sample import write_sample

KW = {"as_of": "2025-01-01", "from_": "2024-01", "to": "2024-06"}


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("company")
    write_sample(folder, customers=150)
    return folder


def test_customer_values_do_not_follow_row_order(company: Path) -> None:
    base = Run.start(_options(company, {**KW, "by": "plan"})).revenue(clamp=True)
    # The case this file is about is in the data: some customer changes plan (two points in one period).
    twice = base.points.group_by("customer_id", "currency", "idx").len().filter(pl.col("len") > 1)
    assert twice.height > 0
    first = cohorts.customer_values(base).sort("customer_id", "j")
    for seed in range(4):
        base.points = base.points.sample(fraction=1.0, shuffle=True, seed=seed)
        assert_frame_equal(cohorts.customer_values(base).sort("customer_id", "j"), first, check_exact=True)


@pytest.mark.parametrize("of", ["mrr", "customers"])
def test_a_cohort_by_plan_is_the_cohort(company: Path, of: str) -> None:
    """The table sums each customer's MRR over its plans: grouping the base by plan changes nothing."""
    alone, by_plan = cohort(of, data=company, **KW), cohort(of, data=company, by="plan", **KW)
    assert alone.height > 0
    assert_frame_equal(alone, by_plan, rel_tol=1e-12, abs_tol=1e-9)
