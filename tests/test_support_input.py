"""Ticket input rules (SPEC §1.3, §3.4): durations in minutes, --hours business, bad rows, blanks."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import Result

from kpi_cli import compute
from tests.conftest import write_csv

Run = Callable[..., Result]
MARCH = ("--month", "2024-03", "--as-of", "2024-04-05")
# Zendesk's CSV headers (research §2.4), mapped onto the canonical columns.
ZENDESK_HEADER = ["Id", "Created at", "Tags", "Via", "Reopens", "First reply time in minutes",
                  "First reply time in minutes within business hours", "Full resolution time in minutes",
                  "Full resolution time in minutes within business hours"]
ZENDESK_MAPPING = """[sources.tickets.columns]
ticket_id = "Id"
created_at = "Created at"
tags = "Tags"
via = "Via"
reopens = "Reopens"
first_response_minutes = "First reply time in minutes"
first_response_business_minutes = "First reply time in minutes within business hours"
full_resolution_minutes = "Full resolution time in minutes"
full_resolution_business_minutes = "Full resolution time in minutes within business hours"
"""
# Z1–Z4, March 2024 (minutes: calendar / business). Z3 is unanswered and unresolved; Z4's business
# first-reply cell is blank.
ZENDESK_ROWS = [
    ["Z1", "2024-03-04 09:00:00", "billing", "Mail", "0", "30", "30", "600", "120"],
    ["Z2", "2024-03-05 09:00:00", "bug", "Web form", "1", "90", "60", "1440", "480"],
    ["Z3", "2024-03-06 09:00:00", "", "Mail", "", "", "", "", ""],
    ["Z4", "2024-03-07 09:00:00", "billing", "Web form", "2", "150", "", "3000", "600"],
]


def values(result: Result) -> dict[str, float | None]:
    """metric → value of a one-period ``-f json`` run."""
    assert result.exit_code == 0, result.stderr
    return {r["metric"]: r["value"] for r in json.loads(result.stdout)}


@pytest.fixture
def zendesk(tmp_path: Path) -> Path:
    """A Zendesk-style export: durations in minutes, no timestamps for the response or resolution."""
    folder = tmp_path / "zendesk"
    write_csv(folder / "tickets.csv", ZENDESK_HEADER, ZENDESK_ROWS)
    (folder / "kpi.toml").write_text(ZENDESK_MAPPING)
    return folder


def zendesk_run(run: Run, folder: Path, metrics: str, *args: str) -> Result:
    return run("compute", metrics, "--data", folder, "--config", folder / "kpi.toml", *MARCH, "-f", "json", *args)


def test_minutes_give_the_times_when_timestamps_are_absent(run: Run, zendesk: Path) -> None:
    """Calendar: first reply [30, 90, 150] min = [0.5, 1.5, 2.5] h → median 1.5, p90 at rank 1.8 →
    1.5 + 0.8 × 1 = 2.3; answered 3/4; resolution [600, 1440, 3000] min = [10, 24, 50] h → 24;
    resolved in March: Z1 (0 reopens, 03-04 19:00), Z2 (1, 03-06 09:00), Z4 (2, 03-09 11:00) → 2/3."""
    got = values(zendesk_run(run, zendesk, "first_response_time,first_response_time_p90,first_response_rate,"
                                           "unanswered_tickets,resolution_time,reopen_rate"))
    assert got == pytest.approx({"first_response_time": 1.5, "first_response_time_p90": 2.3,
                                 "first_response_rate": 0.75, "unanswered_tickets": 1, "resolution_time": 24.0,
                                 "reopen_rate": 2 / 3})


def test_business_hours_read_the_business_columns(run: Run, zendesk: Path) -> None:
    """--hours business: first reply [30, 60] min (Z4 has no business value) = [0.5, 1] h → median
    0.75 over 2 tickets; resolution [120, 480, 600] min = [2, 8, 10] h → 8. The rate does not change."""
    result = zendesk_run(run, zendesk, "first_response_time,first_response_rate,resolution_time", "--hours",
                         "business")
    assert values(result) == pytest.approx({"first_response_time": 0.75, "first_response_rate": 0.75,
                                            "resolution_time": 8.0})


def test_business_hours_without_the_column_is_a_usage_error(run: Run, tmp_path: Path) -> None:
    """Timestamps only: kpi does not model schedules, so --hours business says which column it needs."""
    write_csv(tmp_path / "d" / "tickets.csv", ["ticket_id", "created_at", "first_response_at"],
              [["a", "2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z"]])
    result = run("compute", "first_response_time", "--data", tmp_path / "d", *MARCH, "--hours", "business")
    assert result.exit_code == 2
    assert "first_response_business_minutes" in result.stderr
    assert "does not model business-hours schedules" in result.stderr
    # A metric that does not read hours runs as usual.
    ok = run("compute", "first_response_rate", "--data", tmp_path / "d", *MARCH, "--hours", "business", "-f", "json")
    assert values(ok) == {"first_response_rate": 1.0}


BAD_HEADER = ["ticket_id", "created_at", "first_response_at", "resolved_at", "full_resolution_minutes",
              "first_response_minutes"]
BAD_ROWS = [
    ["a", "2024-03-01T10:00:00Z", "2024-03-01T10:00:00Z", "2024-03-01T11:00:00Z", "", ""],  # answered at creation
    ["b", "2024-03-01T10:00:00Z", "2024-03-01T09:59:59Z", "", "", ""],  # line 3: response before creation
    ["c", "2024-03-01T10:00:00Z", "", "2024-03-01T09:00:00Z", "", ""],  # line 4: resolution before creation
    ["d", "2024-03-02T10:00:00Z", "", "", "-5", ""],  # line 5: negative duration
    ["e", "2024-03-03T10:00:00Z", "2024-03-03T12:00:00Z", "", "", ""],
    ["f", "2024-03-03T10:00:00Z", "", "", "", "-1"],  # line 7: negative duration
]


def test_bad_rows_are_named_by_file_and_line(run: Run, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d" / "tickets.csv", BAD_HEADER, BAD_ROWS)
    result = run("compute", "tickets", "--data", tmp_path / "d", *MARCH)
    assert result.exit_code == 1
    assert "4 bad rows in tickets" in result.stderr
    assert f"{path}:3 first_response_at=2024-03-01T09:59:59Z first_response_at before created_at" in result.stderr
    assert f"{path}:4 resolved_at=2024-03-01T09:00:00Z resolved_at before created_at" in result.stderr
    assert f"{path}:5 full_resolution_minutes=-5 negative duration" in result.stderr
    assert f"{path}:7 first_response_minutes=-1 negative duration" in result.stderr


def test_skipped_bad_rows_leave_the_rest(run: Run, tmp_path: Path) -> None:
    """Skipping b, c, d, f: tickets a and e; a answered at creation (0 h, valid), e after 2 h →
    median 1; a resolved after 1 h."""
    write_csv(tmp_path / "d" / "tickets.csv", BAD_HEADER, BAD_ROWS)
    rejects = tmp_path / "rejects.csv"
    result = run("compute", "tickets,first_response_time,resolution_time", "--data", tmp_path / "d", *MARCH,
                 "--on-bad-rows", "skip", "--rejects", rejects, "-f", "json")
    assert values(result) == {"tickets": 2, "first_response_time": 1.0, "resolution_time": 1.0}
    assert "2 negative duration" in result.stderr
    assert pl.read_csv(rejects)["ticket_id"].to_list() == ["b", "c", "d", "f"]


def test_blank_and_absent_reopens_are_zero(run: Run, tmp_path: Path) -> None:
    """A blank reopens cell is the default 0 (SPEC §1.3), as an absent column is: 1 of 2 resolved
    tickets reopened → 0.5; without the column → 0."""
    header = ["ticket_id", "created_at", "resolved_at", "reopens"]
    write_csv(tmp_path / "a" / "tickets.csv", header, [["a", "2024-03-01", "2024-03-02", ""],
                                                       ["b", "2024-03-01", "2024-03-02", "3"]])
    write_csv(tmp_path / "b" / "tickets.csv", header[:3], [["a", "2024-03-01", "2024-03-02"]])
    assert values(run("compute", "reopen_rate", "--data", tmp_path / "a", *MARCH, "-f", "json")) == {
        "reopen_rate": 0.5}
    assert values(run("compute", "reopen_rate", "--data", tmp_path / "b", *MARCH, "-f", "json")) == {
        "reopen_rate": 0.0}


def test_unknown_by_dimension_is_refused(run: Run, tmp_path: Path) -> None:
    write_csv(tmp_path / "d" / "tickets.csv", ["ticket_id", "created_at", "via"], [["a", "2024-03-01", "web"]])
    result = run("compute", "tickets", "--data", tmp_path / "d", *MARCH, "--by", "colour")
    assert result.exit_code == 2
    assert "colour" in result.stderr
    assert "via" in result.stderr  # the hint names what it can split by


def test_outbound_must_be_a_list(run: Run, tmp_path: Path) -> None:
    write_csv(tmp_path / "d" / "tickets.csv", ["ticket_id", "created_at"], [["a", "2024-03-01"]])
    (tmp_path / "d" / "kpi.toml").write_text("[tickets]\noutbound = 3\n")
    result = run("compute", "tickets", "--data", tmp_path / "d", "--config", tmp_path / "d" / "kpi.toml", *MARCH)
    assert result.exit_code == 2
    assert "[tickets] outbound must be a list" in result.stderr


def test_python_api_matches_the_hand_computation(tmp_path: Path) -> None:
    """compute() gives the long shape; Z-style minutes as in the CLI test: 3 answered of 4. March is
    incomplete: the tickets' last instant (Z4 resolved 03-09 11:00) is before its end (SPEC §2)."""
    write_csv(tmp_path / "tickets.csv", ZENDESK_HEADER, ZENDESK_ROWS)
    (tmp_path / "kpi.toml").write_text(ZENDESK_MAPPING)
    got = compute("first_response_rate", data=tmp_path, config=str(tmp_path / "kpi.toml"), month="2024-03",
                  as_of="2024-04-05")
    want = pl.DataFrame({"metric": ["first_response_rate"], "period": [date(2024, 3, 1)],
                         "value": [0.75], "numerator": [3.0], "denominator": [4.0], "complete": [False]})
    assert_frame_equal(got, want)


