"""Survey, ticket and spend presets on header-faithful exports (SPEC §1.1, issue 8 item 4).

Each folder of ``tests/fixtures/presets/`` holds one tool's export, its headers copied from
research/acquisition-support-report.md §2.4–2.5 (and product.md §2(d)), and the ``kpi.toml`` a
user would write. Times are worked out by hand in the comments: New York is UTC−5 (EST) until
2024-03-10 02:00 local and UTC−4 (EDT) after; Berlin UTC+1 until 2024-03-31 02:00, then UTC+2;
Denver UTC−7 until 2024-03-10, then UTC−6. ``zoneinfo`` checks the DST cases independently.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
from conftest import write_csv

from kpi_cli.config import load_settings
from kpi_cli.dataset import Dataset

FIXTURES = Path(__file__).parent / "fixtures" / "presets"
# preset -> (source, rows the preset keeps)
PRESET_FIXTURES = {
    "delighted": ("surveys", 5),
    "typeform": ("surveys", 4),  # the partial response is left out
    "surveymonkey": ("surveys", 3),
    "qualtrics": ("surveys", 3),  # a preview and an unfinished response are left out
    "zendesk": ("tickets", 4),
    "intercom": ("tickets", 3),
    "freshdesk": ("tickets", 2),
    "spend_sheet": ("spend", 8),
}


def fixture(tmp_path: Path, name: str, *, config: bool = True) -> Path:
    """A copy of fixture ``name`` in ``tmp_path/name`` (without its kpi.toml unless ``config``)."""
    folder = tmp_path / name
    shutil.copytree(FIXTURES / name, folder)
    if not config:
        (folder / "kpi.toml").unlink()
    return folder


def loaded(folder: Path, source: str, toml: str | None = None) -> pl.DataFrame:
    """Good rows of ``source`` as ``kpi`` parses them (instants in UTC µs), config from the folder."""
    if toml is not None:
        (folder / "kpi.toml").write_text(toml)
    settings = load_settings({"data_dir": str(folder)}, config=folder / "kpi.toml")
    frame = Dataset(settings).load(source)
    assert frame is not None
    return frame.sort("_line")


def utc_us(text: str) -> int:
    """``YYYY-MM-DD HH:MM[:SS]`` in UTC as µs since the epoch."""
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1_000_000)


def local_us(text: str, zone: str) -> int:
    """A wall time in ``zone`` as UTC µs, by zoneinfo (fold=0: the first of a repeated hour, and the
    offset before the jump for a skipped one), the independent check of kpi's own conversion."""
    return int(datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(zone)).timestamp() * 1_000_000)


def values(result_stdout: str) -> dict[str, float | None]:
    """``metric -> value`` of a one-period CSV output."""
    out: dict[str, float | None] = {}
    for row in csv.DictReader(io.StringIO(result_stdout)):
        out[row["metric"]] = float(row["value"]) if row["value"] else None
    return out


# ---- every fixture validates, and kpi init recognises it ----------------------------------------

@pytest.mark.parametrize("name", list(PRESET_FIXTURES))
def test_each_fixture_validates(run, tmp_path, name):
    folder = fixture(tmp_path, name)
    source, rows = PRESET_FIXTURES[name]
    result = run("validate", "--data", folder, "--config", folder / "kpi.toml", "--as-of", "2024-04-30")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert f"✓ {source}: {rows} rows read, 0 exact duplicates, 0 bad, {rows} used" in result.stdout
    assert "warning" not in result.stdout  # zones set where the tool needs one


@pytest.mark.parametrize("name", list(PRESET_FIXTURES))
def test_init_guesses_each_preset_and_writes_a_config_that_runs(run, tmp_path, name):
    folder = fixture(tmp_path, name, config=False)
    source, rows = PRESET_FIXTURES[name]
    result = run("init", "--data", folder, "-o", folder / "kpi.toml")
    assert result.exit_code == 0, result.stderr
    assert f"{source}, preset {name}; every required column mapped" in result.stderr
    written = tomllib.loads((folder / "kpi.toml").read_text())
    table = written["sources"][source]
    assert table["preset"] == name
    if name in ("typeform", "surveymonkey"):  # question-titled: the NPS question and the survey type guessed
        assert table["survey"] == "nps"
        assert "recommend" in table["columns"]["score"]
    checked = run("validate", "--config", folder / "kpi.toml", "--as-of", "2024-04-30")
    assert checked.exit_code == 0, checked.stdout + checked.stderr
    assert f"✓ {source}: {rows} rows read" in checked.stdout
    if name in ("zendesk", "freshdesk"):  # naive local times: init says so, validate warns until set
        assert "set source_tz" in result.stderr
        assert "source_tz is not set" in checked.stdout


