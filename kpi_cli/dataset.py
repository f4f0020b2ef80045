"""A run's view of its data directory: each source parsed once, bad rows counted and reported."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from kpi_cli.engines import release_held
from kpi_cli.errors import BadRowsError
from kpi_cli.loading import Source, load_source
from kpi_cli.parsing import Check, Typed, bad_row_lines, bad_rows, parse_source, rejects_frame, typed_source

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    import polars as pl

    # Given the located source and its mapped canonical columns: (transforms, checks).
    Rules = Callable[[Source, list[str]], tuple[list[pl.Expr], list[Check]]]

    from kpi_cli.config import Settings


# Memo keys of objects that hold frames kept on an engine (dropped with them: :meth:`Dataset.deferred`).
HELD = "held:"


@dataclass
class SourceReport:
    """What happened to one source: for ``-v`` and ``kpi validate``."""

    name: str
    files: list[str]
    mapping: dict[str, str]
    rows_read: int = 0
    duplicates: int | None = 0  # None: not looked for (a streamed plain log: they change no distinct count)
    rejected: int = 0
    used: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    date_range: tuple[str, str] | None = None
    epoch_units: dict[str, list[str]] = field(default_factory=dict)  # timestamp column -> units found


@dataclass
class Dataset:
    """Sources of one run, parsed lazily on first use and cached."""

    settings: Settings
    on_bad_rows: str = "error"
    reports: dict[str, SourceReport] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what a run decided from the data, shown at -v
    # Warnings about how a metric is read (LTV:CAC at the default margin), not about the data:
    # compute prints them with the warnings; validate, which computes nothing to read, does not.
    advice: list[str] = field(default_factory=list)
    rejected: list[pl.DataFrame] = field(default_factory=list)
    _cache: dict[str, pl.DataFrame | None] = field(default_factory=dict)
    sources: dict[str, Source] = field(default_factory=dict)  # located sources, to show bad rows as read
    # Bad rows found under --on-bad-rows error while :meth:`deferred` is active: raised together at its end.
    pending: list[tuple[str, pl.DataFrame, str]] = field(default_factory=list)
    _deferring: int = 0
    memo: dict[str, object] = field(default_factory=dict)  # derived frames, e.g. events after hygiene
    # Count every row decision even where no metric needs it (-v: exact duplicates in a plain event log).
    audit: bool = False

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
        self.sources[name] = src
        if rules is None and frame_step is None:  # the source's own rules (kpi_cli.rules), as validate runs them
            from kpi_cli.rules import row_rules

            rules, frame_step = row_rules(name)
        transforms, checks = rules(src, list(src.mapping)) if rules else ([], [])
        parsed = parse_source(src, transforms, checks, frame_step)
        bad, records = with_bad_records(src, parsed.bad)
        report = SourceReport(name, src.files, src.mapping, parsed.rows_read + records, parsed.duplicates)
        report.epoch_units = parsed.epoch_units
        self.notes += src.notes  # what reading decided (rows a preset's filter left out), shown at -v
        src.release()  # the good rows are parsed: the text read is not needed any more
        self._settle(report, bad)
        good = parsed.good
        report.used = good.height
        self._cache[name] = good
        return good

    def typed(self, name: str, *, rules: Rules | None = None) -> Typed:
        """Source ``name`` parsed lazily, bad rows flagged in ``_check`` but not yet removed.

        For sources too large to hold whole (events): the caller streams over ``frame`` and calls
        :meth:`settle` with what it found. CSV and JSON are parsed once and held in memory, so
        that several passes do not parse the text again; Parquet is scanned on every pass.
        """
        key = f"typed:{name}"
        if key in self.memo:  # a second reader of the log (tickets' e-mail → account lookup) parses nothing
            cached: Typed = self.memo[key]  # type: ignore[assignment]
            return cached
        src = load_source(name, self.settings)
        assert src is not None
        self.warnings += src.warnings
        self.sources[name] = src
        if rules is None:
            from kpi_cli.rules import row_rules

            rules = row_rules(name)[0]
        transforms, checks = rules(src, list(src.mapping)) if rules else ([], [])
        typed = typed_source(src, transforms, checks)  # CSV and JSON come back parsed and held
        self.memo[key] = typed
        return typed

    def settle(self, typed: Typed, flagged: pl.DataFrame, rows_read: int) -> SourceReport:
        """Record a streamed source: bad rows (``_file, _line, _check``) raise or go to the rejects.

        The caller fills in ``duplicates`` and ``used`` on the returned report once it knows them.
        """
        src = typed.src
        if src.name in self.reports and self.memo.get(f"typed:{src.name}") is typed:
            return self.reports[src.name]  # settled by an earlier pass over the same parse
        bad, records = with_bad_records(src, bad_rows(src, flagged, typed.checks, typed.present))
        report = SourceReport(src.name, src.files, src.mapping, rows_read + records, epoch_units=typed.epoch_units)
        src.release()
        self._settle(report, bad)
        return report

    def reject(self, name: str, rows: pl.DataFrame, column: str, reason: str, hint: str) -> None:
        """Rows of a loaded source (``_file``, ``_line``) found bad after parsing, e.g. a currency
        without a rate: raised under ``--on-bad-rows error``, else counted and kept for the rejects."""
        import polars as pl

        if rows.height == 0:
            return
        src, report = self.sources[name], self.reports[name]
        flagged = rows.select("_file", "_line", pl.lit(0, dtype=pl.UInt16).alias("_check"))
        bad = bad_rows(src, flagged, [(column, pl.lit(True), reason)], list(src.mapping))
        if self.on_bad_rows == "error":
            report.rejected += bad.height
            self._fail(name, bad, hint)
            return
        report.rejected += bad.height
        report.used -= bad.height
        report.reasons[reason] = report.reasons.get(reason, 0) + bad.height
        self.rejected.append(rejects_frame(bad).with_columns(pl.lit(name).alias("source")))

    def _settle(self, report: SourceReport, bad: pl.DataFrame) -> None:
        """Count bad rows by reason; raise under ``--on-bad-rows error``, else keep them for the rejects."""
        import polars as pl

        name = report.name
        report.rejected = bad.height
        if bad.height:
            counts = bad.group_by("reason").len().sort(["len", "reason"], descending=[True, False])
            report.reasons = dict(zip(counts["reason"].to_list(), counts["len"].to_list(), strict=True))
            if self.on_bad_rows == "error":
                self.reports[name] = report
                self._fail(name, bad, "fix them, or pass --on-bad-rows skip (with --rejects FILE to keep them)")
                return
            self.rejected.append(rejects_frame(bad).with_columns(pl.lit(name).alias("source")))
        self.reports[name] = report

    def _fail(self, name: str, bad: pl.DataFrame, hint: str) -> None:
        """Bad rows under ``--on-bad-rows error``: raised now, or at the end of :meth:`deferred`."""
        self.pending.append((name, bad, hint))
        if not self._deferring:
            self.raise_pending()

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        """Collect bad rows found under ``--on-bad-rows error`` and raise them all at the end, so the
        error counts every bad row of the run (one found while parsing, another only when a later step
        looks up its currency's rate). A bad-row error wins over an error it caused downstream."""
        self._deferring += 1
        try:
            yield
        except Exception:
            if self.pending and self._deferring == 1:
                self.raise_pending()
            raise
        finally:
            self._deferring -= 1
            if not self._deferring:
                release_held()  # a run's engine work ends with its outermost deferred block, failed or not
                # What pointed at it goes too: a later block (kpi validate computes twice) reads again.
                self.memo = {k: v for k, v in self.memo.items() if not k.startswith(HELD)}
        if not self._deferring:
            self.raise_pending()

    def raise_pending(self) -> None:
        """Raise the collected bad rows, if any, as one error naming every source and the total."""
        if not self.pending:
            return
        pending, self.pending = self.pending, []
        names = list(dict.fromkeys(name for name, _, _ in pending))
        total = sum(bad.height for _, bad, _ in pending)
        lines: list[str] = []
        for name in names:
            import polars as pl

            bad = pl.concat([b for n, b, _ in pending if n == name], how="diagonal_relaxed")
            lines += bad_row_lines(bad.sort("_file", "_line"))
        msg = f"{total} bad row{'s' * (total != 1)} in {', '.join(names)}"
        raise BadRowsError(msg, lines[:10], total, hint=pending[0][2])


def with_bad_records(src: Source, bad: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """The bad rows found by parsing plus the records the reader could not make rows of
    (:attr:`Source.bad_records`), and how many of those there were."""
    import polars as pl

    records = src.bad_records
    if records is None or records.height == 0:
        return bad, 0
    return pl.concat([bad, records], how="diagonal_relaxed"), records.height
