"""Exit codes and the exceptions that map onto them.

The CLI catches :class:`KpiError` once, at the top, and turns it into one line on stderr and the
exit code the error carries; everything below the CLI raises, never prints or exits.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes (SPEC §4.2); 130 follows the shell's 128 + SIGINT convention."""

    SUCCESS = 0
    DATA_ERROR = 1
    USAGE_ERROR = 2
    INTERRUPTED = 130


class KpiError(Exception):
    """Base error: a message for the user and an optional hint naming the fix."""

    exit_code = ExitCode.DATA_ERROR

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


class DataError(KpiError):
    """The input is missing, unreadable, or breaks a rule (exit 1)."""


class UsageError(KpiError):
    """The command line asks for something that does not exist (exit 2)."""

    exit_code = ExitCode.USAGE_ERROR


class NoMetricError(UsageError):
    """Nothing to compute: no metric given, or a group none of whose metrics the sources allow."""


class BadRowsError(DataError):
    """Rows that do not parse or break a rule, under ``--on-bad-rows error``."""

    def __init__(self, message: str, lines: list[str], total: int, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.lines = lines
        self.total = total


class InvariantError(DataError):
    """An internal identity failed (e.g. the MRR roll-forward): a bug, reported as exit 1."""
