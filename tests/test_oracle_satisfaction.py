"""SPEC §3.4 checked through the CLI against an independent oracle (tests/oracle_satisfaction.py).

Seeded random surveys, tickets, events and subscriptions are written as CSV, run through
``kpi compute … -f json`` in-process (as SPEC §4 describes the CLI), and every (metric, period,
group) value, numerator, denominator and ``complete`` flag is compared with the oracle (rel 1e-9).
The data are built to be awkward: repeat respondents and same-instant repeats, exact duplicate
rows, anonymous responses, e-mails in mixed case, respondents that switch between id and e-mail
across periods, empty periods and groups, instants a few hours from a local midnight under a
non-UTC ``--tz``, P − 1 before ``--from``, tickets answered at creation, never, and after
``--as-of``, agent-created and outbound tickets, blank ``reopens``, and ties in the hours.
"""

from __future__ import annotations

import csv
import json
import math
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from kpi_cli.cli import app
from tests.oracle_satisfaction import (
    Grain,
    Response,
    Row,
    Span,
    SurveyData,
    Ticket,
    TicketData,
    active_actors,
    complete,
    join_account,
    mrr_at,
    wave_recovery,
)

Key = tuple[str, str, tuple[str | None, ...]]  # metric, period, groups
WEEKDAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


# ---------------------------------------------------------------- running kpi
def kpi(folder: Path, *args: str) -> list[dict[str, Any]]:
    """``kpi compute ARGS --data FOLDER -f json`` in-process, isolated from the machine's settings."""
    env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("KPI_")}
    env |= {"NO_COLOR": "1", "XDG_CONFIG_HOME": str(folder / ".none")}
    old = Path.cwd()
    os.chdir(folder)
    try:
        result = CliRunner().invoke(app, ["compute", *args, "--data", str(folder), "-f", "json"], env=env)
    finally:
        os.chdir(old)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    rows: list[dict[str, Any]] = json.loads(result.stdout)
    return rows


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def same(a: float | None, b: Fraction | float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, float(b), rel_tol=1e-9, abs_tol=1e-9)


def compare(got: list[dict[str, Any]], expected: dict[Key, Row], dims: Sequence[str] = (),
            extra_ok: Callable[[dict[str, Any]], bool] | None = None) -> None:
    """Every expected row is in ``got`` with equal parts; a row the oracle has no answer for is allowed
    only when ``extra_ok`` says it is an empty group (SPEC is silent on which empty groups are listed)."""
    seen: dict[Key, dict[str, Any]] = {}
    for r in got:
        k = (r["metric"], r["period"], tuple(r[d] for d in dims))
        assert k not in seen, f"two rows for {k}"
        seen[k] = r
    problems = []
    for k, want in expected.items():
        if k not in seen:
            problems.append(f"{k}: missing")
            continue
        r = seen[k]
        for name, w in (("value", want.value), ("numerator", want.numerator), ("denominator", want.denominator)):
            if not same(r[name], w):
                problems.append(f"{k} {name}: got {r[name]!r}, oracle {None if w is None else float(w)!r}")
        if want.complete is not None and r["complete"] != want.complete:
            problems.append(f"{k} complete: got {r['complete']}, oracle {want.complete}")
    for k, r in seen.items():
        if k not in expected and not (extra_ok and extra_ok(r)):
            problems.append(f"{k}: unexpected row {r}")
    assert not problems, "\n".join(problems[:20]) + f"\n({len(problems)} problems)"


def iso(t: datetime) -> str:
    """The instant in UTC 'Z' form, or (decided by the instant, so duplicates stay exact) at +02:00."""
    if t.hour % 3 == 0:
        return t.astimezone(timezone(timedelta(hours=2))).isoformat()
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def instant(rng: random.Random, first: date, days: int) -> datetime:
    """A random UTC instant in [first, first + days), often within a few hours of a midnight."""
    day = first + timedelta(days=rng.randrange(days))
    hour = rng.choice([0, 1, 3, 4, 5, 6, 22, 23, rng.randrange(24)])
    return datetime(day.year, day.month, day.day, hour, rng.choice([0, 0, 15, 59]), tzinfo=UTC)


