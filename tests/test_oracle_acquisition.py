"""The acquisition metrics (SPEC §3.2) through the CLI against an independent oracle.

Seeded random worlds (spend in two currencies with ``date`` and ``month`` rows, gaps, blank
categories and channels; subscriptions with gaps and price changes; customers with channels and
referrers; signup events with repeats; web sessions with blanks) are written as CSV files and run
through ``kpi compute … -f json`` exactly as SPEC §4 says. Every (metric, period[, channel]) value,
numerator, denominator and ``complete`` flag is compared with ``tests/oracle_acquisition.py``, which
implements SPEC §3.2 from the text in plain Python (rel 1e-9).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import random
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from fractions import Fraction
from pathlib import Path

import pytest
from typer.testing import Result

from tests import oracle_acquisition as oa
from tests.conftest import write_csv

COUNTER = itertools.count()
SPEND_CHANNELS = ["google_ads", "linkedin", "content", "cpc", "Paid Search", "newsletter", "cpm", ""]
CHANNELS_TOML = '[channels]\ngoogle_ads = "paid"\nlinkedin = "paid"\ncontent = "organic"\ncpm = "other"\n'
CHANNELS = {"google_ads": "paid", "linkedin": "paid", "content": "organic", "cpm": "other"}
FIRST, LAST = date(2024, 1, 1), date(2024, 6, 30)
AS_OF = date(2024, 9, 1)
N_SEEDS = int(os.environ.get("ORACLE_SEEDS", "4"))


def _instant(rng: random.Random, lo: date, hi: date) -> datetime:
    """A random instant (whole minutes, UTC) between two days; never a local midnight in practice."""
    span = int((datetime(hi.year, hi.month, hi.day) - datetime(lo.year, lo.month, lo.day)).total_seconds() // 60)
    minute = rng.randrange(span)
    return datetime(lo.year, lo.month, lo.day, tzinfo=UTC) + timedelta(minutes=minute, seconds=17)


def _iso(t: datetime) -> str:
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def make_world(seed: int, *, month_rows: bool = True, day_rows: bool = True, sparse: bool = False) -> oa.World:
    """A small random company from 2023-10 to 2024-08 (the range asked is 2024-01 … 2024-06).

    ``sparse``: a handful of customers, signups and sessions, so that many periods are empty.
    """
    rng = random.Random(seed)
    k = 4 if sparse else 1
    w = oa.World(channels=dict(CHANNELS), as_of=AS_OF)
    months = [date(2023, m, 1) for m in (10, 11, 12)] + [date(2024, m, 1) for m in range(1, 9)]
    gap = rng.choice(months[3:9])  # a month of the range with no acquisition spend at all
    for mo in months:
        ym = mo.strftime("%Y-%m")
        if mo != gap:
            for ch in rng.sample(SPEND_CHANNELS, rng.randint(1, 4)):
                cur = rng.choice(["USD", "USD", "EUR", "", "usd", "eur"])
                cat = rng.choice(["acquisition", "", "acquisition"])
                amount = Fraction(rng.choice([0, 50, 120, 333, 1000, 2500]) + rng.choice([0, Fraction(1, 4)]))
                if month_rows and (not day_rows or rng.random() < 0.5):
                    w.spend.append(oa.Spend(amount, month=ym, currency=cur, category=cat, channel=ch))
                else:
                    for _ in range(rng.randint(1, 3)):
                        day = mo + timedelta(days=rng.randrange(28))
                        w.spend.append(oa.Spend(amount, day=day, currency=cur, category=cat, channel=ch))
        if rng.random() < 0.7 or mo == months[-1]:  # retention spend, some months without
            row = oa.Spend(Fraction(rng.choice([200, 450, 80])), month=ym if month_rows else None,
                           day=None if month_rows else mo + timedelta(days=3), category="retention",
                           channel="cs_tools", currency=rng.choice(["USD", "EUR"]))
            w.spend.append(row)
    for r in w.spend:
        if r.currency.strip().upper() == "EUR":
            w.fx.setdefault((r.rate_day(), "EUR"), Fraction(rng.choice([105, 108, 110, 112]), 100))

    cust_channels = ["google_ads", "linkedin", "content", "cpc", "Paid Search", "newsletter", "cpm", "", "",
                     " LinkedIn ", "CPC", "paid_social", "Organic Search"]
    for i in range(rng.randint(18, 30) // k):
        cid = f"c{i:02d}"
        created = _instant(rng, date(2023, 9, 1), date(2024, 8, 1))
        shown = None if rng.random() < 0.05 else created  # a blank created_at: in no referral cohort
        if rng.random() > 0.06:  # else a billing customer with no customers row: (unattributed)
            w.customers.append(oa.Customer(cid, shown, rng.choice(cust_channels),
                                           rng.choice(["", "", "c01", "partner"])))
        if rng.random() < 0.15:
            continue  # a lead that never pays
        start = created + timedelta(days=rng.choice([0, 3, 20, 45, 80, 95, 130]), hours=rng.randint(1, 20))
        for _ in range(rng.randint(1, 3)):
            end = start + timedelta(days=rng.randint(15, 150)) if rng.random() < 0.6 else None
            status = "trialing" if rng.random() < 0.1 else rng.choice(["", "active"])
            amount = Fraction(rng.choice([0, 29, 49, 99, 99, 250]))
            w.subs.append(oa.Sub(cid, start, end, amount, status))
            if end is None:
                break
            start = end + timedelta(days=rng.choice([0, 0, 10, 40]))  # contiguous = price change
    # billing keeps going past the range: one long-running account makes every period complete
    w.subs.append(oa.Sub("zz", datetime(2023, 1, 5, tzinfo=UTC), datetime(2024, 8, 20, tzinfo=UTC), Fraction(10)))
    w.customers.append(oa.Customer("zz", datetime(2023, 1, 1, tzinfo=UTC), "content", ""))

    for i in range(rng.randint(20, 40) // k):
        for _ in range(rng.choice([1, 1, 1, 2, 3])):  # repeated signups: only the first counts
            w.events.append(oa.Event(_instant(rng, date(2023, 11, 1), date(2024, 8, 1)), "Signed Up", f"u{i}"))
        w.events.append(oa.Event(_instant(rng, date(2023, 11, 1), date(2024, 8, 20)), "Page Viewed", f"u{i}"))
    w.events.append(oa.Event(datetime(2024, 8, 25, 9, tzinfo=UTC), "Page Viewed", "u0"))

    for i in range(rng.randint(40, 80) // (3 * k - 2)):
        w.sessions.append(oa.Session(
            f"s{i}", f"v{rng.randrange(20)}", _instant(rng, date(2023, 12, 1), date(2024, 8, 20)),
            rng.choice([0, 1, 1, 2, 3]),
            rng.choice([None, Fraction(0), Fraction(5), Fraction(10), Fraction(21, 2), Fraction(30)]),
            rng.choice([None, True, False, False]),
            rng.choice([None, True, False, False]),
        ))
    w.sessions.append(oa.Session("s_end", "v0", datetime(2024, 8, 25, tzinfo=UTC), 1, Fraction(1), False, False))
    return w


def _bool(b: bool | None) -> str:
    return "" if b is None else "true" if b else "false"


def write_world(w: oa.World, folder: Path, traffic_user: dict[str, str] | None = None) -> Path:
    """The world as the canonical CSV sources of SPEC §1.2 plus a kpi.toml with its [channels]."""
    def money(x: Fraction) -> str:
        return str(float(x)) if x.denominator != 1 else str(x.numerator)

    write_csv(folder / "spend.csv", ["date", "month", "amount", "currency", "category", "channel"], [
        [r.day.isoformat() if r.day else "", r.month or "", money(r.amount), r.currency, r.category, r.channel]
        for r in w.spend
    ])
    write_csv(folder / "fx_rates.csv", ["date", "currency", "rate"],
              [[d.isoformat(), c, money(v)] for (d, c), v in sorted(w.fx.items())])
    write_csv(folder / "subscriptions.csv",
              ["customer_id", "subscription_id", "start_at", "end_at", "amount", "currency", "status"],
              [[s.customer, f"sub_{s.customer}_{i}", _iso(s.start), _iso(s.end) if s.end else "", money(s.amount),
                "USD", s.status] for i, s in enumerate(w.subs)])
    write_csv(folder / "customers.csv", ["customer_id", "created_at", "channel", "referred_by"],
              [[c.id, _iso(c.created_at) if c.created_at else "", c.channel, c.referred_by] for c in w.customers])
    write_csv(folder / "events.csv", ["timestamp", "event", "user_id", "session_id", "anonymous_id", "account_id"],
              [[_iso(e.ts), e.event, e.user_id, e.session_id, e.anonymous_id, e.account_id] for e in w.events])
    if w.sessions and traffic_user is None:
        write_csv(folder / "traffic.csv",
                  ["session_id", "visitor_id", "started_at", "pageviews", "duration_s", "key_event", "signed_up"],
                  [[s.session_id, s.visitor_id, _iso(s.started_at), str(s.pageviews),
                    "" if s.duration_s is None else money(s.duration_s), _bool(s.key_event), _bool(s.signed_up)]
                   for s in w.sessions])
    elif w.sessions:  # no signed_up column: the signup session carries the new user's id
        write_csv(folder / "traffic.csv", ["session_id", "visitor_id", "started_at", "pageviews", "user_id"],
                  [[s.session_id, s.visitor_id, _iso(s.started_at), str(s.pageviews),
                    traffic_user.get(s.session_id, "")] for s in w.sessions])
    (folder / "kpi.toml").write_text("[channels]\n" + "".join(f'"{k}" = "{v}"\n' for k, v in w.channels.items()))
    return folder


def cli_rows(result: Result) -> dict[tuple[str, date, str], tuple[float | None, float | None, float | None, bool]]:
    assert result.exit_code == 0, result.stderr + result.stdout
    out = {}
    for row in json.loads(result.stdout):
        group = row.get("channel") or ""
        key = (row["metric"], date.fromisoformat(row["period"]), group)
        assert key not in out, f"two rows for {key}"
        out[key] = (row["value"], row["numerator"], row["denominator"], row["complete"])
    return out


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def empty(cell: oa.Cell) -> bool:
    """A row with nothing in it: value and parts null or 0."""
    return all(x in (None, 0) for x in cell)


def compare(got: dict, expected: dict[tuple[str, date, str], oa.Cell], *, complete: bool = True,
            parts: bool = True, groups_optional: bool = False, null_zero_den: bool = False) -> None:
    """Every oracle row must be in the CLI's output with the same value and parts; no extra rows.

    ``groups_optional``: with --by, SPEC does not say which groups a metric lists; a group whose
    row would be empty may be left out. ``null_zero_den``: a null value's denominator of 0 may come
    out null (the CLI's CAC per channel does so for some groups with no new customers; reported to
    the lead as a defect: SPEC §3.5 says the parts are the named metrics, and new_customers is 0).
    """
    problems = []
    for key, (value, num, den) in sorted(expected.items(), key=str):
        if key not in got:
            if not (groups_optional and empty((value, num, den))):
                problems.append(f"{key}: missing from the CLI output (expected value {value})")
            continue
        g = got[key]
        if not close(g[0], value):
            problems.append(f"{key}: value {g[0]} != {value} (num {g[1]} / den {g[2]} vs {num} / {den})")
        elif parts and not (close(g[1], num) and (close(g[2], den) or (null_zero_den and den == 0 and g[2] is None))):
            problems.append(f"{key}: parts {g[1]} / {g[2]} != {num} / {den}")
        if g[3] is not complete:
            problems.append(f"{key}: complete {g[3]} != {complete}")
    extra = set(got) - set(expected)
    assert not problems, "\n".join(problems[:20]) + f"\n({len(problems)} problems)"
    assert not extra, f"rows the oracle does not expect: {sorted(extra, key=str)[:10]}"


def expect(w: oa.World, metrics: dict[str, str], first: date, last: date, by_channel: bool = False) -> dict:
    """{CLI id: oracle name} → the oracle's rows keyed like ``cli_rows``."""
    out = {}
    for cli_id, name in metrics.items():
        for (p, g), cell in oa.compute(w, name, first, last, by_channel).items():
            out[cli_id, p, g] = cell
    return out


