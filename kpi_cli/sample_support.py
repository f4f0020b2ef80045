"""The sample company's help desk and surveys: tickets, then NPS, CSAT and CES responses.

One random stream (CSAT and CES follow the tickets they rate). The help desk export ran on
2025-01-03 09:00 UTC, two days after the rest of the data ends: replies and resolutions up to then
are in the file, later ones are not (tickets still open, some never answered).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from kpi_cli.sample_common import DAY, END, MONTHS, Account, add_months, at, growth_instant, iso

EXPORTED = END + timedelta(days=2, hours=9)
HOUR = timedelta(hours=1)
# The desk closes over New Year (31 Dec 12:00 – 2 Jan 08:00 UTC): replies wait for the morning of the 2nd.
HOLIDAYS = [(datetime(y, 12, 31, 12, tzinfo=UTC), datetime(y + 1, 1, 2, 8, tzinfo=UTC)) for y in (2023, 2024)]
TAGS = ("bug", "billing", "how-to", "product", "integration", "feature-request")
VIA = {"web": 45, "email": 32, "chat": 16, "phone": 7}
RATE = {"smb": 0.006, "mid_market": 0.014, "enterprise": 0.035}  # inbound tickets per account-day
COMMENTS = ("Great support, thanks!", 'Exports are slow, "CSV" breaks', "Love it", "Too expensive for what it does",
            "Dashboards, reports, all good")
PROSPECTS = ("pat", "sam", "alex", "kim", "jo", "lee")


@dataclass
class _Ticket:
    created: datetime
    user: str
    account: str
    email: str
    tags: str
    via: str
    first: datetime | None  # first public reply; None = never (closed without one) or not yet
    resolved: datetime | None  # final resolution
    reopens: int = 0
    agent: bool = False
    acc: Account | None = None  # None: a prospect the help desk cannot place

    def row(self, n: int) -> list[str]:
        first = self.first if self.first and self.first <= EXPORTED else None
        resolved = self.resolved if self.resolved and self.resolved <= EXPORTED and (first or not self.first) \
            else None
        if resolved:
            status = "closed" if resolved <= EXPORTED - 4 * DAY else "solved"
        else:
            status = ("open", "pending")[n % 2] if first else "new"
        return [f"T{n:06d}", iso(self.created), self.user, self.account, self.email, self.tags, self.via, status,
                iso(first), iso(resolved), str(self.reopens), "true" if self.agent else "false"]


def _shout(rng: random.Random, email: str) -> str:
    """Some mail clients and people write addresses in capitals: the join lower-cases them."""
    return email[0].upper() + email[1:].replace(".example.com", ".Example.com") if rng.random() < 0.3 else email


def _open(rng: random.Random, t: datetime) -> datetime:
    """``t``, or a while after the desk reopens when ``t`` falls in a holiday."""
    for lo, hi in HOLIDAYS:
        if lo <= t < hi:
            return (hi + HOUR * rng.expovariate(0.4)).replace(microsecond=0)
    return t


def _inbound(rng: random.Random, acc: Account, t: datetime) -> _Ticket:
    users = [u for u, joined in acc.users if joined <= t] or [acc.users[0][0]]
    user = rng.choice(users)
    via = rng.choices(list(VIA), list(VIA.values()))[0]
    created = t.replace(microsecond=0)
    first: datetime | None
    if via == "phone" or (via == "chat" and rng.random() < 0.6):
        first = created  # answered live: a first response at creation is 0 hours
    elif rng.random() < 0.035:
        first = None  # closed without a reply (a duplicate, spam, solved by the docs), or lost
    elif via == "chat":
        first = created + timedelta(minutes=rng.lognormvariate(1.5, 1.0))
    else:
        first = _open(rng, created + HOUR * rng.lognormvariate(1.0, 1.1))
    done = _open(rng, (first or created) + HOUR * rng.lognormvariate(2.5 if first else 1.0, 1.2))
    reopens = rng.choices((0, 1, 2), (90, 8, 2))[0]
    for _ in range(reopens):
        done += DAY * rng.lognormvariate(0.5, 0.8)
    # stuck: still open (never answered, when lost) when the desk was exported
    resolved = None if rng.random() < (0.15 if first is None else 0.01) else done
    tags = ";".join(rng.sample(TAGS, rng.choice((1, 1, 2))))
    email, account = acc.email(user), acc.id
    if via == "email" and rng.random() < 0.15:  # the desk placed no organisation: joined by e-mail
        account, email = "", _shout(rng, email)
        user = "" if rng.random() < 0.6 else user
    return _Ticket(created, user, account, email, tags, via, first, resolved, reopens, acc=acc)


def _outbound(rng: random.Random, acc: Account, t: datetime, tag: str) -> _Ticket:
    """An agent-created ticket (onboarding call, business review): outbound work, not demand."""
    created = t.replace(microsecond=0)
    resolved = created + DAY * rng.uniform(1, 12)
    founder = acc.users[0][0]
    return _Ticket(created, founder, acc.id, acc.email(founder), tag, "outbound", created, resolved, agent=True,
                   acc=acc)


def _tickets(rng: random.Random, accounts: list[Account]) -> list[_Ticket]:
    out: list[_Ticket] = []
    for acc in accounts:
        for lo, hi in acc.windows:
            t = lo
            while (t := t + DAY * rng.expovariate(RATE[acc.segment])) < hi:
                out.append(_inbound(rng, acc, t))
        call = acc.first_paid + DAY * rng.uniform(1, 5) if acc.first_paid else END
        if call < END and rng.random() < {"smb": 0.1}.get(acc.segment, 0.6):
            out.append(_outbound(rng, acc, call, "onboarding"))
        if acc.segment == "enterprise" and acc.first_paid:
            for k in range(3, 24, 3):
                review = add_months(acc.first_paid, k)
                if review < END and any(lo <= review < hi for lo, hi in acc.windows) and rng.random() < 0.5:
                    out.append(_outbound(rng, acc, review, "business-review"))
    for n in range(len(out) // 50):  # prospects writing in before they have an account: never joined
        t = growth_instant(rng)
        first = t + HOUR * rng.lognormvariate(1.0, 1.0)
        out.append(_Ticket(t, "", "", f"{rng.choice(PROSPECTS)}.{n}@gmail.com", "billing", "email", first,
                           first + HOUR * rng.lognormvariate(1.5, 1.0)))
    out.sort(key=lambda k: (k.created, k.email))
    return out


class _Responses:
    """Survey rows in the making: ``responded_at score survey respondent_id email account_id touchpoint wave
    comment`` (response ids are given once the rows are sorted)."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.rows: list[list[str]] = []

    def add(self, t: datetime, survey: str, score: int, touch: str, *, who: str = "", email: str = "",
            account: str = "", wave: str = "") -> None:
        if t >= END:
            return
        comment = self.rng.choice(COMMENTS) if self.rng.random() < 0.08 else ""
        self.rows.append([iso(t), str(score), survey, who, email, account, touch, wave, comment])


