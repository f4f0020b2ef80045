"""Deterministic generator of the benchmark company: every source of ``kpi compute all`` in one folder.

Writes ``bench/data/company/`` from the two existing benchmark files (``bench/generate.py``'s
``subscriptions.parquet``, 100k customers 2020–2024, and ``bench/events_generate.py``'s
``events/events.parquet``, 20M events of 2024), which must exist first:

- ``subscriptions.parquet``: a relative symlink to ``../subscriptions.parquet`` (unchanged).
- ``events.parquet``: a copy of the events with ``account_id`` moved into the billing namespace
  (``acc_00042`` → ``cus_0000042``), every other byte of every value as generated, so an event's
  account *is* a customer, as tickets' and surveys' are. Users keep their ids (``u000123``).
- ``customers.parquet``: the 100k billing customers plus ``--free`` (25k) signups who never paid;
  ``created_at`` before the first subscription (often the same day, sometimes months before, so a
  few miss the 90-day referral window), ``channel`` (7 % blank: ``(unattributed)``), ``referred_by``,
  ``segment``, ``email``.
- ``spend.csv``: 2020-01..2024-12, monthly rows (``month``) per channel and category, paid search
  booked weekly (``date`` rows on Mondays), a share of paid social and the September trade show in
  EUR, an agency retainer without channel or category, retention spend; budgets follow the new
  customers each channel brings (so CAC by channel lands near ``TARGET_CAC``).
- ``fx_rates.csv``: a daily EUR→USD rate from 2019-12-01 through 2024-12-31 (a mean-reverting walk).
- ``tickets.parquet``: ``--tickets`` (1M) tickets filed while their customer holds a subscription
  (uniform over customer-time, so bigger and longer-lived customers file more); users from the
  events where the account has some; 88 % carry ``account_id``, 9 % only the customer's e-mail
  (the e-mail join), 3 % an e-mail nobody knows (``unmatched_tickets``); 5 % outbound
  (agent-created); 2 % answered at creation, 4 % never answered; lognormal response and resolution
  times; reopens.
- ``surveys.parquet``: ``--surveys`` (200k) responses: quarterly NPS waves to paying customers
  (55 %; repeat respondents across waves, 2 % answering twice within days, 10 % known only by an
  e-mail whose case changes between waves), CSAT after resolved tickets (30 %), CES after
  onboarding, tickets and billing (15 %, ``touchpoint``).
- ``traffic.parquet``: ``--sessions`` (3M) web sessions 2020–2024: each customer's signup session
  (``signed_up``), earlier visits of the same visitor, and anonymous visitors; bounce by channel.
- ``kpi.toml``: the ``[channels]`` classes of the non-standard channel names.

Randomness: small tables from ``random.Random(seed)``, per-row draws from the splitmix64 mix of
``events_generate.rand_u64`` (no numpy), explicit sorts before every write: the same arguments
give the same files.
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import random
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import polars as pl
from events_generate import rand_u64, unit

BENCH = Path(__file__).resolve().parent
DATA = BENCH / "data"
OUT = DATA / "company"
SEC = 1_000_000
MIN = 60 * SEC
HOUR = 3600 * SEC
DAY = 24 * HOUR
START = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp()) * SEC
END = int(datetime(2025, 1, 1, tzinfo=UTC).timestamp()) * SEC
TS = pl.Datetime("us", "UTC")

# channel of a customer: weights (blank = no channel: the group "(unattributed)")
CHANNELS = {"paid_search": 18, "paid_social": 12, "organic": 22, "content": 8, "direct": 12, "referral": 8,
            "email": 4, "partner": 5, "events": 4, "": 7}
SEGMENTS = {"smb": 70, "mid_market": 24, "enterprise": 6}
# acquisition spend per new customer aimed at (USD); organic, direct, referral and email cost nothing
# (the billing generator's accounts pay ~$1,500 a month, so these put blended CAC near 8 months of ARPA)
TARGET_CAC = {"paid_search": 18_000.0, "paid_social": 21_000.0, "events": 36_000.0, "content": 12_000.0,
              "partner": 10_000.0}
# free signups (who never pay) come through referrals less often: referred signups convert better
FREE_CHANNELS = {**CHANNELS, "referral": 2}
SHOW_MONTHS = {3: 2.1, 6: 1.8, 9: 2.2, 11: 1.6}  # trade-show months carry most of the events budget
WEB = {"partner": "referral", "events": "direct"}  # a signup visit's channel when the customer's is offline
TRAFFIC = {"organic": 34, "direct": 20, "paid_search": 16, "paid_social": 11, "referral": 7, "email": 5,
           "content": 4, "": 3}
BOUNCE = {"organic": 0.48, "direct": 0.43, "paid_search": 0.52, "paid_social": 0.64, "referral": 0.40,
          "email": 0.38, "content": 0.58, "": 0.52}
VIAS = {"email": 45, "web": 22, "chat": 20, "phone": 5, "api": 3, "outbound": 5}
TAGS = ["billing", "bug", "how-to", "onboarding", "feature-request", "account", "integration", "performance"]
KPI_TOML = """\
# The benchmark company's configuration (bench/company_generate.py): pass it with --config.
[channels]
content = "organic"   # the blog and SEO: not bought media
events = "other"      # trade shows
partner = "other"     # partner commissions
cs_tools = "other"    # customer-success tooling (retention spend)

