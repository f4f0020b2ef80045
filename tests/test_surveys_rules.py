"""Survey row rules (SPEC §1.3, §3.4): how a score is read, which scores are bad rows, survey types.

Every expected value below is read off the rows written in the test by hand.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from kpi_cli import compute
from kpi_cli.api import Run, _options
from kpi_cli.errors import BadRowsError
from tests.conftest import write_csv

HEADER = ["responded_at", "score", "survey", "respondent_id"]


def load(folder: Path, on_bad_rows: str = "skip") -> tuple[pl.DataFrame, dict[str, int]]:
    """The good survey rows and the bad-row count per reason."""
    run = Run.start(_options(folder, {"on_bad_rows": on_bad_rows}))
    good = run.dataset.load("surveys")
    assert good is not None
    return good, run.dataset.reports["surveys"].reasons


def test_score_text_is_read_as_its_leading_whole_number(tmp_path: Path) -> None:
    # Exports write the label after the number ("10 - Extremely likely", "4/5"), a Parquet float
    # shows as "9.0", and a survey type is case-insensitive: all of these are valid.
    write_csv(tmp_path / "surveys.csv", HEADER, [
        ["2024-01-05", "10 - Extremely likely", "NPS", "r1"],
        ["2024-01-05", "9.0", "nps ", "r2"],
        ["2024-01-05", " 0 ", "Nps", "r3"],
        ["2024-01-05", "4/5", "CSAT", "r4"],
        ["2024-01-05", "7 (very easy)", "ces", "r5"],
    ])
    good, reasons = load(tmp_path)
    assert reasons == {}
    got = good.select("survey", "score", "csat_scale")
    want = pl.DataFrame({"survey": ["nps", "nps", "nps", "csat", "ces"], "score": [10, 9, 0, 4, 7],
                         "csat_scale": [None, None, None, None, None]},
                        schema={"survey": pl.String, "score": pl.Int64, "csat_scale": pl.String})
    assert_frame_equal(got, want)


def test_good_and_bad_are_binary_csat_answers(tmp_path: Path) -> None:
    # Zendesk's CSAT: Good = satisfied (score 1 on the binary scale), Bad = not (0); Offered and
    # Not Offered are surveys sent without an answer: kept by the rules with no score, not bad rows.
    write_csv(tmp_path / "surveys.csv", HEADER, [
        ["2024-01-05", "Good", "csat", "r1"],
        ["2024-01-05", "bad", "csat", "r2"],
        ["2024-01-05", "Offered", "csat", "r3"],
        ["2024-01-05", "Not Offered", "csat", "r4"],
    ])
    good, reasons = load(tmp_path)
    assert reasons == {}
    want = pl.DataFrame({"score": [1, 0, None, None], "csat_scale": ["binary", "binary", None, None]},
                        schema={"score": pl.Int64, "csat_scale": pl.String})
    assert_frame_equal(good.select("score", "csat_scale"), want)


def test_scores_outside_their_scale_or_not_whole_are_bad_rows(tmp_path: Path) -> None:
    write_csv(tmp_path / "surveys.csv", HEADER, [
        ["2024-01-05", "11", "nps", "r1"],  # line 2: nps is 0–10
        ["2024-01-05", "-1", "nps", "r2"],  # line 3
        ["2024-01-05", "7.5", "nps", "r3"],  # line 4: not whole
        ["2024-01-05", "0", "csat", "r4"],  # line 5: csat is 1–5
        ["2024-01-05", "6", "csat", "r5"],  # line 6
        ["2024-01-05", "8", "ces", "r6"],  # line 7: ces is 1–7
        ["2024-01-05", "Good", "nps", "r7"],  # line 8: a binary answer is csat only
        ["2024-01-05", "very likely", "nps", "r8"],  # line 9: no number
        ["2024-01-05", "5", "enps", "r9"],  # line 10: not a survey kpi knows
        ["2024-01-05", "", "nps", "r10"],  # line 11: score is required
        ["2024-01-05", "7,5", "ces", "r11"],  # line 12: 7.5 written with a comma, not whole
        ["2024-01-05", "9", "nps", "ok"],  # line 13: the one good row
    ])
    good, reasons = load(tmp_path)
    assert good["respondent_id"].to_list() == ["ok"]
    assert reasons == {
        "score outside the nps scale 0–10": 3,  # lines 2, 3, 8
        "score is not a whole number": 2,  # lines 4, 12
        "score outside the csat scale 1–5 (or Good/Bad)": 2,  # lines 5, 6
        "score outside the ces scale 1–7": 1,  # line 7
        "score is not a number": 1,  # line 9
        "survey not nps, csat or ces": 1,  # line 10
        "missing value": 1,  # line 11
    }
    with pytest.raises(BadRowsError) as err:
        load(tmp_path, "error")
    assert err.value.total == 11
    assert err.value.lines[0] == f"{tmp_path / 'surveys.csv'}:2 score=11 score outside the nps scale 0–10"
    assert err.value.lines[2] == f"{tmp_path / 'surveys.csv'}:4 score=7.5 score is not a whole number"


def test_ces_scale_1_5_makes_6_and_7_bad_rows(tmp_path: Path) -> None:
    # The rules accept CES 1–7; --ces-scale 1-5 rejects 6 and 7 when the family reads the rows.
    write_csv(tmp_path / "surveys.csv", HEADER, [
        ["2024-01-05", "5", "ces", "r1"],
        ["2024-01-06", "6", "ces", "r2"],  # line 3
        ["2024-01-07", "3", "ces", "r3"],
    ])
    with pytest.raises(BadRowsError) as err:
        compute("ces", data=tmp_path, month="2024-01", ces_scale="1-5")
    where = tmp_path / "surveys.csv"
    assert err.value.lines == [f"{where}:3 score=6 score outside the ces scale 1–5 (--ces-scale 1-5)"]
    # Skipped: the mean of the two left, (5 + 3) / 2 = 4.
    got = compute("ces", data=tmp_path, month="2024-01", ces_scale="1-5", on_bad_rows="skip")
    assert got.select("value", "numerator", "denominator").row(0) == (4.0, 8.0, 2.0)
    # On the default 1–7 scale all three count: (5 + 6 + 3) / 3.
    assert compute("ces", data=tmp_path, month="2024-01")["value"].to_list() == [14 / 3]
