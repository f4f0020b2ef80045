"""The ``kpi`` command line against SPEC §1.1, §1.3 and §4: formats, streams, files, exit codes.

Numbers come from the golden example of research/revenue.md §4 (fixture ``golden_dir``); where a
test changes the data, the expected value is re-derived by hand in a comment next to it.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import time
import zipfile
from datetime import date, timedelta
from pathlib import Path
from xml.etree import ElementTree

import polars as pl
import pytest
import typer.testing
from conftest import BAREMETRICS_HEADER, GOLDEN_HEADER, GOLDEN_ROWS, write_csv

from kpi_cli import __version__

LONG = ["metric", "period", "value", "numerator", "denominator", "complete"]
# SPEC §3.1: the roll-forward columns of `kpi movements`
MOVEMENTS = ["period", "start_mrr", "new", "expansion", "reactivation", "contraction", "churned", "fx", "end_mrr"]
Q1 = ("--from", "2023-01", "--to", "2023-03")

# Three bad rows appended to the golden file: lines 15, 16 and 17 of subscriptions.csv (line 1 is the header).
BAD_ROWS = [
    ["X", "x1", "2023-01-01", "", "abc", "USD", "month", "1", "1", "", "", "", ""],  # amount does not parse
    ["Y", "y1", "2023-01-01", "", "-10", "USD", "month", "1", "1", "", "", "", ""],  # negative amount
    ["Z", "z1", "2023-02-01", "2023-01-01", "10", "USD", "month", "1", "1", "", "", "", ""],  # end_at < start_at
]



def rows_of(text: str) -> list[dict[str, str]]:
    """CSV text as a list of row dicts."""
    return list(csv.DictReader(io.StringIO(text)))


def value(rows: list[dict[str, str]], metric: str, period: str) -> float | None:
    """The ``value`` of one (metric, period) row of long output, as a float (None when blank)."""
    found = [r["value"] for r in rows if r["metric"] == metric and r["period"] == period]
    assert len(found) == 1, f"expected one {metric} row for {period}, got {found}"
    return None if found[0] in ("", None) else float(found[0])


def error_lines(stderr: str) -> list[str]:
    """The ``kpi: error:`` lines of stderr."""
    return [line for line in stderr.splitlines() if line.startswith("kpi: error:")]


def assert_clean_failure(result: typer.testing.Result, code: int) -> None:
    """Exit ``code``, through SystemExit (no escaped exception), no traceback, nothing on stdout."""
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def with_bad_rows(folder: Path) -> Path:
    """Golden rows + BAD_ROWS in ``folder/subscriptions.csv``."""
    write_csv(folder / "subscriptions.csv", GOLDEN_HEADER, GOLDEN_ROWS + BAD_ROWS)
    return folder


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make stdout look like a terminal.

    CliRunner swaps ``sys.stdout`` for its own wrapper during ``invoke``, so patching the current
    ``sys.stdout.isatty`` would not reach the command: patch the wrapper class the runner installs.
    """
    monkeypatch.setattr(typer.testing._NamedTextIOWrapper, "isatty", lambda _self: True, raising=False)


# --------------------------------------------------------------------------------------------------
# §4.1 output shape, every format
# --------------------------------------------------------------------------------------------------


def test_csv_header_and_golden_mrr(run, golden_dir):
    result = run("compute", "mrr", "--month", "2023-03", "--data", golden_dir, "-f", "csv")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "metric,period,value,numerator,denominator,complete"
    rows = rows_of(result.stdout)
    assert value(rows, "mrr", "2023-03-01") == pytest.approx(680)  # §4.2: 150+100+100+60+200+70
    assert rows[0]["numerator"] == ""
    assert rows[0]["denominator"] == ""
    # March's last timestamp in the data is G's end (2023-03-20) < 31 March: incomplete (§2).
    assert rows[0]["complete"] == "false"


