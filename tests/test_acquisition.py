"""Acquisition and cost beyond the golden example: spend rules, fx, granularity, channels, web sessions.

Every expected number is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import Result

from kpi_cli.acquisition.channels import ChannelMap
from kpi_cli.errors import UsageError
from tests.conftest import write_csv

SPEND_HEADER = ["date", "month", "amount", "currency", "category", "channel"]


def spend_dir(tmp_path: Path, rows: list[list[str]], header: list[str] = SPEND_HEADER, toml: str = "") -> Path:
    folder = tmp_path / "data"
    write_csv(folder / "spend.csv", header, rows)
    (folder / "kpi.toml").write_text(toml)
    return folder


def values(run: Callable[..., Result], folder: Path, metrics: str, *args: str) -> dict[tuple, float | None]:
    """{(metric, period, [channel]): value} of ``kpi compute … -f json``; asserts exit 0."""
    res = run("compute", metrics, "--data", folder, "--config", folder / "kpi.toml", "--as-of", "2025-01-01",
              "-f", "json", *args)
    assert res.exit_code == 0, res.stderr
    return {(r["metric"], r["period"], *([r["channel"]] if "channel" in r else [])): r["value"]
            for r in json.loads(res.stdout)}


def rows_of(run: Callable[..., Result], folder: Path, metrics: str, *args: str) -> list[dict]:
    res = run("compute", metrics, "--data", folder, "--config", folder / "kpi.toml", "--as-of", "2025-01-01",
              "-f", "json", *args)
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


# --- spend rows ----------------------------------------------------------------------------------
def test_date_and_month_rows_sum_per_period(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = spend_dir(tmp_path, [
        ["2024-01-05", "", "100", "", "", "a"],       # a day of January, blank category = acquisition
        ["", "2024-01", "250.5", "", "acquisition", "b"],  # the month of January
        ["2024-02-29", "", "40", "", "retention", "c"],
        ["", "2024-02", "60", "", "ACQUISITION", "a"],  # category is case-insensitive
    ])
    got = values(run, folder, "acquisition_spend,retention_spend", "--from", "2024-01", "--to", "2024-02")
    assert got == {
        ("acquisition_spend", "2024-01-01"): 350.5,  # 100 + 250.5
        ("acquisition_spend", "2024-02-01"): 60.0,
        ("retention_spend", "2024-01-01"): None,  # no retention row covers January
        ("retention_spend", "2024-02-01"): 40.0,
    }


def test_quarter_sums_months(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = spend_dir(tmp_path, [["", m, "10", "", "", ""] for m in ("2024-01", "2024-02", "2024-03", "2024-04")])
    got = values(run, folder, "acquisition_spend", "--period", "quarter", "--from", "2024-01", "--to", "2024-06")
    assert got == {("acquisition_spend", "2024-01-01"): 30.0, ("acquisition_spend", "2024-04-01"): 10.0}


def test_zero_is_a_value_no_row_is_null_with_a_note(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = spend_dir(tmp_path, [["2024-01-10", "", "0", "", "", ""], ["2024-03-10", "", "5", "", "", ""]])
    res = run("compute", "acquisition_spend", "--data", folder, "--config", folder / "kpi.toml", "--from",
              "2024-01", "--to", "2024-03", "-f", "json", "-v")
    assert res.exit_code == 0, res.stderr
    assert [r["value"] for r in json.loads(res.stdout)] == [0.0, None, 5.0]
    assert "no acquisition spend data for 2024-02" in res.stderr


def test_bare_date_is_its_day_a_time_is_an_instant(run: Callable[..., Result], tmp_path: Path) -> None:
    """In New York, 2024-02-01 (a bare date) is February; 2024-02-01T03:00Z is 22:00 on 31 January."""
    folder = spend_dir(tmp_path, [["2024-02-01", "", "7", "", "", ""], ["2024-02-01T03:00:00Z", "", "11", "", "", ""]])
    got = values(run, folder, "acquisition_spend", "--tz", "America/New_York", "--from", "2024-01", "--to", "2024-02")
    assert got == {("acquisition_spend", "2024-01-01"): 11.0, ("acquisition_spend", "2024-02-01"): 7.0}


def test_monthly_rows_at_day_grain_need_prorate(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = spend_dir(tmp_path, [["", "2024-01", "3100", "", "", ""]])
    res = run("compute", "acquisition_spend", "--data", folder, "--config", folder / "kpi.toml", "--period", "day",
              "--from", "2024-01-01", "--to", "2024-01-02")
    assert res.exit_code == 2
    assert "spend has monthly granularity; use --period month|quarter|year or --spend-allocation prorate" in res.stderr


def test_prorate_spreads_months_over_their_days(run: Callable[..., Result], tmp_path: Path) -> None:
    # January 3100 over 31 days = 100 a day; February 2320 over 29 days (2024 is a leap year) = 80 a day.
    folder = spend_dir(tmp_path, [["", "2024-01", "3100", "", "", ""], ["", "2024-02", "2320", "", "", ""],
                                  ["2024-01-03", "", "1", "", "", ""]])
    got = values(run, folder, "acquisition_spend", "--period", "week", "--spend-allocation", "prorate",
                 "--from", "2024-01-01", "--to", "2024-02-04")
    assert got == pytest.approx({
        ("acquisition_spend", "2024-01-01"): 701.0,  # Mon 1 … Sun 7 January: 7 × 100, plus the date row
        ("acquisition_spend", "2024-01-08"): 700.0,
        ("acquisition_spend", "2024-01-15"): 700.0,
        ("acquisition_spend", "2024-01-22"): 700.0,
        ("acquisition_spend", "2024-01-29"): 620.0,  # 29–31 January 3 × 100 + 1–4 February 4 × 80
    })
    daily = values(run, folder, "acquisition_spend", "--period", "day", "--spend-allocation", "prorate",
                   "--from", "2024-02-10", "--to", "2024-02-10")
    assert daily == pytest.approx({("acquisition_spend", "2024-02-10"): 80.0})


def test_prorate_at_month_grain_changes_nothing(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = spend_dir(tmp_path, [["", "2024-01", "3100", "", "", ""]])
    got = values(run, folder, "acquisition_spend", "--spend-allocation", "prorate", "--month", "2024-01")
    assert got == {("acquisition_spend", "2024-01-01"): 3100.0}


@pytest.mark.parametrize(("row", "shown"), [
    (["2024-01-05", "", "-5", "", "", ""], "spend.csv:3 amount=-5 negative amount"),
    (["", "2024-13", "5", "", "", ""], "spend.csv:3 month=2024-13 not a month (YYYY-MM)"),
    (["2024-01-05", "", "5", "", "brand", ""], "spend.csv:3 category=brand category is not acquisition or retention"),
    (["", "", "5", "", "", ""], "spend.csv:3 date= missing value: a date or a month"),
])
def test_bad_spend_rows(run: Callable[..., Result], tmp_path: Path, row: list[str], shown: str) -> None:
    folder = spend_dir(tmp_path, [["2024-01-02", "", "10", "", "", ""], row])
    res = run("compute", "acquisition_spend", "--data", folder, "--config", folder / "kpi.toml", "--month", "2024-01")
    assert res.exit_code == 1
    assert shown in res.stderr
    skipped = values(run, folder, "acquisition_spend", "--month", "2024-01", "--on-bad-rows", "skip")
    assert skipped == {("acquisition_spend", "2024-01-01"): 10.0}  # the bad row left out


def test_spend_needs_a_date_or_a_month(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = spend_dir(tmp_path, [["10", "ads"]], header=["amount", "channel"])
    res = run("compute", "acquisition_spend", "--data", folder, "--config", folder / "kpi.toml", "--month", "2024-01")
    assert res.exit_code == 1
    assert "neither a date nor a month column" in res.stderr
    assert "spend.csv" in res.stderr


# --- currencies ----------------------------------------------------------------------------------
def test_fx_rate_on_or_before_the_rows_date(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = spend_dir(tmp_path, [
        ["", "2024-02", "100", "eur", "", ""],  # February's last day 29 Feb: the 1 Jan rate 1.2 → 120
        ["2024-03-10", "", "100", "EUR", "", ""],  # before 15 March: 1.2 → 120
        ["2024-03-20", "", "100", "EUR", "", ""],  # on or after 15 March: 1.3 → 130
        ["2024-03-20", "", "5", "USD", "", ""],
    ])
    write_csv(folder / "fx_rates.csv", ["date", "currency", "rate"], [["2024-01-01", "EUR", "1.2"],
                                                                      ["2024-03-15", "EUR", "1.3"]])
    got = values(run, folder, "acquisition_spend", "--currency", "USD", "--from", "2024-02", "--to", "2024-03")
    assert got == pytest.approx({("acquisition_spend", "2024-02-01"): 120.0,
                                 ("acquisition_spend", "2024-03-01"): 255.0})  # 120 + 130 + 5


def test_a_rate_only_after_the_row_is_no_rate(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = spend_dir(tmp_path, [["2024-03-10", "", "100", "USD", "", ""], ["", "2024-03", "50", "GBP", "", ""]])
    write_csv(folder / "fx_rates.csv", ["date", "currency", "rate"], [["2024-06-01", "GBP", "1.25"]])
    res = run("compute", "acquisition_spend", "--data", folder, "--config", folder / "kpi.toml", "--currency", "USD",
              "--month", "2024-03")
    assert res.exit_code == 1
    assert "spend.csv:3 currency=GBP no fx rate for GBP → USD" in res.stderr
    res = run("compute", "acquisition_spend", "--data", folder, "--config", folder / "kpi.toml", "--currency", "USD",
              "--month", "2024-03", "--on-bad-rows", "skip", "-f", "json")
    assert res.exit_code == 0, res.stderr
    assert [r["value"] for r in json.loads(res.stdout)] == [100.0]
    assert "no fx rate for GBP" in res.stderr  # the count per reason


def test_spend_alone_reports_in_its_one_currency(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = spend_dir(tmp_path, [["2024-03-10", "", "100", "EUR", "", ""]])
    got = values(run, folder, "acquisition_spend", "--month", "2024-03")
    assert got == {("acquisition_spend", "2024-03-01"): 100.0}
    write_csv(folder / "spend.csv", SPEND_HEADER, [["2024-03-10", "", "100", "EUR", "", ""],
                                                   ["2024-03-10", "", "100", "USD", "", ""]])
    res = run("compute", "acquisition_spend", "--data", folder, "--config", folder / "kpi.toml", "--month", "2024-03")
    assert res.exit_code == 2
    assert "several currencies" in res.stderr


# --- channels ------------------------------------------------------------------------------------
def test_channel_classes() -> None:
    m = ChannelMap.from_table({" Google_Ads ": "PAID", "content": "organic"})
    found = {n: m.classify(n) for n in ("google ads", "CONTENT", "Paid Search", "Organic Social", "Cross-network",
                                        "Display", "Referral", "Email", "Direct", "Affiliates", "Unassigned", "cpc",
                                        "ppc", "paid_social", "cpm", "banner", "", None)}
    assert found == {
        "google ads": "paid", "CONTENT": "organic",  # [channels] lines, trimmed, any case and separator
        "Paid Search": "paid", "Organic Social": "organic", "Cross-network": "paid", "Display": "paid",
        "Referral": "referral", "Email": "email", "Direct": "direct", "Affiliates": "other", "Unassigned": "other",
        "cpc": "paid", "ppc": "paid", "paid_social": "paid", "cpm": "paid",  # utm_medium ^(cpc|ppc|paid.*|display|cpm)$
        "banner": "other",  # named nowhere: other, never organic
        "": None, None: None,  # no channel: (unattributed)
    }


def test_a_channel_value_outside_the_six_classes() -> None:
    with pytest.raises(UsageError, match=r"\[channels\] google_ads = 'paidd' is not a channel class"):
        ChannelMap.from_table({"google_ads": "paidd"})


def test_a_bad_channels_line_is_a_usage_error(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = spend_dir(tmp_path, [["2024-03-10", "", "100", "", "", "google_ads"]],
                       toml='[channels]\ngoogle_ads = "search"\n')
    res = run("compute", "acquisition_spend", "--data", folder, "--config", folder / "kpi.toml", "--month", "2024-03")
    assert res.exit_code == 2
    assert "google_ads" in res.stderr
    assert "search" in res.stderr


def test_spend_by_channel_blank_is_unattributed(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = spend_dir(tmp_path, [["2024-03-10", "", "100", "", "", "ads"], ["2024-03-11", "", "30", "", "", ""],
                                  ["2024-04-11", "", "7", "", "", "ads"]])
    got = values(run, folder, "acquisition_spend", "--by", "channel", "--from", "2024-03", "--to", "2024-04")
    assert got == {
        ("acquisition_spend", "2024-03-01", "(unattributed)"): 30.0,
        ("acquisition_spend", "2024-03-01", "ads"): 100.0,
        ("acquisition_spend", "2024-04-01", "(unattributed)"): 0.0,  # April is covered (the ads row)
        ("acquisition_spend", "2024-04-01", "ads"): 7.0,
    }
    # A period without any row is null in every group.
    gap = values(run, folder, "acquisition_spend", "--by", "channel", "--month", "2024-05")
    assert gap == {("acquisition_spend", "2024-05-01", "(unattributed)"): None,
                   ("acquisition_spend", "2024-05-01", "ads"): None}


def test_by_a_dimension_spend_lacks_is_refused(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = spend_dir(tmp_path, [["2024-03-10", "", "100", "", "", "ads"]])
    res = run("compute", "acquisition_spend", "--data", folder, "--config", folder / "kpi.toml", "--month", "2024-03",
              "--by", "segment")
    assert res.exit_code == 2
    assert "--by segment" in res.stderr
    assert "channel" in res.stderr


# --- completeness --------------------------------------------------------------------------------
def test_spend_rows_cover_whole_days_and_months(run: Callable[..., Result], tmp_path: Path) -> None:
    """A month row covers its month: February is complete. A date row covers its day only: with the last
    row on 15 March, March is incomplete (its data end before it does)."""
    folder = spend_dir(tmp_path, [["", "2024-02", "5", "", "", ""]])
    assert [r["complete"] for r in rows_of(run, folder, "acquisition_spend", "--month", "2024-02")] == [True]
    write_csv(folder / "spend.csv", SPEND_HEADER, [["", "2024-02", "5", "", "", ""],
                                                   ["2024-03-15", "", "5", "", "", ""]])
    flags = [r["complete"] for r in rows_of(run, folder, "acquisition_spend", "--from", "2024-02", "--to", "2024-03")]
    assert flags == [True, False]


# --- web sessions --------------------------------------------------------------------------------
def test_bounce_rate_from_events_without_traffic(run: Callable[..., Result], tmp_path: Path) -> None:
    """Page-view sessions (30 min gap): a = one view (bounce); b = three views in 10 minutes (one session);
    c = two views two hours apart (two one-view sessions, both bounces); d's signup is no page view.
    4 sessions, 3 bounces → 0.75."""
    folder = tmp_path / "data"
    write_csv(folder / "events.csv", ["timestamp", "event", "user_id"], [
        ["2024-03-01T10:00:00Z", "Page Viewed", "a"],
        ["2024-03-02T10:00:00Z", "Page Viewed", "b"], ["2024-03-02T10:05:00Z", "Page Viewed", "b"],
        ["2024-03-02T10:10:00Z", "Page Viewed", "b"],
        ["2024-03-03T10:00:00Z", "Page Viewed", "c"], ["2024-03-03T12:00:00Z", "Page Viewed", "c"],
        ["2024-03-04T10:00:00Z", "Signed Up", "d"],
    ])
    (folder / "kpi.toml").write_text("")
    got = values(run, folder, "bounce_rate", "--month", "2024-03")
    assert got == {("bounce_rate", "2024-03-01"): 0.75}


def test_visitor_conversion_per_channel(run: Callable[..., Result], tmp_path: Path) -> None:
    """v1: organic then paid, signs up in the paid session; v2: organic only, no signup; v3: paid, signs up.
    Blended: 2 of 3 visitors. organic: v1, v2, neither signed up there → 0; paid: v1, v3 both → 1."""
    folder = tmp_path / "data"
    write_csv(folder / "traffic.csv", ["session_id", "visitor_id", "started_at", "pageviews", "channel", "signed_up"], [
        ["s1", "v1", "2024-03-01T10:00:00Z", "2", "organic", "false"],
        ["s2", "v1", "2024-03-05T10:00:00Z", "1", "cpc", "true"],
        ["s3", "v2", "2024-03-06T10:00:00Z", "4", "organic", ""],
        ["s4", "v3", "2024-03-07T10:00:00Z", "1", "cpc", "true"],
    ])
    (folder / "kpi.toml").write_text("")
    assert values(run, folder, "visitor_conversion_rate,bounce_rate", "--month", "2024-03") == pytest.approx({
        ("visitor_conversion_rate", "2024-03-01"): 2 / 3, ("bounce_rate", "2024-03-01"): 0.5})  # s2, s4 of 4
    by = values(run, folder, "visitor_conversion_rate", "--month", "2024-03", "--by", "channel")
    assert by == {("visitor_conversion_rate", "2024-03-01", "cpc"): 1.0,
                  ("visitor_conversion_rate", "2024-03-01", "organic"): 0.0}


# --- revenue-side parts --------------------------------------------------------------------------
def billing_dir(tmp_path: Path) -> Path:
    """A (100 since Dec, +50 expansion on 10 Jan), B new on 5 Jan at 200, C (80, Oct–Nov) back on 20 Jan
    at 80 (reactivation); January spend 1000."""
    folder = tmp_path / "data"
    write_csv(folder / "subscriptions.csv", ["customer_id", "subscription_id", "start_at", "end_at", "amount"], [
        ["A", "a", "2023-12-01", "2024-01-10", "100"], ["A", "a", "2024-01-10", "", "150"],
        ["B", "b", "2024-01-05", "", "200"],
        ["C", "c", "2023-10-01", "2023-12-01", "80"], ["C", "c2", "2024-01-20", "", "80"],
    ])
    write_csv(folder / "spend.csv", ["month", "amount"], [["2024-01", "1000"]])
    (folder / "kpi.toml").write_text("")
    return folder


def test_payback_bases(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = billing_dir(tmp_path)
    new = values(run, folder, "cac_payback_months", "--month", "2024-01", "--gross-margin", "0.5")
    assert new == {("cac_payback_months", "2024-01-01"): 10.0}  # 1000 / (200 × 0.5)
    wide = values(run, folder, "cac_payback_months", "--month", "2024-01", "--gross-margin", "0.5",
                  "--payback-basis", "new_plus_expansion")
    assert wide == {("cac_payback_months", "2024-01-01"): 1000 / (330 * 0.5)}  # (200 + 80 + 50) × 0.5


def test_ltv_cac_ratio_is_ltv_over_cac_and_warns_at_default_margin(run: Callable[..., Result], tmp_path: Path
                                                                  ) -> None:
    folder = billing_dir(tmp_path)
    res = run("compute", "ltv,cac,ltv_cac_ratio", "--data", folder, "--config", folder / "kpi.toml", "--month",
              "2024-01", "-f", "json")
    assert res.exit_code == 0, res.stderr
    got = {r["metric"]: r for r in json.loads(res.stdout)}
    assert got["cac"]["value"] == 1000.0  # 1000 / 1 new customer (B; C is a reactivation)
    # LTV: ARPA 430 / 3 (A 150, B 200, C 80) / mean churn of the periods before January with customers at
    # their start: November 0 / 1, December 1 / 1 (C's span ended 1 Dec) → 0.5; 143.33 / 0.5 = 286.67.
    assert got["ltv"]["value"] == pytest.approx(430 / 3 / 0.5)
    assert got["ltv_cac_ratio"]["value"] == pytest.approx(430 / 3 / 0.5 / 1000)
    assert "ltv_cac_ratio at --gross-margin 1.0" in res.stderr
    quiet = run("compute", "ltv_cac_ratio", "--data", folder, "--config", folder / "kpi.toml", "--month", "2024-01",
                "--gross-margin", "0.8", "-f", "json")
    assert "ltv_cac_ratio at --gross-margin 1.0" not in quiet.stderr


def test_referral_conversion(run: Callable[..., Result], tmp_path: Path) -> None:
    """Customers created in January, --within 30d, as of 2024-06-01 (every window ended):
    referred r1 pays on day 10 (hit), r2 on day 40 (too late), r3 never; not referred n1 pays on day 5,
    n2 never. Referral 1/3, non-referral 1/2. f1 is created on 2024-05-20: its window ends after the
    data horizon (the last billing instant), so May's cohort is empty (null)."""
    folder = tmp_path / "data"
    write_csv(folder / "customers.csv", ["customer_id", "created_at", "referred_by"], [
        ["r1", "2024-01-02", "x"], ["r2", "2024-01-03", "x"], ["r3", "2024-01-04", "y"],
        ["n1", "2024-01-05", ""], ["n2", "2024-01-06", ""], ["f1", "2024-05-20", "x"],
    ])
    write_csv(folder / "subscriptions.csv", ["customer_id", "subscription_id", "start_at", "end_at", "amount"], [
        ["r1", "1", "2024-01-12", "", "10"], ["r2", "2", "2024-02-12", "", "10"], ["n1", "3", "2024-01-10", "", "10"],
        ["f1", "4", "2024-05-25", "", "10"],
    ])
    (folder / "kpi.toml").write_text("")
    got = values(run, folder, "referral_conversion_rate,non_referral_conversion_rate", "--within", "30d",
                 "--from", "2024-01", "--to", "2024-05")
    assert got[("referral_conversion_rate", "2024-01-01")] == pytest.approx(1 / 3)
    assert got[("non_referral_conversion_rate", "2024-01-01")] == pytest.approx(1 / 2)
    assert got[("referral_conversion_rate", "2024-05-01")] is None


