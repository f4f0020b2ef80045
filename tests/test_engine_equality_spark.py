"""Polars vs local Spark (issue 11): every metric id and every table command, as tests/test_engine_equality.py
checks DuckDB, on the same datasets and with the same comparison (counts exact, money within 1e-9 relative,
the same row order; what one engine cannot compute the other must refuse alike).

Marked ``spark`` (``make test-spark``); one ``local[2]`` session for the run. The generated company is left
to the DuckDB file: on two cores local Spark takes seconds per query, and the golden datasets already reach
every metric id and table command.
"""

from __future__ import annotations

from typing import Any

import pytest

import tests.test_engine_equality as eq
from kpi_cli import engines
from tests.test_engine_equality import (  # noqa: F401  (fixtures, used by name)
    _no_ambient_config,
    golden_acquisition,
    golden_events,
    golden_revenue,
    golden_surveys,
)

pytestmark = [pytest.mark.spark, pytest.mark.usefixtures("spark_session")]
GOLDEN = ("golden_revenue", "golden_events", "golden_acquisition", "golden_surveys")


@pytest.fixture(scope="session")
def spark_session() -> None:
    """The run's one Spark session, made as ``kpi --engine spark`` makes it."""
    engines.configure_spark("local[2]", {"spark.sql.shuffle.partitions": "2"})
    engines.engine_for("spark")


@pytest.fixture(autouse=True)
def _spark_is_the_other_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(eq, "ENGINES", ("polars", "spark"))


@pytest.mark.parametrize(("name", "options"), [p for p in eq.MAIN if p.values[0] in GOLDEN])
def test_every_metric_id(request: pytest.FixtureRequest, name: str, options: dict[str, Any]) -> None:
    eq.test_every_metric_id(request, name, options)


@pytest.mark.parametrize(("name", "metrics", "options"), [p for p in eq.VARIANTS if p.values[0] in GOLDEN])
def test_compute_variant(request: pytest.FixtureRequest, name: str, metrics: str | list[str],
                         options: dict[str, Any]) -> None:
    eq.test_compute_variant(request, name, metrics, options)


@pytest.mark.parametrize(("command", "name", "args", "options", "exact"),
                         [p for p in eq.TABLES if p.values[1] in GOLDEN])
def test_table_command(request: pytest.FixtureRequest, command: str, name: str, args: tuple[Any, ...],
                       options: dict[str, Any], exact: tuple[str, ...]) -> None:
    eq.test_table_command(request, command, name, args, options, exact)


def test_every_table_command_is_covered_on_golden_data() -> None:
    assert {p.values[0] for p in eq.TABLES if p.values[1] in GOLDEN} == {
        "movements", "cohort", "funnel", "lifecycle", "stickiness"}


def test_the_other_engine_is_spark(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The comparisons above ran on Spark: the second run of ``both`` hands its tables to Spark."""
    made: list[int] = []
    real = engines.SparkEngine.table

    def counted(self: engines.SparkEngine, frame: Any) -> Any:
        made.append(1)
        return real(self, frame)

    monkeypatch.setattr(engines.SparkEngine, "table", counted)
    data = eq.dataset(request, "golden_events")
    left, right = eq.both("compute", "dau,mau", **data.kwargs(from_="2023-02", to="2023-03"))
    eq.assert_long_equal(left, right, [])
    assert made
