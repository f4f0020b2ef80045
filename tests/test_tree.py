"""``kpi tree --level period`` through ``kpi_cli.api.tree`` and the CLI, against scipy on compute's series.

One seeded world of 28 full months (and 9 days of a 29th): monthly churn is built from the previous
month's logins per user (churn = 9% − 1% × logins, so churn ← logins should "move opposite" at lag 1);
key actions per user are noise. The expected rows are worked out here from ``kpi compute … -f csv``
alone: the window, the changes by unit (ratio absolute, count relative), the lagged pairs, then
``scipy.stats.spearmanr``, the Fisher interval of SPEC §3.5 and Student's t for ``r_needed``.
"""

from __future__ import annotations

import csv
import io
import math
import os
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from scipy import stats as sps
from typer.testing import CliRunner, Result

from kpi_cli.cli import app
from tests.conftest import write_csv

MONTHS = 28  # full months from 2022-01; 2024-05 is the partial one
AS_OF = "2024-05-15"
COLUMNS = ["kpi", "influencer", "level", "lag", "n", "method", "value", "ci_low", "ci_high", "r_needed", "verdict",
           "detail", "reason"]
LOGINS, KEYS, GROWTH, CHURN = "logins_per_user", "key_actions_per_user", "customer_growth_rate", "customer_churn_rate"


def month(i: int) -> str:
    """``YYYY-MM`` of the ``i``-th month from 2022-01 (negative: before it)."""
    y, m = divmod(i, 12)
    return f"{2022 + y:04d}-{m + 1:02d}"


def make_world(folder: Path, seed: int = 21) -> None:
    """Subscriptions and events of a company whose churn follows last month's logins per user."""
    rng = random.Random(seed)
    periods = [month(i) for i in range(MONTHS + 1)]
    x = [rng.uniform(2, 8) for _ in periods]  # each month's logins per user
    subs: list[list[str]] = []
    active: list[int] = []

    def stamp(p: str, last_day: int) -> str:
        minute = rng.randrange(1440)
        return f"{p}-{rng.randint(1, last_day):02d}T{minute // 60:02d}:{minute % 60:02d}:00Z"

    def join(p: str, count: int, last_day: int = 27) -> None:
        for _ in range(count):
            subs.append([f"c{len(subs):04d}", f"s{len(subs):04d}", stamp(p, last_day), "", "50", "USD"])
            active.append(len(subs) - 1)

    join(periods[0], 700)
    for t in range(1, MONTHS):
        rate = 0.09 - 0.01 * x[t - 1] + rng.uniform(-0.002, 0.002)  # 1%–7%, led by logins one month
        gone = rng.sample(active, round(rate * len(active)))
        for i in gone:
            subs[i][3] = stamp(periods[t], 27)
            active.remove(i)
        join(periods[t], len(gone) + rng.randint(-8, 8))
    join(periods[MONTHS], 4, last_day=9)  # the partial month: signups up to the 9th
    write_csv(folder / "subscriptions.csv", ["customer_id", "subscription_id", "start_at", "end_at", "amount",
                                             "currency"], subs)
    users = [f"u{i:02d}" for i in range(40)]
    events: list[list[str]] = []
    for t, p in enumerate(periods):
        last_day = 27 if t < MONTHS else 9
        logins = users + rng.choices(users, k=round(x[t] * len(users)) - len(users))  # everyone active
        keys = rng.choices(users, k=rng.randint(40, 200))  # unrelated to anything
        for name, actors in (("Signed In", logins), ("Report Run", keys)):
            events += [[stamp(p, last_day), name, u, f"a{int(u[1:]) % 5}"] for u in actors]
    write_csv(folder / "events.csv", ["timestamp", "event", "user_id", "account_id"], sorted(events))
    (folder / "kpi.toml").write_text('[events]\nkey_actions = ["Report Run"]\n')


