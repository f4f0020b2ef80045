"""Brute-force acquisition oracle in plain Python (no dataframe library), written from SPEC §3.2 / §2.

It answers the acquisition metrics of SPEC §3.2 for a small world (spend, fx rates, subscriptions,
customers, signup events, web sessions) by looping over every row for every period, in exact
rational arithmetic (``fractions.Fraction``). It never reads ``kpi_cli``: only SPEC §1.2 (columns),
§2 (time), §3 (first paragraph), §3.1 (new customers, snapshots) and §3.2, plus the research file's
§1 where SPEC defers to it. It is deliberately naive so that it can be trusted by reading it.

Where SPEC is silent, the oracle takes the reading written in ``docs/decisions.md`` (section
"Acquisition and cost (issue 8)") and says so in a comment marked ``DECISION``.

Scope: one billing currency (USD, the reporting currency), monthly subscription items of quantity 1,
no discounts, ``churn_at = end``; spend in USD or EUR with an ``fx_rates`` row on every date a spend row
converts at; events carry a ``user_id`` (no anonymous merging); traffic ``session_id`` values unique.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from zoneinfo import ZoneInfo

UNATTRIBUTED = "(unattributed)"  # SPEC §3.2: a customer or spend row without a channel
PAID_MEDIUM = re.compile(r"^(cpc|ppc|paid.*|display|cpm)$")  # SPEC §3.2 default utm_medium rule
GA4_PAID = {"paid search", "paid social", "paid shopping", "paid video", "paid other", "display", "cross-network"}
NON_PAYING = {"trialing", "paused", "unpaid", "incomplete"}  # SPEC §3.1


# ---------------------------------------------------------------------------------------------- rows
@dataclass(frozen=True)
class Spend:
    """One spend row: exactly one of ``day`` (a calendar day) and ``month`` (YYYY-MM)."""

    amount: Fraction
    day: date | None = None
    month: str | None = None
    currency: str = ""  # blank = the reporting currency
    category: str = ""  # blank = acquisition (SPEC §3.2)
    channel: str = ""  # blank = (unattributed)

    @property
    def kind(self) -> str:
        return self.category.strip().lower() or "acquisition"

    @property
    def group(self) -> str:
        return self.channel.strip() or UNATTRIBUTED

    def month_days(self) -> list[date]:
        """The calendar days of a month row."""
        assert self.month is not None
        y, m = (int(x) for x in self.month.split("-"))
        first = date(y, m, 1)
        nxt = date(y + (m == 12), m % 12 + 1, 1)
        return [first + timedelta(days=i) for i in range((nxt - first).days)]

    def rate_day(self) -> date:
        """SPEC §3.2: rows convert at the rate of the row's date (a ``month`` row: its last day)."""
        return self.day if self.day is not None else self.month_days()[-1]


@dataclass(frozen=True)
class Sub:
    """One subscription item span [start, end) with a monthly price (SPEC §3.1)."""

    customer: str
    start: datetime  # aware (UTC)
    end: datetime | None
    amount: Fraction
    status: str = ""

    def value_at(self, t: datetime) -> Fraction:
        """MRR of the item at the last instant before boundary ``t``: counts iff start < t ≤ end."""
        if self.status.lower() in NON_PAYING:
            return Fraction(0)
        if self.start < t and (self.end is None or t <= self.end):
            return max(self.amount, Fraction(0))
        return Fraction(0)


@dataclass(frozen=True)
class Customer:
    id: str
    created_at: datetime | None = None
    channel: str = ""
    referred_by: str = ""


@dataclass(frozen=True)
class Event:
    ts: datetime
    event: str
    user_id: str  # "" = none
    session_id: str = ""
    anonymous_id: str = ""
    account_id: str = ""


@dataclass(frozen=True)
class Session:
    """One web session of ``traffic``."""

    session_id: str
    visitor_id: str
    started_at: datetime
    pageviews: int
    duration_s: Fraction | None = None
    key_event: bool | None = None  # None = blank cell
    signed_up: bool | None = None


