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
from typing import IO, TYPE_CHECKING

from kpi_cli.errors import UsageError

if TYPE_CHECKING:
    import polars as pl

FORMATS = ("auto", "table", "csv", "json", "jsonl", "parquet", "xlsx")
BINARY = ("parquet", "xlsx")
EXTENSIONS = {".csv": "csv", ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet",
              ".xlsx": "xlsx", ".txt": "table"}
NUMERIC = ("value", "numerator", "denominator")


def choose_format(fmt: str, output: Path | None, stdout_tty: bool) -> str:
    """The concrete format: explicit, else from ``--output``'s extension, else by TTY."""
    if fmt not in FORMATS:
        msg = f"--format {fmt!r} is not one of {', '.join(FORMATS)}"
        raise UsageError(msg)
    if fmt == "auto":
        if output is not None:
            fmt = EXTENSIONS.get(output.suffix.lower(), "csv")
        else:
            fmt = "table" if stdout_tty else "csv"
    if fmt in BINARY and output is None and stdout_tty:
        msg = f"{fmt} is binary and stdout is a terminal"
        raise UsageError(msg, hint=f"write it to a file with --output result.{fmt}, or pipe it")
    return fmt


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


def rounded(df: pl.DataFrame, decimals: int | None) -> pl.DataFrame:
    """Round float columns for ``--decimals``; machine formats otherwise keep full precision."""
    if decimals is None:
        return df
    import polars as pl

    return df.with_columns(pl.col(pl.Float64).round(decimals))


def _json_value(v: object) -> object:
    if isinstance(v, date):
        return v.isoformat()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def to_bytes(df: pl.DataFrame, fmt: str) -> bytes:
    """Serialise ``df`` in a text format with fixed formatting."""
    if fmt == "csv":
        return df.write_csv(null_value="", date_format="%Y-%m-%d").encode()
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
    """Write to ``dest`` through a temporary file in its folder and a rename: never a partial file."""
    folder = dest.parent if str(dest.parent) else Path()
    if not folder.is_dir():
        msg = f"--output {dest}: folder {folder} does not exist"
        raise UsageError(msg, hint="create the folder first")
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=folder)
    try:
        # mkstemp makes 0600 files; the result should have the mode a plain write would give.
        Path(tmp).chmod(dest.stat().st_mode & 0o777 if dest.exists() else 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            if isinstance(payload, str):
                f.write(payload.encode())
            else:
                write_to(payload, fmt, f)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            Path(tmp).unlink()
        raise


def write_stdout(df: pl.DataFrame, fmt: str, stream: IO[bytes] | None = None) -> None:
    """Write a machine format to stdout (binary formats only when it is not a terminal)."""
    out = stream or sys.stdout.buffer
    write_to(df, fmt, out)
    out.flush()


def write_to(df: pl.DataFrame, fmt: str, out: IO[bytes]) -> None:
    """Serialise ``df`` in any machine format onto a binary stream."""
    if fmt == "parquet":
        df.write_parquet(out, statistics=False)
    elif fmt == "xlsx":
        out.write(xlsx_bytes(df))
    else:
        out.write(to_bytes(df, fmt))
