"""Brute-force satisfaction & support oracle in plain Python, written from SPEC §2 / §3.4.

No dataframe library and no kpi code: every metric loops over plain rows, in exact rational
arithmetic (``fractions.Fraction``), so it can be trusted by reading it. Where SPEC §3.4 is silent
the oracle follows docs/decisions.md ("Support tickets", "Surveys"); those places say so.

Time (SPEC §2): instants are converted to the reporting zone *before* truncating to a period; a
period is ``[start, end)`` in that zone; ``--as-of DAY`` is the start of that day in the zone
(decisions "Time"); a period is complete when it ends by both ``--as-of`` and the last instant
of the data it reads.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

Number = Fraction | None
Group = tuple[str | None, ...]  # one value per --by dimension (None = blank group)


# ---------------------------------------------------------------- periods in the reporting zone
@dataclass(frozen=True)
class Grain:
    """A period grain in one reporting zone: ``period`` = first day of the period holding an instant."""

    tz: str = "UTC"
    period: str = "month"  # day | week | month
    week_start: int = 0  # Monday = 0 … Sunday = 6

    def start_of(self, day: date) -> date:
        if self.period == "day":
            return day
        if self.period == "week":
            return day - timedelta(days=(day.weekday() - self.week_start) % 7)
        return day.replace(day=1)

    def next(self, start: date) -> date:
        if self.period == "day":
            return start + timedelta(days=1)
        if self.period == "week":
            return start + timedelta(days=7)
        return date(start.year + (start.month == 12), start.month % 12 + 1, 1)

    def prev(self, start: date) -> date:
        if self.period == "month":
            return date(start.year - (start.month == 1), (start.month - 2) % 12 + 1, 1)
        return start - timedelta(days=1 if self.period == "day" else 7)

    def of(self, instant: datetime) -> date:
        """The period holding ``instant``: converted to the zone first, then truncated (SPEC §2)."""
        return self.start_of(instant.astimezone(ZoneInfo(self.tz)).date())

    def midnight(self, day: date) -> datetime:
        """Local midnight of ``day`` in the zone, as an aware UTC instant (so arithmetic is on instants)."""
        return datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(self.tz)).astimezone(UTC)

    def end(self, start: date) -> datetime:
        """The exclusive end instant of the period starting on ``start``."""
        return self.midnight(self.next(start))

    def periods(self, first: date, last: date) -> list[date]:
        out, p = [], self.start_of(first)
        while p <= last:
            out.append(p)
            p = self.next(p)
        return out


def complete(grain: Grain, period: date, as_of: datetime, *data_ends: datetime | None) -> bool:
    """SPEC §2: incomplete when the period ends after --as-of or after the last instant of its data."""
    end = grain.end(period)
    return end <= as_of and all(d is not None and end <= d for d in data_ends)


# ---------------------------------------------------------------- statistics
def ratio(num: Fraction | int, den: Fraction | int) -> Number:
    """SPEC §3: a ratio with a zero denominator is null."""
    return None if den == 0 else Fraction(num) / Fraction(den)


def percentile(values: Sequence[Fraction], q: Fraction) -> Number:
    """Linear interpolation between order statistics (numpy's default; SPEC §3). q = 1/2 is the median."""
    if not values:
        return None
    xs = sorted(values)
    h = (len(xs) - 1) * q
    lo = math.floor(h)
    if lo + 1 >= len(xs):
        return xs[lo]
    return xs[lo] + (h - lo) * (xs[lo + 1] - xs[lo])


def median(values: Sequence[Fraction]) -> Number:
    """An even count gives the mean of the two middle values (SPEC §3)."""
    return percentile(values, Fraction(1, 2))


# ---------------------------------------------------------------- surveys
@dataclass(frozen=True)
class Response:
    """One survey response as the file holds it (``line`` = physical line, header = 1)."""

    line: int
    responded_at: datetime
    score: str  # "0".."10", or "Good"/"Bad" on a binary csat row
    survey: str
    respondent_id: str = ""
    user_id: str = ""
    email: str = ""
    account_id: str = ""
    touchpoint: str = ""
    wave: str = ""

    def key(self) -> tuple[str, str | int]:
        """Who answered: respondent_id (or user_id / lower-cased email), else the response itself (SPEC §3.4)."""
        if self.respondent_id:
            return ("id", self.respondent_id)
        if self.user_id:
            return ("id", self.user_id)
        if self.email:
            return ("email", self.email.lower())
        return ("line", self.line)

    def same_row(self) -> tuple[object, ...]:
        """The cells of the row, for SPEC §3.4's "exact duplicate rows dropped"."""
        return (self.responded_at, self.score, self.survey, self.respondent_id, self.user_id, self.email,
                self.account_id, self.touchpoint, self.wave)


def distinct(rows: Iterable[Response]) -> list[Response]:
    """Drop exact duplicate rows, keeping the first."""
    seen: set[tuple[object, ...]] = set()
    out = []
    for r in rows:
        if r.same_row() not in seen:
            seen.add(r.same_row())
            out.append(r)
    return out


def latest_per_respondent(rows: Iterable[Response]) -> dict[tuple[str, str | int], Response]:
    """The latest response of each respondent by responded_at (a tie: the later line, decisions "Surveys")."""
    out: dict[tuple[str, str | int], Response] = {}
    for r in rows:
        k = r.key()
        if k not in out or (r.responded_at, r.line) > (out[k].responded_at, out[k].line):
            out[k] = r
    return out


def nps_parts(scores: Iterable[Fraction]) -> tuple[int, int, int]:
    """(promoters ≥ 9, detractors ≤ 6, n)."""
    xs = list(scores)
    return sum(1 for s in xs if s >= 9), sum(1 for s in xs if s <= 6), len(xs)


def nps_value(p: int, d: int, n: int) -> Number:
    return ratio(100 * (p - d), n)


def nps_moe(p: Fraction | int, d: Fraction | int, n: Fraction | int) -> float | None:
    """SPEC §3.4: 1.96 × 100 × √((p + d − (p − d)²)/n), p and d as shares of n."""
    if n == 0:
        return None
    ps, ds = Fraction(p) / Fraction(n), Fraction(d) / Fraction(n)
    return 1.96 * 100 * math.sqrt(float((ps + ds - (ps - ds) ** 2) / Fraction(n)))


@dataclass
class Row:
    """One expected output row: value, numerator, denominator (None = null)."""

    value: Fraction | float | None
    numerator: Fraction | None = None
    denominator: Fraction | None = None
    complete: bool | None = None  # None: not checked


@dataclass
class SurveyData:
    responses: list[Response]
    grain: Grain
    as_of: datetime
    by_touchpoint: bool = False
    segments: dict[str, str] | None = None  # --by segment: customers' segment of the response's account
    csat_mode: str = "share"
    ces_max: int = 7
    mrr: Callable[[str, date], Fraction] | None = None  # account's MRR at the end of a period
    billing_end: datetime | None = None
    rows: list[Response] = field(init=False)

    def __post_init__(self) -> None:
        kept = distinct(self.responses)
        # --ces-scale 1-5 makes CES 6 and 7 bad rows; the tests run them under --on-bad-rows skip.
        self.rows = [r for r in kept if not (r.survey == "ces" and int(r.score) > self.ces_max)]

    @property
    def data_end(self) -> datetime | None:
        return max((r.responded_at for r in self.rows), default=None)

    def group(self, r: Response) -> Group:
        if self.segments is not None:  # through account_id = customer_id; no account or no customer: blank
            return (self.segments.get(r.account_id) or None,)
        return (r.touchpoint or None,) if self.by_touchpoint else ()

    def in_period(self, survey: str, period: date) -> dict[Group, list[Response]]:
        out: dict[Group, list[Response]] = {}
        for r in self.rows:
            if r.survey == survey and self.grain.of(r.responded_at) == period:
                out.setdefault(self.group(r), []).append(r)
        return out

    def done(self, period: date, *more: datetime | None) -> bool:
        return complete(self.grain, period, self.as_of, self.data_end, *more)

    # -- nps (respondent level) --
    def nps(self, period: date) -> dict[Group, tuple[Row, Row]]:
        """(nps row, nps_moe row) per group with ≥ 1 response."""
        out = {}
        for g, rows in self.in_period("nps", period).items():
            latest = latest_per_respondent(rows).values()
            p, d, n = nps_parts(Fraction(int(r.score)) for r in latest)
            done = self.done(period)
            out[g] = (Row(nps_value(p, d, n), Fraction(p - d), Fraction(n), done),
                      Row(nps_moe(p, d, n), None, None, done))
        return out

    # -- nps per account (decisions "Surveys": median of the respondents' latest scores) --
    def account_scores(self, period: date) -> dict[str, Fraction]:
        by_account: dict[str, list[Response]] = {}
        for rows in self.in_period("nps", period).values():
            for r in rows:
                if r.account_id:
                    by_account.setdefault(r.account_id, []).append(r)
        out = {}
        for acct, rows in by_account.items():
            m = median([Fraction(int(r.score)) for r in latest_per_respondent(rows).values()])
            assert m is not None
            out[acct] = m
        return out

    def nps_account(self, period: date) -> tuple[Row, Row]:
        p, d, n = nps_parts(self.account_scores(period).values())
        done = self.done(period)
        return Row(nps_value(p, d, n), Fraction(p - d), Fraction(n), done), Row(nps_moe(p, d, n), None, None, done)

    def nps_weighted(self, period: date) -> tuple[Row, Row]:
        """--nps-weight mrr: each account weighs its MRR at the end of P (SPEC); parts and the Kish n of
        the margin follow decisions "Surveys"."""
        assert self.mrr is not None
        weights = {a: self.mrr(a, period) for a in self.account_scores(period)}
        scores = {a: s for a, s in self.account_scores(period).items() if weights[a] > 0}
        total = sum((weights[a] for a in scores), Fraction(0))
        wp = sum((weights[a] for a, s in scores.items() if s >= 9), Fraction(0))
        wd = sum((weights[a] for a, s in scores.items() if s <= 6), Fraction(0))
        n = len(scores)
        done = self.done(period, self.billing_end)
        if total == 0:
            return Row(None, Fraction(0), Fraction(0), done), Row(None, None, None, done)
        value = 100 * (wp - wd) / total
        kish = total**2 / sum((weights[a] ** 2 for a in scores), Fraction(0))
        moe = nps_moe(wp / total * kish, wd / total * kish, kish)
        return Row(value, n * (wp - wd) / total, Fraction(n), done), Row(moe, None, None, done)

    def coverage(self, period: date, accounts: Iterable[str]) -> Row:
        """nps_coverage_mrr = MRR of accounts with ≥ 1 nps response in P / MRR (all accounts)."""
        assert self.mrr is not None
        answered = {r.account_id for rows in self.in_period("nps", period).values() for r in rows if r.account_id}
        total = sum((self.mrr(a, period) for a in accounts), Fraction(0))
        covered = sum((self.mrr(a, period) for a in set(accounts) & answered), Fraction(0))
        return Row(ratio(covered, total), covered, total, self.done(period, self.billing_end))

    # -- csat / ces: every response counts (SPEC §3.4) --
    def csat(self, period: date) -> dict[Group, Row]:
        out = {}
        for g, rows in self.in_period("csat", period).items():
            if self.csat_mode == "mean":  # binary answers have no 1–5 value (decisions "Surveys")
                xs = [Fraction(int(r.score)) for r in rows if r.score.isdigit()]
                num, den = sum(xs, Fraction(0)), Fraction(len(xs))
            else:
                num = Fraction(sum(1 for r in rows if r.score in ("4", "5") or r.score.lower() == "good"))
                den = Fraction(len(rows))
            out[g] = Row(ratio(num, den), num, den, self.done(period))
        return out

    def ces(self, period: date) -> dict[Group, Row]:
        out = {}
        for g, rows in self.in_period("ces", period).items():
            xs = [Fraction(int(r.score)) for r in rows]
            total = sum(xs, Fraction(0))
            out[g] = Row(ratio(total, len(xs)), total, Fraction(len(xs)), self.done(period))
        return out

    # -- detractor recovery: P − 1 → P, read before --from (SPEC §2, §3.4) --
    def detractor_recovery(self, period: date) -> Row:
        before = [r for rows in self.in_period("nps", self.grain.prev(period)).values() for r in rows]
        now = list(latest_per_respondent(r for rows in self.in_period("nps", period).values() for r in rows).values())
        detractors = [r for r in latest_per_respondent(before).values() if int(r.score) <= 6]
        matched = recovered = 0
        for d in detractors:
            hits = [r for r in now if same_person(d, r)]
            assert len(hits) <= 1, "the generator keeps one identity form per person and period"
            if hits:
                matched += 1
                recovered += int(hits[0].score) >= 7
        return Row(ratio(recovered, matched), Fraction(recovered), Fraction(matched), self.done(period))


def wave_recovery(rows: Iterable[Response], grain: Grain) -> dict[date, tuple[int, int]]:
    """Detractor recovery over waves (SPEC §3.4 "previous period (or wave)"): each wave against the wave
    before it, waves ordered by their first response and reported in the period of that response
    (decisions "Surveys"). Returns period → (recovered, matched)."""
    waves: dict[str, list[Response]] = {}
    for r in rows:
        if r.survey == "nps" and r.wave:
            waves.setdefault(r.wave, []).append(r)
    order = sorted(waves, key=lambda w: (min(r.responded_at for r in waves[w]), w))
    out: dict[date, tuple[int, int]] = {}
    for before, now in itertools.pairwise(order):
        detractors = [r for r in latest_per_respondent(waves[before]).values() if int(r.score) <= 6]
        latest = list(latest_per_respondent(waves[now]).values())
        matched = []
        for d in detractors:
            hits = [r for r in latest if same_person(d, r)]
            assert len(hits) <= 1, "the generator keeps one identity form per person and wave"
            matched += hits
        period = grain.of(min(r.responded_at for r in waves[now]))
        assert period not in out, "the generator starts one wave per period"
        out[period] = (sum(1 for r in matched if int(r.score) >= 7), len(matched))
    return out


def same_person(a: Response, b: Response) -> bool:
    """Matched on respondent_id, else (when either lacks one) lower-cased email (SPEC §3.4)."""
    ida, idb = a.respondent_id or a.user_id, b.respondent_id or b.user_id
    if ida and idb:
        return ida == idb
    return bool(a.email) and a.email.lower() == b.email.lower()


# ---------------------------------------------------------------- tickets
@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    created_at: datetime
    first_response: datetime | None  # from first_response_at or created_at + first_response_minutes
    resolved: datetime | None  # final resolution, likewise
    business_minutes: Fraction | None = None  # first_response_business_minutes
    business_resolution: Fraction | None = None  # full_resolution_business_minutes
    reopens: int = 0
    tags: tuple[str, ...] = ()
    agent_created: bool = False
    via: str = ""
    account_id: str = ""
    requester_email: str = ""


def join_account(t: Ticket, customer_emails: dict[str, str], event_emails: dict[str, str]) -> str | None:
    """SPEC §3.4: account_id, else requester_email → customers email, else → events email (lower-cased)."""
    if t.account_id:
        return t.account_id
    email = t.requester_email.strip().lower()
    return customer_emails.get(email) or event_emails.get(email) if email else None


@dataclass
class TicketData:
    tickets: list[Ticket]
    grain: Grain
    as_of: datetime
    tag: str | None = None
    outbound: tuple[str, ...] = ()
    hours: str = "calendar"
    group_of: Callable[[Ticket], Group] | None = None  # --by: the ticket's group
    only: Group | None = None  # metrics of this group only

    def groups(self) -> set[Group]:
        assert self.group_of is not None
        return {self.group_of(t) for t in self.kept}

    @property
    def kept(self) -> list[Ticket]:
        """Agent-created tickets are outbound work, out of every ticket metric; --tag keeps tagged ones."""
        out = [t for t in self.tickets if not t.agent_created and t.via.lower() not in self.outbound]
        if self.tag is not None:
            out = [t for t in out if self.tag in t.tags]
        if self.only is not None and self.group_of is not None:
            out = [t for t in out if self.group_of(t) == self.only]
        return out

    @property
    def data_end(self) -> datetime | None:
        """The latest creation, first response or final resolution (decisions "Support tickets")."""
        instants = [i for t in self.tickets for i in (t.created_at, t.first_response, t.resolved) if i is not None]
        return max(instants, default=None)

    def created(self, period: date) -> list[Ticket]:
        return [t for t in self.kept if self.grain.of(t.created_at) == period]

    def answered(self, period: date) -> list[Ticket]:
        """Created in P and answered by --as-of (at or before its instant)."""
        return [t for t in self.created(period) if t.first_response is not None and t.first_response <= self.as_of]

    def response_hours(self, period: date) -> list[Fraction]:
        if self.hours == "business":  # a blank business cell is left out (decisions "Support tickets")
            return [t.business_minutes / 60 for t in self.answered(period) if t.business_minutes is not None]
        return [hours(t.created_at, t.first_response) for t in self.answered(period) if t.first_response]

    def done(self, period: date) -> bool:
        return complete(self.grain, period, self.as_of, self.data_end)

    def metrics(self, period: date) -> dict[str, Row]:
        created, answered = self.created(period), self.answered(period)
        resolved = [t for t in created if t.resolved is not None and t.resolved <= self.as_of]
        if self.hours == "business":
            resolved_hours = [t.business_resolution / 60 for t in resolved if t.business_resolution is not None]
        else:
            resolved_hours = [hours(t.created_at, t.resolved) for t in resolved]
        # reopen_rate: final resolutions in P, those after --as-of included (decisions "Support tickets")
        resolved_in_p = [t for t in self.kept if t.resolved is not None and self.grain.of(t.resolved) == period]
        reopened = sum(1 for t in resolved_in_p if t.reopens > 0)
        done = self.done(period)
        frh = self.response_hours(period)
        return {
            "tickets": Row(Fraction(len(created)), None, None, done),
            "first_response_time": Row(median(frh), None, None, done),
            "first_response_time_p90": Row(percentile(frh, Fraction(9, 10)), None, None, done),
            "first_response_rate": Row(ratio(len(answered), len(created)), Fraction(len(answered)),
                                       Fraction(len(created)), done),
            "unanswered_tickets": Row(Fraction(len(created) - len(answered)), None, None, done),
            "resolution_time": Row(median(resolved_hours), None, None, done),
            "reopen_rate": Row(ratio(reopened, len(resolved_in_p)), Fraction(reopened), Fraction(len(resolved_in_p)),
                               done),
        }


def hours(start: datetime, stop: datetime | None) -> Fraction:
    assert stop is not None
    delta = stop - start
    return Fraction(delta.days * 86400 + delta.seconds, 3600) + Fraction(delta.microseconds, 3600 * 10**6)


# ---------------------------------------------------------------- other families' parts
def active_actors(events: Iterable[tuple[datetime, str]], grain: Grain, period: date) -> int:
    """Distinct users with ≥ 1 event in P (every event makes its actor active: SPEC §1.2 default)."""
    return len({user for at, user in events if grain.of(at) == period})


@dataclass(frozen=True)
class Span:
    """One monthly subscription span [start, end) of ``amount`` a month; end None = still running."""

    customer: str
    start: datetime
    end: datetime | None
    amount: Fraction


def mrr_at(spans: Iterable[Span], customer: str, instant: datetime) -> Fraction:
    """MRR_c at the last instant before ``instant`` (a snapshot at the end of a period, SPEC §2)."""
    last = instant - timedelta(microseconds=1)
    return sum((s.amount for s in spans if s.customer == customer and s.start <= last
                and (s.end is None or last < s.end)), Fraction(0))
