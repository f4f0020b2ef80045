"""Reporting periods: parsing range options and laying out the period grid (SPEC §2).

Boundaries are computed once, in Python, as local midnights in the reporting timezone and then
turned into UTC instants (microseconds since the epoch). Rows are never converted one by one:
pipelines map each instant onto the grid by binary search over the boundaries.

This module imports no dataframe library, so ``kpi --help`` stays fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from kpi_cli.errors import UsageError

GRAINS = ("day", "week", "month", "quarter", "year")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RangeRequest:
    """The range options as the user gave them; resolved against the data later."""

    month: str | None = None
    quarter: str | None = None
    year: str | None = None
    from_: str | None = None
    to: str | None = None
    last: int | None = None

    def is_empty(self) -> bool:
        """True when no range option was given (the default: the last complete period)."""
        return not any((self.month, self.quarter, self.year, self.from_, self.to, self.last))


@dataclass(frozen=True)
class Calendar:
    """Grain, timezone and week start: everything that decides where a period begins."""

    grain: str = "month"
    tz: str = "UTC"
    week_start: str = "mon"

    def __post_init__(self) -> None:
        if self.grain not in GRAINS:
            msg = f"unknown period {self.grain!r}"
            raise UsageError(msg, hint=f"use one of: {', '.join(GRAINS)}")
        if self.week_start not in WEEKDAYS:
            msg = f"unknown week start {self.week_start!r}"
            raise UsageError(msg, hint=f"use one of: {', '.join(WEEKDAYS)}")
        zone(self.tz)

    def floor(self, d: date) -> date:
        """First day of the period containing ``d``."""
        if self.grain == "day":
            return d
        if self.grain == "week":
            return d - timedelta(days=(d.weekday() - WEEKDAYS.index(self.week_start)) % 7)
        if self.grain == "month":
            return d.replace(day=1)
        if self.grain == "quarter":
            return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
        return date(d.year, 1, 1)

    def step(self, d: date, n: int = 1) -> date:
        """The period start ``n`` periods after the period start ``d``."""
        if self.grain == "day":
            return d + timedelta(days=n)
        if self.grain == "week":
            return d + timedelta(days=7 * n)
        months = {"month": 1, "quarter": 3, "year": 12}[self.grain] * n
        return add_months(d, months)

    def instant(self, d: date) -> int:
        """UTC microseconds of local midnight starting day ``d`` (DST-aware)."""
        local = datetime(d.year, d.month, d.day, tzinfo=zone(self.tz))
        return (local - EPOCH) // timedelta(microseconds=1)

    def local_date(self, us: int) -> date:
        """The local calendar day containing the UTC instant ``us``."""
        return (EPOCH + timedelta(microseconds=us)).astimezone(zone(self.tz)).date()

    def starts(self, first: date, stop: date) -> list[date]:
        """Period starts from the period containing ``first`` up to and including ``stop``'s."""
        out, d, last = [], self.floor(first), self.floor(stop)
        while d <= last:
            out.append(d)
            d = self.step(d)
        return out


def zone(name: str) -> ZoneInfo:
    """The IANA zone ``name`` or a usage error naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        msg = f"unknown timezone {name!r}"
        raise UsageError(msg, hint="use an IANA name such as UTC, Europe/Berlin or America/New_York") from None


def add_months(d: date, months: int) -> date:
    """``d`` shifted by whole months, day clamped to the month's length."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    nxt = date(year + (month == 12), month % 12 + 1, 1)
    return date(year, month, min(d.day, (nxt - timedelta(days=1)).day))


def parse_day(text: str, option: str, *, end: bool = False) -> date:
    """Parse ``YYYY-MM`` or ``YYYY-MM-DD``; with ``end`` a month means its last day."""
    m = re.fullmatch(r"(\d{4})-(\d{2})(?:-(\d{2}))?", text.strip())
    try:
        if not m:
            raise ValueError
        y, mo = int(m.group(1)), int(m.group(2))
        if m.group(3):
            return date(y, mo, int(m.group(3)))
        first = date(y, mo, 1)
        return add_months(first, 1) - timedelta(days=1) if end else first
    except ValueError:
        msg = f"{option} {text!r} is not a date"
        raise UsageError(msg, hint=f"write {option} as YYYY-MM or YYYY-MM-DD") from None