@pytest.fixture
def kpi(tmp_path: Path, run: Callable[..., Result]) -> Callable[..., dict]:
    """``kpi(world, *args)``: write the world to a fresh folder, run ``kpi compute`` and parse JSON."""
    def go(w: oa.World, *args: str, traffic_user: dict[str, str] | None = None) -> dict:
        folder = write_world(w, tmp_path / f"w{next(COUNTER)}", traffic_user)
        res = run("compute", *args, "--data", folder, "--config", folder / "kpi.toml", "--currency", "USD",
                  "--as-of", w.as_of.isoformat(), "--tz", w.tz, "-f", "json")
        return cli_rows(res)
    return go


MONTH_METRICS = {
    "acquisition_spend": "acquisition_spend", "retention_spend": "retention_spend", "cac": "cac", "cpa": "cpa",
    "cac_payback_months": "cac_payback_months", "crc": "crc", "paid_share": "paid_share",
    "unattributed_share": "unattributed_share", "new_signups": "new_signups",
    "signup_growth_rate": "signup_growth_rate", "visitor_conversion_rate": "visitor_conversion_rate",
    "bounce_rate": "bounce_rate", "referral_conversion_rate": "referral_conversion_rate",
    "non_referral_conversion_rate": "non_referral_conversion_rate",
}


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_month_defaults(kpi: Callable[..., dict], seed: int) -> None:
    w = make_world(seed)
    got = kpi(w, ",".join(MONTH_METRICS), "--from", "2024-01", "--to", "2024-06")
    compare(got, expect(w, MONTH_METRICS, FIRST, LAST))


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_new_york_lag_margin(kpi: Callable[..., dict], seed: int) -> None:
    """--tz America/New_York (instants near month ends move), --cac-lag 1 from --from 2024-02 (January's
    spend is read from before the range), --gross-margin 0.8; growth reads P − 1 before --from too."""
    w = make_world(100 + seed)
    w.tz, w.cac_lag, w.gross_margin = "America/New_York", 1, Fraction(4, 5)
    ids = {k: k for k in ("cac", "cpa", "cac_payback_months", "crc", "signup_growth_rate", "new_signups",
                          "referral_conversion_rate", "visitor_conversion_rate", "acquisition_spend")}
    got = kpi(w, ",".join(ids), "--from", "2024-02", "--to", "2024-06", "--cac-lag", "1", "--gross-margin", "0.8")
    compare(got, expect(w, ids, date(2024, 2, 1), LAST))


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_payback_new_plus_expansion(kpi: Callable[..., dict], seed: int) -> None:
    w = make_world(200 + seed)
    w.gross_margin = Fraction(7, 10)
    got = kpi(w, "cac_payback_months", "--from", "2024-01", "--to", "2024-06", "--gross-margin", "0.7",
              "--payback-basis", "new_plus_expansion")
    compare(got, expect(w, {"cac_payback_months": "cac_payback_months_npe"}, FIRST, LAST))


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_cac_paid_basis(kpi: Callable[..., dict], seed: int) -> None:
    """Paid = [channels] lines first (cpm = "other" overrides the utm_medium default), then GA4 names
    ("Paid Search") and utm_medium cpc|ppc|paid*|display|cpm."""
    w = make_world(300 + seed)
    got = kpi(w, "cac", "--from", "2024-01", "--to", "2024-06", "--cac-basis", "paid")
    compare(got, expect(w, {"cac": "cac_paid"}, FIRST, LAST))


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_by_channel(kpi: Callable[..., dict], seed: int) -> None:
    """--by channel: each channel's spend / its new customers, (unattributed) included."""
    w = make_world(400 + seed)
    # trimmed names only: the CLI groups " LinkedIn " apart from "LinkedIn" (see the oracle report)
    w.customers = [oa.Customer(c.id, c.created_at, c.channel.strip(), c.referred_by) for c in w.customers]
    ids = {k: k for k in ("acquisition_spend", "cac", "new_customers")}
    got = kpi(w, ",".join(ids), "--from", "2024-01", "--to", "2024-06", "--by", "channel")
    expected = expect(w, ids, FIRST, LAST, by_channel=True)
    compare(got, expected, groups_optional=True)
    # SPEC §3.2: blended spend and counts equal the sums over channels, (unattributed) included
    blended = kpi(w, ",".join(ids), "--from", "2024-01", "--to", "2024-06")
    for (metric, period, _), (value, num, den, _) in blended.items():
        groups = [cell for (m, p, g), cell in got.items() if m == metric and p == period and g]
        if metric == "cac":
            assert close(den, sum(c[2] or 0 for c in groups)), (metric, period)
            if num is not None:
                assert close(num, sum(c[1] or 0 for c in groups)), (metric, period)
        elif value is not None:
            assert close(value, sum(c[0] or 0 for c in groups)), (metric, period)


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_bounce_ga4(kpi: Callable[..., dict], seed: int) -> None:
    w = make_world(500 + seed)
    w.sessions = [s if s.duration_s is not None else oa.Session(s.session_id, s.visitor_id, s.started_at, s.pageviews,
                                                                  Fraction(3), s.key_event, s.signed_up)
                  for s in w.sessions]  # a blank duration under ga4 is a separate question
    w.engaged_seconds = Fraction(10)
    got = kpi(w, "bounce_rate", "--from", "2024-01", "--to", "2024-06", "--bounce", "ga4")
    compare(got, expect(w, {"bounce_rate": "bounce_rate_ga4"}, FIRST, LAST))
    w.engaged_seconds = Fraction(21, 2)  # exactly 10.5 s is not > 10.5 s
    got = kpi(w, "bounce_rate", "--from", "2024-01", "--to", "2024-06", "--bounce", "ga4", "--engaged-seconds", "10.5")
    compare(got, expect(w, {"bounce_rate": "bounce_rate_ga4"}, FIRST, LAST))


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_week_prorate_kolkata(kpi: Callable[..., dict], seed: int) -> None:
    """--period week in Asia/Kolkata (+05:30): month rows spread evenly over their days."""
    w = make_world(600 + seed)
    w.tz, w.grain, w.prorate = "Asia/Kolkata", "week", True
    ids = {k: k for k in ("acquisition_spend", "retention_spend", "cac", "cpa", "new_signups", "bounce_rate",
                          "signup_growth_rate")}
    got = kpi(w, ",".join(ids), "--from", "2024-03-01", "--to", "2024-04-30", "--period", "week",
              "--spend-allocation", "prorate")
    compare(got, expect(w, ids, date(2024, 3, 1), date(2024, 4, 30)))


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_quarter(kpi: Callable[..., dict], seed: int) -> None:
    w = make_world(700 + seed)
    w.grain = "quarter"
    got = kpi(w, ",".join(MONTH_METRICS), "--from", "2024-01", "--to", "2024-06", "--period", "quarter")
    compare(got, expect(w, MONTH_METRICS, FIRST, LAST))
    w.cac_lag = 1  # one quarter back: 2023-Q4's spend for 2024-Q1, before --from
    ids = {k: k for k in ("cac", "cpa", "cac_payback_months")}
    got = kpi(w, ",".join(ids), "--from", "2024-01", "--to", "2024-06", "--period", "quarter", "--cac-lag", "1")
    compare(got, expect(w, ids, FIRST, LAST))


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_ltv_cac_ratio(kpi: Callable[..., dict], seed: int) -> None:
    """ltv / cac of the same P and lag; LTV's churn average reads six periods before --from."""
    w = make_world(800 + seed)
    w.gross_margin, w.cac_lag = Fraction(3, 4), 1
    ids = {"ltv": "ltv", "ltv_cac_ratio": "ltv_cac_ratio", "cac": "cac"}
    got = kpi(w, ",".join(ids), "--from", "2024-01", "--to", "2024-06", "--gross-margin", "0.75", "--cac-lag", "1")
    compare(got, expect(w, ids, FIRST, LAST))


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_sparse(kpi: Callable[..., dict], seed: int) -> None:
    """Few rows: empty periods, zero denominators, growth from an empty P − 1."""
    w = make_world(900 + seed, sparse=True)
    got = kpi(w, ",".join(MONTH_METRICS), "--from", "2024-01", "--to", "2024-06")
    compare(got, expect(w, MONTH_METRICS, FIRST, LAST))


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_as_of_inside_range(kpi: Callable[..., dict], seed: int) -> None:
    """--as-of 2024-05-15: May and June are incomplete (values over the whole period all the same);
    referral windows must have ended by --as-of."""
    w = make_world(1000 + seed)
    w.as_of = date(2024, 5, 15)
    got = kpi(w, ",".join(MONTH_METRICS), "--from", "2024-01", "--to", "2024-04")
    compare(got, expect(w, MONTH_METRICS, FIRST, date(2024, 4, 30)))
    got = kpi(w, ",".join(MONTH_METRICS), "--from", "2024-05", "--to", "2024-06")
    compare(got, expect(w, MONTH_METRICS, date(2024, 5, 1), LAST), complete=False)


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_days_across_dst(kpi: Callable[..., dict], seed: int) -> None:
    """--period day in America/New_York across 2024-03-10 (a 23-hour day), monthly spend prorated."""
    w = make_world(1100 + seed)
    w.tz, w.grain, w.prorate = "America/New_York", "day", True
    ids = {k: k for k in ("acquisition_spend", "cac", "cpa", "new_signups", "bounce_rate", "visitor_conversion_rate")}
    got = kpi(w, ",".join(ids), "--from", "2024-03-08", "--to", "2024-03-12", "--period", "day",
              "--spend-allocation", "prorate")
    compare(got, expect(w, ids, date(2024, 3, 8), date(2024, 3, 12)))


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_weeks_from_sunday(kpi: Callable[..., dict], seed: int) -> None:
    """--period week --week-start sun with date spend rows only (no allocation needed)."""
    w = make_world(1200 + seed, month_rows=False)
    w.grain, w.week_start = "week", 6
    ids = {k: k for k in ("acquisition_spend", "retention_spend", "cac", "crc", "cpa", "signup_growth_rate")}
    got = kpi(w, ",".join(ids), "--from", "2024-02-01", "--to", "2024-03-31", "--period", "week",
              "--week-start", "sun")
    compare(got, expect(w, ids, date(2024, 2, 1), date(2024, 3, 31)))


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_bounce_from_events(kpi: Callable[..., dict], seed: int) -> None:
    """No traffic source: bounce over sessions of page-view events. Session ids repeat across users
    (two sessions), exact duplicate rows are dropped (a doubled lone page view is still a bounce)."""
    rng = random.Random(1300 + seed)
    w = make_world(1300 + seed)
    w.sessions, w.events = [], []
    for _ in range(rng.randint(10, 40)):
        start = _instant(rng, date(2023, 12, 1), date(2024, 8, 1))
        user, sid = f"u{rng.randrange(8)}", f"s{rng.randrange(15)}"
        if any(e.user_id == user and e.session_id == sid for e in w.events):
            continue  # one visit per (user, session id)
        for n in range(rng.choice([1, 1, 2, 3])):
            w.events.append(oa.Event(start + timedelta(minutes=5 * n), "Page Viewed", user, sid))
        if rng.random() < 0.2:
            w.events.append(w.events[-1])  # an exact duplicate row
    w.events.append(oa.Event(datetime(2024, 8, 25, tzinfo=UTC), "Page Viewed", "u0", "s_last"))
    got = kpi(w, "bounce_rate", "--from", "2024-01", "--to", "2024-06")
    compare(got, expect(w, {"bounce_rate": "bounce_rate_events"}, FIRST, LAST))


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_year_and_month_option(kpi: Callable[..., dict], seed: int) -> None:
    """--period year (spend, signups, P − 1 = 2023 for growth) and --month as the range option."""
    w = make_world(1400 + seed)
    w.grain = "year"
    ids = {k: k for k in ("acquisition_spend", "retention_spend", "new_signups", "signup_growth_rate", "cpa")}
    w.as_of = date(2025, 1, 1)  # 2024 must end before --as-of: it is incomplete, the data stop in Aug
    got = kpi(w, ",".join(ids), "--year", "2024", "--period", "year")
    compare(got, expect(w, ids, date(2024, 1, 1), date(2024, 12, 31)), complete=False)
    w.grain, w.as_of = "month", AS_OF
    got = kpi(w, ",".join(MONTH_METRICS), "--month", "2024-03")
    compare(got, expect(w, MONTH_METRICS, date(2024, 3, 1), date(2024, 3, 31)))


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_conversion_from_signup_user_id(kpi: Callable[..., dict], seed: int) -> None:
    """traffic without ``signed_up``: a session carrying the ``user_id`` of its signup converts (SPEC
    §1.2 "signed_up (bool) or user_id of the signup"); each such user signs up in that session."""
    w = make_world(1500 + seed)
    sessions = []
    for i, s in enumerate(w.sessions):
        sessions.append(oa.Session(s.session_id, s.visitor_id, s.started_at, s.pageviews, s.duration_s,
                                   s.key_event, bool(s.signed_up)))
        if s.signed_up:
            w.events.append(oa.Event(s.started_at + timedelta(minutes=1), "Signed Up", f"web{i}"))
    w.sessions = sessions
    folder_rows = {s.session_id: f"web{i}" for i, s in enumerate(w.sessions) if s.signed_up}
    got = kpi(w, "visitor_conversion_rate", "--from", "2024-01", "--to", "2024-06", traffic_user=folder_rows)
    compare(got, expect(w, {"visitor_conversion_rate": "visitor_conversion_rate"}, FIRST, LAST))


