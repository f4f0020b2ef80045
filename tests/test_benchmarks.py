"""Benchmarks: the shipped file, kpi.toml overrides, and like-with-like matching (SPEC §3.5)."""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

import pytest

from kpi_cli.config import unknown_keys
from kpi_cli.errors import UsageError
from kpi_cli.registry import METRICS
from kpi_cli.summary import benchmarks
from kpi_cli.summary.benchmarks import explain_lines, load, match, shipped

SHIPPED = Path(benchmarks.__file__).parent.parent / "benchmarks.toml"


def test_shipped_file_every_entry_valid() -> None:
    raw = tomllib.loads(SHIPPED.read_text(encoding="utf-8"))["benchmark"]
    entries = shipped()
    assert len(entries) == len(raw) > 0
    for e in entries:
        assert e.metric in METRICS
        assert e.basis in ("monthly", "annual", "point")
        assert e.confidence in ("seed", "published")
        assert e.source.startswith("https://")
        assert e.year.strip()
        assert e.population.strip()
        assert e.label.strip()
        assert e.low is not None or e.high is not None or e.value is not None
        if e.low is not None and e.high is not None:
            assert e.low <= e.high
        if METRICS[e.metric].unit == "ratio":  # rates are fractions: 5% is 0.05, NRR 101% is 1.01
            for v in (e.low, e.high, e.value):
                assert v is None or 0 <= v <= 1.5


def test_seed_figures_shipped() -> None:
    by_metric: dict[str, list[benchmarks.Entry]] = {}
    for e in shipped():
        by_metric.setdefault(e.metric, []).append(e)
    churn = next(e for e in by_metric["customer_churn_rate"] if e.confidence == "seed")
    assert (churn.basis, churn.low, churn.high) == ("annual", 0.05, 0.07)
    dau_mau = next(e for e in by_metric["dau_mau"] if e.confidence == "seed")
    assert (dau_mau.basis, dau_mau.low, dau_mau.high) == ("point", 0.10, 0.20)
    nps = next(e for e in by_metric["nps"] if e.confidence == "seed")
    assert nps.value == 41
    assert nps.low is not None
    assert nps.high is not None
    assert nps.low <= 31
    assert nps.high >= 51
    ltv = next(e for e in by_metric["ltv_cac_ratio"] if e.confidence == "seed")
    assert (ltv.low, ltv.high) == (3.0, None)
    # the "B2B conversion 5–10%" seed names no definition, so it is attached to no metric
    assert not any(e.low == 0.05 and e.high == 0.10 for e in shipped())
    # only the annual, cohort NRR/GRR are compared with annual surveys
    assert "nrr" not in by_metric
    assert "grr" not in by_metric
    assert all(e.basis == "annual" for e in by_metric["nrr_ttm"] + by_metric["grr_ttm"])


def test_monthly_churn_compounded_to_annual() -> None:
    found, why = match("customer_churn_rate", 0.02, "month", load(None))
    assert why == ""
    assert found is not None
    assert found.compared == pytest.approx(1 - 0.98**12)
    assert found.compared == pytest.approx(0.21528, abs=1e-5)
    assert (found.basis, found.low, found.high, found.position) == ("annual", 0.05, 0.07, "above")
    assert found.confidence == "seed"
    assert "21.5%/yr" in found.note
    assert "5–7%/yr" in found.badge
    assert found.badge.startswith("above")


def test_quarterly_churn_compounded_and_within() -> None:
    # 1.5% a quarter: 1 − 0.985⁴ = 5.87% a year, inside 5–7%
    found, _ = match("customer_churn_rate", 0.015, "quarter", load(None))
    assert found is not None
    assert found.compared == pytest.approx(1 - 0.985**4)
    assert found.position == "within"


def test_yearly_churn_compared_as_it_is() -> None:
    found, _ = match("customer_churn_rate", 0.04, "year", load(None))
    assert found is not None
    assert found.compared == 0.04
    assert found.position == "below"
    assert found.note == ""


def test_retention_compounds_as_power() -> None:
    own = load({"customer_retention_rate": {"basis": "annual", "low": 0.8, "high": 0.9}})
    found, _ = match("customer_retention_rate", 0.99, "month", own)
    assert found is not None
    assert found.compared == pytest.approx(0.99**12)  # 0.886
    assert found.position == "within"


def test_weekly_grain_cannot_match_annual_band() -> None:
    found, why = match("customer_churn_rate", 0.005, "week", load(None))
    assert found is None
    assert "weekly" in why
    assert "annual" in why
    assert "--period month" in why
    found, why = match("customer_churn_rate", 0.0002, "day", load(None))
    assert found is None
    assert "daily" in why


