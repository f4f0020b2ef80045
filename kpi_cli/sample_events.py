"""The sample company's product events: signups, invites, sessions and the key actions.

Sessions are heavy-tailed per user and fade out before a churn. Key actions are not drawn per
session: each active user-month gets a number of them close to the account's ``key_rate``
(:mod:`kpi_cli.sample_engagement`), placed inside that month's sessions, so they follow the
account's engagement and the product's health while logins, session minutes and DAU/MAU do not.
"""

from __future__ import annotations

import itertools
import json
import math
import random
from collections.abc import Iterator
from datetime import datetime, timedelta

from kpi_cli.sample_common import DAY, END, START, Account, at, growth_instant, iso, month_of
from kpi_cli.sample_engagement import KEY_ACTIONS, KEY_MIX, key_count

RATE_MU = -6.1  # log of the median user's sessions per day (keeps events.csv under 4 MB)
PRODUCT = {"Page Viewed": 30, "Dashboard Viewed": 30, "Integration Connected": 2}  # browsing within a session
Out = list[tuple[str, ...]]


def _emit(out: Out, ts: datetime, event: str, user: str = "", anon: str = "", account: str = "", email: str = "",
          session: str = "", **props: str) -> None:
    out.append((iso(ts), event, user, anon, account, session, email,
                json.dumps(props, separators=(",", ":")) if props else ""))


def _session(rng: random.Random, out: Out, acc: Account, user: str, ts: datetime, sid: str) -> None:
    """One session's events from ``ts``."""
    if rng.random() < 0.5:
        _emit(out, ts, "Signed In", user, account=acc.id, session=sid)
    for _ in range(1 + min(int(rng.expovariate(0.7)), 7)):
        ts += timedelta(seconds=rng.randint(5, 300))
        name = rng.choices(list(PRODUCT), list(PRODUCT.values()))[0]
        props = {"Page Viewed": {"path": rng.choice(("/home", "/reports", "/dashboards", "/settings"))},
                 "Dashboard Viewed": {},
                 "Integration Connected": {"integration": rng.choice(("slack", "hubspot", "salesforce"))}}
        _emit(out, ts, name, user, account=acc.id, session=sid, **props[name])


def _key_actions(rng: random.Random, out: Out, acc: Account, rows: Out) -> None:
    """Each month a user of ``acc`` was active in ``rows``: about ``key_rate`` key actions in it.

    They go inside one of the user's sessions of the month (between its first and last event), or,
    in a month with no session (an invite sent, a signup), at the time of one of its events: session
    durations, logins and active days stay what they were without them.
    """
    spans: dict[tuple[str, int], dict[str, list[str]]] = {}
    for row in rows:
        if row[2]:  # a user's event (not an anonymous visitor's)
            month = spans.setdefault((row[2], month_of(datetime.fromisoformat(row[0]))), {})
            month.setdefault(row[5], []).append(row[0])
    for (user, m), by_session in sorted(spans.items()):
        sessions = [(sid, min(ts), max(ts)) for sid, ts in by_session.items() if sid] or \
            [("", t, t) for t in by_session[""]]
        for _ in range(key_count(rng, acc.key_rate[m])):
            sid, first, last = rng.choice(sessions)
            lo, hi = datetime.fromisoformat(first), datetime.fromisoformat(last)
            name = rng.choices(KEY_ACTIONS, KEY_MIX)[0]
            props = {"plan": acc.plan} if name == "Report Created" else {"format": rng.choice(("csv", "xlsx"))}
            _emit(out, at(rng, lo, hi) if hi > lo else lo, name, user, account=acc.id, session=sid, **props)


def _usage(rng: random.Random, out: Out, acc: Account, user: str, span: tuple[datetime, datetime],
           sessions: Iterator[int]) -> None:
    """Heavy-tailed sessions of one user over one product-use span, fading out before a churn."""
    lo, hi = span
    rate, t = min(1.0, math.exp(rng.gauss(RATE_MU, 2.2))), lo
    while True:
        t += DAY * min(rng.expovariate(rate), 3650.0)  # dormant users draw huge gaps
        if t >= hi:
            return
        fading = hi < END and (hi - t) < 60 * DAY and rng.random() > (hi - t) / (60 * DAY)
        if fading or (t.weekday() >= 5 and rng.random() < 0.75):
            continue
        hour = min(22, max(0, int(rng.gauss(14, 3))))
        ts = t.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60), microsecond=0)
        if lo < ts < hi:
            _session(rng, out, acc, user, ts, f"s{next(sessions):06d}")


def events(rng: random.Random, accounts: list[Account]) -> list[list[str]]:
    """Rows of ``events.csv`` (after ``event_id``: the columns of ``COLUMNS["events"]``), sorted by time,
    with a few re-delivered events (same ``event_id``)."""
    out: Out = []
    users, anons, sessions = itertools.count(1), itertools.count(1), itertools.count(1)
    for acc in accounts:
        first_row = len(out)
        founder, seats = f"u{next(users):05d}", {"smb": 1, "mid_market": 3, "enterprise": 6}[acc.segment]
        domain = acc.domain
        anon = f"a{next(anons):05d}" if rng.random() < 0.4 else ""
        for _ in range(rng.randint(1, 3) if anon else 0):
            seen = acc.created - DAY * rng.uniform(0.01, 5)
            if seen >= START:
                _emit(out, seen, "Page Viewed", anon=anon, path=rng.choice(("/", "/pricing", "/features")))
        _emit(out, acc.created, "Signed Up", founder, anon, acc.id, f"{founder}@{domain}", type="organic")
        _emit(out, acc.created + timedelta(seconds=20), "Account Created", founder, account=acc.id,
              account_name=f"Company {acc.id[4:]}")
        if acc.trial_start:
            _emit(out, acc.trial_start, "Trial Started", founder, account=acc.id, trial_plan_name=acc.plan)
        acc.users.append((founder, acc.created))
        for _ in range(rng.randint(0, seats + seats // 2) + (rng.random() < 0.35)):
            joined = acc.created + DAY * rng.uniform(1, 90)
            if joined >= acc.windows[0][1]:
                continue
            invitee = f"u{next(users):05d}"
            _emit(out, joined - DAY * rng.uniform(0.02, 3), "Invite Sent", founder, account=acc.id,
                  invitee_email=f"{invitee}@{domain}", invitee_role="member")
            if rng.random() < 0.8:
                _emit(out, joined, "Signed Up", invitee, "", acc.id, f"{invitee}@{domain}", type="invited")
                acc.users.append((invitee, joined))
        for user, joined in acc.users:
            for lo, hi in acc.windows:
                if max(lo, joined) < hi:
                    _usage(rng, out, acc, user, (max(lo, joined), hi), sessions)
        _key_actions(rng, out, acc, out[first_row:])
    for _ in range(len(accounts) // 2):  # visitors who never sign up
        anon, t = f"a{next(anons):05d}", growth_instant(rng)
        for _ in range(rng.randint(1, 3)):
            _emit(out, t + timedelta(seconds=rng.randint(5, 600)), "Page Viewed", anon=anon, path="/pricing")
    out.sort()
    rows: list[list[str]] = []
    for n, row in enumerate(out, 1):
        rows.append([f"e{n:07d}", *row])
        if rng.random() < 0.004:  # re-delivered event: same event_id, same or slightly later timestamp
            later = datetime.fromisoformat(row[0]) + timedelta(seconds=rng.randint(1, 90))
            rows.append(rows[-1] if rng.random() < 0.6 else [f"e{n:07d}", iso(later), *row[1:]])
    return rows
