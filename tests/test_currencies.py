"""Currencies: case-insensitive codes, rows without a rate as bad rows, the reporting currency
inferred from fx_rates, and ``--by currency`` in each currency's own units (issue 7: A2, A11, D)."""

from __future__ import annotations

import csv
from collections.abc import Callable
from pathlib import Path

from typer.testing import Result

from tests.conftest import write_csv

HEADER = ["customer_id", "subscription_id", "start_at", "end_at", "amount", "currency"]
ROWS = [
    ["A", "a1", "2023-01-01", "", "100", "USD"],
    ["B", "b1", "2023-01-01", "", "50", "eur"],
    ["C", "c1", "2023-01-01", "", "70", "usd"],
]
ROOT = Path(__file__).resolve().parent.parent


def _data(tmp_path: Path, fx: list[list[str]] | None = None) -> Path:
    folder = tmp_path / "d"
    write_csv(folder / "subscriptions.csv", HEADER, ROWS)
    if fx is not None:
        write_csv(folder / "fx_rates.csv", ["date", "currency", "rate"], fx)
    return folder


def _values(result: Result) -> dict[tuple[str, ...], float]:
    rows = list(csv.DictReader(result.stdout.splitlines()))
    out = {}
    for r in rows:
        key = tuple(v for k, v in r.items() if k not in ("value", "numerator", "denominator", "complete"))
        out[key] = float(r["value"])
    return out


def test_currency_codes_are_case_insensitive(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = tmp_path / "one"
    write_csv(folder / "subscriptions.csv", HEADER, [ROWS[0], ROWS[2]])
    result = run("compute", "mrr", "--data", folder, "--month", "2023-03", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert _values(result) == {("mrr", "2023-03-01"): 170.0}


def test_a_currency_without_rate_is_a_bad_row_with_its_line(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = _data(tmp_path)
    result = run("compute", "mrr", "--data", folder, "--month", "2023-03", "--currency", "USD", "-f", "csv")
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert lines[0] == "kpi: error: 1 bad row in subscriptions"
    where = folder / "subscriptions.csv"
    assert lines[1] == f"  {where}:3 currency=eur no fx rate for EUR → USD (there is no fx_rates source)"


def test_skipped_rows_without_rate_are_counted_and_rejected(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = _data(tmp_path, fx=[["2023-01-01", "GBP", "1.2"]])
    rejects = tmp_path / "rejects.csv"
    result = run("compute", "mrr", "--data", folder, "--month", "2023-03", "--currency", "usd", "-f", "csv",
                 "--on-bad-rows", "skip", "--rejects", rejects)
    assert result.exit_code == 0, result.stderr
    assert _values(result) == {("mrr", "2023-03-01"): 170.0}
    assert "kpi: skipped 1 bad row in subscriptions: 1 no fx rate for EUR → USD (fx_rates has none)" in result.stderr
    rows = list(csv.DictReader(rejects.read_text().splitlines()))
    assert len(rows) == 1
    assert (rows[0]["line"], rows[0]["customer_id"], rows[0]["currency"], rows[0]["reason"]) == (
        "3", "B", "eur", "no fx rate for EUR → USD (fx_rates has none)")


def test_reporting_currency_is_the_one_fx_rates_converts_into(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = _data(tmp_path, fx=[["2023-01-01", "EUR", "1.1"]])
    result = run("compute", "mrr", "--data", folder, "--month", "2023-03", "-f", "csv", "-v")
    assert result.exit_code == 0, result.stderr
    assert _values(result) == {("mrr", "2023-03-01"): 225.0}  # 100 + 70 + 50 × 1.1
    assert "kpi: reporting currency USD: the one billing currency fx_rates converts into" in result.stderr


def test_several_currencies_without_a_way_to_choose(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = _data(tmp_path)
    result = run("compute", "mrr", "--data", folder, "--month", "2023-03", "-f", "csv")
    assert result.exit_code == 2
    assert "kpi: error: billing data has several currencies (EUR, USD)" in result.stderr
    assert "--by currency" in result.stderr


def test_by_currency_reports_each_currency_in_itself(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = _data(tmp_path)
    result = run("compute", "mrr,customers", "--data", folder, "--month", "2023-03", "--by", "currency", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert _values(result) == {
        ("mrr", "2023-03-01", "EUR"): 50.0, ("mrr", "2023-03-01", "USD"): 170.0,
        ("customers", "2023-03-01", "EUR"): 1.0, ("customers", "2023-03-01", "USD"): 2.0,
    }


def test_by_currency_with_a_reporting_currency_converts(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = _data(tmp_path, fx=[["2023-01-01", "EUR", "1.1"]])
    result = run("compute", "mrr", "--data", folder, "--month", "2023-03", "--by", "currency", "--currency", "USD",
                 "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert _values(result) == {("mrr", "2023-03-01", "EUR"): 55.0, ("mrr", "2023-03-01", "USD"): 170.0}


def test_sample_data_runs_without_currency_option(run: Callable[..., Result]) -> None:
    plain = run("compute", "mrr", "--month", "2023-03", "-f", "csv", env={"KPI_DATA": str(ROOT / "sample_data")})
    explicit = run("compute", "mrr", "--month", "2023-03", "--currency", "USD", "-f", "csv",
                   "--data", ROOT / "sample_data")
    assert plain.exit_code == 0, plain.stderr
    assert plain.stdout == explicit.stdout
