"""The surveys family's catalogue entries (SPEC §3.4), listed under the ``satisfaction`` group."""

from __future__ import annotations

from kpi_cli.metric import Metric

SURVEYS = ("surveys",)
NPS_OPTS = ("nps_unit", "nps_weight", "tz")
GROUP = "satisfaction"

METRICS = [
    Metric("nps", "NPS", "score", "surveys", SURVEYS,
           "Net Promoter Score: 100 × (promoters (9–10) − detractors (0–6)) / n over the nps responses of P, "
           "one per respondent per period (the latest by responded_at; respondent = respondent_id, else "
           "user_id, else lower-cased email; a response with none is its own respondent); unrounded. "
           "numerator = promoters − detractors, denominator = n. --nps-unit account: each account scored "
           "once (the median of its respondents' latest scores: ≥ 9 promoter, ≤ 6 detractor) and NPS taken "
           "over accounts; --nps-weight mrr (accounts, weighted by MRR at the end of P; needs billing): "
           "denominator = accounts with MRR, numerator = that n × the weighted (promoters − detractors) share.",
           special="nps", options=NPS_OPTS, group=GROUP),
    Metric("nps_moe", "NPS margin (95%)", "score", "surveys", SURVEYS,
           "95% margin of error of nps, in points: 1.96 × 100 × √((p + d − (p − d)²) / n) with p, d the "
           "promoter and detractor shares of n (with --nps-weight mrr: weighted shares, and n the effective "
           "sample size (Σw)² / Σw²). Null when n is 0.", special="nps_moe", options=NPS_OPTS, group=GROUP),
    Metric("csat", "CSAT", "ratio", "surveys", SURVEYS,
           "Share of the csat responses of P scoring 4 or 5 on 1–5 (a binary Good/Bad answer: Good counts "
           "as satisfied); every response counts, no per-respondent dedup. --csat mean: the mean 1–5 score "
           "(numerator Σ score, denominator responses; binary answers have no 1–5 value and are left out).",
           special="csat", options=("csat", "tz"), group=GROUP, unit_when=(("csat", "mean", "score"),)),
    Metric("ces", "CES", "score", "surveys", SURVEYS,
           "Customer Effort Score: mean of the ces responses of P on 1–7 (--ces-scale 1-5 for the older "
           "1–5 scale: 6 and 7 are then bad rows); every response counts. numerator Σ score, denominator "
           "responses. Per touchpoint with --by touchpoint.", special="ces", options=("ces_scale", "tz"),
           group=GROUP),
    Metric("detractor_recovery_rate", "Detractor recovery", "ratio", "surveys", SURVEYS,
           "Of the respondents who were detractors (0–6) in P − 1 and answered nps again in P, the share "
           "scoring ≥ 7 in P (latest response of each period). Matched on respondent_id, else (when either "
           "side has none) lower-cased email. When the nps responses carry a wave, waves replace periods: "
           "each wave is compared with the wave before it (waves ordered by their first response) and "
           "reported in the period of its first response. P − 1 is read even before --from.",
           special="detractor_recovery_rate", options=("tz",), group=GROUP),
    Metric("nps_coverage_mrr", "NPS revenue coverage", "ratio", "surveys", ("surveys", "subscriptions|invoices"),
           "MRR at the end of P of the accounts (account_id = customer_id) with at least one nps response in "
           "P / MRR at the end of P.", special="nps_coverage_mrr", options=("currency", "tz"), of=("mrr",),
           columns=("surveys.account_id",), group=GROUP),
]