# ---------------------------------------------------------------- surveys
@dataclass
class SurveyCase:
    seed: int
    tz: str = "UTC"
    period: str = "month"
    first: str = "2024-02"
    last: str = "2024-05"
    as_of: str = "2024-04-10"
    id_column: str = "respondent_id"
    binary_csat: bool = False
    # a blank account_id on any response; off: a person's responses all carry its account (person 15 none),
    # since SPEC leaves open how an account-less latest response of an account's respondent counts
    account_gaps: bool = True
    junk: bool = False  # bad rows appended (SPEC §3.4: a score not a whole number within its scale), run with skip
    waves: bool = False  # a wave column: survey rounds that straddle months, named out of time order


def survey_rows(rng: random.Random, case: SurveyCase) -> list[Response]:
    """Responses from 2023-12 to 2024-06: persons answering several times, some anonymous."""
    grain = Grain(case.tz, case.period)
    persons = [(f"r{i}", f"Person{i}@Example.COM", f"A{i % 6}") for i in range(16)]
    skipped = {s: rng.choice([None, date(2024, 3, 1), date(2024, 4, 1)]) for s in ("nps", "csat", "ces")}
    if case.waves:  # every wave keeps its first response in its own month
        skipped = dict.fromkeys(skipped)
    forms: dict[tuple[int, date | str], str] = {}
    out: list[Response] = []
    for _ in range(rng.randrange(250, 450)):
        survey = rng.choice(["nps", "nps", "nps", "csat", "ces"])
        at = instant(rng, date(2023, 12, 1), 213)
        if skipped[survey] and Grain(case.tz, "month").of(at) == skipped[survey]:
            continue  # an empty month for this survey type
        if survey == "nps":
            score = str(rng.choice([0, 3, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10]))
        elif survey == "csat":
            score = rng.choice(["1", "2", "3", "4", "5"] + (["Good", "Bad", "good"] if case.binary_csat else []))
        else:
            score = str(rng.randint(1, 7))
        i = rng.randrange(len(persons))
        rid, email, account = persons[i]
        # one identity form per person and period, so a person is one respondent within a period
        round_ = wave_of(at) if case.waves else grain.of(at)  # (with waves: per person and wave)
        form = forms.setdefault((i, round_), rng.choice(["both", "both", "id", "email"]))
        if rng.random() < 0.1:
            form, account = "none", rng.choice(["", "A1"])
        email_cell = "".join(c.upper() if rng.random() < 0.3 else c.lower() for c in email)
        r = Response(
            line=0, responded_at=at, score=score, survey=survey,
            respondent_id=rid if form in ("both", "id") and case.id_column == "respondent_id" else "",
            user_id=rid if form in ("both", "id") and case.id_column == "user_id" else "",
            email=email_cell if form in ("both", "email") else "",
            account_id=account if (rng.random() < 0.9 if case.account_gaps else i != 15) else "",
            touchpoint=rng.choice(["", "onboarding", "support", "billing"]),
            wave=wave_of(at) if case.waves else "",
        )
        out.append(r)
        if rng.random() < 0.08:  # an exact duplicate row
            out.append(r)
        if rng.random() < 0.08 and form != "none":  # the same respondent again at the same instant
            out.append(Response(**{**r.__dict__, "score": str(rng.randint(0, 10)) if survey == "nps" else r.score}))
    rng.shuffle(out)
    return [Response(**{**r.__dict__, "line": n + 2}) for n, r in enumerate(out)]


WAVES = [(datetime(2024, 1, 20, 5, tzinfo=UTC), "spring"), (datetime(2024, 3, 6, tzinfo=UTC), "alpha"),
         (datetime(2024, 4, 21, 22, tzinfo=UTC), "2024-pulse"), (datetime(2099, 1, 1, tzinfo=UTC), "zeta")]


