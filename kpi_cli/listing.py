"""``kpi list``: the catalogue as text, and the fast path that prints it before Typer is imported.

:func:`render` is the one place the listing is written; the Typer command echoes it and
:func:`fast_list` writes it for the plain invocations. Typer 0.29 coerces every option value through
pydantic, which costs about 0.1 s of imports per process, so the console script
(:mod:`kpi_cli.__main__`) answers ``kpi list [-f table|csv|json]`` from the registry alone and hands
anything else (``--help``, other options, shell completion, an unusual stdout) to Typer.
This module imports neither Typer nor a dataframe library.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from kpi_cli.registry import GROUPS, METRICS

FORMATS = ("table", "csv", "json")
_FORMAT_FLAGS = ("-f", "--format")


def render(format: str) -> str:
    """The ``kpi list`` output, newline-terminated: ``table``, ``csv`` or ``json``.

    Any other format is a usage error naming these three (``kpi list -f xlsx`` used to print CSV).
    """
    if format not in FORMATS:
        from kpi_cli.errors import UsageError

        msg = f"kpi list --format {format!r} is not one of {', '.join(FORMATS)}"
        raise UsageError(msg, hint="e.g. kpi list -f csv > metrics.csv")
    rows = [(m.id, m.listed_group, m.unit, ", ".join(m.sources), m.label) for m in METRICS.values() if not m.hidden]
    if format == "table":
        width = max(len(r[0]) for r in rows) + 1
        group = max(len(r[1]) for r in rows) + 1
        lines = [f"{r[0]:<{width}} {r[1]:<{group}} {r[2]:<9} {r[4]}" for r in rows]
        lines += ["", f"groups: {', '.join(GROUPS)}"]
    elif format == "json":
        import json

        keys = ("id", "group", "unit", "sources", "label")
        lines = [json.dumps([dict(zip(keys, r, strict=True)) for r in rows], indent=1)]
    else:  # csv
        lines = ["id,group,unit,sources,label"]
        lines += [",".join(f'"{x}"' if "," in x else x for x in r) for r in rows]
    return "".join(f"{line}\n" for line in lines)


def list_format(args: Sequence[str]) -> str | None:
    """The format when ``args`` (``sys.argv[1:]``) is a plain ``list`` call, else None.

    Served: ``list``, ``list -f F``, ``list -fF``, ``list --format F``, ``list --format=F`` with F one
    of :data:`FORMATS`. Everything else (help, repeated or unknown options, other values) is None,
    so Typer parses it.

    Examples
    --------
    >>> list_format(["list"]), list_format(["list", "-f", "json"]), list_format(["list", "--format=csv"])
    ('table', 'json', 'csv')
    >>> list_format(["list", "--help"]) is None, list_format(["list", "-f", "xml"]) is None
    (True, True)
    """
    if not args or args[0] != "list":
        return None
    rest = list(args[1:])
    if not rest:
        return "table"
    if len(rest) == 2 and rest[0] in _FORMAT_FLAGS:
        value = rest[1]
    elif len(rest) == 1 and rest[0].startswith("--format="):
        value = rest[0].removeprefix("--format=")
    elif len(rest) == 1 and rest[0].startswith("-f") and not rest[0].startswith("--"):
        value = rest[0][2:]
    else:
        return None
    return value if value in FORMATS else None


def _plain_stdout() -> bool:
    """True when writing to ``sys.stdout`` gives the bytes ``typer.echo`` would: a UTF-8 text stream.

    Click re-wraps an ASCII stream as UTF-8 and fails its own way on others: those go to Typer.
    """
    import codecs

    encoding = getattr(sys.stdout, "encoding", None)
    if not encoding:
        return False
    try:
        return codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        return False


def fast_list(args: Sequence[str]) -> int | None:
    """Print ``kpi list`` for a plain invocation and return the exit code; None when Typer should run.

    Exit codes follow the Typer command: 0, also when the reader closed the pipe (``kpi list | head``
    exits quietly, as every command does), 130 on Ctrl-C.
    """
    fmt = list_format(args)
    if fmt is None or not _plain_stdout():
        return None
    # A shell-completion request (``_KPI_COMPLETE=…``) is Typer's to answer, whatever the arguments.
    if any(k.startswith("_") and k.endswith("_COMPLETE") for k in os.environ):
        return None
    try:
        sys.stdout.write(render(fmt))
        sys.stdout.flush()
    except BrokenPipeError:
        # Say nothing, and keep the interpreter's final flush from complaining (kpi_cli.cli.handled).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        return 130
    return 0
