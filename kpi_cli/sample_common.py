"""What every generator of the sample dataset shares: the calendar, the accounts, random instants.

Standard library only (``kpi sample`` must stay instant and ``kpi list`` must not import Polars).
"""

from __future__ import annotations

import csv
import itertools
import random
from calendar import monthrange
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

START = datetime(2023, 1, 1, tzinfo=UTC)
END = datetime(2025, 1, 1, tzinfo=UTC)  # exclusive end of the simulated history
DAY = timedelta(days=1)
LAUNCH_DAYS = 14  # the beta waitlist signed up in the first two weeks of January 2023


@dataclass
class Account:
    """A signed-up customer and what the other sources need to know about it."""

    id: str
    created: datetime
    paying: bool
    segment: str
    currency: str
    country: str
    channel: str
    referred_by: str
    plan: str = "free"
    first_paid: datetime | None = None
    trial_start: datetime | None = None
    windows: list[tuple[datetime, datetime]] = field(default_factory=list)  # product use, end capped at END
    users: list[tuple[str, datetime]] = field(default_factory=list)  # (user_id, joined)
    key_rate: list[float] = field(default_factory=list)  # expected key actions per active user, by month

    @property
    def domain(self) -> str:
        """The mail domain of the account's users (``cus_0001`` → ``cus0001.example.com``)."""
        return f"{self.id.replace('_', '')}.example.com"

    def email(self, user: str) -> str:
        """A user's address, as its ``Signed Up`` event carries it."""
        return f"{user}@{self.domain}"


def iso(t: datetime | None) -> str:
    """``2024-03-01T10:00:00Z``, or blank for None."""
    return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else ""


def at(rng: random.Random, lo: datetime, hi: datetime) -> datetime:
    """A random whole-second instant in [lo, hi)."""
    return (lo + (hi - lo) * rng.random()).replace(microsecond=0)


def add_months(t: datetime, n: int) -> datetime:
    """``t`` moved by ``n`` calendar months, the day clipped to the month's length."""
    y, m = divmod(t.month - 1 + n, 12)
    return t.replace(year=t.year + y, month=m + 1, day=min(t.day, monthrange(t.year + y, m + 1)[1]))


MONTHS = [add_months(START, m) for m in range(25)]
GROWTH = list(itertools.accumulate(1 + m / 8 for m in range(24)))  # later months weigh more


def growth_instant(rng: random.Random) -> datetime:
    """An instant in the 24 months, later months more likely (the company grows)."""
    m = rng.choices(range(24), cum_weights=GROWTH)[0]
    return at(rng, MONTHS[m], MONTHS[m + 1])


def month_of(t: datetime) -> int:
    """Index of ``t``'s month in :data:`MONTHS` (0 = January 2023)."""
    return (t.year - START.year) * 12 + t.month - 1


def write_csv(path: Path, header: Iterable[str], rows: Iterable[Iterable[str]]) -> Path:
    """One CSV file, ``\\n`` line ends, UTF-8."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    return path