def test_json_is_an_array_of_row_objects(run, golden_dir):
    result = run("compute", "mrr,arpa", *Q1, "--data", golden_dir, "-f", "json")
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, list)
    assert len(data) == 6
    assert all(isinstance(r, dict) and list(r) == LONG for r in data)
    got = {(r["metric"], r["period"]): r for r in data}
    assert got["mrr", "2023-01-01"]["value"] == pytest.approx(550)
    assert got["mrr", "2023-03-01"]["value"] == pytest.approx(680)
    assert got["mrr", "2023-03-01"]["numerator"] is None
    arpa = got["arpa", "2023-02-01"]  # 750 / 5
    assert (arpa["value"], arpa["numerator"], arpa["denominator"]) == pytest.approx((150, 750, 5))
    assert got["mrr", "2023-01-01"]["complete"] is True
    assert [r["metric"] for r in data] == ["mrr"] * 3 + ["arpa"] * 3  # order asked, then period


def test_jsonl_is_one_object_per_line(run, golden_dir):
    result = run("compute", "mrr", *Q1, "--data", golden_dir, "-f", "jsonl")
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 3
    objs = [json.loads(line) for line in lines]
    assert all(list(o) == LONG for o in objs)
    assert [o["period"] for o in objs] == ["2023-01-01", "2023-02-01", "2023-03-01"]
    assert [o["value"] for o in objs] == pytest.approx([550, 750, 680])


def test_parquet_output_has_real_types(run, golden_dir, tmp_path):
    dest = tmp_path / "out" / "kpis.parquet"
    dest.parent.mkdir()
    result = run("compute", "mrr,customers", *Q1, "--data", golden_dir, "--output", dest)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""  # the data went to the file
    df = pl.read_parquet(dest)
    assert df.columns == LONG
    assert df.schema["metric"] == pl.String
    assert df.schema["period"] == pl.Date
    assert df.schema["value"] == pl.Float64
    assert df.schema["numerator"].is_numeric()
    assert df.schema["denominator"].is_numeric()
    assert df.schema["complete"] == pl.Boolean
    mrr = df.filter(pl.col("metric") == "mrr")
    assert mrr["period"].to_list() == [date(2023, 1, 1), date(2023, 2, 1), date(2023, 3, 1)]
    assert mrr["value"].to_list() == pytest.approx([550, 750, 680])
    assert df.filter(pl.col("metric") == "customers")["value"].to_list() == pytest.approx([5, 5, 6])
    assert mrr["complete"].to_list() == [True, True, False]


def _xlsx_cells(path: Path) -> list[list[tuple[str, object]]]:
    """Cells of the first sheet as (kind, value): kind is 'str', 'bool', 'date', 'num' or 'blank'."""
    ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    with zipfile.ZipFile(path) as z:
        strings = [
            "".join(t.text or "" for t in si.iter(f"{{{ns['m']}}}t"))
            for si in ElementTree.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", ns)
        ]
        styles = ElementTree.fromstring(z.read("xl/styles.xml"))
        fmt_codes = {f.get("numFmtId"): f.get("formatCode", "") for f in styles.iter(f"{{{ns['m']}}}numFmt")}
        xfs = styles.find("m:cellXfs", ns)
        assert xfs is not None
        style_fmt = [fmt_codes.get(xf.get("numFmtId"), xf.get("numFmtId")) for xf in xfs.findall("m:xf", ns)]
        sheet_name = sorted(n for n in z.namelist() if n.startswith("xl/worksheets/sheet"))[0]
        sheet = ElementTree.fromstring(z.read(sheet_name))
    out = []
    for row in sheet.iter(f"{{{ns['m']}}}row"):
        cells: list[tuple[str, object]] = []
        for c in row.findall("m:c", ns):
            v = c.find("m:v", ns)
            kind = c.get("t")
            if v is None:
                cells.append(("blank", None))
            elif kind == "s":
                cells.append(("str", strings[int(v.text or 0)]))
            elif kind == "b":
                cells.append(("bool", v.text == "1"))
            else:
                fmt = str(style_fmt[int(c.get("s", "0"))]).lower()
                num = float(v.text or "nan")
                is_date = "yy" in fmt or "dd" in fmt or fmt in {"14", "15", "16", "17", "22"}
                if is_date:
                    cells.append(("date", date(1899, 12, 30) + timedelta(days=int(num))))
                else:
                    cells.append(("num", num))
        out.append(cells)
    return out