def _identities(w: oa.World, rng: random.Random) -> None:
    """Anonymous signups later identified (before or after the signup), anonymous-only signups, and
    accounts on some rows (several users per account, some rows without one)."""
    for e in list(w.events):
        if e.event == "Signed Up" and rng.random() < 0.3:
            anon = f"a{rng.randrange(12)}"
            w.events.remove(e)
            w.events.append(oa.Event(e.ts, e.event, "", anonymous_id=anon))
            if rng.random() < 0.7:  # a row carrying both ids, at any time: merges anon into the user
                t = _instant(rng, date(2023, 11, 1), date(2024, 8, 1))
                w.events.append(oa.Event(t, "Page Viewed", e.user_id, anonymous_id=anon))
    w.events = [oa.Event(e.ts, e.event, e.user_id, e.session_id, e.anonymous_id,
                         rng.choice(["", "acc1", "acc2", "acc3", f"acc_{e.user_id}"]))
                for e in w.events]


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_signups_identity_and_accounts(kpi: Callable[..., dict], seed: int) -> None:
    """new_signups and growth by user (anonymous ids merged, SPEC §3.3) and with --actor account."""
    rng = random.Random(1600 + seed)
    w = make_world(1600 + seed)
    _identities(w, rng)
    ids = {k: k for k in ("new_signups", "signup_growth_rate", "cpa")}
    got = kpi(w, ",".join(ids), "--from", "2024-01", "--to", "2024-06")
    compare(got, expect(w, ids, FIRST, LAST))
    w.actor = "account"
    got = kpi(w, ",".join(ids), "--from", "2024-01", "--to", "2024-06", "--actor", "account")
    compare(got, expect(w, ids, FIRST, LAST))


