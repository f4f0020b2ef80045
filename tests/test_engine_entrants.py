"""Sign-up, account and feature metrics on ``--engine duckdb`` (issue 11): the engine reduces the log
(``kpi_cli.engagement.portable_entrants``), the metrics run unchanged on that.

A hand-worked weekly-active-accounts case on the reduction's edge (a window end inside a day of many
rows), and generated logs (plain, and with ids; e-mails and invitee e-mails) under every special
metric and option, equal to the default engine; a spy checks the engine path ran.
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

CONFIG = """[events]
activation = ["export"]
key_actions = ["Invite Sent", "export"]
onboarding = ["login", "export"]
account_created = "Account Created"
invite = "Invite Sent"
[events.features]
reports = ["export"]
views = "view"
[pql]
min_active_users = 2
min_key_actions = 3
within_days_of_signup = 20
"""
SPECIALS = ("new_signups,signup_growth_rate,activation_rate,time_to_first_value,time_to_first_value_p75,"
            "onboarding_completion_rate,reactivation_rate,w2wai,w2wai_count,pqls,invite_acceptance_rate,"
            "viral_coefficient,dau")
FEATURES = "feature_adoption_rate,feature_retention_rate"


def _write(folder: Path, parts: list[list[tuple]], *, ids: bool) -> Path:
    """The log with ``email`` on sign-ups and ``invitee_email`` on invitations (mixed case, as typed)."""
    rnd = random.Random(7)
    (folder / "events").mkdir(parents=True)
    schema = {**SCHEMA, "email": pl.String, "invitee_email": pl.String}
    for i, rows in enumerate(parts):
        full = []
        for ts, event, user, anon, eid, account in rows:
            email = f"{user}@example.com" if event == "Signed Up" and user else None
            invitee = f"S{rnd.randrange(80)}@Example.com" if event == "invite" else None
            full.append((ts, "Invite Sent" if event == "invite" else event, user, anon, eid, account, email, invitee))
        frame = pl.DataFrame(full, schema=schema, orient="row")
        frame.drop([] if ids else ["event_id", "anonymous_id"]).write_parquet(folder / "events" / f"part-{i}.parquet")
    (folder / "kpi.toml").write_text(CONFIG)
    return folder


OPTIONS = [{"from_": "2024-03", "to": "2024-06"},
           {"from_": "2024-03", "to": "2024-06", "tz": "America/New_York", "identified_only": True},
           {"period": "week", "from_": "2024-03-04", "to": "2024-05-27", "inactive_days": 10},
           {"from_": "2024-03", "to": "2024-06", "actor": "account"}]


@pytest.mark.parametrize("ids", [False, True])
@pytest.mark.parametrize("kw", OPTIONS)
def test_generated_logs_equal_polars(tmp_path: Path, spy: list[str], ids: bool, kw: dict) -> None:
    data = _write(tmp_path, _with_signups(4, ids=ids, signups=True), ids=ids)
    config = str(data / "kpi.toml")
    fast = compute(SPECIALS, data=data, config=config, **kw)
    duck = compute(SPECIALS, data=data, config=config, engine="duckdb", **kw)
    assert spy == ["duckdb"]
    assert_frame_equal(fast, duck)
    # The data exercise every metric: each has a non-zero value somewhere.
    live = set(fast.filter(pl.col("value").is_not_null() & (pl.col("value") != 0))["metric"])
    if kw is OPTIONS[0]:
        assert live == set(SPECIALS.split(","))
    spy.clear()
    fast = compute(FEATURES, data=data, config=config, by="feature", **kw)
    assert_frame_equal(fast, compute(FEATURES, data=data, config=config, by="feature", engine="duckdb", **kw))
    assert spy == ["duckdb"]
    assert fast.filter(pl.col("value") > 0).height > 0


def _r(day: int, hour: int, minute: int, event: str, account: str) -> tuple:
    return (datetime(2024, 3, day, hour, minute), event, f"{account}-user", None, None, account, None, None)


def _log(folder: Path, rows: list[tuple]) -> Path:
    schema = {**SCHEMA, "email": pl.String, "invitee_email": pl.String}
    (folder / "events").mkdir()
    pl.DataFrame(rows, schema=schema, orient="row").drop("event_id", "anonymous_id").write_parquet(
        folder / "events" / "part-0.parquet")
    return folder


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_weekly_active_accounts_at_the_edges_of_a_day(tmp_path: Path, spy: list[str], engine: str) -> None:
    """Accounts created 1 March 10:00; week 2 is [8 March 10:00, 15 March 10:00). A: views on 8 March at
    08:00, 09:00 and 12:00 (the last inside): active. B: views on 8 March at 08:00, 09:00, 09:30 and on 15
    March at 10:30 and 11:00, all outside: not. C: views on 15 March at 09:00 (inside) and 11:00: active.
    w2wai for March = 2/3, whatever the engine keeps of the many rows of a day."""
    rows = [_r(1, 10, 0, "Account Created", "A"), _r(1, 10, 0, "Account Created", "B"),
            _r(1, 10, 0, "Account Created", "C"),
            _r(8, 8, 0, "view", "A"), _r(8, 9, 0, "view", "A"), _r(8, 12, 0, "view", "A"),
            _r(8, 8, 0, "view", "B"), _r(8, 9, 0, "view", "B"), _r(8, 9, 30, "view", "B"),
            _r(15, 10, 30, "view", "B"), _r(15, 11, 0, "view", "B"),
            _r(15, 9, 0, "view", "C"), _r(15, 11, 0, "view", "C")]
    out = compute("w2wai,w2wai_count", data=_log(tmp_path, rows), month="2024-03", engine=engine)
    assert out.select("metric", "value", "numerator", "denominator").rows() == [
        ("w2wai", 2 / 3, 2.0, 3.0), ("w2wai_count", 2.0, None, None)]
    assert spy == (["duckdb"] if engine == "duckdb" else [])


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_pqls_count_an_exact_copy_once(tmp_path: Path, spy: list[str], engine: str) -> None:
    """[pql] min_key_actions = 3: account A has two key actions and an exact copy of one (two, not a PQL);
    B three distinct ones (a PQL). Two users each, views aside."""
    rows = [_r(4, 9, 0, "Invite Sent", "A"), _r(4, 9, 0, "Invite Sent", "A"), _r(5, 9, 0, "Invite Sent", "A"),
            _r(4, 9, 0, "Invite Sent", "B"), _r(5, 9, 0, "Invite Sent", "B"), _r(6, 9, 0, "Invite Sent", "B")]
    rows += [(ts, "view", f"{acc}-other", None, None, acc, None, None) for ts, _e, _u, _a, _i, acc, _m, _v in rows]
    data = _log(tmp_path, rows)
    config = tmp_path / "kpi.toml"
    config.write_text('[events]\nkey_actions = ["Invite Sent"]\n[pql]\nmin_active_users = 2\nmin_key_actions = 3\n')
    out = compute("pqls", data=data, month="2024-03", engine=engine, config=str(config))
    assert out["value"].to_list() == [1.0]
    assert spy == (["duckdb"] if engine == "duckdb" else [])


def _json_properties(data: Path) -> None:
    """``email`` and ``invitee_email`` moved into a JSON ``properties`` column, with a ``plan`` (a few rows
    without properties or with text that is no JSON)."""
    rnd = random.Random(11)
    for part in sorted((data / "events").glob("*.parquet")):
        frame = pl.read_parquet(part)
        text = []
        for email, invitee in frame.select("email", "invitee_email").rows():
            fields = {"plan": rnd.choice(["pro", "team"]), "email": email, "invitee_email": invitee}
            body = "{" + ", ".join(f'"{k}": "{v}"' for k, v in fields.items() if v is not None) + "}"
            bare = email is None and invitee is None and rnd.random() < 0.1
            text.append(rnd.choice([None, "oops"]) if bare else body)
        frame.drop("email", "invitee_email").with_columns(pl.Series("properties", text)).write_parquet(part)


@pytest.mark.parametrize("by", [(), ("prop.plan",), ("account_id",)])
def test_e_mails_in_json_properties_and_groups(tmp_path: Path, spy: list[str], by: tuple) -> None:
    """E-mails read from JSON ``properties`` by the engine, and the sign-up metrics per group, equal to Polars;
    the invitations are matched through those e-mails (acceptance above zero)."""
    data = _write(tmp_path, _with_signups(4, ids=False, signups=True), ids=False)
    _json_properties(data)
    kw = {"from_": "2024-03", "to": "2024-06", "config": str(data / "kpi.toml"), "by": by}
    fast = compute(SPECIALS, data=data, **kw)
    assert_frame_equal(fast, compute(SPECIALS, data=data, engine="duckdb", **kw))
    assert spy == ["duckdb"]
    assert fast.filter(pl.col("metric") == "invite_acceptance_rate")["value"].max() > 0
    if by:
        assert fast.select(list(by)).unique().height > 1
