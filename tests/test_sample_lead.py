"""The sample company's one real influencer (issue 9 item 5): key actions per user lead customer churn
by a month, at account level and in aggregate, while logins, session minutes and DAU/MAU do not.

Everything here is recomputed from the committed CSV files with Polars and scipy, by the SPEC's
definitions read plainly; nothing calls kpi's metric code.
"""

from __future__ import annotations

import itertools
import math
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
STARTS = [datetime(2023 + m // 12, m % 12 + 1, 1, tzinfo=UTC) for m in range(25)]  # 2023-01 .. 2025-01
KEYS = tuple(tomllib.loads((SAMPLE / "kpi.toml").read_text())["events"]["key_actions"])
OTHERS = ("logins_per_user", "session_minutes_per_user", "dau_mau")


def instant(col: str) -> pl.Expr:
    return pl.col(col).str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")


def month_index(col: str) -> pl.Expr:
    return (instant(col).dt.year() - 2023) * 12 + instant(col).dt.month() - 1


@pytest.fixture(scope="module")
def events() -> pl.DataFrame:
    """Events deduplicated by event_id (first row wins), each with its actor: the user, or for an
    anonymous row the user its anonymous id later signed up as, else the anonymous id."""
    raw = pl.read_csv(SAMPLE / "events.csv", infer_schema=False).unique("event_id", keep="first", maintain_order=True)
    known = raw.filter(pl.col("user_id").is_not_null(), pl.col("anonymous_id").is_not_null()).select(
        "anonymous_id", linked="user_id").unique("anonymous_id", keep="first")
    return (raw.join(known, on="anonymous_id", how="left")
            .with_columns(actor=pl.coalesce("user_id", "linked", "anonymous_id"), m=month_index("timestamp"),
                          ts=instant("timestamp")))


@pytest.fixture(scope="module")
def paying() -> list[set[str]]:
    """Accounts paying at the start of each month 2023-01 .. 2025-01: a licensed item with a price whose
    span covers that instant (a canceled row's span was still paid for)."""
    subs = pl.read_csv(SAMPLE / "subscriptions.csv", infer_schema=False).filter(
        pl.col("is_metered") == "false", pl.col("status").is_in(["active", "past_due", "canceled"]),
        pl.col("amount").cast(pl.Float64) > 0, pl.col("discount_percent").fill_null("0") != "100")
    spans = subs.select("customer_id", lo=instant("start_at"), hi=instant("end_at"))
    return [set(spans.filter(pl.col("lo") <= t, pl.col("hi").is_null() | (pl.col("hi") > t))["customer_id"])
            for t in STARTS]


def monthly(events: pl.DataFrame) -> pl.DataFrame:
    """Per month: active actors, key actions, logins, session minutes and DAU/MAU (SPEC §3.3)."""
    active = events.group_by("m").agg(active=pl.col("actor").n_unique(),
                                       keys=pl.col("event").is_in(KEYS).sum(),
                                       logins=(pl.col("event") == "Signed In").sum())
    daily = events.group_by("m", pl.col("ts").dt.date().alias("day")).agg(pl.col("actor").n_unique().alias("n"))
    days = pl.DataFrame({"m": range(24), "days": [(STARTS[m + 1] - STARTS[m]).days for m in range(24)]})
    dau = daily.group_by("m").agg(dau_sum=pl.col("n").sum()).join(days, on="m")
    # A session: one actor's events under one session_id, timed first to last, in its first event's month.
    sessions = (events.filter(pl.col("session_id").is_not_null()).group_by("actor", "session_id")
                .agg(first=pl.col("ts").min(), last=pl.col("ts").max())
                .with_columns(m=(pl.col("first").dt.year() - 2023) * 12 + pl.col("first").dt.month() - 1,
                              minutes=(pl.col("last") - pl.col("first")).dt.total_seconds() / 60)
                .group_by("m").agg(pl.col("minutes").sum()))
    return (active.join(dau, on="m").join(sessions, on="m", how="left").sort("m").filter(pl.col("m") < 24)
            .with_columns(key_actions_per_user=pl.col("keys") / pl.col("active"),
                          logins_per_user=pl.col("logins") / pl.col("active"),
                          session_minutes_per_user=pl.col("minutes") / pl.col("active"),
                          dau_mau=pl.col("dau_sum") / pl.col("days") / pl.col("active")))


def churn_rates(paying: list[set[str]]) -> list[float | None]:
    """Customer churn rate per month: paying at its start and no longer at the next month's start."""
    return [len(paying[m] - paying[m + 1]) / len(paying[m]) if paying[m] else None for m in range(24)]


def changes(values: list[float | None], *, relative: bool) -> list[float | None]:
    """Change of month t over t - 1 for t = 1 .. 23 (relative for per-user counts, absolute for ratios)."""
    out: list[float | None] = []
    for a, b in itertools.pairwise(values):
        if a is None or b is None or (relative and a == 0):
            out.append(None)
        else:
            out.append(b / a - 1 if relative else b - a)
    return out


def lagged_rho(x: list[float | None], y: list[float | None], lag: int) -> tuple[float, int]:
    """Spearman ρ of (Δx_{t-lag}, Δy_t) over the pairs where both are known."""
    pairs = [(a, b) for a, b in zip(x[:len(x) - lag], y[lag:], strict=True) if a is not None and b is not None]
    rho = stats.spearmanr([a for a, _ in pairs], [b for _, b in pairs]).statistic
    return float(rho), len(pairs)


def r_needed(n: int, tests: int = 16) -> float:
    """Two-sided critical |ρ| at 0.05 / tests from Student's t with n - 2 degrees of freedom."""
    t = stats.t.ppf(1 - 0.05 / tests / 2, n - 2)
    return float(t / (t**2 + n - 2) ** 0.5)


def test_r_needed_matches_the_brief() -> None:
    assert r_needed(22) == pytest.approx(0.6005, abs=5e-4)  # 4 influencers x 4 lags, 22 pairs at lag 1


def test_churn_is_a_real_rate_with_enough_events(paying: list[set[str]]) -> None:
    rates = churn_rates(paying)
    assert not paying[0]  # the company launched on 2023-01-01
    assert min(len(p) for p in paying[1:24]) > 150  # its beta waitlist: a customer base from the first month
    later = [r for r in rates[2:] if r is not None]
    assert sum(len(paying[m] - paying[m + 1]) for m in range(24)) > 200
    assert 0.01 < sorted(later)[len(later) // 2] < 0.04  # a typical month churns 1-4%
    assert min(later) > 0.0
    assert max(later) < 0.10


def test_key_actions_lead_churn_by_one_month_in_aggregate(events: pl.DataFrame, paying: list[set[str]]) -> None:
    table = monthly(events)
    assert table.height == 24
    dy = changes(churn_rates(paying), relative=False)
    dx = changes(table["key_actions_per_user"].to_list(), relative=True)
    rho, n = lagged_rho(dx, dy, 1)
    assert n == 22  # January 2023 has no churn rate: nobody paid at its start
    # More key actions, less churn the month after: "moved opposite" beyond Bonferroni's bar.
    assert rho < -r_needed(n)
    # The lead is at lag 1: at the other lags the key actions stay under the bar.
    for lag in (0, 2, 3):
        other, m = lagged_rho(dx, dy, lag)
        assert abs(other) < r_needed(m), lag
        assert abs(other) < abs(rho), lag


@pytest.mark.parametrize("metric", OTHERS)
def test_logins_session_minutes_and_dau_mau_do_not_move_with_churn(events: pl.DataFrame, paying: list[set[str]],
                                                                   metric: str) -> None:
    dy = changes(churn_rates(paying), relative=False)
    dx = changes(monthly(events)[metric].to_list(), relative=metric != "dau_mau")
    for lag in range(4):
        rho, n = lagged_rho(dx, dy, lag)
        # Well inside the bar, and a 95% interval (Fisher z, SPEC §3.5) that contains 0: "no detectable
        # relationship", not even "possible, not reliable".
        half = 1.959964 * ((1 + rho**2 / 2) / (n - 3)) ** 0.5
        z = math.atanh(rho)
        assert abs(rho) < r_needed(n) - 0.15, (lag, rho)
        assert z - half < 0 < z + half, (lag, rho)


def test_accounts_with_few_key_actions_churn_more_the_next_month(events: pl.DataFrame,
                                                                 paying: list[set[str]]) -> None:
    per_account = (events.filter(pl.col("account_id").is_not_null(), pl.col("user_id").is_not_null())
                   .group_by("account_id", "m")
                   .agg(users=pl.col("user_id").n_unique(), keys=pl.col("event").is_in(KEYS).sum()))
    rate = {(a, m): k / u for a, m, u, k in per_account.select("account_id", "m", "users", "keys").iter_rows()}
    units = [(rate[(a, p - 1)], a not in paying[p + 1]) for p in range(1, 24) for a in paying[p]
             if (a, p - 1) in rate]  # accounts with activity in P - 1
    assert sum(churned for _, churned in units) >= 20
    xs = sorted(x for x, _ in units)
    q1, q3 = xs[len(xs) // 4], xs[3 * len(xs) // 4]

    def churn(group: list[bool]) -> float:
        assert len(group) > 300
        return sum(group) / len(group)

    low = churn([c for x, c in units if x <= q1])
    high = churn([c for x, c in units if x >= q3])
    assert low > 2 * high  # the lowest key-action quartile churns more than twice as often
    assert low > 0.025