# ---- source_tz -----------------------------------------------------------------------------------

def test_source_tz_reads_naive_times_as_local_dst_correct(tmp_path):
    cells = {
        "t1": "2024-03-09 12:00:00",  # EST: 17:00 UTC
        "t2": "2024-03-10 12:00:00",  # EDT: 16:00 UTC (the same wall time, an hour less after the jump)
        "t3": "2024-03-10 02:30:00",  # never happened (02:00 → 03:00): EST's offset, 07:30 UTC
        "t4": "2024-11-03 01:30:00",  # happened twice: the first, EDT, 05:30 UTC
        "t5": "2024-03-10",  # a date: local midnight, EST, 05:00 UTC
        "t6": "2024-03-10T02:30:00Z",  # aware: stays 02:30 UTC
        "t7": "2024-03-10 02:30:00-05:00",  # aware: 07:30 UTC
        "t8": "1710037800",  # an epoch is UTC: 2024-03-10 02:30 UTC
    }
    write_csv(tmp_path / "tickets.csv", ["ticket_id", "created_at"], [[k, v] for k, v in cells.items()])
    frame = loaded(tmp_path, "tickets", '[sources.tickets]\nsource_tz = "America/New_York"\n')
    got = dict(zip(frame["ticket_id"], frame["created_at"], strict=True))
    by_hand = {"t1": "2024-03-09 17:00", "t2": "2024-03-10 16:00", "t3": "2024-03-10 07:30",
               "t4": "2024-11-03 05:30", "t5": "2024-03-10 05:00", "t6": "2024-03-10 02:30",
               "t7": "2024-03-10 07:30", "t8": "2024-03-10 02:30"}
    assert got == {k: utc_us(v) for k, v in by_hand.items()}
    for k in ("t1", "t2", "t3", "t4"):
        assert got[k] == local_us(cells[k], "America/New_York")


def test_without_source_tz_naive_times_stay_utc(tmp_path):
    write_csv(tmp_path / "tickets.csv", ["ticket_id", "created_at"], [["t1", "2024-03-10 12:00:00"]])
    frame = loaded(tmp_path, "tickets", "")
    assert frame["created_at"].to_list() == [utc_us("2024-03-10 12:00")]


def test_source_tz_must_be_an_iana_zone(run, tmp_path):
    write_csv(tmp_path / "tickets.csv", ["ticket_id", "created_at"], [["t1", "2024-03-10 12:00:00"]])
    (tmp_path / "kpi.toml").write_text('[sources.tickets]\nsource_tz = "EST5"\n')
    result = run("validate", "--data", tmp_path)
    assert result.exit_code != 0
    assert "source_tz = 'EST5' is not an IANA time zone" in result.stdout + result.stderr


def test_zendesk_times_in_the_account_zone(tmp_path):
    frame = loaded(fixture(tmp_path, "zendesk"), "tickets")
    # 09:15 EST = 14:15 UTC; 01:30 EST = 06:30 UTC; 03:30 EDT (after the jump) = 07:30 UTC;
    # 2024-03-31 21:30 EDT = 2024-04-01 01:30 UTC (April in UTC reporting).
    assert frame["created_at"].to_list() == [utc_us("2024-03-04 14:15"), utc_us("2024-03-10 06:30"),
                                            utc_us("2024-03-10 07:30"), utc_us("2024-04-01 01:30")]
    # Solved at 2024-03-11 10:00 EDT = 14:00 UTC.
    assert frame["resolved_at"].to_list()[:2] == [utc_us("2024-03-04 16:00"), utc_us("2024-03-11 14:00")]
    # Zendesk separates tags with spaces; the support family splits on ; or ,.
    assert frame["tags"].to_list()[:2] == ["billing;refund", "login"]
    assert frame["user_id"].to_list()[0] == "u-101"  # Requester external id, not Zendesk's own id