def test_paid_basis_needs_customer_channels(run: Callable[..., Result], tmp_path: Path) -> None:
    folder = billing_dir(tmp_path)
    res = run("compute", "cac", "--data", folder, "--config", folder / "kpi.toml", "--month", "2024-01",
              "--cac-basis", "paid")
    assert res.exit_code == 1
    assert "channel" in res.stderr
    assert "customers" in res.stderr


def test_cpa_by_channel_meets_blank_signups_in_one_group(run: Callable[..., Result], tmp_path: Path) -> None:
    """March spend: ads 100, no channel 50. Signups: u1, u3 on ads, u2 without a channel.
    ads 100 / 2 = 50; (unattributed) 50 / 1 = 50 — one row per group, not a spend row and a signup row."""
    folder = spend_dir(tmp_path, [["2024-03-05", "", "100", "", "", "ads"], ["2024-03-06", "", "50", "", "", ""]])
    write_csv(folder / "events.csv", ["timestamp", "event", "user_id", "channel"], [
        ["2024-03-01T10:00:00Z", "Signed Up", "u1", "ads"], ["2024-03-02T10:00:00Z", "Signed Up", "u2", ""],
        ["2024-03-03T10:00:00Z", "Signed Up", "u3", "ads"]])
    got = values(run, folder, "cpa", "--month", "2024-03", "--by", "channel")
    assert got == {("cpa", "2024-03-01", "(unattributed)"): 50.0, ("cpa", "2024-03-01", "ads"): 50.0}


