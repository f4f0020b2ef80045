"""Event hygiene on the paths the fast in-memory design adds (kpi_cli/engagement/events.py).

The log is held with hashes in place of event-id text and of the columns a narrow log leaves
out, and the anonymous → user map groups by a hash before it compares text. These tests force
the rare branches: a losing twin that held an anonymous id's earliest row, hashes that collide
(by swapping in a degenerate hash), and narrow vs full logs giving the same answers.
"""

from __future__ import annotations

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from kpi_cli import compute
from kpi_cli.cli import app
from kpi_cli.engagement import hygiene as ev
from tests.test_golden_engagement import EVENTS, HEADER, write


def _mau_march(folder, **kw) -> tuple[float, float]:
    df = compute("mau,dau", data=folder, month="2024-03", **kw)
    got = {r["metric"]: r["value"] for r in df.iter_rows(named=True)}
    return got["mau"], got["dau"]


def test_losing_twin_does_not_decide_the_anonymous_map(tmp_path) -> None:
    rows = [
        ["X", "", "U2", "", "2024-03-01T09:00:00Z", "Page Viewed"],  # X's winner: earliest timestamp
        ["X", "A", "U1", "", "2024-03-01T10:00:00Z", "Page Viewed"],  # X's loser, A's earliest row with a user
        ["Y", "A", "U3", "", "2024-03-01T11:00:00Z", "Page Viewed"],  # so A's earliest surviving row says U3
        ["Z", "A", "", "", "2024-03-01T12:00:00Z", "Page Viewed"],  # anonymous: merged into U3, not U1
    ]
    folder = write(tmp_path / "ev", rows)
    # Actors on 1 March: U2 (X) and U3 (Y, Z) → MAU 2, DAU 2 actor-days / 31 days.
    assert _mau_march(folder) == (2.0, pytest.approx(2 / 31))


def test_colliding_anonymous_hashes_fall_back_to_the_exact_map(tmp_path, monkeypatch) -> None:
    rows = [
        ["1", "A", "UA", "", "2024-03-01T09:00:00Z", "Signed Up"],
        ["2", "B", "UB", "", "2024-03-02T09:00:00Z", "Signed Up"],  # B's earliest row with a user: later than A's
        ["3", "B", "", "", "2024-03-01T08:00:00Z", "Page Viewed"],  # anonymous B before signing up → UB
    ]
    folder = write(tmp_path / "ev", rows)
    assert _mau_march(folder) == (2.0, pytest.approx(3 / 31))  # UA and UB; UA, UB on 1 March and UB on 2 March
    # Every id shares one hash: B hides behind A's earlier timestamp unless the check catches it.
    monkeypatch.setattr(ev, "anonymous_hash", lambda e: e.str.len_bytes().cast(pl.UInt64) * 0)
    assert _mau_march(folder) == (2.0, pytest.approx(3 / 31))


def test_colliding_event_id_halves_change_nothing(tmp_path, monkeypatch) -> None:
    folder = write(tmp_path / "ev", EVENTS)
    kw = {"data": folder, "month": "2023-03"}
    expected = compute("dau,mau,dau_mau,logins_per_user", **kw)
    real = ev.id_hash
    # The first half equal for every id: only the second half tells ids apart (e16's copy still goes).
    monkeypatch.setattr(ev, "id_hash", lambda e, half: e.str.len_bytes().cast(pl.UInt64) * 0 if half == 0
                        else real(e, half))
    assert_frame_equal(compute("dau,mau,dau_mau,logins_per_user", **kw), expected)


@pytest.mark.parametrize("extra", [[], ["plan"]])
def test_narrow_and_full_logs_agree(tmp_path, extra) -> None:
    # An id-less pair equal in timestamp and ids but not in event name: both rows are real events,
    # so a narrow log (which holds the event name only as a row hash) must keep both.
    rows = [[*r, *(["pro"] if extra else [])] for r in EVENTS]
    rows += [["", "", "u9", "", "2023-03-20T10:00:00Z", "Signed Up", *(["pro"] if extra else [])],
             ["", "", "u9", "", "2023-03-20T10:00:00Z", "Page Viewed", *(["pro"] if extra else [])],
             ["", "", "u9", "", "2023-03-20T10:00:00Z", "Page Viewed", *(["pro"] if extra else [])]]  # exact copy
    folder = write(tmp_path / "ev", rows, header=[*HEADER, *extra])
    narrow = compute("dau,mau", data=folder, month="2023-03")  # holds timestamp and ids only
    full = compute("dau,mau,logins_per_user", data=folder, month="2023-03")
    full = full.filter(pl.col("metric") != "logins_per_user")
    assert_frame_equal(narrow, full)
    # March: u1…u5 as in the golden log plus u9 → 6 active users.
    assert narrow.filter(pl.col("metric") == "mau")["value"].item() == 6.0
    # Distinct counts cannot see which rows were dropped; the report can: e16's copy and u9's copy.
    for ids in ("dau,mau", "dau,logins_per_user"):
        result = CliRunner().invoke(app, ["compute", ids, "--month", "2023-03", "--data", str(folder), "-v",
                                          "-f", "csv"])
        assert result.exit_code == 0, result.stderr
        assert f"{len(rows)} rows read, 2 exact duplicates dropped" in result.stderr


def test_nothing_left_is_a_one_line_error(tmp_path) -> None:
    folder = write(tmp_path / "ev", [["e1", "a1", "", "", "2024-03-01T10:00:00Z", "Page Viewed"]])
    result = CliRunner().invoke(app, ["compute", "dau,mau", "--month", "2024-03", "--data", str(folder),
                                      "--identified-only"])
    assert result.exit_code == 1
    assert "every row is anonymous and --identified-only drops them" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_repeated_bad_line_is_rejected_at_each_line(tmp_path) -> None:
    rows = [
        ["e1", "a1", "", "c1", "2024-03-01T10:00:00Z", "x"],
        ["e1", "a1", "", "c1", "2024-03-01T10:00:00Z", "x"],  # exact copy: dropped as a duplicate
        ["", "", "", "c1", "2024-03-01T10:00:00Z", "x"],  # no user_id or anonymous_id: rejected (line 4)
        ["", "", "", "c1", "2024-03-01T10:00:00Z", "x"],  # the same bad line again: rejected (line 5)
        ["e2", "", "u1", "c1", "notadate", "x"],  # not a date: rejected (line 6)
        ["e3", "a1", "u1", "c1", "2024-03-02T10:00:00Z", "x"],
    ]
    folder = write(tmp_path / "ev", rows)
    rejects = tmp_path / "rejects.csv"
    result = CliRunner().invoke(app, ["compute", "mau", "--month", "2024-03", "--data", str(folder), "-v",
                                      "--on-bad-rows", "skip", "--rejects", str(rejects), "-f", "csv"])
    assert result.exit_code == 0, result.stderr
    assert "6 rows read, 1 exact duplicates dropped, 3 rejected, 2 used" in result.stderr
    assert pl.read_csv(rejects)["line"].to_list() == [4, 5, 6]
    # a1 merges into u1 (e3 carries both): one actor in March.
    assert result.stdout.splitlines()[1].split(",")[2] == "1.0"
