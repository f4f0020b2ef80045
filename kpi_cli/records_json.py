"""JSON records: JSON lines (one object per line) or one JSON array of objects, each at its line.

A line that is not an object is a bad record (:mod:`kpi_cli.records`), not a lost file.
"""

from __future__ import annotations

import io
import json
from typing import TYPE_CHECKING, Any

from kpi_cli.errors import DataError
from kpi_cli.records import SHORT, Records, check_utf8, encoding_of, file_bytes, utf8

if TYPE_CHECKING:
    import polars as pl


def read_jsonl(path: str, table: dict[str, object], source: str) -> Records:
    """Every JSON object of a JSON-lines file at its physical line; other lines are bad records.

    A file holding one JSON array (an API's list) is read as its elements, each at its first line.
    """
    raw = file_bytes(path)
    data = utf8(raw, encoding_of(raw[:4], table, source, path), source, path)
    check_utf8(data, source, path)
    objects: list[bytes] = []
    numbers: list[int] = []
    bad: list[dict[str, Any]] = []
    whole = data.strip()
    if whole[:1] == b"[" and whole[-1:] == b"]":  # one JSON array (an API's list, e.g. Delighted's)
        found = _array_objects(data, path)
        if found is not None:
            objects, numbers, bad = found
            frame = _objects_frame(objects, numbers, bad, path)
            return Records(frame, [c for c in frame.columns if c != "_line"], sorted(bad, key=lambda b: b["_line"]))
    for number, line in enumerate(data.split(b"\n"), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith(b"{"):
            objects.append(stripped)
            numbers.append(number)
        else:
            bad.append(_bad_json(stripped, number, "not a JSON object"))
    frame = _objects_frame(objects, numbers, bad, path)
    return Records(frame, [c for c in frame.columns if c != "_line"], sorted(bad, key=lambda b: b["_line"]))


def _array_objects(data: bytes, path: str) -> tuple[list[bytes], list[int], list[dict[str, Any]]] | None:
    """The elements of a file holding one JSON array, each at the physical line where it starts.

    An element that is not an object is a bad record; text that is not JSON makes the file
    unreadable, named at its line. None when text follows the array's end: JSON lines whose
    first and last lines happen to be arrays, read line by line instead.
    """
    import re

    text = data.decode("utf-8")
    decoder = json.JSONDecoder()
    between = re.compile(r"[\s,]*")
    objects: list[bytes] = []
    numbers: list[int] = []
    bad: list[dict[str, Any]] = []
    at, line, counted = text.index("[") + 1, 1, 0
    while True:
        gap = between.match(text, at)
        at = gap.end() if gap else at
        if at >= len(text) or text[at] == "]":
            break
        line += text.count("\n", counted, at)
        counted = at
        try:
            value, end = decoder.raw_decode(text, at)
        except ValueError as e:
            msg = f"cannot read {path}:{line}: not valid JSON ({str(e).split(':')[0]})"
            raise DataError(msg, hint="check the file is one JSON array of objects, or JSON lines") from None
        element = text[at:end].encode()
        if isinstance(value, dict):
            objects.append(json.dumps(value).encode())
            numbers.append(line)
        else:
            bad.append(_bad_json(element, line, "not a JSON object"))
        at = end
    if text[at + 1:].strip():
        return None
    return objects, numbers, bad


def _objects_frame(objects: list[bytes], numbers: list[int], bad: list[dict[str, Any]], path: str) -> pl.DataFrame:
    """The objects as a frame with ``_line``; when one does not parse, each is tried alone."""
    import polars as pl

    def frame_of(rows: list[bytes]) -> pl.DataFrame:
        if not rows:
            return pl.DataFrame()
        return pl.read_ndjson(io.BytesIO(b"\n".join(rows)), infer_schema_length=None)

    try:
        frame = frame_of(objects)
        if frame.height == len(objects):
            return frame.with_columns(pl.Series("_line", numbers, dtype=pl.Int64))
    except pl.exceptions.PolarsError:
        pass
    keep: list[bytes] = []
    kept: list[int] = []
    for obj, number in zip(objects, numbers, strict=True):
        try:
            value = json.loads(obj)
        except ValueError as e:
            bad.append(_bad_json(obj, number, f"not valid JSON ({str(e).split(':')[0]})"))
            continue
        if not isinstance(value, dict):
            bad.append(_bad_json(obj, number, "not a JSON object"))
            continue
        keep.append(obj)
        kept.append(number)
    try:
        frame = frame_of(keep)
    except pl.exceptions.PolarsError as e:
        msg = f"cannot read {path}: {str(e).splitlines()[0]}"
        raise DataError(msg, hint="check every line is one JSON object with the same fields") from None
    return frame.with_columns(pl.Series("_line", kept, dtype=pl.Int64))


def _bad_json(text: bytes, line: int, reason: str) -> dict[str, Any]:
    shown = text.decode("utf-8", errors="replace")
    # No columns to split it into: the rejects keep the line itself, as ``record``.
    return {"_line": line, "value": shown if len(shown) <= SHORT else shown[:SHORT - 1] + "…", "reason": reason,
            "fields": {}, "record": shown}