def test_non_compounding_metric_refused_off_basis() -> None:
    # visitor conversion's benchmark is monthly; a quarter's rate is not a month's
    found, why = match("visitor_conversion_rate", 0.03, "quarter", load(None))
    assert found is None
    assert "only churn and retention" in why
    found, _ = match("visitor_conversion_rate", 0.03, "month", load(None))
    assert found is not None
    assert found.position == "above"  # 3% against a 2.3% median


def test_ttm_metric_is_annual_at_any_grain() -> None:
    found, _ = match("nrr_ttm", 0.97, "week", load(None))
    assert found is not None
    assert (found.compared, found.value, found.position) == (0.97, 1.01, "below")


def test_point_benchmark_matches_any_grain() -> None:
    entries = load(None)
    for grain in ("day", "week", "month", "quarter", "year"):
        found, _ = match("dau_mau", 0.25, grain, entries)
        assert found is not None
        assert (found.compared, found.position) == (0.25, "above")


def test_nps_point_entry() -> None:
    entries = load(None)
    found, _ = match("nps", 45.0, "month", entries)
    assert found is not None
    assert (found.basis, found.value, found.compared, found.position) == ("point", 41.0, 45.0, "within")
    assert "%" not in found.badge  # a score, not a rate
    found, _ = match("nps", 12.0, "month", entries)
    assert found is not None
    assert found.position == "below"


def test_threshold_badge() -> None:
    entries = load(None)
    low, _ = match("ltv_cac_ratio", 2.4, "month", entries)
    ok, _ = match("ltv_cac_ratio", 3.6, "month", entries)
    assert low is not None
    assert ok is not None
    assert (low.position, ok.position) == ("below", "within")
    assert low.badge.startswith("below 3 ")
    assert ok.badge.startswith("meets ≥ 3 ")


def test_null_value_keeps_the_band() -> None:
    found, why = match("customer_churn_rate", None, "month", load(None))
    assert why == ""
    assert found is not None
    assert (found.compared, found.position) == (None, None)
    assert (found.low, found.high) == (0.05, 0.07)
    # a null still cannot match off basis
    assert match("customer_churn_rate", None, "week", load(None))[0] is None


def test_arpa_segment_choice() -> None:
    entries = load(None)
    small, _ = match("customer_churn_rate", 0.05, "month", entries, arpa_usd=7.0)
    large, _ = match("customer_churn_rate", 0.05, "month", entries, arpa_usd=900.0)
    middle, _ = match("customer_churn_rate", 0.05, "month", entries, arpa_usd=120.0)
    unknown, _ = match("customer_churn_rate", 0.05, "month", entries)
    assert small is not None
    assert large is not None
    assert middle is not None
    assert unknown is not None
    assert (small.basis, small.value, small.position, small.compared) == ("monthly", 0.068, "below", 0.05)
    assert (large.basis, large.value, large.position) == ("monthly", 0.019, "above")
    # no band holds $120, and no ARPA at all: the unsegmented seed applies, compounded
    for found in (middle, unknown):
        assert (found.basis, found.low, found.high) == ("annual", 0.05, 0.07)
        assert found.compared == pytest.approx(1 - 0.95**12)
    # a band is half-open: ARPA exactly $10 is not in [0, 10)
    edge, _ = match("customer_churn_rate", 0.05, "month", entries, arpa_usd=10.0)
    assert edge is not None
    assert edge.basis == "annual"


def test_segmented_monthly_entry_at_yearly_grain() -> None:
    # the ARPA band's monthly median is preferred; a year's 30% churn is 1 − 0.7^(1/12) a month
    found, _ = match("customer_churn_rate", 0.3, "year", load(None), arpa_usd=5.0)
    assert found is not None
    assert (found.basis, found.value) == ("monthly", 0.068)
    assert found.compared == pytest.approx(1 - 0.7 ** (1 / 12))  # 2.93%
    assert found.position == "below"


def test_segmented_entry_off_grain_falls_back() -> None:
    own = load({"dau_mau": [{"basis": "monthly", "value": 0.3, "arpa_usd": [0, 100]},
                            {"basis": "point", "low": 0.1, "high": 0.2}]})
    at_month, _ = match("dau_mau", 0.25, "month", own, arpa_usd=50.0)
    at_quarter, _ = match("dau_mau", 0.25, "quarter", own, arpa_usd=50.0)
    assert at_month is not None
    assert (at_month.basis, at_month.position) == ("monthly", "below")
    assert at_quarter is not None
    assert (at_quarter.basis, at_quarter.position) == ("point", "above")


