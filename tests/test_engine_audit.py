"""``-v`` on ``--engine duckdb`` (issue 11): what hygiene did, counted on the engine
(``kpi_cli.engagement.portable_hygiene.audit``), as the Polars path reports it.

A hand-worked log (each kind of row decision once or twice) and generated messy logs (exact copies,
repeated ids decided by instant and by place, anonymous rows merged or not, bad rows, an extra
column) under ``compute``, ``cohort`` and ``funnel``, with and without ``--identified-only``:
the hygiene figures, the source report (rows read, rejected, exact duplicates, used) and the
numbers equal Polars'; a spy checks that the engine path ran.
"""

from __future__ import annotations

import random
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from test_engine_hygiene import SCHEMA, _messy

from kpi_cli import api
from kpi_cli.api import Run, _options
from kpi_cli.engagement import portable
from kpi_cli.engagement.hygiene import Hygiene
from tests.conftest import spy_on

IDS = "dau,mau,active_users,logins_per_user"


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The engines the engine path's bad-row step ran on (compute, cohort and funnel all take it)."""
    return spy_on(monkeypatch, portable, "settle", lambda args: args[0].name)


def _write(folder: Path, parts: list[list[tuple]], *, drop: tuple[str, ...] = ()) -> Path:
    """The log with an extra ``plan`` column: rows equal but for it are no copies of each other."""
    rnd = random.Random(5)
    (folder / "events").mkdir(parents=True)
    for i, rows in enumerate(parts):
        frame = pl.DataFrame(rows, schema=SCHEMA, orient="row").with_columns(
            pl.Series("plan", [rnd.choice(["pro", "pro", "team"]) for _ in rows]))
        frame.drop(drop).write_parquet(folder / "events" / f"part-{i}.parquet")
    return folder


def _audited(data: Path, engine: str, command: str, kw: dict) -> tuple[pl.DataFrame, tuple, Hygiene | None]:
    """The result, the events report's figures and the hygiene figures of a ``-v`` run."""
    options = {k: v for k, v in kw.items() if k in ("from_", "to", "period", "identified_only", "tz")}
    run = Run.start(_options(data, {**options, "audit": True, "engine": engine, "on_bad_rows": "skip"}))
    if command == "compute":
        out = api.compute_run(IDS, run)
    elif command == "cohort":
        out = api.cohort_run(run, of="users")
    else:
        out = api.funnel_run(run, ["login", "export"], window="7d")
    rep = run.dataset.reports["events"]
    return out, (rep.rows_read, rep.rejected, rep.duplicates, rep.used), run.info.get("hygiene")


def _hand(folder: Path) -> Path:
    """Line 2: a view by u1 with event e1 (a winner). Line 3: its exact copy (a copy, 1 duplicate). Line 4:
    e1 again an hour later by u2 (a repeated id, not a copy). Lines 5-6: an id-less view by u3 and its exact
    copy (1 duplicate). Line 7: the same but on another plan (no copy). Line 8: a login by u4 with
    anonymous a1. Line 9: an id-less view by a1 alone (merged into u4). Lines 10-11: a2 alone, twice, equal
    (session -1 and none: 1 anonymous row kept, 1 duplicate). Line 12: a row with no timestamp (rejected)."""
    at = datetime(2024, 3, 5, 10)
    later = datetime(2024, 3, 5, 11)
    rows = [(at, "view", "u1", None, "e1", "x", "pro"), (at, "view", "u1", None, "e1", "x", "pro"),
            (later, "view", "u2", None, "e1", "x", "pro"), (at, "view", "u3", None, None, "x", "pro"),
            (at, "view", "u3", None, None, "x", "pro"), (at, "view", "u3", None, None, "x", "team"),
            (at, "login", "u4", "a1", None, "y", "pro"), (later, "view", None, "a1", None, "y", "pro"),
            (at, "view", None, "a2", None, "y", "pro"), (at, "view", None, "a2", None, "y", "pro"),
            (None, "view", "u5", None, None, "y", "pro")]
    sessions = [None] * 8 + ["-1", "", None]  # Amplitude's -1 is no session: lines 10 and 11 stay equal
    (folder / "events").mkdir(parents=True)
    pl.DataFrame(rows, schema={**SCHEMA, "plan": pl.String}, orient="row").with_columns(
        pl.Series("session_id", sessions, dtype=pl.String)).write_parquet(folder / "events" / "part-0.parquet")
    return folder


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
@pytest.mark.parametrize("identified_only", [False, True])
def test_a_hand_worked_audit(tmp_path: Path, spy: list[str], engine: str, identified_only: bool) -> None:
    """11 rows read, 1 rejected, 3 exact duplicates (lines 3, 6, 11), 1 repeated id (line 4), 1 anonymous
    row merged (line 9), 1 staying anonymous (line 10): 6 used, 5 with --identified-only (a2 dropped)."""
    _out, report, hygiene = _audited(_hand(tmp_path), engine, "compute",
                                     {"from_": "2024-03", "to": "2024-03", "identified_only": identified_only})
    assert report == (11, 1, 3, 5 if identified_only else 6)
    assert hygiene == Hygiene(repeated_ids=1, merged_anonymous=1, anonymous_rows=1,
                              dropped_anonymous=1 if identified_only else 0)
    assert spy == (["duckdb"] if engine == "duckdb" else [])


OPTIONS = [{"from_": "2024-03", "to": "2024-05"}, {"from_": "2024-03", "to": "2024-05", "identified_only": True},
           {"period": "week", "from_": "2024-03-04", "to": "2024-04-28", "tz": "America/New_York"}]


@pytest.mark.parametrize("drop", [(), ("event_id",), ("anonymous_id",), ("event_id", "anonymous_id")])
@pytest.mark.parametrize("kw", OPTIONS)
@pytest.mark.parametrize("command", ["compute", "cohort", "funnel"])
def test_generated_logs_audit_as_polars(tmp_path: Path, settled: list[str], drop: tuple, kw: dict,
                                        command: str) -> None:
    parts = _messy(3)
    parts[0].append((None, "view", "u1", None, "e0", "x"))  # a bad row
    data = _write(tmp_path, parts, drop=drop)
    fast, fast_report, fast_hygiene = _audited(data, "polars", command, kw)
    duck, duck_report, duck_hygiene = _audited(data, "duckdb", command, kw)
    assert_frame_equal(fast, duck)
    assert fast_report == duck_report
    assert fast_report[2] > 0  # exact duplicates found
    assert fast_report[1] >= 1  # the bad row rejected (more without anonymous ids)
    if command == "compute":
        assert fast_hygiene == duck_hygiene
        if "event_id" not in drop:
            assert fast_hygiene is not None
            assert fast_hygiene.repeated_ids > 0
    assert settled == ["duckdb"]
