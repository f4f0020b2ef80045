"""The golden event log of research/product.md §2(c), the parts of SPEC §3.3 built so far.

Every expected number is from the research file's hand-checked tables (arithmetic in comments);
the DST cases are worked out here, hour by hour, from the IANA rules of the two zones.
"""

from __future__ import annotations

import csv
from datetime import date
from pathlib import Path

import pytest

from kpi_cli import compute

HEADER = ["event_id", "anonymous_id", "user_id", "account_id", "timestamp", "event"]
EVENTS = [  # research/product.md §2(c); accounts A = {u1, u2}, B = {u3, u4}, C = {u5}
    ["e01", "anon-9", "", "", "2023-02-27T08:55:00Z", "Page Viewed"],
    ["e02", "anon-9", "u1", "A", "2023-02-27T09:00:00Z", "Signed Up"],
    ["e03", "", "u1", "A", "2023-02-27T09:10:00Z", "Report Created"],
    ["e04", "", "u2", "A", "2023-02-28T14:00:00Z", "Signed Up"],
    ["e05", "", "u1", "A", "2023-03-01T10:00:00Z", "Signed In"],
    ["e06", "", "u1", "A", "2023-03-01T10:20:00Z", "Report Created"],
    ["e07", "", "u1", "A", "2023-03-01T11:30:00Z", "Report Created"],
    ["e08", "", "u2", "A", "2023-03-02T08:00:00Z", "Signed In"],
    ["e09", "", "u3", "B", "2023-03-06T12:00:00Z", "Signed Up"],
    ["e10", "", "u3", "B", "2023-03-06T12:05:00Z", "Report Created"],
    ["e11", "", "u1", "A", "2023-03-07T09:00:00Z", "Signed In"],
    ["e12", "", "u4", "B", "2023-03-08T23:30:00Z", "Signed Up"],
    ["e13", "", "u4", "B", "2023-03-13T10:00:00Z", "Signed In"],
    ["e14", "", "u3", "B", "2023-03-14T16:00:00Z", "Report Created"],
    ["e15", "", "u2", "A", "2023-03-15T09:00:00Z", "Invite Sent"],
    ["e16", "", "u1", "A", "2023-03-15T09:05:00Z", "Report Created"],
    ["e16", "", "u1", "A", "2023-03-15T09:05:00Z", "Report Created"],  # exact duplicate
    ["e17", "", "u4", "B", "2023-03-20T11:00:00Z", "Report Created"],
    ["e18", "", "u5", "C", "2023-03-31T23:50:00Z", "Signed Up"],
]
FEB, MAR = date(2023, 2, 1), date(2023, 3, 1)


