"""Survey metrics (SPEC §3.4): nps and its margin, csat, ces, detractor recovery.

Golden examples from research product.md §2(c) are used verbatim; every other expected value is
worked out by hand in the comment next to it, or by an independent method (the margin as the
standard error of the per-response ±100/0 values).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import Result

from kpi_cli import compute
from tests.conftest import write_csv

HEADER = ["responded_at", "score", "survey", "respondent_id", "email", "account_id", "touchpoint", "wave"]
AS_OF = "2024-12-01"
# research product.md §2(c), NPS golden example, wave 1: r1..r10.
GOLDEN_WAVE_1 = [10, 9, 9, 8, 7, 6, 5, 10, 3, 9]


def surveys(folder: Path, rows: list[list[str]]) -> Path:
    """``surveys.csv`` in ``folder`` from rows of HEADER (shorter rows are padded with blanks)."""
    write_csv(folder / "surveys.csv", HEADER, [r + [""] * (len(HEADER) - len(r)) for r in rows])
    return folder


def one(frame: pl.DataFrame, metric: str, period: str | None = None) -> tuple[float | None, ...]:
    """(value, numerator, denominator) of ``metric``'s row (in ``period``, when given)."""
    rows = frame.filter(pl.col("metric") == metric)
    if period is not None:
        rows = rows.filter(pl.col("period").cast(pl.String) == period)
    assert rows.height == 1, rows
    return rows.select("value", "numerator", "denominator").row(0)


def test_nps_golden_example(tmp_path: Path) -> None:
    # P = 5 (r1 r2 r3 r8 r10), passives 2, D = 3 (r6 r7 r9): NPS = 100 × (5 − 3) / 10 = +20.
    # Margin: Var = (0.5 + 0.3 − 0.2²) / 10 = 0.076, 1.96 × 100 × √0.076 = 54.03 (research: ±54.0).
    surveys(tmp_path, [["2024-01-05", str(s), "nps", f"r{i}"] for i, s in enumerate(GOLDEN_WAVE_1, 1)])
    got = compute("nps", data=tmp_path, month="2024-01", as_of=AS_OF)
    assert one(got, "nps") == (20.0, 2.0, 10.0)
    value, numerator, denominator = one(got, "nps_moe")
    assert value == pytest.approx(1.96 * 100 * math.sqrt(0.076))
    assert round(value, 1) == 54.0
    assert (numerator, denominator) == (None, None)


def test_nps_margin_against_the_standard_error_of_response_values(tmp_path: Path) -> None:
    # n = 10, p = .4, d = .2: 1.96 × 100 × √((0.4 + 0.2 − 0.2²) / 10) = 196 × √0.056 = 46.38.
    # Independently: each response is +100 (promoter), 0 or −100 (detractor); NPS is their mean and
    # its standard error the population standard deviation / √n.
    scores = [10, 9, 9, 10, 8, 7, 8, 7, 2, 6]
    surveys(tmp_path, [["2024-03-10", str(s), "nps", f"r{i}"] for i, s in enumerate(scores)])
    got = compute("nps", data=tmp_path, month="2024-03", as_of=AS_OF)
    values = [100 if s >= 9 else -100 if s <= 6 else 0 for s in scores]
    assert one(got, "nps")[0] == pytest.approx(statistics.mean(values)) == 20.0
    moe = one(got, "nps_moe")[0]
    assert moe == pytest.approx(1.96 * statistics.pstdev(values) / math.sqrt(len(values)))
    assert round(moe, 2) == 46.38