def test_xlsx_output_has_real_types(run, golden_dir, tmp_path):
    dest = tmp_path / "out" / "kpis.xlsx"
    dest.parent.mkdir()
    result = run("compute", "mrr", *Q1, "--data", golden_dir, "--output", dest)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    cells = _xlsx_cells(dest)
    assert [v for _, v in cells[0]] == LONG
    first = cells[1]
    assert first[0] == ("str", "mrr")
    assert first[1] == ("date", date(2023, 1, 1))  # a real date cell, not the text "2023-01-01"
    assert first[2] == ("num", pytest.approx(550))
    assert first[5] == ("bool", True)
    assert cells[3][2] == ("num", pytest.approx(680))
    assert cells[3][5] == ("bool", False)
    try:  # polars reads xlsx only with its optional engine (fastexcel); check through it when present
        df = pl.read_excel(dest)
    except ImportError:
        return
    assert df.schema["period"] == pl.Date
    assert df["value"].to_list() == pytest.approx([550, 750, 680])


def test_wide_one_column_per_metric(run, golden_dir):
    result = run("compute", "mrr,customers", *Q1, "--data", golden_dir, "--wide", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == "period,mrr,customers,complete"
    rows = rows_of(result.stdout)
    assert [r["period"] for r in rows] == ["2023-01-01", "2023-02-01", "2023-03-01"]
    assert [float(r["mrr"]) for r in rows] == pytest.approx([550, 750, 680])
    assert [float(r["customers"]) for r in rows] == pytest.approx([5, 5, 6])
    assert [r["complete"] for r in rows] == ["true", "true", "false"]


def test_decimals_rounds_machine_output(run, golden_dir):
    full = run("compute", "arpa", "--month", "2023-03", "--data", golden_dir, "-f", "json")
    two = run("compute", "arpa", "--month", "2023-03", "--data", golden_dir, "-f", "json", "--decimals", "2")
    assert full.exit_code == 0, full.stderr
    assert two.exit_code == 0, two.stderr
    # ARPA March = 680 / 6 = 113.333…: full precision by default, 113.33 with --decimals 2
    assert json.loads(full.stdout)[0]["value"] == pytest.approx(680 / 6, rel=1e-12)
    assert json.loads(two.stdout)[0]["value"] == 113.33


def test_auto_format_is_csv_when_stdout_is_not_a_terminal(run, golden_dir):
    result = run("compute", "mrr", "--month", "2023-03", "--data", golden_dir)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[0] == ",".join(LONG)


def test_auto_format_is_a_table_on_a_terminal(run, golden_dir, terminal):
    result = run("compute", "mrr", *Q1, "--data", golden_dir)
    assert result.exit_code == 0, result.stderr
    assert "metric,period" not in result.stdout
    assert "MRR" in result.stdout
    assert "680.00" in result.stdout  # currency formatted for people
    assert "2023-03" in result.stdout


def test_binary_format_refused_on_a_terminal(run, golden_dir, terminal):
    result = run("compute", "mrr", "--month", "2023-03", "--data", golden_dir, "-f", "parquet")
    assert_clean_failure(result, 2)
    assert "--output" in result.stderr


def test_binary_format_to_a_pipe_is_fine(run, golden_dir):
    result = run("compute", "mrr", "--month", "2023-03", "--data", golden_dir, "-f", "parquet")
    assert result.exit_code == 0, result.stderr
    df = pl.read_parquet(io.BytesIO(result.stdout_bytes))
    assert df["value"].to_list() == pytest.approx([680])


# --------------------------------------------------------------------------------------------------
# §4.2 files: atomic --output, byte-identical reruns
# --------------------------------------------------------------------------------------------------


def test_output_untouched_when_a_later_run_fails(run, golden_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    dest = out / "result.csv"
    ok = run("compute", "mrr", "--month", "2023-03", "--data", golden_dir, "--output", dest)
    assert ok.exit_code == 0, ok.stderr
    before = dest.read_bytes()
    assert before.startswith(b"metric,period,")
    missing = run("compute", "mrr", "--month", "2023-03", "--data", tmp_path / "nowhere", "--output", dest)
    assert missing.exit_code == 1
    unknown = run("compute", "nope", "--month", "2023-03", "--data", golden_dir, "--output", dest)
    assert unknown.exit_code == 2
    assert dest.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["result.csv"]  # no temporary file left behind


def test_output_untouched_when_writing_fails_midway(run, golden_dir, tmp_path, monkeypatch):
    out = tmp_path / "out"
    out.mkdir()
    dest = out / "result.parquet"
    dest.write_bytes(b"previous content")

    def half_write(_df, target, *_args, **_kwargs):
        target.write(b"PAR1 partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(pl.DataFrame, "write_parquet", half_write)
    result = run("compute", "mrr", "--month", "2023-03", "--data", golden_dir, "--output", dest)
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert dest.read_bytes() == b"previous content"
    assert sorted(p.name for p in out.iterdir()) == ["result.parquet"]


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl", "parquet", "xlsx"])
def test_reruns_are_byte_identical(run, golden_dir, tmp_path, fmt):
    args = ("compute", "mrr,arpa,customer_churn_rate,nrr", *Q1, "--data", golden_dir)
    first, second = tmp_path / f"first.{fmt}", tmp_path / f"second.{fmt}"
    assert run(*args, "--output", first).exit_code == 0
    if fmt == "xlsx":
        time.sleep(2.1)  # a clock-dependent writer (creation time, zip entry times) would now differ
    assert run(*args, "--output", second).exit_code == 0
    assert first.read_bytes() == second.read_bytes()


def test_stdout_reruns_are_byte_identical(run, golden_dir):
    args = ("compute", "revenue", *Q1, "--data", golden_dir, "-f", "csv")
    a, b = run(*args), run(*args)
    assert a.exit_code == 0, a.stderr
    assert a.stdout_bytes == b.stdout_bytes


# --------------------------------------------------------------------------------------------------
# §4.2 exit codes, one-line errors, no traceback
# --------------------------------------------------------------------------------------------------


def test_exit_0_on_success(run, golden_dir):
    result = run("compute", "mrr", "--month", "2023-03", "--data", golden_dir)
    assert result.exit_code == 0
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_exit_1_missing_data_dir(run, tmp_path):
    result = run("compute", "mrr", "--month", "2023-03", "--data", tmp_path / "nowhere")
    assert_clean_failure(result, 1)
    assert len(error_lines(result.stderr)) == 1
    assert "subscriptions" in result.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("compute", "nope"), "nope"),
        (("compute", "mrr,bogus_metric"), "bogus_metric"),
        (("compute", "mrr", "--month", "2023-13"), "2023-13"),
        (("compute", "mrr", "--month", "March"), "March"),
        (("compute", "mrr", "--discounts", "sometimes"), "sometimes"),
    ],
    ids=["unknown-metric", "unknown-metric-in-list", "bad-month", "bad-month-text", "bad-discounts"],
)
def test_exit_2_usage_errors(run, golden_dir, args, needle):
    month = () if "--month" in args else ("--month", "2023-03")
    result = run(*args, *month, "--data", golden_dir)
    assert_clean_failure(result, 2)
    assert needle in result.stderr
    assert len(error_lines(result.stderr)) == 1


