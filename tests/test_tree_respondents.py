"""``kpi tree nps --level account`` (kpi_cli/influence/respondents.py; docs/decisions/issue9-respondents.md).

A hand-built company of 40 accounts ``a01``…``a40``, one nps respondent each in June 2023 (``--as-of
2023-07-03``, ``last=1``; a ces answer on 2023-07-02 takes the surveys to July, so June is complete).
Each account's tickets, active users and ces answers are written out as Python records; the test works
out every predictor from those records with plain datetime arithmetic (the window is [responded_at − 90
days, responded_at)) and checks ρ against scipy's spearmanr, the interval against Fisher's z written out
with scipy's normal quantile, and r_needed against scipy's t quantile. Scores fall as tickets per user
rise, so tickets_per_user must come out "moved opposite".
"""

from __future__ import annotations

import csv
import io
import math
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from statistics import median

import pytest
from scipy.stats import norm, spearmanr, t

from kpi_cli.api import Run
from kpi_cli.errors import UsageError
from kpi_cli.influence.account import account_level
from kpi_cli.influence.respondents import respondent_verdict
from kpi_cli.options import RunOptions
from tests.conftest import write_csv

AS_OF = "2023-07-03"
WINDOW = timedelta(days=90)
ISO = "%Y-%m-%dT%H:%M:%SZ"


@dataclass
class Ticket:
    created: datetime
    answered: datetime | None
    agent: bool = False