def wave_of(at: datetime) -> str:
    """The survey round an instant falls in (rounds of about six weeks)."""
    return next(name for end, name in WAVES if at < end)


def write_surveys(folder: Path, rows: list[Response], case: SurveyCase) -> None:
    header = ["responded_at", "score", "survey", case.id_column, "email", "account_id", "touchpoint", "wave"]
    body = []
    for r in rows:
        body.append([iso(r.responded_at), r.score, r.survey.upper() if r.responded_at.day % 5 == 0 else r.survey,
                     r.respondent_id or r.user_id, r.email, r.account_id, r.touchpoint, r.wave])
    if case.junk:  # at the end, so the good rows keep their lines (a tie goes to the later line)
        for n, (score, survey) in enumerate([("7.5", "nps"), ("11", "nps"), ("-1", "nps"), ("0", "csat"), ("6", "csat"),
                                             ("8", "ces"), ("abc", "nps"), ("", "nps"), ("4.5", "csat")]):
            body.append([f"2024-03-{10 + n}T12:00:00Z", score, survey, "r1", "", "A1", "support", ""])
    write_csv(folder / "surveys.csv", header, body)


def span_of(first: str, last: str) -> tuple[date, date]:
    """--from/--to as days: a month is its first and its last day (SPEC §2: both inclusive)."""
    a = date.fromisoformat(first + "-01" if len(first) == 7 else first)
    if len(last) == 7:
        y, m = map(int, last.split("-"))
        return a, date(y + (m == 12), m % 12 + 1, 1) - timedelta(days=1)
    return a, date.fromisoformat(last)


def range_args(case: SurveyCase | TicketCase) -> list[str]:
    skip = ["--on-bad-rows", "skip"] if case.junk else []
    week = ["--week-start", case.week_start] if isinstance(case, TicketCase) else []
    return ["--from", case.first, "--to", case.last, "--period", case.period, "--tz", case.tz, "--as-of", case.as_of,
            *skip, *week]


def empty_group(r: dict[str, Any]) -> bool:
    """A listed group without responses in P: n = 0 and a null value (decisions "Surveys")."""
    return r["value"] is None and r["denominator"] in (0, None)


def survey_expected(data: SurveyData, periods: list[date], metrics: Sequence[str]) -> dict[Key, Row]:
    """The oracle's rows; without --by an empty period still has its row (0 of 0, value null)."""
    out: dict[Key, Row] = {}
    for p in periods:
        done, ps = data.done(p), p.isoformat()
        found: dict[str, dict[tuple[str | None, ...], Row]] = {
            "nps": {g: r[0] for g, r in data.nps(p).items()},
            "nps_moe": {g: r[1] for g, r in data.nps(p).items()},
            "csat": data.csat(p),
            "ces": data.ces(p),
        }
        for m in metrics:
            if m == "detractor_recovery_rate":
                out[(m, ps, ())] = data.detractor_recovery(p)
                continue
            for g, row in found[m].items():
                out[(m, ps, g)] = row
            if not data.by_touchpoint and data.segments is None and (m, ps, ()) not in out:
                parts = None if m == "nps_moe" else Fraction(0)
                out[(m, ps, ())] = Row(None, parts, parts, done)
    return out


SURVEY_CASES = [
    SurveyCase(seed=1),
    SurveyCase(seed=2, as_of="2024-09-01"),
    SurveyCase(seed=3, junk=True),
    SurveyCase(seed=4, tz="America/New_York"),
    SurveyCase(seed=5, tz="Asia/Tokyo", as_of="2024-09-01"),
    SurveyCase(seed=6, id_column="user_id"),
    SurveyCase(seed=7, period="week", first="2024-02-26", last="2024-04-07", tz="Europe/Berlin"),
    SurveyCase(seed=8, binary_csat=True, junk=True),
    SurveyCase(seed=9, period="day", first="2024-03-29", last="2024-04-02", tz="Europe/Berlin"),
]