def test_messages_by_hand(tmp_path: Path, run: Callable[..., Result]) -> None:
    """SPEC §3.2: a period with no spend row is null (not 0) "and says so at -v"; ltv_cac_ratio warns
    while --gross-margin is the default 1.0. Worked by hand: January's acquisition spend is 1000 + 500;
    A and B were paying before January, so no customer is new in January (cac 1500 / 0 = null);
    C is new in February (cac 300 / 1); March has no spend row (null, not 0)."""
    folder = tmp_path / "hand"
    write_csv(folder / "spend.csv", ["month", "amount", "channel"],
              [["2024-01", "1000", "google_ads"], ["2024-01", "500", ""], ["2024-02", "300", "google_ads"]])
    write_csv(folder / "subscriptions.csv", ["customer_id", "subscription_id", "start_at", "end_at", "amount"],
              [["A", "a1", "2023-12-10", "", "100"], ["B", "b1", "2023-11-05", "", "50"],
               ["C", "c1", "2024-02-03", "", "70"], ["Z", "z1", "2023-01-01", "2024-06-01", "10"]])
    write_csv(folder / "customers.csv", ["customer_id", "channel"],
              [["A", "google_ads"], ["B", ""], ["C", "google_ads"]])
    res = run("compute", "cac,ltv_cac_ratio", "--from", "2024-01", "--to", "2024-03", "--data", folder,
              "--as-of", "2024-05-01", "-f", "json", "-v")
    rows = {(r["metric"], r["period"]): r for r in json.loads(res.stdout)}
    assert [rows["cac", p]["value"] for p in ("2024-01-01", "2024-02-01", "2024-03-01")] == [None, 300.0, None]
    assert (rows["cac", "2024-01-01"]["numerator"], rows["cac", "2024-01-01"]["denominator"]) == (1500.0, 0.0)
    assert rows["cac", "2024-03-01"]["numerator"] is None  # no row covers March: unknown, not 0
    assert "2024-03" in res.stderr
    assert "no acquisition spend" in res.stderr
    assert "gross-margin" in res.stderr
    assert "ltv_cac_ratio" in res.stderr


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_weeks_new_york_lagged(kpi: Callable[..., dict], seed: int) -> None:
    """Weeks in America/New_York across the March DST change, prorated months, --cac-lag 2 weeks."""
    w = make_world(1700 + seed)
    w.tz, w.grain, w.prorate, w.cac_lag = "America/New_York", "week", True, 2
    ids = {k: k for k in ("acquisition_spend", "cac", "cpa", "cac_payback_months", "crc", "new_signups")}
    got = kpi(w, ",".join(ids), "--from", "2024-02-26", "--to", "2024-03-31", "--period", "week",
              "--spend-allocation", "prorate", "--cac-lag", "2")
    compare(got, expect(w, ids, date(2024, 2, 26), date(2024, 3, 31)))


@pytest.mark.parametrize("seed", range(N_SEEDS))
def test_payback_by_channel(kpi: Callable[..., dict], seed: int) -> None:
    """--by channel for payback: that channel's spend / its new MRR × GM."""
    w = make_world(1800 + seed)
    w.customers = [oa.Customer(c.id, c.created_at, c.channel.strip(), c.referred_by) for c in w.customers]
    w.gross_margin = Fraction(4, 5)
    ids = {"cac_payback_months": "cac_payback_months"}
    got = kpi(w, ",".join(ids), "--from", "2024-01", "--to", "2024-06", "--by", "channel", "--gross-margin", "0.8")
    compare(got, expect(w, ids, FIRST, LAST, by_channel=True), groups_optional=True)