def test_nps_counts_each_respondents_latest_response_in_the_period(tmp_path: Path) -> None:
    rows = [
        ["2024-01-20", "10", "nps", "r1"],  # r1 answered 3 first: the later 10 counts → promoter
        ["2024-01-02", "3", "nps", "r1"],
        ["2024-01-05", "9", "nps", "r2"],  # r2: 9, then 5 → detractor
        ["2024-01-28", "5", "nps", "r2"],
        ["2024-01-08", "8", "nps", "", "Ann@Example.com"],  # no id: the lower-cased email is the respondent
        ["2024-01-09", "2", "nps", "", "ann@example.COM"],  # … so this later 2 replaces the 8 → detractor
        ["2024-01-10", "0", "nps"],  # no respondent at all: each is its own respondent → detractor
        ["2024-01-10", "10", "nps"],  # → promoter
        ["2024-01-15", "7", "nps", "r5"],  # same instant twice: the later line counts → 9, promoter
        ["2024-01-15", "9", "nps", "r5"],
        ["2024-02-01", "0", "nps", "r1"],  # February: not in January's count
    ]
    surveys(tmp_path, rows)
    got = compute("nps", data=tmp_path, month="2024-01", as_of=AS_OF)
    # Respondents: r1 P, r2 D, ann D, two anonymous (D, P), r5 P → n = 6, P = 3, D = 3 → NPS 0.
    assert one(got, "nps") == (0.0, 0.0, 6.0)
    # p = d = 0.5: 1.96 × 100 × √((1 − 0) / 6) = 80.02.
    assert one(got, "nps_moe")[0] == pytest.approx(196 / math.sqrt(6))


def test_nps_by_touchpoint_and_by_a_customers_column(tmp_path: Path) -> None:
    rows = [
        ["2024-01-05", "10", "nps", "r1", "", "a1", "onboarding"],
        ["2024-01-06", "4", "nps", "r2", "", "a2", "onboarding"],
        ["2024-01-07", "9", "nps", "r3", "", "a2", "support"],
        ["2024-01-08", "8", "nps", "r4", "", "", ""],  # blank touchpoint, no account
    ]
    surveys(tmp_path, rows)
    write_csv(tmp_path / "customers.csv", ["customer_id", "segment"], [["a1", "smb"], ["a2", "enterprise"]])
    got = compute("nps", data=tmp_path, month="2024-01", as_of=AS_OF, by="touchpoint")
    nps = got.filter(pl.col("metric") == "nps").select("touchpoint", "value", "numerator", "denominator")
    # onboarding: r1 P, r2 D → 0 over 2; support: r3 P → 100 over 1; blank: r4 passive → 0 over 1.
    want = pl.DataFrame({"touchpoint": ["onboarding", "support", None], "value": [0.0, 100.0, 0.0],
                         "numerator": [0.0, 1.0, 0.0], "denominator": [2.0, 1.0, 1.0]})
    assert_frame_equal(nps, want)
    by_segment = compute("nps", data=tmp_path, month="2024-01", as_of=AS_OF, by="segment")
    nps = by_segment.filter(pl.col("metric") == "nps").select("segment", "value", "denominator")
    # enterprise (a2): r2 D, r3 P → 0 over 2; smb (a1): r1 P → 100; no account → blank group: r4 → 0.
    want = pl.DataFrame({"segment": ["enterprise", "smb", None], "value": [0.0, 100.0, 0.0],
                         "denominator": [2.0, 1.0, 1.0]})
    assert_frame_equal(nps, want)


def test_csat_golden_share_and_mean(tmp_path: Path) -> None:
    # research product.md §2(c): [5, 4, 3, 5, 2, 4, 1, 5] → top-2-box 5/8 = 62.5%.
    scores = [5, 4, 3, 5, 2, 4, 1, 5]
    # One respondent answers several times: CSAT counts every response (no dedup).
    surveys(tmp_path, [[f"2024-02-{d:02d}", str(s), "csat", "same"] for d, s in enumerate(scores, 1)])
    got = compute("csat", data=tmp_path, month="2024-02", as_of=AS_OF)
    assert one(got, "csat") == (0.625, 5.0, 8.0)
    # --csat mean: (5 + 4 + 3 + 5 + 2 + 4 + 1 + 5) / 8 = 29 / 8.
    got = compute("csat", data=tmp_path, month="2024-02", as_of=AS_OF, csat="mean")
    assert one(got, "csat") == (3.625, 29.0, 8.0)


