"""``--by`` on ``--engine duckdb`` (issue 11): group columns made on the engine
(``kpi_cli.engagement.portable_groups``), the per-group tables the default engine's.

Generated logs (plain, and with ids) grouped by a canonical column, an extra text column, a customer
attribute and two at once, under the parts that run there (calendar and trailing windows, off-grain
wau/mau, the shares, role counts, active accounts), equal to Polars; a hand-worked case; dimensions
the engine path leaves to Polars (another column type, properties as a struct) still give Polars' numbers;
event properties (JSON text) read by the engine, hand-worked and generated.
"""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from test_engine_cohorts import _with_signups
from test_engine_hygiene import SCHEMA

from kpi_cli import compute

IDS = "dau,wau,mau,active_users,active_accounts,dau_mau,wau_mau,dau_wau,logins_per_user,invites_per_user"


def _write(folder: Path, parts: list[list[tuple]], *, ids: bool) -> Path:
    """The log with an extra ``platform`` column (some blank or missing), some blank account ids, and
    ``customers.csv`` giving
    accounts x and y a segment (z has none; an unknown customer w is listed too)."""
    rnd = random.Random(3)
    (folder / "events").mkdir(parents=True)
    for i, rows in enumerate(parts):
        frame = pl.DataFrame(rows, schema=SCHEMA, orient="row").with_columns(
            pl.Series("platform", [rnd.choice(["web", "ios", "", None]) for _ in rows], dtype=pl.String),
            # A blank account id is a missing one (the Polars parse of a canonical column): the "none" group.
            pl.Series("account_id", [a if rnd.random() > 0.05 else "" for a in (r[5] for r in rows)]))
        frame.drop([] if ids else ["event_id", "anonymous_id"]).write_parquet(folder / "events" / f"part-{i}.parquet")
    (folder / "customers.csv").write_text("customer_id,segment\nx,smb\ny,enterprise\nw,smb\n")
    return folder


BY = [("account_id",), ("platform",), ("segment",), ("segment", "platform")]
OPTIONS = [{"from_": "2024-03", "to": "2024-06"}, {"from_": "2024-03", "to": "2024-06", "window": "trailing"},
           {"period": "week", "from_": "2024-03-04", "to": "2024-05-27", "tz": "America/New_York"}]


@pytest.mark.parametrize("ids", [False, True])
@pytest.mark.parametrize("kw", OPTIONS)
@pytest.mark.parametrize("by", BY)
def test_generated_logs_equal_polars(tmp_path: Path, spy: list[str], ids: bool, kw: dict, by: tuple) -> None:
    data = _write(tmp_path, _with_signups(6, ids=ids, signups=True), ids=ids)
    metrics = IDS if kw.get("period") != "week" else "dau,wau,mau,active_users,logins_per_user"
    if kw.get("window"):
        metrics = "dau,wau,mau,dau_wau,wau_mau"
    fast = compute(metrics, data=data, by=by, **kw)
    duck = compute(metrics, data=data, by=by, engine="duckdb", **kw)
    assert spy == ["duckdb"]
    assert fast.select(list(by)).unique().height > 1
    assert_frame_equal(fast, duck)


SESSIONS = "avg_session_duration,median_session_duration,sessions_per_user,dau"


@pytest.mark.parametrize("by", BY)
def test_sessions_by_group_equal_polars(tmp_path: Path, spy: list[str], by: tuple) -> None:
    """Sessions per group on the engine: runs found on an actor's whole timeline, each counted with its full
    duration in every group it had an event in."""
    data = _write(tmp_path, _with_signups(6, ids=True, signups=True), ids=True)
    kw = {"from_": "2024-03", "to": "2024-06", "tz": "America/New_York"}
    fast = compute(SESSIONS, data=data, by=by, **kw)
    assert_frame_equal(fast, compute(SESSIONS, data=data, by=by, engine="duckdb", **kw))
    assert spy == ["duckdb"]
    assert fast.filter(pl.col("metric") == "sessions_per_user")["value"].max() > 1


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_a_hand_worked_session_split(tmp_path: Path, spy: list[str], engine: str) -> None:
    """5 March, u1: 10:00 web, 10:20 ios, 10:40 web (one 40-minute session, in both groups); u2: 12:00 and
    12:10 ios (10 minutes). Per platform: web 1 session of 2400 s by 1 user; ios 2 sessions (2400 s, 600 s:
    1500 s on average) by 2 users."""
    at = [(10, 0, "u1", "web"), (10, 20, "u1", "ios"), (10, 40, "u1", "web"), (12, 0, "u2", "ios"),
          (12, 10, "u2", "ios")]
    rows = [(datetime(2024, 3, 5, h, m), "view", u, None, None, "x") for h, m, u, _p in at]
    (tmp_path / "events").mkdir()
    pl.DataFrame(rows, schema=SCHEMA, orient="row").drop("event_id", "anonymous_id").with_columns(
        pl.Series("platform", [p for *_x, p in at])).write_parquet(tmp_path / "events" / "part-0.parquet")
    out = compute("avg_session_duration,sessions_per_user", data=tmp_path, month="2024-03", by="platform",
                  engine=engine)
    got = {(m, p): v for m, p, v in out.select("metric", "platform", "value").rows()}
    assert got == {("avg_session_duration", "web"): 2400.0, ("avg_session_duration", "ios"): 1500.0,
                   ("sessions_per_user", "web"): 1.0, ("sessions_per_user", "ios"): 1.0}
    assert spy == (["duckdb"] if engine == "duckdb" else [])


