"""``--by`` for engagement metrics (docs/decisions.md, "--by for engagement metrics").

Small hand-made logs; every expected value is worked out by hand in the comment next to it.
Activity metrics (trailing windows, calendar shares) are also checked against their definition:
each group's value equals the total computed on the log filtered to that group's events.
"""

from __future__ import annotations

import csv
import random
from datetime import date, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from kpi_cli import compute
from kpi_cli.cli import app

HEADER = ["event_id", "user_id", "account_id", "timestamp", "event", "plan"]
MAR = date(2023, 3, 1)


def write(folder: Path, rows: list[list[str]], header: list[str] = HEADER, config: str | None = None,
          customers: list[list[str]] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "events.csv").open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])
    if customers is not None:
        with (folder / "customers.csv").open("w", newline="") as f:
            csv.writer(f).writerows(customers)
    if config:
        (folder / "kpi.toml").write_text(config)
    return folder


def by_group(df: pl.DataFrame, metric: str, dim: str = "plan", period: date | None = None) -> dict:
    """``{group: value}`` of one metric (and one period when given); each group must appear once."""
    rows = df.filter(pl.col("metric") == metric)
    if period is not None:
        rows = rows.filter(pl.col("period") == period)
    out = {r[dim]: r["value"] for r in rows.iter_rows(named=True)}
    assert len(out) == rows.height, f"{metric}: a group appears twice"
    return out


def row(df: pl.DataFrame, metric: str, group: str | None, dim: str = "plan") -> dict:
    rows = df.filter(pl.col("metric") == metric, pl.col(dim).eq_missing(group))
    assert rows.height == 1
    return rows.row(0, named=True)


@pytest.fixture(params=["polars", "duckdb"])
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


# --- trailing windows -------------------------------------------------------------------------

TRAILING_LOG = [  # the week of Monday 13 March 2023 is the range; 28-day windows
    ["t1", "e", "", "2023-03-05T10:00:00Z", "Page Viewed", "team"],
    ["t2", "a", "", "2023-03-01T10:00:00Z", "Page Viewed", "team"],
    ["t3", "c", "", "2023-03-10T10:00:00Z", "Page Viewed", "pro"],
    ["t4", "a", "", "2023-03-13T10:00:00Z", "Page Viewed", "team"],
    ["t5", "b", "", "2023-03-14T10:00:00Z", "Page Viewed", "team"],
    ["t6", "a", "", "2023-03-15T10:00:00Z", "Page Viewed", "team"],
    ["t7", "c", "", "2023-03-16T10:00:00Z", "Page Viewed", "pro"],
    ["t8", "b", "", "2023-03-19T10:00:00Z", "Page Viewed", "pro"],  # b counts in both groups
    ["t9", "d", "", "2023-02-01T10:00:00Z", "Page Viewed", "pro"],  # outside every window
    ["t10", "f", "", "2023-03-01T12:00:00Z", "Page Viewed", "free"],  # only in 28-day windows
]


