"""``kpi tree --level period`` and ``kpi report`` through the CLI against ``tests/oracle_tree.py``.

Seeded worlds are written as CSV (subscriptions, customers, events): monthly churn is built to
follow the previous month's logins per user (so churn ← logins is expected to "move opposite" at
lag 1), key actions are independent noise, invites are zero in some months (a zero base: null
relative changes, pairs dropped), and a short world has too few periods for any ρ. The series come
from ``kpi compute … -f csv`` (checked elsewhere); everything after that (window, changes, lags,
Spearman, Fisher interval, r_needed, verdicts, report changes) is the oracle's own arithmetic.
"""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from kpi_cli.cli import app
from tests import oracle_tree as ot
from tests.conftest import write_csv

REL = 1e-9
USERS = 60
KPI_TOML = '[events]\nkey_actions = ["Report Run"]\n'
SUB_HEADER = ["customer_id", "subscription_id", "start_at", "end_at", "amount", "currency"]


def _day(period: str, day: int, minute: int) -> str:
    return f"{period[:8]}{day:02d}T{minute // 60:02d}:{minute % 60:02d}:17Z"


def make_world(folder: Path, seed: int, months: int, start: str = "2022-01-01") -> dict[str, str]:
    """Write a company of ``months`` full months (plus 10 days of the next) into ``folder``.

    Returns the kpi options that pin the run: ``--as-of`` the 15th of the partial month.
    """
    rng = random.Random(seed)
    periods = [ot.add_months(start, i) for i in range(months + 1)]
    x = [rng.uniform(3, 9) for _ in periods]  # the logins-per-user target of each month
    subs: list[list[str]] = []
    active: list[str] = []
    nid = 0

    def join(p: str, count: int) -> None:
        nonlocal nid
        for _ in range(count):
            nid += 1
            cid = f"c{nid:05d}"
            subs.append([cid, f"s{nid:05d}", _day(p, rng.randint(1, 27), rng.randrange(1440)), "", "100", "USD"])
            active.append(cid)

    join(periods[0], 800)
    for t, p in enumerate(periods[1:months], start=1):
        rate = 0.02 + 0.012 * (9 - x[t - 1]) + rng.uniform(-0.002, 0.002)
        for cid in rng.sample(active, round(rate * len(active))):
            row = next(r for r in subs if r[0] == cid)
            row[3] = _day(p, rng.randint(1, 27), rng.randrange(1440))
            active.remove(cid)
        join(p, round(rate * len(active)) + rng.randint(-6, 6))
    for _ in range(5):  # a few signups in the partial month: the last full month is complete
        nid += 1
        subs.append([f"c{nid:05d}", f"s{nid:05d}", _day(periods[months], rng.randint(1, 10), 600), "", "100", "USD"])
    write_csv(folder / "subscriptions.csv", SUB_HEADER, subs)
    write_csv(folder / "customers.csv", ["customer_id", "created_at"], [[r[0], r[2]] for r in subs])
    events: list[list[str]] = []
    for t, p in enumerate(periods):
        last_day = 28 if t < months else 10
        users = [f"u{i:03d}" for i in range(USERS)]
        logins = users + rng.choices(users, k=max(0, round(x[t] * USERS) - USERS))
        keys = rng.choices(users, k=rng.randint(USERS, 5 * USERS))
        invites = [] if rng.random() < 0.3 else rng.choices(users, k=rng.randint(1, 30))
        for name, actors in (("Signed In", logins), ("Report Run", keys), ("Invite Sent", invites)):
            for u in actors:
                ts = _day(p, rng.randint(1, last_day), rng.randrange(1440))
                events.append([ts, name, u, f"acc{int(u[1:]) % 7}"])
    events.sort()
    write_csv(folder / "events.csv", ["timestamp", "event", "user_id", "account_id"], events)
    (folder / "kpi.toml").write_text(KPI_TOML)
    return {"as_of": ot.add_months(start, months)[:8] + "15"}


