"""Every metric of SPEC §3.2 and §3.4 has a non-trivial value on the sample company, and a few of them
agree with an independent computation from the CSV files by the SPEC's definitions (issue 8 item 5).

The independent computations below read the files with Polars as text and follow SPEC §3.2/§3.4
word by word; they share no code with the families.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pytest

from kpi_cli import compute

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "sample_data"
RUN = {"data": SAMPLE, "currency": "USD", "as_of": "2025-01-15"}
OCT = date(2024, 10, 1)
ACQUISITION = ("acquisition_spend", "retention_spend", "cac", "cpa", "ltv_cac_ratio", "cac_payback_months", "crc",
               "new_signups", "signup_growth_rate", "visitor_conversion_rate", "bounce_rate", "paid_share",
               "unattributed_share", "referral_conversion_rate", "non_referral_conversion_rate")
SATISFACTION = ("nps", "csat", "ces", "detractor_recovery_rate", "nps_coverage_mrr", "tickets_per_user",
                "tickets_per_customer", "first_response_time", "first_response_time_p90", "first_response_rate",
                "unanswered_tickets", "resolution_time", "reopen_rate")
# Referral conversion waits 90 days after signup: November and December signups are still open at
# the as-of, so those two months are null by SPEC §2 (windows that have not ended).
WINDOWED = {"referral_conversion_rate", "non_referral_conversion_rate"}


@pytest.fixture(scope="module")
def demo() -> pl.DataFrame:
    """``make demo``'s range, every §3.2/§3.4 id."""
    return compute([*ACQUISITION, *SATISFACTION], from_="2024-07", to="2024-12", **RUN)


def value(frame: pl.DataFrame, metric: str, **by: str) -> float:
    rows = frame.filter(pl.col("metric") == metric, *(pl.col(k) == v for k, v in by.items()))
    assert rows.height == 1, (metric, by, rows)
    return rows["value"].item()


def read(name: str) -> pl.DataFrame:
    return pl.read_csv(SAMPLE / f"{name}.csv", infer_schema=False)


def in_october(col: str) -> pl.Expr:
    t = pl.col(col).str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_zone="UTC")
    return t.dt.truncate("1mo").dt.date() == OCT


@pytest.mark.parametrize("metric", [*ACQUISITION, *SATISFACTION])
def test_metric_has_a_non_trivial_value_every_demo_month(demo: pl.DataFrame, metric: str) -> None:
    rows = demo.filter(pl.col("metric") == metric).sort("period")
    assert rows.height == 6, rows
    values = rows.drop_nulls("value")["value"]
    assert values.len() == (4 if metric in WINDOWED else 6), rows
    assert (values != 0).all() or metric == "signup_growth_rate", rows
    assert values.n_unique() > 1, rows  # moves from month to month, as a real company's would


# --------------------------------------------------------------------------------------------------
# Independent computations for October 2024
# --------------------------------------------------------------------------------------------------


def test_acquisition_spend_converts_eur_rows_at_their_days_rate() -> None:
    spend = read("spend").filter(pl.col("category").fill_null("acquisition") == "acquisition",
                                 pl.col("date").str.to_date().dt.truncate("1mo") == OCT)
    rates = read("fx_rates").filter(pl.col("currency") == "EUR").select("date", rate=pl.col("rate").cast(pl.Float64))
    spend = spend.join(rates, on="date", how="left").with_columns(
        usd=pl.col("amount").cast(pl.Float64) * pl.when(pl.col("currency") == "EUR").then("rate").otherwise(1.0))
    assert spend.filter(pl.col("currency") == "EUR").height > 0  # the check covers a conversion
    got = compute(["acquisition_spend", "cac", "new_customers"], month="2024-10", **RUN)
    assert value(got, "acquisition_spend") == pytest.approx(spend["usd"].sum(), rel=1e-12)
    # CAC = acquisition spend / new customers of the revenue family (lag 0).
    assert value(got, "cac") == pytest.approx(spend["usd"].sum() / value(got, "new_customers"), rel=1e-12)


def test_cac_by_channel_adds_up_to_the_blend() -> None:
    blended = compute(["acquisition_spend", "new_customers"], month="2024-10", **RUN)
    split = compute(["cac", "acquisition_spend", "new_customers"], month="2024-10", by="channel", **RUN)
    for metric in ("acquisition_spend", "new_customers"):
        parts = split.filter(pl.col("metric") == metric)["value"].sum()
        assert parts == pytest.approx(value(blended, metric), rel=1e-12), metric
    cac = split.filter(pl.col("metric") == "cac")
    assert "(unattributed)" in cac["channel"].to_list()
    assert cac.drop_nulls("value").height >= 5  # paid_search, paid_social, content, events, partner, …
    assert cac.filter(pl.col("channel") == "organic")["value"].item() is None  # customers, no spend rows


