"""The metric graph (kpi_cli/graph.py): bases built once, formulas across families, lags, --by checks.

Data, by hand: c1 pays 100/month from 2024-01-01, c2 50/month from 2024-02-15 → MRR at the end of
Jan 100, Feb 150, Mar 150. Events: u1 in Jan; u1, u2 in Feb; u1, u2, u3 in Mar → active users 1, 2, 3.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from conftest import write_csv
from polars.testing import assert_frame_equal
from typer.testing import Result

from kpi_cli.api import Run, _options, compute_run
from kpi_cli.graph import Graph
from kpi_cli.metric import Metric
from kpi_cli.registry import METRICS

SUBS = [["c1", "s1", "2024-01-01", "", "100"], ["c2", "s2", "2024-02-15", "", "50"]]
EVENTS = [["2024-01-05T10:00:00Z", "Page Viewed", "u1"],
          ["2024-02-05T10:00:00Z", "Page Viewed", "u1"], ["2024-02-06T10:00:00Z", "Page Viewed", "u2"],
          ["2024-03-05T10:00:00Z", "Page Viewed", "u1"], ["2024-03-06T10:00:00Z", "Page Viewed", "u2"],
          ["2024-03-07T10:00:00Z", "Page Viewed", "u3"]]

# Test-only metrics declared from metrics of two families, as a family catalogue would declare them.
MRR_PER_ACTIVE = Metric("mrr_per_active_user", "MRR per active user", "currency", "revenue",
                        ("subscriptions", "events"), "MRR / active users.", of=("mrr", "active_users"), op="ratio")
MRR_GROWTH = Metric("mrr_growth", "MRR growth", "ratio", "revenue", ("subscriptions",),
                    "(MRR(P) − MRR(P − 1)) / MRR(P − 1).", of=("mrr",), op="growth")
ACTIVE_BEFORE = Metric("active_before", "Active users of P − 1", "count", "engagement", ("events",),
                       "Active users one period earlier.", of=("active_users@1", "active_users"), op="difference")


@pytest.fixture
def data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "data"
    write_csv(folder / "subscriptions.csv", ["customer_id", "subscription_id", "start_at", "end_at", "amount"], SUBS)
    write_csv(folder / "events.csv", ["timestamp", "event", "user_id"], EVENTS)
    for m in (MRR_PER_ACTIVE, MRR_GROWTH, ACTIVE_BEFORE):
        monkeypatch.setitem(METRICS, m.id, m)
    return folder


def values(df: pl.DataFrame, metric: str) -> list[tuple[str, float | None]]:
    rows = df.filter(pl.col("metric") == metric).select(pl.col("period").cast(pl.String), "value")
    return [(p, v) for p, v in rows.rows()]


def test_a_ratio_across_families_builds_each_base_once(data: Path) -> None:
    run = Run.start(_options(data, {"from_": "2024-01", "to": "2024-03", "as_of": "2024-06-01"}))
    df = compute_run(["mrr_per_active_user", "mrr", "active_users", "dau"], run)
    graph: Graph = run.info["graph"]
    assert dict(graph.builds) == {"revenue": 1, "engagement": 1}
    # 100/1, 150/2, 150/3
    assert values(df, "mrr_per_active_user") == [("2024-01-01", 100.0), ("2024-02-01", 75.0), ("2024-03-01", 50.0)]
    parts = df.filter(pl.col("metric") == "mrr_per_active_user").select("numerator", "denominator")
    assert_frame_equal(parts, pl.DataFrame({"numerator": [100.0, 150.0, 150.0], "denominator": [1.0, 2.0, 3.0]}))


def test_growth_reads_the_period_before_from(data: Path) -> None:
    run = Run.start(_options(data, {"from_": "2024-02", "to": "2024-03", "as_of": "2024-06-01"}))
    df = compute_run(["mrr_growth"], run)
    # Feb: (150 − 100)/100 = 0.5, January lying before --from; Mar: (150 − 150)/150 = 0
    assert values(df, "mrr_growth") == [("2024-02-01", 0.5), ("2024-03-01", 0.0)]
    row = df.row(0, named=True)
    assert (row["numerator"], row["denominator"]) == (50.0, 100.0)


def test_a_lagged_part_is_the_previous_period(data: Path) -> None:
    run = Run.start(_options(data, {"from_": "2024-02", "to": "2024-03", "as_of": "2024-06-01"}))
    df = compute_run(["active_before"], run)
    # active_users(P − 1) − active_users(P): Feb 1 − 2 = −1, Mar 2 − 3 = −1
    assert values(df, "active_before") == [("2024-02-01", -1.0), ("2024-03-01", -1.0)]


def test_an_implicit_range_is_one_span_for_every_family(data: Path) -> None:
    # The billing rows' last instant is 15 Feb (January is their last complete period), the events'
    # 7 March (February): the span is the latest any family gives, February, for both alike.
    run = Run.start(_options(data, {"as_of": "2024-06-01"}))
    df = compute_run(["mrr", "active_users"], run)
    assert df.select("metric", pl.col("period").cast(pl.String)).rows() == [("mrr", "2024-02-01"),
                                                                          ("active_users", "2024-02-01")]
    run = Run.start(_options(data, {"as_of": "2024-03-20"}))
    df = compute_run(["mrr_per_active_user"], run)
    assert values(df, "mrr_per_active_user") == [("2024-02-01", 75.0)]


def test_by_a_dimension_one_family_lacks_is_refused(data: Path, run: Callable[..., Result]) -> None:
    r = run("compute", "mrr_per_active_user", "--data", data, "--month", "2024-02", "--by", "prop.plan")
    assert r.exit_code == 2
    assert "--by prop.plan: mrr_per_active_user reads revenue data" in r.stderr
    assert "revenue can split by: currency, plan" in r.stderr


def test_cli_output_is_the_long_shape(data: Path, run: Callable[..., Result]) -> None:
    r = run("compute", "mrr_per_active_user,mrr_growth", "--data", data, "--from", "2024-02", "--to", "2024-03",
            "--as-of", "2024-06-01", "-f", "json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [(x["metric"], x["period"], x["value"]) for x in rows] == [
        ("mrr_per_active_user", "2024-02-01", 75.0), ("mrr_per_active_user", "2024-03-01", 50.0),
        ("mrr_growth", "2024-02-01", 0.5), ("mrr_growth", "2024-03-01", 0.0)]
    # A formula is complete where all its parts are. Billing's last instant is 15 February, so its
    # February and March are incomplete, and so is every formula over MRR in those months.
    assert [x["complete"] for x in rows] == [False, False, False, False]


def test_explain_shows_parts_recursively(data: Path, run: Callable[..., Result]) -> None:
    nested = Metric("growth_per_user", "Growth per user", "ratio", "revenue", ("subscriptions", "events"),
                    "MRR growth / active users.", of=("mrr_growth", "active_users"), op="ratio")
    METRICS[nested.id] = nested
    try:
        r = run("explain", "growth_per_user")
    finally:
        del METRICS[nested.id]
    assert r.exit_code == 0, r.stderr
    text = r.stdout
    assert "built from (mrr_growth ÷ active_users):" in text
    assert "  mrr_growth — MRR growth" in text
    assert "    mrr — MRR" in text  # mrr_growth's own part, one level deeper
    assert "  active_users — Active users" in text


def test_every_source_is_parsed_once_for_all_families(monkeypatch: pytest.MonkeyPatch) -> None:
    """``compute all`` on the sample company: every base built once, every source parsed once."""
    import kpi_cli.dataset

    parsed: list[str] = []
    for name in ("parse_source", "typed_source"):
        real = getattr(kpi_cli.dataset, name)

        def counting(src: object, *args: object, _real: object = real, **kwargs: object) -> object:
            parsed.append(src.name)  # type: ignore[attr-defined]
            return _real(src, *args, **kwargs)  # type: ignore[operator]

        monkeypatch.setattr(kpi_cli.dataset, name, counting)
    root = Path(__file__).resolve().parents[1]
    run = Run.start(_options(root / "sample_data", {"month": "2024-06", "currency": "USD"}))
    df = compute_run(["all"], run)
    graph: Graph = run.info["graph"]
    assert dict(graph.builds) == dict.fromkeys(("revenue", "acquisition", "engagement", "surveys", "support"), 1)
    assert sorted(parsed) == sorted(set(parsed))  # no source parsed twice
    assert {"subscriptions", "customers", "events", "spend", "traffic", "surveys", "tickets"} <= set(parsed)
    # Cross-family formulas are there and are their parts' ratios.
    cac = df.filter(pl.col("metric") == "cac").row(0, named=True)
    spend = df.filter(pl.col("metric") == "acquisition_spend")["value"][0]
    new = df.filter(pl.col("metric") == "new_customers")["value"][0]
    assert (cac["numerator"], cac["denominator"]) == (spend, new)
    assert cac["value"] == pytest.approx(spend / new, rel=1e-12)


def test_bad_rows_found_at_two_stages_are_one_error_with_the_true_total(tmp_path: Path,
                                                                         run: Callable[..., Result]) -> None:
    # Line 3 fails while parsing (negative spend), line 4 only when its currency's rate is looked up.
    write_csv(tmp_path / "d" / "spend.csv", ["date", "amount", "currency", "category", "channel"],
              [["2024-01-05", "100", "USD", "acquisition", "ads"], ["2024-01-06", "-5", "USD", "acquisition", "ads"],
               ["2024-01-07", "50", "EUR", "acquisition", "ads"]])
    r = run("compute", "acquisition_spend", "--data", tmp_path / "d", "--month", "2024-01", "--currency", "USD")
    assert r.exit_code == 1
    lines = r.stderr.splitlines()
    assert lines[0] == "kpi: error: 2 bad rows in spend"
    assert lines[1].endswith("spend.csv:3 amount=-5 negative amount (spend is zero or more)")
    assert "spend.csv:4 currency=EUR no fx rate for EUR → USD" in lines[2]
    skipped = run("compute", "acquisition_spend", "--data", tmp_path / "d", "--month", "2024-01", "--currency", "USD",
                  "--on-bad-rows", "skip", "-f", "json")
    assert json.loads(skipped.stdout)[0]["value"] == 100.0


def test_paid_cac_without_any_paid_spend_row_is_unknown_not_zero(tmp_path: Path,
                                                                 run: Callable[..., Result]) -> None:
    # A is new in January through channel cpc (paid by default); the only spend row is on content
    # (organic): paid spend is unknown, so paid CAC is null with a null numerator, over 1 customer.
    folder = tmp_path / "d3"
    write_csv(folder / "spend.csv", ["month", "amount", "channel"], [["2024-01", "1000", "content"]])
    write_csv(folder / "subscriptions.csv", ["customer_id", "subscription_id", "start_at", "end_at", "amount"],
              [["A", "a", "2024-01-10", "", "100"], ["Z", "z", "2023-06-01", "2024-06-01", "10"]])
    write_csv(folder / "customers.csv", ["customer_id", "channel"], [["A", "cpc"], ["Z", "content"]])
    r = run("compute", "cac", "--month", "2024-01", "--data", folder, "--as-of", "2024-04-01", "-f", "json",
            "--cac-basis", "paid")
    row = json.loads(r.stdout)[0]
    assert (row["value"], row["numerator"], row["denominator"]) == (None, None, 1.0)


def test_table_commands_count_every_bad_row_of_the_run(tmp_path: Path, run: Callable[..., Result]) -> None:
    # movements: the bad EUR rate (fx_rates.csv:2) leaves A's EUR row (subscriptions.csv:2) without a
    # rate; both are in the one error, as compute reports them.
    header = ["customer_id", "subscription_id", "start_at", "amount", "currency"]
    write_csv(tmp_path / "d" / "subscriptions.csv", header,
              [["A", "a1", "2023-01-01", "100", "EUR"], ["B", "b1", "2023-01-01", "100", "USD"]])
    write_csv(tmp_path / "d" / "fx_rates.csv", ["date", "currency", "rate"], [["2023-01-01", "EUR", "-1"]])
    r = run("movements", "--data", tmp_path / "d", "--month", "2023-03", "--currency", "USD")
    assert r.exit_code == 1
    assert r.stderr.splitlines()[0] == "kpi: error: 2 bad rows in fx_rates, subscriptions"


def test_events_are_cleaned_once_and_a_narrow_log_is_the_whole_one_projected(monkeypatch: pytest.MonkeyPatch
                                                                             ) -> None:
    import kpi_cli.engagement.hygiene as hygiene

    root = Path(__file__).resolve().parents[1]
    narrow = frozenset({"email", "account_id"})
    fresh = Run.start(_options(root / "sample_data", {"month": "2024-06", "currency": "USD"}))
    alone, _ = hygiene.load_events(fresh.dataset, columns=narrow)  # cleaned for these columns only

    cleaned: list[object] = []
    real = hygiene._clean
    monkeypatch.setattr(hygiene, "_clean", lambda *a: cleaned.append(a[2]) or real(*a))
    run = Run.start(_options(root / "sample_data", {"month": "2024-06", "currency": "USD"}))
    compute_run(["all"], run)  # engagement (every column), tickets' e-mail lookup, referrals, bounce…
    assert cleaned == [None]
    projected, _ = hygiene.load_events(run.dataset, columns=narrow)
    assert cleaned == [None]
    assert_frame_equal(projected, alone)