[tickets]
outbound = ["outbound"]
"""


# -- per-row draws ---------------------------------------------------------------------------------
def u(index: pl.Expr, stream: int) -> pl.Expr:
    """Uniform [0, 1) per row."""
    return unit(rand_u64(index, stream))


def normal(index: pl.Expr, stream: int) -> pl.Expr:
    """Standard normal per row (Box–Muller on two uniform streams)."""
    u1 = 1.0 - u(index, stream)
    return (-2.0 * u1.log()).sqrt() * (2 * math.pi * u(index, stream + 1)).cos()


def lognormal_us(index: pl.Expr, stream: int, median_us: float, sigma: float) -> pl.Expr:
    """A lognormal duration in µs with the given median."""
    return (median_us * (sigma * normal(index, stream)).exp()).cast(pl.Int64)


def pick(index: pl.Expr, stream: int, weights: dict[str, int]) -> pl.Expr:
    """A name per row drawn with the given integer weights."""
    names = [n for n, w in weights.items() for _ in range(w)]
    table = pl.Series(names, dtype=pl.String)
    return (rand_u64(index, stream) % len(names)).cast(pl.Int64).replace_strict(
        pl.Series(range(len(names)), dtype=pl.Int64), table, return_dtype=pl.String)


def domain(cid: pl.Expr) -> pl.Expr:
    """``cus_0000042`` → ``cus0000042.example.com``."""
    return pl.concat_str([cid.str.replace("_", "", literal=True), pl.lit(".example.com")])


# -- inputs ----------------------------------------------------------------------------------------
def spans(subs: pl.DataFrame) -> pl.DataFrame:
    """Subscription rows as ``customer_id, s, e, dur, cum`` (µs, clipped to the data range)."""
    out = subs.select(
        "customer_id",
        s=pl.col("start_at").cast(pl.Int64).clip(START, END),
        e=pl.col("end_at").cast(pl.Int64).fill_null(END).clip(START, END),
    ).filter(pl.col("e") > pl.col("s"))
    return out.with_columns(dur=pl.col("e") - pl.col("s")).with_columns(cum=pl.col("dur").cum_sum())


def sample_time(sp: pl.DataFrame, n: int, stream: int) -> pl.DataFrame:
    """``n`` (customer_id, t) drawn uniformly over customer-time (one subscription row = its span)."""
    total = int(sp["cum"][-1])
    draws = pl.select(i=pl.int_range(n, dtype=pl.Int64)).with_columns(
        x=(u(pl.col("i"), stream) * float(total)).cast(pl.Int64).clip(0, total - 1))
    idx = sp["cum"].search_sorted(draws["x"], side="right")
    rows = sp[idx]
    return pl.DataFrame({
        "i": draws["i"],
        "customer_id": rows["customer_id"],
        "t": rows["s"] + (draws["x"] - (rows["cum"] - rows["dur"])),
    })


def account_users(events: Path) -> pl.DataFrame:
    """``customer_id, users`` (sorted list of user ids) from the events' signup rows."""
    signups = pl.scan_parquet(events).filter(pl.col("event") == "Signed Up", pl.col("account_id").is_not_null())
    out = signups.select("user_id", customer_id=pl.col("account_id")).collect()
    return out.group_by("customer_id").agg(pl.col("user_id").sort().alias("users")).sort("customer_id")


# -- sources ---------------------------------------------------------------------------------------
def write_events(src: Path, dst: Path) -> int:
    """Copy the events with ``account_id`` as a billing customer id; returns the row count."""
    lf = pl.scan_parquet(src).with_columns(
        account_id=pl.concat_str([pl.lit("cus_00"), pl.col("account_id").str.slice(4)]))
    tmp = dst.with_suffix(".parquet.tmp")
    lf.sink_parquet(tmp, compression="zstd", statistics=True, row_group_size=1_000_000)
    tmp.replace(dst)
    return int(pl.scan_parquet(dst).select(pl.len()).collect().item())


