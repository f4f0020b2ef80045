"""Funnels on ``--engine duckdb`` (issue 11): entrants and steps worked out in DuckDB
(``kpi_cli.engagement.portable_funnel``), the table Polars'.

A hand-worked log in two files (ties of an instant decided by file and line, an exact copy, a step
out of its window, a pending entrant) under each order, and generated logs (plain, and with ids)
equal to the default engine; a spy checks the engine path ran.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from polars.testing import assert_frame_equal
from test_engine_cohorts import _with_signups
from test_engine_hygiene import _write

from kpi_cli import funnel
from kpi_cli.engagement import portable_funnel
from tests.conftest import spy_on

PLAIN = ("event_id", "anonymous_id")


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The engines the portable funnel ran on."""
    return spy_on(monkeypatch, portable_funnel, "reach", lambda args: args[0].engine.name)


def _r(day: int, hour: int, event: str, user: str) -> tuple:
    return (datetime(2024, 3, day, hour), event, user, None, None, "x")


HAND = [
    [  # part-0.parquet
        _r(1, 10, "A", "u1"), _r(2, 10, "B", "u1"), _r(3, 10, "C", "u1"),
        _r(1, 10, "A", "u2"), _r(2, 10, "C", "u2"), _r(3, 10, "B", "u2"),   # C before B
        _r(1, 10, "A", "u3"), _r(1, 10, "B", "u3"), _r(20, 10, "C", "u3"),  # B at A's instant, a later line
        _r(5, 10, "B", "u4"),                                               # B at A's instant, an earlier place
        _r(10, 10, "A", "u5"), _r(10, 10, "A", "u5"),                       # an exact copy: one A
        _r(10, 10, "A", "u6"), _r(11, 10, "A", "u6"),
    ],
    [  # part-1.parquet
        _r(5, 10, "A", "u4"),
        _r(28, 10, "A", "u7"),  # the data's last event: u7's window is open (pending)
    ],
]
# (order, steps) → actors per step; entrants u1–u6, u7 pending.
EXPECTED = {
    ("loose", "A,B,C"): [6, 3, 1],   # B: u1, u2, u3; C after B within 14 days: u1 (u3's is on day 20)
    ("strict", "A,B,C"): [6, 2, 1],  # next row after A is B: u1, u3; after B is C: u1 (u3's too late)
    ("any", "A,B,C"): [6, 4, 2],     # B anywhere in the window: u1–u4; C: u1, u2
    ("loose", "A,A"): [6, 1],        # a later A: u6 (u5's copy is gone)
}


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
@pytest.mark.parametrize(("order", "steps"), list(EXPECTED))
def test_a_hand_worked_funnel(tmp_path: Path, spy: list[str], engine: str, order: str, steps: str) -> None:
    data = _write(tmp_path, HAND, PLAIN)
    out = funnel(steps.split(","), data=data, month="2024-03", order=order, engine=engine)
    assert out["actors"].to_list() == EXPECTED[(order, steps)]
    assert out["pending"].to_list() == [1] * len(steps.split(","))
    assert spy == (["duckdb"] if engine == "duckdb" else [])
    if (order, steps) == ("loose", "A,B,C"):  # to B: 1 day (u1), 2 days (u2), 0 (u3)
        assert out["median_time_to_convert"].to_list()[1] == 86_400.0


STEPS = [["login", "invite", "export"], ["view", "view", "login"], ["Signed Up", "view"]]
SPRING = {"from_": "2024-03", "to": "2024-05"}
OPTIONS = [{"order": "loose", **SPRING}, {"order": "strict", **SPRING}, {"order": "any", **SPRING},
           {"order": "loose", "window": "2d", "identified_only": True, **SPRING},
           {"order": "strict", "actor": "account", **SPRING},
           {"order": "any", "from_": "2024-03", "to": "2024-04", "tz": "America/New_York"}]


@pytest.mark.parametrize("ids", [False, True])
@pytest.mark.parametrize("kw", OPTIONS)
@pytest.mark.parametrize("steps", STEPS)
def test_generated_logs_equal_polars(tmp_path: Path, spy: list[str], ids: bool, kw: dict, steps: list[str]) -> None:
    data = _write(tmp_path, _with_signups(5, ids=ids, signups=True), () if ids else PLAIN)
    fast = funnel(steps, data=data, **kw)
    duck = funnel(steps, data=data, engine="duckdb", **kw)
    assert spy == ["duckdb"]
    assert fast["actors"][0] > 0
    assert fast["actors"][1] > 0 or kw.get("actor") == "account"  # three accounts: strict steps may all fail
    assert_frame_equal(fast, duck)