def isolated_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPI_")}
    env.update({"NO_COLOR": "1", "XDG_CONFIG_HOME": "/nonexistent-kpi-config"})
    return env


def kpi(*args: str | Path) -> Result:
    """``kpi`` in-process, isolated from the machine's settings."""
    return CliRunner().invoke(app, [str(a) for a in args], env=isolated_env())


def ok(result: Result) -> str:
    assert result.exit_code == 0, (result.exit_code, result.stdout, result.stderr)
    return result.stdout


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


@dataclass
class World:
    folder: Path

    def args(self) -> list[str | Path]:
        return ["--data", self.folder, "--config", self.folder / "kpi.toml", "--as-of", AS_OF]

    def tree(self, *args: str) -> list[dict[str, str]]:
        return rows_of(ok(kpi("tree", CHURN, *args, "-f", "csv", *self.args())))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    folder = tmp_path_factory.mktemp("tree_world")
    make_world(folder)
    return World(folder)


@pytest.fixture(scope="module")
def units() -> dict[str, str]:
    return {r["id"]: r["unit"] for r in rows_of(ok(kpi("list", "-f", "csv")))}


# --- the expected rows, from compute's series and scipy --------------------------------------------

Change = tuple[str, float | None, float | None, bool]  # (period, value, change, complete)


def changes_from_compute(w: World, units: dict[str, str], metrics: list[str], last: int) -> dict[str, list[Change]]:
    """Each metric's change table over the ``last`` complete months ending at the KPI's last complete one.

    ``ratio`` changes absolutely, ``count`` relatively; a zero or null base gives null.
    """
    first, end = month(MONTHS - last - 1), month(MONTHS)  # the month before the window, the partial one
    out = ok(kpi("compute", ",".join(metrics), "--from", first, "--to", end, "-f", "csv", *w.args()))
    series: dict[str, dict[str, tuple[float | None, bool]]] = {m: {} for m in metrics}
    for r in rows_of(out):
        series[r["metric"]][r["period"]] = (float(r["value"]) if r["value"] else None, r["complete"] == "true")
    kpi_periods = sorted(series[metrics[0]])
    done = [p for p in kpi_periods if series[metrics[0]][p][1]]
    window = kpi_periods[kpi_periods.index(done[-1]) - last + 1: kpi_periods.index(done[-1]) + 1]
    assert len(window) == last
    assert window[0] == f"{month(MONTHS - last)}-01"  # 2024-05 is incomplete: the window ends in April
    table = {}
    for m in metrics:
        prev = series[m][f"{first}-01"][0]
        rows: list[Change] = []
        for p in window:
            v, complete = series[m][p]
            if v is None or prev is None:
                ch = None
            elif units[m] == "ratio":
                ch = v - prev
            else:
                assert units[m] == "count", (m, units[m])
                ch = None if prev == 0 else v / prev - 1
            rows.append((p, v, ch, complete))
            prev = v
        table[m] = rows
    return table


def pairs(x: list[Change], y: list[Change], lag: int) -> tuple[list[float], list[float]]:
    """(Δx_{t−lag}, Δy_t) over every t where both changes exist and are complete."""
    xs, ys = [], []
    for t in range(lag, len(y)):
        dx, dy = x[t - lag], y[t]
        if dx[2] is not None and dy[2] is not None and dx[3] and dy[3]:
            xs.append(dx[2])
            ys.append(dy[2])
    return xs, ys


def critical_rho(n: int, tests: int) -> float:
    t = sps.t.ppf(1 - 0.05 / tests / 2, n - 2)
    return float(t / math.sqrt(n - 2 + t * t))


def interval(rho: float, n: int, method: str = "spearman") -> tuple[float, float]:
    """Fisher's z: Bonett–Wright's variance (1 + ρ²/2)/(n − 3) for Spearman, 1/(n − 3) for Pearson."""
    var = (1 + rho * rho / 2) / (n - 3) if method == "spearman" else 1 / (n - 3)
    half = 1.959964 * math.sqrt(var)
    return math.tanh(math.atanh(rho) - half), math.tanh(math.atanh(rho) + half)


