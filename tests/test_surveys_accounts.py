"""NPS per account (SPEC §3.4): ``--nps-unit account``, ``--nps-weight mrr`` and ``nps_coverage_mrr``.

One small company, worked by hand. MRR at the end of January 2024 (monthly plans, USD):
a1 100, a2 300, a3 0 (its subscription ended January 15), a4 100, a5 500 (never answers) → 1000.
January's nps responses:
  a1: u1 10, u2 9   → median 9.5 → promoter
  a2: u3 3          → detractor
  a3: u4 10         → promoter
  a4: u5 8, u6 7    → median 7.5 → passive
  no account: u7 0  → left out of every account-level figure
"""

from __future__ import annotations

import math
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kpi_cli import compute
from kpi_cli.errors import UsageError
from tests.conftest import write_csv

AS_OF = "2024-12-01"
RESPONSES = [("u1", "a1", 10), ("u2", "a1", 9), ("u3", "a2", 3), ("u4", "a3", 10), ("u5", "a4", 8),
             ("u6", "a4", 7), ("u7", "", 0)]


@pytest.fixture
def company(tmp_path: Path) -> Path:
    write_csv(tmp_path / "surveys.csv", ["responded_at", "score", "survey", "respondent_id", "account_id"],
              [["2024-01-10", str(s), "nps", u, a] for u, a, s in RESPONSES]
              # u1 answered before too: the later 10 above is the one that counts.
              + [["2024-01-02", "2", "nps", "u1", "a1"]])
    write_csv(tmp_path / "subscriptions.csv", ["customer_id", "subscription_id", "start_at", "end_at", "amount"], [
        ["a1", "s1", "2023-12-01", "", "100"],
        ["a2", "s2", "2024-01-10", "", "300"],
        ["a3", "s3", "2023-06-01", "2024-01-15", "250"],
        ["a4", "s4", "2023-06-01", "", "100"],
        ["a5", "s5", "2023-01-01", "", "500"],
    ])
    write_csv(tmp_path / "customers.csv", ["customer_id", "segment"],
              [["a1", "smb"], ["a2", "enterprise"], ["a3", "smb"], ["a4", "smb"], ["a5", "enterprise"]])
    return tmp_path


def row(frame: pl.DataFrame, metric: str) -> tuple[float | None, ...]:
    rows = frame.filter(pl.col("metric") == metric)
    assert rows.height == 1, rows
    return rows.select("value", "numerator", "denominator").row(0)


def test_respondent_nps_of_the_company(company: Path) -> None:
    # Respondents u1 P, u2 P, u3 D, u4 P, u5 –, u6 –, u7 D → n = 7, 100 × (3 − 2) / 7.
    got = compute("nps", data=company, month="2024-01", as_of=AS_OF)
    assert row(got, "nps") == pytest.approx((100 / 7, 1.0, 7.0))


def test_nps_unit_account_medians_each_account(company: Path) -> None:
    # Accounts a1 P, a2 D, a3 P, a4 passive → n = 4, 100 × (2 − 1) / 4 = 25.
    got = compute("nps", data=company, month="2024-01", as_of=AS_OF, nps_unit="account")
    assert row(got, "nps") == (25.0, 1.0, 4.0)
    # p = .5, d = .25: 1.96 × 100 × √((0.75 − 0.0625) / 4) = 81.26.
    assert row(got, "nps_moe")[0] == pytest.approx(196 * math.sqrt(0.6875 / 4))


def test_nps_weight_mrr_weighs_accounts_by_mrr_at_the_periods_end(company: Path) -> None:
    # a3 has no MRR at January's end: weight 0, left out. W = 100 + 300 + 100 = 500,
    # promoters' weight 100 (a1), detractors' 300 (a2) → NPS = 100 × (100 − 300) / 500 = −40.
    # n = 3 accounts with MRR; numerator = n × (−200 / 500) = −1.2.
    got = compute("nps", data=company, month="2024-01", as_of=AS_OF, nps_weight="mrr")
    assert row(got, "nps") == pytest.approx((-40.0, -1.2, 3.0))
    # p = .2, d = .6 → p + d − (p − d)² = 0.64; effective n = 500² / (100² + 300² + 100²) = 25/11.
    assert row(got, "nps_moe")[0] == pytest.approx(196 * math.sqrt(0.64 / (25 / 11)))


def test_nps_coverage_mrr(company: Path) -> None:
    # Accounts with a response: a1 100, a2 300, a3 0, a4 100 → 500 of 1000 MRR.
    got = compute("nps_coverage_mrr", data=company, month="2024-01", as_of=AS_OF)
    assert row(got, "nps_coverage_mrr") == (0.5, 500.0, 1000.0)
    # By segment: enterprise a2 300 of (300 + 500); smb a1 + a4 = 200 of 200 (a3 has 0).
    by = compute("nps_coverage_mrr", data=company, month="2024-01", as_of=AS_OF, by="segment")
    want = pl.DataFrame({"segment": ["enterprise", "smb"], "value": [300 / 800, 1.0],
                         "numerator": [300.0, 200.0], "denominator": [800.0, 200.0]})
    assert_frame_equal(by.select("segment", "value", "numerator", "denominator"), want)


def test_nps_weight_mrr_shares_the_revenue_base_with_revenue_metrics(company: Path) -> None:
    # Asked together with mrr, the weights come from the run's own revenue base: the same values.
    got = compute("mrr,nps", data=company, month="2024-01", as_of=AS_OF, nps_weight="mrr")
    assert row(got, "mrr")[0] == 1000.0
    assert row(got, "nps") == pytest.approx((-40.0, -1.2, 3.0))


def test_account_level_nps_needs_accounts_and_the_weight_needs_billing(tmp_path: Path) -> None:
    write_csv(tmp_path / "surveys.csv", ["responded_at", "score", "survey", "respondent_id"],
              [["2024-01-10", "9", "nps", "u1"]])
    with pytest.raises(UsageError, match="--nps-unit account needs account_id in surveys"):
        compute("nps", data=tmp_path, month="2024-01", nps_unit="account")
    write_csv(tmp_path / "surveys.csv", ["responded_at", "score", "survey", "respondent_id", "account_id"],
              [["2024-01-10", "9", "nps", "u1", "a1"]])
    with pytest.raises(UsageError, match="needs billing data"):
        compute("nps", data=tmp_path, month="2024-01", nps_weight="mrr")


def test_coverage_refuses_a_survey_column_split(company: Path) -> None:
    (company / "surveys.csv").write_text("responded_at,score,survey,account_id,touchpoint\n"
                                         "2024-01-10,9,nps,a1,onboarding\n")
    with pytest.raises(UsageError, match="touchpoint"):
        compute("nps_coverage_mrr", data=company, month="2024-01", by="touchpoint")