@pytest.mark.parametrize("case", SURVEY_CASES, ids=lambda c: f"seed{c.seed}-{c.tz}-{c.period}")
def test_surveys_match_oracle(case: SurveyCase, tmp_path: Path) -> None:
    rows = survey_rows(random.Random(case.seed), case)
    write_surveys(tmp_path, rows, case)
    grain = Grain(case.tz, case.period)
    as_of = grain.midnight(date.fromisoformat(case.as_of))
    periods = grain.periods(*span_of(case.first, case.last))
    asked = ["nps", "nps_moe", "csat", "ces", "detractor_recovery_rate"]

    got = kpi(tmp_path, "nps,csat,ces,detractor_recovery_rate", *range_args(case))
    compare(got, survey_expected(SurveyData(rows, grain, as_of), periods, asked))

    got = kpi(tmp_path, "nps,csat,ces", "--by", "touchpoint", *range_args(case))
    by = SurveyData(rows, grain, as_of, by_touchpoint=True)
    compare(got, survey_expected(by, periods, asked[:4]), dims=["touchpoint"], extra_ok=empty_group)

    got = kpi(tmp_path, "csat", "--csat", "mean", *range_args(case))
    compare(got, survey_expected(SurveyData(rows, grain, as_of, csat_mode="mean"), periods, ["csat"]))


@pytest.mark.parametrize("seed", [21, 22])
def test_ces_scale_1_5_skips_6_and_7(seed: int, tmp_path: Path) -> None:
    """--ces-scale 1-5: CES 6 and 7 are scores outside the scale, bad rows (SPEC §3.4), skipped here."""
    case = SurveyCase(seed=seed)
    rows = survey_rows(random.Random(seed), case)
    assert any(r.survey == "ces" and int(r.score) > 5 for r in rows)
    write_surveys(tmp_path, rows, case)
    grain = Grain(case.tz, case.period)
    as_of = grain.midnight(date.fromisoformat(case.as_of))
    got = kpi(tmp_path, "ces", "--ces-scale", "1-5", "--on-bad-rows", "skip", *range_args(case))
    data = SurveyData(rows, grain, as_of, ces_max=5)
    compare(got, survey_expected(data, grain.periods(*span_of(case.first, case.last)), ["ces"]))


# ---------------------------------------------------------------- tickets
@dataclass
class TicketCase:
    seed: int
    tz: str = "UTC"
    period: str = "month"
    first: str = "2024-02"
    last: str = "2024-05"
    as_of: str = "2024-04-10"
    durations: str = "timestamps"  # timestamps | minutes | mixed (cell by cell)
    tag: str | None = None
    outbound: bool = False  # kpi.toml [tickets] outbound = ["outbound"]
    hours: str = "calendar"
    week_start: str = "mon"
    junk: bool = False  # tickets answered or resolved before creation (bad rows), run with --on-bad-rows skip


def minutes_cell(m: Fraction) -> str:
    return str(m.numerator) if m.denominator == 1 else str(float(m))