def test_an_empty_export_is_a_data_error_naming_the_file(run: Run, tmp_path: Path) -> None:
    """A header alone says nothing about tickets (not "0 tickets"): a data error, as billing and surveys give."""
    write_csv(tmp_path / "d" / "tickets.csv", ["ticket_id", "created_at"], [])
    result = run("compute", "tickets,first_response_time", "--data", tmp_path / "d", *MARCH, "-f", "json")
    assert result.exit_code == 1
    assert "source tickets (" in result.stderr
    assert "no tickets to compute from (the file has only a header)" in result.stderr


def test_weekly_periods(run: Run, tmp_path: Path) -> None:
    """--period week (Monday starts): 2024-03-03 is a Sunday (week of 02-26), 03-04 a Monday."""
    write_csv(tmp_path / "d" / "tickets.csv", ["ticket_id", "created_at"],
              [["a", "2024-03-03T12:00:00Z"], ["b", "2024-03-04T00:00:00Z"], ["c", "2024-03-10T23:59:59Z"]])
    result = run("compute", "tickets", "--data", tmp_path / "d", "--period", "week", "--from", "2024-02-26",
                 "--to", "2024-03-10", "--as-of", "2024-04-05", "-f", "json")
    assert result.exit_code == 0, result.stderr
    assert [(r["period"], r["value"]) for r in json.loads(result.stdout)] == [("2024-02-26", 1), ("2024-03-04", 2)]


def test_explain_names_the_parts(run: Run) -> None:
    result = run("explain", "tickets_per_user")
    assert result.exit_code == 0, result.stderr
    assert "active_users" in result.stdout
    assert "--tag" in result.stdout