def test_csat_binary_good_bad_answers(tmp_path: Path) -> None:
    rows = [["2024-02-01", "Good", "csat"], ["2024-02-02", "Good", "csat"], ["2024-02-03", "Bad", "csat"],
            ["2024-02-04", "Offered", "csat"], ["2024-02-05", "5", "csat"], ["2024-02-06", "2", "csat"]]
    surveys(tmp_path, rows)
    # Share: Good, Good and the 5 are satisfied; Bad and the 2 are not; Offered is no answer → 3/5.
    got = compute("csat", data=tmp_path, month="2024-02", as_of=AS_OF)
    assert one(got, "csat") == (0.6, 3.0, 5.0)
    # Mean: a binary answer has no 1–5 value, so only 5 and 2 → 3.5.
    got = compute("csat", data=tmp_path, month="2024-02", as_of=AS_OF, csat="mean")
    assert one(got, "csat") == (3.5, 7.0, 2.0)


def test_ces_golden_mean_and_by_touchpoint(tmp_path: Path) -> None:
    # research product.md §2(c): CES (1–7) [6, 7, 5, 3, 6] → mean 5.4.
    rows = [["2024-03-01", "6", "ces", "r1", "", "", "checkout"], ["2024-03-02", "7", "ces", "r1", "", "", "checkout"],
            ["2024-03-03", "5", "ces", "r2", "", "", "support"], ["2024-03-04", "3", "ces", "r3", "", "", "support"],
            ["2024-03-05", "6", "ces", "r4", "", "", "support"]]
    surveys(tmp_path, rows)
    got = compute("ces", data=tmp_path, month="2024-03", as_of=AS_OF)
    assert one(got, "ces") == pytest.approx((5.4, 27.0, 5.0))
    by = compute("ces", data=tmp_path, month="2024-03", as_of=AS_OF, by="touchpoint")
    # checkout: (6 + 7) / 2 = 6.5; support: (5 + 3 + 6) / 3 = 14 / 3.
    want = pl.DataFrame({"touchpoint": ["checkout", "support"], "value": [6.5, 14 / 3],
                         "numerator": [13.0, 14.0], "denominator": [2.0, 3.0]})
    assert_frame_equal(by.select("touchpoint", "value", "numerator", "denominator"), want)


def test_detractor_recovery_golden_example(tmp_path: Path) -> None:
    # research product.md §2(c): wave 1 (January) as above; wave 2 (February): r6 → 8, r9 → 4, r7
    # did not answer. Recovery = 1/2 = 50% over the previous detractors who answered again.
    rows = [["2024-01-05", str(s), "nps", f"r{i}"] for i, s in enumerate(GOLDEN_WAVE_1, 1)]
    rows += [["2024-02-06", "8", "nps", "r6"], ["2024-02-07", "4", "nps", "r9"], ["2024-02-08", "10", "nps", "r1"]]
    surveys(tmp_path, rows)
    got = compute("detractor_recovery_rate", data=tmp_path, from_="2024-01", to="2024-02", as_of=AS_OF)
    # January has no earlier period: 0 of 0, null.
    assert one(got, "detractor_recovery_rate", "2024-01-01") == (None, 0.0, 0.0)
    assert one(got, "detractor_recovery_rate", "2024-02-01") == (0.5, 1.0, 2.0)
    # P − 1 is read even when it lies before --from (SPEC §2).
    alone = compute("detractor_recovery_rate", data=tmp_path, month="2024-02", as_of=AS_OF)
    assert one(alone, "detractor_recovery_rate") == (0.5, 1.0, 2.0)


