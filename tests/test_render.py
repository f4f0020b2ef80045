"""Tables for people and output files (issue 7 C, and the output items of B and D; SPEC §4.1, §4.2).

Tables: a number is never cut; a table too wide for the width turns (metrics as rows), then splits,
repeating its label columns; period labels follow the grain; counts print without decimals.
Files: ``--decimals 0`` writes whole numbers, ``.tsv`` is tab-separated, a format that contradicts the
extension and an unwritable destination are one clean line, a closed pipe exits 0 in every format.
"""

from __future__ import annotations

import errno
import fcntl
import io
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from rich.cells import cell_len
from rich.console import Console

from kpi_cli import cohort, compute, movements, output, render
from kpi_cli.registry import METRICS

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
# `make demo`'s compute table: 11 revenue metrics over six months.
DEMO = ["mrr", "arr", "new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr", "reactivation_mrr", "customers",
        "arpa", "customer_churn_rate", "nrr"]
DEMO_ARGS = ("compute", ",".join(DEMO), "--data", SAMPLE, "--from", "2024-07", "--to", "2024-12", "--currency", "USD")
MOVEMENTS_ARGS = ("movements", "--data", SAMPLE, "--last", "6", "--as-of", "2025-01-01", "--currency", "USD")
COHORT_ARGS = ("cohort", "--of", "users", "--data", SAMPLE, "--from", "2024-01", "--to", "2024-06", "--periods", "5")
MONEY = ("start_mrr", "new", "expansion", "reactivation", "contraction", "churned", "fx", "end_mrr")


def value_cells(text: str, labels: int) -> Counter[str]:
    """Every non-empty body cell of the tables in ``text`` right of their first ``labels`` columns."""
    cells: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith("│"):
            cells.update(c.strip() for c in line.strip("│").split("│")[labels:] if c.strip())
    return cells


def check_fits(text: str, width: int) -> None:
    assert "…" not in text
    assert max(cell_len(line) for line in text.splitlines()) <= width


@pytest.fixture(scope="module")
def demo_frame() -> pl.DataFrame:
    return compute(DEMO, data=SAMPLE, from_="2024-07", to="2024-12", currency="USD")


@pytest.fixture(scope="module")
def movements_frame() -> pl.DataFrame:
    return movements(data=SAMPLE, last=6, as_of="2025-01-01", currency="USD")


@pytest.fixture(scope="module")
def cohort_frame() -> pl.DataFrame:
    return cohort(of="users", data=SAMPLE, from_="2024-01", to="2024-06", periods=5)


