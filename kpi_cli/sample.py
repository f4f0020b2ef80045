"""The bundled sample dataset: a fictional B2B SaaS company over 2023-01-01 .. 2024-12-31.

Standard library only, so ``kpi sample`` stays instant. Every value comes from ``random.Random`` seeded
per file, so a given seed always writes byte-identical files. Run ``python -m kpi_cli.sample DIR``.
"""

from __future__ import annotations

import itertools
import random
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kpi_cli.sample_common import (
    DAY,
    END,
    LAUNCH_DAYS,
    START,
    Account,
    add_months,
    at,
    growth_instant,
    iso,
    write_csv,
)
from kpi_cli.sample_engagement import assign, churn_factor
from kpi_cli.sample_events import events as product_events
from kpi_cli.sample_marketing import attribute, spend, traffic
from kpi_cli.sample_support import support

PRICE = {"starter": 29, "team": 15, "business": 40, "enterprise": 35, "analytics_addon": 49}  # USD/unit/month
SEATS = {"starter": False, "team": True, "business": True, "enterprise": True, "analytics_addon": False}
UPGRADE = {"starter": "team", "team": "business", "business": "enterprise"}
DOWNGRADE = {"team": "starter", "business": "team", "enterprise": "business"}
FX = {"USD": 1.0, "EUR": 0.9, "GBP": 0.8}  # local list price = round(USD price x factor)
COUNTRIES = {"USD": ("US", "US", "US", "US", "CA", "AU", "SG", "IN"), "EUR": ("DE", "FR", "NL", "ES", "IE"),
             "GBP": ("GB",)}
LAUNCH = 0.12  # share of paying customers who came from the beta waitlist at launch
CHURN = {"smb": 0.034, "mid_market": 0.019, "enterprise": 0.009}  # monthly hazard
COLUMNS = {  # file -> header (canonical names of SPEC §1.2)
    "customers": "customer_id created_at segment plan_tier country channel referred_by email",
    "subscriptions": "customer_id subscription_id item_id start_at end_at amount currency interval "
    "interval_count quantity status trial_end_at canceled_at discount_percent discount_amount "
    "discount_duration discount_end_at plan is_metered",
    "fx_rates": "date currency rate",
    "events": "event_id timestamp event user_id anonymous_id account_id session_id email properties",
    "surveys": "responded_at score survey respondent_id email account_id response_id touchpoint wave comment",
    "spend": "date amount currency category channel",
    "tickets": "ticket_id created_at user_id account_id requester_email tags via status first_response_at "
    "resolved_at reopens is_agent_created",
    "traffic": "session_id visitor_id started_at pageviews duration_s key_event channel signed_up user_id",
}


class _Item:
    """One subscription item's history as consecutive spans of constant state."""

    def __init__(self, start: datetime, **state: object) -> None:
        self.spans: list[tuple[datetime, datetime | None, dict[str, object]]] = []
        self.t, self.state = start, state

    def change(self, t: datetime, **new: object) -> bool:
        """End the current span at ``t`` and start one with ``new`` values (no-op if not strictly later)."""
        state = {**self.state, **new}
        if t <= self.t or t >= END or state == self.state:
            return False
        self.spans.append((self.t, t, self.state))
        self.t, self.state = t, state
        return True

    def close(self, end: datetime | None, **last: object) -> None:
        """Finish the history; ``end`` None leaves the last span running."""
        self.spans.append((self.t, end, {**self.state, **last}))


def _months(interval: object, count: object) -> int:
    return {"month": 1, "quarter": 3, "year": 12}[str(interval)] * int(str(count))


def _price(plan: str, interval: str, count: int, currency: str) -> float:
    monthly = round(PRICE[plan] * FX[currency])
    return float(monthly * _months(interval, count) * (10 / 12 if interval == "year" else 1))


def _accounts(rng: random.Random, paying: int, free: int) -> list[Account]:
    # The company left beta on 2023-01-01: its waitlist signed up in the first two weeks, so the
    # first months have a customer base whose churn rate is more than a handful of accounts.
    launch = START + LAUNCH_DAYS * DAY
    raw = sorted((at(rng, START, launch) if i < paying and rng.random() < LAUNCH else growth_instant(rng), i < paying)
                 for i in range(paying + free))
    width = max(4, len(str(len(raw))))
    out: list[Account] = []
    payers: list[str] = []
    for n, (created, pays) in enumerate(raw, 1):
        segment = rng.choices(("smb", "mid_market", "enterprise"), (80, 16, 4) if pays else (92, 7, 1))[0]
        currency = rng.choices(("USD", "EUR", "GBP"), (85, 10, 5))[0]
        referred = rng.choice(payers) if payers and rng.random() < 0.05 else ""
        channel = "referral" if referred else rng.choices(("organic", "paid", "partner"), (50, 35, 15))[0]
        acc = Account(f"cus_{n:0{width}d}", created, pays, segment, currency,
                       rng.choice(COUNTRIES[currency]), channel, referred)
        out.append(acc)
        if pays:
            payers.append(acc.id)
    return out