def test_each_base_is_built_once(tmp_path: Path) -> None:
    """cac, crc, payback, LTV:CAC and paid_share read revenue and acquisition parts: one base each."""
    from kpi_cli.api import Run, _options, compute_run

    folder = billing_dir(tmp_path)
    write_csv(folder / "customers.csv", ["customer_id", "channel"], [["A", "ads"], ["B", "ads"], ["C", ""]])
    run = Run.start(_options(folder, {"month": "2024-01", "config": str(folder / "kpi.toml")}))
    out = compute_run("cac,crc,cac_payback_months,ltv_cac_ratio,paid_share,acquisition_spend", run)
    assert out.height == 6
    assert dict(run.info["graph"].builds) == {"revenue": 1, "acquisition": 1}


def test_spend_reports_in_the_billing_currency(run: Callable[..., Result], tmp_path: Path) -> None:
    """Billing in EUR and no --currency: spend is reported in EUR (USD 100 at 0.9 = 90, plus EUR 10)."""
    folder = spend_dir(tmp_path, [["2024-03-10", "", "100", "USD", "", ""], ["2024-03-11", "", "10", "EUR", "", ""]])
    write_csv(folder / "subscriptions.csv", ["customer_id", "subscription_id", "start_at", "amount", "currency"],
              [["A", "a", "2024-01-01", "50", "EUR"]])
    write_csv(folder / "fx_rates.csv", ["date", "currency", "rate"], [["2024-01-01", "USD", "0.9"]])
    assert values(run, folder, "acquisition_spend", "--month", "2024-03") == pytest.approx(
        {("acquisition_spend", "2024-03-01"): 100.0})  # 90 + 10
    # A billing file that cannot be read does not stop a spend-only run: the spend's currencies decide.
    write_csv(folder / "subscriptions.csv", ["customer_id", "subscription_id", "start_at", "amount", "currency"],
              [["A", "a", "not a date", "50", "EUR"]])
    write_csv(folder / "spend.csv", SPEND_HEADER, [["2024-03-11", "", "10", "EUR", "", ""]])
    assert values(run, folder, "acquisition_spend", "--month", "2024-03") == {("acquisition_spend", "2024-03-01"): 10.0}


