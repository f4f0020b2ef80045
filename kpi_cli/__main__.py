"""The ``kpi`` console script and ``python -m kpi_cli``.

Kept free of Typer: a plain ``kpi list`` is answered by :func:`kpi_cli.listing.fast_list` (about
0.04 s, against ~0.15 s through Typer); every other invocation runs the Typer app.
"""

from __future__ import annotations

# `_signal`, not `signal`: the latter imports enum, ~10 ms during which Ctrl-C would print a traceback.
import _signal
import os
import sys

from kpi_cli import TYPE_CHECKING

if TYPE_CHECKING:
    from types import FrameType

INTERRUPTED = 130  # 128 + SIGINT, as shells report it (kpi_cli.errors.ExitCode.INTERRUPTED)


def _interrupted_at_start_up(_signum: int, _frame: FrameType | None) -> None:
    """Ctrl-C before a command runs (imports, option parsing, help): one line, exit 130.

    Nothing has been written yet, so leaving at once is safe; once a command runs,
    :class:`kpi_cli.cli.handled` puts Python's handler back and turns the interrupt into the
    same line, after the command's own clean-up (temporary output files) has run.
    """
    os.write(2, b"kpi: interrupted\n")
    os._exit(INTERRUPTED)


_interrupted_at_start_up.kpi_start_up = True  # type: ignore[attr-defined]  # recognised by cli.handled


def allocator_settings() -> str:
    """Polars' jemalloc settings for one short run, unless the user set their own.

    jemalloc's default of four arenas per core suits long-lived servers; in one ``kpi`` run the
    worker threads free what another allocated, and with a single arena per four cores that memory
    is reused instead of held: 20M events, 2 cores, ``compute dau``: peak 307 → 273 MB and
    1.45 → 1.33 s (docs/decisions.md, "Plain event logs").
    """
    return f"narenas:{max(1, (os.cpu_count() or 1) // 4)}"


def main() -> int | None:
    """Console-script entry point: the ``list`` fast path, else the Typer app (which exits itself)."""
    # Installed first: a KeyboardInterrupt raised inside an import would print a traceback.
    if _signal.getsignal(_signal.SIGINT) is _signal.default_int_handler:
        _signal.signal(_signal.SIGINT, _interrupted_at_start_up)
    # Read by jemalloc when Polars' library loads, so before any import of Polars.
    os.environ.setdefault("_RJEM_MALLOC_CONF", allocator_settings())
    try:
        from kpi_cli.listing import fast_list

        code = fast_list(sys.argv[1:])
        if code is not None:
            return code
        from kpi_cli.cli import app

        app()
    except KeyboardInterrupt:
        # Only reachable where Python's own handler is back in place and nothing caught it.
        os.write(2, b"kpi: interrupted\n")
        return INTERRUPTED
    return None


if __name__ == "__main__":
    sys.exit(main())