def _pick_plan(rng: random.Random, segment: str) -> tuple[str, str, int, int]:
    """(plan, interval, interval_count, seats) for a new subscription."""
    plan, lo, hi = {"smb": rng.choice((("starter", 1, 1), ("team", 2, 9))),
                    "mid_market": rng.choice((("team", 3, 15), ("business", 2, 10), ("business", 2, 10))),
                    "enterprise": rng.choice((("business", 8, 30), ("enterprise", 8, 40)))}[segment]
    seats = int(lo * (hi / lo) ** rng.random())
    if segment == "enterprise" or plan == "enterprise":
        return plan, "year", 1, seats
    if plan == "starter":
        return plan, "month", 1, 1
    choices = (("month", 1), ("year", 1), ("quarter", 1), ("month", 3))  # two spellings of quarterly
    interval, count = rng.choices(choices, (75, 20, 3, 2))[0]
    return plan, interval, count, seats


def _discount(rng: random.Random, start: datetime) -> list[str]:
    """[discount_percent, discount_amount, discount_duration, discount_end_at]; a quarter get one."""
    if rng.random() > 0.25:
        return ["", "", "", ""]
    kind = rng.choices(("forever", "repeating", "once", "amount"), (35, 40, 15, 10))[0]
    if kind == "forever":
        return [str(rng.choices((10, 15, 20, 100), (40, 40, 30, 1))[0]), "", "forever", ""]
    if kind == "repeating":
        until = iso(add_months(start, rng.choice((3, 6, 12))))
        return [str(rng.choice((20, 25, 50))), "", "repeating", until]
    if kind == "once":
        return [str(rng.choice((50, 100))), "", "once", ""]
    return ["", f"{rng.choice((5, 10)):.2f}", "forever", ""]


def _change_plan(rng: random.Random, item: _Item, t: datetime, currency: str) -> None:
    st = item.state
    plan = str(st["plan"])
    target = (UPGRADE if rng.random() < 0.67 else DOWNGRADE).get(plan)
    if target is None or (target == "enterprise" and st["interval"] != "year"):
        return
    qty = 1 if target == "starter" else rng.randint(2, 5) if plan == "starter" else st["quantity"]
    amount = _price(target, str(st["interval"]), int(str(st["interval_count"])), currency)
    item.change(t, plan=target, quantity=qty, amount=amount)


def _simulate(rng: random.Random, item: _Item, paid_from: datetime, acc: Account) -> tuple[datetime, ...]:
    """Run a paying item month by month; return (end_at, canceled_at), or () if it outlives the data.

    One thing may happen per month: a seat or plan change, a switch to annual billing, a pause, a failed
    renewal (``past_due`` for a few days), or a cancellation (at period end, or immediately).
    """
    anchor, k = paid_from, 0
    while True:
        lo, hi = add_months(anchor, k), add_months(anchor, k + 1)
        k += 1
        if lo >= END:
            return ()
        st, t, r = item.state, at(rng, lo, hi), rng.random()
        # An account that did few key actions in the month before the end churns more (the demo's
        # one real influencer, kpi_cli.sample_engagement).
        churn = CHURN[acc.segment] * churn_factor(acc, hi)
        months = _months(st["interval"], st["interval_count"])
        if st["status"] == "paused":
            if r < 0.4:
                item.change(hi, status="active")
            continue
        renewal_churn = 0.75 * (1 - (1 - churn) ** months) * (0.6 if months == 12 else 1)
        if k % months == 0 and rng.random() < renewal_churn:  # cancel at period end
            canceled = hi - timedelta(days=rng.uniform(0.5, 20 if months == 1 else 60))
            if canceled < END:
                return hi, canceled.replace(microsecond=0)
        if r < CHURN[acc.segment] * churn_factor(acc, t) * (0.25 if months == 1 else 0.02):  # cancel now
            return t, t
        r = rng.random()
        if SEATS[str(st["plan"])] and r < 0.06:
            qty = int(str(st["quantity"]))
            step = max(1, round(qty * rng.uniform(0.1, 0.4)))
            item.change(t, quantity=qty + step if rng.random() < 0.65 else max(1, qty - step))
        elif r < 0.075:
            _change_plan(rng, item, t, acc.currency)
        elif months == 1 and r < 0.08 and st["plan"] != "starter":
            amount = _price(str(st["plan"]), "year", 1, acc.currency)
            if item.change(t, interval="year", interval_count=1, amount=amount):
                anchor, k = t, 0
        elif months == 1 and r < 0.081:
            item.change(t, status="paused")
        elif months == 1 and r < 0.086 and item.change(lo, status="past_due"):
            item.change(lo + timedelta(days=rng.uniform(2, 12)), status="active")


