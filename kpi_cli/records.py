"""The one record reader: CSV (plain or gzip) and JSON lines, each record at its physical line.

A record that cannot be a row (fewer or more fields than the header, an unterminated quote, a
JSON line that is not an object) is returned as a *bad record* for the bad-row machinery, so a
run under ``--on-bad-rows skip`` loses that record only, never the file. What makes the whole
file unreadable (undecodable bytes, a truncated gzip, no header) is a :class:`DataError` naming
the file and the line.

Line numbers are physical lines, the header being line 1 (JSON lines: the object's line, the
first line being 1): newlines inside quoted values, blank lines and CRLF all count. A CSV source
may declare ``header_rows`` (SurveyMonkey 2, Qualtrics 3): the names come from those rows
(:func:`header_names`), and the data's line numbers still count every physical line above them.
"""

from __future__ import annotations

import codecs
import csv
import io
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kpi_cli.errors import DataError, UsageError
from kpi_cli.header_rows import header_block, header_names, header_rows_of, one_header, zones_in

if TYPE_CHECKING:
    import polars as pl
    import pyarrow as pa

DELIMITERS = (",", ";", "\t", "|")
RECORD = "(record)"  # the ``column`` of a bad record: the whole record is the problem
BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
HEAD_BYTES = 1 << 16  # enough of a file to hold its header line
SHORT = 60  # a bad record's text is shown up to this many characters


@dataclass
class Records:
    """One file read: its columns as text (CSV) or as JSON typed them, plus ``_line`` (Int64).

    ``headers`` are the names as written; a repeated name's later copies are renamed in ``frame``
    (:func:`unique_names`) and cannot be mapped. ``bad`` holds the bad records: ``_line``,
    ``value`` (the record's text, shortened), ``reason`` and ``fields`` (header → text as split).
    """

    frame: pl.DataFrame
    headers: list[str]
    bad: list[dict[str, Any]]


def is_json(path: str) -> bool:
    """JSON lines: ``.jsonl``, ``.ndjson``, ``.json`` (compressed or not)."""
    return path.lower().removesuffix(".gz").endswith((".jsonl", ".ndjson", ".json"))


def unique_names(headers: list[str]) -> list[str]:
    """Column names for a frame: a repeated header's later copies get ``#2``, ``#3``… appended."""
    seen: dict[str, int] = {}
    out = []
    for h in headers:
        seen[h] = seen.get(h, 0) + 1
        out.append(h if seen[h] == 1 else f"{h}#{seen[h]}")
    return out


def line_of(data: bytes, offset: int) -> int:
    """The physical line (first = 1) holding byte ``offset``."""
    return data.count(b"\n", 0, offset) + 1


# ---- bytes: gzip, encodings ----------------------------------------------------------------------

def _gunzip(raw: bytes, path: str) -> bytes:
    """Decompressed bytes (several gzip members allowed); a truncated stream names its last line."""
    out: list[bytes] = []
    rest = raw
    while rest:
        inflater = zlib.decompressobj(wbits=47)  # gzip or zlib header, detected
        try:
            out.append(inflater.decompress(rest))
        except zlib.error as e:
            msg = f"cannot read {path}: not valid gzip data ({e})"
            raise DataError(msg, hint="check the file is gzip-compressed and copied whole (gzip -t FILE)") from None
        if not inflater.eof:
            got = b"".join(out)
            msg = f"cannot read {path}: the gzip data ends early, after line {line_of(got, len(got))}"
            raise DataError(msg, hint="the file is truncated: download or copy it again (gzip -t FILE checks it)")
        rest = inflater.unused_data.lstrip(b"\0")
    return b"".join(out)


def file_bytes(path: str, limit: int | None = None) -> bytes:
    """The file's bytes, decompressed when it ends in ``.gz`` (its first ``limit`` bytes, or more)."""
    try:
        if path.lower().endswith(".gz"):
            if limit is None:
                return _gunzip(Path(path).read_bytes(), path)
            inflater = zlib.decompressobj(wbits=47)
            with Path(path).open("rb") as f:
                out = b""
                while len(out) < limit and (chunk := f.read(HEAD_BYTES)):
                    out += inflater.decompress(chunk)
                return out
        if limit is None:
            return Path(path).read_bytes()
        with Path(path).open("rb") as f:
            return f.read(limit)
    except zlib.error as e:
        msg = f"cannot read {path}: not valid gzip data ({e})"
        raise DataError(msg, hint="check the file is gzip-compressed and copied whole (gzip -t FILE)") from None
    except OSError as e:
        msg = f"cannot read {path}: {e.strerror or e}"
        raise DataError(msg, hint="check the path and its permissions") from None


