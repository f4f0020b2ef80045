"""Event hygiene on ``--engine duckdb`` (issue 11): ``event_id`` dedup and the anonymous → user map
run in DuckDB, with the numbers of the Polars path (SPEC §3.3).

A hand-worked log (two files) and generated messy logs (repeated ids with other users and
instants, ties across files, blank ids, anonymous ids equal to a user id's text, exact copies),
each computed on both engines; a spy checks the engine path ran.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kpi_cli import compute, lifecycle, stickiness

SCHEMA = {"timestamp": pl.Datetime("us"), "event": pl.String, "user_id": pl.String, "anonymous_id": pl.String,
          "event_id": pl.String, "account_id": pl.String}


def _write(folder: Path, parts: list[list[tuple]], drop: tuple[str, ...] = ()) -> Path:
    """The log in ``folder/events/part-<i>.parquet``, without the columns ``drop`` names."""
    (folder / "events").mkdir(parents=True)
    for i, rows in enumerate(parts):
        frame = pl.DataFrame(rows, schema=SCHEMA, orient="row").drop(drop)
        frame.write_parquet(folder / "events" / f"part-{i}.parquet")
    return folder


def _at(day: str, hour: int = 12) -> datetime:
    return datetime.fromisoformat(day) + timedelta(hours=hour)


HAND = [
    [  # part-0.parquet
        (_at("2024-02-10"), "view", "u3", "a1", "e10", "x"),   # a1 → u3: its earliest row with a user
        (_at("2024-02-20"), "view", "u4", "a1", "e11", "x"),   # later: does not move the map
        (_at("2024-03-01", 10), "view", "u1", None, "e1", "x"),  # e1 again, later: loses
        (_at("2024-03-01", 9), "view", "u2", None, "e1", "x"),   # e1's earliest: u2 active, u1 not
        (_at("2024-03-07"), "view", None, "a1", "e4", "x"),    # a1 → u3 (active anyway, on 20 March)
        (_at("2024-03-08"), "view", None, "a2", "e5", "x"),    # anonymous actor a2
        (_at("2024-03-09"), "view", "", "u2", "e6", "x"),      # anonymous "u2" (blank user): not user u2
        (_at("2024-03-10"), "view", "u5", None, "e7", "y"),    # tie with part-1's e7: the first file wins
        (_at("2024-03-12"), "view", "u7", None, "", "y"),      # a blank id is no id: both rows count
        (_at("2024-03-12"), "view", "u8", None, "", "y"),
        (_at("2024-03-20"), "view", "u3", None, "e12", "y"),
    ],
    [  # part-1.parquet
        (_at("2024-03-10"), "view", "u6", None, "e7", "y"),    # tie: loses to part-0 (u6 active on 25 March)
        (_at("2024-03-25"), "view", "u6", None, "e14", "y"),
        (_at("2024-04-02"), "view", "u9", None, "e14", "y"),   # e14 again, later: loses (u9 never active)
    ],
]


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_a_hand_worked_log(tmp_path: Path, spy: list[str], engine: str) -> None:
    """March's actors: u2 (e1's earliest), u3, a2, the anonymous "u2", u5 (tie: first file), u7 and u8
    (blank ids), u6: 8; without the anonymous two, 6. u1, u4 and u9 only hold losing or map rows."""
    data = _write(tmp_path, HAND)
    out = compute("active_users", data=data, month="2024-03", engine=engine)
    assert out["value"].to_list() == [8.0]
    only = compute("active_users", data=data, month="2024-03", engine=engine, identified_only=True)
    assert only["value"].to_list() == [6.0]
    assert spy == (["duckdb", "duckdb"] if engine == "duckdb" else [])


def test_the_data_end_is_the_last_kept_row(tmp_path: Path, spy: list[str]) -> None:
    """e14's later twin (2 April) loses: the data ends on 25 March, so the week of 25–31 March is not
    complete (the twin would make it so) whichever engine reads it."""
    data = _write(tmp_path, HAND)
    kw = {"period": "week", "from_": "2024-03-11", "to": "2024-03-31"}
    duck = compute("wau", data=data, engine="duckdb", **kw)
    assert duck["complete"].to_list() == [True, True, False]
    assert_frame_equal(compute("wau", data=data, **kw), duck)
    assert spy == ["duckdb"]


def _messy(seed: int, n: int = 2500) -> list[list[tuple]]:
    rnd = random.Random(seed)
    users, anons = [f"u{i}" for i in range(40)], [f"a{i}" for i in range(50)] + ["u1", "u2", "u3"]
    rows = []
    for _ in range(n):
        ts = datetime(2024, 3, 1) + timedelta(minutes=rnd.randrange(0, 60 * 24 * 70))
        r = rnd.random()
        user = rnd.choice(users) if r < 0.6 else ("" if r < 0.65 else None)
        anon = rnd.choice(anons) if rnd.random() < 0.5 else rnd.choice([None, ""])
        if user in (None, "") and anon in (None, ""):
            anon = rnd.choice(anons)
        eid = f"e{rnd.randrange(0, n // 2)}" if rnd.random() < 0.7 else rnd.choice([None, ""])
        rows.append((ts, rnd.choice(["login", "view", "invite", "export"]), user, anon, eid, rnd.choice("xyz")))
    rows += [rows[i] for i in rnd.sample(range(n), 200)]  # exact copies
    for i in rnd.sample(range(n), 100):  # same id, same instant, another user: decided by file and line
        ts, event, _user, anon, eid, account = rows[i]
        rows.append((ts, event, rnd.choice(users), anon, eid, account))
    rnd.shuffle(rows)
    half = len(rows) // 2
    return [rows[:half], rows[half:]]


IDS = ("dau,wau,mau,dau_mau,active_users,logins_per_user,invites_per_user,sessions_per_user,"
       "avg_session_duration,median_session_duration")
OPTIONS = [{"from_": "2024-03", "to": "2024-05"}, {"from_": "2024-03", "to": "2024-05", "identified_only": True},
           {"from_": "2024-03", "to": "2024-05", "tz": "America/New_York"}, {"last": 2},
           {"from_": "2024-03", "to": "2024-05", "window": "trailing"},
           {"period": "week", "from_": "2024-03-04", "to": "2024-04-28", "week_start": "sun"}]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("kw", OPTIONS)
def test_generated_logs_equal_polars(tmp_path: Path, spy: list[str], seed: int, kw: dict) -> None:
    data = _write(tmp_path, _messy(seed))
    ids = IDS if kw.get("period") != "week" else "dau,wau,active_users,logins_per_user"
    if kw.get("window"):
        ids += ",dau_wau,wau_mau"
    fast = compute(ids, data=data, **kw)
    duck = compute(ids, data=data, engine="duckdb", **kw)
    assert spy == ["duckdb"]
    assert fast.height > 0
    assert_frame_equal(fast, duck)


@pytest.mark.parametrize("identified_only", [False, True])
def test_accounts_and_table_commands_equal_polars(tmp_path: Path, spy: list[str], identified_only: bool) -> None:
    data = _write(tmp_path, _messy(3))
    kw = {"from_": "2024-03", "to": "2024-05", "identified_only": identified_only}

    def tables(**engine_kw: str) -> list[pl.DataFrame]:
        return [compute("dau,mau,active_users", data=data, actor="account", **kw, **engine_kw),
                compute("active_accounts,dau", data=data, **kw, **engine_kw),
                lifecycle(data=data, **kw, **engine_kw), stickiness(data=data, **kw, **engine_kw)]

    fast = tables()
    assert spy == []
    for a, b in zip(fast, tables(engine="duckdb"), strict=True):
        assert a.height > 0
        assert_frame_equal(a, b)
    assert spy == ["duckdb"] * 4


@pytest.mark.parametrize("as_uri", [False, True])
def test_the_place_of_a_row_whatever_its_files_are_called(tmp_path: Path, spy: list[str], as_uri: bool,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Ties are decided by the files' order, so each row must name its file as it was given: DuckDB drops
    ``file://`` from a URI and qualifies a relative path (found: 2 actors instead of 8 via ``file://``)."""
    data = _write(tmp_path, HAND)
    monkeypatch.chdir(tmp_path)
    given = data.as_uri() if as_uri else "."
    out = compute("active_users", data=given, month="2024-03", engine="duckdb")
    assert out["value"].to_list() == [8.0]
    assert spy == ["duckdb"]


@pytest.mark.parametrize("branch", ["many files", "shared anonymous key"])
def test_the_other_ways_to_the_same_places_and_map(tmp_path: Path, spy: list[str], branch: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A row's file index by a join with the table of names (past FEW_FILES names), and the anonymous map
    joined by its text (when two mapped ids share a 64-bit key): the hand-worked numbers again."""
    from kpi_cli import portable_rows
    from kpi_cli.engagement import portable_hygiene

    if branch == "many files":
        monkeypatch.setattr(portable_rows, "FEW_FILES", 0)
    else:
        monkeypatch.setattr(portable_hygiene, "_unique", lambda *_a: False)
    data = _write(tmp_path / "hand", HAND)
    assert compute("active_users", data=data, month="2024-03", engine="duckdb")["value"].to_list() == [8.0]
    messy = _write(tmp_path / "messy", _messy(2))
    kw = {"from_": "2024-03", "to": "2024-05", "tz": "America/New_York"}
    assert_frame_equal(compute(IDS, data=messy, **kw), compute(IDS, data=messy, engine="duckdb", **kw))
    assert spy == ["duckdb", "duckdb"]