def test_debug_shows_the_traceback_and_plain_runs_do_not(run, golden_dir, monkeypatch):
    def boom(*_args, **_kwargs):
        raise RuntimeError("simulated internal failure")

    monkeypatch.setattr("kpi_cli.api.compute_run", boom)
    plain = run("compute", "mrr", "--month", "2023-03", "--data", golden_dir)
    assert plain.exit_code == 1
    assert "Traceback" not in plain.stderr
    assert "simulated internal failure" in plain.stderr
    debug = run("compute", "mrr", "--month", "2023-03", "--data", golden_dir, "--debug")
    assert isinstance(debug.exception, RuntimeError)  # --debug lets it through with its traceback


# --------------------------------------------------------------------------------------------------
# §1.3 bad rows
# --------------------------------------------------------------------------------------------------


def test_bad_rows_error_lists_file_line_column_value_reason(run, tmp_path):
    data = with_bad_rows(tmp_path / "bad")
    result = run("compute", "mrr", "--month", "2023-03", "--data", data)
    assert_clean_failure(result, 1)
    err = result.stderr
    assert re.search(r"subscriptions\.csv:15 amount=abc not a number", err), err
    assert re.search(r"subscriptions\.csv:16 amount=-10 negative amount", err), err
    assert re.search(r"subscriptions\.csv:17 end_at=2023-01-01 end_at before start_at", err), err
    assert "3 bad rows" in err  # the total


