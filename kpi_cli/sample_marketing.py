"""The sample company's marketing: customer attribution, spend and website traffic.

Each generator draws from its own random stream, so none of them moves a value of the billing or
event files. Channel names are the same in ``customers``, ``spend`` and ``traffic`` (CAC by channel
joins on them); paid ones start with ``paid_`` so the default channel map already calls them paid.
"""

from __future__ import annotations

import itertools
import math
import random
from datetime import datetime, timedelta

from kpi_cli.sample_common import DAY, END, LAUNCH_DAYS, MONTHS, START, Account, at, growth_instant, iso, month_of

# Customers' channels refined from the coarse draw of the billing generator (its stream stays untouched).
REFINE = {"paid": (("paid_search", "paid_social"), (60, 40)),
          "organic": (("organic", "content", "direct"), (50, 30, 20)),
          "partner": (("partner", "events"), (65, 35))}
# Acquisition spend per new customer the team aims at, by channel (USD). Organic, direct and referral
# customers cost nothing, so the blended CAC lands near $850 (about 8 months of a new customer's MRR).
TARGET_CAC = {"paid_search": 1500.0, "paid_social": 1800.0, "events": 3200.0, "content": 1100.0, "partner": 900.0}
SHOW_MONTHS = {3: 2.1, 6: 1.8, 9: 2.2, 11: 1.6}  # trade-show months carry most of the events budget
EUR_USD = 1.08  # the rate the EU team budgets with; kpi converts at fx_rates of the row's day
# Website: where sessions come from, and how often each channel's visitors leave after one page.
TRAFFIC = {"organic": 34, "direct": 20, "paid_search": 16, "paid_social": 11, "referral": 7, "email": 5,
           "content": 4, "": 3}
BOUNCE = {"organic": 0.48, "direct": 0.43, "paid_search": 0.52, "paid_social": 0.64, "referral": 0.40,
          "email": 0.38, "content": 0.58, "": 0.52}
WEB = {"partner": "referral", "events": "direct"}  # a signup visit's channel when the customer's is offline


def attribute(rng: random.Random, accounts: list[Account]) -> None:
    """Give accounts their acquisition channel, more referrals, and a few without any channel.

    Referred accounts convert better (the referrer vouched), so paying accounts are picked more
    often; a referral's channel is ``referral``. About 7% of the others have no channel at all.
    """
    payers: list[str] = []
    for acc in accounts:
        if not acc.referred_by and payers and rng.random() < (0.07 if acc.paying else 0.025):
            acc.referred_by, acc.channel = rng.choice(payers), "referral"
        elif acc.channel != "referral":
            names, weights = REFINE[acc.channel]
            refined = rng.choices(names, weights)[0]
            acc.channel = "" if rng.random() < 0.07 else refined
        if acc.paying:
            payers.append(acc.id)


def _new_by_channel(accounts: list[Account]) -> list[dict[str, int]]:
    """New paying customers per month (index of MONTHS) and channel."""
    out: list[dict[str, int]] = [{} for _ in range(24)]
    for acc in accounts:
        if acc.first_paid and acc.first_paid < END:
            counts = out[month_of(acc.first_paid)]
            counts[acc.channel] = counts.get(acc.channel, 0) + 1
    return out


def _paying_at(accounts: list[Account], t: datetime) -> int:
    return sum(1 for a in accounts if a.first_paid and a.first_paid <= t and any(lo <= t < hi for lo, hi in a.windows))