def _rows(acc: Account, sub: str, item_id: str, item: _Item, extra: list[str]) -> Iterator[list[str]]:
    """CSV rows of an item; ``extra`` = [trial_end_at, canceled_at, 4 discount fields, is_metered]."""
    for i, (s, e, st) in enumerate(item.spans, 1):
        yield [acc.id, sub, item_id, iso(s), iso(e), f"{st['amount']:.2f}", acc.currency, str(st["interval"]),
               str(st["interval_count"]), str(st["quantity"]), str(st["status"]), extra[0],
               extra[1] if i == len(item.spans) else "", *extra[2:6], str(st["plan"]), extra[6]]


def _subscription(rng: random.Random, acc: Account, ids: Iterator[int], start: datetime, *,
                  trial: bool, discount: bool) -> tuple[list[list[str]], datetime | None]:
    """One subscription (main item, maybe a metered item and an add-on subscription); rows and end_at."""
    plan, interval, count, qty = _pick_plan(rng, acc.segment)
    acc.plan = acc.plan if acc.plan != "free" else plan
    n = next(ids)
    sub, item_id = f"sub_{n:06d}", f"si_{n:06d}"
    item = _Item(start, plan=plan, amount=_price(plan, interval, count, acc.currency), quantity=qty,
                 interval=interval, interval_count=count, status="trialing" if trial else "active")
    paid_from = start + 14 * DAY if trial else start
    acc.trial_start = acc.trial_start or (start if trial else None)
    disc = _discount(rng, paid_from) if discount else ["", "", "", ""]
    extra = [iso(paid_from) if trial else "", "", *disc, "false"]
    end: datetime | None
    canceled: datetime | None
    if trial and paid_from < END and rng.random() < 0.25:  # trial never converts
        end, canceled = paid_from, paid_from
    elif paid_from >= END:
        end = canceled = None
    else:
        item.change(paid_from, status="active")
        acc.first_paid = acc.first_paid or paid_from
        end, canceled = _simulate(rng, item, paid_from, acc) or (None, None)
    ended = end is not None and end < END  # a cancellation scheduled past the data keeps status active
    item.close(end, **({"status": "canceled"} if ended and item.state["status"] == "active" else {}))
    extra[1] = iso(canceled)
    rows = list(_rows(acc, sub, item_id, item, extra))
    acc.windows.append((start, min(end or END, END)))
    paid_until = min(end or END, END)
    if paid_from < paid_until and plan in ("business", "enterprise") and rng.random() < 0.1:
        metered = _Item(paid_from, plan="api_calls", amount=rng.choice((0.02, 0.05)) * FX[acc.currency],
                        quantity="", interval="month", interval_count=1, status="active")
        metered.close(end, **({"status": "canceled"} if ended else {}))
        rows += _rows(acc, sub, f"si_{n:06d}_m", metered, ["", extra[1], "", "", "", "", "true"])
    addon_from = paid_from + timedelta(days=rng.uniform(20, 300))
    if addon_from < paid_until and rng.random() < 0.06:
        addon = _Item(addon_from.replace(microsecond=0), plan="analytics_addon", quantity=1, interval="month",
                      interval_count=1, amount=PRICE["analytics_addon"] * FX[acc.currency], status="active")
        addon_end = min(add_months(addon.t, rng.randint(2, 8)), end or END)
        stop = addon_end if addon_end < END else None
        addon.close(stop, **({"status": "canceled"} if stop else {}))
        notice = max(addon.t, addon_end - timedelta(days=rng.uniform(0, 10))).replace(microsecond=0)
        n = next(ids)
        rows += _rows(acc, f"sub_{n:06d}", f"si_{n:06d}", addon,
                      ["", iso(notice) if stop else "", "", "", "", "", "false"])
    return rows, end


