"""The golden revenue example of research/revenue.md §4, verbatim, on both local engines.

Input: §4.1 (8 customers A–H, snapshots at the month ends of 2022-12 … 2023-03, UTC, one currency).
Expected numbers: §4.2 (per-customer month-end MRR, MRR, ARR, paying customers, ARPA), §4.3
(movements and the derived rates) and the §4.4 option variants that SPEC.md defines
(`churn_at="cancel"`, `discounts="all"`, `discounts="none"`). Every literal below was re-derived by
hand from §4.1 under SPEC §3.1; the arithmetic is in the comment next to it.

Not tested here, on purpose: the §4.4 `--grain event` variant (ChartMogul activity grain) and the
pause / Chargebee-compat variant — neither is an option of SPEC.md (the research lists them as
possible later extensions), so there is no contract to test them against.
"""

from __future__ import annotations

import csv
import itertools
import json
from datetime import date
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from kpi_cli import compute, movements

# ---------------------------------------------------------------------------------------------
# §4.1 input. `end_at` is exclusive, blank = still running. Amounts are per billing interval per
# unit, tax excluded (B's 20 % invoice tax never reaches this file).
# ---------------------------------------------------------------------------------------------
HEADER = (
    "customer_id",
    "subscription_id",
    "start_at",
    "end_at",
    "amount",
    "interval",
    "interval_count",
    "quantity",
    "status",
    "canceled_at",
    "discount_percent",
    "discount_duration",
)
ROWS = [
    # A upgraded 100 → 150 on 2023-02-10 (a price change starts a new row of the same subscription)
    ("A", "a1", "2022-11-15", "2023-02-10", "100", "month", "1", "1", "active", "", "", ""),
    ("A", "a1", "2023-02-10", "", "150", "month", "1", "1", "active", "", "", ""),
    # B: yearly 1200 per seat, 2 seats, one seat removed 2023-03-05
    ("B", "b1", "2022-07-01", "2023-03-05", "1200", "year", "1", "2", "active", "", "", ""),
    ("B", "b1", "2023-03-05", "", "1200", "year", "1", "1", "active", "", "", ""),
    # C: cancel requested 2023-01-20, effective at the end of the paid period 2023-02-01
    ("C", "c1", "2022-10-01", "2023-02-01", "50", "month", "1", "1", "canceled", "2023-01-20", "", ""),
    # D: trial 2023-01-10 … 2023-01-24 (0 MRR), then quarterly 300 (every 3 months)
    ("D", "d0", "2023-01-10", "2023-01-24", "300", "month", "3", "1", "trialing", "", "", ""),
    ("D", "d1", "2023-01-24", "", "300", "month", "3", "1", "active", "", "", ""),
    # E: cancelled immediately 2022-12-15, returns 2023-03-10 with a 25 % forever coupon
    ("E", "e1", "2022-09-01", "2022-12-15", "80", "month", "1", "1", "canceled", "2022-12-15", "", ""),
    ("E", "e2", "2023-03-10", "", "80", "month", "1", "1", "active", "", "25", "forever"),
    # F: 50 % off the first invoice only
    ("F", "f1", "2023-02-15", "", "200", "month", "1", "1", "active", "", "50", "once"),
    # G: joined and left inside March (cancelled immediately, refunded): invisible at month grain
    ("G", "g1", "2023-03-03", "2023-03-20", "40", "month", "1", "1", "canceled", "2023-03-20", "", ""),
    # H: two subscriptions, the second one cancelled 2023-03-12
    ("H", "h1", "2022-12-05", "", "70", "month", "1", "1", "active", "", "", ""),
    ("H", "h2", "2022-12-05", "2023-03-12", "30", "month", "1", "1", "canceled", "2023-03-12", "", ""),
]

DEC, JAN, FEB, MAR = date(2022, 12, 1), date(2023, 1, 1), date(2023, 2, 1), date(2023, 3, 1)
SNAPSHOT_MONTHS = (DEC, JAN, FEB, MAR)
MOVEMENT_MONTHS = (JAN, FEB, MAR)
ROLL_FORWARD_COLUMNS = [
    "period",
    "start_mrr",
    "new",
    "expansion",
    "reactivation",
    "contraction",
    "churned",
    "fx",
    "end_mrr",
]
LONG_COLUMNS = ["metric", "period", "value", "numerator", "denominator", "complete"]

