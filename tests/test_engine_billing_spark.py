"""``--engine spark`` reads typed Parquet subscriptions itself (issue 11): the same numbers as Polars.

The hand-worked two-file company of tests/test_engine_billing.py (its bad rows, copy and coupon) and the
generated company's billing as typed Parquet, on local Spark. Marked ``spark`` (``make test-spark``); one
``local[2]`` session for the run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
import test_engine_billing as billing
from polars.testing import assert_frame_equal
from test_engine_billing import OVERLAPPING, REASONS, TRIMMED, _run, overlaps_on, period_indexes_on, trimmed_on
from test_engine_equality import COMPANY_CUSTOMERS, assert_long_equal, typed_parquet

from kpi_cli import compute, engines
from kpi_cli.sample import write_sample

pytestmark = [pytest.mark.spark, pytest.mark.usefixtures("spark_session")]
hand = billing.hand  # fixtures, used by name
spy = billing.spy


@pytest.fixture(scope="session")
def spark_session() -> None:
    """The run's one Spark session, made as ``kpi --engine spark`` makes it."""
    engines.configure_spark("local[2]", {"spark.sql.shuffle.partitions": "2"})
    engines.engine_for("spark")


@pytest.fixture(scope="module")
def company(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The generated company, its subscriptions as typed Parquet (the rest as written)."""
    written = tmp_path_factory.mktemp("company_csv")
    write_sample(written, customers=COMPANY_CUSTOMERS)
    folder = tmp_path_factory.mktemp("company_parquet")
    for path in written.iterdir():
        if path.stem == "subscriptions":
            typed_parquet(path, folder / "subscriptions.parquet")
        else:
            shutil.copy(path, folder / path.name)
    return folder


@pytest.mark.parametrize("discounts", ["recurring", "all"])
def test_hand_worked_billing_on_spark(hand: Path, spy: list[str], discounts: str) -> None:
    (fast, fast_run), (slow, slow_run) = (_run(hand, e, discounts=discounts) for e in ("polars", "spark"))
    assert spy == ["spark"]
    assert_frame_equal(fast, slow)
    mrr = slow.filter(pl.col("metric") == "mrr")["value"].to_list()
    assert mrr == [330.0 if discounts == "recurring" else 300.0, 380.0, 380.0, 380.0]
    reports = [r.dataset.reports["subscriptions"] for r in (fast_run, slow_run)]
    for report in reports:
        assert (report.rows_read, report.duplicates, report.rejected, report.used) == (13, 1, 7, 5)
        assert report.reasons == REASONS
    rejects = [pl.concat(r.dataset.rejected).sort("file", "line") for r in (fast_run, slow_run)]
    assert_frame_equal(rejects[0], rejects[1])


@pytest.mark.parametrize("kw", [
    pytest.param({"from_": "2024-01", "to": "2024-06", "by": "plan"}, id="by_plan"),
    pytest.param({"from_": "2024-02-05", "to": "2024-04-28", "period": "week", "tz": "America/New_York",
                  "churn_at": "cancel", "discounts": "all"}, id="week-dst-cancel-all_discounts"),
])
def test_every_revenue_id_on_a_parquet_company(company: Path, spy: list[str], kw: dict) -> None:
    kw = {"data": company, "config": str(company / "kpi.toml"), "as_of": "2025-01-01", **kw}
    fast, on_spark = compute("revenue", **kw), compute("revenue", engine="spark", **kw)
    assert spy == ["spark"]
    by = [kw["by"]] if "by" in kw else []
    assert_long_equal(fast, on_spark, by)


def test_text_is_trimmed_on_spark_as_on_polars() -> None:
    assert trimmed_on("spark") == TRIMMED


def test_overlaps_on_spark_as_on_polars() -> None:
    assert overlaps_on("spark") == OVERLAPPING


@pytest.mark.parametrize("grain", ["day", "month"])
def test_period_index_on_spark_is_the_binary_search(grain: str) -> None:
    """Samoa's skipped day included (see tests/test_engine_billing.py)."""
    found, expected, _ = period_indexes_on("spark", "Pacific/Apia", grain)
    assert found == expected
