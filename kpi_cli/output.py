"""Writing results: CSV/JSON/JSONL/Parquet/XLSX, atomically, byte-identical across reruns."""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import tempfile
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING, NoReturn

from kpi_cli.errors import DataError, UsageError

if TYPE_CHECKING:
    import polars as pl

FORMATS = ("auto", "table", "csv", "json", "jsonl", "parquet", "xlsx")
BINARY = ("parquet", "xlsx")
TEXT = ("csv", "tsv", "json", "jsonl")  # written by :func:`to_bytes`, floats by :func:`float_text`
# tsv is no --format of its own: a .tsv --output writes the csv format tab-separated.
EXTENSIONS = {".csv": "csv", ".tsv": "tsv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
              ".parquet": "parquet", ".xlsx": "xlsx", ".txt": "table"}
NUMERIC = ("value", "numerator", "denominator")


def choose_format(fmt: str, output: Path | None, stdout_tty: bool) -> str:
    """The concrete format: explicit, else from ``--output``'s extension, else by TTY.

    An explicit format must agree with a known extension (any text format may go into ``.txt``);
    with ``auto``, an extension kpi does not know is a usage error rather than a guess.
    """
    if fmt not in FORMATS:
        msg = f"--format {fmt!r} is not one of {', '.join(FORMATS)}"
        raise UsageError(msg)
    if output is not None:
        if output.is_dir():
            _folder_error(output, fmt)
        ext = output.suffix.lower()
        implied = EXTENSIONS.get(ext)
        known = ", ".join(EXTENSIONS)
        if fmt == "auto" and implied is None:
            what = f"the extension {ext}" if ext else "a name without an extension"
            msg = f"--output {output}: cannot tell the format from {what}"
            raise UsageError(msg, hint=f"end the file name in one of {known}, or give --format")
        if fmt == "auto":
            fmt = str(implied)
        elif implied is not None and fmt != implied and not (implied == "table" and fmt in (*TEXT, "table")):
            msg = f"--format {fmt} contradicts --output's extension {ext} ({implied})"
            raise UsageError(msg, hint=f"leave out --format (the extension decides), or name the file "
                                       f"{output.with_suffix(_extension(fmt)).name}")
        if fmt == "csv" and implied == "tsv":
            fmt = "tsv"
    elif fmt == "auto":
        fmt = "table" if stdout_tty else "csv"
    if fmt in BINARY and output is None and stdout_tty:
        msg = f"{fmt} is binary and stdout is a terminal"
        raise UsageError(msg, hint=f"write it to a file with --output result.{fmt}, or pipe it")
    return fmt


def _extension(fmt: str) -> str:
    return ".csv" if fmt == "auto" else ".txt" if fmt == "table" else f".{fmt}"


def _folder_error(dest: Path, fmt: str) -> NoReturn:
    msg = f"cannot write {dest}: it is a folder"
    raise UsageError(msg, hint=f"name a file in it, e.g. {dest / f'result{_extension(fmt)}'}")


def wide(df: pl.DataFrame, dims: list[str]) -> pl.DataFrame:
    """One row per period (+ dimensions), one column per metric, in the order asked."""
    order = list(dict.fromkeys(df["metric"].to_list()))
    index = ["period", *dims]
    complete = df.group_by(index).agg(_all("complete"))
    pivot = df.pivot(on="metric", index=index, values="value", aggregate_function="first")
    out = pivot.join(complete, on=index, how="left", nulls_equal=True)
    return out.sort(index, nulls_last=True).select(*index, *[m for m in order if m in out.columns], "complete")


def pivot(df: pl.DataFrame, index: list[str], key: str, value: str) -> pl.DataFrame:
    """One row per ``index``, one column per ``key`` value (in order), holding ``value``.

    Columns of ``df`` named in ``index`` but varying along ``key`` (a cohort's size in its summary
    row) are taken from the first ``key``.
    """
    import polars as pl

    keys = sorted(df[key].drop_nulls().unique().to_list())
    row_key, carried = index[:1], index[1:]
    wide_df = df.with_columns(pl.col(key).cast(pl.String)).pivot(
        on=key, index=row_key, values=value, aggregate_function="first")
    if carried:
        first = df.filter(pl.col(key) == keys[0]).select(*row_key, *carried)
        wide_df = first.join(wide_df, on=row_key, how="right", nulls_equal=True)
    order = [str(k) for k in keys if str(k) in wide_df.columns]
    return wide_df.select(*index, *order)


def _all(col: str) -> pl.Expr:
    import polars as pl

    return pl.col(col).all()


