"""Event cohorts on ``--engine duckdb`` (issue 11): entries and buckets worked out in DuckDB, the
triangle Polars' (``kpi_cli.engagement.portable_cohorts``).

A hand-worked weekly triangle, and generated logs (plain, and with event ids and anonymous ids)
under every clock, criterion, actor and range kind, equal to the default engine; a spy checks the
engine path ran.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from test_engine_hygiene import _messy, _write

from kpi_cli import cohort
from kpi_cli.engagement import portable_cohorts
from tests.conftest import spy_on


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The engines the portable cohort inputs were worked out on."""
    return spy_on(monkeypatch, portable_cohorts, "inputs", lambda args: args[5])


def _row(day: str, hour: int, event: str, user: str) -> tuple:
    return (datetime.fromisoformat(day) + timedelta(hours=hour), event, user, None, None, "x")


SIGNUP = "Signed Up"  # the default sign-up event (SPEC §3.3 roles)
HAND = [[
    _row("2024-03-04", 9, SIGNUP, "u1"), _row("2024-03-05", 9, "view", "u1"), _row("2024-03-12", 9, "view", "u1"),
    _row("2024-03-06", 9, SIGNUP, "u2"), _row("2024-03-20", 9, "view", "u2"),
    _row("2024-03-11", 8, "view", "u3"),  # before its sign-up: not retention
    _row("2024-03-11", 9, SIGNUP, "u3"), _row("2024-03-25", 9, "view", "u3"),
    _row("2024-03-05", 9, "view", "u4"),  # a week before its sign-up: u4 enters on 12 March all the same
    _row("2024-03-12", 9, SIGNUP, "u4"),
]]


def _cells(out: pl.DataFrame) -> dict[tuple[str | None, int], tuple[float, float | None]]:
    return {(c.isoformat() if c else None, k): (size, kept) for c, k, size, kept, _ in out.iter_rows()}


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_a_hand_worked_weekly_triangle(tmp_path: Path, spy: list[str], engine: str) -> None:
    """Weeks from Monday 4 March 2024. Cohort 4 March: u1, u2 (sign-ups count as activity): week 0 both,
    week 1 u1 (12 March), week 2 u2 (20 March). Cohort 11 March: u3 and u4 (each by its sign-up, not its
    first event), week 0 both (their sign-ups), week 1 none, week 2 (u3 on 25 March) not over: the data
    ends on 25 March."""
    data = _write(tmp_path, HAND, ("event_id", "anonymous_id"))
    cells = _cells(cohort(data=data, of="users", period="week", from_="2024-03-04", to="2024-03-25", engine=engine))
    assert cells[("2024-03-04", 0)] == (2.0, 2.0)
    assert cells[("2024-03-04", 1)] == (2.0, 1.0)
    assert cells[("2024-03-04", 2)] == (2.0, 1.0)
    assert cells[("2024-03-11", 0)] == (2.0, 2.0)
    assert cells[("2024-03-11", 1)] == (2.0, 0.0)
    assert cells[("2024-03-11", 2)] == (2.0, None)
    assert spy == (["duckdb"] if engine == "duckdb" else [])


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_sign_ups_that_are_not_activity(tmp_path: Path, spy: list[str], engine: str) -> None:
    """With ``inactive_events = ["Signed Up"]`` only the views count: cohort 4 March week 0 holds u1 (5 March),
    not u2; cohort 11 March week 0 holds nobody: u3's view at 08:00 came before its sign-up at 09:00."""
    data = _write(tmp_path, HAND)
    config = tmp_path / "kpi.toml"
    config.write_text('[events]\ninactive_events = ["Signed Up"]\n')
    cells = _cells(cohort(data=data, of="users", period="week", from_="2024-03-04", to="2024-03-25", engine=engine,
                          config=str(config)))
    assert cells[("2024-03-04", 0)] == (2.0, 1.0)
    assert cells[("2024-03-11", 0)] == (2.0, 0.0)
    assert spy == (["duckdb"] if engine == "duckdb" else [])


def _with_signups(seed: int, *, ids: bool, signups: bool) -> list[list[tuple]]:
    """A messy log (test_engine_hygiene; without ``ids``, no event or anonymous ids: the plain log) and
    80 actors arriving over four months, each with a first event (a sign-up, with ``signups``) and five
    later events (mostly views): two within its first week, three within 60 days."""
    rnd = random.Random(seed)
    parts = _messy(seed)
    if not ids:
        parts = [[(t, e, u or f"u{rnd.randrange(45)}", None, None, acc) for t, e, u, _a, _i, acc in part]
                 for part in parts]
    for i in range(80):
        arrival = datetime(2024, 3, 1) + timedelta(minutes=rnd.randrange(0, 60 * 24 * 120))
        soon = [arrival + timedelta(minutes=rnd.randrange(0, 60 * 24 * d)) for d in (2, 6)]  # two in the first week
        rest = [arrival + timedelta(minutes=rnd.randrange(0, 60 * 24 * 60)) for _ in range(3)]
        times = [arrival, *sorted(soon), *rest]
        for n, t in enumerate(times):
            eid = f"s{i}-{n}" if ids else None
            first = SIGNUP if signups else "view"
            later = rnd.choice(["view", "view", "login", "export", "invite"])
            parts[n % 2].append((t, first if n == 0 else later, f"s{i}", None, eid, rnd.choice("xyz")))
    return parts


OPTIONS = [
    {"of": "users", "period": "week", "from_": "2024-03-04", "to": "2024-04-29"},
    {"of": "users", "period": "month"},
    {"of": "users", "period": "month", "clock": "rolling"},
    {"of": "users", "period": "week", "clock": "rolling", "criterion": "on-or-after", "periods": 4},
    {"of": "users", "period": "week", "criterion": "on-or-after", "identified_only": True, "tz": "America/New_York"},
    {"of": "accounts", "period": "month", "tz": "America/New_York"},
    {"of": "users", "period": "week", "last": 20, "week_start": "sun"},
]


@pytest.mark.parametrize("signups", [False, True])
@pytest.mark.parametrize("ids", [False, True])
@pytest.mark.parametrize("kw", OPTIONS)
def test_generated_logs_equal_polars(tmp_path: Path, spy: list[str], ids: bool, signups: bool, kw: dict) -> None:
    plain = () if ids else ("event_id", "anonymous_id")  # the plain log: no such columns at all
    data = _write(tmp_path, _with_signups(4, ids=ids, signups=signups), plain)
    fast = cohort(data=data, **kw)
    duck = cohort(data=data, engine="duckdb", **kw)
    assert spy == ["duckdb"]
    assert fast.filter(pl.col("retained") > 0).height > 3
    assert_frame_equal(fast, duck)


def test_a_log_without_accounts_is_the_same_error(tmp_path: Path) -> None:
    rows = [[(datetime(2024, 3, 1), "view", "u1", None, None, None)]]
    data = _write(tmp_path, rows)
    with pytest.raises(Exception, match="no events carry an account_id") as polars_error:
        cohort(data=data, of="accounts", period="month")
    with pytest.raises(type(polars_error.value), match="no events carry an account_id"):
        cohort(data=data, of="accounts", period="month", engine="duckdb")


