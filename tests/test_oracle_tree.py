"""``kpi tree --level period`` and ``kpi report`` through the CLI against ``tests/oracle_tree.py``.

Seeded worlds are written as CSV (subscriptions, customers, events): monthly churn is built to
follow the previous month's logins per user (so churn ← logins is expected to "move opposite" at
lag 1), key actions are independent noise, invites are zero in some months (a zero base: null
relative changes, pairs dropped), and a short world has too few periods for any ρ. The series come
from ``kpi compute … -f csv`` (checked elsewhere); everything after that (window, changes, lags,
Spearman, Fisher interval, r_needed, verdicts, report changes) is the oracle's own arithmetic.
"""

from __future__ import annotations

import csv
import io
import math
import os
import random
from dataclasses import dataclass
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
    assert ot.window(s, "a", 24) == ["2024-01-01", "2024-02-01"]
    assert ot.window(s, "b", 2) == ["2024-02-01", "2024-03-01"]


def test_an_incomplete_change_is_shown_but_never_paired() -> None:
    periods = [ot.add_months("2023-01-01", i) for i in range(13)]
    changes = [ot.ChangeRow("y", p, 0.0, float(i % 5), "pp", True) for i, p in enumerate(periods)]
    changes += [ot.ChangeRow("x", p, 0.0, float(i % 7), "pp", i < 12) for i, p in enumerate(periods)]
    rows = ot.tree_rows("y", ["x"], changes)
    assert [r.n for r in rows] == [12, 12, 11, 10]  # lag 0 loses x's last (incomplete) change, lag 1 does not


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


# --- the CLI against the oracle ------------------------------------------------------------------


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def same(cell: str, expected: float | None) -> bool:
    """A CSV cell equals the oracle's number (rel 1e-9), or is empty for null."""
    if expected is None:
        return cell == ""
    return cell != "" and math.isclose(float(cell), expected, rel_tol=REL, abs_tol=1e-12)


@dataclass
class World:
    """A data folder and the options that pin its runs."""

    folder: Path
    first: str  # the first month that holds data
    as_of: str

    def args(self) -> list[str | Path]:
        return ["--data", self.folder, "--config", self.folder / "kpi.toml", "--as-of", self.as_of]

    def series(self, metrics: list[str]) -> dict[str, ot.Series]:
        out = ok(kpi("compute", ",".join(metrics), "--from", ot.add_months(self.first, -1)[:7],
                     "--to", self.as_of[:7], "-f", "csv", *self.args()))
        return ot.parse_compute_csv(out)


@pytest.fixture(scope="module")
def units() -> dict[str, str]:
    return ot.parse_units(ok(kpi("list", "-f", "csv")))