def customers(subs: pl.DataFrame, users: pl.DataFrame, n_free: int, seed: int) -> pl.DataFrame:
    """Paying customers (every ``customer_id`` of billing) and free signups who never paid."""
    first = subs.group_by("customer_id").agg(first=pl.col("start_at").cast(pl.Int64).min()).sort("customer_id")
    n_paid = first.height
    free = pl.DataFrame({"customer_id": [f"cus_{n_paid + k:07d}" for k in range(n_free)]})
    free = free.with_row_index("i").with_columns(
        created=(START + u(pl.col("i").cast(pl.Int64) + 10**9, seed + 1) * float(END - START - DAY)).cast(pl.Int64))
    k = pl.col("k")
    paid = first.with_row_index("k").with_columns(k.cast(pl.Int64)).with_columns(
        lag=pl.when(u(k, seed + 2) < 0.4)
        .then((5 * MIN + u(k, seed + 3) * DAY).cast(pl.Int64))
        .otherwise(lognormal_us(k, seed + 4, 14 * DAY, 1.1)))
    paid = paid.select("customer_id", created=(pl.col("first") - pl.col("lag")).clip(lower_bound=START - 180 * DAY))
    out = pl.concat([paid, free.select("customer_id", "created")]).sort("customer_id").with_row_index("j")
    j = pl.col("j").cast(pl.Int64)
    ids = out["customer_id"]
    n_paid_ids = pl.lit(n_paid, pl.Int64)
    out = out.with_columns(
        channel=pl.when(pl.col("j") < n_paid).then(pick(j, seed + 5, CHANNELS))
        .otherwise(pick(j, seed + 8, FREE_CHANNELS)),
        segment=pick(j, seed + 6, SEGMENTS),
        ref=(rand_u64(j, seed + 7) % n_paid_ids.cast(pl.UInt64)).cast(pl.Int64),
    )
    referrer = ids.gather(out["ref"])
    out = out.with_columns(referred_by=pl.when((pl.col("channel") == "referral") & (referrer != pl.col("customer_id")))
                           .then(referrer))
    out = out.join(users, on="customer_id", how="left")
    owner = pl.col("users").list.first().fill_null("owner")
    out = out.with_columns(email=pl.concat_str([owner, pl.lit("@"), domain(pl.col("customer_id"))]))
    return out.select(
        "customer_id",
        created_at=pl.col("created").cast(TS),
        channel=pl.when(pl.col("channel") != "").then("channel"),
        referred_by="referred_by",
        segment="segment",
        email="email",
    )


def fx_rates(seed: int) -> list[tuple[str, str, float]]:
    """Daily EUR rates (USD per EUR), 2019-12-01..2024-12-31, a mean-reverting walk around 1.10."""
    rng = random.Random(seed)
    rate, rows = 1.10, []
    d = date(2019, 12, 1)
    while d <= date(2024, 12, 31):
        rate += 0.02 * (1.10 - rate) + rng.gauss(0, 0.004)
        rows.append((d.isoformat(), "EUR", round(rate, 6)))
        d += timedelta(days=1)
    return rows


def _month_index(us: int) -> int:
    d = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
    return (d.year - 2020) * 12 + d.month - 1