def ticket_rows(rng: random.Random, case: TicketCase) -> tuple[list[Ticket], list[str], list[list[str]]]:
    """Tickets created 2023-12 … 2024-06 (one month left empty), answered and resolved at random."""
    grain = Grain(case.tz, case.period)
    as_of = grain.midnight(date.fromisoformat(case.as_of))
    empty = rng.choice([date(2024, 3, 1), date(2024, 5, 1)])
    header = ["ticket_id", "created_at", "user_id", "tags", "first_response_at", "first_response_minutes",
              "first_response_business_minutes", "resolved_at", "full_resolution_minutes",
              "full_resolution_business_minutes", "reopens", "via", "is_agent_created", "account_id", "requester_email"]
    tickets, body = [], []
    for i in range(rng.randrange(150, 260)):
        created = instant(rng, date(2023, 12, 1), 213) + timedelta(seconds=rng.choice([0, 0, 7, 30]))
        if Grain(case.tz, "month").of(created) == empty:
            continue
        if i == 0:  # answered exactly at the --as-of instant: answered "by" it
            created = as_of - timedelta(hours=5)
        reply: Fraction | None = rng.choice([None, Fraction(0), Fraction(30), Fraction(90), Fraction(90),
                                              Fraction(25, 2), Fraction(rng.randrange(1, 5000))])
        if i == 0:
            reply = Fraction(300)
        fix: Fraction | None = None
        if rng.random() < 0.7:
            # long tails too: a ticket created months before --from and resolved in P counts for reopen_rate
            fix = (reply or Fraction(0)) + rng.choice([Fraction(0), Fraction(60), Fraction(rng.randrange(1, 9000)),
                                                       Fraction(rng.randrange(40, 90) * 1440)])
        business = None if reply is None or rng.random() < 0.15 else reply * rng.choice([Fraction(1), Fraction(1, 3)])
        business_fix = None if fix is None or rng.random() < 0.15 else fix * rng.choice([Fraction(1), Fraction(2, 5)])
        form = case.durations if case.durations != "mixed" else rng.choice(["timestamps", "minutes"])

        def at(m: Fraction | None, created: datetime = created) -> datetime | None:
            return None if m is None else created + timedelta(seconds=float(m * 60))

        tags = rng.sample(["billing", "bug", "login"], rng.randrange(4))
        agent = rng.random() < 0.1
        via = rng.choice(["web", "email", "api", "outbound" if case.outbound or rng.random() < 0.5 else "web"])
        reopens = rng.choice(["", "0", "0", "1", "2"])
        account = rng.choice(["", "", "A0", "A1", "A2", "A3", "A6"])  # A6: not a customer
        email = "" if account else rng.choice(["", "Person0@Example.com", "person1@example.com", "PERSON4@EXAMPLE.COM",
                                                "stranger@example.com"])
        t = Ticket(f"t{i}", created, at(reply), at(fix), business, business_fix, int(reopens or 0), tuple(tags),
                   agent, via, account, email)
        tickets.append(t)
        body.append([
            t.ticket_id, iso(created), f"u{rng.randrange(20)}", rng.choice([";", ",", "; "]).join(tags),
            iso(at(reply)) if form == "timestamps" and reply is not None else "",  # type: ignore[arg-type]
            minutes_cell(reply) if form == "minutes" and reply is not None else "",
            minutes_cell(business) if business is not None else "",
            iso(at(fix)) if form == "timestamps" and fix is not None else "",  # type: ignore[arg-type]
            minutes_cell(fix) if form == "minutes" and fix is not None else "",
            minutes_cell(business_fix) if business_fix is not None else "",
            reopens, via, rng.choice(["true", "TRUE"]) if agent else rng.choice(["", "false"]), account, email,
        ])
    if case.junk:  # a response or resolution before creation is a bad row (SPEC §3.4)
        for n, (bad_reply, bad_fix) in enumerate([("2024-02-10T11:00:00Z", ""), ("", "2024-02-10T09:00:00Z"),
                                                  ("2024-04-02T00:00:00Z", "2024-04-01T00:00:00Z")]):
            body.append([f"bad{n}", "2024-02-10T12:00:00Z" if n < 2 else "2024-04-03T00:00:00Z", "u1", "billing;bug",
                         bad_reply, "", "", bad_fix, "", "", "", "web", "", "A1", ""])
    return tickets, header, body