def _world(tmp_path_factory: pytest.TempPathFactory, seed: int, months: int) -> World:
    folder = tmp_path_factory.mktemp(f"tree{seed}_{months}")
    opts = make_world(folder, seed, months)
    return World(folder, "2022-01-01", opts["as_of"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    """30 full months: churn follows logins at lag 1; key actions unrelated; invites zero some months."""
    return _world(tmp_path_factory, 4, 30)


def oracle(w: World, units: dict[str, str], kpi_id: str, influencers: list[str], last: int = 24,
           method: str = "spearman") -> tuple[list[ot.ChangeRow], list[ot.TreeRow]]:
    metrics = [kpi_id, *influencers]
    s = w.series(metrics)
    changes = ot.change_table(s, units, metrics, ot.window(s, kpi_id, last, metrics))
    return changes, ot.tree_rows(kpi_id, influencers, changes, method)


def check_tree(w: World, units: dict[str, str], kpi_id: str, influencers: list[str], *extra: str,
               last: int = 24, method: str = "spearman") -> list[ot.TreeRow]:
    """Every row of ``kpi tree … -f csv`` equals the oracle's; returns the oracle's rows."""
    args = ["tree", kpi_id, "--influencers", ",".join(influencers), "-f", "csv", *w.args(), *extra]
    got = rows_of(ok(kpi(*args)))
    _, want = oracle(w, units, kpi_id, influencers, last, method)
    assert [(r["influencer"], int(r["lag"])) for r in got] == [(r.influencer, r.lag) for r in want]
    for g, e in zip(got, want, strict=True):
        where = f"{e.influencer} lag {e.lag}"
        assert (g["kpi"], g["level"], g["method"]) == (kpi_id, "period", method), where
        assert int(g["n"]) == e.n, where
        for col in ("value", "ci_low", "ci_high", "r_needed"):
            assert same(g[col], getattr(e, col)), (where, col, g[col], getattr(e, col))
        assert (g["verdict"] or None) == e.verdict, (where, g["verdict"], e.verdict)
        if e.value is None:
            assert g["reason"], where  # a null ρ says why
        if e.verdict in (ot.MOVED_TOGETHER, ot.MOVED_OPPOSITE):  # "that lag" is the one the oracle chose
            _, best = ot.verdict([r for r in want if r.influencer == e.influencer])
            assert best is not None
            assert g["detail"].startswith(f"lag {best.lag}, "), (where, g["detail"])
    return want


def test_tree_rows_match_the_oracle(world: World, units: dict[str, str]) -> None:
    infl = ["logins_per_user", "key_actions_per_user", "invites_per_user", "new_customers"]
    want = check_tree(world, units, "customer_churn_rate", infl)
    verdicts = {r.influencer: r.verdict for r in want if r.lag == 0}
    # the world was built for these (the oracle decides them; this pins that the data does its job)
    assert verdicts["logins_per_user"] == ot.MOVED_OPPOSITE
    assert verdicts["key_actions_per_user"] == ot.NOTHING
    assert verdicts["new_customers"] == ot.MOVED_TOGETHER
    assert {r.n for r in want if r.influencer == "logins_per_user"} == {24, 23, 22, 21}
    assert max(r.n for r in want if r.influencer == "invites_per_user") < 24  # zero bases drop pairs


def test_changes_table_matches_the_oracle(world: World, units: dict[str, str]) -> None:
    infl = ["logins_per_user", "invites_per_user", "new_customers"]
    args = ["tree", "customer_churn_rate", "--influencers", ",".join(infl), "--changes", "-f", "csv", *world.args()]
    got = rows_of(ok(kpi(*args)))
    assert list(got[0]) == ["metric", "period", "value", "change", "change_unit", "complete"]
    want, _ = oracle(world, units, "customer_churn_rate", infl)
    by_key = {(g["metric"], g["period"]): g for g in got}
    for e in want:
        g = by_key.pop((e.metric, e.period))
        where = (e.metric, e.period)
        assert same(g["value"], e.value), (where, g["value"], e.value)
        assert same(g["change"], e.change), (where, g["change"], e.change)
        assert (g["change_unit"], g["complete"]) == (e.change_unit, "true" if e.complete else "false"), where
    assert not by_key, by_key  # no row the oracle lacks
    assert any(e.metric == "invites_per_user" and e.value == 0 for e in want)  # a zero base was tested


def test_pearson_and_a_shorter_window(world: World, units: dict[str, str]) -> None:
    infl = ["logins_per_user", "key_actions_per_user"]
    check_tree(world, units, "customer_churn_rate", infl, "--method", "pearson", method="pearson")
    want = check_tree(world, units, "customer_churn_rate", infl, "--last", "14", last=14)
    assert [r.n for r in want if r.influencer == "logins_per_user"] == [14, 13, 12, 11]


def test_mechanical_partners_keep_their_statistics(world: World, units: dict[str, str]) -> None:
    infl = ["customer_growth_rate", "customer_retention_rate", "logins_per_user"]
    want = check_tree(world, units, "customer_churn_rate", infl)
    assert {r.influencer: r.verdict for r in want if r.lag == 0} == {
        "customer_growth_rate": ot.MECHANICAL, "customer_retention_rate": ot.MECHANICAL,
        "logins_per_user": ot.MOVED_OPPOSITE}


@pytest.mark.parametrize("months", [12, 10])
def test_short_histories(tmp_path_factory: pytest.TempPathFactory, units: dict[str, str], months: int) -> None:
    w = _world(tmp_path_factory, 5, months)
    want = check_tree(w, units, "customer_churn_rate", ["logins_per_user", "key_actions_per_user"])
    assert all(r.r_needed is not None for r in want)  # given even where ρ is null
    nulls = [r for r in want if r.value is None]
    assert nulls  # 12 months: lags 2–3 have < 10 pairs; 10 months: every lag
    assert (len(nulls) == len(want)) == (months == 10)


@pytest.mark.parametrize("args", [["ltv", "--influencers", "logins_per_user"],
                                  ["customer_churn_rate", "--influencers", "nrr_ttm,logins_per_user"],
                                  ["grr_ttm", "--influencers", "logins_per_user"]])
def test_smoothed_metrics_are_refused(world: World, args: list[str]) -> None:
    result = kpi("tree", *args, "-f", "csv", *world.args())
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "--allow-smoothed" in result.stderr


def test_allow_smoothed_runs(world: World) -> None:
    result = kpi("tree", "customer_churn_rate", "--influencers", "nrr_ttm", "--allow-smoothed", "-f", "csv",
                 *world.args())
    assert result.exit_code == 0, result.stderr
    assert {r["influencer"] for r in rows_of(result.stdout)} == {"nrr_ttm"}


def check_report(w: World, units: dict[str, str], month: str | None) -> list[dict[str, str]]:
    """Every ``kpi report -f csv`` row's numbers equal compute's value for M, M − 1 and M − 12."""
    extra = ["--month", month[:7]] if month else []
    got = rows_of(ok(kpi("report", "-f", "csv", *w.args(), *extra)))
    assert list(got[0])[:12] == ["metric", "period", "value", "previous", "change", "change_unit", "year_ago",
                                 "yoy_change", "benchmark_low", "benchmark_high", "benchmark_source", "complete"]
    period = got[0]["period"]
    assert month is None or period == month
    metrics = list(dict.fromkeys(g["metric"] for g in got))
    out = ok(kpi("compute", ",".join(metrics), "--from", ot.add_months(period, -12)[:7], "--to", period[:7],
                 "-f", "csv", *w.args()))
    series = ot.parse_compute_csv(out)
    assert len(got) == len(metrics)  # one row per metric
    for g in got:
        e = ot.report_row(g["metric"], units[g["metric"]], series[g["metric"]], period)
        assert g["period"] == period, g
        for col in ("value", "previous", "change", "year_ago", "yoy_change"):
            assert same(g[col], getattr(e, col)), (g["metric"], col, g[col], getattr(e, col))
        assert g["change_unit"] == e.change_unit, g
        assert g["complete"] == ("true" if e.complete else "false"), g
    return got


def test_report_rows_match_compute(world: World, units: dict[str, str]) -> None:
    got = check_report(world, units, "2024-05-01")
    assert {"customer_churn_rate", "mrr", "logins_per_user", "invites_per_user"} <= {g["metric"] for g in got}


def test_report_defaults_to_the_last_complete_month(world: World, units: dict[str, str]) -> None:
    got = check_report(world, units, None)
    assert got[0]["period"] == "2024-06-01"  # as-of 2024-07-15: June is the last complete month


# --- the bundled sample --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> World:
    folder = tmp_path_factory.mktemp("sample")
    ok(kpi("sample", folder))
    return World(folder, "2023-01-01", "2025-01-15")


def test_sample_tree_churn(sample: World, units: dict[str, str]) -> None:
    check_tree(sample, units, "customer_churn_rate", ["session_minutes_per_user", "logins_per_user", "dau_mau"])


def test_sample_tree_nps_defaults(sample: World, units: dict[str, str]) -> None:
    got = rows_of(ok(kpi("tree", "nps", "-f", "csv", *sample.args())))
    infl = list(dict.fromkeys(g["influencer"] for g in got))
    assert infl == ["ces", "tickets_per_user", "first_response_time"]  # SPEC §3.5's defaults
    check_tree(sample, units, "nps", infl)


@pytest.mark.parametrize("month", ["2024-11-01", "2024-12-01", "2023-06-01"])
def test_sample_report(sample: World, units: dict[str, str], month: str) -> None:
    # 2024-12: events end that day (incomplete for their metrics); 2023-06: no year-ago data
    got = check_report(sample, units, month)
    if month == "2023-06-01":
        assert all(g["yoy_change"] == "" for g in got)
