"""The bundled sample company (kpi_cli/sample*.py, sample_data/): reproducible, and shaped so that
every metric of SPEC §3.2 and §3.4 has something to measure (issue 8 item 5).

The shape checks read the committed files with Polars and assert properties of the data (columns,
scales, the cases each metric's edge rules need), never values copied from the generator.
"""

from __future__ import annotations

import csv
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path

import polars as pl

from kpi_cli.sample import COLUMNS, write_sample

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
END = datetime(2025, 1, 1, tzinfo=UTC)
MONTHS = [date(2023 + m // 12, m % 12 + 1, 1) for m in range(24)]  # the sample's 24 months


def read(name: str) -> pl.DataFrame:
    """A sample file as text columns (blank cells null), so every check sees what the file says."""
    return pl.read_csv(SAMPLE / f"{name}.csv", infer_schema=False)


def instant(col: str) -> pl.Expr:
    return pl.col(col).str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")


def month(col: str) -> pl.Expr:
    return instant(col).dt.truncate("1mo").dt.date()


# --------------------------------------------------------------------------------------------------
# Reproducible
# --------------------------------------------------------------------------------------------------


def test_regenerating_the_sample_gives_the_committed_bytes(tmp_path: Path) -> None:
    written = write_sample(tmp_path / "s")
    assert sorted(p.name for p in written) == sorted(p.name for p in SAMPLE.iterdir())
    for path in written:
        assert path.read_bytes() == (SAMPLE / path.name).read_bytes(), f"{path.name}: run `make sample`"


def test_each_file_has_its_canonical_header() -> None:
    for name, header in COLUMNS.items():
        assert read(name).columns == header.split(), name


# --------------------------------------------------------------------------------------------------
# customers: channels, referrals, e-mails
# --------------------------------------------------------------------------------------------------


def test_customers_have_channels_some_blank_referrals_and_the_founders_email() -> None:
    customers = read("customers")
    channels = set(customers["channel"].drop_nulls())
    assert {"paid_search", "paid_social", "organic", "referral"} <= channels
    blank = customers["channel"].is_null().mean()
    assert 0.03 < blank < 0.12  # (unattributed) is a real group, not the norm
    referred = customers.filter(pl.col("referred_by").is_not_null())
    assert referred.height > 100
    assert set(referred["referred_by"]) <= set(customers["customer_id"])
    assert set(referred["channel"]) == {"referral"}
    assert customers["email"].null_count() == 0
    assert customers["email"].n_unique() == customers.height
    # The e-mail is the one the account's first Signed Up event carries (the founder's): tickets and
    # surveys join accounts through it.
    signups = (read("events").filter(pl.col("event") == "Signed Up").sort("timestamp")
               .group_by("account_id", maintain_order=True).first().select("account_id", "email"))
    joined = customers.join(signups, left_on="customer_id", right_on="account_id", how="left")
    assert (joined["email"] == joined["email_right"]).all()


# --------------------------------------------------------------------------------------------------
# spend
# --------------------------------------------------------------------------------------------------


def test_spend_covers_every_month_by_channel_in_two_currencies() -> None:
    spend = read("spend").with_columns(day=pl.col("date").str.to_date(), amount=pl.col("amount").cast(pl.Float64))
    assert spend["amount"].min() > 0  # no negative (or zero) amounts: they would be bad rows
    assert set(spend["category"].drop_nulls()) == {"acquisition", "retention"}
    assert spend["category"].null_count() > 0  # blank category = acquisition
    for category in ("acquisition", "retention"):
        months = spend.filter(pl.col("category").fill_null("acquisition") == category)["day"].dt.truncate("1mo")
        assert sorted(set(months)) == MONTHS, category
    # Rows dated on many days (weekly Mondays, mid-month, month ends), not only the 1st.
    assert spend["day"].dt.day().n_unique() > 10
    # Acquisition channels are customers' channels (CAC by channel joins on the name); a blank one
    # is spend of the (unattributed) group.
    acquisition = spend.filter(pl.col("category").fill_null("acquisition") == "acquisition")
    assert set(acquisition["channel"].drop_nulls()) <= set(read("customers")["channel"].drop_nulls())
    assert acquisition["channel"].null_count() > 0
    assert set(spend["currency"]) == {"USD", "EUR"}


def test_every_eur_spend_row_has_a_rate_on_its_day() -> None:
    spend = read("spend").filter(pl.col("currency") == "EUR")
    rates = read("fx_rates").filter(pl.col("currency") == "EUR").select("date")
    assert spend.height > 10
    assert spend.join(rates, on="date", how="anti").height == 0


# --------------------------------------------------------------------------------------------------
# surveys
# --------------------------------------------------------------------------------------------------


def test_survey_scores_are_whole_numbers_within_their_scales() -> None:
    surveys = read("surveys").with_columns(score=pl.col("score").cast(pl.Int64, strict=True))
    scales = {"nps": (0, 10), "csat": (1, 5), "ces": (1, 7)}
    assert set(surveys["survey"]) == set(scales)
    for survey, (lo, hi) in scales.items():
        scores = surveys.filter(pl.col("survey") == survey)["score"]
        assert (scores.min(), scores.max()) == (lo, hi), survey
    assert surveys["response_id"].n_unique() == surveys.height
    assert surveys.filter(pl.col("survey") == "ces")["touchpoint"].n_unique() >= 3  # --by touchpoint
    assert surveys.select(instant("responded_at").max()).item() < END


def nps_respondents() -> pl.DataFrame:
    """NPS responses with the respondent key of SPEC §3.4: respondent_id, else lower-cased e-mail."""
    return (read("surveys").filter(pl.col("survey") == "nps")
            .with_columns(key=pl.coalesce("respondent_id", pl.col("email").str.to_lowercase()),
                          month=month("responded_at"), score=pl.col("score").cast(pl.Int64)))


def test_nps_has_repeat_respondents_within_and_across_periods() -> None:
    nps = nps_respondents()
    assert nps["key"].null_count() > 0  # anonymous answers: each its own respondent
    known = nps.filter(pl.col("key").is_not_null())
    twice = known.group_by("month", "key").len().filter(pl.col("len") > 1)
    assert twice.height > 10  # answered twice in a period: the latest counts
    # Last month's detractors answering again: some recover (>= 7), some stay detractors.
    latest = known.sort("responded_at").group_by("month", "key").agg(pl.col("score").last())
    before = latest.with_columns(pl.col("month").dt.offset_by("1mo")).filter(pl.col("score") <= 6)
    again = latest.join(before.select("month", "key"), on=["month", "key"])
    assert (again["score"] >= 7).sum() > 30
    assert (again["score"] <= 6).sum() > 30
    assert again["month"].n_unique() > 12  # nearly every month has a recovery rate
    # Some are matched only by e-mail, written in a different case from one answer to the next.
    mail = known.filter(pl.col("respondent_id").is_null())
    cases = mail.group_by("key").agg(pl.col("email").n_unique().alias("spellings"))
    assert (cases["spellings"] > 1).sum() > 10


def test_nps_csat_and_ces_have_responses_every_month_of_the_demo() -> None:
    surveys = read("surveys").with_columns(month=month("responded_at"))
    for survey, least in (("nps", 60), ("csat", 30), ("ces", 30)):
        counts = surveys.filter(pl.col("survey") == survey).group_by("month").len()
        late = counts.filter(pl.col("month") >= date(2024, 7, 1))
        assert late.height == 6, survey
        assert late["len"].min() >= least, survey
    # Responses name the account (per-account NPS, MRR coverage).
    nps = surveys.filter(pl.col("survey") == "nps", pl.col("touchpoint") != "website")
    assert nps["account_id"].null_count() == 0


# --------------------------------------------------------------------------------------------------
# tickets
# --------------------------------------------------------------------------------------------------


def tickets() -> pl.DataFrame:
    return read("tickets").with_columns(created=instant("created_at"), first=instant("first_response_at"),
                                       resolved=instant("resolved_at"), reopens=pl.col("reopens").cast(pl.Int64))


def test_tickets_have_the_cases_support_metrics_need() -> None:
    t = tickets()
    assert t["ticket_id"].n_unique() == t.height
    assert t["created"].max() < END
    # Never before creation (a bad row); a reply at creation is valid (0 hours) and common on phone/chat.
    assert (t["first"] >= t["created"]).all()
    assert (t["resolved"] >= t["created"]).all()
    assert (t["first"] == t["created"]).sum() > 100
    inbound = t.filter(pl.col("is_agent_created") == "false")
    never = inbound.filter(pl.col("first").is_null())
    assert never.height > 20  # never answered, closed or still open
    assert never.filter(pl.col("resolved").is_null()).height > 0  # unanswered at --as-of
    assert t.filter(pl.col("first") >= END).height > 0  # answered after the data end
    assert t.filter(pl.col("resolved") >= END).height > 0
    assert (inbound["reopens"] > 0).sum() > 100
    assert set(t["status"]) >= {"new", "open", "pending", "solved", "closed"}
    agent = t.filter(pl.col("is_agent_created") == "true")
    assert agent.height > 100
    assert set(agent["via"]) == {"outbound"}
    assert set(inbound["via"]) == {"web", "email", "chat", "phone"}


def test_tickets_without_an_account_join_by_email_or_stay_unmatched() -> None:
    t = tickets()
    assert t["requester_email"].null_count() == 0
    loose = t.filter(pl.col("account_id").is_null()).with_columns(mail=pl.col("requester_email").str.to_lowercase())
    assert loose.height > 100
    assert (loose["requester_email"] != loose["mail"]).sum() > 10  # the join lower-cases
    customers = read("customers").select(mail="email", account="customer_id")
    events = (read("events").filter(pl.col("email").is_not_null(), pl.col("account_id").is_not_null())
              .select(mail="email", account="account_id").unique())
    by_customer = loose.join(customers, on="mail", how="semi").height
    by_event = loose.join(customers, on="mail", how="anti").join(events, on="mail", how="semi").height
    unmatched = loose.join(events, on="mail", how="anti").join(customers, on="mail", how="anti").height
    assert by_customer > 20
    assert by_event > 20
    assert unmatched > 20
    assert by_customer + by_event + unmatched == loose.height


def test_tickets_follow_users_over_the_demo_months() -> None:
    t = tickets().filter(pl.col("is_agent_created") == "false").with_columns(month=month("created_at"))
    per_month = t.group_by("month").len().filter(pl.col("month") >= date(2024, 7, 1))
    assert per_month.height == 6
    assert per_month["len"].min() > 100
    tagged = t.filter(pl.col("tags").str.contains("billing"))
    assert 0.1 < tagged.height / t.height < 0.5  # --tag billing keeps a real share


# --------------------------------------------------------------------------------------------------
# traffic
# --------------------------------------------------------------------------------------------------


def test_traffic_bounce_rates_and_signups() -> None:
    traffic = read("traffic").with_columns(month=month("started_at"), pages=pl.col("pageviews").cast(pl.Int64),
                                           seconds=pl.col("duration_s").cast(pl.Int64))
    assert traffic["seconds"].min() >= 0
    assert traffic["pages"].min() >= 1
    assert set(traffic["key_event"]) == {"true", "false"}
    assert set(traffic["signed_up"]) == {"true", "false"}
    by_month = traffic.group_by("month").agg(
        single=(pl.col("pages") <= 1).mean(),
        ga4=(~((pl.col("seconds") > 10) | (pl.col("key_event") == "true") | (pl.col("pages") >= 2))).mean(),
        visitors=pl.col("visitor_id").n_unique())
    assert by_month.height == 24
    assert by_month["single"].min() >= 0.40
    assert by_month["single"].max() <= 0.55
    assert (by_month["ga4"] < by_month["single"] - 0.05).all()  # long single-page reads are engaged
    signed = traffic.filter(pl.col("signed_up") == "true")
    assert signed["user_id"].null_count() == 0
    assert traffic.filter(pl.col("signed_up") == "false")["user_id"].null_count() == traffic.height - signed.height
    # One signup session per account, by its founder (a Signed Up user of events).
    founders = read("customers").height
    assert signed.height == founders
    assert signed["user_id"].n_unique() == founders
    users = set(read("events").filter(pl.col("event") == "Signed Up")["user_id"])
    assert set(signed["user_id"]) <= users
    # Returning visitors: fewer distinct visitors than sessions.
    assert traffic["visitor_id"].n_unique() < 0.8 * traffic.height


def test_new_sources_validate_cleanly(run) -> None:
    result = run("validate", "--data", SAMPLE, "--currency", "USD")
    assert result.exit_code == 0, result.stdout
    for name in ("customers", "spend", "surveys", "tickets", "traffic"):
        line = next((x for x in result.stdout.splitlines() if x.startswith(f"✓ {name}:")), "")
        assert " 0 bad," in line, result.stdout


# Where each source dates its rows: every one must have rows in each of the 24 months.
DATED = {"customers": "created_at", "subscriptions": "start_at", "events": "timestamp", "spend": "date",
         "traffic": "started_at", "surveys": "responded_at", "tickets": "created_at", "fx_rates": "date"}


def test_every_source_has_rows_in_each_of_the_24_months() -> None:
    wanted = {f"{d:%Y-%m}" for d in MONTHS}
    for name, column in DATED.items():
        with (SAMPLE / f"{name}.csv").open(newline="") as fh:
            months = {row[column][:7] for row in csv.DictReader(fh)}
        assert wanted <= months, (name, sorted(wanted - months))
        assert max(months) == "2024-12", name  # nothing dated after the data ends (fx starts a month early)


def test_subscriptions_are_paying_at_every_month_start_but_the_first() -> None:
    with (SAMPLE / "subscriptions.csv").open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["status"] in ("active", "canceled") and float(r["amount"]) > 0]
    for d in MONTHS[1:]:
        t = f"{d:%Y-%m-%d}T00:00:00Z"
        assert sum(r["start_at"] <= t and (not r["end_at"] or r["end_at"] > t) for r in rows) > 150, d


def test_the_config_names_key_actions_the_events_have_every_month() -> None:
    config = tomllib.loads((SAMPLE / "kpi.toml").read_text())
    keys = config["events"]["key_actions"]
    assert keys
    with (SAMPLE / "events.csv").open(newline="") as fh:
        seen: dict[str, set[str]] = {}
        for row in csv.DictReader(fh):
            seen.setdefault(row["event"], set()).add(row["timestamp"][:7])
    for key in keys:
        assert seen.get(key, set()) >= {f"{d:%Y-%m}" for d in MONTHS}, key


def test_key_actions_per_user_computes_from_the_sample_folder(run, monkeypatch) -> None:
    monkeypatch.chdir(SAMPLE)  # kpi reads ./kpi.toml, as `kpi sample --help` says to run it
    result = run("compute", "key_actions_per_user", "--data", ".", "--from", "2024-10", "--to", "2024-12", "-f", "csv")
    assert result.exit_code == 0, result.stdout
    with (SAMPLE / "events.csv").open(newline="") as fh:
        octo = [r for r in csv.DictReader(fh) if r["timestamp"].startswith("2024-10")]
    keys = {r["event_id"] for r in octo if r["event"] in ("Report Created", "Export Downloaded")}
    row = next(x for x in result.stdout.splitlines() if x.startswith("key_actions_per_user,2024-10-01"))
    assert float(row.split(",")[3]) == len(keys)  # numerator: October's key actions, re-deliveries once