def _after_tickets(rng: random.Random, tickets: list[_Ticket], out: _Responses) -> None:
    """CSAT (1–5, lower after a slow or reopened ticket) and CES (1–7) a few hours after resolution."""
    for k in tickets:
        if k.agent or k.acc is None or k.resolved is None or k.resolved >= END:
            continue
        slow = k.reopens > 0 or k.resolved - k.created > 72 * HOUR
        if rng.random() < 0.35:
            score = rng.choices(range(1, 6), (12, 12, 20, 30, 26) if slow else (4, 5, 9, 32, 50))[0]
            out.add(k.resolved + HOUR * rng.uniform(0.5, 48), "csat", score, "support", who=k.user,
                    email=k.email.lower(), account=k.account)
        if rng.random() < 0.15:
            score = rng.choices(range(1, 8), (4, 6, 8, 12, 20, 25, 25) if not slow else (10, 14, 16, 20, 18, 12, 10))[0]
            out.add(k.resolved + HOUR * rng.uniform(1, 50), "ces", score, "support", who=k.user,
                    email=k.email.lower(), account=k.account)


def _nps(rng: random.Random, accounts: list[Account], out: _Responses) -> None:
    """Monthly in-app and e-mail NPS waves to a sample of users; last month's detractors are asked again.

    Accounts that churn within half a year answer worse and recover less. E-mail respondents have no
    ``respondent_id`` (matched on the lower-cased address, which their mail client sometimes capitalises).
    A few anonymous website answers carry no respondent at all; 3% answer a wave twice (the later counts).
    """
    by_mail: dict[str, bool] = {}
    followups: set[str] = set()
    for m in range(24):
        wave = MONTHS[m] + DAY * (9 + rng.randint(0, 5))
        label = MONTHS[m].strftime("%Y-%m")
        detractors: set[str] = set()
        for acc in accounts:
            span = next(((lo, hi) for lo, hi in acc.windows if lo <= wave < hi), None)
            if span is None:
                continue
            unhappy = span[1] < END and span[1] - wave < 180 * DAY
            for user, joined in acc.users:
                again = user in followups and rng.random() < 0.65
                if joined >= wave or not (again or rng.random() < 0.08):
                    continue
                if again:
                    cat = "r" if rng.random() < (0.15 if unhappy else 0.45) else "d"
                else:
                    cat = rng.choices(("p", "n", "d"), (22, 35, 43) if unhappy else (60, 27, 13))[0]
                score = {"p": rng.randint(9, 10), "n": rng.randint(7, 8), "r": rng.choice((7, 7, 8, 8, 9, 10)),
                         "d": rng.choices(range(7), (1, 1, 1, 2, 2, 4, 5))[0]}[cat]
                mail = by_mail.setdefault(user, rng.random() < 0.25)
                t = at(rng, wave, wave + (8 if mail else 5) * DAY)
                ident = {"email": _shout(rng, acc.email(user))} if mail else {"who": user, "email": acc.email(user)}
                out.add(t, "nps", score, "email" if mail else "in_app", account=acc.id, wave=label, **ident)
                if rng.random() < 0.03:  # answered twice: the later answer is the one that counts
                    score = rng.randint(0, 10)
                    out.add(t + DAY * rng.uniform(0.2, 1.5), "nps", score, "email" if mail else "in_app",
                            account=acc.id, wave=label, **ident)
                if score <= 6:
                    detractors.add(user)
        for _ in range(rng.randint(1, 4)):
            out.add(at(rng, wave, wave + 10 * DAY), "nps", rng.randint(0, 10), "website", wave=label)
        followups = detractors