def events_and_spans(rng: random.Random, folder: Path) -> tuple[list[tuple[datetime, str]], list[Span]]:
    """events.csv (users active at random) and subscriptions.csv (monthly spans), both reaching 2024-12."""
    events = [(instant(rng, date(2023, 12, 1), 213), f"u{rng.randrange(20)}") for _ in range(rng.randrange(40, 120))]
    events.append((datetime(2024, 12, 1, tzinfo=UTC), "u0"))
    write_csv(folder / "events.csv", ["timestamp", "event", "user_id"],
              [[iso(t), rng.choice(["Signed In", "Page Viewed"]), u] for t, u in events])
    spans = []
    for c in range(8):
        start = instant(rng, date(2023, 10, 1), 200)
        end = None if rng.random() < 0.4 else start + timedelta(days=rng.randrange(10, 200))
        spans.append(Span(f"A{c}", start, end, Fraction(rng.choice([50, 100, 250]))))
        if end is not None and rng.random() < 0.5:  # comes back later on a new subscription
            again = end + timedelta(days=rng.randrange(0, 60))
            spans.append(Span(f"A{c}", again, None, Fraction(rng.choice([80, 120]))))
    spans.append(Span("A9", datetime(2024, 12, 1, tzinfo=UTC), None, Fraction(10)))  # billing data reach 2024-12
    write_csv(folder / "subscriptions.csv", ["customer_id", "subscription_id", "start_at", "end_at", "amount",
                                             "currency"],
              [[s.customer, f"s{n}", iso(s.start), iso(s.end) if s.end else "", str(s.amount), "USD"]
               for n, s in enumerate(spans)])
    return events, spans


TICKET_METRICS = ["tickets", "first_response_time", "first_response_time_p90", "first_response_rate",
                  "unanswered_tickets", "resolution_time", "reopen_rate"]

TICKET_CASES = [
    TicketCase(seed=31),
    TicketCase(seed=32, durations="minutes"),
    TicketCase(seed=33, tz="America/New_York", outbound=True),
    TicketCase(seed=34, tag="billing", junk=True),
    TicketCase(seed=35, durations="mixed", as_of="2024-09-01", last="2024-07"),
    TicketCase(seed=36, tz="Asia/Kolkata", period="week", first="2024-03-04", last="2024-04-21"),
    TicketCase(seed=40, tz="America/Chicago", period="week", week_start="sun", first="2024-03-03", last="2024-04-20"),
    TicketCase(seed=37, hours="business", tag="bug", outbound=True),
    TicketCase(seed=39, hours="business", durations="minutes", as_of="2024-09-01", junk=True),
    TicketCase(seed=38, tz="Europe/Berlin", period="day", first="2024-03-30", last="2024-04-02",
               as_of="2024-04-01"),
]


@pytest.mark.parametrize("case", TICKET_CASES, ids=lambda c: f"seed{c.seed}-{c.tz}-{c.period}-{c.durations}")
def test_tickets_match_oracle(case: TicketCase, tmp_path: Path) -> None:
    rng = random.Random(case.seed)
    tickets, header, body = ticket_rows(rng, case)
    write_csv(tmp_path / "tickets.csv", header, body)
    events, spans = events_and_spans(rng, tmp_path)
    if case.outbound:
        (tmp_path / "kpi.toml").write_text('[tickets]\noutbound = ["outbound"]\n')
    grain = Grain(case.tz, case.period, WEEKDAYS.index(case.week_start))
    as_of = grain.midnight(date.fromisoformat(case.as_of))
    data = TicketData(tickets, grain, as_of, tag=case.tag, outbound=("outbound",) if case.outbound else (),
                      hours=case.hours)
    events_end = max(t for t, _ in events)
    billing_end = max(i for s in spans for i in (s.start, s.end) if i is not None)
    expected: dict[Key, Row] = {}
    for p in grain.periods(*span_of(case.first, case.last)):
        rows = data.metrics(p)
        for m in TICKET_METRICS:
            expected[(m, p.isoformat(), ())] = rows[m]
        n = Fraction(len(data.created(p)))
        users = Fraction(active_actors(events, grain, p))
        paying = Fraction(sum(1 for c in {s.customer for s in spans} if mrr_at(spans, c, grain.end(p)) > 0))
        expected[("tickets_per_user", p.isoformat(), ())] = Row(
            None if users == 0 else n / users, n, users, data.done(p) and complete(grain, p, as_of, events_end))
        expected[("tickets_per_customer", p.isoformat(), ())] = Row(
            None if paying == 0 else n / paying, n, paying, data.done(p) and complete(grain, p, as_of, billing_end))
    options = ["--tag", case.tag] if case.tag else []
    options += ["--hours", case.hours] if case.hours != "calendar" else []
    got = kpi(tmp_path, ",".join([*TICKET_METRICS, "tickets_per_user", "tickets_per_customer"]), *options,
              *range_args(case))
    compare(got, expected)