@dataclass
class Account:
    """One account: its respondent's (latest June) answer, tickets, active-user times and ces answers."""

    k: int
    responded: datetime
    score: int
    tickets: list[Ticket] = field(default_factory=list)
    users: dict[str, list[datetime]] = field(default_factory=dict)
    ces: list[tuple[datetime, int]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return f"a{self.k:02d}"


def company(n: int = 40, ces_every: int = 2) -> list[Account]:
    """Accounts with k % 7 tickets in May (plus boundary, outside, late, agent and unanswered tickets)."""
    out = []
    for k in range(1, n + 1):
        at = datetime(2023, 6, 15, 12, tzinfo=UTC) + timedelta(minutes=k)
        acc = Account(k, at, 0)
        for i in range(k % 7):  # answered after (k % 5) + i hours
            created = datetime(2023, 5, 1, 9, tzinfo=UTC) + timedelta(days=i)
            acc.tickets.append(Ticket(created, created + timedelta(hours=k % 5 + i)))
        if k % 4 == 0:  # counted as a ticket, no first response to time
            acc.tickets.append(Ticket(datetime(2023, 5, 20, tzinfo=UTC), None))
        if k % 3 == 0:  # agent-created: outbound work, left out everywhere
            acc.tickets.append(Ticket(datetime(2023, 5, 21, tzinfo=UTC), datetime(2023, 5, 21, 1, tzinfo=UTC), True))
        if k == 3:  # exactly 90 days before: in; exactly at responded_at: out
            acc.tickets.append(Ticket(at - WINDOW, at - WINDOW + timedelta(hours=10)))
            acc.tickets.append(Ticket(at, at + timedelta(hours=1)))
        acc.tickets.append(Ticket(datetime(2023, 3, 1, tzinfo=UTC), datetime(2023, 3, 1, 5, tzinfo=UTC)))  # too early
        acc.tickets.append(Ticket(datetime(2023, 6, 20, tzinfo=UTC), datetime(2023, 6, 20, 2, tzinfo=UTC)))  # after
        for j in range(1 + k % 3):
            acc.users[f"u{k:02d}_{j}"] = [datetime(2023, 5, 10 + j, tzinfo=UTC)]
        acc.users[f"u{k:02d}_old"] = [datetime(2023, 2, 1, tzinfo=UTC)]  # active only before the window
        if k % ces_every == 0:
            acc.ces = [(datetime(2023, 5, 25, tzinfo=UTC), 1 + k % 7), (datetime(2023, 2, 2, tzinfo=UTC), 7)]
        out.append(acc)
    for acc in out:  # the score falls with tickets per user, with a little noise
        tpu = expected_tickets(acc) / expected_users(acc)
        acc.score = max(0, min(10, round(9 - 1.5 * tpu + (acc.k * 7) % 3 - 1)))
    return out


def inside(when: datetime, acc: Account) -> bool:
    return acc.responded - WINDOW <= when < acc.responded


def expected_tickets(acc: Account) -> int:
    return sum(1 for tk in acc.tickets if not tk.agent and inside(tk.created, acc))


def expected_users(acc: Account) -> int:
    return sum(1 for times in acc.users.values() if any(inside(x, acc) for x in times))


def expected_frt(acc: Account) -> float | None:
    hours = [(tk.answered - tk.created) / timedelta(hours=1) for tk in acc.tickets
             if not tk.agent and tk.answered is not None and inside(tk.created, acc)]
    return median(hours) if hours else None


def expected_ces(acc: Account) -> float | None:
    found = [s for when, s in acc.ces if inside(when, acc)]
    return sum(found) / len(found) if found else None


def write(folder: Path, accounts: list[Account], events: bool = True) -> Path:
    """surveys, tickets, customers and (optionally) events of ``accounts``."""
    surveys, tickets, customers, rows = [], [], [], []
    for acc in accounts:
        rid, email = f"r{acc.k:02d}", f"r{acc.k:02d}@{acc.name}.example.com"
        # a02's respondent carries no account_id: customers.email gives it (the tickets' join).
        account = "" if acc.k == 2 else acc.name
        surveys.append([acc.responded.strftime(ISO), str(acc.score), "nps", rid, email, account])
        if acc.k == 1:  # an earlier June answer of the same respondent: nps counts the latest only
            surveys.append(["2023-06-02T08:00:00Z", str(10 - acc.score), "nps", rid, email, account])
        surveys += [[when.strftime(ISO), str(s), "ces", rid, email, acc.name] for when, s in acc.ces]
        customers.append([acc.name, email])
        for i, tk in enumerate(acc.tickets):
            tickets.append([f"t{acc.k:02d}_{i}", tk.created.strftime(ISO), acc.name,
                            tk.answered.strftime(ISO) if tk.answered else "", "true" if tk.agent else "false"])
        for user, times in acc.users.items():
            rows += [[f"e_{user}_{i}", user, acc.name, x.strftime(ISO), "Signed In"] for i, x in enumerate(times)]
    surveys.append(["2023-06-20T10:00:00Z", "0", "nps", "ghost", "ghost@nowhere.example.com", ""])  # no account
    surveys.append(["2023-07-02T10:00:00Z", "5", "ces", "r01", "", "a01"])  # takes the surveys into July
    write_csv(folder / "surveys.csv", ["responded_at", "score", "survey", "respondent_id", "email", "account_id"],
              surveys)
    write_csv(folder / "tickets.csv", ["ticket_id", "created_at", "account_id", "first_response_at",
                                       "is_agent_created"], tickets)
    write_csv(folder / "customers.csv", ["customer_id", "email"], customers)
    if events:
        write_csv(folder / "events.csv", ["event_id", "user_id", "account_id", "timestamp", "event"], rows)
    return folder


@pytest.fixture
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``tmp_path`` as the working directory, with no user config and no KPI_* variables."""
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("KPI_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / ".no-user-config"))
    return tmp_path


def start(folder: Path) -> Run:
    return Run.start(RunOptions(data=str(folder), as_of=AS_OF))


def oracle(xs: Sequence[float | None], ys: list[int], tests: int) -> tuple[float, float, float, float, int]:
    """ρ (scipy), the Fisher interval with variance (1 + ρ²/2)/(n − 3), r_needed from scipy's t, n."""
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if x is not None]
    n = len(pairs)
    rho = float(spearmanr([p[0] for p in pairs], [p[1] for p in pairs]).statistic)
    half = norm.ppf(0.975) * math.sqrt((1 + rho * rho / 2) / (n - 3))
    q = t.ppf(1 - 0.05 / tests / 2, n - 2)
    return rho, math.tanh(math.atanh(rho) - half), math.tanh(math.atanh(rho) + half), q / math.sqrt(n - 2 + q * q), n