@dataclass
class Expected:
    lag: int
    n: int
    value: float | None
    ci: tuple[float, float] | None
    r_needed: float


def expected_rows(table: dict[str, list[Change]], kpi_id: str, influencer: str, tests: int,
                  method: str = "spearman") -> list[Expected]:
    out = []
    for lag in range(4):
        xs, ys = pairs(table[influencer], table[kpi_id], lag)
        n = len(xs)
        if n < 10:
            rho = None
        else:
            rho = float((sps.spearmanr if method == "spearman" else sps.pearsonr)(xs, ys).statistic)
        out.append(Expected(lag, n, rho, interval(rho, n, method) if rho is not None else None,
                            critical_rho(n, tests)))
    return out


def verdict(rows: list[Expected]) -> tuple[str, Expected | None]:
    """SPEC §3.5's words for a non-mechanical influencer, and the lag that decides it."""
    tested = [r for r in rows if r.value is not None]
    above = [r for r in tested if abs(r.value or 0) > r.r_needed]
    if above:
        best = max(above, key=lambda r: (abs(r.value or 0), -r.lag))
        return ("moved together" if (best.value or 0) > 0 else "moved opposite"), best
    if any(r.ci is not None and (r.ci[0] > 0 or r.ci[1] < 0) for r in tested):
        return "possible, not reliable", None
    return "no detectable relationship", None


def close(cell: str, want: float | None) -> bool:
    if want is None:
        return cell == ""
    return cell != "" and math.isclose(float(cell), want, rel_tol=1e-9, abs_tol=1e-12)


def check(got: list[dict[str, str]], want: dict[str, list[Expected]], method: str = "spearman") -> None:
    """Every CSV row equals the expected one: lag, n, ρ, interval, r_needed."""
    assert [(g["influencer"], int(g["lag"])) for g in got] == [(i, e.lag) for i, rows in want.items() for e in rows]
    flat = [e for rows in want.values() for e in rows]
    for g, e in zip(got, flat, strict=True):
        where = (g["influencer"], e.lag)
        assert (g["kpi"], g["level"], g["method"]) == (CHURN, "period", method), where
        assert int(g["n"]) == e.n, where
        assert close(g["value"], e.value), (where, g["value"], e.value)
        assert close(g["ci_low"], e.ci[0] if e.ci else None), where
        assert close(g["ci_high"], e.ci[1] if e.ci else None), where
        assert close(g["r_needed"], e.r_needed), (where, g["r_needed"], e.r_needed)


def signed(v: float) -> str:
    return f"{v:+.2f}".replace("-", "\u2212")


# --- the tests -------------------------------------------------------------------------------------


def test_columns_are_specs_thirteen_in_order(world: World) -> None:
    from kpi_cli import api

    assert list(world.tree("--influencers", LOGINS)[0]) == COLUMNS
    df = api.tree(CHURN, data=world.folder, influencers=LOGINS, config=str(world.folder / "kpi.toml"), as_of=AS_OF)
    assert df.columns == COLUMNS
    assert df.height == 4