def spend(subs: pl.DataFrame, cust: pl.DataFrame, seed: int) -> list[tuple[str, str, str, str, str, str]]:
    """``month, date, amount, currency, category, channel`` rows for the 60 months of 2020–2024."""
    rng = random.Random(seed)
    first = subs.group_by("customer_id").agg(
        first=pl.col("start_at").cast(pl.Int64).min(), last=pl.col("end_at").cast(pl.Int64).fill_null(END).max())
    first = first.join(cust.select("customer_id", "channel"), on="customer_id").sort("customer_id")
    new: list[dict[str, int]] = [{} for _ in range(61)]
    for t, ch in first.select("first", "channel").iter_rows():
        m = _month_index(t)
        if 0 <= m < 60:
            new[m][ch or ""] = new[m].get(ch or "", 0) + 1
    starts, ends = sorted(first["first"].to_list()), sorted(first["last"].to_list())
    rows: list[tuple[str, str, str, str, str, str]] = []
    eur = {r[0]: r[2] for r in fx_rates(seed + 100)}

    def row(month: str, day: str, amount: float, channel: str, category: str = "acquisition", cur: str = "USD") -> None:
        rows.append((month, day, f"{amount:.2f}", cur, category, channel))

    for m in range(60):
        y, mo = 2020 + m // 12, m % 12 + 1
        first_day = date(y, mo, 1)
        nxt = date(y + mo // 12, mo % 12 + 1, 1)
        ym, last = f"{y}-{mo:02d}", (nxt - timedelta(days=1)).isoformat()
        to_eur = 1 / eur[last]

        def budget(ch: str, m: int = m) -> float:
            wanted = 0.6 * new[m].get(ch, 0) + 0.4 * new[m + 1].get(ch, 0) if m < 59 else new[m].get(ch, 0)
            return TARGET_CAC[ch] * max(wanted, 1.0) * rng.uniform(0.85, 1.2)

        mondays = [first_day + timedelta(days=k) for k in range((nxt - first_day).days)
                   if (first_day + timedelta(days=k)).weekday() == 0]
        search = budget("paid_search")
        for d in mondays:
            row("", d.isoformat(), search / len(mondays) * rng.uniform(0.8, 1.2), "paid_search")
        social = budget("paid_social")
        row(ym, "", social * 0.7, "paid_social")
        row(ym, "", social * 0.3 * to_eur, "paid_social", cur="EUR")
        show = budget("events") * SHOW_MONTHS.get(mo, 0.55)
        if mo == 9:  # the September show is in Berlin, invoiced in EUR
            row(ym, "", show * to_eur, "events", cur="EUR")
        else:
            row(ym, "", show, "events")
        row(ym, "", budget("content"), "content")
        row(ym, "", TARGET_CAC["partner"] * new[m].get("partner", 0) * rng.uniform(0.9, 1.1) + 250.0, "partner")
        row(ym, "", 250_000.0 * rng.uniform(0.95, 1.05), "", category="")  # agency retainer: no channel, no category
        t = int(datetime(y, mo, 1, tzinfo=UTC).timestamp()) * SEC
        paying = bisect.bisect_right(starts, t) - bisect.bisect_right(ends, t)
        row(ym, "", (90_000.0 + 22.0 * paying) * rng.uniform(0.9, 1.1), "cs_tools", category="retention")
        row(ym, "", (15_000.0 + 6.0 * paying) * rng.uniform(0.9, 1.1), "email", category="retention")
    rows.sort(key=lambda r: (r[0] or r[1][:7], r[1], r[5], r[4], r[3]))
    return rows


def tickets(sp: pl.DataFrame, users: pl.DataFrame, cust: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    """``n`` support tickets (see the module docstring)."""
    s = seed * 32
    t = sample_time(sp, n, s).sort(["t", "i"]).with_row_index("n").with_columns(pl.col("n").cast(pl.Int64))
    t = t.join(users, on="customer_id", how="left").join(cust.select("customer_id", "email"), on="customer_id",
                                                           how="left")
    i = pl.col("n")
    n_users = pl.col("users").list.len().fill_null(0)
    user = pl.when(n_users > 0).then(pl.col("users").list.get(
        (rand_u64(i, s + 1) % n_users.cast(pl.UInt64).clip(1)).cast(pl.Int64), null_on_oob=True))
    t = t.with_columns(user_id=user, how=u(i, s + 2), via=pick(i, s + 3, VIAS))
    own_email = pl.concat_str([pl.col("user_id").fill_null(pl.lit("help")), pl.lit("@"), domain(pl.col("customer_id"))])
    mixed_case = pl.when(u(i, s + 4) < 0.3).then(pl.col("email").str.to_uppercase()).otherwise(pl.col("email"))
    stranger = pl.concat_str([pl.lit("someone"), (rand_u64(i, s + 5) % 50_000).cast(pl.String),
                              pl.lit("@gmail.example")])
    t = t.with_columns(
        account_id=pl.when(pl.col("how") < 0.88).then(pl.col("customer_id")),
        requester_email=pl.when(pl.col("how") < 0.88).then(own_email)
        .when(pl.col("how") < 0.97).then(mixed_case).otherwise(stranger),
        is_agent_created=(pl.col("via") == "outbound") | ((pl.col("via") == "email") & (u(i, s + 6) < 0.01)),
    )
    n_tags = (rand_u64(i, s + 7) % 100).cast(pl.Int64)
    tag = [pick(i, s + 8 + k, dict.fromkeys(TAGS, 1)) for k in range(2)]
    t = t.with_columns(tags=pl.when(n_tags < 5).then(None).when(n_tags < 70).then(tag[0])
                       .otherwise(pl.concat_str([tag[0], pl.lit(";"), tag[1]])))
    kind = u(i, s + 10)
    created = pl.col("t")
    answered = (pl.when(kind < 0.02).then(created).when(kind < 0.06).then(None)
                .otherwise(created + lognormal_us(i, s + 11, 3 * HOUR, 1.2).clip(MIN, 30 * DAY)))
    t = t.with_columns(first_response_at=answered)
    resolved = pl.when(pl.col("first_response_at").is_not_null() & (u(i, s + 13) < 0.9)).then(
        pl.col("first_response_at") + lognormal_us(i, s + 14, 18 * HOUR, 1.3).clip(MIN, 60 * DAY))
    t = t.with_columns(resolved_at=resolved)
    r = u(i, s + 16)
    reopens = pl.when(pl.col("resolved_at").is_null()).then(0).when(r < 0.07).then(1).when(r < 0.085).then(
        2 + (rand_u64(i, s + 17) % 2).cast(pl.Int64)).otherwise(0)
    status = (pl.when(pl.col("resolved_at").is_not_null()).then(pl.lit("closed"))
              .when(pl.col("first_response_at").is_not_null()).then(pl.lit("open")).otherwise(pl.lit("new")))
    return t.select(
        ticket_id=pl.concat_str([pl.lit("T"), (i + 1).cast(pl.String).str.zfill(7)]),
        created_at=created.cast(TS),
        user_id="user_id",
        account_id="account_id",
        requester_email="requester_email",
        tags="tags",
        via="via",
        status=status,
        first_response_at=pl.col("first_response_at").cast(TS),
        resolved_at=pl.col("resolved_at").cast(TS),
        reopens=reopens.cast(pl.Int64),
        is_agent_created="is_agent_created",
    )


def _waves() -> list[tuple[str, int]]:
    """(label, send instant) of the quarterly NPS waves: the second Tuesday of the quarter's middle month."""
    out = []
    for y in range(2020, 2025):
        for q in range(4):
            d = date(y, 3 * q + 2, 8)
            d += timedelta(days=(1 - d.weekday()) % 7)
            out.append((f"{y}-Q{q + 1}", int(datetime(d.year, d.month, d.day, 15, tzinfo=UTC).timestamp()) * SEC))
    return out


def _respondent(frame: pl.DataFrame, i: pl.Expr, stream: int, main_share: float) -> pl.DataFrame:
    """``respondent_id`` and ``email``: one of the account's users (the first one ``main_share`` of the
    time), else one of three contacts of accounts without event users."""
    n_users = pl.col("users").list.len().fill_null(0)
    other = (rand_u64(i, stream) % n_users.cast(pl.UInt64).clip(1)).cast(pl.Int64)
    which = pl.when(u(i, stream + 1) < main_share).then(0).otherwise(other)
    contact = pl.concat_str([pl.lit("c"), (rand_u64(i, stream + 2) % 3).cast(pl.String), pl.lit("-"),
                             pl.col("customer_id").str.slice(4)])
    rid = pl.when(n_users > 0).then(pl.col("users").list.get(which, null_on_oob=True)).otherwise(contact)
    frame = frame.with_columns(respondent_id=rid)
    email = pl.concat_str([pl.col("respondent_id"), pl.lit("@"), domain(pl.col("customer_id"))])
    return frame.with_columns(email=email)


def _score(i: pl.Expr, stream: int, cdf: list[float], low: int) -> pl.Expr:
    """A whole score from cumulative probabilities ``cdf`` (scores ``low``, ``low + 1``, ...)."""
    x = u(i, stream)
    expr = pl.lit(low + len(cdf) - 1)
    for k in range(len(cdf) - 2, -1, -1):
        expr = pl.when(x < cdf[k]).then(pl.lit(low + k)).otherwise(expr)
    return expr.cast(pl.String)


def _cdf(weights: list[int]) -> list[float]:
    total, acc, out = sum(weights), 0, []
    for w in weights:
        acc += w
        out.append(acc / total)
    return out


NPS_W = _cdf([2, 1, 1, 2, 2, 4, 8, 12, 18, 24, 26])  # 0..10: ~20 % detractors, ~30 % passives, ~50 % promoters
NPS_LOW_W = _cdf([6, 4, 5, 6, 7, 9, 13, 14, 14, 11, 11])  # accounts in trouble
CSAT_W = _cdf([6, 5, 11, 30, 48])
CES_W = _cdf([3, 4, 7, 12, 22, 30, 22])


def surveys(subs: pl.DataFrame, tix: pl.DataFrame, users: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    """``n`` survey responses: NPS waves (55 %), CSAT after tickets (30 %), CES (15 %)."""
    s = seed * 64
    n_nps, n_csat = round(n * 0.55), round(n * 0.30)
    n_ces = n - n_nps - n_csat
    waves = pl.DataFrame(_waves(), schema={"wave": pl.String, "sent": pl.Int64}, orient="row")
    alive = subs.select("customer_id", s=pl.col("start_at").cast(pl.Int64),
                        e=pl.col("end_at").cast(pl.Int64).fill_null(END))
    alive = alive.join(waves, how="cross").filter(pl.col("s") <= pl.col("sent"), pl.col("e") > pl.col("sent"))
    alive = alive.select("customer_id", "wave", "sent").unique().sort(["wave", "customer_id"]).with_row_index("k")
    k = pl.col("k").cast(pl.Int64)
    n_first = round(n_nps * 0.98)
    nps = alive.with_columns(r=rand_u64(k, s + 1)).sort("r").head(n_first).sort("k").with_row_index("n")
    i = pl.col("n").cast(pl.Int64)
    nps = nps.join(users, on="customer_id", how="left", maintain_order="left")
    nps = _respondent(nps, i, s + 2, 0.7)
    unhappy = (rand_u64(pl.col("customer_id").str.slice(4).cast(pl.Int64), s + 5) % 10) < 2  # one account in five
    nps = nps.with_columns(
        responded=(pl.col("sent") + lognormal_us(i, s + 6, 2 * DAY, 1.0).clip(5 * MIN, 20 * DAY)),
        score=pl.when(unhappy).then(_score(i, s + 7, NPS_LOW_W, 0)).otherwise(_score(i, s + 8, NPS_W, 0)),
        email_only=u(i, s + 9) < 0.10,
    )
    # 2 %: the same respondent answers again a few days later (the latest counts in NPS)
    again = nps.filter(u(i, s + 10) < (n_nps - n_first) / n_first * 1.2).head(n_nps - n_first).with_columns(
        responded=pl.col("responded") + lognormal_us(i, s + 11, 3 * DAY, 0.5).clip(HOUR, 9 * DAY),
        score=_score(i, s + 12, NPS_W, 0))
    nps = pl.concat([nps, again])
    odd_wave = pl.col("wave").str.slice(6, 1).cast(pl.Int64) % 2 == 1
    nps = nps.select(
        responded_at="responded",
        score="score",
        survey=pl.lit("nps"),
        respondent_id=pl.when(~pl.col("email_only")).then("respondent_id"),
        email=pl.when(pl.col("email_only") & odd_wave).then(pl.col("email").str.to_titlecase()).otherwise("email"),
        account_id=pl.when(u(pl.col("k").cast(pl.Int64), s + 13) >= 0.03).then("customer_id"),
        touchpoint=pl.lit("relationship"),
        wave="wave",
    )

    # resolved at least 10 days before the data end, so every answer (at most 9 days later) falls in it
    last = pl.lit(END - 10 * DAY).cast(TS)
    solved = tix.filter(pl.col("resolved_at") < last, ~pl.col("is_agent_created")).with_row_index("k")
    solved = solved.with_columns(r=rand_u64(pl.col("k").cast(pl.Int64), s + 20)).sort("r")
    csat = solved.head(n_csat).sort("k").with_row_index("n")
    ces_support = solved.slice(n_csat, n_ces // 3).sort("k").with_row_index("n")

    def after_ticket(frame: pl.DataFrame, survey: str, stream: int, cdf: list[float], low: int) -> pl.DataFrame:
        j = pl.col("n").cast(pl.Int64)
        who = pl.coalesce(pl.col("user_id"), pl.col("requester_email").str.to_lowercase())
        return frame.select(
            responded_at=pl.col("resolved_at") + pl.duration(
                microseconds=lognormal_us(j, stream, 6 * HOUR, 1.0).clip(MIN, 9 * DAY)),
            score=_score(j, stream + 1, cdf, low),
            survey=pl.lit(survey),
            respondent_id=who,
            email=pl.col("requester_email").str.to_lowercase(),
            account_id="account_id",
            touchpoint=pl.lit("support"),
            wave=pl.lit(None, pl.String),
        )

    csat_rows = after_ticket(csat, "csat", s + 21, CSAT_W, 1)
    ces_rows = [after_ticket(ces_support, "ces", s + 23, CES_W, 1)]
    rest = n_ces - ces_support.height
    other = sample_time(spans(subs), rest, s + 25).with_columns(pl.col("i").cast(pl.Int64))
    other = other.join(users, on="customer_id", how="left", maintain_order="left")
    j = pl.col("i")
    other = _respondent(other, j, s + 26, 0.5)
    ces_rows.append(other.select(
        responded_at=pl.col("t").cast(TS),
        score=_score(j, s + 29, CES_W, 1),
        survey=pl.lit("ces"),
        respondent_id="respondent_id",
        email="email",
        account_id="customer_id",
        touchpoint=pl.when(u(j, s + 30) < 0.5).then(pl.lit("onboarding")).otherwise(pl.lit("billing")),
        wave=pl.lit(None, pl.String),
    ))
    nps = nps.with_columns(pl.col("responded_at").cast(TS))
    out = pl.concat([nps, csat_rows, *ces_rows], how="vertical")
    if out.height != n or out["responded_at"].max() >= datetime(2025, 1, 1, tzinfo=UTC):  # type: ignore[operator]
        raise AssertionError(f"{out.height} survey rows, expected {n}, all before 2025")
    out = out.sort(["responded_at", "survey", "respondent_id", "score"], nulls_last=True)
    out = out.with_row_index("n").with_columns(
        response_id=pl.concat_str([pl.lit("R"), (pl.col("n") + 1).cast(pl.String).str.zfill(7)]))
    return out.select("responded_at", "score", "survey", "respondent_id", "email", "account_id", "response_id",
                      "touchpoint", "wave")


def traffic(cust: pl.DataFrame, n: int, seed: int) -> pl.DataFrame:
    """``n`` web sessions: signup sessions, their earlier visits, and anonymous visitors."""
    s = seed * 128
    c = cust.filter(pl.col("created_at").cast(pl.Int64) >= START).with_row_index("v")
    v = pl.col("v").cast(pl.Int64)
    web = pl.col("channel").fill_null("")
    web = pl.when(web == "partner").then(pl.lit("referral")).when(web == "events").then(pl.lit("direct")).otherwise(web)
    signup = c.select(v=v, t=pl.col("created_at").cast(pl.Int64) - (MIN + u(v, s + 1) * 29 * MIN).cast(pl.Int64),
                      channel=web, signed_up=pl.lit(True))
    n_before = (pl.when(u(v, s + 2) < 0.6).then(1 + (rand_u64(v, s + 3) % 3).cast(pl.Int64)).otherwise(0))
    before = c.select(v=v, t0=pl.col("created_at").cast(pl.Int64), nb=n_before).filter(pl.col("nb") > 0)
    before = before.with_columns(b=pl.int_ranges(0, pl.col("nb"))).explode("b").with_row_index("w")
    w = pl.col("w").cast(pl.Int64)
    before = before.select(v="v", t=pl.col("t0") - (DAY // 2 + u(w, s + 4) * 24.5 * DAY).cast(pl.Int64),
                           channel=pick(w, s + 5, TRAFFIC), signed_up=pl.lit(False)).filter(pl.col("t") >= START)
    rest = max(0, n - signup.height - before.height)
    n_strangers = round(rest * 0.68)
    anon = pl.select(w=pl.int_range(rest, dtype=pl.Int64)).select(
        v=c.height + (rand_u64(w, s + 6) % max(1, n_strangers)).cast(pl.Int64),
        t=START + (u(w, s + 7) * float(END - START - 1)).cast(pl.Int64),
        channel=pick(w, s + 8, TRAFFIC), signed_up=pl.lit(False))
    sessions = pl.concat([signup, before, anon]).sort(["t", "v", "signed_up"]).with_row_index("n")
    i = pl.col("n").cast(pl.Int64)
    bounce_p = pl.col("channel").replace_strict(BOUNCE, return_dtype=pl.Float64)
    bounced = ~pl.col("signed_up") & (u(i, s + 9) < bounce_p)
    pages = pl.when(bounced).then(1).otherwise(
        pl.when(pl.col("signed_up")).then(3).otherwise(2) + (-(1 - u(i, s + 10)).log() / 0.35).cast(pl.Int64))
    seconds = pl.when(bounced).then(lognormal_us(i, s + 11, 7.0, 1.1)).otherwise(
        pl.col("pages") * lognormal_us(i, s + 12, 45.0, 0.8))
    sessions = sessions.with_columns(pages=pages).with_columns(seconds=seconds)
    key = pl.col("signed_up") | (u(i, s + 13) < pl.when(pl.col("pages") > 1).then(0.04).otherwise(0.01))
    return sessions.select(
        session_id=pl.concat_str([pl.lit("w"), (i + 1).cast(pl.String).str.zfill(8)]),
        visitor_id=pl.concat_str([pl.lit("v"), (pl.col("v") + 1).cast(pl.String).str.zfill(8)]),
        started_at=pl.col("t").cast(TS),
        pageviews=pl.col("pages").cast(pl.Int64),
        duration_s=pl.col("seconds").cast(pl.Float64),
        key_event=key,
        channel=pl.when(pl.col("channel") != "").then("channel"),
        signed_up="signed_up",
    )


def _write(df: pl.DataFrame, path: Path) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    if path.suffix == ".csv":
        df.write_csv(tmp)
    else:
        df.write_parquet(tmp, compression="zstd", statistics=True, row_group_size=1_000_000)
    tmp.replace(path)


def _link(target: Path, link: Path) -> None:
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.relpath(target, link.parent))


def generate(out: Path, subs_path: Path, events_path: Path, *, n_tickets: int, n_surveys: int, n_sessions: int,
             n_free: int, seed: int, events_copy: bool = True) -> dict[str, object]:
    """Write every company source into ``out``; returns the sidecar's content."""
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    _link(subs_path, out / "subscriptions.parquet")
    ev_out = out / "events.parquet"
    if events_copy:
        if ev_out.is_symlink():
            ev_out.unlink()
        n_events = write_events(events_path, ev_out)
    else:  # the events as generated (their accounts are then not customers)
        _link(events_path, ev_out)
        n_events = int(pl.scan_parquet(ev_out).select(pl.len()).collect().item())
    subs = pl.read_parquet(subs_path, columns=["customer_id", "start_at", "end_at"])
    users = account_users(ev_out)
    cust = customers(subs, users, n_free, seed)
    _write(cust, out / "customers.parquet")
    fx = pl.DataFrame(fx_rates(seed + 100), schema={"date": pl.String, "currency": pl.String, "rate": pl.Float64},
                      orient="row")
    _write(fx, out / "fx_rates.csv")
    sp_rows = spend(subs, cust, seed)
    sp = pl.DataFrame(sp_rows, schema=["month", "date", "amount", "currency", "category", "channel"], orient="row")
    _write(sp, out / "spend.csv")
    tix = tickets(spans(subs), users, cust, n_tickets, seed)
    _write(tix, out / "tickets.parquet")
    srv = surveys(subs, tix, users, n_surveys, seed)
    _write(srv, out / "surveys.parquet")
    web = traffic(cust, n_sessions, seed)
    _write(web, out / "traffic.parquet")
    (out / "kpi.toml").write_text(KPI_TOML)
    meta: dict[str, object] = {
        "tickets": n_tickets, "surveys": n_surveys, "sessions": n_sessions, "free": n_free, "seed": seed,
        "events_copy": events_copy,
        "rows": {"subscriptions": subs.height, "events": n_events, "customers": cust.height, "spend": sp.height,
                 "fx_rates": fx.height, "tickets": tix.height, "surveys": srv.height, "traffic": web.height},
        "accounts_with_event_users": users.height,
        "survey_kinds": dict(srv.group_by("survey").len().sort("survey").iter_rows()),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    (out / ".generated.json").write_text(json.dumps(meta) + "\n")
    return meta


def main() -> None:
    """CLI entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--tickets", type=int, default=1_000_000)
    p.add_argument("--surveys", type=int, default=200_000)
    p.add_argument("--sessions", type=int, default=3_000_000)
    p.add_argument("--free", type=int, default=25_000, help="signups who never paid (customers without billing)")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--subscriptions", type=Path, default=DATA / "subscriptions.parquet")
    p.add_argument("--events", type=Path, default=DATA / "events" / "events.parquet")
    p.add_argument("--link-events", action="store_true", help="symlink the events instead of re-keying accounts")
    p.add_argument("--out", type=Path, default=OUT)
    a = p.parse_args()
    for f in (a.subscriptions, a.events):
        if not f.exists():
            raise SystemExit(f"{f} is missing: run bench/generate.py and bench/events_generate.py first")
    meta = generate(a.out, a.subscriptions, a.events, n_tickets=a.tickets, n_surveys=a.surveys,
                    n_sessions=a.sessions, n_free=a.free, seed=a.seed, events_copy=not a.link_events)
    print(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main()