def test_files_naming_a_column_differently_keep_the_polars_path(tmp_path: Path, spy: list[str]) -> None:
    """One file calls the user ``userId``, the other ``user_id``: both are the user (MAU 3), read by Polars
    (an engine scans the files by one header)."""
    (tmp_path / "events").mkdir()
    for i, (header, users) in enumerate((("userId", ["u1", "u2"]), ("user_id", ["u2", "u3"]))):
        pl.DataFrame({"timestamp": [datetime(2024, 3, 4 + n) for n in range(2)], "event": ["view", "view"],
                      header: users}).write_parquet(tmp_path / "events" / f"part-{i}.parquet")
    for engine in ("polars", "duckdb"):
        assert compute("mau", data=tmp_path, month="2024-03", engine=engine)["value"].to_list() == [3.0]
    assert spy == []


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_a_hand_worked_split(tmp_path: Path, spy: list[str], engine: str) -> None:
    """March: u1 on web twice and on ios once, u2 on ios, u3 with no platform. MAU by platform: web 1,
    ios 2, none 1 (an actor counts in each group it was active in)."""
    rows = [(datetime(2024, 3, d, 12), "view", u, None, None, "x") for d, u in ((1, "u1"), (2, "u1"), (3, "u1"),
                                                                               (4, "u2"), (5, "u3"))]
    platforms = ["web", "web", "ios", "ios", None]
    (tmp_path / "events").mkdir()
    pl.DataFrame(rows, schema=SCHEMA, orient="row").drop("event_id", "anonymous_id").with_columns(
        pl.Series("platform", platforms)).write_parquet(tmp_path / "events" / "part-0.parquet")
    out = compute("mau", data=tmp_path, month="2024-03", by="platform", engine=engine)
    assert dict(out.select("platform", "value").rows()) == {"ios": 2.0, "web": 1.0, None: 1.0}
    assert spy == (["duckdb"] if engine == "duckdb" else [])


PLANS = ['{"plan": "pro", "org": {"tier": "gold"}}', '{"plan": 5}', '{"plan": null}', "not json", "{}",
         '{"plan": "pro"}', '{"plan": true}', None, '{"plan": ""}']


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_a_hand_worked_property_split(tmp_path: Path, spy: list[str], engine: str) -> None:
    """March, one event each, u1..u9 with the ``properties`` of :data:`PLANS`. MAU by prop.plan: "pro" 2 (u1,
    u6), "5" 1, "true" 1, "" 1 (an empty string is a value), none 4 (a JSON null, text that is no JSON, no
    such field, no properties); by prop.org.tier (nested): "gold" 1, none 8."""
    rows = [(datetime(2024, 3, 1 + i, 12), "view", f"u{i + 1}", None, None, "x") for i in range(len(PLANS))]
    (tmp_path / "events").mkdir()
    pl.DataFrame(rows, schema=SCHEMA, orient="row").drop("event_id", "anonymous_id").with_columns(
        pl.Series("properties", PLANS, dtype=pl.String)).write_parquet(tmp_path / "events" / "part-0.parquet")
    out = compute("mau", data=tmp_path, month="2024-03", by="prop.plan", engine=engine)
    assert dict(out.select("prop.plan", "value").rows()) == {"pro": 2.0, "5": 1.0, "true": 1.0, "": 1.0, None: 4.0}
    out = compute("mau", data=tmp_path, month="2024-03", by="prop.org.tier", engine=engine)
    assert dict(out.select("prop.org.tier", "value").rows()) == {"gold": 1.0, None: 8.0}
    assert spy == (["duckdb", "duckdb"] if engine == "duckdb" else [])