def write(folder: Path, rows: list[list[str]], header: list[str] = HEADER, config: str | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "events.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    if config:
        (folder / "kpi.toml").write_text(config)
    return folder


def values(df, metric: str) -> dict[date, float | None]:
    return {r["period"]: r["value"] for r in df.filter(df["metric"] == metric).iter_rows(named=True)}


@pytest.fixture(params=["polars", "duckdb"])
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write(tmp_path / "events", EVENTS)


def test_march_utc(log: Path, engine: str) -> None:
    ids = ["dau", "mau", "dau_mau", "logins_per_user", "active_accounts", "invites_per_user", "active_users"]
    df = compute(ids, data=log, month="2023-03", engine=engine)
    got = {m: values(df, m)[MAR] for m in ids}
    assert got["mau"] == 5  # u1–u5
    assert got["active_users"] == 5
    assert got["dau"] == pytest.approx(11 / 31)  # Σ DAU in March = 11 over 31 days
    assert got["dau_mau"] == pytest.approx((11 / 31) / 5)  # 0.0710
    assert got["logins_per_user"] == pytest.approx(4 / 5)  # e05, e08, e11, e13
    assert got["invites_per_user"] == pytest.approx(1 / 5)  # e15
    assert got["active_accounts"] == 3  # A, B, C
    ratio = df.filter(df["metric"] == "dau_mau").row(0, named=True)
    assert (ratio["numerator"], ratio["denominator"]) == (pytest.approx(11 / 31), 5)


def test_february_merges_the_anonymous_visitor(log: Path, engine: str) -> None:
    # anon-9 (e01) resolves to u1 through e02: Feb 27 has 1 active actor, not 2; Feb 28 has u2.
    df = compute(["dau", "mau"], data=log, month="2023-02", engine=engine)
    assert values(df, "mau")[FEB] == 2
    assert values(df, "dau")[FEB] == pytest.approx(2 / 28)


@pytest.mark.parametrize(("tz", "mau", "dau_sum"), [
    ("Asia/Tokyo", 4, 10),  # e18 moves to 1 April; e12 to 9 March, e14 to 15 March (DAU 15th = 3)
    ("America/New_York", 5, 11),  # same daily counts as UTC for this log
])
def test_march_in_other_timezones(log: Path, engine: str, tz: str, mau: int, dau_sum: int) -> None:
    df = compute(["dau", "mau"], data=log, month="2023-03", tz=tz, engine=engine)
    assert values(df, "mau")[MAR] == mau
    assert values(df, "dau")[MAR] == pytest.approx(dau_sum / 31)


@pytest.mark.parametrize(("week_start", "starts"), [
    ("mon", [date(2023, 2, 27), date(2023, 3, 6), date(2023, 3, 13), date(2023, 3, 20), date(2023, 3, 27)]),
    ("sun", [date(2023, 2, 26), date(2023, 3, 5), date(2023, 3, 12), date(2023, 3, 19), date(2023, 3, 26)]),
])
def test_calendar_wau(log: Path, engine: str, week_start: str, starts: list[date]) -> None:
    df = compute("wau", data=log, from_="2023-02-27", to="2023-03-31", period="week", week_start=week_start,
                 engine=engine)
    assert list(values(df, "wau").items()) == list(zip(starts, [2.0, 3.0, 4.0, 1.0, 1.0], strict=True))
    complete = dict(zip(df["period"].to_list(), df["complete"].to_list(), strict=True))
    assert complete[starts[-1]] is False  # the week of 27 March runs past the last event


def test_account_actor(log: Path, engine: str) -> None:
    # Active days per account in March: A 1, 2, 7, 15 (4) · B 6, 8, 13, 14, 20 (5) · C 31 (1) → Σ 10.
    df = compute(["dau", "mau"], data=log, month="2023-03", actor="account", engine=engine)
    assert values(df, "mau")[MAR] == 3
    assert values(df, "dau")[MAR] == pytest.approx(10 / 31)


def test_key_actions_need_configuring_and_count(tmp_path: Path) -> None:
    plain = write(tmp_path / "plain", EVENTS)
    with pytest.raises(Exception, match="key_actions"):
        compute("key_actions_per_user", data=plain, month="2023-03")
    # Report Created in March: e06, e07, e10, e14, e16 (once), e17 = 6, over 5 active users.
    configured = write(tmp_path / "conf", EVENTS, config='[events]\nkey_actions = ["Report Created"]\n')
    df = compute("key_actions_per_user", data=configured, month="2023-03", config=str(configured / "kpi.toml"))
    assert values(df, "key_actions_per_user")[MAR] == pytest.approx(6 / 5)


def test_repeated_event_id_keeps_the_earliest(tmp_path: Path) -> None:
    # e05 again two days later: dropped, so 3 March gains no active user.
    rows = [*EVENTS, ["e05", "", "u1", "A", "2023-03-03T10:00:00Z", "Signed In"]]
    df = compute(["dau", "logins_per_user"], data=write(tmp_path / "ev", rows), month="2023-03")
    assert values(df, "dau")[MAR] == pytest.approx(11 / 31)
    assert values(df, "logins_per_user")[MAR] == pytest.approx(4 / 5)


def test_anonymous_only_rows_count_unless_identified_only(tmp_path: Path) -> None:
    rows = [*EVENTS, ["e19", "anon-7", "", "", "2023-03-05T10:00:00Z", "Page Viewed"]]
    data = write(tmp_path / "ev", rows)
    df = compute(["dau", "mau"], data=data, month="2023-03")
    assert (values(df, "mau")[MAR], values(df, "dau")[MAR]) == (6, pytest.approx(12 / 31))
    df = compute(["dau", "mau"], data=data, month="2023-03", identified_only=True)
    assert (values(df, "mau")[MAR], values(df, "dau")[MAR]) == (5, pytest.approx(11 / 31))


@pytest.mark.parametrize(("tz", "rows", "expected"), [
    # New York springs forward at 07:00Z on 12 March (EST −5 → EDT −4).
    ("America/New_York", [
        ["n1", "", "w1", "", "2023-03-12T04:30:00Z", "Page Viewed"],  # 23:30 EST, 11 March
        ["n2", "", "w2", "", "2023-03-12T05:30:00Z", "Page Viewed"],  # 00:30 EST, 12 March
        ["n3", "", "w3", "", "2023-03-13T03:30:00Z", "Page Viewed"],  # 23:30 EDT, 12 March
        ["n4", "", "w4", "", "2023-03-13T04:30:00Z", "Page Viewed"],  # 00:30 EDT, 13 March
    ], {date(2023, 3, 11): 1, date(2023, 3, 12): 2, date(2023, 3, 13): 1}),
    # Berlin springs forward at 01:00Z on 26 March (CET +1 → CEST +2).
    ("Europe/Berlin", [
        ["b1", "", "w1", "", "2023-03-25T22:30:00Z", "Page Viewed"],  # 23:30 CET, 25 March
        ["b2", "", "w2", "", "2023-03-25T23:30:00Z", "Page Viewed"],  # 00:30 CET, 26 March
        ["b3", "", "w3", "", "2023-03-26T21:30:00Z", "Page Viewed"],  # 23:30 CEST, 26 March
        ["b4", "", "w4", "", "2023-03-26T22:30:00Z", "Page Viewed"],  # 00:30 CEST, 27 March
    ], {date(2023, 3, 25): 1, date(2023, 3, 26): 2, date(2023, 3, 27): 1}),
])
def test_daily_counts_across_dst(tmp_path: Path, engine: str, tz: str, rows: list[list[str]],
                                 expected: dict[date, int]) -> None:
    days = sorted(expected)
    df = compute("dau", data=write(tmp_path / "ev", rows), from_=days[0].isoformat(), to=days[-1].isoformat(),
                 period="day", tz=tz, engine=engine)
    assert values(df, "dau") == expected


def test_month_end_at_235959_local(tmp_path: Path, engine: str) -> None:
    rows = [
        ["m1", "", "w1", "", "2023-03-31T21:59:59Z", "Page Viewed"],  # 23:59:59 CEST, 31 March
        ["m2", "", "w2", "", "2023-03-31T22:00:00Z", "Page Viewed"],  # 00:00:00 CEST, 1 April
        ["m3", "", "w3", "", "2023-04-30T20:00:00Z", "Page Viewed"],  # 22:00 CEST, 30 April
    ]
    df = compute("mau", data=write(tmp_path / "ev", rows), from_="2023-03", to="2023-04", tz="Europe/Berlin",
                 engine=engine)
    assert values(df, "mau") == {MAR: 1, date(2023, 4, 1): 2}


def test_sessions_march(log: Path, engine: str) -> None:
    # research/product.md §2(c): u1 4 sessions in March, u2 2, u3 2, u4 3, u5 1 = 12 over 5 MAU;
    # durations 20 min (u1 Mar 1) + 5 min (u3 Mar 6), all others single-event (0): 25 min in all.
    ids = ["sessions_per_user", "avg_session_duration", "median_session_duration", "session_minutes_per_user"]
    df = compute(ids, data=log, month="2023-03", engine=engine)
    got = {m: values(df, m)[MAR] for m in ids}
    assert got["sessions_per_user"] == pytest.approx(12 / 5)
    assert got["avg_session_duration"] == pytest.approx(25 * 60 / 12)  # 125 s
    assert got["median_session_duration"] == 0
    assert got["session_minutes_per_user"] == pytest.approx(25 / 5)


def test_session_gap_option(log: Path) -> None:
    # With a 90-minute gap u1's 10:20 and 11:30 events on 1 March join one session: 11 sessions.
    df = compute("sessions_per_user", data=log, month="2023-03", session_gap="90m")
    assert values(df, "sessions_per_user")[MAR] == pytest.approx(11 / 5)


def test_session_id_column_and_24h_cut(tmp_path: Path) -> None:
    header = [*HEADER, "session_id"]
    rows = [
        ["s1", "", "u1", "A", "2023-03-01T10:00:00Z", "Page Viewed", "x"],
        ["s2", "", "u1", "A", "2023-03-01T12:00:00Z", "Page Viewed", "x"],  # same id, 2 h later: one session
        ["s3", "", "u1", "A", "2023-03-02T11:00:00Z", "Page Viewed", "x"],  # 25 h after its start: a new one
        ["s4", "", "u2", "A", "2023-03-01T10:05:00Z", "Page Viewed", "y"],
        ["s5", "", "u2", "A", "2023-03-01T10:10:00Z", "Page Viewed", "z"],  # another id: its own session
    ]
    df = compute(["sessions_per_user", "avg_session_duration"], data=write(tmp_path / "ev", rows, header),
                 month="2023-03")
    # Sessions: u1 [10:00, 12:00] (7200 s), u1 [02 Mar 11:00] (0), u2 y (0), u2 z (0) → 4 over 2 users.
    assert values(df, "sessions_per_user")[MAR] == pytest.approx(4 / 2)
    assert values(df, "avg_session_duration")[MAR] == pytest.approx(7200 / 4)


def test_weekly_lifecycle(log: Path) -> None:
    import polars as pl
    from polars.testing import assert_frame_equal

    from kpi_cli import lifecycle

    got = lifecycle(data=log, from_="2023-02-27", to="2023-03-31", period="week")
    # research/product.md §2(c) lifecycle table; quick ratio = (new + resurrecting) / |dormant|.
    expected = pl.DataFrame({
        "period": [date(2023, 2, 27), date(2023, 3, 6), date(2023, 3, 13), date(2023, 3, 20), date(2023, 3, 27)],
        "new": [2, 2, 0, 0, 1],  # u1 u2 · u3 u4 · – · – · u5
        "returning": [0, 1, 3, 1, 0],  # – · u1 · u1 u3 u4 · u4 · –
        "resurrecting": [0, 0, 1, 0, 0],  # u2 back in the week of 13 March
        "dormant": [0, -1, 0, -3, -1],  # – · u2 · – · u1 u2 u3 · u4
        "quick_ratio": [None, 2 / 1, None, 0 / 3, 1 / 1],
        "complete": [True, True, True, True, False],
    })
    assert_frame_equal(got, expected)


def test_monthly_lifecycle_march(log: Path) -> None:
    from kpi_cli import lifecycle

    row = lifecycle(data=log, month="2023-03").row(0, named=True)
    # new 3 (u3, u4, u5), returning 2 (u1, u2 active in February too), nothing resurrecting or dormant.
    assert (row["new"], row["returning"], row["resurrecting"], row["dormant"]) == (3, 2, 0, 0)


def test_stickiness_histogram_march(log: Path) -> None:
    from kpi_cli import stickiness

    got = stickiness(data=log, month="2023-03")
    # Active days: u5 1 · u2, u3 2 · u1, u4 3 → exactly-n 1, 2, 2; at-least-n 5, 4, 2.
    assert got.select("days_active", "actors", "cumulative").rows() == [(1, 1, 5), (2, 2, 4), (3, 2, 2)]


def cohort_rates(df) -> dict[tuple[date | None, int], float | None]:
    return {(r["cohort"], r["period_index"]): r["rate"] for r in df.iter_rows(named=True)}


@pytest.mark.parametrize(("clock", "criterion", "expected"), [
    # research/product.md §2(c), weekly retention, S = first Signed Up, R = any event, Monday weeks.
    ("calendar", "on", {
        (date(2023, 2, 27), 0): 1.0, (date(2023, 2, 27), 1): 0.5, (date(2023, 2, 27), 2): 1.0,
        (date(2023, 2, 27), 3): 0.0, (date(2023, 3, 6), 0): 1.0, (date(2023, 3, 6), 1): 1.0,
        (date(2023, 3, 6), 2): 0.5, (date(2023, 3, 6), 3): None, (date(2023, 3, 27), 0): 1.0,
        (None, 1): 3 / 4,  # week-1 retention weighted over complete cohorts: (1 + 2) / (2 + 2)
    }),
    ("calendar", "on-or-after", {(date(2023, 2, 27), 1): 1.0, (date(2023, 3, 6), 1): 1.0}),
    # Rolling 7-day buckets from each signup: u4's 13 March event is in W0, so the 6 March cohort's
    # W2 is 0 % where the calendar clock gives 50 %; W1 is still 3/4.
    ("rolling", "on", {(date(2023, 2, 27), 1): 0.5, (date(2023, 3, 6), 1): 1.0, (date(2023, 3, 6), 2): 0.0,
                       (None, 1): 3 / 4}),
])
def test_user_retention(log: Path, clock: str, criterion: str, expected: dict) -> None:
    from kpi_cli import cohort

    got = cohort_rates(cohort(of="users", data=log, from_="2023-02-27", to="2023-03-31", period="week",
                              clock=clock, criterion=criterion))
    for key, want in expected.items():
        assert got[key] == (pytest.approx(want) if want is not None else None), key


@pytest.mark.parametrize(("window", "order", "converted", "median_s"), [
    # research/product.md §2(c): Signed Up → Report Created over 27 Feb – 31 Mar; u5 (31 Mar 23:50) is
    # pending under both windows. Times: u1 10 min, u3 5 min, u4 11 d 11 h 30 min, u2 never.
    ("7d", "loose", 2, (10 * 60 + 5 * 60) / 2),  # u1, u3 of 4 mature: 50 %
    ("14d", "loose", 3, 10 * 60),  # u1, u3, u4: 75 %, median 10 min
    ("14d", "strict", 2, (10 * 60 + 5 * 60) / 2),  # u4's next event after signing up is Signed In
    ("14d", "any", 3, 10 * 60),
])
def test_funnel_golden(log: Path, window: str, order: str, converted: int, median_s: float) -> None:
    from kpi_cli import funnel

    df = funnel(["Signed Up", "Report Created"], data=log, from_="2023-02", to="2023-03", window=window,
                order=order)
    first, second = df.row(0, named=True), df.row(1, named=True)
    assert (first["actors"], first["pending"]) == (4, 1)
    assert second["actors"] == converted
    assert second["conversion"] == pytest.approx(converted / 4)
    assert second["median_time_to_convert"] == pytest.approx(median_s)


def test_funnel_window_is_not_restarted_by_a_repeated_first_step(tmp_path: Path) -> None:
    from kpi_cli import funnel

    # Mixpanel's example: A 13:00, A 13:30, B 13:45, C 14:15 with a one-hour window: B counts, C does not.
    rows = [["x1", "", "u1", "", "2023-03-01T13:00:00Z", "A"], ["x2", "", "u1", "", "2023-03-01T13:30:00Z", "A"],
            ["x3", "", "u1", "", "2023-03-01T13:45:00Z", "B"], ["x4", "", "u1", "", "2023-03-01T14:15:00Z", "C"]]
    df = funnel(["A", "B", "C"], data=write(tmp_path / "ev", rows), month="2023-03", window="1h")
    assert df["actors"].to_list() == [1, 1, 0]
    # A repeated step needs a later occurrence: A → A converts through the 13:30 event, 30 minutes on.
    again = funnel(["A", "A"], data=write(tmp_path / "ev2", rows), month="2023-03", window="1h")
    assert again["actors"].to_list() == [1, 1]
    assert again["median_time_to_convert"][1] == pytest.approx(30 * 60)


@pytest.mark.parametrize(("day", "expected"), [
    # research/product.md §2(c), trailing windows: on 15 March WAU7 (9–15 Mar) 4, MAU30 (14 Feb – 15 Mar) 4,
    # DAU 2 so DAU/MAU 0.5; on 31 March WAU7 1 (u5), MAU30 (2–31 Mar) 5, DAU 1.
    ("2023-03-15", {"dau": 2, "wau": 4, "mau": 4, "dau_mau": 0.5}),
    ("2023-03-31", {"dau": 1, "wau": 1, "mau": 5, "dau_mau": 0.2}),
])
def test_trailing_windows(log: Path, day: str, expected: dict[str, float]) -> None:
    df = compute(list(expected), data=log, from_=day, to=day, period="day", window="trailing")
    when = date.fromisoformat(day)
    assert {m: values(df, m)[when] for m in expected} == {m: pytest.approx(v) for m, v in expected.items()}


def test_trailing_month_uses_the_window_ending_on_its_last_day(log: Path) -> None:
    # MAU30 at 28 February covers 30 Jan – 28 Feb: u1 and u2. With --mau-days 28: 1–28 Feb, the same two.
    for days in (30, 28):
        df = compute("mau", data=log, month="2023-02", window="trailing", mau_days=days)
        assert values(df, "mau")[FEB] == 2


ROLES = """[events]
activation = ["Report Created"]
activation_window = "7d"
[events.features]
reports = ["Report Created"]
invites = ["Invite Sent"]
"""


def test_activation_ttfv_and_w2wai_over_the_quarter(tmp_path: Path) -> None:
    folder = write(tmp_path / "ev", EVENTS, config=ROLES)
    ids = ["activation_rate", "time_to_first_value", "time_to_first_value_p75", "w2wai", "w2wai_count"]
    df = compute(ids, data=folder, quarter="2023-Q1", period="quarter", config=str(folder / "kpi.toml"))
    q1 = date(2023, 1, 1)
    got = {r["metric"]: r for r in df.filter(df["period"] == q1).iter_rows(named=True)}
    # research/product.md §2(c): 7-day activation over mature signups u1–u4 (u5 is immature): u1, u3 → 2/4.
    assert (got["activation_rate"]["numerator"], got["activation_rate"]["denominator"]) == (2, 4)
    # First Report Created after signing up: u1 10 min, u3 5 min, u4 11 d 11 h 30 min; median 10 min.
    hours = [10 / 60, 5 / 60, 11 * 24 + 11.5]
    assert got["time_to_first_value"]["value"] == pytest.approx(10 / 60)
    assert got["time_to_first_value"]["denominator"] == 3
    assert got["time_to_first_value_p75"]["value"] == pytest.approx(10 / 60 + 0.5 * (max(hours) - 10 / 60))
    # W2WAI: A (first account event 27 Feb 09:00) active 7 Mar; B (6 Mar 12:00) active 14 Mar; C immature.
    assert got["w2wai"]["value"] == 1.0
    assert (got["w2wai"]["numerator"], got["w2wai"]["denominator"], got["w2wai_count"]["value"]) == (2, 2, 2)


def test_feature_adoption_by_feature(tmp_path: Path) -> None:
    folder = write(tmp_path / "ev", EVENTS, config=ROLES)
    df = compute("feature_adoption_rate", data=folder, month="2023-03", by=["feature"],
                 config=str(folder / "kpi.toml"))
    # Report Created by u1, u3, u4 of 5 active users; Invite Sent by u2.
    assert {r["feature"]: r["value"] for r in df.iter_rows(named=True)} == {
        "reports": pytest.approx(3 / 5), "invites": pytest.approx(1 / 5)}
    with pytest.raises(Exception, match="--by feature"):
        compute("feature_adoption_rate", data=folder, month="2023-03", config=str(folder / "kpi.toml"))


def test_reactivation_rate(tmp_path: Path) -> None:
    rows = [
        ["r1", "", "x", "", "2023-01-01T10:00:00Z", "Page Viewed"],  # idle 59 days at 1 March, back 5 March
        ["r2", "", "x", "", "2023-03-05T10:00:00Z", "Page Viewed"],
        ["r3", "", "y", "", "2023-02-25T10:00:00Z", "Page Viewed"],  # idle only 4 days: not counted
        ["r4", "", "y", "", "2023-03-06T10:00:00Z", "Page Viewed"],
        ["r5", "", "z", "", "2023-01-10T10:00:00Z", "Page Viewed"],  # idle 50 days, does not come back
        ["r6", "", "w", "", "2023-03-31T10:00:00Z", "Page Viewed"],  # new in March: never active before
    ]
    df = compute("reactivation_rate", data=write(tmp_path / "ev", rows), month="2023-03")
    row = df.row(0, named=True)
    assert (row["numerator"], row["denominator"]) == (1, 2)  # x back of {x, z}
    df = compute("reactivation_rate", data=tmp_path / "ev", month="2023-03", inactive_days=3)
    assert (df["numerator"][0], df["denominator"][0]) == (2, 3)  # with 3 idle days y counts too


def test_wau_mau_and_dau_wau(log: Path, engine: str) -> None:
    week = date(2023, 3, 13)
    df = compute(["wau_mau", "dau_wau"], data=log, from_="2023-03-13", to="2023-03-19", period="week",
                 engine=engine)
    # research/product.md §2(c): WAU/MAU for the week of 13 March = 4 / 5 (March's MAU).
    assert values(df, "wau_mau")[week] == pytest.approx(4 / 5)
    # Daily actives that week: 13th u4, 14th u3, 15th u1 u2 → Σ 4, average 4/7, over WAU 4.
    assert values(df, "dau_wau")[week] == pytest.approx((4 / 7) / 4)
    # A month: the mean over the weeks starting in it (6, 13, 20, 27 March: WAU 3, 4, 1, 1 over MAU 5).
    df = compute("wau_mau", data=log, month="2023-03", engine=engine)
    assert values(df, "wau_mau")[MAR] == pytest.approx((3 + 4 + 1 + 1) / 4 / 5)


def test_exclusions_apply_to_every_metric(tmp_path: Path) -> None:
    from kpi_cli import funnel, lifecycle

    header = [*HEADER, "email", "properties"]
    rows = [[*r, "", "{}"] for r in EVENTS]
    rows += [
        ["t1", "", "qa1", "Z", "2023-03-10T10:00:00Z", "Signed Up", "qa1@acme-test.io", "{}"],
        ["t2", "", "qa1", "Z", "2023-03-11T10:00:00Z", "Report Created", "", "{}"],  # same actor, no email
        ["t3", "", "u9", "Z", "2023-03-12T10:00:00Z", "Signed Up", "", '{"plan": "internal"}'],
        ["t4", "", "bot", "Z", "2023-03-13T10:00:00Z", "Signed Up", "", "{}"],
    ]
    folder = write(tmp_path / "ev", rows, header,
                   config='[exclude]\nemail_domains = ["acme-test.io"]\nproperties = ["plan=internal"]\n')
    (tmp_path / "skip.txt").write_text("# ids\nbot\n")
    options = {"data": folder, "config": str(folder / "kpi.toml"), "exclude_file": str(tmp_path / "skip.txt")}
    # qa1 goes by its email domain (both rows), u9's only event is internal, bot is in the file:
    # March is the golden log again.
    df = compute(["mau", "dau"], month="2023-03", **options)
    assert (values(df, "mau")[MAR], values(df, "dau")[MAR]) == (5, pytest.approx(11 / 31))
    assert lifecycle(month="2023-03", **options).row(0, named=True)["new"] == 3  # u3, u4, u5 only
    steps = funnel(["Signed Up", "Report Created"], from_="2023-02", to="2023-03", window="14d", **options)
    assert steps["actors"].to_list() == [4, 3]  # as in the golden funnel; qa1 would have converted


def test_by_event_column_and_property(tmp_path: Path, engine: str) -> None:
    header = [*HEADER, "properties"]
    rows = [[*r, '{"plan": "team"}' if r[2] in ("u1", "u2") else '{"plan": "pro"}'] for r in EVENTS]
    rows.append(["e20", "", "u3", "B", "2023-03-21T10:00:00Z", "Signed In", '{"plan": "team"}'])
    folder = write(tmp_path / "ev", rows, header)
    df = compute(["mau", "dau"], data=folder, month="2023-03", by=["account_id"], engine=engine)
    by_account = {(r["metric"], r["account_id"]): r["value"] for r in df.iter_rows(named=True)}
    # March: A = {u1, u2} on 1, 2, 7, 15 Mar; B = {u3, u4} on 6, 8, 13, 14, 20, 21 Mar; C = {u5} on 31 Mar.
    assert by_account[("mau", "A")] == 2
    assert by_account[("dau", "A")] == pytest.approx((1 + 1 + 1 + 2) / 31)
    assert by_account[("mau", "B")] == 2
    assert by_account[("dau", "B")] == pytest.approx(6 / 31)
    assert by_account[("mau", "C")] == 1
    df = compute("mau", data=folder, month="2023-03", by=["prop.plan"], engine=engine)
    by_plan = {r["prop.plan"]: r["value"] for r in df.iter_rows(named=True)}
    # u3 had a "team" event on 21 March, so u3 counts in both groups: 3 + 3 > 5 users in all.
    assert by_plan == {"team": 3, "pro": 3}


def test_feature_metrics_take_only_by_feature(tmp_path: Path) -> None:
    folder = write(tmp_path / "ev", EVENTS, config=ROLES)
    with pytest.raises(Exception, match="use --by feature alone"):
        compute("feature_adoption_rate", data=folder, month="2023-03", by=["account_id"],
                config=str(folder / "kpi.toml"))


def test_engagement_group_keeps_what_fits_the_breakdown(tmp_path: Path) -> None:
    folder = write(tmp_path / "ev", EVENTS, config=ROLES)
    kw = {"data": folder, "month": "2023-03", "config": str(folder / "kpi.toml")}
    per_feature = {"feature_adoption_rate", "feature_retention_rate"}
    by_feature = compute("engagement", by=["feature"], **kw)
    assert set(by_feature["metric"]) == per_feature  # only the per-feature metrics fit --by feature
    by_account = compute("engagement", by=["account_id"], **kw)
    plain = compute("engagement", **kw)
    assert not per_feature & (set(plain["metric"]) | set(by_account["metric"]))
    assert {"dau", "mau", "activation_rate"} <= set(by_account["metric"]) <= set(plain["metric"])
    # Accounts A and B each had 2 active users in March (u1, u2 / u3, u4); C had one.
    mau = {r["account_id"]: r["value"] for r in by_account.filter(by_account["metric"] == "mau").iter_rows(named=True)}
    assert (mau["A"], mau["B"], mau["C"]) == (2, 2, 1)


def test_invites_viral_and_pqls(tmp_path: Path) -> None:
    header = [*HEADER, "email", "properties"]
    rows = [
        ["i1", "", "a1", "A", "2023-03-01T10:00:00Z", "Invite Sent", "", '{"invitee_email": "New@x.io"}'],
        ["i2", "", "a1", "A", "2023-03-02T10:00:00Z", "Invite Sent", "", '{"invitee_email": "b@x.io"}'],
        ["i3", "", "a1", "A", "2023-03-03T10:00:00Z", "Invite Sent", "", '{"invitee_email": "new@x.io"}'],
        ["s1", "", "n1", "A", "2023-03-10T10:00:00Z", "Signed Up", "new@x.io", "{}"],
        ["k1", "", "n1", "A", "2023-03-11T10:00:00Z", "Report Created", "", "{}"],
        ["k2", "", "a1", "A", "2023-03-12T10:00:00Z", "Report Created", "", "{}"],
        ["k3", "", "b1", "B", "2023-03-12T10:00:00Z", "Report Created", "", "{}"],
    ]
    config = '[events]\nkey_actions = ["Report Created"]\n[pql]\nmin_active_users = 2\nmin_key_actions = 2\n'
    folder = write(tmp_path / "ev", rows, header, config=config)
    ids = ["invites_per_user", "invite_acceptance_rate", "viral_coefficient", "pqls"]
    df = compute(ids, data=folder, month="2023-03", config=str(folder / "kpi.toml"))
    got = {r["metric"]: r for r in df.iter_rows(named=True)}
    # 3 invites by 3 active users (a1, n1, b1); 2 distinct invitees (emails compared in lower case),
    # new@x.io signed up 9 days after the first invite: acceptance 1/2.
    assert got["invites_per_user"]["value"] == pytest.approx(3 / 3)
    assert (got["invite_acceptance_rate"]["numerator"], got["invite_acceptance_rate"]["denominator"]) == (1, 2)
    assert got["viral_coefficient"]["value"] == pytest.approx(1.0 * 0.5)
    # PQL: account A has 2 users and 2 key actions; B has 1 user.
    assert got["pqls"]["value"] == 1


def test_cohort_wide_grid(log: Path) -> None:
    from typer.testing import CliRunner

    from kpi_cli.cli import app

    result = CliRunner().invoke(app, ["cohort", "--of", "users", "--period", "week", "--from", "2023-02-27", "--to",
                                      "2023-03-31", "--data", str(log), "--wide", "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "cohort,cohort_size,0,1,2,3,4"
    assert lines[1] == "2023-02-27,2.0,1.0,0.5,1.0,0.0,"  # the §2(c) triangle's first row; W4 not over
    assert lines[-1] == ",5.0,1.0,0.75,0.75,0.0,"  # weighted summary: W1 = (1 + 2) / (2 + 2)


def test_validate_reports_event_hygiene(log: Path) -> None:
    from typer.testing import CliRunner

    from kpi_cli.cli import app

    result = CliRunner().invoke(app, ["validate", "--data", str(log)])
    assert result.exit_code == 0, result.stdout
    assert "19 rows read, 1 exact duplicate," in result.stdout  # e16 twice
    assert "1 anonymous rows merged into users" in result.stdout  # e01 (anon-9 → u1)
    assert "1 events of 1 actors come before their first signup" in result.stdout  # e01 at 08:55, signup 09:00


def test_pql_list(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from kpi_cli.cli import app

    folder = write(tmp_path / "ev", EVENTS, config='[events]\nkey_actions = ["Report Created"]\n'
                                                   "[pql]\nmin_active_users = 2\nmin_key_actions = 2\n")
    result = CliRunner().invoke(app, ["compute", "pqls", "--list", "--month", "2023-03", "--data", str(folder),
                                      "--config", str(folder / "kpi.toml"), "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    # March: A = u1, u2 with Report Created e06, e07, e16; B = u3, u4 with e10, e14, e17; C has one user.
    assert result.stdout.splitlines() == ["period,account_id,active_users,key_actions,complete",
                                          "2023-03-01,A,2,3,false", "2023-03-01,B,2,3,false"]
