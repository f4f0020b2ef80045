"""``kpi tree nps --level account``: each respondent's score against their account's last 90 days (SPEC §3.5).

Units are the nps responses nps itself counts (each respondent's latest in each of the last ``last``
complete periods) that belong to an account; the outcome is the 0–10 score. The predictor is the
account's influencer over ``[responded_at − 90 days, responded_at)``: tickets per active user, the
median first response time of its tickets, or its mean CES. Per influencer: Spearman's ρ with its
Fisher interval, ``r_needed`` at α / influencers, null under 30 respondents (research "Recommendation
for kpi (`kpi tree`)" part B). Choices the spec leaves open: docs/decisions/issue9-respondents.md.

Examples
--------
>>> respondent_verdict("nps", "ces", -0.52, (-0.7, -0.28), 0.36, 40)[0]
'moved opposite'
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.errors import UsageError
from kpi_cli.influence import stats
from kpi_cli.influence.mechanical import shared_base
from kpi_cli.influence.model import StatRow
from kpi_cli.summary.fmt import fmt_rho

if TYPE_CHECKING:
    from kpi_cli.api import Run
    from kpi_cli.periods import RangeRequest

MIN_RESPONDENTS = 30  # SPEC §3.5: null under 30 respondents
WINDOW_DAYS = 90  # SPEC §3.5: "the prior 90 days"
DAY_US = 86_400_000_000
BUILT = ("tickets_per_user", "first_response_time", "ces")


@dataclass(frozen=True)
class Respondents:
    """The units: one row per counted response (``_u`` id, ``_account``, ``_at``, ``_lo``, ``score``)."""

    units: pl.DataFrame
    loose: int  # counted responses with no account (neither account_id nor a known e-mail): left out
    periods: int  # complete periods read


def account_of(run: Run, frame: pl.DataFrame) -> pl.DataFrame:
    """``_account``: the response's account_id, else its lower-cased e-mail looked up as tickets are
    (``customers.email``, then the events' e-mail → account_id)."""
    from kpi_cli.support.tickets import email_accounts

    if frame.height == 0 or frame["_account"].is_not_null().all():
        return frame
    emails, _ = email_accounts(run.dataset)
    if emails is None or emails.height == 0:
        return frame
    looked_up = pl.col("_email").replace_strict(emails["email"], emails["account"], default=None,
                                                return_dtype=pl.String)
    return frame.with_columns(pl.coalesce("_account", looked_up).alias("_account"))


def respondents(run: Run, last: int) -> tuple[Respondents, pl.DataFrame]:
    """The counted nps responses of the last ``last`` complete periods, and every ces response (with
    ``_account`` and ``_at``), both from the surveys family's own base (its rules and hygiene)."""
    from kpi_cli.graph import Graph
    from kpi_cli.periods import RangeRequest
    from kpi_cli.surveys.scores import latest

    graph = Graph(scoped(run, RangeRequest(last=last)), ["nps"])
    base = graph.base("surveys")
    periods = base.periods(graph.periods())
    done = periods.filter(pl.col("complete"))["_idx"].to_list()
    nps = base.responses.filter(pl.col("survey") == "nps", pl.col("_idx").is_in(done))
    counted = account_of(run, latest(nps, ["_idx", "_key"]))  # as nps counts: the latest per respondent
    loose = int(counted["_account"].is_null().sum())
    units = (counted.filter(pl.col("_account").is_not_null()).sort("_at", "_file", "_line")
             .with_row_index("_u").select(
                 pl.col("_u").cast(pl.Int64), "_account", "_at",
                 (pl.col("_at") - WINDOW_DAYS * DAY_US).alias("_lo"), pl.col("score").cast(pl.Float64)))
    ces = account_of(run, base.responses.filter(pl.col("survey") == "ces")).filter(
        pl.col("_account").is_not_null()).select("_account", "_at", pl.col("score").cast(pl.Float64))
    return Respondents(units, loose, len(done)), ces


def scoped(run: Run, rng: RangeRequest) -> Run:
    """The run with range ``rng`` and no ``--by``, sharing its settings and dataset (and so its loads)."""
    from kpi_cli.api import Run

    return Run(replace(run.options, by=(), range=rng), run.settings, run.dataset)


def in_window(units: pl.DataFrame, rows: pl.DataFrame, at: str) -> pl.DataFrame:
    """Each unit × its account's rows whose ``at`` lies in ``[_lo, _at)``: a range join on the account."""
    return (units.select("_u", "_account", "_lo", "_at").lazy()
            .join(rows.lazy(), on="_account", how="inner")
            .filter(pl.col(at) >= pl.col("_lo"), pl.col(at) < pl.col("_at")).collect())


def ticket_predictors(run: Run, units: pl.DataFrame, as_of: int) -> pl.DataFrame:
    """``_u, _tickets, _frt``: the account's tickets created in the window and their median hours to a
    first response given by ``--as-of`` (null when none), from the support family's clean tickets."""
    from kpi_cli.support.tickets import clean

    table = run.settings.tables.get("tickets", {})
    frame, _ = clean(run.dataset, table if isinstance(table, dict) else {}, run.options.tag)
    hours = "fr_h"
    if run.options.hours == "business":
        if "first_response_business_minutes" not in frame.columns:
            msg = ("--hours business: first_response_time reads the export's first_response_business_minutes "
                   "column, and the tickets have none")
            raise UsageError(msg, hint="map it in [sources.tickets.columns], or use --hours calendar")
        hours = "fr_bh"
    tickets = frame.filter(pl.col("account").is_not_null()).select(
        pl.col("account").alias("_account"), pl.col("created_at").alias("_t"),
        pl.when((pl.col("answered_at") <= as_of).fill_null(False)).then(pl.col(hours)).alias("_h"))
    found = in_window(units, tickets, "_t").group_by("_u").agg(
        pl.len().cast(pl.Float64).alias("_tickets"), pl.col("_h").median().alias("_frt"))
    return units.select("_u").join(found, on="_u", how="left").with_columns(pl.col("_tickets").fill_null(0.0))


def active_users(run: Run, units: pl.DataFrame) -> pl.DataFrame:
    """``_u, _users``: distinct actors with an active event of the account in the window.

    An actor counts when its last active event before ``_at`` is at or after ``_lo``: one as-of join
    over (account, actor) pairs, so the cost is units × the account's actors, not × its events.
    """
    from kpi_cli.engagement.events import Roles, active
    from kpi_cli.engagement.hygiene import load_events

    roles = Roles.from_table(run.settings.tables.get("events", {}))
    events, _ = load_events(run.dataset, run.options.identified_only, run.exclusions,
                            frozenset({"account_id", "event"}))
    acting = active(events, roles).select(pl.col("account_id").cast(pl.String).alias("_account"),
                                          pl.col("actor").alias("_actor"), pl.col("ts").alias("_at")).filter(
        pl.col("_account").is_not_null(), pl.col("_actor").is_not_null())
    pairs = units.select("_u", "_account", "_at", "_lo").join(
        acting.select("_account", "_actor").unique(), on="_account", how="inner")
    last_seen = pairs.sort("_at").join_asof(
        acting.sort("_at").with_columns(pl.col("_at").alias("_seen")), on="_at", by=["_account", "_actor"],
        strategy="backward", allow_exact_matches=False,
        check_sortedness=False)  # both sides are sorted on _at just above
    found = last_seen.filter(pl.col("_seen") >= pl.col("_lo")).group_by("_u").agg(
        pl.len().cast(pl.Float64).alias("_users"))
    return units.select("_u").join(found, on="_u", how="left").with_columns(pl.col("_users").fill_null(0.0))


def has_event_accounts(run: Run) -> bool:
    """Whether events exist and map a column to account_id (read from the header alone)."""
    from kpi_cli.loading import load_source

    if not run.dataset.has("events"):
        return False
    src = load_source("events", run.settings, required=False)
    return src is not None and "account_id" in src.mapping


def predictors(run: Run, units: pl.DataFrame, ces: pl.DataFrame, influencers: list[str], as_of: int
               ) -> tuple[dict[str, list[float | None]], dict[str, str], list[str]]:
    """Each built influencer's value per unit (in ``_u`` order), reasons for the others, and warnings."""
    values: dict[str, list[float | None]] = {}
    reasons: dict[str, str] = {}
    warnings: list[str] = []
    order = units.select("_u")
    tickets = None
    for mid in influencers:
        if mid not in BUILT:
            reasons[mid] = (f"--level account for nps reads {', '.join(BUILT)} per account over the prior "
                            f"{WINDOW_DAYS} days; {mid} is not one of them")
            continue
        if mid == "ces":
            found = in_window(units, ces.rename({"_at": "_r"}), "_r").group_by("_u").agg(
                pl.col("score").mean().alias("_v"))
            values[mid] = order.join(found, on="_u", how="left")["_v"].to_list()
            continue
        if not run.dataset.has("tickets"):
            reasons[mid] = f"{mid} needs tickets"
            continue
        if tickets is None:
            tickets = ticket_predictors(run, units, as_of)
        if mid == "first_response_time":
            values[mid] = tickets["_frt"].to_list()
        elif has_event_accounts(run):
            users = active_users(run, units)
            ratio = tickets.join(users, on="_u").select(
                pl.when(pl.col("_users") > 0).then(pl.col("_tickets") / pl.col("_users")).alias("_v"))
            values[mid] = ratio["_v"].to_list()
        else:  # no one to divide by: the account's ticket count itself (documented)
            values[mid] = tickets["_tickets"].to_list()
            warnings.append(f"tickets_per_user: no events with account_id, so read as the account's tickets in "
                            f"the prior {WINDOW_DAYS} days (tickets per account, not per user)")
    return values, reasons, warnings


def respondent_verdict(kpi: str, mid: str, rho: float, ci: tuple[float, float] | None, need: float | None,
                       n: int) -> tuple[str, str]:
    """The verdict and its evidence in SPEC §3.5's fixed words.

    Examples
    --------
    >>> respondent_verdict("nps", "ces", 0.2, (-0.1, 0.47), 0.4, 40)
    ('no detectable relationship', 'at n = 40 only |ρ| ≥ 0.40 would show')
    """
    base = shared_base(kpi, mid)
    if base is not None:
        return "mechanical", f"shares {base.partition('.')[2]} with {kpi} in the catalogue"
    lo, hi = ci if ci is not None else (None, None)
    evidence = f"ρ = {fmt_rho(rho)} [{fmt_rho(lo)}, {fmt_rho(hi)}], n = {n} respondents"
    if need is not None and abs(rho) > need:
        return ("moved together" if rho > 0 else "moved opposite"), evidence
    if lo is not None and hi is not None and (lo > 0 or hi < 0):
        return "possible, not reliable", f"{evidence}; |ρ| ≤ r_needed {need or 1:.2f}"
    return "no detectable relationship", f"at n = {n} only |ρ| ≥ {need or 1:.2f} would show"


def respondent_row(kpi: str, mid: str, xs: list[float | None], ys: list[float], tests: int, left: str
                   ) -> StatRow:
    """The Spearman row of one influencer over the units where it has a value."""
    pairs = [(x, y) for x, y in zip(xs, ys, strict=True) if x is not None]
    n = len(pairs)
    need = stats.r_needed(n, tests)
    dropped = len(xs) - n
    counts = f"; {dropped} respondent{'s' * (dropped != 1)} left out ({left})" if dropped else ""
    if n < MIN_RESPONDENTS:
        reason = f"needs ≥ {MIN_RESPONDENTS} respondents with a value (found {n}){counts}"
        return StatRow(kpi, mid, "account", None, n, "spearman", None, None, None, need, None, "", reason)
    rho = stats.spearman([p[0] for p in pairs], [p[1] for p in pairs])
    if rho is None:
        reason = "the scores or the influencer are the same for every respondent"
        return StatRow(kpi, mid, "account", None, n, "spearman", None, None, None, need, None, "", reason)
    ci = stats.fisher_interval(rho, n)
    verdict, evidence = respondent_verdict(kpi, mid, rho, ci, need, n)
    return StatRow(kpi, mid, "account", None, n, "spearman", rho, ci[0] if ci else None, ci[1] if ci else None,
                   need, verdict, evidence + counts, "")


LEFT = {"tickets_per_user": "no active user of the account in the prior 90 days",
        "first_response_time": "no answered ticket of the account in the prior 90 days",
        "ces": "no ces response of the account in the prior 90 days"}


def nps_account_level(run: Run, kpi: str, influencers: list[str], last: int = 24
                      ) -> tuple[list[StatRow], dict[str, tuple[str | None, str]], list[str]]:
    """Stats rows, verdicts ``{influencer: (verdict, detail)}`` and warnings of ``kpi tree nps --level account``.

    Parameters
    ----------
    run
        The started run (its options give the data, calendar, ``--as-of``, ``--tag``, ``--hours``).
    kpi
        ``nps``.
    influencers
        ``ces``, ``tickets_per_user``, ``first_response_time``; any other gets a null row and a reason.
    last
        Complete periods whose counted responses are the units.
    """
    from kpi_cli.options import calendar_of
    from kpi_cli.periods import parse_as_of

    if not run.dataset.has("surveys"):
        msg = "--level account for nps needs surveys"
        raise UsageError(msg, hint="add surveys.csv, or use --level period")
    found, ces = respondents(run, last)
    units = found.units
    as_of = parse_as_of(run.options.as_of, calendar_of(run.settings.values))
    values, reasons, warnings = predictors(run, units, ces, influencers, as_of)
    scores = units["score"].to_list()
    rows = []
    for mid in influencers:
        if mid in reasons:
            rows.append(StatRow(kpi, mid, "account", None, 0, "spearman", None, None, None, None, None, "",
                                reasons[mid]))
        else:
            rows.append(respondent_row(kpi, mid, values[mid], scores, len(influencers), LEFT[mid]))
    if found.loose:
        warnings.append(f"{found.loose} nps respondent{'s' * (found.loose != 1)} without an account (no "
                        "account_id, e-mail not found in customers or events) left out")
    verdicts = {r.influencer: (r.verdict, r.detail if r.verdict is not None or not r.reason else r.reason)
                for r in rows}
    return rows, verdicts, warnings