# ---------------------------------------------------------------- NPS per account, MRR weights, coverage
@pytest.mark.parametrize("case", [
    SurveyCase(seed=41),
    SurveyCase(seed=42, tz="America/New_York", as_of="2024-09-01"),
    SurveyCase(seed=43, period="week", first="2024-03-04", last="2024-04-14"),
],
                         ids=lambda c: f"seed{c.seed}")
def test_nps_accounts_match_oracle(case: SurveyCase, tmp_path: Path) -> None:
    """--nps-unit account, --nps-weight mrr and nps_coverage_mrr against MRR at the end of P."""
    rng = random.Random(case.seed)
    rows = survey_rows(rng, case)
    write_surveys(tmp_path, rows, case)
    _, spans = events_and_spans(rng, tmp_path)
    grain = Grain(case.tz, case.period)
    as_of = grain.midnight(date.fromisoformat(case.as_of))
    billing_end = max(i for s in spans for i in (s.start, s.end) if i is not None)
    data = SurveyData(rows, grain, as_of, mrr=lambda a, p: mrr_at(spans, a, grain.end(p)), billing_end=billing_end)
    accounts = sorted({s.customer for s in spans})
    periods = grain.periods(*span_of(case.first, case.last))

    expected: dict[Key, Row] = {}
    for p in periods:
        expected[("nps", p.isoformat(), ())], expected[("nps_moe", p.isoformat(), ())] = data.nps_account(p)
        expected[("nps_coverage_mrr", p.isoformat(), ())] = data.coverage(p, accounts)
    compare(kpi(tmp_path, "nps,nps_coverage_mrr", "--nps-unit", "account", *range_args(case)), expected)

    expected = {}
    for p in periods:
        expected[("nps", p.isoformat(), ())], expected[("nps_moe", p.isoformat(), ())] = data.nps_weighted(p)
    compare(kpi(tmp_path, "nps", "--nps-weight", "mrr", *range_args(case)), expected)


# ---------------------------------------------------------------- waves, --by a customers column
@pytest.mark.parametrize("case", [SurveyCase(seed=51, waves=True, last="2024-06"),
                                  SurveyCase(seed=52, waves=True, tz="Asia/Tokyo", last="2024-06")],
                         ids=lambda c: f"seed{c.seed}-{c.tz}")
def test_detractor_recovery_over_waves(case: SurveyCase, tmp_path: Path) -> None:
    """With a wave column, each wave is compared with the one before it (SPEC §3.4 "(or wave)"); nps stays
    per period. ``--to`` covers every wave's last response: the CLI reads a wave only through ``--to``
    (a disagreement reported to the lead), which would change the row of a wave still running after it."""
    rows = survey_rows(random.Random(case.seed), case)
    write_surveys(tmp_path, rows, case)
    grain = Grain(case.tz, case.period)
    as_of = grain.midnight(date.fromisoformat(case.as_of))
    data = SurveyData(rows, grain, as_of)
    waves = wave_recovery(data.rows, grain)
    assert any(den for _, den in waves.values())
    expected = survey_expected(data, grain.periods(*span_of(case.first, case.last)), ["nps", "nps_moe"])
    for p in grain.periods(*span_of(case.first, case.last)):
        num, den = waves.get(p, (0, 0))
        expected[("detractor_recovery_rate", p.isoformat(), ())] = Row(
            None if den == 0 else Fraction(num, den), Fraction(num), Fraction(den), data.done(p))
    compare(kpi(tmp_path, "nps,detractor_recovery_rate", *range_args(case)), expected)


@pytest.mark.parametrize("case", [SurveyCase(seed=61), SurveyCase(seed=62, tz="America/Los_Angeles", junk=True)],
                         ids=lambda c: f"seed{c.seed}-{c.tz}")
