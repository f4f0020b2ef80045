"""CSV files whose header takes several rows (SPEC §1.1: SurveyMonkey 2, Qualtrics 3).

The reader (:mod:`kpi_cli.records`) replaces the header rows by one line of names and adds the
physical lines it removed back to every line number, so bad rows are still named at the line a
user sees in the file.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from kpi_cli.errors import UsageError


def header_rows_of(table: dict[str, object], source: str) -> int:
    """``[sources.S] header_rows`` (or its preset's): how many rows the CSV header takes."""
    rows = table.get("header_rows", 1)
    if isinstance(rows, bool) or not isinstance(rows, int) or not 1 <= rows <= 10:
        msg = f"source {source}: header_rows = {rows!r} must be a whole number from 1 to 10"
        raise UsageError(msg, hint=f"set [sources.{source}] header_rows = 2 (SurveyMonkey) or 3 (Qualtrics)")
    return rows


def header_names(rows: list[list[str]]) -> list[str]:
    """Column names from a CSV's header rows: the first row's, except where a question spans columns.

    SurveyMonkey writes a question once in row 1, over as many columns as it has answer options
    (blank in row 1 to its right), and each option in row 2: those columns are named
    ``question - option``. A question of one column keeps its row-1 name (its row 2 says only
    "Response" or "Open-Ended Response"). A blank row-1 cell with no question to its left takes
    its row-2 text. Qualtrics fills row 1 on every column, so its names are its export tags; the
    rows after the second (Qualtrics' ImportId JSON) never name anything. Line breaks and runs of
    spaces inside a name become one space.

    Examples
    --------
    >>> header_names([["Respondent ID", "Which plan?", "", "Why?"], ["", "Basic", "Pro", "Open-Ended Response"]])
    ['Respondent ID', 'Which plan? - Basic', 'Which plan? - Pro', 'Why?']
    """
    def clean(text: str) -> str:
        return " ".join(text.split())

    first = [clean(h) for h in rows[0]] if rows else []
    if len(rows) < 2:
        return first
    second = [clean(h) for h in rows[1]]
    second += [""] * (len(first) - len(second))
    names = list(first)
    i = 0
    while i < len(first):
        if not first[i]:
            names[i] = second[i]
            i += 1
            continue
        end = i + 1
        while end < len(first) and not first[end] and second[end]:
            end += 1
        if end - i > 1:
            for k in range(i, end):
                names[k] = f"{first[i]} - {second[k]}" if second[k] else first[i]
        i = end
    return names


def header_block(data: bytes, rows: int, delimiter: str) -> tuple[list[list[str]], int, int]:
    """The first ``rows`` records of ``data``, the byte offset after them and the physical lines they take."""
    state = {"pos": 0, "lines": 0}

    def lines() -> Any:
        while state["pos"] < len(data):
            end = data.find(b"\n", state["pos"])
            end = len(data) if end < 0 else end + 1
            chunk = data[state["pos"]:end]
            state["pos"], state["lines"] = end, state["lines"] + 1
            yield chunk.decode("utf-8", errors="replace")

    reader = csv.reader(lines(), delimiter=delimiter)  # pulls one line at a time: no read-ahead
    records: list[list[str]] = []
    try:
        for _ in range(rows):
            records.append(next(reader))
    except (StopIteration, csv.Error):
        pass
    return records, state["pos"], state["lines"]


def one_header(data: bytes, rows: int, delimiter: str) -> tuple[bytes, int]:
    """``data`` with its ``rows`` header rows replaced by one line of :func:`header_names`, and how
    many physical lines that removed (added back to every line number)."""
    records, offset, lines = header_block(data, rows, delimiter)
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\n").writerow(header_names(records))
    return out.getvalue().encode() + data[offset:], max(lines - 1, 0)


def zones_in(records: list[list[str]]) -> dict[str, str]:
    """Zones the header rows after the first give their columns: column name -> zone name.

    Qualtrics' third header row holds ``{"ImportId":"recordedDate","timeZone":"America/Denver"}``
    above each timestamp column: the zone its naive values are written in (``Z`` = UTC).

    Examples
    --------
    >>> zones_in([["RecordedDate", "QID2"], ["Recorded Date", "Q"], ['{"ImportId":"recordedDate","timeZone":"Z"}',
    ...           '{"ImportId":"QID2"}']])
    {'RecordedDate': 'UTC'}
    """
    names = header_names(records)
    out: dict[str, str] = {}
    for record in records[1:]:
        for name, cell in zip(names, record, strict=False):
            if '"timeZone"' not in cell:
                continue
            try:
                zone = json.loads(cell).get("timeZone")
            except (ValueError, AttributeError):
                continue
            if isinstance(zone, str) and zone:
                out[name] = "UTC" if zone.upper() in ("Z", "UTC", "GMT") else zone
    return out