def test_trailing_windows_by_group(tmp_path: Path) -> None:
    folder = write(tmp_path / "ev", TRAILING_LOG)
    ids = ["wau", "mau", "active_users", "dau_mau", "wau_mau", "dau_wau"]
    df = compute(ids, data=folder, from_="2023-03-13", to="2023-03-19", period="week", window="trailing",
                 mau_days=28, by="plan")
    week = date(2023, 3, 13)
    got = {m: by_group(df, m, period=week) for m in ids}
    # 7 days ending Sun 19 March (13–19): team a, b; pro b, c; free nobody.
    assert got["wau"] == {"team": 2, "pro": 2, "free": 0}
    # 28 days ending 19 March (20 Feb – 19 Mar): team a, b, e; pro b, c (d's 1 Feb is outside); free f,
    # whose only event is before the range but inside its windows, so the group is reported.
    assert got["mau"] == {"team": 3, "pro": 2, "free": 1}
    assert got["active_users"] == {"team": 3, "pro": 2, "free": 1}
    # Mean over 13…19 March of DAU(d) / MAU28(d).
    # team: MAU28 is 2 on the 13th (a, e), 3 from the 14th (b); DAU 1 on 13, 14, 15 → (1/2 + 1/3 + 1/3) / 7
    # pro: MAU28 is 1 (c) until b on the 19th makes 2; DAU 1 on 16 and 19 → (1/1 + 1/2) / 7
    assert got["dau_mau"]["team"] == pytest.approx((1 / 2 + 1 / 3 + 1 / 3) / 7)
    assert got["dau_mau"]["pro"] == pytest.approx((1 + 1 / 2) / 7)
    # Mean of WAU7(d) / MAU28(d). team: 13th a/2, then a, b of 3 → (1/2 + 6 × 2/3) / 7.
    # pro: c alone in every 7-day window over MAU 1, and b, c over 2 on the 19th → 1.
    assert got["wau_mau"]["team"] == pytest.approx((1 / 2 + 6 * 2 / 3) / 7)
    assert got["wau_mau"]["pro"] == pytest.approx(1.0)
    # Mean of DAU(d) / WAU7(d). team: 1/1 (13th), 1/2, 1/2, then 0 → 2/7. pro: 1/1 (16th) + 1/2 (19th) → 1.5/7.
    assert got["dau_wau"]["team"] == pytest.approx(2 / 7)
    assert got["dau_wau"]["pro"] == pytest.approx(1.5 / 7)
    # free: MAU28 1 every day with no daily or weekly actives → 0, 0, and DAU/WAU undefined on every day.
    assert (got["dau_mau"]["free"], got["wau_mau"]["free"], got["dau_wau"]["free"]) == (0.0, 0.0, None)
    total = compute(["mau", "wau"], data=folder, from_="2023-03-13", to="2023-03-19", period="week",
                    window="trailing", mau_days=28)
    # Groups may sum to more than the total: a, b, c, e, f → 5 in 28 days, a, b, c → 3 in 7.
    assert by_group(total.with_columns(pl.lit("all").alias("plan")), "mau") == {"all": 5}
    assert by_group(total.with_columns(pl.lit("all").alias("plan")), "wau") == {"all": 3}


# --- calendar shares ---------------------------------------------------------------------------

SHARES_LOG = [  # March 2023: weeks starting Mon 6, 13, 20, 27
    ["c1", "a", "", "2023-03-06T10:00:00Z", "Page Viewed", "team"],
    ["c2", "a", "", "2023-03-07T10:00:00Z", "Page Viewed", "team"],
    ["c3", "a", "", "2023-03-14T10:00:00Z", "Page Viewed", "team"],
    ["c4", "b", "", "2023-03-21T10:00:00Z", "Page Viewed", "team"],
    ["c5", "c", "", "2023-03-06T10:00:00Z", "Page Viewed", "pro"],
    ["c6", "c", "", "2023-03-20T10:00:00Z", "Page Viewed", "pro"],
    ["c7", "c", "", "2023-03-28T10:00:00Z", "Page Viewed", "pro"],
    ["c8", "b", "", "2023-03-29T10:00:00Z", "Page Viewed", "pro"],
]


