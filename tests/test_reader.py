"""The record reader (SPEC §1.1 files, §1.3 "Files:"; issue 7 A7, A8, B, D): physical line numbers,
records of the wrong width as bad rows, encodings, delimiters, gzip, JSON lines, duplicated headers
and where a source's files are found.

Values are the golden subscriptions of research/revenue.md §4.1 (March 2023 MRR 680, see
tests/test_golden_revenue.py); where a test changes the data, the new value is derived beside it.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from pathlib import Path

import pytest
from conftest import GOLDEN_HEADER, GOLDEN_ROWS, write_csv

MARCH = ("--month", "2023-03", "-f", "csv", "-q")
SKIP = ("--on-bad-rows", "skip")


def golden_text(delimiter: str = ",", rows: list[list[str]] | None = None) -> str:
    out = io.StringIO()
    w = csv.writer(out, delimiter=delimiter, lineterminator="\n")
    w.writerow(GOLDEN_HEADER)
    w.writerows(GOLDEN_ROWS if rows is None else rows)
    return out.getvalue()


def mrr_of(result) -> float:
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["metric"] for r in rows] == ["mrr"]
    return float(rows[0]["value"])


def error_of(result, code: int = 1) -> list[str]:
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "unexpected" not in result.stderr
    return result.stderr.splitlines()


def read_rejects(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(path.open()))


# ---- records of the wrong width, physical lines ---------------------------------------------------

def test_short_and_long_records_are_bad_rows_at_their_lines(run, tmp_path):
    # Line 3 (row B's first span) loses its last 10 fields; line 9 (row E's first span) gains one.
    rows = [list(r) for r in GOLDEN_ROWS]
    rows[1] = rows[1][:3]
    rows[7] = [*rows[7], "extra"]
    data = tmp_path / "d"
    data.mkdir()
    (data / "subscriptions.csv").write_text(golden_text(rows=rows))
    lines = error_of(run("compute", "mrr", "--data", data.name, *MARCH))
    assert lines[:3] == [
        "kpi: error: 2 bad rows in subscriptions",
        "  d/subscriptions.csv:3 (record)=A,a1,2023-02-10 record has 3 fields (the header has 13)",
        # A record's text is shown up to 60 characters.
        ("  d/subscriptions.csv:9 (record)=E,e1,2022-09-01,2022-12-15,80,USD,month,1,1,,2022-12-15,,,e… "
        "record has 14 fields (the header has 13)"),
    ]


def test_short_record_skipped_gives_the_mrr_without_that_row(run, tmp_path):
    # Without A's second span (150 from Feb 10) March MRR is 680 - 150 = 530, as with the row removed.
    rows = [list(r) for r in GOLDEN_ROWS]
    short = [*rows[:1], rows[1][:3], *rows[2:]]
    without = [*rows[:1], *rows[2:]]
    a, b = tmp_path / "a", tmp_path / "b"
    write_csv(a / "subscriptions.csv", GOLDEN_HEADER, short)
    write_csv(b / "subscriptions.csv", GOLDEN_HEADER, without)
    rejects = tmp_path / "rejects.csv"
    skipped = run("compute", "mrr", "--data", a, *MARCH, *SKIP, "--rejects", rejects)
    assert mrr_of(skipped) == mrr_of(run("compute", "mrr", "--data", b, *MARCH)) == 530
    got = read_rejects(rejects)
    assert len(got) == 1
    assert {k: got[0][k] for k in ("file", "line", "customer_id", "subscription_id", "start_at", "amount",
                                   "reason")} == {
        "file": str(a / "subscriptions.csv"), "line": "3", "customer_id": "A", "subscription_id": "a1",
        "start_at": "2023-02-10", "amount": "", "reason": "record has 3 fields (the header has 13)"}


def test_lines_count_quoted_newlines_blank_lines_and_crlf(run, tmp_path):
    # Line 1 header; 2-3 one record whose plan holds a newline; 4 blank; 5 a good row; 6 bad amount.
    head = "customer_id,subscription_id,start_at,amount,plan"
    body = ['A,a1,2023-01-01,100,"Pro', 'yearly"', "", "B,b1,2023-01-01,50,Basic", "C,c1,2023-01-01,abc,Basic"]
    for newline in ("\n", "\r\n"):
        data = tmp_path / f"d{len(newline)}"
        data.mkdir()
        (data / "subscriptions.csv").write_bytes(newline.join([head, *body, ""]).encode())
        lines = error_of(run("compute", "mrr", "--data", data.name, "--month", "2023-01"))
        assert lines[1] == f"  {data.name}/subscriptions.csv:6 amount=abc not a number", newline
        # The blank line is no row: skipping the bad one leaves A and B, 150.
        assert mrr_of(run("compute", "mrr", "--data", data, "--month", "2023-01", "-f", "csv", "-q", *SKIP)) == 150


def test_unterminated_quote_is_a_bad_record_at_its_line(run, tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    text = "customer_id,subscription_id,start_at,amount\nA,a1,2023-01-01,100\nB,b1,2023-01-01,\"5\nC,c1,2023-01-01,7\n"
    (data / "subscriptions.csv").write_text(text)
    lines = error_of(run("compute", "mrr", "--data", data.name, "--month", "2023-01"))
    assert lines[1] == ('  d/subscriptions.csv:3 (record)=B,b1,2023-01-01,"5\\nC,c1,2023-01-01,7\\n '
                        'unterminated quote: a " opened in this record is never closed')
    assert mrr_of(run("compute", "mrr", "--data", data, "--month", "2023-01", "-f", "csv", "-q", *SKIP)) == 100


def test_a_stray_quote_inside_a_field_is_not_unterminated(run, tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    text = 'customer_id,subscription_id,start_at,amount,plan\nA,a1,2023-01-01,100,27" monitor\n'
    (data / "subscriptions.csv").write_text(text)
    assert mrr_of(run("compute", "mrr", "--data", data, "--month", "2023-01", "-f", "csv", "-q")) == 100


# ---- delimiters, encodings, gzip ------------------------------------------------------------------

@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_sniffed_from_the_header(run, tmp_path, delimiter):
    data = tmp_path / "d"
    data.mkdir()
    (data / "subscriptions.csv").write_text(golden_text(delimiter))
    assert mrr_of(run("compute", "mrr", "--data", data, *MARCH)) == 680


def test_delimiter_set_in_the_config(run, tmp_path):
    # A one-column-looking header: ';' is not sniffed when the config says ','... here it says ';'.
    data = tmp_path / "d"
    data.mkdir()
    (data / "subscriptions.csv").write_text(golden_text(";").replace("customer_id;", "customer_id,x;", 1))
    (tmp_path / "kpi.toml").write_text('[sources.subscriptions]\ndelimiter = ";"\n'
                                       '[sources.subscriptions.columns]\ncustomer_id = "customer_id,x"\n')
    assert mrr_of(run("compute", "mrr", "--data", data, *MARCH)) == 680


LATIN = "customer_id,subscription_id,start_at,amount,plan\nA,a1,2023-01-01,100,Caf\xe9\n"


def test_latin1_byte_names_file_line_and_column(run, tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    (data / "subscriptions.csv").write_bytes(LATIN.encode("latin-1"))
    lines = error_of(run("compute", "mrr", "--data", data, "--month", "2023-01"))
    assert lines == [
        "kpi: error: cannot read " + str(data / "subscriptions.csv") + ":2: byte 0xe9 in column plan is not utf-8",
        'hint: set [sources.subscriptions] encoding = "latin-1" (or the encoding the file was exported in)',
    ]


def test_latin1_with_encoding_set(run, tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    (data / "subscriptions.csv").write_bytes(LATIN.encode("latin-1"))
    (tmp_path / "kpi.toml").write_text('[sources.subscriptions]\nencoding = "latin-1"\n')
    assert mrr_of(run("compute", "mrr", "--data", data, "--month", "2023-01", "-f", "csv", "-q")) == 100


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-32"])
def test_bom_decides_the_encoding(run, tmp_path, encoding):
    data = tmp_path / "d"
    data.mkdir()
    (data / "subscriptions.csv").write_bytes(golden_text().encode(encoding))
    assert mrr_of(run("compute", "mrr", "--data", data, *MARCH)) == 680


def test_truncated_gzip_names_the_last_line(run, tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    whole = gzip.compress(golden_text().encode() * 200)
    (data / "subscriptions.csv.gz").write_bytes(whole[: len(whole) // 2])
    lines = error_of(run("compute", "mrr", "--data", data, *MARCH))
    assert lines[0].startswith("kpi: error: cannot read " + str(data / "subscriptions.csv.gz")
                               + ": the gzip data ends early, after line ")
    assert lines[1] == "hint: the file is truncated: download or copy it again (gzip -t FILE checks it)"


def test_truncated_jsonl_gzip(run, tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    rows = [dict(zip(GOLDEN_HEADER, r, strict=True)) for r in GOLDEN_ROWS] * 50
    whole = gzip.compress("".join(json.dumps(r) + "\n" for r in rows).encode())
    (data / "subscriptions.jsonl.gz").write_bytes(whole[:-20])
    assert "the gzip data ends early" in error_of(run("compute", "mrr", "--data", data, *MARCH))[0]


# ---- JSON lines -----------------------------------------------------------------------------------

def jsonl_with_bad_lines(folder: Path) -> None:
    # Lines: 1-13 the golden rows, 14 blank, 15 `42`, 16 `null`, 17 cut off.
    folder.mkdir()
    rows = [json.dumps(dict(zip(GOLDEN_HEADER, r, strict=True))) for r in GOLDEN_ROWS]
    (folder / "subscriptions.jsonl").write_text("\n".join([*rows, "", "42", "null", '{"customer_id": "Q",']) + "\n")


def test_jsonl_lines_that_are_not_objects_are_bad_rows(run, tmp_path):
    jsonl_with_bad_lines(tmp_path / "d")
    lines = error_of(run("compute", "mrr", "--data", "d", *MARCH))
    assert lines[:4] == [
        "kpi: error: 3 bad rows in subscriptions",
        "  d/subscriptions.jsonl:15 (record)=42 not a JSON object",
        "  d/subscriptions.jsonl:16 (record)=null not a JSON object",
        ('  d/subscriptions.jsonl:17 (record)={"customer_id": "Q", not valid JSON (Expecting property name '
        "enclosed in double quotes)"),
    ]


def test_jsonl_bad_lines_skipped_keep_the_file(run, tmp_path):
    jsonl_with_bad_lines(tmp_path / "d")
    rejects = tmp_path / "rejects.csv"
    assert mrr_of(run("compute", "mrr", "--data", tmp_path / "d", *MARCH, *SKIP, "--rejects", rejects)) == 680
    got = [(r["line"], r["record"], r["reason"]) for r in read_rejects(rejects)]
    assert got == [("15", "42", "not a JSON object"), ("16", "null", "not a JSON object"),
                   ("17", '{"customer_id": "Q",', "not valid JSON (Expecting property name enclosed in double quotes)")]


def test_jsonl_physical_lines(run, tmp_path):
    # Two blank lines first: the bad amount's object is on line 4.
    data = tmp_path / "d"
    data.mkdir()
    good = {"customer_id": "A", "subscription_id": "a1", "start_at": "2023-01-01", "amount": "100"}
    bad = {**good, "subscription_id": "a2", "amount": "abc"}
    (data / "subscriptions.jsonl").write_text("\n\n" + json.dumps(good) + "\n" + json.dumps(bad) + "\n")
    assert error_of(run("compute", "mrr", "--data", data.name, "--month", "2023-01"))[1] == (
        "  d/subscriptions.jsonl:4 amount=abc not a number")


def test_parquet_nested_column_mapped_to_a_value(run, tmp_path):
    import polars as pl

    data = tmp_path / "d"
    data.mkdir()
    pl.DataFrame({"customer_id": [["A"]], "subscription_id": ["a1"], "start_at": ["2023-01-01"],
                  "amount": [100]}).write_parquet(data / "subscriptions.parquet")
    lines = error_of(run("compute", "mrr", "--data", data, "--month", "2023-01"))
    assert lines == [
        "kpi: error: source subscriptions (" + str(data / "subscriptions.parquet") + "): column 'customer_id' "
        "(mapped to customer_id) holds a List(String), not one value",
        ('hint: map customer_id to a plain column in [sources.subscriptions.columns], or to a field '
        '("customer_id.<field>")'),
    ]


# ---- duplicated headers ---------------------------------------------------------------------------

@pytest.mark.parametrize(("second", "hint"), [
    ("amount", "hint: rename or remove one of them in the file"),
    ("Amount", 'hint: map the one to use in [sources.subscriptions.columns] amount = "<header exactly as written>"'),
])
def test_two_headers_for_one_column(run, tmp_path, second, hint):
    data = tmp_path / "d"
    data.mkdir()
    (data / "subscriptions.csv").write_text(f"customer_id,subscription_id,start_at,amount,{second}\n"
                                            "A,a1,2023-01-01,100,3\n")
    assert error_of(run("compute", "mrr", "--data", data, "--month", "2023-01")) == [
        "kpi: error: source subscriptions (" + str(data / "subscriptions.csv") + "): headers 'amount' and "
        f"{second!r} both name amount", hint]


def test_explicit_mapping_picks_one_of_two_alike_headers(run, tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    (data / "subscriptions.csv").write_text("customer_id,subscription_id,start_at,amount,Amount\n"
                                            "A,a1,2023-01-01,100,3\n")
    (tmp_path / "kpi.toml").write_text('[sources.subscriptions.columns]\namount = "Amount"\n')
    assert mrr_of(run("compute", "mrr", "--data", data, "--month", "2023-01", "-f", "csv", "-q")) == 3


def test_user_id_and_user_space_id_in_events(run, tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    (data / "events.csv").write_text("timestamp,event,user_id,User ID\n2024-03-01,x,u1,u2\n")
    assert error_of(run("compute", "mau", "--data", data, "--month", "2024-03"))[0] == (
        "kpi: error: source events (" + str(data / "events.csv") + "): headers 'user_id' and 'User ID' both "
        "name user_id")


def test_preset_candidates_in_order_still_win(run, tmp_path):
    # Stripe's "Customer ID" and "Customer" name one role by design: the first candidate is used.
    data = tmp_path / "d"
    data.mkdir()
    (data / "subscriptions.csv").write_text("id,Customer ID,Customer,Start (UTC),Amount,Interval\n"
                                            "sub_1,cus_1,Jane,2023-01-01,100,month\n")
    (tmp_path / "kpi.toml").write_text('[sources.subscriptions]\npreset = "stripe"\n')
    assert mrr_of(run("compute", "mrr", "--data", data, "--month", "2023-01", "-f", "csv", "-q")) == 100


# ---- finding files --------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["Subscriptions.csv", "SUBSCRIPTIONS.CSV"])
def test_file_names_match_case_insensitively(run, tmp_path, name):
    data = tmp_path / "d"
    data.mkdir()
    (data / name).write_text(golden_text())
    assert mrr_of(run("compute", "mrr", "--data", data, *MARCH)) == 680


def test_json_gz_is_json_lines(run, tmp_path):
    data = tmp_path / "d"
    (data / "subscriptions").mkdir(parents=True)
    rows = [json.dumps(dict(zip(GOLDEN_HEADER, r, strict=True))) + "\n" for r in GOLDEN_ROWS]
    (data / "subscriptions.json.gz").write_bytes(gzip.compress("".join(rows).encode()))
    assert mrr_of(run("compute", "mrr", "--data", data, *MARCH)) == 680
    # and as parts of a folder source
    (data / "subscriptions.json.gz").unlink()
    (data / "subscriptions" / "a.json.gz").write_bytes(gzip.compress("".join(rows[:6]).encode()))
    (data / "subscriptions" / "b.json.gz").write_bytes(gzip.compress("".join(rows[6:]).encode()))
    assert mrr_of(run("compute", "mrr", "--data", data, *MARCH)) == 680


AMPLITUDE = [  # two users active in March 2024: MAU 2
    {"event_type": "Signed Up", "event_time": "2024-03-01 10:00:00.000000", "user_id": "u1", "device_id": "d1"},
    {"event_type": "Page Viewed", "event_time": "2024-03-05 10:00:00.000000", "user_id": "u2", "device_id": "d2"},
]


@pytest.mark.parametrize("place", ["events/123456_2024-03-01_9#0.json.gz", "123456_2024-03-01_9#0.json.gz",
                                   "123456/123456_2024-03-01_9#0.json.gz"])
def test_amplitude_export_parts(run, tmp_path, place):
    data = tmp_path / "d"
    (data / place).parent.mkdir(parents=True, exist_ok=True)
    (data / place).write_bytes(gzip.compress("".join(json.dumps(r) + "\n" for r in AMPLITUDE).encode()))
    (tmp_path / "kpi.toml").write_text('[sources.events]\npreset = "amplitude"\n')
    result = run("compute", "mau", "--data", data, "--month", "2024-03", "-f", "csv", "-q")
    assert result.exit_code == 0, result.stderr
    assert next(iter(csv.DictReader(io.StringIO(result.stdout))))["value"] in ("2", "2.0")


def test_segment_tracks_csv(run, tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    (data / "tracks.csv").write_text("message_id,timestamp,event,event_text,user_id,anonymous_id\n"
                                     "m1,2024-03-01T10:00:00Z,signed_up,Signed Up,u1,a1\n"
                                     "m2,2024-03-02T10:00:00Z,page,Page Viewed,u2,a2\n")
    (tmp_path / "kpi.toml").write_text('[sources.events]\npreset = "segment"\n')
    result = run("compute", "mau", "--data", data, "--month", "2024-03", "-f", "csv", "-q")
    assert result.exit_code == 0, result.stderr
    assert next(iter(csv.DictReader(io.StringIO(result.stdout))))["value"] in ("2", "2.0")