# §4.2: month-end MRR per customer (Dec, Jan, Feb, Mar)
PER_CUSTOMER_MRR = {
    "A": (100.0, 100.0, 150.0, 150.0),  # 100 × 1; 150 from 2023-02-10
    "B": (200.0, 200.0, 200.0, 100.0),  # 1200 × 2 / 12 = 200; 1200 × 1 / 12 = 100 from 2023-03-05
    "C": (50.0, 50.0, 0.0, 0.0),  # paid through 2023-02-01 (exclusive)
    "D": (0.0, 100.0, 100.0, 100.0),  # trialing at no snapshot; 300 / 3 = 100 from 2023-01-24
    "E": (0.0, 0.0, 0.0, 60.0),  # 80 × (1 − 25/100) = 60 from 2023-03-10
    "F": (0.0, 0.0, 200.0, 200.0),  # "once" coupon ignored by default (discounts=recurring)
    "G": (0.0, 0.0, 0.0, 0.0),  # 2023-03-03 … 2023-03-20 spans no month end
    "H": (100.0, 100.0, 100.0, 70.0),  # 70 + 30; 70 after h2 ends 2023-03-12
}


# ---------------------------------------------------------------------------------------------
# fixtures and helpers
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("golden")
    with (folder / "subscriptions.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(HEADER)
        writer.writerows(ROWS)
    return folder


@pytest.fixture(params=["polars", "duckdb"])
def engine(request: pytest.FixtureRequest) -> str:
    return request.param


def by_period(df: pl.DataFrame, metric: str) -> dict[date, dict[str, Any]]:
    """The rows of one metric, keyed by period; each (metric, period) must appear once."""
    rows = df.filter(pl.col("metric") == metric).to_dicts()
    out = {r["period"]: r for r in rows}
    assert len(out) == len(rows), f"{metric}: duplicate periods {[r['period'] for r in rows]}"
    return out


def assert_values(df: pl.DataFrame, metric: str, expected: dict[date, float | None]) -> None:
    got = by_period(df, metric)
    assert sorted(got) == sorted(expected), f"{metric}: periods {sorted(got)}, expected {sorted(expected)}"
    for period, want in expected.items():
        value = got[period]["value"]
        if want is None:
            assert value is None, f"{metric} {period}: expected null, got {value}"
        else:
            assert value == pytest.approx(want, abs=1e-9), f"{metric} {period}: expected {want}, got {value}"


Ratio = tuple[float | None, float, float]  # (value, numerator, denominator)


def assert_ratio(df: pl.DataFrame, metric: str, expected: dict[date, Ratio]) -> None:
    """Value, numerator and denominator of a ratio metric (SPEC §4.1); a 0 denominator gives null."""
    assert_values(df, metric, {p: v for p, (v, _, _) in expected.items()})
    got = by_period(df, metric)
    for period, (value, num, den) in expected.items():
        row = got[period]
        if value is None:  # zero denominator: the parts may be reported as (num, 0) or left null
            assert row["denominator"] in (0, None), f"{metric} {period}: denominator {row['denominator']}"
            continue
        assert row["numerator"] == pytest.approx(num, abs=1e-9), f"{metric} {period} numerator"
        assert row["denominator"] == pytest.approx(den, abs=1e-9), f"{metric} {period} denominator"


def months(*values: float | None, start: tuple[date, ...] = MOVEMENT_MONTHS) -> dict[date, float | None]:
    assert len(values) == len(start)
    return dict(zip(start, values, strict=True))


def roll_forward(rows: list[tuple[float, ...]]) -> pl.DataFrame:
    """Expected roll-forward for Jan–Mar: rows of (start, new, exp, react, contr, churned, fx, end)."""
    cols = list(zip(*rows, strict=True))
    data: dict[str, Any] = {"period": list(MOVEMENT_MONTHS)}
    amounts = ROLL_FORWARD_COLUMNS[1:]
    data.update({name: [float(x) for x in col] for name, col in zip(amounts, cols, strict=True)})
    return pl.DataFrame(data, schema={"period": pl.Date, **dict.fromkeys(amounts, pl.Float64)})


def assert_spec_columns(df: pl.DataFrame, columns: list[str]) -> None:
    """The SPEC's columns, in order; a trailing `complete` flag (SPEC §2: incomplete periods are
    flagged in machine output) is the one extra column accepted."""
    assert df.columns in (columns, [*columns, "complete"]), f"columns {df.columns}, expected {columns}"


def got_roll_forward(data: Path, engine: str, **options: Any) -> pl.DataFrame:
    df = movements(data=data, from_="2023-01", to="2023-03", engine=engine, **options)
    assert_spec_columns(df, ROLL_FORWARD_COLUMNS)
    assert df.schema["period"] == pl.Date
    return df.select(pl.col("period"), pl.col(ROLL_FORWARD_COLUMNS[1:]).cast(pl.Float64)).sort("period")


# ---------------------------------------------------------------------------------------------
# output shape
# ---------------------------------------------------------------------------------------------
def test_long_shape(data_dir: Path, engine: str) -> None:
    df = compute(["mrr", "nrr"], data=data_dir, from_="2023-01", to="2023-03", engine=engine)
    assert df.columns == LONG_COLUMNS
    assert df.schema["metric"] == pl.String
    assert df.schema["period"] == pl.Date
    assert df.schema["value"] == pl.Float64
    assert df.schema["numerator"] == pl.Float64
    assert df.schema["denominator"] == pl.Float64
    assert df.schema["complete"] == pl.Boolean
    # sorted by the order the metrics were asked for, then period
    assert df.select("metric", "period").rows() == [(m, p) for m in ("mrr", "nrr") for p in MOVEMENT_MONTHS]


def test_metrics_accepts_comma_string(data_dir: Path, engine: str) -> None:
    as_list = compute(["mrr", "arr"], data=data_dir, from_="2023-01", to="2023-03", engine=engine)
    as_text = compute("mrr,arr", data=data_dir, from_="2023-01", to="2023-03", engine=engine)
    assert_frame_equal(as_list, as_text)


def test_single_month(data_dir: Path, engine: str) -> None:
    df = compute("mrr", data=data_dir, month="2023-03", engine=engine)
    assert_values(df, "mrr", {MAR: 680.0})  # 150 + 100 + 100 + 60 + 200 + 70


# ---------------------------------------------------------------------------------------------
# §4.2 snapshots (2022-12 … 2023-03)
# ---------------------------------------------------------------------------------------------
def test_snapshot_metrics(data_dir: Path, engine: str) -> None:
    names = ["mrr", "arr", "customers", "arpa"]
    df = compute(names, data=data_dir, from_="2022-12", to="2023-03", engine=engine)
    # Dec 100+200+50+100 = 450; Jan 450+100 (D) = 550; Feb 150+200+100+200+100 = 750;
    # Mar 150+100+100+60+200+70 = 680
    assert_values(df, "mrr", months(450.0, 550.0, 750.0, 680.0, start=SNAPSHOT_MONTHS))
    # 12 × 450, 12 × 550, 12 × 750, 12 × 680
    assert_values(df, "arr", months(5400.0, 6600.0, 9000.0, 8160.0, start=SNAPSHOT_MONTHS))
    # Dec A,B,C,H; Jan +D; Feb −C +F; Mar +E
    assert_values(df, "customers", months(4.0, 5.0, 5.0, 6.0, start=SNAPSHOT_MONTHS))
    # 450/4, 550/5, 750/5, 680/6
    assert_values(df, "arpa", months(450 / 4, 550 / 5, 750 / 5, 680 / 6, start=SNAPSHOT_MONTHS))
    assert by_period(df, "arpa")[MAR]["value"] == pytest.approx(113.33, abs=0.005)


def test_per_customer_mrr_and_classes(data_dir: Path, engine: str) -> None:
    df = movements(data=data_dir, from_="2023-01", to="2023-03", customers=True, engine=engine)
    assert_spec_columns(df, ["period", "customer_id", "movement", "start_mrr", "end_mrr", "change"])
    index = {JAN: 1, FEB: 2, MAR: 3}
    for row in df.to_dicts():
        mrr = PER_CUSTOMER_MRR[row["customer_id"]]
        i = index[row["period"]]
        where = f"{row['customer_id']} {row['period']}"
        assert row["start_mrr"] == pytest.approx(mrr[i - 1]), f"{where} start_mrr"
        assert row["end_mrr"] == pytest.approx(mrr[i]), f"{where} end_mrr"
        assert row["change"] == pytest.approx(mrr[i] - mrr[i - 1]), f"{where} change"
        if row["movement"] is None:  # a listed customer without a movement must be flat
            assert mrr[i] == mrr[i - 1], where
    movers = (
        df.filter(pl.col("movement").is_not_null())
        .select("period", "customer_id", "movement", pl.col("start_mrr", "end_mrr", "change").cast(float))
        .sort("period", "customer_id")
    )
    expected = pl.DataFrame(
        [
            (JAN, "D", "new", 0.0, 100.0, 100.0),  # trial converted
            (FEB, "A", "expansion", 100.0, 150.0, 50.0),  # upgrade
            (FEB, "C", "churned", 50.0, 0.0, -50.0),  # churn at the end of the paid period
            (FEB, "F", "new", 0.0, 200.0, 200.0),
            (MAR, "B", "contraction", 200.0, 100.0, -100.0),  # seat removed
            (MAR, "E", "reactivation", 0.0, 60.0, 60.0),  # paid at Nov-end 2022 → ever paying before
            (MAR, "H", "contraction", 100.0, 70.0, -30.0),  # one of two subscriptions ended
        ],
        schema={
            "period": pl.Date,
            "customer_id": pl.String,
            "movement": pl.String,
            "start_mrr": pl.Float64,
            "end_mrr": pl.Float64,
            "change": pl.Float64,
        },
        orient="row",
    )
    assert_frame_equal(movers, expected)  # G (joined and left inside March) has no movement


# ---------------------------------------------------------------------------------------------
# §4.3 movements
# ---------------------------------------------------------------------------------------------
def test_roll_forward_table(data_dir: Path, engine: str) -> None:
    expected = roll_forward(
        [
            # start  new  exp  react contr churned fx  end
            (450, 100, 0, 0, 0, 0, 0, 550),  # D new (trial converted): 450 + 100
            (550, 200, 50, 0, 0, 50, 0, 750),  # F new, A +50, C churn: 550 + 200 + 50 − 50
            (750, 0, 0, 60, 130, 0, 0, 680),  # E back at 60; B −100, H −30: 750 + 60 − 130
        ]
    )
    assert_frame_equal(got_roll_forward(data_dir, engine), expected)


def test_movement_metrics(data_dir: Path, engine: str) -> None:
    names = [
        "new_mrr",
        "expansion_mrr",
        "reactivation_mrr",
        "contraction_mrr",
        "churned_mrr",
        "fx_mrr",
        "net_new_mrr",
        "new_customers",
        "reactivated_customers",
        "churned_customers",
    ]
    df = compute(names, data=data_dir, from_="2023-01", to="2023-03", engine=engine)
    assert_values(df, "new_mrr", months(100.0, 200.0, 0.0))  # D; F; none
    assert_values(df, "expansion_mrr", months(0.0, 50.0, 0.0))  # A 150 − 100
    assert_values(df, "reactivation_mrr", months(0.0, 0.0, 60.0))  # E 80 × 0.75
    assert_values(df, "contraction_mrr", months(0.0, 0.0, 130.0))  # B 200 − 100 + H 100 − 70
    assert_values(df, "churned_mrr", months(0.0, 50.0, 0.0))  # C
    assert_values(df, "fx_mrr", months(0.0, 0.0, 0.0))  # one currency
    assert_values(df, "net_new_mrr", months(100.0, 200.0, -70.0))  # 550−450, 750−550, 680−750
    assert_values(df, "new_customers", months(1.0, 1.0, 0.0))
    assert_values(df, "reactivated_customers", months(0.0, 0.0, 1.0))
    assert_values(df, "churned_customers", months(0.0, 1.0, 0.0))


def test_net_new_mrr_is_end_minus_start(data_dir: Path, engine: str) -> None:
    df = compute(["mrr", "net_new_mrr"], data=data_dir, from_="2022-12", to="2023-03", engine=engine)
    mrr, net_new = by_period(df, "mrr"), by_period(df, "net_new_mrr")
    for prev, cur in itertools.pairwise(SNAPSHOT_MONTHS):
        want = mrr[cur]["value"] - mrr[prev]["value"]
        assert net_new[cur]["value"] == pytest.approx(want, abs=1e-9), f"net_new_mrr {cur}"
    rf = got_roll_forward(data_dir, engine)
    moved = (
        pl.col("start_mrr")
        + pl.col("new")
        + pl.col("expansion")
        + pl.col("reactivation")
        - pl.col("contraction")
        - pl.col("churned")
        + pl.col("fx")
    )
    assert (rf.select((moved - pl.col("end_mrr")).abs().max()).item()) < 1e-9


@pytest.mark.parametrize(
    ("denominator", "expected"),
    [
        # churned_customers / customers(s): Jan 0/4, Feb 1/5 (C), Mar 0/5 (G never counted)
        ("start", {JAN: (0.0, 0, 4), FEB: (0.2, 1, 5), MAR: (0.0, 0, 5)}),
        # / (customers(s) + new_customers): Jan 0/(4+1), Feb 1/(5+1) (F new), Mar 0/(5+0) — the
        # research leaves March open ("depends on counting E"); SPEC counts new_customers only, and E
        # is a reactivation, so the denominator is 5 (the value is 0 either way)
        ("start_plus_new", {JAN: (0.0, 0, 5), FEB: (1 / 6, 1, 6), MAR: (0.0, 0, 5)}),
    ],
)
def test_customer_churn_rate(
    data_dir: Path, engine: str, denominator: str, expected: dict[date, Ratio]
) -> None:
    df = compute(
        "customer_churn_rate",
        data=data_dir,
        from_="2023-01",
        to="2023-03",
        engine=engine,
        churn_denominator=denominator,
    )
    assert_ratio(df, "customer_churn_rate", expected)
    if denominator == "start_plus_new":
        assert by_period(df, "customer_churn_rate")[FEB]["value"] == pytest.approx(0.167, abs=5e-4)


def test_revenue_churn_nrr_grr(data_dir: Path, engine: str) -> None:
    names = ["gross_mrr_churn_rate", "net_mrr_churn_rate", "nrr", "grr"]
    df = compute(names, data=data_dir, from_="2023-01", to="2023-03", engine=engine)
    # (churned + contraction) / mrr(s): 0/450, 50/550, 130/750
    assert_ratio(
        df, "gross_mrr_churn_rate", {JAN: (0.0, 0, 450), FEB: (50 / 550, 50, 550), MAR: (130 / 750, 130, 750)}
    )
    # (churned + contraction − expansion − reactivation) / mrr(s): 0/450, (50−50)/550, (130−60)/750
    assert_ratio(df, "net_mrr_churn_rate", {JAN: (0.0, 0, 450), FEB: (0.0, 0, 550), MAR: (70 / 750, 70, 750)})
    # (mrr(s) + expansion − contraction − churned) / mrr(s): 450/450, (550+50−50)/550, (750−130)/750
    assert_ratio(df, "nrr", {JAN: (1.0, 450, 450), FEB: (1.0, 550, 550), MAR: (620 / 750, 620, 750)})
    # (mrr(s) − contraction − churned) / mrr(s): 450/450, (550−50)/550, (750−130)/750
    assert_ratio(df, "grr", {JAN: (1.0, 450, 450), FEB: (500 / 550, 500, 550), MAR: (620 / 750, 620, 750)})
    rounded = {m: round(by_period(df, m)[MAR]["value"], 4) for m in names}
    # the research's rounded percentages: 17.33 %, 9.33 %, 82.67 %, 82.67 %
    assert rounded == {
        "gross_mrr_churn_rate": 0.1733,
        "net_mrr_churn_rate": 0.0933,
        "nrr": 0.8267,
        "grr": 0.8267,
    }


def test_quick_ratio_and_asp(data_dir: Path, engine: str) -> None:
    df = compute(["quick_ratio", "asp"], data=data_dir, from_="2023-01", to="2023-03", engine=engine)
    # (new + expansion + reactivation) / (contraction + churned):
    # Jan 100/0 → null; Feb (200+50+0)/(0+50) = 5; Mar (0+0+60)/(130+0) = 0.4615
    assert_ratio(df, "quick_ratio", {JAN: (None, 100, 0), FEB: (5.0, 250, 50), MAR: (60 / 130, 60, 130)})
    assert round(by_period(df, "quick_ratio")[MAR]["value"], 4) == 0.4615
    # new_mrr / new_customers: 100/1, 200/1, 0/0 → null
    assert_values(df, "asp", months(100.0, 200.0, None))


def test_trial_conversion(data_dir: Path, engine: str) -> None:
    # trials started in Jan: D (d0 2023-01-10, status trialing); D pays from 2023-01-24 → 1/1
    df = compute("trial_conversion_rate", data=data_dir, month="2023-01", engine=engine)
    assert_ratio(df, "trial_conversion_rate", {JAN: (1.0, 1, 1)})


def test_spec_derived_customer_rates(data_dir: Path, engine: str) -> None:
    """Not in the research table, but fixed by the SPEC §3.1 formulas on the same snapshots."""
    names = ["customer_retention_rate", "customer_growth_rate", "upgrade_rate", "downgrade_rate"]
    df = compute(names, data=data_dir, from_="2023-01", to="2023-03", engine=engine)
    # (customers(e) − new − reactivated) / customers(s): (5−1−0)/4, (5−1−0)/5, (6−0−1)/5
    assert_ratio(df, "customer_retention_rate", {JAN: (1.0, 4, 4), FEB: (0.8, 4, 5), MAR: (1.0, 5, 5)})
    # (customers(e) − customers(s)) / customers(s): (5−4)/4, (5−5)/5, (6−5)/5
    assert_ratio(df, "customer_growth_rate", {JAN: (0.25, 1, 4), FEB: (0.0, 0, 5), MAR: (0.2, 1, 5)})
    # customers with expansion / customers(s): 0/4, 1/5 (A), 0/5
    assert_ratio(df, "upgrade_rate", {JAN: (0.0, 0, 4), FEB: (0.2, 1, 5), MAR: (0.0, 0, 5)})
    # customers with contraction / customers(s): 0/4, 0/5, 2/5 (B, H)
    assert_ratio(df, "downgrade_rate", {JAN: (0.0, 0, 4), FEB: (0.0, 0, 5), MAR: (0.4, 2, 5)})


# ---------------------------------------------------------------------------------------------
# §4.4 option variants
# ---------------------------------------------------------------------------------------------
def test_churn_at_cancel(data_dir: Path, engine: str) -> None:
    # C's canceled_at 2023-01-20 ends its MRR before the Jan snapshot; every other cancel date
    # equals its end_at, so nothing else moves.
    expected = roll_forward(
        [
            (450, 100, 0, 0, 0, 50, 0, 500),  # 450 + 100 (D) − 50 (C)
            (500, 200, 50, 0, 0, 0, 0, 750),  # 500 + 200 (F) + 50 (A)
            (750, 0, 0, 60, 130, 0, 0, 680),  # unchanged
        ]
    )
    assert_frame_equal(got_roll_forward(data_dir, engine, churn_at="cancel"), expected)
    df = compute(
        ["mrr", "customer_churn_rate"],
        data=data_dir,
        from_="2022-12",
        to="2023-03",
        engine=engine,
        churn_at="cancel",
    )
    assert_values(df, "mrr", months(450.0, 500.0, 750.0, 680.0, start=SNAPSHOT_MONTHS))
    # churned / customers(s), derived from the table above: Dec 1/4 (Nov-end payers A, B, C, E; E's
    # canceled_at = end_at 2022-12-15, the same as by default); Jan 1/4 (C); Feb 0/4 (A, B, D, H); Mar 0/5
    assert_ratio(
        df, "customer_churn_rate", {DEC: (0.25, 1, 4), JAN: (0.25, 1, 4), FEB: (0.0, 0, 4), MAR: (0.0, 0, 5)}
    )


def test_churn_at_end_is_default(data_dir: Path, engine: str) -> None:
    default = got_roll_forward(data_dir, engine)
    assert_frame_equal(got_roll_forward(data_dir, engine, churn_at="end"), default)


def test_discounts_all(data_dir: Path, engine: str) -> None:
    # F's "once" 50 % coupon applies to its first invoice, 2023-02-15 … 2023-03-15: F = 100 at the
    # Feb snapshot and 200 at the Mar snapshot. E's forever coupon still gives 60.
    expected = roll_forward(
        [
            (450, 100, 0, 0, 0, 0, 0, 550),  # unchanged
            (550, 100, 50, 0, 0, 50, 0, 650),  # 550 + 100 (F at 200 × 0.5) + 50 − 50
            (650, 0, 100, 60, 130, 0, 0, 680),  # 650 + 100 (F back to full price) + 60 − 130
        ]
    )
    assert_frame_equal(got_roll_forward(data_dir, engine, discounts="all"), expected)
    df = compute(["mrr", "asp"], data=data_dir, from_="2023-01", to="2023-03", engine=engine, discounts="all")
    assert_values(df, "mrr", months(550.0, 650.0, 680.0))
    assert_values(df, "asp", months(100.0, 100.0, None))  # Feb: 100 / 1 (F)


def test_discounts_none(data_dir: Path, engine: str) -> None:
    # list prices: E = 80, not 80 × 0.75
    expected = roll_forward(
        [
            (450, 100, 0, 0, 0, 0, 0, 550),
            (550, 200, 50, 0, 0, 50, 0, 750),
            (750, 0, 0, 80, 130, 0, 0, 700),  # 750 + 80 − 130
        ]
    )
    assert_frame_equal(got_roll_forward(data_dir, engine, discounts="none"), expected)
    df = compute(["mrr", "arpa"], data=data_dir, month="2023-03", engine=engine, discounts="none")
    assert_values(df, "mrr", {MAR: 700.0})
    assert_values(df, "arpa", {MAR: 700 / 6})


def test_discounts_recurring_is_default(data_dir: Path, engine: str) -> None:
    default = got_roll_forward(data_dir, engine)
    assert_frame_equal(got_roll_forward(data_dir, engine, discounts="recurring"), default)


# ---------------------------------------------------------------------------------------------
# CLI (thin layer over the same functions)
# ---------------------------------------------------------------------------------------------
def run_cli(*args: str) -> Any:
    from kpi_cli.cli import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, f"exit {result.exit_code}: {result.output}\n{result.exception!r}"
    return json.loads(result.stdout)


def cli_values(rows: list[dict[str, Any]], metric: str) -> list[float | None]:
    return [r["value"] for r in rows if r["metric"] == metric]


def test_cli_compute_json(data_dir: Path, engine: str) -> None:
    rows = run_cli(
        "compute",
        "mrr,nrr",
        "--from",
        "2023-01",
        "--to",
        "2023-03",
        "--data",
        str(data_dir),
        "-f",
        "json",
        "--engine",
        engine,
    )
    assert [list(r) for r in rows] == [LONG_COLUMNS] * 6
    assert [(r["metric"], r["period"]) for r in rows] == [
        (m, p) for m in ("mrr", "nrr") for p in ("2023-01-01", "2023-02-01", "2023-03-01")
    ]
    assert cli_values(rows, "mrr") == pytest.approx([550, 750, 680])
    assert cli_values(rows, "nrr") == pytest.approx([1.0, 1.0, 620 / 750])


@pytest.mark.parametrize(
    ("options", "metric", "expected"),
    [
        (["--churn-at", "cancel"], "mrr", [500, 750, 680]),
        (["--churn-at", "cancel"], "churned_mrr", [50, 0, 0]),
        (["--discounts", "all"], "mrr", [550, 650, 680]),
        (["--discounts", "all"], "expansion_mrr", [0, 50, 100]),
        (["--discounts", "none"], "mrr", [550, 750, 700]),
        (["--discounts", "none"], "reactivation_mrr", [0, 0, 80]),
        (["--churn-denominator", "start_plus_new"], "customer_churn_rate", [0.0, 1 / 6, 0.0]),
        (["--churn-denominator", "start"], "customer_churn_rate", [0.0, 0.2, 0.0]),
    ],
)
def test_cli_options(
    data_dir: Path, engine: str, options: list[str], metric: str, expected: list[float]
) -> None:
    rows = run_cli(
        "compute",
        metric,
        "--from",
        "2023-01",
        "--to",
        "2023-03",
        "--data",
        str(data_dir),
        "-f",
        "json",
        "--engine",
        engine,
        *options,
    )
    assert cli_values(rows, metric) == pytest.approx(expected)


def test_cli_movements_json(data_dir: Path, engine: str) -> None:
    rows = run_cli(
        "movements",
        "--from",
        "2023-01",
        "--to",
        "2023-03",
        "--data",
        str(data_dir),
        "-f",
        "json",
        "--engine",
        engine,
    )
    assert [list(r) for r in rows] == [ROLL_FORWARD_COLUMNS] * 3
    assert [r["period"] for r in rows] == ["2023-01-01", "2023-02-01", "2023-03-01"]
    assert [r["end_mrr"] for r in rows] == pytest.approx([550, 750, 680])
    assert [r["churned"] for r in rows] == pytest.approx([0, 50, 0])