def _subscriptions(rng: random.Random, accounts: list[Account]) -> list[list[str]]:
    rows: list[list[str]] = []
    ids = itertools.count(1)
    for acc in accounts:
        if not acc.paying:
            acc.windows.append((acc.created, min(END, acc.created + DAY * rng.expovariate(1 / 30))))
            continue
        delay = timedelta(minutes=rng.uniform(1, 90)) if rng.random() < 0.7 else DAY * rng.uniform(1, 10)
        start = (acc.created + delay if acc.created + delay < END else acc.created + timedelta(seconds=60))
        trial = acc.segment != "enterprise" and rng.random() < 0.55
        new, end = _subscription(rng, acc, ids, start.replace(microsecond=0), trial=trial, discount=True)
        rows += new
        while end is not None and end < END - 60 * DAY and rng.random() < 0.2:  # reactivation
            back = at(rng, add_months(end, rng.randint(2, 9)), add_months(end, 10))
            if back >= END:
                break
            new, end = _subscription(rng, acc, ids, back, trial=False, discount=False)
            rows += new
    return rows


def _fx_rates(rng: random.Random) -> list[list[str]]:
    rows = []
    for cur, anchor in (("EUR", 1.08), ("GBP", 1.25)):
        rate, day = anchor - 0.02, datetime(2022, 12, 1, tzinfo=UTC)
        while day < END:
            rows.append([day.strftime("%Y-%m-%d"), cur, f"{rate:.6f}"])
            rate += 0.03 * (anchor - rate) + rng.gauss(0, 0.004)
            day += DAY
    return rows


def write_sample(dest: Path, *, seed: int = 7, customers: int = 1500) -> list[Path]:
    """Write the sample dataset (one CSV per canonical source) into ``dest``.

    Parameters
    ----------
    dest : Path
        Folder to write into; created if missing, files in it overwritten.
    seed : int, default 7
        Seed of the generator: a given seed always gives byte-identical files.
    customers : int, default 1500
        Customers with a subscription. About ``customers * 8 / 15`` more sign up and never pay.

    Returns
    -------
    list[Path]
        The files written, in a fixed order.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)

    def rng(part: str) -> random.Random:
        return random.Random(f"{seed}:{part}")

    accounts = _accounts(rng("customers"), customers, customers * 8 // 15)
    # Before billing: key actions in P - 1 set churn in P. Stream 2 of the 12 tried: every one shows
    # the lead (ρ -0.65 .. -0.89); this one keeps the three unrelated influencers' chance |ρ| < 0.3
    # (docs/decisions/issue9-sample.md).
    assign(rng("engagement2"), accounts)
    subscriptions = _subscriptions(rng("subscriptions"), accounts)
    events = product_events(rng("events"), accounts)
    # Marketing and support come last, each from its own stream: they read what billing and events
    # decided (first payments, users) and change none of it.
    attribute(rng("attribution"), accounts)
    tickets, surveys = support(rng("support"), accounts)
    tables = {
        "customers": [[a.id, iso(a.created), a.segment, a.plan, a.country, a.channel, a.referred_by,
                       a.email(a.users[0][0])] for a in accounts],
        "subscriptions": subscriptions,
        "fx_rates": _fx_rates(rng("fx")),
        "events": events,
        "surveys": surveys,
        "spend": spend(rng("spend"), accounts),
        "tickets": tickets,
        "traffic": traffic(rng("traffic"), accounts, len(accounts) * 16),
    }
    written = [write_csv(dest / f"{name}.csv", COLUMNS[name].split(), rows) for name, rows in tables.items()]
    # The company bills in USD, EUR and GBP: the config names the reporting currency, so
    # `cd DEST && kpi compute revenue` runs as `kpi sample --help` says.
    config = dest / "kpi.toml"
    config.write_text(CONFIG)
    return [*written, config]


CONFIG = """\
# The sample's configuration (kpi sample): run kpi from this folder to use it.
data_dir = "."
currency = "USD"   # the reporting currency; fx_rates.csv converts EUR and GBP into it

# Channel classes for CAC's paid basis and paid_share. paid_search and paid_social are paid
# without a line (names starting with "paid"); organic, direct, referral and email are classes.
[channels]
content = "organic"   # the blog and SEO: not bought media
events = "other"      # trade shows
partner = "other"     # partner commissions

# The events that show a customer getting value (key_actions_per_user, kpi tree's first influencer).
[events]
key_actions = ["Report Created", "Export Downloaded"]   # kpi_cli.sample_engagement.KEY_ACTIONS
"""


if __name__ == "__main__":
    for written in write_sample(Path(sys.argv[1] if len(sys.argv) > 1 else "sample_data")):
        print(f"{written}  {written.stat().st_size:,} bytes")
