"""A run's view of its data directory: each source parsed once, bad rows counted and reported."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kpi_cli.errors import BadRowsError
from kpi_cli.loading import Source, load_source
from kpi_cli.parsing import Check, bad_row_lines, parse_source, rejects_frame

if TYPE_CHECKING:
    from collections.abc import Callable

    import polars as pl

    # Given the located source and its mapped canonical columns: (transforms, checks).
    Rules = Callable[[Source, list[str]], tuple[list[pl.Expr], list[Check]]]

    from kpi_cli.config import Settings


@dataclass
class SourceReport:
    """What happened to one source: for ``-v`` and ``kpi validate``."""

    name: str
    files: list[str]
    mapping: dict[str, str]
    rows_read: int = 0
    duplicates: int = 0
    rejected: int = 0
    used: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    date_range: tuple[str, str] | None = None


@dataclass
class Dataset:
    """Sources of one run, parsed lazily on first use and cached."""

    settings: Settings
    on_bad_rows: str = "error"
    reports: dict[str, SourceReport] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    rejected: list[pl.DataFrame] = field(default_factory=list)
    _cache: dict[str, pl.DataFrame | None] = field(default_factory=dict)

    def has(self, name: str) -> bool:
        """True when source ``name`` has files."""
        from kpi_cli.loading import find_files

        return bool(find_files(name, self.settings))

    def load(self, name: str, *, required: bool = True, rules: Rules | None = None,
             frame_step: Callable[[pl.DataFrame], pl.DataFrame] | None = None) -> pl.DataFrame | None:
        """Parsed good rows of ``name`` (``_file``/``_line`` kept); ``rules`` add transforms and checks."""
        if name in self._cache:
            return self._cache[name]
        src = load_source(name, self.settings, required=required)
        if src is None:
            self._cache[name] = None
            return None
        self.warnings += src.warnings
        transforms, checks = rules(src, list(src.mapping)) if rules else ([], [])
        parsed = parse_source(src, transforms, checks, frame_step)
        report = SourceReport(name, src.files, src.mapping, parsed.rows_read, parsed.duplicates)
        report.rejected = parsed.bad.height
        if parsed.bad.height:
            counts = parsed.bad.group_by("reason").len().sort(["len", "reason"], descending=[True, False])
            report.reasons = dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True))
            if self.on_bad_rows == "error":
                lines = bad_row_lines(parsed.bad.sort("_file", "_line"))
                msg = f"{parsed.bad.height} bad row{'s' * (parsed.bad.height != 1)} in {name}"
                raise BadRowsError(msg, lines, parsed.bad.height,
                                   hint="fix them, or pass --on-bad-rows skip (with --rejects FILE to keep them)")
            import polars as pl

            self.rejected.append(rejects_frame(parsed.bad).with_columns(pl.lit(name).alias("source")))
        good = parsed.good
        report.used = good.height
        self.reports[name] = report
        self._cache[name] = good
        return good