def test_referral_from_signup_events_of_type_referred(run: Callable[..., Result], tmp_path: Path) -> None:
    """SPEC §3.2: referred_by, or signup events with type = referred (joined by account_id = customer_id).

    A (created 5 Jan) signed up referred and paid from 20 Jan, inside 90 days: referral 1 of 1. B (6 Jan)
    signed up organically and never paid: non-referral 0 of 1. Z's row carries billing to September.
    """
    folder = tmp_path / "d4"
    write_csv(folder / "customers.csv", ["customer_id", "created_at"],
              [["A", "2024-01-05T10:00:00Z"], ["B", "2024-01-06T10:00:00Z"]])
    write_csv(folder / "subscriptions.csv", ["customer_id", "subscription_id", "start_at", "end_at", "amount"],
              [["A", "a", "2024-01-20", "", "100"], ["Z", "z", "2023-01-01", "2024-09-01", "10"]])
    write_csv(folder / "events.csv", ["timestamp", "event", "user_id", "account_id", "properties"],
              [["2024-01-05T10:00:00Z", "Signed Up", "ua", "A", '{"type": "referred"}'],
               ["2024-01-06T10:00:00Z", "Signed Up", "ub", "B", '{"type": "organic"}']])
    r = run("compute", "referral_conversion_rate,non_referral_conversion_rate", "--month", "2024-01", "--data",
            folder, "--as-of", "2024-08-01", "-f", "json")
    got = {x["metric"]: (x["value"], x["numerator"], x["denominator"]) for x in json.loads(r.stdout)}
    assert got == {"referral_conversion_rate": (1.0, 1.0, 1.0), "non_referral_conversion_rate": (0.0, 0.0, 1.0)}