def kpi(*args: str | Path) -> Result:
    """Run ``kpi`` in-process, isolated from the machine's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPI_")}
    env.update({"NO_COLOR": "1", "XDG_CONFIG_HOME": "/nonexistent-kpi-config"})
    return CliRunner().invoke(app, [str(a) for a in args], env=env)


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result.stdout


# --- the oracle's own arithmetic, against scipy and the research's tables -------------------------


def test_spearman_and_pearson_match_scipy_with_ties() -> None:
    from scipy import stats

    rng = random.Random(7)
    for n in (10, 13, 24):
        xs = [float(rng.randint(0, 6)) for _ in range(n)]  # many ties: average ranks matter
        ys = [x * 0.3 + rng.gauss(0, 1) for x in xs]
        assert ot.spearman(xs, ys) == pytest.approx(stats.spearmanr(xs, ys).statistic, rel=1e-12)
        assert ot.pearson(xs, ys) == pytest.approx(stats.pearsonr(xs, ys).statistic, rel=1e-12)
    assert ot.spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]) is None  # a constant side has no ρ


@pytest.mark.parametrize(("n", "expected"), [(8, 0.889), (11, 0.800), (17, 0.672), (23, 0.589), (35, 0.485)])
def test_r_needed_matches_the_research_table(n: int, expected: float) -> None:
    # research §3.2 "Small n": critical |r| with Bonferroni ÷16 (4 influencers × 4 lags)
    assert round(ot.r_needed(n, 4) or 0.0, 3) == expected


def test_r_needed_is_where_the_t_test_reaches_alpha() -> None:
    from scipy import stats

    for n, infl in ((10, 1), (24, 4), (21, 3)):
        r = ot.r_needed(n, infl) or 0.0
        t = r * math.sqrt((n - 2) / (1 - r * r))
        assert 2 * stats.t.sf(t, n - 2) == pytest.approx(0.05 / (infl * 4), rel=1e-9)
    assert ot.r_needed(2, 4) is None  # no degrees of freedom left


@pytest.mark.parametrize(("n", "lo", "hi"), [(8, -0.32, 0.89), (11, -0.14, 0.85), (17, 0.03, 0.79),
                                             (23, 0.11, 0.76), (35, 0.20, 0.71)])
def test_pearson_interval_matches_the_research_table(n: int, lo: float, hi: float) -> None:
    # research §3.2: the 95% interval for r = 0.5 (Fisher's z, variance 1/(n − 3))
    a, b = ot.fisher_ci(0.5, n, "pearson")
    assert (round(a, 2), round(b, 2)) == (lo, hi)


def test_spearman_interval_by_hand() -> None:
    # ρ = 0.5, n = 13: var = (1 + 0.125)/10 = 0.1125, half-width 1.959964 × 0.3354102 = 0.6573919;
    # atanh(0.5) = 0.5493061 → tanh(−0.1080858) = −0.1076668, tanh(1.2066980) = 0.8356863
    a, b = ot.fisher_ci(0.5, 13)
    assert a == pytest.approx(-0.1076668, abs=2e-7)
    assert b == pytest.approx(0.8356863, abs=2e-7)


def test_changes_by_unit() -> None:
    assert ot.change(0.05, 0.03, "ratio") == (pytest.approx(-0.02), "pp")
    assert ot.change(20.0, 35.0, "score") == (15.0, "points")
    assert ot.change(200.0, 250.0, "currency") == (0.25, "pct")
    assert ot.change(4.0, 3.0, "count") == (-0.25, "pct")
    assert ot.change(10.0, 15.0, "months") == (0.5, "pct")
    assert ot.change(0.0, 3.0, "count") == (None, "pct")  # zero base
    assert ot.change(0.0, 0.1, "ratio") == (pytest.approx(0.1), "pp")  # absolute: a zero base is fine
    assert ot.change(None, 0.1, "ratio") == (None, "pp")
    assert ot.change(0.1, None, "duration") == (None, "pct")


def test_lag_pairs_and_window() -> None:
    dx = [1.0, 2.0, None, 4.0, 5.0]
    dy = [10.0, 20.0, 30.0, None, 50.0]
    assert ot.lag_pairs(dx, dy, 0) == ([1.0, 2.0, 5.0], [10.0, 20.0, 50.0])
    assert ot.lag_pairs(dx, dy, 1) == ([1.0, 2.0, 4.0], [20.0, 30.0, 50.0])  # (Δx_{t−1}, Δy_t)
    assert ot.lag_pairs(dx, dy, 3) == ([2.0], [50.0])
    s: dict[str, ot.Series] = {"a": {"2024-01-01": (1.0, True), "2024-02-01": (2.0, True), "2024-03-01": (3.0, False)},
         "b": {"2024-01-01": (1.0, True), "2024-02-01": (2.0, True), "2024-03-01": (3.0, True)}}
    assert ot.window(s, ["a", "b"], 24) == ["2024-01-01", "2024-02-01"]
    assert ot.window(s, ["b"], 2) == ["2024-02-01", "2024-03-01"]


def _row(lag: int, rho: float | None, lo: float, hi: float, need: float = 0.6) -> ot.TreeRow:
    return ot.TreeRow("k", "i", lag, 20, "spearman", rho, lo, hi, need)


def test_verdict_rules() -> None:
    word, best = ot.verdict([_row(0, 0.65, 0.3, 0.85), _row(1, -0.7, -0.9, -0.4), _row(2, 0.1, -0.3, 0.5)])
    assert (word, best and best.lag) == (ot.MOVED_OPPOSITE, 1)  # the largest |ρ| above r_needed decides
    word, best = ot.verdict([_row(0, 0.62, 0.2, 0.8), _row(1, 0.61, 0.2, 0.8, need=0.5)])
    assert (word, best and best.lag) == (ot.MOVED_TOGETHER, 0)
    assert ot.verdict([_row(0, 0.5, 0.05, 0.8), _row(1, 0.2, -0.2, 0.5)])[0] == ot.POSSIBLE
    assert ot.verdict([_row(0, 0.5, -0.05, 0.8), _row(1, None, 0, 0)])[0] == ot.NOTHING
    assert ot.mechanical("customer_churn_rate", "customer_growth_rate")  # SPEC §3.5's example
    assert not ot.mechanical("customer_churn_rate", "logins_per_user")
