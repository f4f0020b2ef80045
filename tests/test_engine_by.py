"""``--by`` on ``--engine duckdb`` (issue 11): group columns made on the engine
(``kpi_cli.engagement.portable_groups``), the per-group tables the default engine's.

Generated logs (plain, and with ids) grouped by a canonical column, an extra text column, a customer
attribute and two at once, under the parts that run there (calendar and trailing windows, off-grain
wau/mau, the shares, role counts, active accounts), equal to Polars; a hand-worked case; dimensions
the engine path leaves to Polars (event properties, another column type) still give Polars' numbers.
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


def test_properties_and_other_types_keep_the_polars_path(tmp_path: Path, spy: list[str]) -> None:
    data = _write(tmp_path, _with_signups(6, ids=False, signups=True), ids=False)
    part = data / "events" / "part-0.parquet"
    pl.read_parquet(part).with_columns(pl.lit('{"plan": "pro"}').alias("properties"),
                                       pl.lit(3).alias("seats")).write_parquet(part)
    part = data / "events" / "part-1.parquet"
    pl.read_parquet(part).with_columns(pl.lit('{"plan": "team"}').alias("properties"),
                                       pl.lit(5).alias("seats")).write_parquet(part)
    kw = {"from_": "2024-03", "to": "2024-06"}
    for by in ("prop.plan", "seats"):
        assert_frame_equal(compute("dau,mau", data=data, by=by, **kw),
                           compute("dau,mau", data=data, by=by, engine="duckdb", **kw))
    assert spy == []


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
