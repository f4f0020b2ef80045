"""Count the scans of each input file during one ``kpi`` run: ``scan_count.py [--json FILE] -- <kpi args>``.

Runs ``kpi`` in this process with Polars' entry points wrapped. Every plan Polars executes
(``LazyFrame.collect``, ``collect_all``, ``sink_*``; the eager readers too) is explained first, with
the optimiser on, and each ``SCAN [file]`` node in the explained plan counts one scan of that file:
a subplan that common-subplan elimination shares appears once (the other uses are ``CACHE``
references), so the count is the number of times the file's rows are read. ``collect_schema`` on a
file scan (the header / Parquet footer only) is counted apart as a schema read. CSV and JSON lines
are read by kpi itself (``kpi_cli.records.file_bytes``, also where ``records_json`` imports it):
a whole-file read counts as a scan, a read of the first bytes (headers, delimiter sniffing) as a
schema read. Prints a table and,
with ``--json``, writes ``{"scans": {...}, "schema_reads": {...}, "returncode": N}``.

The wrapped calls add the cost of one ``explain`` per executed plan; time ``kpi`` without this.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from pathlib import Path
from typing import Any

SCAN = re.compile(r"(?:Parquet|Csv|CSV|NDJson|NDJSON|IPC|Ipc|JSON)\s+SCAN\s+\[([^\]]*)\]")


def _files(plan: str) -> list[str]:
    """Files named by every SCAN node of an explained plan (a multi-file node names each file once)."""
    out: list[str] = []
    for m in SCAN.finditer(plan):
        out += [p.strip() for p in m.group(1).split(",") if p.strip() and not p.strip().startswith("...")]
    return out


def install() -> tuple[Counter[str], Counter[str]]:
    """Wrap Polars' execution entry points; returns the (scans, schema reads) counters they fill."""
    import polars as pl

    scans: Counter[str] = Counter()
    schema_reads: Counter[str] = Counter()
    busy = [False]  # explain() itself must not be counted, nor plans polars runs inside a counted call

    def count(plans: list[Any]) -> None:
        if busy[0]:
            return
        busy[0] = True
        try:
            text = pl.explain_all(plans) if len(plans) > 1 else plans[0].explain()
            scans.update(_files(text))
        except Exception as e:  # an unexplainable plan must not change kpi's behaviour
            scans.update([f"<plan not explained: {type(e).__name__}>"])
        finally:
            busy[0] = False

    def wrap_method(cls: type, name: str) -> None:
        original = getattr(cls, name)

        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            count([self])
            outer = busy[0]
            busy[0] = True
            try:
                return original(self, *args, **kwargs)
            finally:
                busy[0] = outer

        setattr(cls, name, wrapper)

    for name in ("collect", "sink_parquet", "sink_csv", "sink_ipc", "sink_ndjson", "collect_batches"):
        if hasattr(pl.LazyFrame, name):
            wrap_method(pl.LazyFrame, name)

    original_schema = pl.LazyFrame.collect_schema

    def schema(self: Any, *args: Any, **kwargs: Any) -> Any:
        if not busy[0]:
            busy[0] = True
            try:
                schema_reads.update(_files(self.explain(optimized=False)))
            except Exception:
                pass
            finally:
                busy[0] = False
        return original_schema(self, *args, **kwargs)

    pl.LazyFrame.collect_schema = schema  # type: ignore[method-assign]

    original_all = pl.collect_all

    def collect_all(plans: Any, *args: Any, **kwargs: Any) -> Any:
        plans = list(plans)
        if plans:
            count(plans)
        outer = busy[0]
        busy[0] = True
        try:
            return original_all(plans, *args, **kwargs)
        finally:
            busy[0] = outer

    pl.collect_all = collect_all

    for reader in ("read_parquet", "read_csv", "read_ndjson", "read_ipc"):
        original_reader = getattr(pl, reader)

        def eager(source: Any, *args: Any, _orig: Any = original_reader, **kwargs: Any) -> Any:
            if not busy[0] and isinstance(source, (str, Path)):
                scans.update([str(source)])
            outer = busy[0]
            busy[0] = True
            try:
                return _orig(source, *args, **kwargs)
            finally:
                busy[0] = outer

        setattr(pl, reader, eager)

    # CSV and JSON-lines sources are read by kpi itself (whole file: a scan; a limit: the header)
    from kpi_cli import records

    original_bytes = records.file_bytes

    def file_bytes(path: str, limit: int | None = None) -> bytes:
        (scans if limit is None else schema_reads).update([str(path)])
        return original_bytes(path, limit)

    records.file_bytes = file_bytes
    # modules that import the function by name (JSON lines) are patched where they hold it
    import importlib

    for name in ("kpi_cli.records_json",):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        if getattr(module, "file_bytes", None) is original_bytes:
            module.file_bytes = file_bytes  # type: ignore[attr-defined]
    return scans, schema_reads


def main() -> int:
    """Parse ``[--json FILE] -- <kpi args>``, run kpi, print and write the counts."""
    argv = sys.argv[1:]
    out_json = None
    if argv[:1] == ["--json"]:
        out_json, argv = Path(argv[1]), argv[2:]
    if argv[:1] == ["--"]:
        argv = argv[1:]
    scans, schema_reads = install()
    from kpi_cli.__main__ import main as kpi_main

    sys.argv = ["kpi", *argv]
    try:
        rc = kpi_main()
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
    rc = rc or 0
    print(f"{'file':<60} {'scans':>5} {'schema reads':>12}", file=sys.stderr)
    for f in sorted(set(scans) | set(schema_reads)):
        print(f"{f:<60} {scans[f]:>5} {schema_reads[f]:>12}", file=sys.stderr)
    if out_json:
        out_json.write_text(json.dumps({"scans": dict(scans), "schema_reads": dict(schema_reads), "returncode": rc}))
    return rc


if __name__ == "__main__":
    sys.exit(main())