def support(rng: random.Random, accounts: list[Account]) -> tuple[list[list[str]], list[list[str]]]:
    """(tickets, surveys) rows; columns as in :data:`kpi_cli.sample.COLUMNS`."""
    tickets = _tickets(rng, accounts)
    responses = _Responses(rng)
    _after_tickets(rng, tickets, responses)
    _nps(rng, accounts, responses)
    for acc in accounts:
        founder = acc.users[0][0]
        if rng.random() < 0.25:
            score = rng.choices(range(1, 8), (1, 2, 3, 5, 8, 6, 4))[0]
            responses.add(acc.created + DAY * rng.uniform(2, 3), "ces", score, "onboarding", who=founder,
                          email=acc.email(founder), account=acc.id)
        lo, hi = acc.windows[0]
        setup = lo + DAY * rng.uniform(5, 60)
        if acc.paying and setup < hi and rng.random() < 0.12:
            score = rng.choices(range(1, 8), (3, 5, 8, 12, 14, 10, 6))[0]
            responses.add(setup, "ces", score, "integration", who=founder, email=acc.email(founder), account=acc.id)
    responses.rows.sort()
    surveys = [[*r[:6], f"r{n:06d}", *r[6:]] for n, r in enumerate(responses.rows, 1)]
    return [k.row(n) for n, k in enumerate(tickets, 1)], surveys