def encoding_of(data: bytes, table: dict[str, object], source: str, path: str) -> str:
    """The codec: ``[sources.S] encoding``, else a BOM's, else UTF-8."""
    declared = table.get("encoding")
    if declared:
        try:
            return codecs.lookup(str(declared)).name
        except LookupError:
            msg = f"source {source}: unknown encoding {declared!r}"
            hint = f'set [sources.{source}] encoding to a Python codec name, e.g. "latin-1"'
            raise UsageError(msg, hint=hint) from None
    for bom, name in BOMS:
        if data.startswith(bom):
            return name
    return "utf-8"


def utf8(data: bytes, encoding: str, source: str, path: str, *, partial: bool = False) -> bytes:
    """``data`` as UTF-8 without a BOM; undecodable bytes are an error naming their line."""
    if encoding in ("utf-8", "utf-8-sig"):
        return data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode(encoding, errors="strict") if not partial else _decode_head(data, encoding)
    except UnicodeDecodeError as e:
        raise _undecodable(data, e, encoding, source, path) from None
    return text.removeprefix("\ufeff").encode()


def _decode_head(data: bytes, encoding: str) -> str:
    """The first bytes of a file decoded, a character cut at the end of the chunk left out."""
    return codecs.getincrementaldecoder(encoding)().decode(data, final=False)


def _undecodable(data: bytes, e: UnicodeDecodeError, encoding: str, source: str, path: str,
                 delimiter: str | None = None) -> DataError:
    line = line_of(data, e.start)
    byte = data[e.start:e.start + 1].hex()
    where = ""
    if delimiter and line > 1:  # the column: fields before the byte on its line (header on line 1)
        start = data.rfind(b"\n", 0, e.start) + 1
        fields = _split(data[start:e.start].decode("utf-8", errors="replace"), delimiter)
        header = _split(data[:data.find(b"\n")].decode("utf-8", errors="replace"), delimiter)
        if 0 < len(fields) <= len(header):
            where = f" in column {header[len(fields) - 1].strip()}"
    msg = f"cannot read {path}:{line}: byte 0x{byte}{where} is not {encoding}"
    hint = (f'set [sources.{source}] encoding = "latin-1" (or the encoding the file was exported in)'
            if encoding == "utf-8" else f"check [sources.{source}] encoding: the file is not {encoding}")
    return DataError(msg, hint=hint)