def rounded(df: pl.DataFrame, decimals: int | None, fmt: str = "csv") -> pl.DataFrame:
    """Round float columns for ``--decimals``; machine formats otherwise keep full precision.

    With ``--decimals 0`` the text formats write whole numbers (``98941``, not ``98941.0``): their
    float columns become integers. Parquet and XLSX keep real floats. Rounding is half to even.
    """
    if decimals is None:
        return df
    import polars as pl

    floats = pl.col(pl.Float64)
    # Adding 0.0 turns the -0.0 that rounding a small negative gives into 0.0, so it prints as 0.
    out = df.with_columns(floats.round(decimals) + 0.0)
    if decimals == 0 and fmt in TEXT:
        out = out.with_columns(floats.cast(pl.Int64, strict=False))
    return out


def float_text(v: float) -> str | None:
    """The one spelling of a float in CSV and JSON: the shortest decimal that reads back as the same
    double (Python's ``repr``), no negative zero; NaN and infinities are written as empty / null.

    Examples
    --------
    >>> float_text(91701.31435465), float_text(1e-7), float_text(-0.0), float_text(float("nan"))
    ('91701.31435465', '1e-07', '0.0', None)
    """
    if not math.isfinite(v):
        return None
    return repr(v + 0.0)


def _json_value(v: object) -> object:
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float):
        return None if not math.isfinite(v) else v + 0.0
    return v


def to_bytes(df: pl.DataFrame, fmt: str) -> bytes:
    """Serialise ``df`` in a text format (csv, tsv, json, jsonl) with fixed formatting."""
    if fmt in ("csv", "tsv"):
        import polars as pl

        # Polars spells some floats its own way (1e-7); Python's repr is the rule JSON follows too.
        text = df.with_columns(pl.col(pl.Float64).map_elements(float_text, return_dtype=pl.String))
        return text.write_csv(separator="\t" if fmt == "tsv" else ",", null_value="",
                              date_format="%Y-%m-%d").encode()
    rows = [{k: _json_value(v) for k, v in row.items()} for row in df.iter_rows(named=True)]
    if fmt == "json":
        return (json.dumps(rows, ensure_ascii=False, indent=1) + "\n").encode()
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()


def xlsx_bytes(df: pl.DataFrame) -> bytes:
    """An XLSX workbook with a fixed creation time, so reruns are byte-identical."""
    import io
    from datetime import datetime

    import xlsxwriter

    buf = io.BytesIO()
    with xlsxwriter.Workbook(buf, {"in_memory": True}) as wb:
        wb.set_properties({"created": datetime(2000, 1, 1)})
        df.write_excel(wb, worksheet="kpi", autofit=True)
    return buf.getvalue()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(text: str, dest: Path) -> None:
    """Write text (a rendered table) to ``dest`` atomically."""
    write_file(text, "table", dest)


def write_file(payload: pl.DataFrame | str, fmt: str, dest: Path) -> None:
    """Write to ``dest`` through a temporary file in its folder and a rename: never a partial file.

    A destination that cannot be a file (a folder, a folder that is missing or not writable) is a
    usage error (exit 2); a failure while writing (a full disk) a data error (exit 1).
    """
    folder = dest.parent if str(dest.parent) else Path()
    if dest.is_dir():
        _folder_error(dest, fmt)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        msg = f"cannot write {dest}: {folder} {what}"
        raise UsageError(msg, hint="create the folder first, or write elsewhere")
    data = payload.encode() if isinstance(payload, str) else serialise(payload, fmt)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=folder)
    except PermissionError:
        msg = f"cannot write {dest}: no permission to create files in {folder}"
        raise UsageError(msg, hint="write to a folder you can write to") from None
    except OSError as e:
        msg = f"cannot write {dest}: {e.strerror or e}"
        raise DataError(msg, hint="write to another folder") from None
    try:
        # mkstemp makes 0600 files; the result should have the mode a plain write would give.
        Path(tmp).chmod(dest.stat().st_mode & 0o777 if dest.exists() else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, dest)
    except BaseException as e:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        if isinstance(e, OSError):
            msg = f"cannot write {dest}: {e.strerror or e}"
            raise DataError(msg) from None
        raise


def write_stdout(df: pl.DataFrame, fmt: str, stream: IO[bytes] | None = None) -> None:
    """Write a machine format to stdout (binary formats only when it is not a terminal).

    The bytes are made first and written by Python, so a reader that went away (``| head``) is a
    plain ``BrokenPipeError`` in every format (a writer such as Parquet's would wrap it in its own
    error), which the command line turns into a quiet exit 0.
    """
    out = stream or sys.stdout.buffer
    out.write(serialise(df, fmt))
    out.flush()


def serialise(df: pl.DataFrame, fmt: str) -> bytes:
    """``df`` in any machine format, as bytes."""
    if fmt == "parquet":
        import io

        buf = io.BytesIO()
        df.write_parquet(buf, statistics=False)
        return buf.getvalue()
    if fmt == "xlsx":
        return xlsx_bytes(df)
    return to_bytes(df, fmt)