# --------------------------------------------------------------------------------------------------
# Never cut: turn, then split (SPEC §4.2)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", [80, 60])
def test_demo_metric_table_fits_with_every_value_whole(run, demo_frame, width):
    result = run(*DEMO_ARGS, "-f", "table", env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.stderr
    check_fits(result.stdout, width)
    expected: Counter[str] = Counter()
    for m in DEMO:
        expected.update(render.fmt_column(demo_frame.filter(pl.col("metric") == m)["value"].to_list(),
                                          METRICS[m].unit, "USD"))
    assert len(expected) > 40  # 66 values; the check below is not vacuous
    # Eleven metrics do not fit as columns: one row per metric (label column "metric"), months as columns.
    assert re.search(r"^┃ metric\s+┃\s+2024-07 ┃", result.stdout, re.MULTILINE), result.stdout
    assert value_cells(result.stdout, 1) == expected
    december_mrr = demo_frame.filter(pl.col("metric") == "mrr")["value"].to_list()[-1]
    assert render.fmt_value(december_mrr, "currency", "USD") in result.stdout  # was "$107,5…" at 80 columns
    assert result.stdout.count("┃ metric") == 2  # split into two tables of three months each


@pytest.mark.parametrize("width", [80, 60])
def test_movements_fit_with_every_value_whole(run, movements_frame, width):
    result = run(*MOVEMENTS_ARGS, "-f", "table", env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.stderr
    check_fits(result.stdout, width)
    expected = Counter(render.fmt_value(v, "currency", "USD") for c in MONEY for v in movements_frame[c].to_list())
    assert value_cells(result.stdout, 1) == expected
    # Turned: one row per movement, each split part repeating the labels.
    assert result.stdout.count("│ reactivation │") == 2
    assert render.fmt_value(movements_frame["start_mrr"][0], "currency", "USD") in result.stdout  # was "$65,…"


@pytest.mark.parametrize("width", [80, 60])
def test_cohort_triangle_fits_with_every_value_whole(run, cohort_frame, width):
    result = run(*COHORT_ARGS, "-f", "table", env={"COLUMNS": str(width)})
    assert result.exit_code == 0, result.stderr
    check_fits(result.stdout, width)
    expected = Counter(render.fmt_value(v, "ratio") for v in cohort_frame["rate"].to_list())
    # Cells not in the frame (a cohort too young for period k) are "—"; the two label columns repeat.
    assert +value_cells(result.stdout, 2) - Counter({"—": 99}) == expected
    sizes = cohort_frame.unique("cohort", keep="first", maintain_order=True)
    parts = 1 if width == 80 else 2
    for day, size in zip(sizes["cohort"].to_list(), sizes["cohort_size"].to_list(), strict=True):
        label = render.period_label(day, "month")
        count = render.fmt_value(size, "count")
        assert len(re.findall(rf"^│ {re.escape(label)}\s+│\s+{re.escape(count)} │", result.stdout, re.MULTILINE)) \
            == parts, result.stdout


def _printed(grid: render.Grid, width: int | None) -> str:
    buf = io.StringIO()
    console = Console(file=buf, width=80, highlight=False)
    for part, need in render.fit(grid, width):
        console.width = max(need, width or 0)
        console.print(part)
    return buf.getvalue()


MOVES = pl.DataFrame({
    "period": [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)],
    "start_mrr": [65344.2, 70314.0, 77267.5], "new": [4633.69, 7377.98, 12.0], "churned": [1023.81, 0.0, None],
    "complete": [True, True, False],
})


def test_a_table_that_fits_is_left_as_it_is_and_incomplete_periods_are_marked():
    grid = render.frame_grid(MOVES, money=("start_mrr", "new", "churned"), title="MRR movements")
    assert _printed(grid, None).splitlines() == [
        "                  MRR movements                  ",
        "┏━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━┓",
        "┃ period    ┃ start mrr ┃       new ┃   churned ┃",
        "┡━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━┩",
        "│ 2024-01   │   $65,344 │ $4,633.69 │ $1,023.81 │",
        "│ 2024-02   │   $70,314 │ $7,377.98 │     $0.00 │",
        "│ 2024-03 * │   $77,268 │    $12.00 │         — │",  # 77,267.5 rounds half to even
        "└───────────┴───────────┴───────────┴───────────┘",
        "* incomplete period: ends after --as-of or after the last timestamp in the data",
    ]
    # At exactly its own width the table stays as it is (only the caption, prose, wraps).
    assert _printed(grid, 49).splitlines()[:8] == _printed(grid, None).splitlines()[:8]


def test_too_wide_turns_then_splits_repeating_the_labels():
    grid = render.frame_grid(MOVES, money=("start_mrr", "new", "churned"), title="MRR movements")
    # 49 columns wide; at 40 the turned table (37 + 12 for the third month) must split: 2 months, then 1.
    assert _printed(grid, 40).splitlines() == [
        "            MRR movements            ",
        "┏━━━━━━━━━━━┳━━━━━━━━━━━┳━━━━━━━━━━━┓",
        "┃           ┃   2024-01 ┃   2024-02 ┃",
        "┡━━━━━━━━━━━╇━━━━━━━━━━━╇━━━━━━━━━━━┩",
        "│ start mrr │   $65,344 │   $70,314 │",
        "│ new       │ $4,633.69 │ $7,377.98 │",
        "│ churned   │ $1,023.81 │     $0.00 │",
        "└───────────┴───────────┴───────────┘",
        "",
        "┏━━━━━━━━━━━┳━━━━━━━━━━━┓",
        "┃           ┃ 2024-03 * ┃",
        "┡━━━━━━━━━━━╇━━━━━━━━━━━┩",
        "│ start mrr │   $77,268 │",
        "│ new       │    $12.00 │",
        "│ churned   │         — │",
        "└───────────┴───────────┘",
        "* incomplete period: ends after --as-of ",
        "or after the last timestamp in the data",
    ]


def test_labels_wrap_but_numbers_never_even_below_one_column():
    grid = render.frame_grid(MOVES, money=("start_mrr", "new", "churned"))
    text = _printed(grid, 20)
    assert "│ start   │   $65,344 │" in text  # the label wraps…
    assert "│ mrr     │           │" in text
    # A label and one number need 23 columns: printed wider than 20 rather than cut.
    assert {cell_len(line) for line in text.splitlines() if line.startswith("│")} == {21, 23}
    assert "…" not in text
    assert value_cells(text, 1) == Counter(["$65,344", "$4,633.69", "$1,023.81", "$70,314", "$7,377.98", "$0.00",
                                            "$77,268", "$12.00", "—"])


def test_off_a_terminal_without_columns_nothing_is_wrapped_or_cut(run, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    result = run(*MOVEMENTS_ARGS, "-f", "table")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    # Periods as rows, all nine columns side by side: 111 characters, wider than any default.
    assert lines[2] == ("┃ period  ┃ start mrr ┃       new ┃ expansion ┃ reactivation ┃ contraction ┃   churned ┃"
                        "      fx ┃  end mrr ┃")
    assert lines[-2] == ("│ 2024-12 │  $102,965 │ $5,429.98 │ $2,039.88 │      $169.77 │   $1,303.08 │ $2,154.92 │"
                         " $120.88 │ $107,268 │")


def test_terminal_width_rules(monkeypatch):
    class Pipe(io.StringIO):
        pass

    monkeypatch.delenv("COLUMNS", raising=False)
    assert render.terminal_width(Pipe()) is None
    monkeypatch.setenv("COLUMNS", "72")
    assert render.terminal_width(Pipe()) == 72
    monkeypatch.setenv("COLUMNS", "wide")
    assert render.terminal_width(Pipe()) is None

    class FakeTerminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert render.terminal_width(FakeTerminal()) == 80  # a terminal without a size: the classic width


# --------------------------------------------------------------------------------------------------
# Period labels follow the grain (SPEC §4.2); golden data, research/revenue.md §4
# --------------------------------------------------------------------------------------------------


def test_period_label_per_grain():
    day = date(2024, 3, 4)
    assert [render.period_label(day, g) for g in ("day", "week", "month", "quarter", "year")] == [
        "2024-03-04", "2024-03-04", "2024-03", "2024-Q1", "2024"]
    assert render.period_label(date(2024, 10, 1), "quarter") == "2024-Q4"
    assert (render.period_header("period", "week"), render.period_header("cohort", "week"),
            render.period_header("period", "day")) == ("week of", "cohort (week of)", "period")


@pytest.mark.parametrize(("grain", "rng", "header", "rows"), [
    # A 100 + B 1200×2/12 + C 50 + D 300/3 + H 70+30 on both days
    ("day", ("--from", "2023-01-30", "--to", "2023-01-31"), "period    ",
     ["│ 2023-01-30 │ $550.00 │         5 │", "│ 2023-01-31 │ $550.00 │         5 │"]),
    # weeks from Monday: C ends 1 Feb (−50, 4 customers); A goes 100 → 150 on 10 Feb
    ("week", ("--from", "2023-01-30", "--to", "2023-02-12"), "week of   ",
     ["│ 2023-01-30 │ $500.00 │         4 │", "│ 2023-02-06 │ $550.00 │         4 │"]),
    ("month", ("--from", "2023-01", "--to", "2023-02"), "period ",
     ["│ 2023-01 │ $550.00 │         5 │", "│ 2023-02 │ $750.00 │         5 │"]),
    # end of March (§4.2: 680, six customers); the data end on 20 March, so the quarter is incomplete
    ("quarter", ("--quarter", "2023-Q1"), "period   ", ["│ 2023-Q1 * │ $680.00 │         6 │"]),
    # end of 2022: A 100 + B 200 + C 50 + H 100; D had not started, E had left
    ("year", ("--year", "2022"), "period", ["│ 2022   │ $450.00 │         4 │"]),
])
def test_period_labels_in_tables(run, golden_dir, grain, rng, header, rows):
    result = run("compute", "mrr,customers", *rng, "--period", grain, "--data", golden_dir, "-f", "table",
                 env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1] == f"┃ {header} ┃     MRR ┃ Customers ┃"
    assert lines[3:3 + len(rows)] == rows


def test_week_cohorts_are_labelled_by_their_first_day(run, golden_dir):
    result = run("cohort", "--of", "customers", "--period", "week", "--from", "2023-02-13", "--to", "2023-02-19",
                 "--data", golden_dir, "-f", "table", "--periods", "1", env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.stderr
    # F, the only customer whose first paying week it is (15 Feb).
    assert "┃ cohort (week of) ┃ cohort size ┃      0 ┃" in result.stdout
    assert "│ 2023-02-13       │           1 │ 100.0% │" in result.stdout


# --------------------------------------------------------------------------------------------------
# Counts without decimals; --decimals 0 writes whole numbers (one float rule for CSV and JSON)
# --------------------------------------------------------------------------------------------------


def test_counts_print_without_decimals_and_averages_keep_two():
    assert render.fmt_column([6.0, 83.0, None], "count") == ["6", "83", "—"]
    assert render.fmt_column([43.0, 45.333333], "count") == ["43.00", "45.33"]  # a DAU-like average
    cohorts = pl.DataFrame({"cohort": [date(2024, 1, 1)], "cohort_size": [83.0], "0": [1.0]})
    grid = render.frame_grid(cohorts, ratios=("0",), labels=["cohort", "cohort_size"])
    assert [c.cells for c in grid.columns] == [["2024-01"], ["83"], ["100.0%"]]


def test_cohort_sizes_in_the_table_are_whole(run, golden_dir):
    result = run("cohort", "--of", "customers", "--data", golden_dir, "-f", "table", env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.stderr
    assert "1.0" not in result.stdout.replace("100.0%", "")
    assert re.search(r"^│ —\s+│\s+7 │", result.stdout, re.MULTILINE), result.stdout  # seven cohorts of one


def test_decimals_0_csv_bytes(run, golden_dir):
    result = run("compute", "mrr,arpa,customer_churn_rate", "--from", "2023-01", "--to", "2023-03", "--decimals", "0",
                 "--data", golden_dir, "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout_bytes == (
        b"metric,period,value,numerator,denominator,complete\n"
        b"mrr,2023-01-01,550,,,true\n"
        b"mrr,2023-02-01,750,,,true\n"
        b"mrr,2023-03-01,680,,,false\n"
        b"arpa,2023-01-01,110,550,5,true\n"
        b"arpa,2023-02-01,150,750,5,true\n"
        b"arpa,2023-03-01,113,680,6,false\n"  # 680 / 6 = 113.33
        b"customer_churn_rate,2023-01-01,0,0,4,true\n"
        b"customer_churn_rate,2023-02-01,0,1,5,true\n"  # C: 1 / 5 = 0.2, rounded to 0 places
        b"customer_churn_rate,2023-03-01,0,0,5,false\n"
    )


def test_decimals_0_json_holds_integers_and_parquet_keeps_floats(run, golden_dir, tmp_path):
    args = ("compute", "arpa", "--month", "2023-03", "--decimals", "0", "--data", golden_dir)
    result = run(*args, "-f", "jsonl")
    assert result.stdout == ('{"metric": "arpa", "period": "2023-03-01", "value": 113, "numerator": 680, '
                             '"denominator": 6, "complete": false}\n')
    assert run(*args, "-o", tmp_path / "a.parquet").exit_code == 0
    df = pl.read_parquet(tmp_path / "a.parquet")
    assert (df.schema["value"], df["value"].to_list()) == (pl.Float64, [113.0])


def test_one_float_spelling_for_csv_and_json():
    df = pl.DataFrame({"value": [1e-7, 0.30000000000000004, 91701.31435465, -0.0, None, float("nan")]})
    assert output.to_bytes(df, "csv") == b"value\n1e-07\n0.30000000000000004\n91701.31435465\n0.0\n\n\n"
    assert output.to_bytes(df, "jsonl") == (b'{"value": 1e-07}\n{"value": 0.30000000000000004}\n'
                                            b'{"value": 91701.31435465}\n{"value": 0.0}\n{"value": null}\n'
                                            b'{"value": null}\n')
    rounded = output.rounded(pl.DataFrame({"value": [-0.001, 2.5, 0.125]}), 2)
    assert output.to_bytes(rounded, "csv") == b"value\n0.0\n2.5\n0.12\n"  # half to even, no "-0.0"


# --------------------------------------------------------------------------------------------------
# Output files (SPEC §4.2)
# --------------------------------------------------------------------------------------------------

MRR_MARCH = ("compute", "mrr", "--month", "2023-03")


def test_tsv_output_is_tab_separated(run, golden_dir, tmp_path):
    result = run(*MRR_MARCH, "--data", golden_dir, "-o", tmp_path / "x.tsv")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "x.tsv").read_bytes() == (b"metric\tperiod\tvalue\tnumerator\tdenominator\tcomplete\n"
                                                 b"mrr\t2023-03-01\t680.0\t\t\tfalse\n")


@pytest.mark.parametrize(("name", "fmt", "message", "hint"), [
    ("k.xlsx", "csv", "kpi: error: --format csv contradicts --output's extension .xlsx (xlsx)",
     "hint: leave out --format (the extension decides), or name the file k.csv"),
    ("k.csv", "table", "kpi: error: --format table contradicts --output's extension .csv (csv)",
     "hint: leave out --format (the extension decides), or name the file k.txt"),
    ("k.tsv", "csv", "kpi: error: --format csv contradicts --output's extension .tsv (tsv)",
     "hint: leave out --format (the extension decides), or name the file k.csv"),
    ("k.dat", "auto", "kpi: error: --output k.dat: cannot tell the format from the extension .dat",
     "hint: end the file name in one of .csv, .tsv, .json, .jsonl, .ndjson, .parquet, .xlsx, .txt, or give --format"),
])
def test_format_and_extension_must_agree(run, golden_dir, tmp_path, name, fmt, message, hint):
    result = run(*MRR_MARCH, "--data", golden_dir, "-o", name, "-f", fmt)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [message, hint]
    assert not (tmp_path / name).exists()


def test_any_text_format_may_go_into_a_txt_file_and_an_explicit_format_into_any_name(run, golden_dir, tmp_path):
    assert run(*MRR_MARCH, "--data", golden_dir, "-o", "k.txt", "-f", "csv").exit_code == 0
    assert (tmp_path / "k.txt").read_text().startswith("metric,period,")
    assert run(*MRR_MARCH, "--data", golden_dir, "-o", "k.out", "-f", "json").exit_code == 0
    assert (tmp_path / "k.out").read_text().startswith("[\n {\n")


def test_output_onto_a_folder_is_a_usage_error(run, golden_dir, tmp_path):
    (tmp_path / "results").mkdir()
    result = run(*MRR_MARCH, "--data", golden_dir, "-o", "results")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["kpi: error: cannot write results: it is a folder",
                                          "hint: name a file in it, e.g. results/result.csv"]


def test_output_into_a_missing_folder_is_a_usage_error(run, golden_dir):
    result = run(*MRR_MARCH, "--data", golden_dir, "-o", "nowhere/k.csv")
    assert result.exit_code == 2
    assert result.stderr.splitlines() == ["kpi: error: cannot write nowhere/k.csv: nowhere does not exist",
                                          "hint: create the folder first, or write elsewhere"]


def test_output_into_a_read_only_folder_is_a_usage_error(run, golden_dir, tmp_path, monkeypatch):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)

    # Root may write anywhere: refuse the temporary file the way a read-only folder refuses a user.
    def refused(**_kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(output.tempfile, "mkstemp", refused)
    result = run(*MRR_MARCH, "--data", golden_dir, "-o", "locked/k.csv")
    locked.chmod(0o755)
    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        "kpi: error: cannot write locked/k.csv: no permission to create files in locked",
        "hint: write to a folder you can write to"]
    assert list(locked.iterdir()) == []


def test_a_failed_write_is_a_data_error_and_leaves_no_file(golden_dir, tmp_path, monkeypatch):
    def full(*_args: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(output.os, "replace", full)
    with pytest.raises(output.DataError) as caught:
        output.write_file(pl.DataFrame({"a": [1]}), "csv", tmp_path / "k.csv")
    assert caught.value.message == f"cannot write {tmp_path / 'k.csv'}: No space left on device"
    assert list(tmp_path.iterdir()) == [golden_dir]


# --------------------------------------------------------------------------------------------------
# A closed pipe exits 0, quietly, in every format (SPEC §4.2)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "parquet", "xlsx", "table"])
def test_a_closed_pipe_exits_quietly_in_every_format(golden_dir, tmp_path, fmt):
    args = [sys.executable, "-m", "kpi_cli", "compute", "revenue", "--period", "day",
            "--from", "2020-01", "--to", "2023-03", "--data", str(golden_dir), "-f", fmt, "-q"]
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "100"}
    read, write = os.pipe()
    fcntl.fcntl(write, fcntl.F_SETPIPE_SZ, 4096)  # a small pipe: every format's output is larger
    capacity = fcntl.fcntl(write, fcntl.F_GETPIPE_SZ)
    full = subprocess.run(args, capture_output=True, cwd=tmp_path, env=env, check=True).stdout
    # The pipe holds at most `capacity` bytes and we take 10: the writer is still writing when we close.
    assert len(full) > 2 * capacity
    proc = subprocess.Popen(args, stdout=write, stderr=subprocess.PIPE, cwd=tmp_path, env=env)
    os.close(write)
    with os.fdopen(read, "rb") as reader:
        assert reader.read(10) == full[:10]
    _, err = proc.communicate(timeout=120)
    assert (proc.returncode, err) == (0, b"")


def test_nps_cells_carry_margin_and_responses_and_few_responses_are_grey() -> None:
    from datetime import date as _date

    import polars as pl

    from kpi_cli.render import FEW_CAPTION, metrics_grid

    # n = 10, 4 promoters, 2 detractors: NPS 20, margin 1.96·100·√((0.6 − 0.04)/10) = 46.4 → "±46"
    df = pl.DataFrame({
        "metric": ["nps", "nps", "nps_moe", "nps_moe"],
        "period": [_date(2024, 1, 1), _date(2024, 2, 1)] * 2,
        "value": [20.0, -5.0, 46.38, 12.0],
        "numerator": [2.0, -2.0, None, None],
        "denominator": [10.0, 40.0, None, None],
        "complete": [True, True, True, True],
    })
    grid = metrics_grid(df, [], "USD")
    assert [c.header for c in grid.columns] == ["period", "NPS"]
    assert grid.columns[1].cells == ["+20 ±46 (n=10)", "-5 ±12 (n=40)"]
    assert grid.columns[1].faint == [True, False]
    assert grid.caption == FEW_CAPTION
    flipped_grid = grid.flip()  # metrics as rows keep the grey cell
    assert flipped_grid.columns[1].faint == [True]


def test_a_unit_that_follows_an_option_formats_the_column() -> None:
    from datetime import date as _date

    import polars as pl

    from kpi_cli.options import RunOptions
    from kpi_cli.render import metrics_grid

    df = pl.DataFrame({"metric": ["csat"], "period": [_date(2024, 1, 1)], "value": [4.25], "numerator": [17.0],
                       "denominator": [4.0], "complete": [True]})
    assert metrics_grid(df, [], "USD").columns[1].cells == ["425.0%"]  # the share's unit, as a share would show
    assert metrics_grid(df, [], "USD", options=RunOptions(csat="mean")).columns[1].cells == ["4.25"]