def check_utf8(data: bytes, source: str, path: str, delimiter: str | None = None) -> None:
    """Raise on the first byte that is not UTF-8, naming its line (and column, for CSV)."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _undecodable(data, e, "utf-8", source, path, delimiter) from None


# ---- CSV -----------------------------------------------------------------------------------------

def delimiter_of(head: str, table: dict[str, object], source: str) -> str:
    """``[sources.S] delimiter``, else the candidate found most often in the header line."""
    declared = table.get("delimiter")
    if declared is not None:
        text = {"tab": "\t", "\\t": "\t"}.get(str(declared).lower(), str(declared))
        if len(text) != 1 or text in ('"', "\n", "\r"):
            msg = f"source {source}: delimiter {declared!r} must be one character"
            raise UsageError(msg, hint=f'set [sources.{source}] delimiter = ";" (or ",", "tab", "|")')
        return text
    first, quoted = [], False
    for ch in head:
        if ch == '"':
            quoted = not quoted
        elif ch in "\r\n" and not quoted:
            break
        elif not quoted:
            first.append(ch)
    counts = [("".join(first).count(d), -i, d) for i, d in enumerate(DELIMITERS)]
    best = max(counts)
    return best[2] if best[0] else ","


def _split(text: str, delimiter: str) -> list[str]:
    """Fields of one record's text, as Python's csv module splits them (quotes honoured)."""
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    return [f for row in rows for f in row] if rows else []


def csv_headers(path: str, table: dict[str, object], source: str) -> tuple[list[str], str]:
    """The header names of a CSV file and its delimiter, from the first bytes alone."""
    rows = header_rows_of(table, source)
    head = file_bytes(path, HEAD_BYTES if rows == 1 else HEAD_BYTES * 16)
    encoding = encoding_of(head, table, source, path)
    text = utf8(head, encoding, source, path, partial=True).decode("utf-8", errors="replace")
    delimiter = delimiter_of(text, table, source)
    if rows > 1:
        return header_names(header_block(text.encode(), rows, delimiter)[0]), delimiter
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        headers = next(reader)
    except (StopIteration, csv.Error):
        headers = []
    return [h.strip() for h in headers], delimiter


def header_records(path: str, table: dict[str, object], source: str, rows: int) -> list[list[str]]:
    """The first ``rows`` records of a CSV file as split (fewer when the file is shorter)."""
    head = file_bytes(path, HEAD_BYTES * 16)
    text = utf8(head, encoding_of(head, table, source, path), source, path, partial=True)
    delimiter = delimiter_of(text.decode("utf-8", errors="replace"), table, source)
    return header_block(text, rows, delimiter)[0]


def header_zones(path: str, table: dict[str, object], source: str) -> dict[str, str]:
    """Zones the header rows after the first give their columns (:func:`kpi_cli.header_rows.zones_in`)."""
    rows = header_rows_of(table, source)
    return zones_in(header_records(path, table, source, rows)) if rows > 1 else {}


def read_csv(path: str, table: dict[str, object], source: str) -> Records:
    """Every record of a CSV file as text, each at its physical line; bad records apart."""
    import polars as pl
    import pyarrow as pa
    import pyarrow.csv as pacsv

    raw = file_bytes(path)
    data = original = utf8(raw, encoding_of(raw[:4], table, source, path), source, path)
    delimiter = delimiter_of(data[:HEAD_BYTES].decode("utf-8", errors="replace"), table, source)
    rows = header_rows_of(table, source)
    shift = 0  # physical lines of the header rows after the first, which are not records
    if rows > 1:
        data, shift = one_header(data, rows, delimiter)
    invalid: list[tuple[int, str, int]] = []  # (record number, text, fields), header = record 1

    def handler(row: Any) -> str:
        invalid.append((row.number, row.text, row.actual_columns))
        return "skip"

    try:
        arrow = pacsv.read_csv(
            pa.BufferReader(data),
            # Serial reading numbers each invalid record; blank lines are records, so they count.
            read_options=pacsv.ReadOptions(use_threads=False, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True,
                                             ignore_empty_lines=False, invalid_row_handler=handler),
            convert_options=pacsv.ConvertOptions(column_types=_all_text(data, delimiter),
                                                 strings_can_be_null=True, quoted_strings_can_be_null=True,
                                                 null_values=[""]),
        )
    except pa.ArrowInvalid as e:
        text = str(e)
        if "UTF8" in text:
            check_utf8(original, source, path, delimiter)
        if "Empty CSV" in text:
            msg = f"source {source} ({path}) is empty: no header row"
            raise DataError(msg, hint=f"export {source} again with its header line") from None
        msg = f"cannot read {path}: {text.splitlines()[0]}"
        raise DataError(msg, hint="check the file is CSV (or set [sources.S] delimiter)") from None
    headers = [h.strip() for h in arrow.column_names]
    arrow = arrow.rename_columns(unique_names(headers))
    invalid.sort()
    lines = _record_lines(arrow, invalid, data, headers)
    frame = pl.from_arrow(arrow)
    assert isinstance(frame, pl.DataFrame)
    frame = frame.with_columns(lines.good.alias("_line"))
    bad = [_bad_record(text, line, _fields_reason(n, len(headers)), headers, delimiter)
           for (_, text, n), line in zip(invalid, lines.invalid, strict=True)]
    frame, bad = _unterminated(frame, bad, data, headers, delimiter)
    if frame.height and frame.select(pl.col(frame.columns[0]).is_null().any()).item():
        # A record with every field empty (a blank line, or only delimiters) holds no row.
        frame = frame.filter(~pl.all_horizontal(pl.exclude("_line").is_null()))
    if shift:
        frame = frame.with_columns(pl.col("_line") + shift)
        bad = [{**b, "_line": b["_line"] + shift} for b in bad]
    return Records(frame, headers, bad)


def _all_text(data: bytes, delimiter: str) -> dict[str, pa.DataType]:
    """Every header as a string column: kpi parses values itself, and counts what fails."""
    import pyarrow as pa

    text = data[:HEAD_BYTES].decode("utf-8", errors="replace")
    headers = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter), [])
    return dict.fromkeys(headers, pa.string())


def _fields_reason(fields: int, expected: int) -> str:
    return f"record has {fields} field{'s' * (fields != 1)} (the header has {expected})"


@dataclass
class _Lines:
    good: pl.Series  # the physical line of each good record, in order
    invalid: list[int]  # the physical line of each invalid record, in order


def _record_lines(arrow: pa.Table, invalid: list[tuple[int, str, int]], data: bytes, headers: list[str]) -> _Lines:
    """Physical lines of the records, from their numbers and the newlines inside their values.

    When the file has exactly one line per record (the common case, checked by counting its
    newlines) a record's line is its number; otherwise the newlines inside each record's
    values are counted and summed.
    """
    import polars as pl
    import pyarrow.compute as pc

    header_lines = 1 + sum(h.count("\n") for h in headers)
    total = arrow.num_rows + len(invalid)
    physical = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    numbers = pl.int_range(2, total + 2, dtype=pl.Int64, eager=True)
    bad_numbers = pl.Series([n for n, _, _ in invalid], dtype=pl.Int64)
    good_numbers = numbers.filter(~numbers.is_in(bad_numbers.implode())) if invalid else numbers
    if physical == header_lines + total:
        shift = header_lines - 1
        return _Lines(good_numbers + shift, [n + shift for n, _, _ in invalid])
    newlines = None
    for column in arrow.columns:
        counted = pc.fill_null(pc.count_substring(column, "\n"), 0)
        newlines = counted if newlines is None else pc.add(newlines, counted)
    good_nl = (pl.Series(newlines, dtype=pl.Int64) if newlines is not None
               else pl.zeros(arrow.num_rows, dtype=pl.Int64, eager=True))
    order = pl.DataFrame({
        "n": pl.concat([good_numbers, bad_numbers]),
        "nl": pl.concat([good_nl, pl.Series([t.count("\n") for _, t, _ in invalid], dtype=pl.Int64)]),
        "good": pl.concat([pl.repeat(True, arrow.num_rows, eager=True), pl.repeat(False, len(invalid), eager=True)]),
    }).sort("n")
    order = order.with_columns((header_lines + 1 + (pl.col("nl") + 1).cum_sum() - (pl.col("nl") + 1)).alias("line"))
    good = order.filter(pl.col("good"))["line"]
    return _Lines(good, order.filter(~pl.col("good"))["line"].to_list())


def _bad_record(text: str, line: int, reason: str, headers: list[str], delimiter: str) -> dict[str, Any]:
    fields = _split(text, delimiter)
    shown = text.replace("\r", "").replace("\n", "\\n")
    return {"_line": line, "value": shown if len(shown) <= SHORT else shown[:SHORT - 1] + "…", "reason": reason,
            "fields": {h: f or None for h, f in zip(headers, fields, strict=False)}}


def _unterminated(frame: pl.DataFrame, bad: list[dict[str, Any]], data: bytes, headers: list[str],
                  delimiter: str) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """The last record, when a quote opened in it runs to the end of the file, as a bad record.

    Such a record swallows the rest of the file into one value. Quotes are counted first (an
    even count cannot leave one open); the last record is then read again by Python's csv module,
    which says whether the data ended inside a quoted field.
    """
    import polars as pl

    if data.count(b'"') % 2 == 0:
        return frame, bad
    last_good = int(frame.select(pl.col("_line").max().fill_null(0)).item())
    last_bad = max((int(b["_line"]) for b in bad), default=0)
    start = max(last_good, last_bad)
    if start < 2:
        return frame, bad
    offset = _offset_of_line(data, start)
    tail = data[offset:].decode("utf-8", errors="replace")
    try:
        list(csv.reader(io.StringIO(tail, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as e:
        if "unexpected end of data" not in str(e):
            return frame, bad
    else:
        return frame, bad
    reason = 'unterminated quote: a " opened in this record is never closed'
    record = _bad_record(tail, start, reason, headers, delimiter)
    if start == last_bad:
        bad = [b for b in bad if b["_line"] != start]
    else:
        frame = frame.filter(pl.col("_line") != start)
    return frame, [*bad, record]


def _offset_of_line(data: bytes, line: int) -> int:
    """Where physical ``line`` starts, found from the end (the last record is near it)."""
    offset = len(data)
    for _ in range(data.count(b"\n") - line + 2):
        offset = data.rfind(b"\n", 0, offset)
    return offset + 1


# ---- JSON lines ----------------------------------------------------------------------------------

def read_records(path: str, table: dict[str, object], source: str) -> Records:
    """A CSV or JSON-lines file's records (see the module docstring)."""
    if is_json(path):
        from kpi_cli.records_json import read_jsonl

        return read_jsonl(path, table, source)
    return read_csv(path, table, source)