def test_bad_rows_skip_counts_reasons_writes_rejects_and_excludes_them(run, tmp_path):
    data = with_bad_rows(tmp_path / "bad")
    rejects = tmp_path / "rejects.csv"
    result = run(
        "compute",
        "mrr,customers",
        "--month",
        "2023-03",
        "--data",
        data,
        "--on-bad-rows",
        "skip",
        "--rejects",
        rejects,
        "-f",
        "csv",
    )
    assert result.exit_code == 0, result.stderr
    err = result.stderr
    assert "3 bad rows" in err
    for reason in ("1 not a number", "1 negative amount", "1 end_at before start_at"):
        assert reason in err
    rej = rows_of(rejects.read_text())
    assert "reason" in rej[0]
    assert sorted(r["customer_id"] for r in rej) == ["X", "Y", "Z"]
    assert {r["customer_id"]: r["reason"] for r in rej} == {
        "X": "not a number",
        "Y": "negative amount",
        "Z": "end_at before start_at",
    }
    assert {r["customer_id"]: r["amount"] for r in rej} == {"X": "abc", "Y": "-10", "Z": "10"}  # as given
    rows = rows_of(result.stdout)
    # Without X, Y, Z the data is the golden file: March MRR = A 150 + B 100 + D 100 + E 60 + F 200 + H 70
    # = 680 over 6 paying customers. Had Y's −10 or Z's 10 leaked in, MRR would be 670 or 690.
    assert value(rows, "mrr", "2023-03-01") == pytest.approx(680)
    assert value(rows, "customers", "2023-03-01") == 6