def test_detractor_recovery_matched_by_id_else_lower_cased_email(tmp_path: Path) -> None:
    rows = [
        # March: four detractors.
        ["2024-03-03", "3", "nps", "r1", "Ann@Example.com"],
        ["2024-03-04", "5", "nps", "r2", "bo@example.com"],
        ["2024-03-05", "6", "nps", "", "CY@example.com"],
        ["2024-03-06", "2", "nps", "r4", "di@example.com"],
        ["2024-03-07", "9", "nps", "r5", "ed@example.com"],  # a promoter: not in the denominator
        # April.
        ["2024-04-02", "8", "nps", "", "ann@example.com"],  # r1 by email (no id this time): recovered
        ["2024-04-03", "9", "nps", "r9", "BO@example.com"],  # another id under bo's email: not r2
        ["2024-04-04", "5", "nps", "r7", "cy@EXAMPLE.com"],  # cy had no id: matched by email, still a detractor
        ["2024-04-05", "7", "nps", "r4", "new@example.com"],  # r4 by id (email changed): 7 → recovered
        ["2024-04-06", "10", "nps", "r5"],  # a previous promoter
    ]
    surveys(tmp_path, rows)
    got = compute("detractor_recovery_rate", data=tmp_path, month="2024-04", as_of=AS_OF)
    # Previous detractors who answered again: r1, cy, r4 (r2 did not: r9 is someone else) → 3;
    # scoring ≥ 7 now: r1 (8), r4 (7) → 2/3.
    assert one(got, "detractor_recovery_rate") == (2 / 3, 2.0, 3.0)


def test_detractor_recovery_compares_waves_when_responses_carry_them(tmp_path: Path) -> None:
    rows = [
        ["2024-01-25", "4", "nps", "r1", "", "", "", "W1"],  # wave W1 runs from January 25 into February
        ["2024-02-03", "6", "nps", "r2", "", "", "", "W1"],
        ["2024-02-05", "9", "nps", "r3", "", "", "", "W1"],
        ["2024-02-20", "9", "nps", "r1", "", "", "", "W2"],  # W2 starts February 20: compared with W1
        ["2024-03-02", "3", "nps", "r2", "", "", "", "W2"],
        ["2024-03-03", "10", "nps", "r3", "", "", "", "W2"],
        ["2024-02-21", "9", "nps", "r9"],  # no wave while the others have one: takes no part
    ]
    surveys(tmp_path, rows)
    got = compute("detractor_recovery_rate", data=tmp_path, from_="2024-01", to="2024-03", as_of=AS_OF)
    # W1's detractors r1, r2 both answered W2: r1 9 (recovered), r2 3 → 1/2, reported in February
    # (W2's first response); January (W1, nothing before it) and March (no wave starts) are 0 of 0.
    assert one(got, "detractor_recovery_rate", "2024-01-01") == (None, 0.0, 0.0)
    assert one(got, "detractor_recovery_rate", "2024-02-01") == (0.5, 1.0, 2.0)
    assert one(got, "detractor_recovery_rate", "2024-03-01") == (None, 0.0, 0.0)


def test_satisfaction_through_the_cli(run: Callable[..., Result], tmp_path: Path) -> None:
    surveys(tmp_path / "data", [["2024-01-05", str(s), "nps", f"r{i}"] for i, s in enumerate(GOLDEN_WAVE_1, 1)]
            + [["2024-01-06", "4", "csat"], ["2024-01-07", "2", "csat"], ["2024-01-08", "6", "ces"]])
    result = run("compute", "nps,csat,ces", "--data", tmp_path / "data", "--month", "2024-01", "--as-of", AS_OF,
                 "-f", "csv")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "metric,period,value,numerator,denominator,complete"
    # Complete is false: January ends after the last response (January 8).
    assert lines[1] == "nps,2024-01-01,20.0,2.0,10.0,false"
    assert lines[2].startswith("nps_moe,2024-01-01,54.03")
    assert lines[3] == "csat,2024-01-01,0.5,1.0,2.0,false"  # one of 4 and 2 scores 4–5
    assert lines[4] == "ces,2024-01-01,6.0,6.0,1.0,false"