def test_calendar_shares_by_group(tmp_path: Path, engine: str) -> None:
    folder = write(tmp_path / "ev", SHARES_LOG)
    df = compute(["wau_mau", "dau_wau", "mau"], data=folder, month="2023-03", by="plan", engine=engine)
    # MAU: team a, b; pro c, b.
    assert by_group(df, "mau") == {"team": 2, "pro": 2}
    # team WAU by week 1, 1, 1, 0 over MAU 2; the empty week counts as 0: (3 × 1/2 + 0) / 4.
    # pro WAU 1, 0, 1, 2 over 2: (1/2 + 0 + 1/2 + 1) / 4.
    assert by_group(df, "wau_mau") == {"team": pytest.approx(1.5 / 4), "pro": pytest.approx(0.5)}
    # Week's average DAU / WAU; a week without actives has none and is left out.
    # team: (2/7)/1, (1/7)/1, (1/7)/1 → 4/21. pro: (1/7)/1, (1/7)/1, (2/7)/2 → 1/7.
    assert by_group(df, "dau_wau") == {"team": pytest.approx(4 / 21), "pro": pytest.approx(1 / 7)}
    total = compute("wau_mau", data=folder, month="2023-03", engine=engine)
    # All: WAU 2 (a, c), 1 (a), 2 (b, c), 2 (c, b) over MAU 3.
    assert total["value"][0] == pytest.approx((2 + 1 + 2 + 2) / 4 / 3)


# --- the oracle: a group's value is the total on that group's events --------------------------

ACTIVITY = ["wau", "mau", "active_users", "dau_mau", "wau_mau", "dau_wau"]


def random_log(seed: int) -> list[list[str]]:
    """Eight users over February–April 2023, hopping between two plans and no plan at all."""
    rng = random.Random(seed)
    rows = []
    start = datetime(2023, 2, 1)
    for i in range(140):
        ts = start + timedelta(minutes=rng.randrange(0, 89 * 24 * 60))
        user = f"u{rng.randrange(8)}"
        plan = rng.choice(["team", "team", "pro", ""])
        rows.append([f"r{i}", user, "", ts.strftime("%Y-%m-%dT%H:%M:00Z"), "Page Viewed", plan])
    return rows


def values_of(df: pl.DataFrame, metric: str) -> dict[date, float | None]:
    return {r["period"]: r["value"] for r in df.filter(pl.col("metric") == metric).iter_rows(named=True)}


@pytest.mark.parametrize(("seed", "period", "window"), [
    (1, "month", "trailing"), (2, "week", "trailing"), (3, "month", "calendar"), (4, "week", "calendar")])
def test_each_group_equals_the_total_on_its_events(tmp_path: Path, seed: int, period: str, window: str) -> None:
    rows = random_log(seed)
    span = {"from_": "2023-03", "to": "2023-04"} if period == "month" else {"from_": "2023-03-06", "to": "2023-04-23"}
    grouped = compute(ACTIVITY, data=write(tmp_path / "all", rows), period=period, window=window, by="plan",
                      as_of="2023-06-01", **span)
    assert set(grouped["plan"].to_list()) == {"team", "pro", None}
    for plan in ("team", "pro", ""):
        alone = compute(ACTIVITY, data=write(tmp_path / f"only-{plan or 'none'}", [r for r in rows if r[5] == plan]),
                        period=period, window=window, as_of="2023-06-01", **span)
        mine = grouped.filter(pl.col("plan").eq_missing(plan or None))
        for metric in ACTIVITY:
            expected = values_of(alone, metric)
            assert len(expected) > 1
            assert values_of(mine, metric) == pytest.approx(expected, nan_ok=False), (plan, metric)


# --- sessions ------------------------------------------------------------------------------------

SESSIONS_LOG = [  # 30-minute gap; no session_id column
    ["s1", "u1", "", "2023-03-01T10:00:00Z", "Page Viewed", "team"],
    ["s2", "u1", "", "2023-03-01T10:10:00Z", "Page Viewed", "pro"],
    ["s3", "u1", "", "2023-03-01T10:20:00Z", "Page Viewed", "team"],  # one 1200 s session, in team and pro
    ["s4", "u1", "", "2023-03-02T09:00:00Z", "Page Viewed", "team"],  # 0 s, team
    ["s5", "u2", "", "2023-03-03T12:00:00Z", "Page Viewed", "pro"],  # 0 s, pro
    ["s6", "u2", "", "2023-03-03T12:45:00Z", "Page Viewed", "pro"],  # 45 min later: 0 s, pro
    ["s7", "u2", "", "2023-03-05T08:00:00Z", "Page Viewed", "pro"],
    ["s8", "u2", "", "2023-03-05T08:05:00Z", "Page Viewed", "pro"],  # 300 s, pro
    ["s9", "u3", "", "2023-03-06T10:00:00Z", "Page Viewed", ""],
    ["s10", "u3", "", "2023-03-06T10:05:00Z", "Page Viewed", "team"],  # 300 s, no plan and team
]