def spend(rng: random.Random, accounts: list[Account]) -> list[list[str]]:
    """Monthly marketing spend rows: ``date amount currency category channel``.

    Budgets follow the customers each channel brings this month and next (campaigns lead signups).
    Paid search is booked weekly (dated Mondays), paid social monthly in USD and EUR, trade shows
    spike in show months (one in EUR), partners earn commissions, an agency retainer has neither
    channel nor category (= acquisition, ``(unattributed)``); customer success tools and lifecycle
    e-mail are retention spend.
    """
    new = _new_by_channel(accounts)
    rows: list[tuple[str, str, str, str, str]] = []

    def row(day: datetime, amount: float, channel: str, category: str = "acquisition", currency: str = "USD") -> None:
        rows.append((day.strftime("%Y-%m-%d"), f"{amount:.2f}", currency, category, channel))

    for m in range(24):
        month, last = MONTHS[m], MONTHS[m + 1] - DAY

        def budget(channel: str, m: int = m) -> float:
            ahead = new[min(m + 1, 23)].get(channel, 0)
            wanted = 0.6 * new[m].get(channel, 0) + 0.4 * ahead
            return TARGET_CAC[channel] * max(wanted, 1.0) * rng.uniform(0.85, 1.2)

        mondays = [d for d in (month + DAY * k for k in range(31)) if d < MONTHS[m + 1] and d.weekday() == 0]
        search = budget("paid_search")
        for day in mondays:
            row(day, search / len(mondays) * rng.uniform(0.8, 1.2), "paid_search")
        social = budget("paid_social")
        row(last, social * 0.7, "paid_social")
        row(last, social * 0.3 / EUR_USD, "paid_social", currency="EUR")
        events = budget("events") * SHOW_MONTHS.get(month.month, 0.55)
        berlin = month.month == 9  # the September show is in Berlin, invoiced in EUR
        row(month, events / EUR_USD if berlin else events, "events", currency="EUR" if berlin else "USD")
        row(month + 14 * DAY, budget("content"), "content")
        partners = new[m].get("partner", 0)
        row(last, TARGET_CAC["partner"] * partners * rng.uniform(0.9, 1.1) + 250.0, "partner")
        row(month, 2500.0 * rng.uniform(0.95, 1.05), "", category="")
        paying = _paying_at(accounts, month)
        row(month, (900.0 + 2.2 * paying) * rng.uniform(0.9, 1.1), "cs_tools", category="retention")
        row(last, (150.0 + 0.6 * paying) * rng.uniform(0.9, 1.1), "email", category="retention")
    rows.sort()
    return [list(r) for r in rows]


def _session(rng: random.Random, channel: str, *, signup: bool) -> list[str]:
    """[pageviews, duration_s, key_event] of one visit (a signup visit never bounces)."""
    if not signup and rng.random() < BOUNCE[channel]:
        pages, seconds = 1, int(rng.lognormvariate(math.log(7), 1.1))
    else:
        pages = (3 if signup else 2) + int(rng.expovariate(0.35))
        seconds = int(pages * rng.lognormvariate(math.log(45), 0.8))
    key = signup or rng.random() < (0.04 if pages > 1 else 0.01)  # a demo request or pricing calculator
    return [str(pages), str(seconds), "true" if key else "false"]


def traffic(rng: random.Random, accounts: list[Account], sessions: int) -> list[list[str]]:
    """Website sessions: ``session_id visitor_id started_at pageviews duration_s key_event channel
    signed_up user_id``.

    Every account's founder arrives through a session minutes before signing up (``signed_up`` true,
    ``user_id`` the founder), often after earlier visits; the rest are visitors who never sign up,
    about a third of them returning. Single-page sessions are 40–55% of a month's sessions.
    """
    channels, cum = list(TRAFFIC), list(itertools.accumulate(TRAFFIC.values()))
    # (instant, founder's account or "", signed up?, user) sorted by time, then visitors numbered in order
    visits: list[tuple[datetime, str, bool, str]] = []
    for acc in accounts:
        founder = acc.users[0][0] if acc.users else ""
        visits.append((acc.created - timedelta(minutes=rng.uniform(1, 30)), acc.id, True, founder))
        if rng.random() < 0.6:
            for _ in range(rng.randint(1, 3)):
                earlier = acc.created - DAY * rng.uniform(0.5, 25)
                if earlier >= START:
                    visits.append((earlier, acc.id, False, ""))
    visits += [(growth_instant(rng), "", False, "") for _ in range(max(0, sessions - len(visits)))]
    # Launch day brought a crowd of the curious along with the beta waitlist's signups.
    launch = sum(1 for a in accounts if a.created < START + LAUNCH_DAYS * DAY)
    visits += [(at(rng, START, START + LAUNCH_DAYS * DAY), "", False, "") for _ in range(6 * launch)]
    visits.sort()
    by_account = {a.id: a for a in accounts}
    known: dict[str, str] = {}  # founder's account -> visitor id
    strangers: list[str] = []
    rows = []
    for n, (t, account, signed_up, user) in enumerate(visits, 1):
        if account:
            visitor = known.setdefault(account, f"v{len(known) + len(strangers) + 1:06d}")
        elif not strangers or rng.random() < 0.68:
            visitor = f"v{len(known) + len(strangers) + 1:06d}"
            strangers.append(visitor)
        else:
            visitor = rng.choice(strangers)
        if signed_up:
            own = by_account[account].channel
            channel = WEB.get(own, own)
        else:
            channel = rng.choices(channels, cum_weights=cum)[0]
        rows.append([f"w{n:06d}", visitor, iso(t.replace(microsecond=0)),
                     *_session(rng, channel, signup=signed_up), channel, "true" if signed_up else "false", user])
    return rows