def test_bounce_and_visitor_conversion_from_traffic() -> None:
    sessions = read("traffic").filter(in_october("started_at")).with_columns(
        pages=pl.col("pageviews").cast(pl.Int64), seconds=pl.col("duration_s").cast(pl.Int64))
    single = (sessions["pages"] <= 1).sum() / sessions.height
    engaged = (sessions["seconds"] > 10) | (sessions["key_event"] == "true") | (sessions["pages"] >= 2)
    ga4 = (~engaged).sum() / sessions.height
    converted = sessions.filter(pl.col("signed_up") == "true")["visitor_id"].n_unique()
    conversion = converted / sessions["visitor_id"].n_unique()
    got = compute(["bounce_rate", "visitor_conversion_rate"], month="2024-10", **RUN)
    assert value(got, "bounce_rate") == pytest.approx(single, rel=1e-12)
    assert value(got, "visitor_conversion_rate") == pytest.approx(conversion, rel=1e-12)
    ga4_got = compute(["bounce_rate"], month="2024-10", bounce="ga4", **RUN)
    assert value(ga4_got, "bounce_rate") == pytest.approx(ga4, rel=1e-12)


def test_nps_and_csat_from_surveys() -> None:
    surveys = read("surveys").filter(in_october("responded_at")).with_columns(score=pl.col("score").cast(pl.Int64))
    nps = (surveys.filter(pl.col("survey") == "nps")
           # the respondent: respondent_id, else the lower-cased e-mail, else the response itself
           .with_columns(key=pl.coalesce("respondent_id", pl.col("email").str.to_lowercase(), "response_id"))
           .sort("responded_at").group_by("key").agg(pl.col("score").last()))
    promoters, detractors = (nps["score"] >= 9).sum(), (nps["score"] <= 6).sum()
    csat = surveys.filter(pl.col("survey") == "csat")
    got = compute(["nps", "csat"], month="2024-10", **RUN)
    assert value(got, "nps") == pytest.approx(100 * (promoters - detractors) / nps.height, rel=1e-12)
    p, d = promoters / nps.height, detractors / nps.height
    assert value(got, "nps_moe") == pytest.approx(1.96 * 100 * ((p + d - (p - d) ** 2) / nps.height) ** 0.5, rel=1e-12)
    row = got.filter(pl.col("metric") == "nps")
    assert row["denominator"].item() == nps.height  # one response per respondent
    assert value(got, "csat") == pytest.approx((csat["score"] >= 4).sum() / csat.height, rel=1e-12)


def test_ticket_counts_and_first_response_from_tickets() -> None:
    tickets = read("tickets").filter(in_october("created_at"), pl.col("is_agent_created") == "false")
    ts = ["created_at", "first_response_at"]
    hours = tickets.select((pl.col(ts[1]).str.to_datetime(time_zone="UTC")
                            - pl.col(ts[0]).str.to_datetime(time_zone="UTC")).dt.total_seconds() / 3600)
    answered = hours.drop_nulls()[ts[1]]  # every reply in the file is before the as-of 2025-01-15
    got = compute(["tickets", "first_response_time", "first_response_rate", "unanswered_tickets"],
                  month="2024-10", **RUN)
    assert value(got, "tickets") == tickets.height
    assert value(got, "first_response_time") == pytest.approx(answered.median(), rel=1e-12)
    assert value(got, "first_response_rate") == pytest.approx(answered.len() / tickets.height, rel=1e-12)
    assert value(got, "unanswered_tickets") == tickets.height - answered.len()


def test_support_and_survey_options_have_values_on_the_sample() -> None:
    billing = compute(["tickets"], month="2024-10", tag="billing", **RUN)
    every = compute(["tickets"], month="2024-10", **RUN)
    assert 0 < value(billing, "tickets") < value(every, "tickets")
    ces = compute(["ces"], month="2024-10", by="touchpoint", **RUN)
    assert sorted(ces["touchpoint"]) == ["integration", "onboarding", "support"]
    mean = compute(["csat"], month="2024-10", csat="mean", **RUN)
    assert 3 < value(mean, "csat") < 5
    for option in ({"nps_unit": "account"}, {"nps_weight": "mrr"}):
        got = compute(["nps"], month="2024-10", **option, **RUN)
        assert -100 < value(got, "nps") < 100, option