def test_rows_equal_scipy_on_computes_series(world: World, units: dict[str, str]) -> None:
    infl = [LOGINS, KEYS]
    got = world.tree("--influencers", ",".join(infl))
    table = changes_from_compute(world, units, [CHURN, *infl], 24)
    want = {i: expected_rows(table, CHURN, i, len(infl) * 4) for i in infl}
    check(got, want)
    # 24 changes: lag k has 24 − k pairs
    assert [e.n for e in want[LOGINS]] == [24, 23, 22, 21]
    for i in infl:
        word, best = verdict(want[i])
        mine = [g for g in got if g["influencer"] == i]
        assert {g["verdict"] for g in mine} == {word}  # the influencer's verdict, on each of its rows
        assert len({g["detail"] for g in mine}) == 1
        if best is not None:
            assert best.ci is not None
            assert best.value is not None
            assert mine[0]["detail"].startswith(
                f"lag {best.lag}, ρ = {signed(best.value)} [{signed(best.ci[0])}, {signed(best.ci[1])}]")
    # what the world was built for
    word, best = verdict(want[LOGINS])
    assert word == "moved opposite"
    assert best is not None
    assert best.lag == 1  # the lag it was built with
    assert verdict(want[KEYS])[0] == "no detectable relationship"
    key_detail = next(g["detail"] for g in got if g["influencer"] == KEYS)
    assert key_detail == f"at n = 24 only |ρ| ≥ {critical_rho(24, 8):.2f} would show"


def test_api_gives_the_same_rows_as_the_cli(world: World) -> None:
    from kpi_cli import api

    got = world.tree("--influencers", f"{LOGINS},{KEYS}")
    df = api.tree(CHURN, data=world.folder, influencers=[LOGINS, KEYS], config=str(world.folder / "kpi.toml"),
                  as_of=AS_OF)
    assert df.height == len(got)
    for row, g in zip(df.iter_rows(named=True), got, strict=True):
        for c in COLUMNS:
            v = row[c]
            if isinstance(v, float):
                assert close(g[c], v), c
            else:
                assert g[c] == ("" if v is None else str(v)), c


def test_a_shorter_window_has_changes_minus_lag_pairs(world: World, units: dict[str, str]) -> None:
    got = world.tree("--influencers", LOGINS, "--last", "14")
    table = changes_from_compute(world, units, [CHURN, LOGINS], 14)
    want = {LOGINS: expected_rows(table, CHURN, LOGINS, 4)}
    check(got, want)
    assert [int(g["n"]) for g in got] == [14, 13, 12, 11]


def test_pearson_through_the_cli(world: World, units: dict[str, str]) -> None:
    infl = [LOGINS, KEYS]
    got = world.tree("--influencers", ",".join(infl), "--method", "pearson")
    table = changes_from_compute(world, units, [CHURN, *infl], 24)
    check(got, {i: expected_rows(table, CHURN, i, 8, "pearson") for i in infl}, "pearson")


def test_under_ten_pairs_values_are_null_with_a_reason(world: World, units: dict[str, str]) -> None:
    infl = [LOGINS, KEYS, GROWTH]
    got = world.tree("--influencers", ",".join(infl), "--last", "8")
    table = changes_from_compute(world, units, [CHURN, *infl], 8)
    want = {i: expected_rows(table, CHURN, i, 12) for i in infl}
    check(got, want)
    assert [int(g["n"]) for g in got[:4]] == [8, 7, 6, 5]
    for g in got:
        assert (g["value"], g["ci_low"], g["ci_high"], g["verdict"]) == ("", "", "", ""), g
        assert g["reason"], g  # says why
        assert g["r_needed"], g  # still given: at 0.05 / (3 × 4)
    assert close(got[0]["r_needed"], critical_rho(8, 12))


def test_a_constant_influencer_has_no_rho_and_says_why(world: World) -> None:
    got = world.tree("--influencers", f"arpa,{LOGINS}")  # every plan is 50 USD: ARPA never changes
    arpa = [g for g in got if g["influencer"] == "arpa"]
    assert [int(g["n"]) for g in arpa] == [24, 23, 22, 21]
    for g in arpa:
        assert (g["value"], g["ci_low"], g["ci_high"], g["verdict"]) == ("", "", "", ""), g
        assert "constant" in g["reason"], g
        assert close(g["r_needed"], critical_rho(int(g["n"]), 8)), g


@pytest.mark.parametrize("args", [["ltv", "--influencers", LOGINS], [CHURN, "--influencers", "nrr_ttm"],
                                  [CHURN, "--influencers", f"{LOGINS},nrr_ttm"]])