def test_only_segmented_entries_and_no_band() -> None:
    found, why = match("customer_retention_rate", 0.98, "month", load(None), arpa_usd=100.0)
    assert found is None
    assert "ARPA" in why
    assert "$100.00" in why


def test_override_replaces_shipped_band() -> None:
    own = load({"customer_churn_rate": {"basis": "annual", "low": 0.05, "high": 0.08, "source": "board target"}})
    churn = [e for e in own if e.metric == "customer_churn_rate"]
    assert len(churn) == 1  # every shipped entry for the metric is gone, segmented ones included
    found, _ = match("customer_churn_rate", 0.006, "month", own, arpa_usd=5.0)
    assert found is not None
    assert found.compared == pytest.approx(1 - 0.994**12)  # 6.97%
    assert (found.high, found.position, found.source, found.confidence) == (0.08, "within", "board target", "own")
    assert "board target" in found.badge
    # other metrics keep their shipped entries
    assert [e for e in own if e.metric == "nps"] == [e for e in shipped() if e.metric == "nps"]


def test_override_adds_metric_and_list_of_segments() -> None:
    own = load({"mrr": [{"basis": "point", "low": 10_000, "arpa_usd": [0, 100]},
                        {"basis": "point", "low": 50_000}]})
    assert [e.low for e in own if e.metric == "mrr"] == [10_000, 50_000]
    assert match("mrr", 20_000.0, "month", own, arpa_usd=50.0)[0].position == "within"  # type: ignore[union-attr]
    assert match("mrr", 20_000.0, "month", own, arpa_usd=500.0)[0].position == "below"  # type: ignore[union-attr]


def test_override_removes_metric() -> None:
    own = load({"dau_mau": []})
    assert match("dau_mau", 0.2, "month", own) == (None, "no benchmark for this metric")


@pytest.mark.parametrize(("overrides", "words"), [
    ({"customer_churn_rate": {"basis": "weekly", "low": 0.01}}, ["benchmarks.customer_churn_rate", "basis"]),
    ({"customer_churn_rate": {"basis": "annual", "low": 0.08, "high": 0.05}}, ["low 0.08 is above high 0.05"]),
    ({"custmer_churn_rate": {"basis": "annual", "low": 0.05}}, ["unknown metric id", "customer_churn_rate"]),
    ({"nps": {"basis": "point"}}, ["neither low/high nor value"]),
    ({"nps": {"basis": "point", "value": "41"}}, ["value = '41' is not a number"]),
    ({"nps": {"basis": "point", "value": 41, "hi": 50}}, ["unknown key 'hi'", "high"]),
    ({"nps": {"basis": "point", "value": 41, "arpa_usd": [10, 5]}}, ["arpa_usd"]),
    ({"nps": {"basis": "point", "value": 41, "confidence": "sure"}}, ["confidence"]),
    ({"nps": 41}, ["benchmarks.nps", "table"]),
])
def test_bad_override_is_usage_error(overrides: dict, words: list[str]) -> None:
    with pytest.raises(UsageError) as err:
        load(overrides)
    assert err.value.exit_code == 2
    assert err.value.hint
    for word in words:
        assert word in err.value.message


def test_benchmarks_table_is_a_known_config_key() -> None:
    tables = {"benchmarks": {"nps": {"basis": "point", "value": 30}}}
    assert unknown_keys(tables, "kpi.toml") == []


def test_toml_override_as_parsed() -> None:
    text = """
[[benchmarks.customer_churn_rate]]
basis = "monthly"
value = 0.03
arpa_usd = [0, inf]
"""
    own = load(tomllib.loads(text)["benchmarks"])
    found, _ = match("customer_churn_rate", 0.02, "month", own, arpa_usd=1e6)
    assert found is not None
    assert (found.value, found.position) == (0.03, "below")
    assert math.isinf(own[-1].arpa_usd[1])  # type: ignore[index]


def test_explain_lines() -> None:
    entries = load(None)
    week = explain_lines("customer_churn_rate", "week", entries)
    month = explain_lines("customer_churn_rate", "month", entries)
    assert sum("does not apply" in line for line in week) == 3
    assert any("applies at a monthly grain" in line and "compounded" in line for line in month)
    assert any("ARPA" in line for line in month)
    assert "nrr_ttm" in explain_lines("nrr", "month", entries)[0]
    assert "none for mrr" in explain_lines("mrr", "month", entries)[0]


def test_benchmarks_toml_is_package_data() -> None:
    # without this a wheel ships no benchmarks.toml and every report fails to load it
    pyproject = tomllib.loads((SHIPPED.parent.parent / "pyproject.toml").read_text(encoding="utf-8"))
    assert "benchmarks.toml" in pyproject["tool"]["setuptools"]["package-data"]["kpi_cli"]