def parse_as_of(text: str | None, cal: Calendar) -> int:
    """The ``--as-of`` instant in UTC microseconds: local midnight starting that day, or now.

    A day means "as of the start of that day", so ``--as-of 2023-04-01`` treats March as
    complete and April as the current, incomplete month.
    """
    if not text or text in ("now", "today"):
        now = (datetime.now(UTC) - EPOCH) // timedelta(microseconds=1)
        return cal.instant(cal.local_date(now)) if text == "today" else now
    return cal.instant(parse_day(text, "--as-of"))


def resolve_range(req: RangeRequest, cal: Calendar, as_of: int, data_end: int | None) -> tuple[date, date]:
    """The first and last (inclusive) period starts the user asked for.

    ``last``/``this`` are relative to ``as_of`` (UTC microseconds). With no range option, the
    most recent complete period: one that ends no later than both ``as_of`` and the data's
    last instant.

    Examples
    --------
    >>> resolve_range(RangeRequest(month="2023-03"), Calendar(), 1_700_000_000_000_000, None)
    (datetime.date(2023, 3, 1), datetime.date(2023, 3, 1))
    """
    reference = min(as_of, data_end) if data_end is not None else as_of
    today = cal.local_date(as_of)
    given = [flag for flag, v in (("--month", req.month), ("--quarter", req.quarter), ("--year", req.year),
                                  ("--last", req.last)) if v is not None]
    spans = given + (["--from/--to"] if req.from_ or req.to else [])
    if len(spans) > 1:
        # Each of these names a whole range on its own: two of them would silently drop one.
        msg = f"{' and '.join(spans)} each set the range: give only one of them"
        raise UsageError(msg, hint="e.g. --month 2024-01, or --last 3, or --from 2024-01 --to 2024-03")
    if req.last is not None:
        if req.last < 1:
            msg = "--last must be at least 1"
            raise UsageError(msg, hint="e.g. --last 12")
        newest = cal.step(cal.floor(cal.local_date(reference)), -1)
        return cal.step(newest, -(req.last - 1)), newest
    if req.month or req.quarter or req.year:
        lo, hi = _named_span(req, today)
    elif req.from_ or req.to:
        hi = parse_day(req.to, "--to", end=True) if req.to else today
        lo = parse_day(req.from_, "--from") if req.from_ else hi
        if hi < lo:
            msg = f"--to {req.to} is before --from {req.from_}"
            raise UsageError(msg)
    else:
        newest = cal.step(cal.floor(cal.local_date(reference)), -1)
        return newest, newest
    return cal.floor(lo), cal.floor(hi)


def _named_span(req: RangeRequest, as_of: date) -> tuple[date, date]:
    if req.month:
        month = Calendar(grain="month")
        if req.month in ("this", "last"):
            lo = month.step(month.floor(as_of), -1 if req.month == "last" else 0)
        else:
            lo = parse_day(req.month, "--month")
            if not re.fullmatch(r"\d{4}-\d{2}", req.month.strip()):
                msg = f"--month {req.month!r} is not a month"
                raise UsageError(msg, hint="write --month as YYYY-MM, last or this")
        return lo, add_months(lo, 1) - timedelta(days=1)
    if req.quarter:
        quarter = Calendar(grain="quarter")
        if req.quarter in ("this", "last"):
            lo = quarter.step(quarter.floor(as_of), -1 if req.quarter == "last" else 0)
        else:
            m = re.fullmatch(r"(\d{4})-?Q([1-4])", req.quarter.strip(), flags=re.IGNORECASE)
            if not m:
                msg = f"--quarter {req.quarter!r} is not a quarter"
                raise UsageError(msg, hint="write --quarter as YYYY-Qn, last or this")
            lo = date(int(m.group(1)), 3 * int(m.group(2)) - 2, 1)
        return lo, add_months(lo, 3) - timedelta(days=1)
    text = str(req.year).strip()
    if text in ("this", "last"):
        y = as_of.year - (text == "last")
    elif re.fullmatch(r"\d{4}", text):
        y = int(text)
    else:
        msg = f"--year {text!r} is not a year"
        raise UsageError(msg, hint="write --year as YYYY, last or this")
    return date(y, 1, 1), date(y, 12, 31)