def _with_properties(data: Path) -> None:
    """Each part of the generated log gets JSON ``properties`` (a plan, some missing), an integer ``seats``
    and, in a copy of the log under ``struct/``, the same properties as a Parquet struct."""
    rnd = random.Random(5)
    (data / "struct" / "events").mkdir(parents=True)
    (data / "struct" / "customers.csv").write_text((data / "customers.csv").read_text())
    for part in sorted((data / "events").glob("*.parquet")):
        frame = pl.read_parquet(part)
        plans = [rnd.choice(["pro", "team", None]) for _ in range(frame.height)]
        text = [None if p is None and rnd.random() < 0.5 else '{"plan": %s}' % ("null" if p is None else f'"{p}"')
                for p in plans]
        frame = frame.with_columns(pl.Series("properties", text, dtype=pl.String),
                                   pl.Series("seats", [rnd.randrange(1, 4) for _ in plans]))
        frame.write_parquet(part)
        frame.with_columns(pl.Series("properties", [{"plan": p} for p in plans])).write_parquet(
            data / "struct" / "events" / part.name)


@pytest.mark.parametrize("ids", [False, True])
@pytest.mark.parametrize("by", [("prop.plan",), ("prop.plan", "segment"), ("prop.platform",)])
def test_properties_on_the_engine_equal_polars(tmp_path: Path, spy: list[str], ids: bool, by: tuple) -> None:
    """JSON properties are read by DuckDB's JSON functions; ``prop.platform`` is the log's extra column."""
    data = _write(tmp_path, _with_signups(6, ids=ids, signups=True), ids=ids)
    _with_properties(data)
    kw = {"from_": "2024-03", "to": "2024-06"}
    fast = compute(IDS, data=data, by=by, **kw)
    assert_frame_equal(fast, compute(IDS, data=data, by=by, engine="duckdb", **kw))
    assert spy == ["duckdb"]
    assert fast.select(list(by)).unique().height > 2


def test_other_types_keep_the_polars_path(tmp_path: Path, spy: list[str]) -> None:
    """An integer column and properties held as a Parquet struct are grouped on the Polars path (same
    numbers); a struct does not keep the rest of the log off the engine."""
    data = _write(tmp_path, _with_signups(6, ids=False, signups=True), ids=False)
    _with_properties(data)
    kw = {"from_": "2024-03", "to": "2024-06"}
    for folder, by in ((data, "seats"), (data / "struct", "prop.plan")):
        fast = compute("dau,mau", data=folder, by=by, **kw)
        assert fast[by].n_unique() > 2
        assert_frame_equal(fast, compute("dau,mau", data=folder, by=by, engine="duckdb", **kw))
    assert spy == []
    assert_frame_equal(compute("dau,mau", data=data / "struct", **kw),
                       compute("dau,mau", data=data / "struct", engine="duckdb", **kw))
    assert spy == ["duckdb"]


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_a_blank_account_is_no_account(tmp_path: Path, engine: str) -> None:
    """A log the Parquet statistics prove clean (no check can fail) may still hold a blank account id,
    which the Polars parse reads as missing: one active account, not two (DuckDB counted two)."""
    rows = [(datetime(2024, 3, 1, 12), "view", "u1", None, None, "x"), (datetime(2024, 3, 2, 12), "view", "u2", None,
                                                                        None, "")]
    (tmp_path / "events").mkdir()
    pl.DataFrame(rows, schema=SCHEMA, orient="row").drop("event_id", "anonymous_id").write_parquet(
        tmp_path / "events" / "part-0.parquet")
    out = compute("active_accounts", data=tmp_path, month="2024-03", engine=engine)
    assert out["value"].to_list() == [1.0]


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
@pytest.mark.parametrize("first", ["web", "ios"])
def test_tied_instants_give_the_group_of_the_earlier_line(tmp_path: Path, engine: str, first: str) -> None:
    """u1 signs up twice at one instant on two platforms, and account x is first seen by three views at one
    instant (platforms first, other, first): the sign-up and the account belong to the platform of the
    earliest line (as the earliest place decides ties everywhere else). x is active on day 8; u1's account y
    (first seen at the sign-ups, on the same platform) is not active in its days [7, 14): w2wai 1/2. The data
    runs to 20 March."""
    other = "ios" if first == "web" else "web"
    at = [((4, 10), "Signed Up", "u1", first), ((4, 10), "Signed Up", "u1", other), ((1, 9), "view", "u2", first),
          ((1, 9), "view", "u2", other), ((1, 9), "view", "u2", first), ((9, 12), "view", "u2", "android"),
          ((20, 8), "view", "u3", "android")]
    rows = [(datetime(2024, 3, d, h), e, u, None, None, "x" if u == "u2" else "y") for (d, h), e, u, _p in at]
    (tmp_path / "events").mkdir()
    pl.DataFrame(rows, schema=SCHEMA, orient="row").drop("event_id", "anonymous_id").with_columns(
        pl.Series("platform", [p for *_x, p in at])).write_parquet(tmp_path / "events" / "part-0.parquet")
    out = compute("new_signups,w2wai", data=tmp_path, month="2024-03", by="platform", engine=engine)
    got = {(m, p): v for m, p, v in out.filter(pl.col("value") > 0).select("metric", "platform", "value").rows()}
    assert got == {("new_signups", first): 1.0, ("w2wai", first): 0.5}
