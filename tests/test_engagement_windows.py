"""WAU and MAU off their own grain (SPEC §3.3), and account metrics without an account column (issue 7 C, A13)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from typer.testing import Result

from kpi_cli import compute
from tests.conftest import write_csv

LOG = [  # Monday 4 March 2024 starts the first Monday week of March
    ["2024-03-01T10:00:00Z", "Page Viewed", "u1", "acme"],  # Fri: week of 26 Feb (starts in February)
    ["2024-03-05T10:00:00Z", "Page Viewed", "u1", "acme"],
    ["2024-03-05T11:00:00Z", "Page Viewed", "u2", "acme"],
    ["2024-03-12T10:00:00Z", "Page Viewed", "u2", "acme"],
    ["2024-03-27T10:00:00Z", "Page Viewed", "u5", "beta"],
    ["2024-03-31T10:00:00Z", "Page Viewed", "u3", "beta"],  # Sun: last day of the week of 25 March
    ["2024-04-01T10:00:00Z", "Page Viewed", "u3", "beta"],
    ["2024-04-02T10:00:00Z", "Page Viewed", "u4", "beta"],
]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    folder = tmp_path / "ev"
    write_csv(folder / "events.csv", ["timestamp", "event", "user_id", "account_id"], LOG)
    return folder


def values(df: pl.DataFrame, metric: str) -> dict[date, float]:
    return dict(df.filter(pl.col("metric") == metric).select("period", "value").rows())


def test_monthly_wau_averages_the_weeks_starting_in_the_month(log: Path) -> None:
    df = compute("wau,mau,active_users", data=log, month="2024-03")
    # Weeks of 4, 11, 18 and 25 March: {u1, u2}, {u2}, {}, {u5, u3} → (2 + 1 + 0 + 2) / 4.
    assert values(df, "wau") == {date(2024, 3, 1): 1.25}
    assert values(df, "mau") == {date(2024, 3, 1): 4.0}
    assert values(df, "active_users") == {date(2024, 3, 1): 4.0}


def test_monthly_wau_with_sunday_weeks(log: Path) -> None:
    df = compute("wau", data=log, month="2024-03", week_start="sun")
    # Weeks of 3, 10, 17, 24 and 31 March: {u1, u2}, {u2}, {}, {u5}, {u3, u4} (the last runs into April).
    assert values(df, "wau") == {date(2024, 3, 1): pytest.approx(6 / 5)}


def test_quarterly_mau_averages_its_months(log: Path) -> None:
    df = compute("mau,active_users", data=log, quarter="2024-Q1", period="quarter")
    assert values(df, "mau") == {date(2024, 1, 1): pytest.approx(4 / 3)}  # January 0, February 0, March 4
    assert values(df, "active_users") == {date(2024, 1, 1): 4.0}


def test_daily_wau_and_mau_read_the_windows_containing_the_day(log: Path) -> None:
    df = compute("wau,mau,dau", data=log, from_="2024-03-31", to="2024-04-01", period="day")
    assert values(df, "wau") == {date(2024, 3, 31): 2.0, date(2024, 4, 1): 2.0}  # {u5, u3}, then {u3, u4}
    assert values(df, "mau") == {date(2024, 3, 31): 4.0, date(2024, 4, 1): 2.0}
    assert values(df, "dau") == {date(2024, 3, 31): 1.0, date(2024, 4, 1): 1.0}


def test_weekly_mau_is_the_month_of_the_weeks_last_day(log: Path) -> None:
    df = compute("mau,wau", data=log, from_="2024-03-25", to="2024-04-01", period="week")
    # The week of 25 March ends on Sunday 31 March (March: 4); the week of 1 April is in April (u3, u4).
    assert values(df, "mau") == {date(2024, 3, 25): 4.0, date(2024, 4, 1): 2.0}
    assert values(df, "wau") == {date(2024, 3, 25): 2.0, date(2024, 4, 1): 2.0}


def test_monthly_wau_by_group(log: Path) -> None:
    df = compute("wau", data=log, month="2024-03", by="account_id")
    got = dict(df.select("account_id", "value").rows())
    # acme: {u1, u2}, {u2}, {}, {} → 3/4; beta: {}, {}, {}, {u5, u3} → 2/4.
    assert got == {"acme": 0.75, "beta": 0.5}


def test_account_metrics_without_an_account_column(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = tmp_path / "plain"
    write_csv(folder / "events.csv", ["timestamp", "event", "user_id"], [row[:3] for row in LOG])
    for args in (["active_accounts"], ["w2wai"], ["mau", "--actor", "account"]):
        result = run("compute", *args, "--data", folder, "--month", "2024-03", "-f", "csv")
        assert result.exit_code == 1, args
        why = "--actor account" if "--actor" in args else args[0]
        assert result.stderr.splitlines()[0] == (
            f"kpi: error: events ({folder / 'events.csv'}): {why} needs account ids, and no column maps to "
            "account_id; found: timestamp, event, user_id")
    # The engagement group leaves the account metrics out rather than failing.
    result = run("compute", "engagement", "--data", folder, "--month", "2024-03", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    rows = {r["metric"]: r["value"] for r in csv.DictReader(result.stdout.splitlines())}
    assert "active_accounts" not in rows
    assert float(rows["mau"]) == 4.0