@dataclass
class World:
    """Every input of a run plus the run's options."""

    spend: list[Spend] = field(default_factory=list)
    fx: dict[tuple[date, str], Fraction] = field(default_factory=dict)  # (day, currency) → USD per unit
    subs: list[Sub] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    channels: dict[str, str] = field(default_factory=dict)  # the [channels] table of kpi.toml
    tz: str = "UTC"
    grain: str = "month"
    week_start: int = 0  # Monday
    as_of: date = date(2100, 1, 1)
    cac_lag: int = 0
    prorate: bool = False
    gross_margin: Fraction = Fraction(1)
    within_days: int = 90
    engaged_seconds: Fraction = Fraction(10)
    reporting: str = "USD"
    actor: str = "user"  # --actor


# ------------------------------------------------------------------------------------------ calendar
def period_of(d: date, w: World) -> date:
    """First day of the period (SPEC §2 grain) holding local day ``d``."""
    if w.grain == "day":
        return d
    if w.grain == "week":
        return d - timedelta(days=(d.weekday() - w.week_start) % 7)
    if w.grain == "month":
        return d.replace(day=1)
    if w.grain == "quarter":
        return date(d.year, (d.month - 1) // 3 * 3 + 1, 1)
    return date(d.year, 1, 1)


def shift(p: date, n: int, w: World) -> date:
    """The period start ``n`` periods after (negative: before) period start ``p``."""
    if w.grain in ("day", "week"):
        return p + timedelta(days=n * (7 if w.grain == "week" else 1))
    months = {"month": 1, "quarter": 3, "year": 12}[w.grain] * n
    k = p.year * 12 + p.month - 1 + months
    return date(k // 12, k % 12 + 1, 1)


def periods(first: date, last: date, w: World) -> list[date]:
    """Period starts from the one holding ``first`` through the one holding ``last``."""
    out, p = [], period_of(first, w)
    while p <= last:
        out.append(p)
        p = shift(p, 1, w)
    return out


def boundary(p: date, w: World) -> datetime:
    """The instant local midnight of day ``p`` starts (SPEC §2: windows are [start, end) in --tz)."""
    return datetime(p.year, p.month, p.day, tzinfo=ZoneInfo(w.tz)).astimezone(UTC)


def local_period(t: datetime, w: World) -> date:
    """Period of an instant: converted to --tz *before* truncation (SPEC §2)."""
    return period_of(t.astimezone(ZoneInfo(w.tz)).date(), w)


# ------------------------------------------------------------------------------------------ channels
def channel_class(name: str, w: World) -> str | None:
    """SPEC §3.2: [channels] first (names trimmed, case-insensitive), then GA4 names and utm_medium."""
    key = name.strip().lower()
    if not key:
        return None
    table = {k.strip().lower(): v for k, v in w.channels.items()}
    if key in table:
        return table[key]
    if key in GA4_PAID or PAID_MEDIUM.match(key):
        return "paid"
    return "other"  # DECISION: any other name has a class, never organic, never paid


# ----------------------------------------------------------------------------------------- spend
def spend_parts(row: Spend, w: World) -> list[tuple[date, Fraction]]:
    """(period, amount in the reporting currency) pieces of one row."""
    cur = row.currency.strip().upper()
    rate = Fraction(1) if cur in ("", w.reporting) else w.fx[(row.rate_day(), cur)]
    amount = row.amount * rate
    if row.day is not None:
        return [(period_of(row.day, w), amount)]  # DECISION: a bare date is that day under any --tz
    days = row.month_days()
    if w.grain in ("month", "quarter", "year"):
        return [(period_of(days[0], w), amount)]
    assert w.prorate, "monthly spend at week/day grain needs --spend-allocation prorate (SPEC §3.2)"
    return [(period_of(d, w), amount / len(days)) for d in days]  # evenly over the month's days


def spend(w: World, kind: str, p: date, keep: Iterable[str] | None = None) -> Fraction | None:
    """Σ spend of category ``kind`` in period ``p``; ``keep``: only rows of these groups.

    SPEC §3.2: null (not 0) when no row of that spend covers the period. DECISION (SPEC silent on
    groups): in a covered period a group with no rows of its own spent 0, provided some row of the
    category ever names it; a group no row ever names has a null spend.
    """
    # SPEC §1.3: exact duplicate rows (every cell as written) are dropped
    rows = [r for r in dict.fromkeys(w.spend) if r.kind == kind]
    if not any(q == p for r in rows for q, _ in spend_parts(r, w)):
        return None
    if keep is not None:
        keep = set(keep)
        rows = [r for r in rows if r.group in keep]
        if not rows:
            return None
    return sum((a for r in rows for q, a in spend_parts(r, w) if q == p), Fraction(0))


# -------------------------------------------------------------------------------------- revenue side
def mrr_at(w: World, t: datetime) -> dict[str, Fraction]:
    out: dict[str, Fraction] = {}
    for s in w.subs:
        out[s.customer] = out.get(s.customer, Fraction(0)) + s.value_at(t)
    return out


@dataclass
class Movement:
    """SPEC §3.1 classes of one period P = [s, e)."""

    start: dict[str, Fraction]
    end: dict[str, Fraction]
    new: set[str]
    reactivated: set[str]
    churned: set[str]
    expansion: set[str]

    def customers_start(self) -> int:
        return sum(1 for v in self.start.values() if v > 0)


def movements(w: World, wanted: list[date]) -> dict[date, Movement]:
    """Classes per period, with "paying at any earlier snapshot" read from every snapshot since the
    period before the earliest subscription (so it does not depend on the requested range)."""
    first = min([local_period(s.start, w) for s in w.subs] + wanted)
    history = [shift(first, -1, w)]
    while history[-1] < wanted[-1]:
        history.append(shift(history[-1], 1, w))
    snaps = {p: mrr_at(w, boundary(shift(p, 1, w), w)) for p in history}  # p → MRR_c at the end of p
    ever: set[str] = set()
    out = {}
    for prev, cur in itertools.pairwise(history):
        a_all, b_all = snaps[prev], snaps[cur]
        ever |= {c for c, v in a_all.items() if v > 0}
        mv = Movement(a_all, b_all, set(), set(), set(), set())
        for c in b_all:
            a, b = a_all[c], b_all[c]
            if a == 0 and b > 0:
                (mv.reactivated if c in ever else mv.new).add(c)
            elif a > 0 and b == 0:
                mv.churned.add(c)
            elif a > 0 and b > a:
                mv.expansion.add(c)
        out[cur] = mv
    return out


def customer_group(w: World, cid: str) -> str:
    """`customers.channel` (trimmed) of a billing customer; no row or a blank = (unattributed)."""
    for c in w.customers:
        if c.id == cid:
            return c.channel.strip() or UNATTRIBUTED
    return UNATTRIBUTED


def billing_horizon(w: World) -> datetime:
    """SPEC §2: the earlier of --as-of and the billing data's last timestamp."""
    last = max([s.start for s in w.subs] + [s.end for s in w.subs if s.end is not None])
    return min(boundary(w.as_of, w), last)


def became_paying(w: World, c: Customer) -> bool:
    """DECISION (freemium conversion): a paying span starts within ``within_days`` of ``created_at``."""
    assert c.created_at is not None
    end = c.created_at + timedelta(days=w.within_days)
    return any(
        s.customer == c.id and s.amount > 0 and s.status.lower() not in NON_PAYING and c.created_at <= s.start <= end
        for s in w.subs
    )


def complete(w: World, p: date) -> bool:
    """SPEC §2: a period is complete when it ends by --as-of and by the data's last timestamp."""
    return shift(p, 1, w) <= w.as_of and boundary(shift(p, 1, w), w) <= billing_horizon(w)


def ltv_parts(w: World, p: date, mv: dict[date, Movement]) -> tuple[Fraction | None, Fraction | None]:
    """SPEC §3.1: LTV = arpa × GM / customer churn rate averaged over the 6 complete periods before P.

    DECISION: periods without customers at their start have no churn rate and are left out of the
    average (of up to 6); null when no period is left or the average is 0.
    """
    m = mv[p]
    paying = sum(1 for v in m.end.values() if v > 0)
    arpa_gm = sum(m.end.values(), Fraction(0)) / paying * w.gross_margin if paying else None
    rates = []
    for k in range(1, 7):
        q = shift(p, -k, w)
        if q in mv and complete(w, q) and mv[q].customers_start() > 0:
            rates.append(Fraction(len(mv[q].churned), mv[q].customers_start()))
    return arpa_gm, sum(rates) / len(rates) if rates else None


# ------------------------------------------------------------------------------------------ web side
def actor(e: Event, w: World, merged: dict[str, str]) -> str | None:
    """SPEC §3.3: the user (an anonymous id merged into the user of its earliest row carrying both;
    one staying anonymous is its own actor); with --actor account the row's account, if any."""
    if w.actor == "account":
        return e.account_id or None
    if e.user_id:
        return "user:" + e.user_id
    return "user:" + merged[e.anonymous_id] if e.anonymous_id in merged else "anon:" + e.anonymous_id


def first_signups(w: World) -> dict[str, datetime]:
    """Each actor's first `signup` ("Signed Up") event over the whole log (SPEC §3.2 new_signups)."""
    merged: dict[str, str] = {}
    for e in sorted(w.events, key=lambda e: e.ts):  # every row carrying both ids, in or out of range
        if e.user_id and e.anonymous_id and e.anonymous_id not in merged:
            merged[e.anonymous_id] = e.user_id
    out: dict[str, datetime] = {}
    for e in w.events:
        who = actor(e, w, merged)
        if e.event == "Signed Up" and who is not None and (who not in out or e.ts < out[who]):
            out[who] = e.ts
    return out


def signups(w: World, p: date) -> int:
    return sum(1 for t in first_signups(w).values() if local_period(t, w) == p)


def event_sessions(w: World) -> list[tuple[datetime, int]]:
    """(first instant, page views) of each (user, ``session_id``) of ``Page Viewed`` events.

    SPEC §3.2 "Without traffic: single-event web sessions of events (pageview role)" with §3.3's
    session (actor, session_id). Exact duplicate rows are dropped first (SPEC §1.3). The worlds
    this is used on hold page views only, with every session shorter than an hour.
    """
    sessions: dict[tuple[str, str], list[datetime]] = {}
    for e in dict.fromkeys(w.events):
        if e.event == "Page Viewed":
            sessions.setdefault((e.user_id, e.session_id), []).append(e.ts)
    return [(min(ts), len(ts)) for ts in sessions.values()]


def bounced(s: Session, rule: str, w: World) -> bool:
    if rule == "single_page":
        return s.pageviews <= 1
    engaged = (s.duration_s or 0) > w.engaged_seconds or bool(s.key_event) or s.pageviews >= 2
    return not engaged


# ----------------------------------------------------------------------------------------- metrics
Cell = tuple[float | None, float | None, float | None]  # value, numerator, denominator


def _f(x: Fraction | int | None) -> float | None:
    return None if x is None else float(x)


def ratio(num: Fraction | int | None, den: Fraction | int | None) -> Cell:
    """SPEC §3: a ratio with a zero denominator is null; a null part gives null."""
    if num is None or den is None or den == 0:
        return (None, _f(num), _f(den))
    return (float(Fraction(num) / Fraction(den)), _f(num), _f(den))


def plain(x: Fraction | int | None) -> Cell:
    return (_f(x), None, None)


def compute(w: World, metric: str, first: date, last: date, by_channel: bool = False) -> dict[tuple[date, str], Cell]:
    """The oracle's rows of one metric: (period, group) → (value, numerator, denominator).

    ``group`` is "" without --by; with ``by_channel`` it is the channel name (or (unattributed)),
    for every group that any spend row or customer names.
    """
    ps = periods(first, last, w)
    mv = movements(w, [shift(ps[0], -6, w), *ps])  # six periods back for LTV's churn average
    if by_channel:
        groups = sorted({r.group for r in w.spend} | {customer_group(w, c) for c in mv[ps[0]].end})
    else:
        groups = [""]
    out: dict[tuple[date, str], Cell] = {}
    for p in ps:
        m = mv[p]
        for g in groups:
            def mine(ids: Iterable[str], g: str = g) -> set[str]:
                return {c for c in ids if not g or customer_group(w, c) == g}

            keep = [g] if g else None
            lagged = spend(w, "acquisition", shift(p, -w.cac_lag, w), keep)
            new = mine(m.new)
            new_mrr = sum((m.end[c] for c in new), Fraction(0))
            if metric == "acquisition_spend":
                out[p, g] = plain(spend(w, "acquisition", p, keep))
            elif metric == "retention_spend":
                out[p, g] = plain(spend(w, "retention", p, keep))
            elif metric == "new_customers":
                out[p, g] = plain(len(new))
            elif metric == "cac":
                out[p, g] = ratio(lagged, len(new))
            elif metric == "cac_paid":  # --cac-basis paid
                paid_names = {r.group for r in w.spend if channel_class(r.channel, w) == "paid"}
                paid_new = {c for c in new if channel_class(customer_group(w, c), w) == "paid"}
                paid_spend = spend(w, "acquisition", shift(p, -w.cac_lag, w), paid_names)
                out[p, g] = ratio(paid_spend, len(paid_new))
            elif metric == "cpa":
                out[p, g] = ratio(lagged, signups(w, p))
            elif metric == "cac_payback_months":
                out[p, g] = ratio(lagged, new_mrr * w.gross_margin)
            elif metric == "cac_payback_months_npe":  # --payback-basis new_plus_expansion
                grow = new_mrr + sum((m.end[c] for c in mine(m.reactivated)), Fraction(0))
                grow += sum((m.end[c] - m.start[c] for c in mine(m.expansion)), Fraction(0))
                out[p, g] = ratio(lagged, grow * w.gross_margin)
            elif metric in ("ltv", "ltv_cac_ratio"):
                assert not g, "the oracle's LTV is not split by group"
                num, den = ltv_parts(w, p, mv)
                value = None if num is None or not den else num / den
                cac = None if lagged is None or not new else lagged / len(new)
                out[p, g] = ratio(num, den) if metric == "ltv" else ratio(value, cac)
            elif metric == "crc":
                retained = sum(1 for c in mine(m.start) if m.start[c] > 0) - len(mine(m.churned))
                out[p, g] = ratio(spend(w, "retention", p, keep), retained)
            elif metric == "paid_share":
                known = {c for c in new if customer_group(w, c) != UNATTRIBUTED}
                paid = {c for c in known if channel_class(customer_group(w, c), w) == "paid"}
                out[p, g] = ratio(len(paid), len(known))
            elif metric == "unattributed_share":
                out[p, g] = ratio(sum(1 for c in new if customer_group(w, c) == UNATTRIBUTED), len(new))
            elif metric == "new_signups":
                out[p, g] = plain(signups(w, p))
            elif metric == "signup_growth_rate":
                now, before = signups(w, p), signups(w, shift(p, -1, w))
                out[p, g] = ratio(now - before, before)
            elif metric == "visitor_conversion_rate":
                seen = [s for s in w.sessions if local_period(s.started_at, w) == p]
                visitors = {s.visitor_id for s in seen}
                converted = {s.visitor_id for s in seen if s.signed_up}
                out[p, g] = ratio(len(converted), len(visitors))
            elif metric in ("bounce_rate", "bounce_rate_ga4"):
                rule = "ga4" if metric.endswith("ga4") else "single_page"
                seen = [s for s in w.sessions if local_period(s.started_at, w) == p]
                out[p, g] = ratio(sum(1 for s in seen if bounced(s, rule, w)), len(seen))
            elif metric == "bounce_rate_events":  # no traffic: sessions of page-view events
                sessions = event_sessions(w)
                seen = [n for t, n in sessions if local_period(t, w) == p]
                out[p, g] = ratio(sum(1 for n in seen if n == 1), len(seen))
            elif metric in ("referral_conversion_rate", "non_referral_conversion_rate"):
                referred = metric == "referral_conversion_rate"
                horizon = billing_horizon(w)
                cohort = [
                    c for c in w.customers
                    if c.created_at is not None and local_period(c.created_at, w) == p
                    and bool(c.referred_by.strip()) == referred
                    and c.created_at + timedelta(days=w.within_days) <= horizon  # window ended (SPEC §2)
                ]
                out[p, g] = ratio(sum(1 for c in cohort if became_paying(w, c)), len(cohort))
            else:
                msg = f"oracle has no metric {metric}"
                raise KeyError(msg)
    return out