def test_the_records_hold_what_the_test_means() -> None:
    accounts = company()
    a3 = accounts[2]
    # a03: 3 May tickets + the one exactly 90 days back (in) − the one at responded_at (out) = 4;
    # its agent-created ticket, the 1 March and 20 June ones are out. Users: 1 + 3 % 3 = 1 (u03_old is out).
    assert (expected_tickets(a3), expected_users(a3)) == (4, 1)
    # a04: 4 May tickets answered after 4 + i hours, and one unanswered: 5 tickets, median of 4, 5, 6, 7 = 5.5.
    assert (expected_tickets(accounts[3]), expected_frt(accounts[3])) == (5, 5.5)
    assert expected_frt(accounts[6]) is None  # a07: 7 % 7 = 0 May tickets, nothing else inside
    assert sum(1 for a in accounts if expected_ces(a) is not None) == 20


def test_rho_interval_and_verdict_against_scipy(isolated: Path) -> None:
    accounts = company()
    run = start(write(isolated / "d", accounts))
    infl = ["tickets_per_user", "first_response_time", "ces"]
    rows, verdicts, warnings = account_level(run, "nps", infl, last=1)
    by = {r.influencer: r for r in rows}
    scores = [a.score for a in accounts]
    tpu = [expected_tickets(a) / expected_users(a) for a in accounts]
    rho, lo, hi, need, n = oracle(tpu, scores, tests=3)
    row = by["tickets_per_user"]
    assert (row.kpi, row.level, row.lag, row.method, row.n) == ("nps", "account", None, "spearman", 40)
    assert n == 40
    assert row.value == pytest.approx(rho, abs=1e-12)
    assert row.ci_low == pytest.approx(lo, abs=1e-6)
    assert row.ci_high == pytest.approx(hi, abs=1e-6)
    assert row.r_needed == pytest.approx(need, abs=1e-6)
    assert rho < -need  # the data were built so: fewer tickets per user, higher scores
    assert row.verdict == verdicts["tickets_per_user"][0] == "moved opposite"
    assert "n = 40 respondents" in row.detail
    # first_response_time: the 5 accounts with no ticket in the window (k = 7, 14, 21, 28, 35) have none.
    frt = [expected_frt(a) for a in accounts]
    rho, lo, hi, need, n = oracle(frt, scores, tests=3)
    row = by["first_response_time"]
    assert (row.n, n) == (35, 35)
    assert row.value == pytest.approx(rho, abs=1e-12)
    assert (row.ci_low, row.ci_high) == (pytest.approx(lo, abs=1e-6), pytest.approx(hi, abs=1e-6))
    assert "5 respondents left out (no answered ticket" in row.detail
    # ces: 20 accounts answered within the window, under the 30 SPEC asks for.
    row = by["ces"]
    assert (row.n, row.value, row.ci_low, row.ci_high, row.verdict) == (20, None, None, None, None)
    assert row.reason.startswith("needs ≥ 30 respondents with a value (found 20)")
    assert verdicts["ces"] == (None, row.reason)
    assert any("1 nps respondent without an account" in w for w in warnings)


