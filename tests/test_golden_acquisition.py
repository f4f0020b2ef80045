"""The golden acquisition example of research/acquisition-support-report.md §1.13, verbatim, through the CLI.

Input (§1.13): eight ``month`` spend rows (one in EUR), ``fx_rates`` EUR→USD 1.10 on 2024-02-29,
the channel map google_ads, linkedin → paid, content → organic; new customers Jan 10 (google 4,
linkedin 2, content 3, one without a channel; new MRR 2000), Feb 8 (google 3, linkedin 1, content 4;
new MRR 1760); customers at the start of Jan 95 (5 churn in Jan) and Feb 100 (4 churn in Feb);
signups 120 (Jan) and 130 (Feb); January traffic: 4,000 distinct visitors, 120 of whom signed up,
6,000 sessions, 2,700 with ≤ 1 page view, 900 of those lasting > 10 s or with a key event. USD
reporting currency, gross margin 0.8.

The billing, customer, event and traffic files below are built to have exactly those counts; every
expected value is the research table's, with its working in the comment beside it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from typer.testing import Result

from tests.conftest import write_csv

JAN, FEB = date(2024, 1, 1), date(2024, 2, 1)
SPEND = [  # §1.13 verbatim: month, category, channel, amount, currency
    ["2024-01", "acquisition", "google_ads", "3000", "USD"],
    ["2024-01", "acquisition", "linkedin", "2000", "USD"],
    ["2024-01", "acquisition", "content", "1000", "USD"],
    ["2024-01", "retention", "cs_tools", "500", "USD"],
    ["2024-02", "acquisition", "google_ads", "3000", "USD"],
    ["2024-02", "acquisition", "linkedin", "1000", "EUR"],  # line 7 of spend.csv (header is line 1)
    ["2024-02", "acquisition", "content", "1000", "USD"],
    ["2024-02", "retention", "cs_tools", "500", "USD"],
]
CHANNELS_TOML = '[channels]\ngoogle_ads = "paid"\nlinkedin = "paid"\ncontent = "organic"\n'


def _billing(folder: Path) -> None:
    """95 customers paying 100/month since 2023-06-01; 5 end inside Jan, 4 inside Feb; 10 new in Jan at
    200 (new MRR 2000, ASP 200), 8 new in Feb at 220 (new MRR 1760, ASP 220)."""
    subs, customers = [], []
    for i in range(95):
        end = "2024-01-15" if i < 5 else "2024-02-10" if i < 9 else ""
        subs.append([f"old{i:02d}", f"s_old{i:02d}", "2023-06-01", end, "100", "USD"])
        customers.append([f"old{i:02d}", "content"])
    jan = ["google_ads"] * 4 + ["linkedin"] * 2 + ["content"] * 3 + [""]
    for i, channel in enumerate(jan):
        subs.append([f"jan{i}", f"s_jan{i}", f"2024-01-{10 + i:02d}", "", "200", "USD"])
        customers.append([f"jan{i}", channel])
    feb = ["google_ads"] * 3 + ["linkedin"] + ["content"] * 4
    for i, channel in enumerate(feb):
        subs.append([f"feb{i}", f"s_feb{i}", f"2024-02-{5 + i:02d}", "", "220", "USD"])
        customers.append([f"feb{i}", channel])
    write_csv(folder / "subscriptions.csv", ["customer_id", "subscription_id", "start_at", "end_at", "amount",
                                             "currency"], subs)
    write_csv(folder / "customers.csv", ["customer_id", "channel"], customers)


def _events(folder: Path) -> None:
    """120 distinct users sign up in January, 130 in February (first signup events)."""
    rows = [[f"2024-01-{1 + i % 28:02d}T10:00:00Z", "Signed Up", f"u_jan{i}"] for i in range(120)]
    rows += [[f"2024-02-{1 + i % 28:02d}T10:00:00Z", "Signed Up", f"u_feb{i}"] for i in range(130)]
    write_csv(folder / "events.csv", ["timestamp", "event", "user_id"], rows)


def _traffic(folder: Path) -> None:
    """January only. 4,000 visitors: each has a first session, visitors 0–1,999 a second one (6,000).
    Sessions 0–2,699 have one page view: 0–599 last 30 s, 600–899 last 5 s with a key event (900
    engaged), 900–2,699 last 5 s (1,800 not engaged); the other 3,300 have 3 page views. Visitors
    0–119 sign up in their first session (120 converted visitors)."""
    rows = []
    sessions = [(v, 0) for v in range(4000)] + [(v, 1) for v in range(2000)]
    for n, (visitor, k) in enumerate(sessions):
        pageviews = 1 if n < 2700 else 3
        duration = 30 if n < 600 else 5
        key_event = "true" if 600 <= n < 900 else "false"
        signed = "true" if k == 0 and visitor < 120 else "false"
        started = f"2024-01-{1 + n % 30:02d}T{n % 24:02d}:00:00Z"
        rows.append([f"w{n}", f"v{visitor}", started, str(pageviews), str(duration), key_event, signed])
    write_csv(folder / "traffic.csv", ["session_id", "visitor_id", "started_at", "pageviews", "duration_s",
                                       "key_event", "signed_up"], rows)


@pytest.fixture
def golden(tmp_path: Path) -> Path:
    """The §1.13 data folder with its kpi.toml (the channel map)."""
    folder = tmp_path / "acq"
    write_csv(folder / "spend.csv", ["month", "category", "channel", "amount", "currency"], SPEND)
    write_csv(folder / "fx_rates.csv", ["date", "currency", "rate"], [["2024-02-29", "EUR", "1.10"]])
    _billing(folder)
    _events(folder)
    _traffic(folder)
    (folder / "kpi.toml").write_text(CHANNELS_TOML)
    return folder


def compute(run: Callable[..., Result], folder: Path, metrics: str, *extra: str) -> dict[tuple, float | None]:
    """``kpi compute METRICS --from 2024-01 --to 2024-02 -f json`` → {(metric, period, [channel]): value}."""
    res = run("compute", metrics, "--data", folder, "--config", folder / "kpi.toml", "--from", "2024-01",
              "--to", "2024-02", "--gross-margin", "0.8", "--as-of", "2024-06-01", "-f", "json", *extra)
    assert res.exit_code == 0, res.stderr
    out = {}
    for row in json.loads(res.stdout):
        key = (row["metric"], date.fromisoformat(row["period"]), *([row["channel"]] if "channel" in row else []))
        out[key] = row["value"]
    return out


def test_spend_cac_cpa_payback_crc(run: Callable[..., Result], golden: Path) -> None:
    got = compute(run, golden, "acquisition_spend,retention_spend,cac,cpa,cac_payback_months,crc")
    expected = {
        ("acquisition_spend", JAN): 6000.0,  # 3000 + 2000 + 1000
        ("acquisition_spend", FEB): 5100.0,  # 3000 + 1000 EUR × 1.10 + 1000
        ("retention_spend", JAN): 500.0,
        ("retention_spend", FEB): 500.0,
        ("cac", JAN): 600.0,  # 6000 / 10
        ("cac", FEB): 637.5,  # 5100 / 8
        ("cpa", JAN): 50.0,  # 6000 / 120
        ("cpa", FEB): 5100 / 130,  # 39.23
        ("cac_payback_months", JAN): 3.75,  # 6000 / (2000 × 0.8) = 600 / (200 × 0.8)
        ("cac_payback_months", FEB): 5100 / (1760 * 0.8),  # 3.622
        ("crc", JAN): 500 / 90,  # 500 / (95 − 5) = 5.556
        ("crc", FEB): 500 / 96,  # 500 / (100 − 4) = 5.208
    }
    assert got.keys() == expected.keys()
    for k, v in expected.items():
        assert got[k] == pytest.approx(v, rel=1e-12), k


def test_cac_lag_one(run: Callable[..., Result], golden: Path) -> None:
    got = compute(run, golden, "cac", "--cac-lag", "1")
    assert got[("cac", JAN)] is None  # no December spend row
    assert got[("cac", FEB)] == pytest.approx(750.0)  # January's 6000 / February's 8


def test_paid_cac(run: Callable[..., Result], golden: Path) -> None:
    got = compute(run, golden, "cac", "--cac-basis", "paid")
    assert got[("cac", JAN)] == pytest.approx(5000 / 6)  # (3000 + 2000) / (4 + 2) = 833.33
    assert got[("cac", FEB)] == pytest.approx(1025.0)  # (3000 + 1100) / (3 + 1)


def test_cac_by_channel(run: Callable[..., Result], golden: Path) -> None:
    got = compute(run, golden, "cac", "--by", "channel")
    assert got == pytest.approx({
        ("cac", JAN, "(unattributed)"): None,  # 1 customer, no spend rows
        ("cac", JAN, "content"): 1000 / 3,  # 333.33
        ("cac", JAN, "google_ads"): 750.0,  # 3000 / 4
        ("cac", JAN, "linkedin"): 1000.0,  # 2000 / 2
        ("cac", FEB, "(unattributed)"): None,  # no customers, no spend rows
        ("cac", FEB, "content"): 250.0,  # 1000 / 4
        ("cac", FEB, "google_ads"): 1000.0,  # 3000 / 3
        ("cac", FEB, "linkedin"): 1100.0,  # 1000 EUR × 1.10 / 1
    })


def test_by_channel_sums_equal_blended(run: Callable[..., Result], golden: Path) -> None:
    """Spend and new-customer counts over channels ((unattributed) included) add up to the blended ones."""
    res = run("compute", "cac", "--data", golden, "--config", golden / "kpi.toml", "--from", "2024-01", "--to",
              "2024-02", "--by", "channel", "-f", "json")
    rows = json.loads(res.stdout)
    for period, spend, customers in (("2024-01-01", 6000.0, 10.0), ("2024-02-01", 5100.0, 8.0)):
        mine = [r for r in rows if r["period"] == period]
        assert sum(r["numerator"] or 0 for r in mine) == pytest.approx(spend)
        assert sum(r["denominator"] for r in mine) == customers


def test_shares_signups_and_web(run: Callable[..., Result], golden: Path) -> None:
    got = compute(run, golden, "paid_share,unattributed_share,signup_growth_rate,visitor_conversion_rate,"
                  "bounce_rate")
    assert got == pytest.approx({
        ("paid_share", JAN): 6 / 9,  # (google 4 + linkedin 2) / 9 with a known channel
        ("paid_share", FEB): 4 / 8,  # (3 + 1) / 8
        ("unattributed_share", JAN): 1 / 10,
        ("unattributed_share", FEB): 0.0,
        ("signup_growth_rate", JAN): None,  # no signups before January
        ("signup_growth_rate", FEB): 10 / 120,  # (130 − 120) / 120 = +8.33 %
        ("visitor_conversion_rate", JAN): 0.03,  # 120 / 4000
        ("visitor_conversion_rate", FEB): None,  # no traffic in February
        ("bounce_rate", JAN): 0.45,  # 2700 / 6000
        ("bounce_rate", FEB): None,
    })


def test_ga4_bounce(run: Callable[..., Result], golden: Path) -> None:
    got = compute(run, golden, "bounce_rate", "--bounce", "ga4")
    assert got[("bounce_rate", JAN)] == pytest.approx(0.30)  # (2700 − 900) / 6000


def test_monthly_spend_at_week_grain_is_a_usage_error(run: Callable[..., Result], golden: Path) -> None:
    res = run("compute", "acquisition_spend", "--data", golden, "--config", golden / "kpi.toml", "--period", "week",
              "--from", "2024-01-01", "--to", "2024-01-31")
    assert res.exit_code == 2
    assert "spend has monthly granularity; use --period month|quarter|year or --spend-allocation prorate" in res.stderr


def test_missing_eur_rate_is_a_bad_row(run: Callable[..., Result], golden: Path) -> None:
    (golden / "fx_rates.csv").unlink()
    res = run("compute", "acquisition_spend", "--data", golden, "--config", golden / "kpi.toml", "--from",
              "2024-01", "--to", "2024-02")
    assert res.exit_code == 1
    assert "spend.csv:7 currency=EUR no fx rate" in res.stderr
