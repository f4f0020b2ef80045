"""kpi report: its numbers are compute's numbers, its changes are worked out by unit (SPEC §3.5)."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kpi_cli import compute
from kpi_cli import report as report_rows
from kpi_cli.api import Run, _options
from kpi_cli.summary.build import COLUMNS, report_run, rows_frame, year_ago
from kpi_cli.summary.fmt import fmt_change, sparkline
from kpi_cli.summary.terminal import trend_text, value_text

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
KPI = [sys.executable, "-m", "kpi_cli"]
ASKED = "mrr,customers,customer_churn_rate,nrr,arpa,quick_ratio,nps,csat,tickets_per_user,dau_mau,cac"


@pytest.fixture(scope="module")
def report():
    return report_run(Run.start(_options(SAMPLE, {"month": "2024-06"})), ASKED)


@pytest.fixture(scope="module")
def computed():
    df = compute(ASKED, data=SAMPLE, from_="2023-06", to="2024-06")
    return {(m, p.isoformat()[:7]): v for m, p, v in df.select("metric", "period", "value").iter_rows()}


def test_values_previous_and_year_ago_are_computes(report, computed):
    rows = {r.metric: r for r in report.rows}
    assert set(rows) == set(ASKED.split(","))  # nps_moe is folded into nps's row
    for mid, r in rows.items():
        assert r.value == computed[(mid, "2024-06")], mid
        assert r.previous == computed[(mid, "2024-05")], mid
        assert r.year_ago == computed[(mid, "2023-06")], mid


def test_changes_by_unit_worked_out_by_hand(report, computed):
    rows = {r.metric: r for r in report.rows}
    # A ratio changes in percentage points, as a fraction: 0.0377 − 0.0402 = −0.0025 (−0.25 pp).
    churn = rows["customer_churn_rate"]
    assert churn.change_unit == "pp"
    assert churn.change == pytest.approx(computed[("customer_churn_rate", "2024-06")]
                                         - computed[("customer_churn_rate", "2024-05")], abs=1e-15)
    assert churn.yoy_change == pytest.approx(computed[("customer_churn_rate", "2024-06")]
                                             - computed[("customer_churn_rate", "2023-06")], abs=1e-15)
    # A score changes in points; a count, currency or per-user count relatively.
    assert rows["quick_ratio"].change_unit == "points"
    assert rows["nps"].change_unit == "points"
    assert rows["nps"].change == pytest.approx(computed[("nps", "2024-06")] - computed[("nps", "2024-05")])
    for mid in ("mrr", "customers", "arpa", "tickets_per_user", "cac"):
        r = rows[mid]
        assert r.change_unit == "pct", mid
        assert r.change == pytest.approx(computed[(mid, "2024-06")] / computed[(mid, "2024-05")] - 1), mid
        assert r.yoy_change == pytest.approx(computed[(mid, "2024-06")] / computed[(mid, "2023-06")] - 1), mid


def test_survey_rows_carry_n_and_margin(report, computed):
    nps = next(r for r in report.rows if r.metric == "nps")
    assert nps.moe == computed[("nps_moe", "2024-06")]
    csat = next(r for r in report.rows if r.metric == "csat")
    assert csat.n is not None
    assert csat.n > 0
    p = csat.value
    assert csat.moe == pytest.approx(1.959964 * 100 * math.sqrt(p * (1 - p) / csat.n))


def test_history_and_sections(report, computed):
    mrr = next(r for r in report.rows if r.metric == "mrr")
    # 24 periods ending at the report's; the sample starts 2023-01, so the first months are empty.
    assert [p.period.isoformat()[:7] for p in mrr.history][-13:] == [
        f"{y}-{m:02d}" for y, m in [(2023, 6), *((2023, m) for m in range(7, 13)), *((2024, m) for m in range(1, 7))]]
    assert len(mrr.history) == 24
    assert mrr.history[-1].value == computed[("mrr", "2024-06")]
    assert [r.section for r in report.rows] == sorted(
        (r.section for r in report.rows), key=["revenue", "acquisition", "engagement", "satisfaction"].index)


def test_machine_rows_have_spec_columns(report):
    df = rows_frame(report)
    assert tuple(df.columns) == COLUMNS == (
        "metric", "period", "value", "previous", "change", "change_unit", "year_ago", "yoy_change",
        "benchmark_low", "benchmark_high", "benchmark_source", "complete")
    assert df["period"].dtype == pl.Date


def test_null_has_reason():
    rep = report_run(Run.start(_options(SAMPLE, {"month": "2023-01"})), "customer_churn_rate,mrr")
    rows = {r.metric: r for r in rep.rows}
    # Before the first subscription MRR is 0: a relative change from a zero base is null, not infinite.
    assert rows["mrr"].previous == 0.0
    assert rows["mrr"].change is None
    assert rows["customer_churn_rate"].value is None
    assert rows["customer_churn_rate"].reason  # no customers at the start of the first month


def test_year_ago_by_grain():
    from datetime import date

    from kpi_cli.periods import Calendar

    assert year_ago(date(2024, 1, 1), Calendar(grain="quarter")) == date(2023, 1, 1)
    assert year_ago(date(2024, 1, 1), Calendar(grain="year")) == date(2023, 1, 1)
    assert year_ago(date(2025, 1, 6), Calendar(grain="week")) == date(2024, 1, 8)  # 52 weeks: a Monday


def test_sparkline_characters_for_a_known_series():
    # min 10, max 50: (v − 10) / 40 × 8 levels → 0, 2, 4, 6, 8 (capped at 7).
    assert sparkline([10, 20, 30, 40, 50]) == "▁▃▅▇█"
    assert sparkline([10, 20, 30, 40, 50], ascii_only=True) == "_-+#@"
    assert sparkline([None, 5, None]) == " ▄ "


def test_fmt_change_units():
    assert fmt_change(0.0125, "pp") == "+1.2 pp"  # 1.25 pp rounds to even in Python's format
    assert fmt_change(-0.5, "pct") == "−50.0%"
    assert fmt_change(12.0, "points") == "+12.0 pts"


def test_trend_marks_the_incomplete_period(report):
    mrr = next(r for r in report.rows if r.metric == "mrr")
    assert len(trend_text(mrr)) == 12
    assert "┊" not in trend_text(mrr)
    assert value_text(mrr, "USD").startswith("$")


def test_one_period_only():
    from kpi_cli.errors import UsageError

    with pytest.raises(UsageError, match="one period"):
        report_run(Run.start(_options(SAMPLE, {"from_": "2024-01", "to": "2024-03"})), "mrr")


def test_cli_csv_and_json_agree_with_api(report):
    out = subprocess.run([*KPI, "report", ASKED, "--data", str(SAMPLE), "--month", "2024-06", "-f", "csv"],
                         capture_output=True, text=True, check=True).stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert list(rows[0]) == list(COLUMNS)
    by = {r["metric"]: r for r in rows}
    for r in report.rows:
        assert float(by[r.metric]["value"]) == pytest.approx(r.value, rel=1e-12)
        assert by[r.metric]["change_unit"] == r.change_unit
    js = subprocess.run([*KPI, "report", ASKED, "--data", str(SAMPLE), "--month", "2024-06", "-f", "json"],
                        capture_output=True, text=True, check=True).stdout
    assert [o["metric"] for o in json.loads(js)] == [r["metric"] for r in rows]


def test_cli_rerun_is_byte_identical(tmp_path):
    args = [*KPI, "report", "--data", str(SAMPLE), "--month", "2024-06", "-q"]
    a = subprocess.run([*args, "-f", "csv"], capture_output=True, check=True).stdout
    b = subprocess.run([*args, "-f", "csv"], capture_output=True, check=True).stdout
    assert a == b
    assert a.count(b"\n") > 40


def test_cli_table_fits_80_columns():
    out = subprocess.run([*KPI, "report", "--data", str(SAMPLE), "--month", "2024-06", "-f", "table", "-q"],
                         capture_output=True, text=True, check=True, env={"COLUMNS": "80", "PATH": "/usr/bin"}).stdout
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "Revenue" in out
    assert "Satisfaction" in out


def test_report_on_billing_and_events_without_customer_channels(tmp_path):
    # customers.csv without channel or referred_by: compute all and report leave out the metrics that need
    # them (paid_share, unattributed_share, referral conversions) instead of failing (found by the oracle).
    for name in ("subscriptions.csv", "events.csv", "fx_rates.csv"):
        (tmp_path / name).write_bytes((SAMPLE / name).read_bytes())
    lines = (SAMPLE / "customers.csv").read_text().splitlines()
    (tmp_path / "customers.csv").write_text("\n".join(",".join(line.split(",")[:5]) for line in lines) + "\n")
    rep = report_run(Run.start(_options(tmp_path, {"month": "2024-06", "currency": "USD"})), "all")
    shown = {r.metric for r in rep.rows}
    assert {"mrr", "customer_churn_rate", "dau_mau", "new_signups"} <= shown
    assert not shown & {"paid_share", "unattributed_share", "referral_conversion_rate", "nps", "tickets"}


def test_python_api_names_stay_functions():
    # After a call has imported every module behind it, the package's names are still the functions.
    import kpi_cli

    first = kpi_cli.report("mrr", data=SAMPLE, month="2024-06")
    again = kpi_cli.report("mrr", data=SAMPLE, month="2024-06")
    from kpi_cli import report as imported

    assert callable(imported)
    assert_frame_equal(first, again)
    assert first["value"].to_list() == [compute("mrr", data=SAMPLE, month="2024-06")["value"][0]]


def test_machine_rows_put_the_band_on_the_values_scale():
    # The seed band is 5–7% a year; the report is monthly: 1 − (1 − 0.05)^(1/12) = 0.0042653…
    df = report_rows("customer_churn_rate", data=SAMPLE, month="2024-06")
    assert df["benchmark_low"][0] == pytest.approx(1 - 0.95 ** (1 / 12), rel=1e-12)
    assert df["benchmark_high"][0] == pytest.approx(1 - 0.93 ** (1 / 12), rel=1e-12)


def test_the_benchmark_band_does_not_depend_on_asking_for_arpa():
    a = report_rows("nrr_ttm", data=SAMPLE, month="2024-06")
    b = report_rows("nrr_ttm,arpa", data=SAMPLE, month="2024-06")
    assert a["benchmark_source"][0] == b["benchmark_source"][0]


def test_the_default_period_is_complete_for_every_family():
    # Events end on 2024-12-31 before December does: the whole report's default is November.
    rep = report_run(Run.start(_options(SAMPLE, {"config": str(SAMPLE / "kpi.toml")})), "mrr,dau_mau,nps")
    assert {r.period.isoformat() for r in rep.rows} == {"2024-11-01"}
    assert all(r.complete for r in rep.rows)


def test_a_format_clash_fails_before_the_html_is_written(tmp_path):
    page = tmp_path / "r.html"
    proc = subprocess.run([*KPI, "report", "mrr", "--data", str(SAMPLE), "--month", "2024-06", "--html", str(page),
                           "-f", "csv", "-o", str(tmp_path / "x.xlsx")], capture_output=True, text=True)
    assert proc.returncode == 2
    assert not page.exists()


def test_html_alone_leaves_stdout_empty_and_names_the_file(tmp_path):
    page = tmp_path / "r.html"
    proc = subprocess.run([*KPI, "report", "mrr,nps", "--data", str(SAMPLE), "--month", "2024-06", "--html",
                           str(page)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == ""
    assert f"wrote {page}" in proc.stderr
    assert page.read_text().startswith("<!DOCTYPE html>")