def test_ces_at_thirty_or_more(isolated: Path) -> None:
    accounts = company(ces_every=1)  # every account answered ces in May: n = 40
    run = start(write(isolated / "d", accounts))
    (row,), _, _ = account_level(run, "nps", ["ces"], last=1)
    rho, lo, hi, need, n = oracle([expected_ces(a) for a in accounts], [a.score for a in accounts], tests=1)
    assert (row.n, n) == (40, 40)
    assert row.value == pytest.approx(rho, abs=1e-12)
    assert row.r_needed == pytest.approx(need, abs=1e-6)
    word, _ = respondent_verdict("nps", "ces", rho, (lo, hi), need, n)
    assert row.verdict == word


def test_without_events_tickets_per_account(isolated: Path) -> None:
    accounts = company()
    run = start(write(isolated / "d", accounts, events=False))
    (row,), _, warnings = account_level(run, "nps", ["tickets_per_user"], last=1)
    rho, *_ = oracle([float(expected_tickets(a)) for a in accounts], [a.score for a in accounts], tests=1)
    assert row.n == 40
    assert row.value == pytest.approx(rho, abs=1e-12)
    assert any("tickets per account, not per user" in w for w in warnings)


def test_under_thirty_respondents_is_null(isolated: Path) -> None:
    run = start(write(isolated / "d", company(n=29)))
    (row,), verdicts, _ = account_level(run, "nps", ["tickets_per_user"], last=1)
    assert (row.n, row.value, row.verdict) == (29, None, None)
    assert row.reason == "needs ≥ 30 respondents with a value (found 29)"
    assert verdicts["tickets_per_user"] == (None, row.reason)


def test_an_influencer_not_built_gets_a_reason(isolated: Path) -> None:
    run = start(write(isolated / "d", company()))
    (row,), _, _ = account_level(run, "nps", ["csat"], last=1)
    assert row.value is None
    assert "csat is not one of them" in row.reason


def test_verdict_words() -> None:
    assert respondent_verdict("nps", "ces", 0.5, (0.2, 0.7), 0.4, 40)[0] == "moved together"
    assert respondent_verdict("nps", "ces", -0.35, (-0.6, -0.05), 0.4, 40) == (
        "possible, not reliable", "ρ = −0.35 [−0.60, −0.05], n = 40 respondents; |ρ| ≤ r_needed 0.40")
    # No catalogue metric shares a base with nps; the rule is the catalogue's (dau_mau ÷ active, as logins).
    assert respondent_verdict("dau_mau", "logins_per_user", 0.9, (0.8, 0.95), 0.4, 40) == (
        "mechanical", "shares active with dau_mau in the catalogue")


def test_needs_surveys(isolated: Path) -> None:
    folder = write(isolated / "d", company())
    (folder / "surveys.csv").unlink()
    with pytest.raises(UsageError, match="needs surveys"):
        account_level(start(folder), "nps", ["ces"], last=1)


def test_through_the_cli(isolated: Path) -> None:
    accounts = company()
    folder = write(isolated / "d", accounts)
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPI_")}
    env.update(XDG_CONFIG_HOME=str(isolated / ".no-user-config"), NO_COLOR="1")
    res = subprocess.run([sys.executable, "-m", "kpi_cli", "tree", "nps", "--level", "account", "--data",
                          str(folder), "--as-of", AS_OF, "--last", "1", "-f", "csv"],
                         capture_output=True, text=True, env=env, cwd=isolated, check=False)
    assert res.returncode == 0, res.stderr
    rows = {r["influencer"]: r for r in csv.DictReader(io.StringIO(res.stdout))}
    assert set(rows) == {"ces", "tickets_per_user", "first_response_time"}  # SPEC §3.5's defaults
    row = rows["tickets_per_user"]
    rho, *_ = oracle([expected_tickets(a) / expected_users(a) for a in accounts], [a.score for a in accounts],
                     tests=3)
    assert (row["level"], row["lag"], row["method"], row["n"], row["verdict"]) == (
        "account", "", "spearman", "40", "moved opposite")
    assert float(row["value"]) == pytest.approx(rho, abs=1e-9)
    assert rows["ces"]["value"] == ""
    assert "without an account" in res.stderr