def test_zendesk_without_source_tz_warns_once_on_validate_and_compute(run, tmp_path):
    folder = fixture(tmp_path, "zendesk")
    (folder / "kpi.toml").write_text('[sources.tickets]\npreset = "zendesk"\n')
    checked = run("validate", "--config", folder / "kpi.toml", "--data", folder, "--as-of", "2024-04-30")
    assert checked.exit_code == 0, checked.stdout
    assert checked.stdout.count("source_tz is not set") == 1
    result = run("compute", "tickets", "--config", folder / "kpi.toml", "--data", folder, "--month", "2024-03",
                 "--as-of", "2024-04-30", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.count("source_tz is not set") == 1
    assert 'Admin Center › Account › Localization' in result.stderr
    # Read as UTC, ticket 104 (2024-03-31 21:30 local) stays in March: 4 tickets, not 3.
    assert values(result.stdout)["tickets"] == 4.0


def test_intercom_zone_from_the_header_suffix(tmp_path):
    folder = fixture(tmp_path, "intercom")
    frame = loaded(folder, "tickets")
    # Conversation started at (America/New_York): 09:15 EST = 14:15 UTC, 01:30 EST = 06:30 UTC,
    # 2024-03-31 21:30 EDT = 2024-04-01 01:30 UTC; first replied 03:30 EDT = 07:30 UTC.
    assert frame["created_at"].to_list() == [utc_us("2024-03-04 14:15"), utc_us("2024-03-10 06:30"),
                                            utc_us("2024-04-01 01:30")]
    assert frame["first_response_at"].to_list()[:2] == [utc_us("2024-03-04 14:45"), utc_us("2024-03-10 07:30")]
    # Durations in seconds, read as minutes: 1800 s = 30 min, 113400 s = 1890 min.
    assert frame["first_response_minutes"].to_list()[:2] == [30.0, 60.0]
    assert frame["full_resolution_minutes"].to_list()[:2] == [105.0, 1890.0]


def test_intercom_header_zone_follows_the_file_and_matches_a_mapping_without_it(tmp_path):
    rows = [["c1", "2024-07-01 09:00:00"]]
    write_csv(tmp_path / "tickets.csv", ["Conversation ID", "Conversation started at (Europe/Paris)"], rows)
    frame = loaded(tmp_path, "tickets", '[sources.tickets]\npreset = "intercom"\n')
    assert frame["created_at"].to_list() == [utc_us("2024-07-01 07:00")]  # CEST, UTC+2
    # A mapping written without the suffix still finds the column, and its zone.
    frame = loaded(tmp_path, "tickets", '[sources.tickets.columns]\nticket_id = "Conversation ID"\n'
                   'created_at = "Conversation started at"\n')
    assert frame["created_at"].to_list() == [utc_us("2024-07-01 07:00")]


def test_freshdesk_zone_and_durations_in_hours_or_clock_text(tmp_path):
    frame = loaded(fixture(tmp_path, "freshdesk"), "tickets")
    # 2024-03-30 23:30 CET = 22:30 UTC; 2024-03-31 23:30 CEST (after the 02:00 jump) = 21:30 UTC.
    assert frame["created_at"].to_list() == [utc_us("2024-03-30 22:30"), utc_us("2024-03-31 21:30")]
    # "First response time (in hrs)": 01:30:00 = 90 min, 2.5 h = 150 min; resolution 12.5 h = 750 min,
    # 04:15:00 = 255 min (business hours, research §2.2).
    assert frame["first_response_business_minutes"].to_list() == [90.0, 150.0]
    assert frame["full_resolution_business_minutes"].to_list() == [750.0, 255.0]


# ---- header rows ---------------------------------------------------------------------------------

def test_surveymonkey_two_header_rows_names_and_physical_lines(run, tmp_path):
    folder = fixture(tmp_path, "surveymonkey")
    frame = loaded(folder, "surveys")
    # Row 1 is line 1, row 2 line 2: the first response is line 3.
    assert frame["_line"].to_list() == [3, 4, 5]
    # A question over two columns is named "question - option"; one-column questions keep row 1.
    assert {"Which plan are you on? - Basic", "Which plan are you on? - Pro",
            "What is the primary reason for your score?"} <= set(frame.columns)
    # "03/04/2024 01:12:30 PM" in SurveyMonkey's format.
    assert frame["responded_at"].to_list()[1] == utc_us("2024-03-04 13:12:30")
    assert frame["email"].to_list() == ["ann@example.com", "bob@example.com", "cy@example.com"]
    text = (folder / "surveys.csv").read_text().splitlines(keepends=True)
    text[3] = text[3].replace("03/04/2024 01:12:30 PM", "someday")
    text.append("114000000004,420000001\n")  # a short record, line 6
    (folder / "surveys.csv").write_text("".join(text))
    result = run("validate", "--config", folder / "kpi.toml", "--data", folder, "--as-of", "2024-04-30")
    assert result.exit_code == 1
    assert "2 × " not in result.stdout
    assert "1 × not a date" in result.stdout
    assert "1 × record has 2 fields (the header has 13)" in result.stdout
    result = run("compute", "nps", "--config", folder / "kpi.toml", "--data", folder, "--month", "2024-03")
    assert result.exit_code == 1
    assert "surveys.csv:4 responded_at=someday not a date" in result.stderr
    assert "surveys.csv:6 (record)=" in result.stderr


def test_qualtrics_three_header_rows_filters_and_zone(run, tmp_path):
    folder = fixture(tmp_path, "qualtrics")
    frame = loaded(folder, "surveys")
    # Header rows take lines 1-4 (the question text of QID3_TEXT holds a line break): responses
    # start on line 5. R_2 (Status 1, a preview) and R_3 (Finished 0) are left out.
    assert frame["response_id"].to_list() == ["R_1aAAAAAAAAAAAAA", "R_4dDDDDDDDDDDDDD", "R_5eEEEEEEEEEEEEE"]
    assert frame["_line"].to_list() == [5, 8, 9]
    assert frame["score"].to_list() == [9, 8, 4]  # QID2, found beside QID2_NPS_GROUP
    assert not [c for c in frame.columns if "nps_group" in c.lower()]  # Qualtrics' own class is never read
    # RecordedDate's ImportId says America/Denver: 10:03:01 MST = 17:03:01 UTC; 17:31 MDT = 23:31 UTC.
    assert frame["responded_at"].to_list()[0] == utc_us("2024-03-01 17:03:01")
    assert frame["responded_at"].to_list()[2] == utc_us("2024-03-20 23:31")
    result = run("validate", "--config", folder / "kpi.toml", "--data", folder, "--as-of", "2024-04-30")
    assert "2 rows of" in result.stdout
    assert "left out as not completed responses" in result.stdout


def test_qualtrics_bad_row_line_counts_the_header_rows(run, tmp_path):
    folder = fixture(tmp_path, "qualtrics")
    text = (folder / "surveys.csv").read_text()
    (folder / "surveys.csv").write_text(text.replace("2024-03-04 08:02:00,R_4", "not-a-date,R_4"))
    result = run("compute", "nps", "--config", folder / "kpi.toml", "--data", folder, "--month", "2024-03")
    assert result.exit_code == 1
    assert "surveys.csv:8 responded_at=not-a-date not a date" in result.stderr


def test_header_rows_must_be_a_small_whole_number(run, tmp_path):
    write_csv(tmp_path / "surveys.csv", ["responded_at", "score", "survey"], [["2024-03-01", "9", "nps"]])
    (tmp_path / "kpi.toml").write_text('[sources.surveys]\nheader_rows = 0\n')
    result = run("validate", "--data", tmp_path)
    assert result.exit_code != 0
    assert "header_rows = 0 must be a whole number from 1 to 10" in result.stdout + result.stderr


# ---- row filters, constants ----------------------------------------------------------------------

def test_typeform_partial_responses_are_left_out_and_counted(run, tmp_path):
    folder = fixture(tmp_path, "typeform")
    result = run("validate", "--config", folder / "kpi.toml", "--data", folder, "--as-of", "2024-04-30")
    assert result.exit_code == 0
    assert "surveys: 1 row of" in result.stdout
    assert "left out as not completed responses (Response Type not completed)" in result.stdout
    computed = run("compute", "nps", "--config", folder / "kpi.toml", "--data", folder, "--month", "2024-03",
                   "-v")
    assert "left out as not completed responses" in computed.stderr
    # Without the filter (keep replaced by an empty table) the partial row, which has no Submit
    # Date, is a bad row: the filter is what keeps it out.
    toml = (folder / "kpi.toml").read_text().replace('survey = "nps"\n', 'survey = "nps"\nkeep = {}\n')
    (folder / "kpi.toml").write_text(toml)
    result = run("validate", "--config", folder / "kpi.toml", "--data", folder, "--as-of", "2024-04-30")
    assert result.exit_code == 1
    assert "1 × missing value" in result.stdout


def test_question_titled_export_without_a_survey_type_names_the_setting(run, tmp_path):
    folder = fixture(tmp_path, "typeform")
    (folder / "kpi.toml").write_text((folder / "kpi.toml").read_text().replace('survey = "nps"\n', ""))
    result = run("validate", "--config", folder / "kpi.toml", "--data", folder)
    assert result.exit_code == 1
    assert 'required column survey not found' in result.stdout
    assert 'set [sources.surveys] survey = "nps"' in result.stdout


def test_survey_constant_must_be_a_survey_type(run, tmp_path):
    folder = fixture(tmp_path, "typeform")
    (folder / "kpi.toml").write_text((folder / "kpi.toml").read_text().replace('"nps"', '"eNPS score"'))
    result = run("validate", "--config", folder / "kpi.toml", "--data", folder)
    assert result.exit_code != 0
    assert "survey = 'eNPS score' is not one of nps, csat, ces" in result.stdout + result.stderr


def test_spend_sheet_month_column_and_ga4_year_month(tmp_path):
    frame = loaded(fixture(tmp_path, "spend_sheet"), "spend")
    assert frame["month"].to_list()[:3] == ["2024-01"] * 3
    assert frame["channel"].to_list()[:2] == ["Paid Search", "Paid Social"]
    assert frame["amount"].to_list()[0] == 1200.0
    write_csv(tmp_path / "ga4" / "spend.csv", ["Year month", "Session default channel group", "Ads cost"],
              [["202403", "Paid Search", "12.5"]])
    frame = loaded(tmp_path / "ga4", "spend", '[sources.spend]\npreset = "spend_sheet"\n')
    assert frame.select("month", "channel", "amount").rows() == [("2024-03", "Paid Search", 12.5)]


# ---- every fixture computes ---------------------------------------------------------------------

# Hand-computed March 2024 values (UTC reporting, --as-of 2024-04-30).
COMPUTED = {
    # Delighted: p1 10 (promoter), p2 6 (detractor), p3 8, p4 9 (promoter): 100 × (2 − 1) / 4;
    # one CSAT response, 5: share 1.
    "delighted": {"nps": 25.0, "csat": 1.0},
    # Typeform (partial left out): 9, 10, 3, 7: 100 × (2 − 1) / 4.
    "typeform": {"nps": 25.0},
    # SurveyMonkey: 9, 4, 10: 100 × (2 − 1) / 3.
    "surveymonkey": {"nps": 100 / 3},
    # Qualtrics: 9 (promoter), 8 (passive, although its NPS_GROUP says 3), 4 (detractor): 0.
    "qualtrics": {"nps": 0.0},
    # Zendesk, created in March UTC: 101, 102, 103 (104 is 2024-04-01 01:30 UTC). Answered 30 and
    # 60 min: median 0.75 h; 2 of 3 answered, 1 unanswered. Resolved 101 in 1.75 h, 102 from
    # 06:30 UTC on the 10th to 14:00 UTC on the 11th = 31.5 h: median 16.625 h; 1 of 2 reopened.
    "zendesk": {"tickets": 3.0, "first_response_time": 0.75, "first_response_rate": 2 / 3,
                "unanswered_tickets": 1.0, "resolution_time": 16.625, "reopen_rate": 0.5},
    # Intercom: 215468 (answered after 0.5 h, closed after 1.75 h) and 215469 (1 h, 31.5 h) in March.
    "intercom": {"tickets": 2.0, "first_response_time": 0.75, "resolution_time": 16.625},
    # Freshdesk: #1 22:30 UTC Mar 30 → answered 07:00 UTC Mar 31 (8.5 h), resolved 08:00 UTC Apr 2
    # (57.5 h); #2 21:30 UTC Mar 31 → 07:30 UTC Apr 1 (10 h), resolved 10:00 UTC Apr 1 (12.5 h).
    "freshdesk": {"tickets": 2.0, "first_response_time": 9.25, "resolution_time": 35.0},
}


@pytest.mark.parametrize("name", list(COMPUTED))
def test_each_survey_and_ticket_fixture_computes(run, tmp_path, name):
    folder = fixture(tmp_path, name)
    expected = COMPUTED[name]
    result = run("compute", ",".join(expected), "--config", folder / "kpi.toml", "--data", folder,
                 "--month", "2024-03", "--as-of", "2024-04-30", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    got = values(result.stdout)
    assert {k: got[k] for k in expected} == pytest.approx(expected)


def test_satisfaction_group_computes_on_every_survey_and_ticket_fixture(run, tmp_path):
    for name in COMPUTED:
        folder = fixture(tmp_path, name)
        result = run("compute", "satisfaction", "--config", folder / "kpi.toml", "--data", folder,
                     "--month", "2024-03", "--as-of", "2024-04-30", "-f", "csv")
        assert result.exit_code == 0, (name, result.stderr)
        assert values(result.stdout), name


def test_spend_sheet_computes(run, tmp_path):
    folder = fixture(tmp_path, "spend_sheet")
    result = run("compute", "acquisition_spend,retention_spend", "--config", folder / "kpi.toml", "--data", folder,
                 "--from", "2024-01", "--to", "2024-03", "--as-of", "2024-04-30", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    rows = {(r["metric"], r["period"]): float(r["value"]) if r["value"] else None
            for r in csv.DictReader(io.StringIO(result.stdout))}
    # Acquisition: Jan 1200 + 800; Feb 1300 (blank category = acquisition) + 400 + 200 (no channel);
    # Mar 500 + 100. Retention: Jan 150 (the e-mail row).
    assert rows[("acquisition_spend", "2024-01-01")] == 2000.0
    assert rows[("acquisition_spend", "2024-02-01")] == 1900.0
    assert rows[("acquisition_spend", "2024-03-01")] == 600.0
    assert rows[("retention_spend", "2024-01-01")] == 150.0


def test_qualtrics_legacy_export_with_two_header_rows(tmp_path):
    folder = fixture(tmp_path, "qualtrics")
    lines = (folder / "surveys.csv").read_text().split("\n")
    # Drop the ImportId row (line 4; the question row holds a line break): a pre-2017 export.
    (folder / "surveys.csv").write_text("\n".join(lines[:3] + lines[4:]))
    frame = loaded(folder, "surveys")
    assert frame["response_id"].to_list() == ["R_1aAAAAAAAAAAAAA", "R_4dDDDDDDDDDDDDD", "R_5eEEEEEEEEEEEEE"]
    assert frame["_line"].to_list() == [4, 7, 8]
    # Without the ImportId row no zone is known: RecordedDate is read as UTC.
    assert frame["responded_at"].to_list()[0] == utc_us("2024-03-01 10:03:01")


def test_source_tz_on_parquet_naive_datetimes(tmp_path):
    pl.DataFrame({"ticket_id": ["t1", "t2"],
                  "created_at": [datetime(2024, 3, 9, 12), datetime(2024, 3, 10, 12)]}).write_parquet(
        tmp_path / "tickets.parquet")
    frame = loaded(tmp_path, "tickets", '[sources.tickets]\nsource_tz = "America/New_York"\n')
    # 12:00 EST = 17:00 UTC, 12:00 EDT = 16:00 UTC.
    assert frame["created_at"].to_list() == [utc_us("2024-03-09 17:00"), utc_us("2024-03-10 16:00")]


def test_amount_unit_micros_for_google_ads_costs(tmp_path):
    write_csv(tmp_path / "spend.csv", ["month", "amount"], [["2024-03", "12500000"]])
    frame = loaded(tmp_path, "spend", '[sources.spend]\namount_unit = "micros"\n')
    assert frame["amount"].to_list() == [12.5]  # 12,500,000 micros = 12.50


def test_delighted_api_list_saved_as_one_json_array(tmp_path):
    folder = fixture(tmp_path, "delighted")
    objects = [json.loads(line) for line in (folder / "surveys.jsonl").read_text().splitlines()]
    (folder / "surveys.jsonl").unlink()
    # json.dumps(indent=2): "[" on line 1, each object opening on a line of its own ("  {").
    text = json.dumps(objects, indent=2)
    (folder / "survey_responses.json").write_text(text)
    starts = [i + 1 for i, line in enumerate(text.split("\n")) if line == "  {"]
    frame = loaded(folder, "surveys")
    assert frame["_line"].to_list() == starts
    assert frame["response_id"].to_list() == ["1001", "1002", "1003", "1004", "1005"]
    assert frame["responded_at"].to_list()[0] == utc_us("2024-03-01 10:00")  # created_at 1709287200 (Unix s)


@pytest.mark.parametrize(("name", "zone"), [("zendesk", "America/New_York"), ("intercom", "America/New_York"),
                                            ("freshdesk", "Europe/Berlin"), ("qualtrics", "America/Denver")])
def test_validate_names_the_zone_naive_times_are_read_in(run, tmp_path, name, zone):
    folder = fixture(tmp_path, name)
    result = run("validate", "--config", folder / "kpi.toml", "--data", folder, "--as-of", "2024-04-30")
    assert result.exit_code == 0
    assert f"read as local times in {zone}" in result.stdout
