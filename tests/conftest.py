"""Shared fixtures: the golden subscriptions export and a CLI runner isolated from the machine.

``golden_dir`` writes research/revenue.md §4.1 (the rows of shared/contract/check.py ``SUBS``,
verbatim) into ``tmp_path/golden``. ``run`` invokes ``kpi`` in-process with stdout and stderr kept
apart, from ``tmp_path`` as the working directory, with ``NO_COLOR=1``, no ``KPI_*`` variables and
an empty user config dir, so no kpi.toml or setting of the machine leaks into a test.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from kpi_cli.cli import app

GOLDEN_HEADER = [
    "customer_id", "subscription_id", "start_at", "end_at", "amount", "currency", "interval", "interval_count",
    "quantity", "status", "canceled_at", "discount_percent", "discount_duration",
]
GOLDEN_ROWS = [  # research/revenue.md §4.1
    ["A", "a1", "2022-11-15", "2023-02-10", "100", "USD", "month", "1", "1", "", "", "", ""],
    ["A", "a1", "2023-02-10", "", "150", "USD", "month", "1", "1", "", "", "", ""],
    ["B", "b1", "2022-07-01", "2023-03-05", "1200", "USD", "year", "1", "2", "", "", "", ""],
    ["B", "b1", "2023-03-05", "", "1200", "USD", "year", "1", "1", "", "", "", ""],
    ["C", "c1", "2022-10-01", "2023-02-01", "50", "USD", "month", "1", "1", "", "2023-01-20", "", ""],
    ["D", "d0", "2023-01-10", "2023-01-24", "300", "USD", "month", "3", "1", "trialing", "", "", ""],
    ["D", "d1", "2023-01-24", "", "300", "USD", "month", "3", "1", "", "", "", ""],
    ["E", "e1", "2022-09-01", "2022-12-15", "80", "USD", "month", "1", "1", "", "2022-12-15", "", ""],
    ["E", "e2", "2023-03-10", "", "80", "USD", "month", "1", "1", "", "", "25", "forever"],
    ["F", "f1", "2023-02-15", "", "200", "USD", "month", "1", "1", "", "", "50", "once"],
    ["G", "g1", "2023-03-03", "2023-03-20", "40", "USD", "month", "1", "1", "", "2023-03-03", "", ""],
    ["H", "h1", "2022-12-05", "", "70", "USD", "month", "1", "1", "", "", "", ""],
    ["H", "h2", "2022-12-05", "2023-03-12", "30", "USD", "month", "1", "1", "", "2023-03-12", "", ""],
]

# The Baremetrics CSV import template's headers (research/revenue.md §5.4); amounts in cents.
BAREMETRICS_HEADER = [
    "plan_oid", "plan_name", "plan_currency", "plan_amount", "plan_interval", "plan_interval_count",
    "customer_oid", "customer_name", "customer_email", "subscription_oid", "subscription_started_at",
    "subscription_canceled_at", "subscription_quantity",
]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    """Write a CSV file (creating its folder) and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def golden_dir(tmp_path: Path) -> Path:
    """A data folder holding the §4.1 golden ``subscriptions.csv`` (13 rows)."""
    folder = tmp_path / "golden"
    write_csv(folder / "subscriptions.csv", GOLDEN_HEADER, GOLDEN_ROWS)
    return folder


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Result]:
    """``run(*args, env=None)``: invoke ``kpi`` from ``tmp_path`` and return the CliRunner result."""
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("KPI_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".no-user-config"))
    monkeypatch.setenv("NO_COLOR", "1")
    runner = CliRunner()

    def invoke(*args: str | Path, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(app, [str(a) for a in args], env={"NO_COLOR": "1", **(env or {})})

    return invoke


def spy_on(monkeypatch: pytest.MonkeyPatch, module: object, name: str,
           engine_of: Callable[[tuple], str]) -> list[str]:
    """Record, per call of ``module.name``, the engine it ran on (``engine_of(args)``), calling through."""
    ran: list[str] = []
    real = getattr(module, name)

    def counted(*args, **kwargs):
        ran.append(engine_of(args))
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return ran


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The engines the portable engagement path (``portable.build``) ran on."""
    from kpi_cli.engagement import portable

    return spy_on(monkeypatch, portable, "build", lambda args: args[5])
