"""``--by`` on plain logs, streamed: pairs carry the groups (issue 10).

Each case is computed both ways (``audit=True`` forces the full hygiene path) on a log with an extra
column, JSON properties, null groups, accounts with a customers file, exact duplicates and DST days;
groups by an event column, a property, an extra column and a customers column.
"""

from __future__ import annotations

import random
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from test_streamed import _log

from kpi_cli import compute
from kpi_cli.engagement import streamed as streaming

METRICS = "dau,wau,mau,dau_mau,wau_mau,dau_wau,active_users,active_accounts,logins_per_user,key_actions_per_user"
CONFIG = '[events]\nkey_actions = ["Report Created"]\n'


@pytest.fixture(autouse=True)
def small_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming, "BATCH_ROWS", 256)


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """The ``by`` of every streamed build (the proof a case streamed)."""
    seen: list[tuple[str, ...]] = []
    real = streaming.build

    def spy(*args, **kw):
        seen.append(kw.get("by", args[9] if len(args) > 9 else ()))
        return real(*args, **kw)

    monkeypatch.setattr(streaming, "build", spy)
    return seen


@pytest.fixture
def data(tmp_path: Path) -> Path:
    rng = random.Random(4)
    log = _log(2_500, seed=9)
    plans = [rng.choice(["free", "pro", None]) for _ in range(log.height)]
    tiers = [rng.choice(['{"tier": "gold"}', '{"tier": "silver"}', "{}"]) for _ in range(log.height)]
    log = log.with_columns(plan=pl.Series(plans), properties=pl.Series(tiers))
    log.write_parquet(tmp_path / "events.parquet", row_group_size=400)
    pl.DataFrame({"customer_id": [f"a{i}" for i in range(6)],
                  "segment": ["smb", "smb", "mid", None, "ent", "mid"]}).write_csv(tmp_path / "customers.csv")
    (tmp_path / "kpi.toml").write_text(CONFIG)
    return tmp_path


@pytest.mark.parametrize("by", ["plan", "event", "account_id", "prop.tier", "segment", "plan,segment"])
@pytest.mark.parametrize("kw", [
    {"from_": "2024-01", "to": "2024-04"},
    {"from_": "2024-02-01", "to": "2024-04-30", "period": "week", "tz": "America/New_York"},
    {"from_": "2024-03-01", "to": "2024-03-20", "period": "day", "window": "trailing", "mau_days": 28},
])
def test_groups_equal_full_path(data: Path, builds: list, by: str, kw: dict) -> None:
    metrics = METRICS.replace(",wau_mau,dau_wau", "") if kw.get("window") else METRICS
    config = str(data / "kpi.toml")
    streamed = compute(metrics, data=data, by=by.split(","), config=config, **kw)
    full = compute(metrics, data=data, by=by.split(","), config=config, audit=True, **kw)
    assert builds == [tuple(by.split(","))]
    assert streamed.height > 0
    assert_frame_equal(streamed, full)


def test_unknown_dimension_takes_the_full_path_and_its_error(data: Path, builds: list) -> None:
    with pytest.raises(Exception, match="--by nope: not a column of events"):
        compute("dau", data=data, by="nope", from_="2024-01", to="2024-04")
    assert builds == []


def test_sessions_by_group_take_the_full_path(data: Path, builds: list) -> None:
    streamed = compute("sessions_per_user", data=data, by="plan", from_="2024-01", to="2024-04")
    assert builds == []
    full = compute("sessions_per_user", data=data, by="plan", from_="2024-01", to="2024-04", audit=True)
    assert_frame_equal(streamed, full)