def test_sessions_by_group(tmp_path: Path, engine: str) -> None:
    folder = write(tmp_path / "ev", SESSIONS_LOG)
    ids = ["sessions_per_user", "avg_session_duration", "median_session_duration", "session_minutes_per_user"]
    df = compute(ids, data=folder, month="2023-03", by="plan", engine=engine)
    got = {m: by_group(df, m) for m in ids}
    # team: sessions of 1200, 0 and 300 s; active u1, u3. pro: 1200, 0, 0, 300 s; active u1, u2.
    # no plan: u3's 300 s session.
    assert got["sessions_per_user"] == {"team": 3 / 2, "pro": 4 / 2, None: 1.0}
    assert got["avg_session_duration"] == {"team": 1500 / 3, "pro": 1500 / 4, None: 300.0}
    assert got["median_session_duration"] == {"team": 300.0, "pro": (0 + 300) / 2, None: 300.0}
    assert got["session_minutes_per_user"] == {"team": pytest.approx(25 / 2), "pro": pytest.approx(25 / 2),
                                               None: pytest.approx(5.0)}
    r = row(df, "sessions_per_user", "pro")
    assert (r["numerator"], r["denominator"]) == (4, 2)
    total = compute(ids, data=folder, month="2023-03", engine=engine)
    # Six sessions in all (u1's first counts once): 1200, 0, 0, 0, 300, 300 over u1, u2, u3.
    assert values_of(total, "sessions_per_user")[MAR] == 2.0
    assert values_of(total, "median_session_duration")[MAR] == 150.0


# --- entrant metrics -------------------------------------------------------------------------------

ENTRANT_HEADER = ["event_id", "user_id", "account_id", "timestamp", "event", "channel", "email", "invitee_email"]
ENTRANT_LOG = [
    ["r1a", "r1", "", "2023-01-10T10:00:00Z", "Page Viewed", "ads", "", ""],
    ["r2a", "r2", "", "2023-01-05T10:00:00Z", "Page Viewed", "seo", "", ""],
    ["r2b", "r2", "", "2023-01-20T10:00:00Z", "Page Viewed", "ads", "", ""],
    ["r3a", "r3", "", "2023-01-15T10:00:00Z", "Page Viewed", "seo", "", ""],
    ["s1a", "s1", "A", "2023-03-01T10:00:00Z", "Signed Up", "ads", "s1@y.io", ""],
    ["s1b", "s1", "A", "2023-03-02T10:00:00Z", "Profile Completed", "seo", "", ""],
    ["s1c", "s1", "A", "2023-03-03T10:00:00Z", "Report Created", "seo", "", ""],
    ["r3b", "r3", "", "2023-03-02T12:00:00Z", "Page Viewed", "ads", "", ""],
    ["s1d", "s1", "A", "2023-03-04T10:00:00Z", "Invite Sent", "ads", "", "x@y.io"],
    ["s2a", "s2", "A", "2023-03-05T10:00:00Z", "Signed Up", "ads", "", ""],
    ["s3a", "s3", "B", "2023-03-08T10:00:00Z", "Page Viewed", "seo", "", ""],
    ["s3b", "s3", "B", "2023-03-09T10:00:00Z", "Account Created", "partner", "", ""],
    ["s2b", "s2", "A", "2023-03-09T12:00:00Z", "Signed In", "ads", "", ""],
    ["s3c", "s3", "B", "2023-03-10T10:00:00Z", "Signed Up", "seo", "", ""],
    ["s3d", "s3", "B", "2023-03-11T10:00:00Z", "Report Created", "seo", "", ""],
    ["s3e", "s3", "B", "2023-03-12T10:00:00Z", "Invite Sent", "seo", "", "z@y.io"],
    ["s4a", "s4", "B", "2023-03-12T11:00:00Z", "Signed Up", "seo", "", ""],
    ["s3f", "s3", "B", "2023-03-13T10:00:00Z", "Invite Sent", "ads", "", "X@y.io"],
    ["s5a", "s5", "", "2023-03-15T10:00:00Z", "Signed Up", "", "x@y.io", ""],
    ["s5b", "s5", "", "2023-03-15T11:00:00Z", "Report Created", "", "", ""],
    ["s2c", "s2", "A", "2023-03-20T10:00:00Z", "Report Created", "ads", "", ""],
    ["r1b", "r1", "", "2023-03-20T10:00:00Z", "Page Viewed", "seo", "", ""],
    ["z1", "r9", "", "2023-04-30T10:00:00Z", "Page Viewed", "", "", ""],  # the data runs to 30 April
]
ENTRANT_CONFIG = """[events]
activation = ["Report Created"]
activation_window = "7d"
onboarding = ["Profile Completed", "Report Created"]
key_actions = ["Report Created"]
[pql]
min_active_users = 2
min_key_actions = 2
"""