def test_responses_fall_in_the_reporting_timezones_periods(tmp_path: Path) -> None:
    # 2024-02-01T03:00Z is January 31, 22:00 in New York: January there, February in UTC.
    surveys(tmp_path, [["2024-01-15T12:00:00Z", "10", "nps", "r1"], ["2024-02-01T03:00:00Z", "0", "nps", "r2"]])
    utc = compute("nps", data=tmp_path, month="2024-01", as_of=AS_OF)
    assert one(utc, "nps") == (100.0, 1.0, 1.0)
    ny = compute("nps", data=tmp_path, month="2024-01", as_of=AS_OF, tz="America/New_York")
    assert one(ny, "nps") == (0.0, 0.0, 2.0)  # r1 promoter, r2 detractor


def test_every_survey_metric_reads_one_base(tmp_path: Path) -> None:
    from kpi_cli.api import Run, _options
    from kpi_cli.graph import Graph

    surveys(tmp_path, [["2024-01-05", "9", "nps", "r1"], ["2024-01-05", "4", "csat", "r1"],
                       ["2024-01-05", "5", "ces", "r1"], ["2024-02-05", "8", "nps", "r1"]])
    ids = ["nps", "nps_moe", "csat", "ces", "detractor_recovery_rate"]
    graph = Graph(Run.start(_options(tmp_path, {"from_": "2024-01", "to": "2024-02", "as_of": AS_OF})), ids)
    for mid in ids:
        graph.output(mid)
    assert graph.builds["surveys"] == 1


def test_a_header_only_surveys_file_is_a_data_error(tmp_path: Path) -> None:
    from kpi_cli.errors import DataError

    surveys(tmp_path, [])
    with pytest.raises(DataError, match=r"surveys \(.*surveys.csv\): no responses to compute from"):
        compute("nps", data=tmp_path, month="2024-01")


def test_by_a_column_surveys_lack_is_refused(run: Callable[..., Result], tmp_path: Path) -> None:
    surveys(tmp_path / "data", [["2024-01-05", "9", "nps", "r1", "", "", "onboarding"]])
    result = run("compute", "nps", "--data", tmp_path / "data", "--month", "2024-01", "--by", "plan")
    assert result.exit_code == 2
    assert "--by plan:" in result.stderr
    assert "surveys" in result.stderr
    assert "touchpoint" in result.stderr  # the hint lists what surveys can split by


def test_a_wave_is_read_whole_whatever_to_says(tmp_path: Path) -> None:
    # w1's detractors r1 (3) and r2 (5) both answer w2, which starts in February: r1 with 9 (recovered),
    # r2 with 4 in April. February's rate is 1 of 2 with --to 2024-02 as with --to 2024-04.
    folder = tmp_path / "wv"
    write_csv(folder / "surveys.csv", ["responded_at", "score", "survey", "respondent_id", "wave"],
              [["2023-12-10T10:00:00Z", "3", "nps", "r1", "w1"], ["2024-01-25T10:00:00Z", "5", "nps", "r2", "w1"],
               ["2024-02-20T10:00:00Z", "9", "nps", "r1", "w2"], ["2024-04-05T10:00:00Z", "4", "nps", "r2", "w2"]])
    for to in ("2024-02", "2024-04"):
        df = compute("detractor_recovery_rate", data=folder, from_="2024-02", to=to, as_of="2024-06-01")
        assert one(df, "detractor_recovery_rate", "2024-02-01") == (0.5, 1.0, 2.0), to


def test_account_nps_reads_each_respondents_latest_answer_for_the_account(tmp_path: Path) -> None:
    # A: r1 10, r2 7; r2's later 6 has no account. A's median of latest answers (10, 7) is 8.5: a passive,
    # so NPS over the one account is 0 (numerator 0, n 1).
    folder = tmp_path / "acc"
    write_csv(folder / "surveys.csv", ["responded_at", "score", "survey", "respondent_id", "account_id"],
              [["2024-04-10T10:00:00Z", "10", "nps", "r1", "A"], ["2024-04-11T10:00:00Z", "7", "nps", "r2", "A"],
               ["2024-04-12T10:00:00Z", "6", "nps", "r2", ""]])
    df = compute("nps", data=folder, month="2024-04", as_of="2024-06-01", nps_unit="account")
    assert one(df, "nps") == (0.0, 0.0, 1.0)