def test_stdout_carries_only_data_when_skipping(run, tmp_path):
    data = with_bad_rows(tmp_path / "bad")
    result = run("compute", "mrr", *Q1, "--data", data, "--on-bad-rows", "skip", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert "skipped" in result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == ",".join(LONG)
    assert len(lines) == 4
    assert all(line.startswith("mrr,2023-0") for line in lines[1:])
    assert "kpi:" not in result.stdout


def test_missing_required_column_names_it_and_the_mapping(run, tmp_path):
    data = tmp_path / "data"
    write_csv(
        data / "subscriptions.csv",
        ["customer_id", "subscription_id", "start_at", "price"],
        [["A", "a1", "2023-01-01", "10"]],
    )
    result = run("compute", "mrr", "--month", "2023-03", "--data", data)
    assert_clean_failure(result, 1)
    lines = error_lines(result.stderr)
    assert len(lines) == 1
    assert "amount" in lines[0]
    assert "subscriptions.csv" in lines[0]
    assert "price" in lines[0]  # what was found instead
    assert "[sources.subscriptions.columns]" in result.stderr


def test_unknown_preset_is_named(run, golden_dir, tmp_path):
    (tmp_path / "kpi.toml").write_text('[sources.subscriptions]\npreset = "strype"\n')
    result = run("compute", "mrr", "--month", "2023-03", "--data", golden_dir)
    # SPEC §1.3: "A missing required column, an unknown preset, an unreadable file: exit 1 with one line"
    assert_clean_failure(result, 1)
    assert "strype" in result.stderr
    assert len(error_lines(result.stderr)) == 1
    assert "stripe" in result.stderr  # the fix: the presets that exist


def test_empty_file_is_one_line_exit_1(run, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    (data / "subscriptions.csv").write_bytes(b"")
    result = run("compute", "mrr", "--month", "2023-03", "--data", data)
    assert_clean_failure(result, 1)
    lines = error_lines(result.stderr)
    assert len(lines) == 1
    assert "subscriptions" in lines[0]
    assert len(result.stderr.splitlines()) <= 2  # the line plus at most a hint


def test_headers_only_file_is_one_line_exit_1(run, tmp_path):
    data = tmp_path / "data"
    write_csv(data / "subscriptions.csv", GOLDEN_HEADER, [])
    result = run("compute", "mrr", "--month", "2023-03", "--data", data)
    assert_clean_failure(result, 1)
    assert len(error_lines(result.stderr)) == 1
    assert len(result.stderr.splitlines()) <= 2


def test_exact_duplicate_rows_are_dropped_and_counted(run, golden_dir, tmp_path):
    dup = tmp_path / "dup"
    write_csv(dup / "subscriptions.csv", GOLDEN_HEADER, [*GOLDEN_ROWS, GOLDEN_ROWS[1]])  # A's 150 row twice
    args = ("compute", "mrr,customers,expansion_mrr", *Q1, "-f", "csv")
    clean = run(*args, "--data", golden_dir)
    doubled = run(*args, "--data", dup, "-v")
    assert clean.exit_code == 0, clean.stderr
    assert doubled.exit_code == 0, doubled.stderr
    assert doubled.stdout == clean.stdout  # had A's 150 counted twice, March MRR would be 830
    assert re.search(r"14 rows read, 1 exact duplicates? dropped", doubled.stderr), doubled.stderr
    assert re.search(r"13 used", doubled.stderr)


def test_verbose_reports_rows_read_used_rejected(run, tmp_path):
    data = with_bad_rows(tmp_path / "bad")
    result = run("compute", "mrr", "--month", "2023-03", "--data", data, "--on-bad-rows", "skip", "-v")
    assert result.exit_code == 0, result.stderr
    assert re.search(r"16 rows read.*3 rejected.*13 used", result.stderr), result.stderr


# --------------------------------------------------------------------------------------------------
# Other commands
# --------------------------------------------------------------------------------------------------


def test_list_prints_the_catalogue(run):
    result = run("list")
    assert result.exit_code == 0, result.stderr
    ids = {line.split()[0] for line in result.stdout.splitlines() if line.strip() and not line.startswith("groups")}
    assert {"mrr", "arr", "nrr", "grr", "customer_churn_rate", "quick_ratio"} <= ids


def test_explain_nrr_shows_parts_and_options(run):
    result = run("explain", "nrr")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert out.startswith("nrr")
    assert "numerator" in out
    assert "denominator" in out
    assert re.search(r"--discounts\s*=\s*recurring", out), out
    assert re.search(r"--churn-at\s*=\s*end", out), out


def test_explain_echoes_options_from_the_config(run, tmp_path):
    (tmp_path / "kpi.toml").write_text('discounts = "all"\n')
    result = run("explain", "nrr")
    assert result.exit_code == 0, result.stderr
    assert re.search(r"--discounts\s*=\s*all", result.stdout), result.stdout


def test_explain_unknown_metric_is_a_usage_error(run):
    result = run("explain", "nope")
    assert_clean_failure(result, 2)
    assert "nope" in result.stderr


def test_version(run):
    result = run("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"kpi {__version__}"


def test_movements_roll_forward_of_the_golden_example(run, golden_dir):
    result = run("movements", *Q1, "--data", golden_dir, "-f", "csv")
    assert result.exit_code == 0, result.stderr
    header = result.stdout.splitlines()[0].split(",")
    assert header[: len(MOVEMENTS)] == MOVEMENTS
    assert set(header[len(MOVEMENTS) :]) <= {"complete"}  # an incompleteness flag (§2) may follow
    rows = rows_of(result.stdout)
    got = {r["period"]: [float(r[c]) for c in MOVEMENTS[1:]] for r in rows}
    # research/revenue.md §4.3: start, new, expansion, reactivation, contraction, churned, fx, end
    assert got == {
        "2023-01-01": pytest.approx([450, 100, 0, 0, 0, 0, 0, 550]),  # D new
        "2023-02-01": pytest.approx([550, 200, 50, 0, 0, 50, 0, 750]),  # F new, A +50, C churned
        "2023-03-01": pytest.approx([750, 0, 0, 60, 130, 0, 0, 680]),  # E back, B −100, H −30
    }
    for start, new, exp, react, contr, churn, fx, end in got.values():
        assert start + new + exp + react - contr - churn + fx == pytest.approx(end, abs=0.005)
    if "complete" in header:
        assert [r["complete"] for r in rows] == ["true", "true", "false"]


def test_cohort_of_customers_rates_are_fractions(run, golden_dir):
    result = run("cohort", "--of", "customers", "--data", golden_dir, "-f", "csv")
    assert result.exit_code == 0, result.stderr
    rows = rows_of(result.stdout)
    assert rows
    assert list(rows[0]) == ["cohort", "period_index", "cohort_size", "retained", "rate"]
    rates = [float(r["rate"]) for r in rows if r["rate"] != ""]
    assert rates
    assert all(0 <= x <= 1 for x in rates)
    # B is the only customer first paying in 2022-07 and is still paying 7 months later (Feb 2023)
    b = {r["period_index"]: r for r in rows if r["cohort"] == "2022-07-01"}
    assert float(b["0"]["cohort_size"]) == 1
    assert float(b["7"]["rate"]) == 1


def test_validate_ok_on_the_golden_data(run, golden_dir):
    result = run("validate", "--data", golden_dir)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "13 rows read" in result.stdout
    assert "unexpected" not in result.stderr


def test_validate_exit_1_with_a_bad_row(run, tmp_path):
    data = with_bad_rows(tmp_path / "bad")
    result = run("validate", "--data", data)
    assert result.exit_code == 1
    assert "Traceback" not in result.stderr
    assert "unexpected" not in result.stderr  # exit 1 because of the bad rows, not because validate crashed
    assert "3 bad" in result.stdout
    for reason in ("not a number", "negative amount", "end_at before start_at"):
        assert reason in result.stdout


def test_init_guesses_the_baremetrics_preset(run, tmp_path):
    data = tmp_path / "exports"
    write_csv(
        data / "subscriptions.csv",
        BAREMETRICS_HEADER,
        [
            [
                "p_basic",
                "Basic",
                "usd",
                "4900",
                "month",
                "1",
                "cus_1",
                "Acme",
                "a@acme.test",
                "sub_1",
                "2023-01-05",
                "",
                "1",
            ],
        ],
    )
    result = run("init", "--data", data)
    assert result.exit_code == 0, result.stderr
    written = (tmp_path / "kpi.toml").read_text()
    assert re.search(r'^preset = "baremetrics"$', written, re.MULTILINE), written
    assert "[sources.subscriptions]" in written
    # The written config works as is: 49.00 a month (4900 cents) at the end of March 2023.
    check = run("compute", "mrr", "--month", "2023-03", "-f", "csv")
    assert check.exit_code == 0, check.stderr
    assert value(rows_of(check.stdout), "mrr", "2023-03-01") == pytest.approx(49)


def test_init_refuses_to_overwrite(run, golden_dir, tmp_path):
    (tmp_path / "kpi.toml").write_text("# mine\n")
    result = run("init", "--data", golden_dir)
    assert result.exit_code == 1
    assert (tmp_path / "kpi.toml").read_text() == "# mine\n"


def test_cohort_default_range_ends_at_last_complete_period(run, golden_dir):
    # The golden data's last timestamp is 2023-03-20, so February 2023 is the last complete month:
    # cohorts are the first paying months B 2022-07, E 2022-09, C 2022-10, A 2022-11, H 2022-12,
    # D 2023-01, F 2023-02, and B's row reaches period_index 7 (July → February), no further.
    result = run("cohort", "--of", "customers", "--data", golden_dir, "-f", "csv")
    assert result.exit_code == 0, result.stderr
    rows = rows_of(result.stdout)
    cohorts = sorted({r["cohort"] for r in rows if r["cohort"]})
    assert cohorts == ["2022-07-01", "2022-09-01", "2022-10-01", "2022-11-01", "2022-12-01", "2023-01-01",
                       "2023-02-01"]
    assert max(int(r["period_index"]) for r in rows if r["cohort"] == "2022-07-01") == 7
    # E (cohort 2022-09) paid Sep–Nov and stopped on 15 Dec: retained at k = 2, gone at k = 3.
    e = {r["period_index"]: r for r in rows if r["cohort"] == "2022-09-01"}
    assert (float(e["2"]["rate"]), float(e["3"]["rate"])) == (1.0, 0.0)


def test_cohort_of_mrr_net_and_gross(run, golden_dir):
    # A (cohort 2022-11) starts at 100 and is at 150 at the end of February (k = 3):
    # net 150 / 100 = 1.5, gross min(150, 100) / 100 = 1.0.
    result = run("cohort", "--of", "mrr", "--data", golden_dir, "-f", "csv")
    assert result.exit_code == 0, result.stderr
    a = {r["period_index"]: r for r in rows_of(result.stdout) if r["cohort"] == "2022-11-01"}
    assert float(a["0"]["cohort_size"]) == 100
    assert (float(a["3"]["rate"]), float(a["3"]["gross_rate"])) == (1.5, 1.0)


def test_event_preset_on_billing_source_is_refused(run, golden_dir, tmp_path):
    (tmp_path / "kpi.toml").write_text('[sources.subscriptions]\npreset = "segment"\n')
    result = run("compute", "mrr", "--month", "2023-02", "--data", golden_dir)
    assert_clean_failure(result, 1)
    assert "segment" in result.stderr
    assert "events" in result.stderr


def test_init_does_not_ask_for_columns_the_preset_maps(run, tmp_path):
    data = tmp_path / "exports"
    row = ["p", "Basic", "usd", "4900", "month", "1", "cus_1", "Acme", "a@acme.test", "sub_1", "2023-01-05", "", "1"]
    write_csv(data / "subscriptions.csv", BAREMETRICS_HEADER, [row])
    assert run("init", "--data", data).exit_code == 0
    assert "required, not found" not in (tmp_path / "kpi.toml").read_text()


def test_output_file_gets_the_usual_permissions(run, golden_dir, tmp_path):
    # A temporary file starts as 0600; the renamed result must look like any file the user writes.
    import os

    mask = os.umask(0o022)
    try:
        out = tmp_path / "mrr.csv"
        assert run("compute", "mrr", "--month", "2023-02", "--data", golden_dir, "-o", out).exit_code == 0
        assert out.stat().st_mode & 0o777 == 0o644
        out.chmod(0o600)  # an existing file keeps the mode its owner gave it
        assert run("compute", "mrr", "--month", "2023-02", "--data", golden_dir, "-o", out).exit_code == 0
        assert out.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(mask)


def test_interrupt_exits_130_without_traceback(run, golden_dir, monkeypatch):
    import kpi_cli.api

    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(kpi_cli.api, "compute_run", interrupted)
    result = run("compute", "mrr", "--month", "2023-02", "--data", golden_dir)
    assert result.exit_code == 130
    assert "Traceback" not in result.stderr
    assert "interrupted" in result.stderr


def test_reader_closing_the_pipe_is_quiet(golden_dir, tmp_path):
    # `kpi … | head -1`: ~180 kB of CSV (1,186 days × 5 metrics), far more than a 64 kB pipe buffer,
    # with the reader gone after one line.
    import subprocess
    import sys
    from pathlib import Path

    kpi = Path(sys.executable).with_name("kpi")
    args = [str(kpi), "compute", "mrr,arr,customers,new_mrr,churned_mrr", "--period", "day", "--from", "2020-01",
            "--to", "2023-03", "--data", str(golden_dir), "-f", "csv"]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path,
                            env={**os.environ, "NO_COLOR": "1"})
    assert proc.stdout is not None
    assert proc.stderr is not None
    assert proc.stdout.readline().startswith(b"metric,period,")
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0
    assert err == ""


def test_table_turns_metrics_into_rows_when_too_wide(run, golden_dir):
    few = run("compute", "mrr,arpa", "--from", "2023-01", "--to", "2023-03", "--data", golden_dir, "-f", "table")
    assert few.exit_code == 0, few.stderr
    assert re.search(r"^│ 2023-01\s+│\s+\$550\.00 │\s+\$110\.00 │$", few.stdout, re.MULTILINE), few.stdout
    many = run("compute", "revenue", "--from", "2023-01", "--to", "2023-03", "--data", golden_dir, "-f", "table",
               env={"COLUMNS": "240"})
    assert many.exit_code == 0, many.stderr
    # 30-odd metric columns cannot fit COLUMNS=240: one row per metric, one column per month.
    assert re.search(r"^│ MRR\s+│\s+\$550\.00 │\s+\$750\.00 │\s+\$680\.00 │$", many.stdout, re.MULTILINE), many.stdout
    assert "2023-03 *" in many.stdout  # March runs past the last timestamp (20 March)