@pytest.fixture
def entrants(tmp_path: Path) -> Path:
    return write(tmp_path / "ev", ENTRANT_LOG, ENTRANT_HEADER, config=ENTRANT_CONFIG)


def parts(df: pl.DataFrame, metric: str, dim: str = "channel") -> dict:
    rows = df.filter(pl.col("metric") == metric).iter_rows(named=True)
    return {r[dim]: (r["numerator"], r["denominator"]) for r in rows}


def test_signup_metrics_take_the_signup_events_group(entrants: Path) -> None:
    ids = ["activation_rate", "onboarding_completion_rate", "time_to_first_value", "time_to_first_value_p75"]
    df = compute(ids, data=entrants, month="2023-03", by="channel", config=str(entrants / "kpi.toml"))
    # Signups by the channel of their Signed Up event: ads s1, s2; seo s3, s4; none s5. s1's later
    # events say seo, but s1 stays in ads (first touch).
    # Activation (Report Created within 7 days): s1 (2 days), s3 (1 day), s5 (1 hour); s2 took 15 days.
    assert parts(df, "activation_rate") == {"ads": (1, 2), "seo": (1, 2), None: (1, 1)}
    # Onboarding (Profile Completed then Report Created within 7 days): only s1.
    assert parts(df, "onboarding_completion_rate") == {"ads": (1, 2), "seo": (0, 2), None: (0, 1)}
    # Hours to the first Report Created: ads s1 48, s2 360; seo s3 24 (s4 never); none s5 1.
    ttfv = by_group(df, "time_to_first_value", "channel")
    assert ttfv == {"ads": pytest.approx((48 + 360) / 2), "seo": pytest.approx(24.0), None: pytest.approx(1.0)}
    assert by_group(df, "time_to_first_value_p75", "channel")["ads"] == pytest.approx(48 + 0.75 * (360 - 48))
    assert row(df, "time_to_first_value", "seo", "channel")["denominator"] == 1
    total = compute("activation_rate", data=entrants, month="2023-03", config=str(entrants / "kpi.toml"))
    assert (total["numerator"][0], total["denominator"][0]) == (3, 5)


