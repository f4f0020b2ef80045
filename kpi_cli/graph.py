"""The metric graph: which family bases a run needs, each built once, and metrics built from metrics.

A *family* (revenue, acquisition, engagement, surveys, support) is a folder with its catalogue,
a base builder and its evaluators; this module knows families only through :data:`FAMILY_MODULES`
and the :class:`Family` each exposes. A run asks for metric ids; the graph walks their parts
(``Metric.of``, in any family, with lags), works out how far back each family must reach (P − 1
for a growth rate, P − N for ``--cac-lag N``), builds each base at most once, and joins parts on
period and ``--by`` groups.

Every family's ``evaluate`` returns *rows*: ``period`` (date), one text column per ``--by``
dimension (null = blank), ``value``, ``numerator``, ``denominator`` (floats), ``complete``.
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

import polars as pl

from kpi_cli.errors import UsageError
from kpi_cli.metric import Metric
from kpi_cli.options import calendar_of
from kpi_cli.periods import Calendar, RangeRequest, parse_as_of, resolve_range
from kpi_cli.registry import METRICS

if TYPE_CHECKING:
    from kpi_cli.api import Run

FAMILY_MODULES = {
    "revenue": "kpi_cli.revenue.family",
    "acquisition": "kpi_cli.acquisition.family",
    "engagement": "kpi_cli.engagement.family",
    "surveys": "kpi_cli.surveys.family",
    "support": "kpi_cli.support.family",
}
UNATTRIBUTED = "(unattributed)"  # SPEC §3.2: a customer or spend row without a channel
# Families whose `channel` is SPEC §3.2's acquisition channel (customers.channel, spend, traffic):
# an events column called channel is an event property like any other.
CHANNEL_FAMILIES = ("revenue", "acquisition")


@dataclass(frozen=True)
class Family:
    """One metric family: the sources it reads, its base builder and its evaluator."""

    name: str
    sources: tuple[str, ...]
    build: Callable[[Graph], Any]
    evaluate: Callable[[Graph, Any, str], pl.DataFrame]
    dims: Callable[[Graph], Collection[str] | None] | None = None  # None: the family checks --by itself
    data_end: Callable[[Graph], int | None] | None = None


def family(name: str) -> Family:
    """The :class:`Family` named ``name``."""
    if name not in FAMILY_MODULES:
        msg = f"unknown metric family {name!r}"
        raise UsageError(msg)
    found: Family = importlib.import_module(FAMILY_MODULES[name]).FAMILY
    return found


def split_part(part: str, options: object) -> tuple[str, int]:
    """``"id@N"`` or ``"id@option"`` → (id, lag in periods); a bare id has lag 0.

    Examples
    --------
    >>> split_part("new_signups@1", None)
    ('new_signups', 1)
    """
    mid, _, lag = part.partition("@")
    if not lag:
        return mid, 0
    if lag.isdigit():
        return mid, int(lag)
    return mid, int(getattr(options, lag))


class Graph:
    """One run's plan: the metrics asked, the families they reach, their bases and rows.

    Examples
    --------
    >>> from kpi_cli.api import Run, _options
    >>> g = Graph(Run.start(_options("sample_data", {"month": "2024-03", "currency": "USD"})), ["arpa"])
    >>> g.families
    ['revenue']
    """

    def __init__(self, run: Run, ids: list[str]) -> None:
        self.run = run
        self.ids = ids
        self.by: tuple[str, ...] = tuple(run.options.by)
        v = run.settings.values
        self.calendar: Calendar = calendar_of(v)
        self.as_of: int = parse_as_of(run.options.as_of, self.calendar)
        self.builds: Counter[str] = Counter()  # bases built, per family (each at most once)
        self._bases: dict[str, Any] = {}
        self._rows: dict[str, pl.DataFrame] = {}
        self._lookback: dict[str, int] = {}
        self.closure: dict[str, int] = {}  # every metric reached → the largest lag it is read at
        for mid in ids:
            self._visit(mid, 0)
        # The families whose bases the run builds: formulas the graph evaluates itself need none of their own.
        self.families = list(dict.fromkeys(self.family_of(m) for m in self.closure
                                           if not (METRICS[m].op and METRICS[m].of)))
        self._span: tuple[date, date] | None = None

    # --- planning -------------------------------------------------------------------------------
    def _visit(self, mid: str, lag: int) -> None:
        m = METRICS[mid]
        if mid in self.closure and self.closure[mid] >= lag:
            return
        self.closure[mid] = max(lag, self.closure.get(mid, 0))
        if m.op is None or not m.of:  # its family evaluates it: that family reaches back ``lag`` periods
            fam = self.family_of(mid)
            self._lookback[fam] = max(self._lookback.get(fam, 0), lag)
        extra = 1 if m.op == "growth" else 0
        for part in m.of:
            pid, plag = split_part(part, self.run.options)
            self._visit(pid, lag + plag)
            if extra:
                self._visit(pid, lag + plag + extra)

    @staticmethod
    def family_of(mid: str) -> str:
        """The family whose base computes ``mid``."""
        return METRICS[mid].family

    def ids_of(self, name: str) -> list[str]:
        """The metrics of family ``name`` this run evaluates through that family (asked or parts)."""
        return [m for m in self.closure if self.family_of(m) == name and not (METRICS[m].op and METRICS[m].of)]

    def lookback(self, name: str) -> int:
        """Periods before the first requested one that family ``name``'s rows must also cover."""
        return self._lookback.get(name, 0)

    def check_by(self) -> None:
        """Refuse a ``--by`` dimension that a family this run reads cannot split by."""
        refused = self.refusal()
        if refused is not None:
            raise refused

    def refusal(self) -> UsageError | None:
        """The usage error for the first ``--by`` dimension a family of this run cannot split by, if any."""
        if not self.by:
            return None
        for name in self.families:
            fam = family(name)
            dims = fam.dims(self) if fam.dims is not None else None
            if dims is None:
                continue
            for dim in self.by:
                if dim not in dims and not (dim.startswith("prop.") and "prop.*" in dims):
                    users = [m for m in self.closure if self.family_of(m) == name]
                    asked = [m for m in self.ids if m in users] or [m for m in self.ids if users]
                    msg = (f"--by {dim}: {', '.join(asked[:3])} read{'s' * (len(asked) == 1)} {name} data "
                           f"({', '.join(fam.sources)}), which has no {dim!r} to split by")
                    offered = sorted(d for d in dims if not d.startswith("_"))
                    known = ", ".join(offered[:20]) + (f", … ({len(offered) - 20} more)" if len(offered) > 20 else "")
                    return UsageError(msg, hint=f"{name} can split by: {known or 'nothing'}")
        return None

    # --- the periods ----------------------------------------------------------------------------
    @property
    def span(self) -> tuple[date, date]:
        """First and last requested period starts, resolved once for every family."""
        if self._span is None:
            req = self.run.options.range
            implicit = req.is_empty() or req.last is not None
            end = None
            if implicit:
                ends = [e for e in (self._data_end(f) for f in self.families) if e is not None]
                end = max(ends) if ends else None
            self._span = resolve_range(req, self.calendar, self.as_of, end)
        return self._span

    def _data_end(self, name: str) -> int | None:
        fam = family(name)
        return fam.data_end(self) if fam.data_end else None

    def data_ends(self) -> list[int]:
        """The last instant of each family's data this run reads (families that know it)."""
        return [e for e in (self._data_end(f) for f in self.families) if e is not None]

    @property
    def first(self) -> date:
        """The first requested period start."""
        return self.span[0]

    @property
    def last(self) -> date:
        """The last requested period start."""
        return self.span[1]

    @property
    def range_request(self) -> RangeRequest:
        """The range as families should resolve it: as given when one family is involved (its own
        data end decides an implicit range), else the one span every family shares."""
        req = self.run.options.range
        if len(self.families) <= 1 or not (req.is_empty() or req.last is not None):
            return req
        lo, hi = self.span
        return RangeRequest(from_=lo.isoformat(), to=hi.isoformat())

    def periods(self, lookback: int = 0) -> list[date]:
        """Period starts from ``lookback`` periods before the first through the last requested."""
        cal = self.calendar
        return cal.starts(cal.step(self.first, -lookback), cal.step(self.last, 1))[:-1]

    # --- bases and rows -------------------------------------------------------------------------
    def base(self, name: str) -> Any:
        """Family ``name``'s base for this run, built on first use."""
        if name not in self._bases:
            self.builds[name] += 1
            self._bases[name] = family(name).build(self)
        return self._bases[name]

    def rows(self, mid: str, lag: int = 0) -> pl.DataFrame:
        """Rows of metric ``mid``; with ``lag`` row P carries the value of period P − lag."""
        if mid not in self._rows:
            self._rows[mid] = self._evaluate(mid)
        rows = self._rows[mid]
        return self.shift(rows, lag) if lag else rows

    def _evaluate(self, mid: str) -> pl.DataFrame:
        m = METRICS[mid]
        if m.op and m.of:
            return self._formula(m)
        name = self.family_of(mid)
        rows = family(name).evaluate(self, self.base(name), mid)
        return self._conform(rows, channels=name in CHANNEL_FAMILIES)

    def _conform(self, rows: pl.DataFrame, channels: bool) -> pl.DataFrame:
        """Rows in the shared shape: group columns as text; with ``channels`` (a family whose channel is
        the acquisition channel: customers', spend's, traffic's) ``(unattributed)`` for a blank one."""
        fixes = [pl.col(d).cast(pl.String).fill_null(UNATTRIBUTED) if d == "channel" and channels
                 else pl.col(d).cast(pl.String) for d in self.by if d in rows.columns]
        fixes += [pl.col(c).cast(pl.Float64) for c in ("value", "numerator", "denominator")]
        return rows.with_columns(*fixes, pl.col("complete").cast(pl.Boolean))

    def _formula(self, m: Metric) -> pl.DataFrame:
        parts = [self.rows(*split_part(p, self.run.options)) for p in m.of]
        if m.op == "growth":
            now = parts[0]
            before = self.shift(now, 1)
            diff = self.formula("difference", now, before)
            return self.formula("ratio", diff, before)
        assert m.op is not None
        a, b = parts[0], parts[1]
        return self.formula(m.op, a, b)

    def keys(self) -> list[str]:
        """Join keys of rows: period and the ``--by`` dimensions."""
        return ["period", *self.by]

    def formula(self, op: str, a: pl.DataFrame, b: pl.DataFrame, missing_b: float | None = None) -> pl.DataFrame:
        """Two metrics' rows combined period by period (and group by group).

        ``ratio`` keeps its parts as numerator and denominator (a zero or missing denominator
        gives null); ``product`` and ``difference`` keep them too. A period or group one side lacks
        is null there, unless ``missing_b`` says what a missing ``b`` row is (0 new MRR in a channel
        no customer came from, where a missing spend row stays unknown).
        """
        keys = [k for k in self.keys() if k in a.columns and k in b.columns]
        left = a.select(*keys, pl.col("value").alias("_a"), pl.col("complete").alias("_ca"))
        right = b.select(*keys, pl.col("value").alias("_b"), pl.col("complete").alias("_cb"))
        j = left.join(right, on=keys, how="full", coalesce=True, nulls_equal=True)
        if missing_b is not None:
            # A row only ``a`` has: ``b`` is the stated value there (a real null in ``b`` stays null).
            j = j.with_columns(pl.when(pl.col("_cb").is_null()).then(pl.lit(missing_b)).otherwise(pl.col("_b"))
                               .alias("_b"))
        x, y = pl.col("_a"), pl.col("_b")
        value: pl.Expr
        if op == "ratio":
            value = pl.when(y != 0).then(x / y).otherwise(None)
        elif op == "product":
            value = x * y
        elif op == "difference":
            value = x - y
        else:
            msg = f"unknown formula {op!r}"
            raise ValueError(msg)
        complete = pl.coalesce(pl.col("_ca") & pl.col("_cb"), pl.col("_ca"), pl.col("_cb"))
        return j.select(*keys, value.cast(pl.Float64).alias("value"), x.cast(pl.Float64).alias("numerator"),
                        y.cast(pl.Float64).alias("denominator"), complete.alias("complete"))

    def shift(self, rows: pl.DataFrame, lag: int) -> pl.DataFrame:
        """Rows moved ``lag`` periods later: the row for P carries what was P − lag's."""
        cal = self.calendar
        starts = {p: cal.step(p, lag) for p in rows["period"].unique().to_list()}
        moved = rows.with_columns(pl.col("period").replace_strict(starts, return_dtype=pl.Date))
        return moved.filter(pl.col("period") <= self.last)

    def output(self, mid: str) -> pl.DataFrame:
        """Rows of an asked-for metric over the requested periods only."""
        rows = self.rows(mid)
        return rows.filter(pl.col("period") >= self.first, pl.col("period") <= self.last)