def test_smoothed_series_are_refused(world: World, args: list[str]) -> None:
    result = kpi("tree", *args, "-f", "csv", *world.args())
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "--allow-smoothed" in result.stderr


def test_allow_smoothed_runs(world: World) -> None:
    got = world.tree("--influencers", "nrr_ttm", "--allow-smoothed")
    assert [(g["influencer"], g["lag"]) for g in got] == [("nrr_ttm", str(k)) for k in range(4)]


def test_a_mechanical_partner_keeps_its_statistics(world: World, units: dict[str, str]) -> None:
    infl = [GROWTH, LOGINS]
    got = world.tree("--influencers", ",".join(infl))
    table = changes_from_compute(world, units, [CHURN, *infl], 24)
    check(got, {i: expected_rows(table, CHURN, i, 8) for i in infl})
    growth = [g for g in got if g["influencer"] == GROWTH]
    assert {g["verdict"] for g in growth} == {"mechanical"}  # both divide by customers at the start
    assert all(g["value"] and g["ci_low"] and g["r_needed"] for g in growth)
    assert {g["verdict"] for g in got if g["influencer"] == LOGINS} == {"moved opposite"}


def test_changes_table(world: World, units: dict[str, str]) -> None:
    infl = [LOGINS, KEYS]
    got = world.tree("--influencers", ",".join(infl), "--changes")
    assert list(got[0]) == ["metric", "period", "value", "change", "change_unit", "complete"]
    table = changes_from_compute(world, units, [CHURN, *infl], 24)
    want = [(m, p, v, ch, "pp" if units[m] == "ratio" else "pct", c) for m, rows in table.items()
            for p, v, ch, c in rows]
    assert [(g["metric"], g["period"]) for g in got] == [(w[0], w[1]) for w in want]
    for g, (m, p, v, ch, cu, c) in zip(got, want, strict=True):
        assert close(g["value"], v), (m, p)
        assert close(g["change"], ch), (m, p, g["change"], ch)
        assert (g["change_unit"], g["complete"]) == (cu, "true" if c else "false"), (m, p)


def test_the_decomposition_sums_to_the_latest_change(world: World) -> None:
    from kpi_cli.api import Run
    from kpi_cli.influence.run import tree_run
    from kpi_cli.options import RunOptions

    run = Run.start(RunOptions(data=str(world.folder), config=str(world.folder / "kpi.toml"), as_of=AS_OF))
    d = tree_run(run, CHURN, [LOGINS]).decomposition
    assert d is not None
    out = ok(kpi("compute", CHURN, "--from", month(MONTHS - 2), "--to", month(MONTHS - 1), "-f", "csv",
                 *world.args()))
    march, april = (float(r["value"]) for r in rows_of(out))
    assert d.period.isoformat() == f"{month(MONTHS - 1)}-01"  # the last complete month
    assert d.change_unit == "pp"
    assert d.previous == pytest.approx(march, rel=1e-12)
    assert d.value == pytest.approx(april, rel=1e-12)
    assert len(d.terms) >= 2  # churned customers and customers at the start
    assert math.fsum(t.contribution for t in d.terms) == pytest.approx(april - march, rel=1e-9, abs=1e-15)


def test_csv_is_byte_identical_on_rerun(world: World) -> None:
    base = [sys.executable, "-m", "kpi_cli", "tree", CHURN, "--influencers", f"{LOGINS},{KEYS}", "-f", "csv",
            "--data", str(world.folder), "--config", str(world.folder / "kpi.toml"), "--as-of", AS_OF]
    for extra in ([], ["--changes"]):
        runs = [subprocess.run([*base, *extra], capture_output=True, env=isolated_env(), check=True).stdout
                for _ in range(2)]
        assert runs[0] == runs[1]
        assert runs[0].startswith(b"kpi,influencer," if not extra else b"metric,period,")