def test_account_and_invite_metrics_by_group(entrants: Path) -> None:
    ids = ["w2wai", "w2wai_count", "pqls", "invite_acceptance_rate", "viral_coefficient", "reactivation_rate"]
    df = compute(ids, data=entrants, month="2023-03", by="channel", config=str(entrants / "kpi.toml"))
    # W2WAI: A starts at its first event (s1's signup, ads), active in days 7–14 (s2 on 9 March);
    # B starts at its Account Created event (partner), nothing in 16–23 March.
    assert parts(df, "w2wai") == {"ads": (1, 1), "partner": (0, 1)}
    assert by_group(df, "w2wai_count", "channel") == {"ads": 1, "partner": 0}
    # PQL (2 users, 2 Report Created): A (s1, s2; s1c, s2c) is one, B (one report) is not. An account
    # goes by its first event: A ads, B seo (s3's page view on 8 March).
    assert by_group(df, "pqls", "channel") == {"ads": 1, "seo": 0}
    # Invitations by the first invite event per invitee in March: x@y.io ads (4 March, accepted by s5's
    # signup on the 15th; s3's "X@y.io" on the 13th is the same invitee), z@y.io seo (never accepted).
    assert parts(df, "invite_acceptance_rate") == {"ads": (1, 1), "seo": (0, 1)}
    # Viral: invites per active actor of the group (actor rule) × acceptance.
    # ads: invites s1d, s3f over actives s1, r3, s2, s3 → 2/4, × 1. seo: s3e over s1, s3, s4, r1 → 1/4, × 0.
    # partner (s3) and no channel (s5) sent nothing and had no invitation: acceptance, so viral, is null.
    viral = {r["channel"]: (r["value"], r["numerator"], r["denominator"])
             for r in df.filter(pl.col("metric") == "viral_coefficient").iter_rows(named=True)}
    assert viral == {"ads": (0.5, 0.5, 1.0), "seo": (0.0, 0.25, 0.0), "partner": (None, 0.0, None),
                     None: (None, 0.0, None)}
    # Reactivation: idle 30+ days on 1 March, by the channel of their last event before it:
    # r1 (10 Jan, ads) back on the 20th, r2 (20 Jan, ads) not back, r3 (15 Jan, seo) back on the 2nd.
    assert parts(df, "reactivation_rate") == {"ads": (1, 2), "seo": (1, 1)}


# --- customer attributes -----------------------------------------------------------------------------

CUSTOMERS = [["customer_id", "segment", "created_at"], ["A", "smb", "2023-01-01"], ["B", "ent", "2023-01-01"]]
ACCOUNT_LOG = [
    ["a1", "u1", "A", "2023-03-01T10:00:00Z", "Signed Up", "team"],
    ["a2", "u1", "A", "2023-03-02T10:00:00Z", "Report Created", "team"],
    ["a3", "u2", "A", "2023-03-03T10:00:00Z", "Signed Up", "team"],
    ["a4", "u3", "B", "2023-03-04T10:00:00Z", "Signed Up", "pro"],
    ["a5", "u4", "C", "2023-03-05T10:00:00Z", "Signed Up", "pro"],  # C is not a customer
    ["a6", "u5", "", "2023-03-06T10:00:00Z", "Signed Up", "pro"],  # no account
    ["a7", "u5", "", "2023-03-20T10:00:00Z", "Report Created", "pro"],
]


def test_by_customer_attribute(tmp_path: Path, engine: str) -> None:
    folder = write(tmp_path / "ev", ACCOUNT_LOG, customers=CUSTOMERS,
                   config='[events]\nactivation = ["Report Created"]\n')
    df = compute(["mau", "dau", "activation_rate"], data=folder, month="2023-03", by="segment", engine=engine,
                 config=str(folder / "kpi.toml"))
    assert df.columns == ["metric", "period", "segment", "value", "numerator", "denominator", "complete"]
    # smb = account A (u1, u2); ent = B (u3); C (unknown) and no account make the null group (u4, u5).
    assert by_group(df, "mau", "segment") == {"smb": 2, "ent": 1, None: 2}
    # Σ daily actives: smb 1 + 1 + 1 = 3, ent 1, null 1 (u4) + 1 + 1 (u5) = 3, over 31 days.
    assert by_group(df, "dau", "segment") == {"smb": pytest.approx(3 / 31), "ent": pytest.approx(1 / 31),
                                              None: pytest.approx(3 / 31)}
    # Activation by the signup's account: smb u1 yes, u2 no; ent u3 no; null u4 no, u5 no (14 days).
    assert parts(df, "activation_rate", "segment") == {"smb": (1, 2), "ent": (0, 1), None: (0, 2)}
    # Rows are sorted by metric, period, then group with the null group last.
    assert df.filter(pl.col("metric") == "mau")["segment"].to_list() == ["ent", "smb", None]