def test_surveys_by_customers_column(case: SurveyCase, tmp_path: Path) -> None:
    """--by segment reaches customers through account_id = customer_id (SPEC §3: --by splits any metric by a
    customers column); a response without a known account is the blank group."""
    rows = survey_rows(random.Random(case.seed), case)
    write_surveys(tmp_path, rows, case)
    segments = {"A0": "smb", "A1": "enterprise", "A2": "smb", "A3": "", "A4": "mid"}  # A5: no customers row
    write_csv(tmp_path / "customers.csv", ["customer_id", "segment"], [[c, s] for c, s in segments.items()])
    grain = Grain(case.tz, case.period)
    as_of = grain.midnight(date.fromisoformat(case.as_of))
    data = SurveyData(rows, grain, as_of, segments=segments)
    periods = grain.periods(*span_of(case.first, case.last))
    got = kpi(tmp_path, "nps,csat,ces", "--by", "segment", *range_args(case))
    compare(got, survey_expected(data, periods, ["nps", "nps_moe", "csat", "ces"]), dims=["segment"],
            extra_ok=empty_group)


@pytest.mark.parametrize("via_customers", [True, False], ids=["customers-email", "events-email"])
def test_tickets_by_customers_column(via_customers: bool, tmp_path: Path) -> None:
    """--by segment: tickets join accounts by account_id, else requester_email → customers or events email
    (SPEC §3.4); unjoined tickets count in the blank group, as in totals."""
    case = TicketCase(seed=71 + via_customers, tz="Europe/Berlin", outbound=True)
    rng = random.Random(case.seed)
    tickets, header, body = ticket_rows(rng, case)
    write_csv(tmp_path / "tickets.csv", header, body)
    (tmp_path / "kpi.toml").write_text('[tickets]\noutbound = ["outbound"]\n')
    segments = {"A0": "smb", "A1": "enterprise", "A2": "smb", "A3": "", "A4": "mid", "A5": "mid"}
    emails = {"person0@example.com": "A0", "person1@example.com": "A1", "person4@example.com": "A4"}
    if via_customers:
        by_email = {a: e for e, a in emails.items()}
        write_csv(tmp_path / "customers.csv", ["customer_id", "segment", "email"],
                  [[c, s, by_email.get(c, "")] for c, s in segments.items()])
    else:
        write_csv(tmp_path / "customers.csv", ["customer_id", "segment"], [[c, s] for c, s in segments.items()])
        write_csv(tmp_path / "events.csv", ["timestamp", "event", "user_id", "account_id", "email"],
                  [[f"2024-01-0{n + 1}T10:00:00Z", "Signed In", f"u{n}", a, e.title()]
                   for n, (e, a) in enumerate(emails.items())])
    grain = Grain(case.tz, case.period)
    as_of = grain.midnight(date.fromisoformat(case.as_of))

    def group_of(t: Ticket) -> tuple[str | None, ...]:
        account = join_account(t, emails if via_customers else {}, {} if via_customers else emails)
        return (segments.get(account or "") or None,)

    data = TicketData(tickets, grain, as_of, outbound=("outbound",), group_of=group_of)
    expected: dict[Key, Row] = {}
    for p in grain.periods(*span_of(case.first, case.last)):
        for g in data.groups():
            one = TicketData(tickets, grain, as_of, outbound=("outbound",), group_of=group_of, only=g)
            rows = one.metrics(p)
            if rows["tickets"].value or rows["reopen_rate"].denominator:
                expected |= {(m, p.isoformat(), g): rows[m] for m in TICKET_METRICS}
    assert len({k[2] for k in expected}) >= 4
    got = kpi(tmp_path, ",".join(TICKET_METRICS), "--by", "segment", *range_args(case))
    compare(got, expected, dims=["segment"],
            extra_ok=lambda r: r["value"] in (None, 0) and r["denominator"] in (None, 0))
