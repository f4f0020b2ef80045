"""Billing-export presets and header matching (SPEC §1.1, research/revenue.md §5).

Each export below uses the headers the research found for that vendor, with 2–4 customers whose
month-end MRR is worked out by hand in the comment above the assertion (SPEC §3.1: amount × quantity ÷
interval months; trialing spans and instants before ``trial_end_at`` are worth 0; ``end_at`` is
exclusive). Chargebee, Recurly and Baremetrics export cents (``amount_unit = "minor"`` via the preset).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from conftest import BAREMETRICS_HEADER, write_csv

FEB, MAR = "2023-02-01", "2023-03-01"


def configure(folder: Path, toml: str) -> None:
    """Write ``kpi.toml`` in the working directory of ``run`` (the test's tmp_path)."""
    (folder / "kpi.toml").write_text(toml)


def compute(run, data: Path, metrics: str = "mrr,customers") -> tuple[dict[tuple[str, str], float], str]:
    """Feb–Mar 2023 values of ``metrics`` keyed by (metric, period), and stderr."""
    result = run("compute", metrics, "--from", "2023-02", "--to", "2023-03", "--data", data, "-f", "csv")
    assert result.exit_code == 0, result.stderr
    rows = csv.DictReader(io.StringIO(result.stdout))
    return {(r["metric"], r["period"]): float(r["value"]) for r in rows}, result.stderr


def test_stripe_dashboard_export(run, tmp_path):
    data = tmp_path / "stripe"
    write_csv(
        data / "subscriptions.csv",
        [
            "id",
            "Customer ID",
            "Status",
            "Start (UTC)",
            "Canceled At (UTC)",
            "Ended At (UTC)",
            "Trial End (UTC)",
            "Amount",
            "Interval",
            "Quantity",
            "Currency",
            "Plan",
        ],
        [
            ["sub_1", "cus_1", "active", "2023-01-05 10:00", "", "", "", "49.00", "month", "1", "usd", "Basic"],
            ["sub_2", "cus_2", "active", "2023-02-10 08:30", "", "", "", "1200.00", "year", "2", "usd", "Pro"],
            [
                "sub_3",
                "cus_3",
                "canceled",
                "2023-01-15 12:00",
                "2023-03-01 09:00",
                "2023-03-10 00:00",
                "",
                "29.00",
                "month",
                "1",
                "usd",
                "Starter",
            ],
            [
                "sub_4",
                "cus_4",
                "trialing",
                "2023-03-20 00:00",
                "",
                "",
                "2023-04-03 00:00",
                "99.00",
                "month",
                "1",
                "usd",
                "Team",
            ],
        ],
    )
    configure(tmp_path, '[sources.subscriptions]\npreset = "stripe"\n')
    got, stderr = compute(run, data)
    # Stripe's Amount is in major units.
    # cus_1: 49 / month = 49; cus_2: 1200 × 2 seats / 12 = 200 (from 10 Feb);
    # cus_3: 29 until it ended 10 Mar; cus_4: trialing until 3 Apr → 0 at the end of March.
    # Feb: 49 + 200 + 29 = 278 (3 paying); Mar: 49 + 200 = 249 (2 paying).
    assert got["mrr", FEB] == pytest.approx(278)
    assert got["mrr", MAR] == pytest.approx(249)
    assert got["customers", FEB] == 3
    assert got["customers", MAR] == 2
    # A Dashboard subscriptions export is a current-state snapshot (research/revenue.md §5.1).
    assert "snapshot" in stderr.lower()
    assert "warning" in stderr.lower()


def test_chargebee_export_unix_seconds_and_cents(run, tmp_path):
    data = tmp_path / "chargebee"
    write_csv(
        data / "subscriptions.csv",
        [
            "id",
            "customer_id",
            "plan_id",
            "plan_quantity",
            "plan_unit_price",
            "billing_period",
            "billing_period_unit",
            "currency_code",
            "status",
            "trial_end",
            "started_at",
            "cancelled_at",
        ],
        [
            # 1672876800 = 2023-01-05, 1675987200 = 2023-02-10, 1673740800 = 2023-01-15,
            # 1678406400 = 2023-03-10, 1679270400 = 2023-03-20, 1680480000 = 2023-04-03 (all 00:00 UTC)
            ["sub_1", "cus_1", "basic", "1", "4900", "1", "month", "USD", "active", "", "1672876800", ""],
            ["sub_2", "cus_2", "pro", "2", "30000", "3", "month", "USD", "active", "", "1675987200", ""],
            [
                "sub_3",
                "cus_3",
                "starter",
                "1",
                "2900",
                "1",
                "month",
                "USD",
                "cancelled",
                "",
                "1673740800",
                "1678406400",
            ],
            ["sub_4", "cus_4", "team", "1", "9900", "1", "month", "USD", "in_trial", "1680480000", "1679270400", ""],
        ],
    )
    configure(tmp_path, '[sources.subscriptions]\npreset = "chargebee"\n')
    got, _ = compute(run, data)
    # Cents: cus_1 4900 → 49 / month; cus_2 30000 → 300 per 3 months × 2 = 200 / month (from 10 Feb);
    # cus_3 2900 → 29 until cancelled 10 Mar; cus_4 in_trial until 3 Apr → 0.
    # Feb: 49 + 200 + 29 = 278 (3 paying); Mar: 49 + 200 = 249 (2 paying).
    assert got["mrr", FEB] == pytest.approx(278)
    assert got["mrr", MAR] == pytest.approx(249)
    assert got["customers", FEB] == 3
    assert got["customers", MAR] == 2


def test_recurly_export(run, tmp_path):
    data = tmp_path / "recurly"
    write_csv(
        data / "subscriptions.csv",
        [
            "uuid",
            "account_code",
            "plan_code",
            "state",
            "unit_amount_in_cents",
            "currency",
            "quantity",
            "activated_at",
            "canceled_at",
            "expires_at",
            "trial_ends_at",
        ],
        [
            ["3a1f0001", "acct_1", "basic", "active", "4900", "USD", "1", "2023-01-05T10:00:00Z", "", "", ""],
            ["3a1f0002", "acct_2", "pro", "active", "10000", "USD", "3", "2023-02-10T08:30:00Z", "", "", ""],
            [
                "3a1f0003",
                "acct_3",
                "starter",
                "expired",
                "2900",
                "USD",
                "1",
                "2023-01-15T12:00:00Z",
                "2023-02-20T09:00:00Z",
                "2023-03-15T12:00:00Z",
                "",
            ],
            [
                "3a1f0004",
                "acct_4",
                "team",
                "active",
                "9900",
                "USD",
                "1",
                "2023-03-20T00:00:00Z",
                "",
                "",
                "2023-04-03T00:00:00Z",
            ],
        ],
    )
    configure(tmp_path, '[sources.subscriptions]\npreset = "recurly"\n')
    got, _ = compute(run, data)
    # No interval column → monthly. acct_1: 4900¢ = 49; acct_2: 100 × 3 = 300 (from 10 Feb);
    # acct_3: 29 until it expired 15 Mar (cancelled 20 Feb, churn at the end of the paid period);
    # acct_4: in trial until 3 Apr → 0 at the end of March.
    # Feb: 49 + 300 + 29 = 378 (3 paying); Mar: 49 + 300 = 349 (2 paying).
    assert got["mrr", FEB] == pytest.approx(378)
    assert got["mrr", MAR] == pytest.approx(349)
    assert got["customers", FEB] == 3
    assert got["customers", MAR] == 2


BAREMETRICS_ROWS = [
    ["p_basic", "Basic", "usd", "4900", "month", "1", "cus_1", "Acme", "a@acme.test", "sub_1", "2023-01-05", "", "1"],
    ["p_pro", "Pro", "usd", "120000", "year", "1", "cus_2", "Beta", "b@beta.test", "sub_2", "2023-02-10", "", "3"],
    [
        "p_basic",
        "Basic",
        "usd",
        "4900",
        "month",
        "1",
        "cus_3",
        "Gamma",
        "g@gamma.test",
        "sub_3",
        "2023-01-15",
        "2023-03-10",
        "2",
    ],
    ["p_team", "Team", "usd", "29900", "month", "3", "cus_4", "Delta", "d@delta.test", "sub_4", "2023-03-20", "", "1"],
]


def test_baremetrics_import_template(run, tmp_path):
    data = tmp_path / "baremetrics"
    write_csv(data / "subscriptions.csv", BAREMETRICS_HEADER, BAREMETRICS_ROWS)
    configure(tmp_path, '[sources.subscriptions]\npreset = "baremetrics"\n')
    got, _ = compute(run, data)
    # Cents. cus_1: 49 / month; cus_2: 1200 / year × 3 = 3600 / 12 = 300 (from 10 Feb);
    # cus_3: 49 × 2 = 98 until cancelled 10 Mar; cus_4: 299 per 3 months = 99.666… (from 20 Mar).
    # Feb: 49 + 300 + 98 = 447 (3 paying); Mar: 49 + 300 + 299/3 = 448.666… (3 paying).
    assert got["mrr", FEB] == pytest.approx(447)
    assert got["mrr", MAR] == pytest.approx(349 + 299 / 3)
    assert got["customers", FEB] == 3
    assert got["customers", MAR] == 3


def test_amount_unit_in_config_overrides_the_preset(run, tmp_path):
    data = tmp_path / "baremetrics"
    major = [[*r[:3], str(int(r[3]) / 100), *r[4:]] for r in BAREMETRICS_ROWS]  # "49.0", "1200.0", …
    write_csv(data / "subscriptions.csv", BAREMETRICS_HEADER, major)
    configure(tmp_path, '[sources.subscriptions]\npreset = "baremetrics"\namount_unit = "major"\n')
    got, _ = compute(run, data)
    assert got["mrr", FEB] == pytest.approx(447)  # same numbers as the cents file above


def test_custom_column_mapping(run, tmp_path):
    data = tmp_path / "custom"
    write_csv(
        data / "subscriptions.csv",
        ["account", "contract", "begins", "finishes", "fee", "cycle", "seats"],
        [
            ["acme", "k1", "2023-01-01", "", "90", "quarter", "1"],
            ["beta", "k2", "2023-02-01", "2023-03-15", "10", "month", "4"],
            ["gamma", "k3", "2023-03-01", "", "600", "year", "1"],
        ],
    )
    configure(
        tmp_path,
        "\n".join(
            [
                "[sources.subscriptions.columns]",
                'customer_id = "account"',
                'subscription_id = "contract"',
                'start_at = "begins"',
                'end_at = "finishes"',
                'amount = "fee"',
                'interval = "cycle"',
                'quantity = "seats"',
                "",
            ]
        ),
    )
    got, _ = compute(run, data)
    # acme: 90 per quarter = 30; beta: 10 × 4 seats = 40 until 15 Mar; gamma: 600 / 12 = 50 from 1 Mar.
    # Feb: 30 + 40 = 70 (2 paying); Mar: 30 + 50 = 80 (2 paying).
    assert got["mrr", FEB] == pytest.approx(70)
    assert got["mrr", MAR] == pytest.approx(80)
    assert got["customers", FEB] == 2
    assert got["customers", MAR] == 2


def test_mapping_to_a_missing_header_is_a_one_line_error(run, tmp_path):
    data = tmp_path / "custom"
    write_csv(
        data / "subscriptions.csv", ["account", "contract", "begins", "fee"], [["acme", "k1", "2023-01-01", "90"]]
    )
    configure(
        tmp_path,
        '[sources.subscriptions.columns]\ncustomer_id = "account"\nsubscription_id = "contract"\n'
        'start_at = "begins"\namount = "price"\n',
    )
    result = run("compute", "mrr", "--month", "2023-03", "--data", data)
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("kpi: error:")]
    assert len(errors) == 1
    assert "price" in errors[0]
    assert "fee" in errors[0]  # what the file has instead


def test_headers_match_case_and_punctuation_insensitively(run, tmp_path):
    data = tmp_path / "messy"
    write_csv(
        data / "subscriptions.csv",
        ["Customer ID", "Subscription-Id", "START_AT", "End At", "AMOUNT", "Interval", "interval count", "Quantity"],
        [
            ["c1", "s1", "2023-01-01", "", "120", "year", "1", "1"],
            ["c2", "s2", "2023-02-01", "", "25", "month", "1", "2"],
            ["c3", "s3", "2023-01-01", "2023-03-01", "300", "month", "3", "1"],
        ],
    )
    got, _ = compute(run, data)  # no kpi.toml, no preset
    # c1: 120 / 12 = 10; c2: 25 × 2 = 50 from 1 Feb; c3: 300 / 3 = 100 until 1 Mar (exclusive).
    # Feb: 10 + 50 + 100 = 160 (3 paying); Mar: 10 + 50 = 60 (2 paying).
    assert got["mrr", FEB] == pytest.approx(160)
    assert got["mrr", MAR] == pytest.approx(60)
    assert got["customers", FEB] == 3
    assert got["customers", MAR] == 2
