"""``kpi tree --level account`` (kpi_cli/influence/account.py; docs/decisions/issue9-account.md).

A hand-built company: 41 accounts paying $100/month from 2023-01-01, one user each. P is March 2023
(``--as-of 2023-04-01``, ``last=1``), so the predictor is each account's logins per user in February.
Every expected number is worked out by hand in the comment next to it, and the AUC is also checked
against scipy's Mann–Whitney U, and its interval against a DeLong variance written out here.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from pathlib import Path

import pytest
from scipy.stats import mannwhitneyu, norm
from typer.testing import Result

from kpi_cli.api import Run
from kpi_cli.errors import UsageError
from kpi_cli.influence.account import account_level, churn_units, churn_verdict
from kpi_cli.options import RunOptions
from tests.conftest import write_csv

SUBS_HEADER = ["customer_id", "subscription_id", "start_at", "end_at", "amount", "currency", "interval",
               "interval_count", "quantity", "status", "canceled_at"]
EVENTS_HEADER = ["event_id", "user_id", "account_id", "timestamp", "event"]
KPI = "customer_churn_rate"

# (February logins, churned in March) per account; quartile blocks of ten accounts each, with no tie
# across a block boundary, so any rank rule puts the same ten in each quartile.
#   Q1: 4 churned accounts with no February event at all (logins per user 0/0 → counted as 0),
#       5 churned with 1 login, 1 retained with 1 login          → churn 9/10 = 90%
#   Q2: 10 accounts with 2 logins, 6 churned                    → 6/10 = 60%
#   Q3: 10 accounts with 3 logins, 3 churned                    → 3/10 = 30%
#   Q4: 10 accounts with 6 logins, 2 churned                    → 2/10 = 20%
# 20 churned and 20 retained; one more retained account (x01) pays but never appears in the events.
ACCOUNTS = ([(0, True)] * 4 + [(1, True)] * 5 + [(1, False)]
            + [(2, True)] * 6 + [(2, False)] * 4
            + [(3, True)] * 3 + [(3, False)] * 7
            + [(6, True)] * 2 + [(6, False)] * 8)


def write_company(folder: Path, accounts: list[tuple[int, bool]], events: bool = True) -> Path:
    """subscriptions, customers and (optionally) events of ``accounts`` plus the never-seen x01."""
    subs, customers, rows = [], [], []
    for k, (logins, churned) in enumerate(accounts, 1):
        cid = f"c{k:02d}"
        subs.append([cid, f"s{k:02d}", "2023-01-01", "2023-03-15" if churned else "", "100", "USD", "month", "1",
                     "1", "", ""])
        customers.append([cid, "2023-01-01"])
        # A January login puts every account in the events (so a February without events is "no activity").
        rows.append([f"e{k:02d}j", f"u{k:02d}", cid, "2023-01-10T10:00:00Z", "Signed In"])
        rows += [[f"e{k:02d}f{i}", f"u{k:02d}", cid, f"2023-02-{i + 1:02d}T10:00:00Z", "Signed In"]
                 for i in range(logins)]
        if not churned:  # the events run into March, so February is complete in them too
            rows.append([f"e{k:02d}m", f"u{k:02d}", cid, "2023-03-05T10:00:00Z", "Signed In"])
    subs.append(["x01", "sx01", "2023-01-01", "", "100", "USD", "month", "1", "1", "", ""])
    # y01 starts on 2023-04-01: billing then reaches April, so March is complete; not a unit (not paying
    # at the start of March).
    subs.append(["y01", "sy01", "2023-04-01", "", "100", "USD", "month", "1", "1", "", ""])
    customers += [["x01", "2023-01-01"], ["y01", "2023-04-01"]]
    write_csv(folder / "subscriptions.csv", SUBS_HEADER, subs)
    write_csv(folder / "customers.csv", ["customer_id", "created_at"], customers)
    if events:
        write_csv(folder / "events.csv", EVENTS_HEADER, rows)
    return folder


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path`` as the working directory, with no user config and no KPI_* variables."""
    monkeypatch.chdir(tmp_path)
    for key in [k for k in __import__("os").environ if k.startswith("KPI_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".no-user-config"))
    return tmp_path


def start(folder: Path) -> Run:
    return Run.start(RunOptions(data=str(folder), as_of="2023-04-01"))


def delong(pos: list[float], neg: list[float]) -> tuple[float, float]:
    """AUC and its DeLong standard error, from the definition (structural components)."""
    def psi(x: float, y: float) -> float:
        return 1.0 if x > y else 0.5 if x == y else 0.0

    v10 = [sum(psi(x, y) for y in neg) / len(neg) for x in pos]
    v01 = [sum(psi(x, y) for x in pos) / len(pos) for y in neg]
    a = sum(v10) / len(pos)
    s10 = sum((v - a) ** 2 for v in v10) / (len(pos) - 1)
    s01 = sum((v - a) ** 2 for v in v01) / (len(neg) - 1)
    return a, math.sqrt(s10 / len(pos) + s01 / len(neg))


def test_units_are_paying_account_periods_with_february_logins(isolated: Path) -> None:
    run = start(write_company(isolated / "d", ACCOUNTS))
    units = churn_units(run, ["logins_per_user"], last=1)["logins_per_user"]
    # 41 accounts paying at the start of March; x01 has no events: left out, so n = 40.
    assert len(units.predictors) == 40
    assert units.left_out == 1
    # The four accounts without a February event count as 0 logins per user.
    assert units.zero == 4
    assert sum(units.churned) == 20
    assert sorted(zip(units.predictors, units.churned, strict=True)) == sorted(
        (float(x), c) for x, c in ACCOUNTS)


def test_auc_quartiles_and_verdict(isolated: Path) -> None:
    run = start(write_company(isolated / "d", ACCOUNTS))
    rows, verdicts, warnings = account_level(run, KPI, ["logins_per_user"], last=1)
    (row,) = rows
    # AUC by hand, over 20 retained × 20 churned = 400 pairs (a tie counts half):
    #   retained 1 (×1): beats the four 0s, ties five 1s        → 4 + 2.5       =   6.5
    #   retained 2 (×4): beats 0s and 1s (9), ties six 2s         → (9 + 3) · 4   =  48
    #   retained 3 (×7): beats 0–2 (15), ties three 3s            → (15 + 1.5) · 7 = 115.5
    #   retained 6 (×8): beats 0–3 (18), ties two 6s              → (18 + 1) · 8  = 152
    #   (6.5 + 48 + 115.5 + 152) / 400 = 322 / 400 = 0.805
    assert row.value == pytest.approx(0.805, abs=1e-12)
    retained = [float(x) for x, c in ACCOUNTS if not c]
    churned = [float(x) for x, c in ACCOUNTS if c]
    u = mannwhitneyu(retained, churned).statistic
    assert row.value == pytest.approx(u / 400, abs=1e-12)
    a, se = delong(retained, churned)
    assert a == pytest.approx(0.805)
    z = norm.ppf(0.975)
    assert row.ci_low == pytest.approx(a - z * se, abs=1e-6)
    assert row.ci_high == pytest.approx(a + z * se, abs=1e-6)
    assert (row.kpi, row.influencer, row.level, row.lag, row.n, row.method) == (
        KPI, "logins_per_user", "account", 1, 40, "auc")
    assert row.r_needed is None
    assert row.reason == ""
    # Retained accounts logged in more: the influencer moved opposite to churn.
    assert row.verdict == "moved opposite"
    assert "churn by quartile Q1 90.0% (9/10) · Q2 60.0% (6/10) · Q3 30.0% (3/10) · Q4 20.0% (2/10)" in row.detail
    assert "n = 40 account-periods, 20 churned" in row.detail
    assert "4 with no activity in P − 1 counted as 0" in row.detail
    assert "1 left out" in row.detail
    assert verdicts == {"logins_per_user": ("moved opposite", row.detail)}
    assert warnings == []


def test_under_20_churn_events_is_null(isolated: Path) -> None:
    # Twelve churned accounts only (the first twelve churned ones of ACCOUNTS kept as churned, the rest
    # retained): 12 < 20, so no AUC.
    churned_seen = 0
    accounts = []
    for logins, churned in ACCOUNTS:
        keep = churned and churned_seen < 12
        churned_seen += churned
        accounts.append((logins, keep))
    run = start(write_company(isolated / "d", accounts))
    rows, verdicts, _ = account_level(run, KPI, ["logins_per_user"], last=1)
    (row,) = rows
    assert (row.value, row.ci_low, row.ci_high, row.verdict, row.r_needed) == (None, None, None, None, None)
    assert row.reason == "needs ≥ 20 churn events (found 12)"
    assert row.n == 40
    assert verdicts["logins_per_user"][0] is None


def test_missing_events_is_a_usage_error(isolated: Path) -> None:
    run = start(write_company(isolated / "d", ACCOUNTS, events=False))
    with pytest.raises(UsageError, match="--level account needs billing and events"):
        account_level(run, KPI, ["logins_per_user"], last=1)


def test_an_influencer_that_cannot_be_computed_gets_a_reason(isolated: Path) -> None:
    # key_actions_per_user needs [events] key_actions in the config, which this company does not have;
    # logins_per_user is still computed.
    run = start(write_company(isolated / "d", ACCOUNTS))
    rows, _, _ = account_level(run, KPI, ["key_actions_per_user", "logins_per_user"], last=1)
    assert rows[0].value is None
    assert "key_actions" in rows[0].reason
    assert rows[0].detail == ""
    assert rows[1].value == pytest.approx(0.805)


def test_verdict_words() -> None:
    # (95% interval, interval adjusted for the number of influencers): the adjusted one decides the
    # direction; the 95% one alone gives "possible, not reliable".
    assert churn_verdict(KPI, "logins_per_user", (0.62, 0.78), (0.598, 0.802)) == "moved opposite"
    assert churn_verdict(KPI, "logins_per_user", (0.22, 0.38), (0.198, 0.402)) == "moved together"
    assert churn_verdict(KPI, "logins_per_user", (0.40, 0.499), (0.388, 0.512)) == "possible, not reliable"
    assert churn_verdict(KPI, "logins_per_user", (0.501, 0.60), (0.49, 0.61)) == "possible, not reliable"
    assert churn_verdict(KPI, "logins_per_user", (0.45, 0.65), (0.42, 0.68)) == "no detectable relationship"
    # Two metrics sharing customers at the start are mechanical whatever the AUC.
    assert churn_verdict(KPI, "customer_growth_rate", (0.62, 0.78), (0.598, 0.802)) == "mechanical"


def test_the_adjusted_interval_decides(isolated: Path) -> None:
    # The same company read against four influencers: z = Φ⁻¹(1 − 0.05/8) = 2.4977 instead of 1.96.
    # DeLong's se here is about 0.069, so 0.805 − 2.4977 · se ≈ 0.63 still excludes 0.5.
    run = start(write_company(isolated / "d", ACCOUNTS))
    retained = [float(x) for x, c in ACCOUNTS if not c]
    churned = [float(x) for x, c in ACCOUNTS if c]
    a, se = delong(retained, churned)
    z4 = norm.ppf(1 - 0.05 / 8)
    assert a - z4 * se > 0.5
    rows, _, _ = account_level(run, KPI, ["logins_per_user", "dau_mau", "sessions_per_user",
                                          "invites_per_user"], last=1)
    assert rows[0].verdict == "moved opposite"
    # dau_mau shares active actors with logins_per_user but not with churn: it gets a verdict of its own.
    # Every active account has one user, active on every day it logs in: DAU/MAU of an account is
    # (days with a login / days in February) / 1, so it ranks accounts as logins do (0, 1, 2, 3, 6
    # days over 28) and its AUC is the same 0.805.
    assert rows[1].value == pytest.approx(0.805)
    # No invites at all: every account's invites per user is 0 — all ties, AUC exactly 0.5.
    assert rows[3].value == pytest.approx(0.5)
    assert rows[3].verdict == "no detectable relationship"


def test_other_kpis_are_usage_errors(isolated: Path) -> None:
    run = start(write_company(isolated / "d", ACCOUNTS))
    with pytest.raises(UsageError, match="customer_churn_rate"):
        account_level(run, "mrr", ["logins_per_user"], last=1)


def test_a_block_of_ties_shares_one_quartile(isolated: Path) -> None:
    # 30 idle accounts in February (0 logins, 15 of them churn) and 10 with 5 logins (5 churn).
    # Average ranks: the zeros 15.5 → ⌈4 · 15.5 / 40⌉ = Q2; the fives 35.5 → Q4; Q1 and Q3 are empty.
    # AUC: retained 0s tie the 15 churned 0s (7.5 each, ×15 = 112.5), retained 5s beat 15 and tie 5
    # (17.5 each, ×5 = 87.5): 200 / 400 = 0.5, no relationship.
    accounts = [(0, True)] * 15 + [(0, False)] * 15 + [(5, True)] * 5 + [(5, False)] * 5
    run = start(write_company(isolated / "d", accounts))
    (row,), _, _ = account_level(run, KPI, ["logins_per_user"], last=1)
    assert row.value == pytest.approx(0.5)
    assert row.verdict == "no detectable relationship"
    assert row.detail.startswith(
        "churn by quartile (tied values share a quartile) Q2 50.0% (15/30) · Q4 50.0% (5/10); ")
    assert "30 with no activity in P − 1 counted as 0" in row.detail


def test_nps_at_account_level_needs_surveys(isolated: Path) -> None:
    # nps's respondent level is tests/test_tree_respondents.py's; a company without surveys cannot run it.
    run = start(write_company(isolated / "d", ACCOUNTS))
    with pytest.raises(UsageError, match="--level account for nps needs surveys"):
        account_level(run, "nps", ["ces"], last=1)


def test_through_the_cli(isolated: Path, run: Callable[..., Result]) -> None:
    folder = write_company(isolated / "d", ACCOUNTS)
    res = run("tree", "customer_churn_rate", "--level", "account", "--influencers", "logins_per_user",
              "--data", folder, "--as-of", "2023-04-01", "--last", "1", "-f", "csv")
    assert res.exit_code == 0, res.stderr
    (row,) = list(csv.DictReader(io.StringIO(res.stdout)))
    assert (row["level"], row["method"], row["n"], row["verdict"]) == ("account", "auc", "40", "moved opposite")
    assert float(row["value"]) == pytest.approx(0.805)