def test_event_column_wins_over_a_customer_column(tmp_path: Path) -> None:
    folder = write(tmp_path / "ev", ACCOUNT_LOG, customers=[["customer_id", "plan"], ["A", "gold"], ["B", "gold"]])
    df = compute("mau", data=folder, month="2023-03", by="plan")
    # The events' own plan column: team u1, u2; pro u3, u4, u5.
    assert by_group(df, "mau") == {"team": 2, "pro": 3}


def test_unknown_dimension_is_a_usage_error(tmp_path: Path) -> None:
    folder = write(tmp_path / "ev", ACCOUNT_LOG, customers=CUSTOMERS)
    result = CliRunner().invoke(app, ["compute", "mau", "--month", "2023-03", "--by", "region", "--data",
                                      str(folder), "-f", "csv"])
    assert result.exit_code == 2
    assert "--by region: not a column of events (nor prop.NAME) nor of customers" in result.stderr
    hint = next(line for line in result.stderr.splitlines() if line.startswith("hint:"))
    events_columns = hint.split("events columns: ")[1].split(";")[0].split(", ")
    assert {"plan", "user_id", "account_id", "event"} <= set(events_columns)
    assert hint.split("customers columns: ")[1].split(", ") == ["customer_id", "created_at", "segment"]
    # Without a customers source the hint says so.
    (folder / "customers.csv").unlink()
    result = CliRunner().invoke(app, ["compute", "mau", "--month", "2023-03", "--by", "segment", "--data",
                                      str(folder)])
    assert result.exit_code == 2
    assert "customers columns: (none)" in result.stderr


def test_cli_by_output_shape(tmp_path: Path) -> None:
    folder = write(tmp_path / "ev", SESSIONS_LOG)
    result = CliRunner().invoke(app, ["compute", "sessions_per_user", "--month", "2023-03", "--by", "plan",
                                      "--data", str(folder), "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    # numerator sessions, denominator active actors; the null group is an empty field, sorted last.
    assert result.stdout.splitlines() == [
        "metric,period,plan,value,numerator,denominator,complete",
        "sessions_per_user,2023-03-01,pro,2.0,4.0,2.0,false",
        "sessions_per_user,2023-03-01,team,1.5,3.0,2.0,false",
        "sessions_per_user,2023-03-01,,1.0,1.0,1.0,false",
    ]


def test_a_group_active_only_outside_what_the_periods_read_has_no_rows(tmp_path: Path) -> None:
    """The groups of a --by run are those with activity in what its periods read, whichever metrics
    are asked: plan "old" is active only in 2022, so March 2023's dau and its off-grain wau (weeks
    starting in March: the 6th, 13th, 20th, 27th; u1 in the first) list "pro" alone."""
    rows = [["e1", "u1", "a1", "2023-03-07T10:00:00Z", "Page Viewed", "pro"],
            ["e2", "u2", "a2", "2022-06-07T10:00:00Z", "Page Viewed", "old"]]
    data = write(tmp_path, rows)
    for metrics in ("dau", "dau,wau,wau_mau"):
        out = compute(metrics, data=data, month="2023-03", by="plan")
        assert set(out["plan"].to_list()) == {"pro"}, metrics
    out = compute("wau", data=data, month="2023-03", by="plan")
    assert by_group(out, "wau") == {"pro": 0.25}
