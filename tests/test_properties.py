"""Property tests: the revenue engine against the brute-force oracle of ``tests/oracle.py``.

Random small subscription histories (2–8 customers, 1–2 subscriptions each, 1–4 non-overlapping
spans per subscription, days in 2022-01 … 2023-12, monthly / quarterly / yearly prices, some
trialing / paused spans, some free items) are written as ``subscriptions.csv`` and checked for:

(a) mrr and every movement, per month and per customer, equal the oracle;
(b) the roll-forward identity start + new + expansion + reactivation − contraction − churned + fx = end,
    and each period starts where the previous one ended;
(c) customer_churn_rate, grr, customer_retention_rate and gross_mrr_churn_rate lie in [0, 1], nrr ≥ 0,
    and all rates equal the oracle's (null exactly when the denominator is 0);
(d) results do not depend on the input's row order, nor on CSV vs Parquet input;
(e) a later sub-range gives the same numbers as the full range (history before --from still counts);
(f) the duckdb engine gives the polars engine's results.
"""

from __future__ import annotations

import csv
import math
import random
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path
from typing import Any

import oracle
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from kpi_cli import compute, movements

FIRST_DAY = date(2022, 1, 1)
LAST_DAY = date(2023, 12, 31)
N_DAYS = (LAST_DAY - FIRST_DAY).days  # day offsets 0 … N_DAYS
FROM, TO = "2022-01", "2023-12"
MONTHS = oracle.month_range(FIRST_DAY, LAST_DAY)
ABS = 1e-6

MOVEMENT_METRICS = [
    "new_mrr",
    "expansion_mrr",
    "reactivation_mrr",
    "contraction_mrr",
    "churned_mrr",
    "fx_mrr",
]
COUNT_METRICS = ["customers", "new_customers", "reactivated_customers", "churned_customers"]
RATE_METRICS = [
    "customer_churn_rate", "customer_retention_rate", "gross_mrr_churn_rate", "net_mrr_churn_rate",
    "nrr", "grr", "quick_ratio", "arpa", "asp",
]  # fmt: skip
ALL_METRICS = ["mrr", "arr", "net_new_mrr", *MOVEMENT_METRICS, *COUNT_METRICS, *RATE_METRICS]
ROLL_FORWARD = ["start_mrr", "new", "expansion", "reactivation", "contraction", "churned", "fx", "end_mrr"]
MOVEMENT_COLUMN = {  # roll-forward column → movement class of the oracle
    "new": "new", "expansion": "expansion", "reactivation": "reactivation",
    "contraction": "contraction", "churned": "churned",
}  # fmt: skip

HEADER = [
    "customer_id", "subscription_id", "start_at", "end_at", "amount", "interval", "interval_count",
    "quantity", "status",
]  # fmt: skip

PROPERTY_SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)


# ---------------------------------------------------------------------------------------------
# strategies
# ---------------------------------------------------------------------------------------------
INTERVALS = st.sampled_from([("month", 1), ("month", 1), ("month", 3), ("year", 1), ("quarter", 1)])
STATUSES = st.sampled_from(["active", "active", "active", None, "canceled", "past_due", "trialing", "paused"])
AMOUNTS = st.one_of(
    st.integers(1, 999).map(Fraction),
    st.sampled_from(["0", "9.99", "49.5", "0.01", "1200"]).map(Fraction),
)


def day(offset: int) -> date:
    return FIRST_DAY + timedelta(days=offset)


@st.composite
def subscription_spans(draw: st.DrawFn, customer: str, sub: str) -> list[oracle.Row]:
    """1–4 non-overlapping spans of one subscription, in time order; only the last may stay open."""
    n_spans = draw(st.integers(1, 4))
    cursor = draw(st.integers(0, N_DAYS - 1))
    spans: list[oracle.Row] = []
    for k in range(n_spans):
        if cursor > N_DAYS:
            break
        length = draw(st.integers(1, 400))
        end = cursor + length
        is_last = k == n_spans - 1
        open_ended = end > N_DAYS + 1 or (is_last and draw(st.booleans()))
        interval, count = draw(INTERVALS)
        spans.append(
            oracle.Row(
                customer=customer,
                sub=sub,
                start=day(cursor),
                end=None if open_ended else day(end),
                amount=draw(AMOUNTS),
                interval=interval,
                count=count,
                qty=draw(st.integers(1, 3)),
                status=draw(STATUSES),
            )
        )
        if open_ended:
            break
        # 0 = contiguous (a price / quantity / status change), else a gap before the next span
        cursor = end + draw(st.one_of(st.just(0), st.integers(1, 120)))
    return spans


@st.composite
def histories(draw: st.DrawFn) -> list[oracle.Row]:
    rows: list[oracle.Row] = []
    for ci in range(draw(st.integers(2, 8))):
        customer = f"c{ci}"
        for si in range(draw(st.integers(1, 2))):
            rows.extend(draw(subscription_spans(customer, f"{customer}-s{si}")))
    return rows


# ---------------------------------------------------------------------------------------------
# writing inputs
# ---------------------------------------------------------------------------------------------
def amount_text(x: Fraction) -> str:
    return str(x.numerator) if x.denominator == 1 else str(float(x))  # generated amounts have ≤ 2 decimals


def write_csv(rows: list[oracle.Row], folder: Path) -> Path:
    with (folder / "subscriptions.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(HEADER)
        for r in rows:
            end = r.end.isoformat() if r.end else ""
            w.writerow([
                r.customer, r.sub, r.start.isoformat(), end, amount_text(r.amount), r.interval, r.count,
                r.qty, r.status or "",
            ])  # fmt: skip
    return folder


def write_parquet(rows: list[oracle.Row], folder: Path) -> Path:
    frame = pl.DataFrame(
        {
            "customer_id": [r.customer for r in rows],
            "subscription_id": [r.sub for r in rows],
            "start_at": [r.start for r in rows],
            "end_at": [r.end for r in rows],
            "amount": [float(r.amount) for r in rows],
            "interval": [r.interval for r in rows],
            "interval_count": [r.count for r in rows],
            "quantity": [r.qty for r in rows],
            "status": [r.status for r in rows],
        },
        schema={
            "customer_id": pl.String, "subscription_id": pl.String, "start_at": pl.Date, "end_at": pl.Date,
            "amount": pl.Float64, "interval": pl.String, "interval_count": pl.Int64, "quantity": pl.Int64,
            "status": pl.String,
        },
    )  # fmt: skip
    frame.write_parquet(folder / "subscriptions.parquet")
    return folder


@contextmanager
def data_dirs(n: int) -> Iterator[list[Path]]:
    with tempfile.TemporaryDirectory(prefix="kpi-prop-") as tmp:
        folders = [Path(tmp) / f"d{i}" for i in range(n)]
        for f in folders:
            f.mkdir()
        yield folders


def history_text(rows: list[oracle.Row]) -> str:
    """The generated input, for failure messages."""
    return "\n".join(
        f"  {r.customer},{r.sub},{r.start},{r.end or ''},{amount_text(r.amount)},{r.interval},{r.count},"
        f"{r.qty},{r.status or ''}"
        for r in rows
    )


def values(df: pl.DataFrame) -> dict[tuple[str, date], float | None]:
    out = {(r["metric"], r["period"]): r["value"] for r in df.iter_rows(named=True)}
    assert len(out) == df.height, "duplicate (metric, period) rows"
    return out


def close(got: float | None, want: float | None) -> bool:
    if want is None or got is None:
        return got is None and want is None
    # Ratios with a denominator of a cent reach 1e5; float64 sums then carry relative error ~1e-11,
    # so a purely absolute tolerance would test float rounding, not the definition.
    return math.isclose(got, want, rel_tol=1e-9, abs_tol=ABS)


def assert_same(left: pl.DataFrame, right: pl.DataFrame, label: str, **kwargs: Any) -> None:
    try:
        assert_frame_equal(left, right, abs_tol=ABS, **kwargs)
    except AssertionError as e:
        raise AssertionError(f"{label}: {e}") from None


def sort_frame(df: pl.DataFrame) -> pl.DataFrame:
    return df.sort(df.columns)


# ---------------------------------------------------------------------------------------------
# (a) every month's mrr and movements equal the oracle
# ---------------------------------------------------------------------------------------------
@PROPERTY_SETTINGS
@given(rows=histories())
def test_mrr_and_movements_match_oracle(rows: list[oracle.Row]) -> None:
    expected = oracle.evaluate(rows, FIRST_DAY, LAST_DAY)
    with data_dirs(1) as (folder,):
        write_csv(rows, folder)
        got = values(compute(["mrr", *MOVEMENT_METRICS, "net_new_mrr"], data=folder, from_=FROM, to=TO))
        roll = movements(data=folder, from_=FROM, to=TO)
        per_customer = movements(data=folder, from_=FROM, to=TO, customers=True)

    bad = []
    for p in expected:
        want = oracle.metrics(p)
        for m in ["mrr", *MOVEMENT_METRICS, "net_new_mrr"]:
            if (m, p.period) not in got or not close(got[(m, p.period)], want[m]):
                bad.append(f"{m} {p.period}: expected {want[m]}, got {got.get((m, p.period), 'no row')}")
    assert not bad, "\n".join(bad[:10]) + "\ninput:\n" + history_text(rows)

    # the roll-forward table: same numbers, one row per month
    assert roll["period"].to_list() == MONTHS
    for row, p in zip(roll.iter_rows(named=True), expected, strict=True):
        want = {
            "start_mrr": float(p.start_mrr), "end_mrr": float(p.end_mrr), "fx": 0.0,
            **{col: float(p.total(kind)) for col, kind in MOVEMENT_COLUMN.items()},
        }  # fmt: skip
        for col, w in want.items():
            assert abs(row[col] - w) <= ABS, f"movements {p.period} {col}: expected {w}, got {row[col]}"

    # per customer: exactly the oracle's movers, with their amounts
    got_moves = {
        (r["period"], r["customer_id"]): r
        for r in per_customer.iter_rows(named=True)
        if r["movement"] is not None
        and not (r["movement"] in ("expansion", "contraction") and abs(r["change"]) < ABS)
    }
    want_moves = {(p.period, c): (m, p.start[c], p.end[c]) for p in expected for c, m in p.movement.items()}
    assert set(got_moves) == set(want_moves), (
        f"movers differ: missing {sorted(set(want_moves) - set(got_moves))[:5]}, "
        f"extra {sorted(set(got_moves) - set(want_moves))[:5]}\ninput:\n{history_text(rows)}"
    )
    for key, (m, a, b) in want_moves.items():
        r = got_moves[key]
        assert r["movement"] == m, f"{key}: expected {m}, got {r['movement']}"
        assert abs(r["start_mrr"] - float(a)) <= ABS, f"{key} start_mrr"
        assert abs(r["end_mrr"] - float(b)) <= ABS, f"{key} end_mrr"
        assert abs(r["change"] - float(b - a)) <= ABS, f"{key} change"


# ---------------------------------------------------------------------------------------------
# (b) roll-forward identity
# ---------------------------------------------------------------------------------------------
@PROPERTY_SETTINGS
@given(rows=histories())
def test_roll_forward_identity(rows: list[oracle.Row]) -> None:
    with data_dirs(1) as (folder,):
        write_csv(rows, folder)
        roll = movements(data=folder, from_=FROM, to=TO)
    assert roll.columns in (["period", *ROLL_FORWARD], ["period", *ROLL_FORWARD, "complete"])
    previous_end = None
    for r in roll.iter_rows(named=True):
        moved = (
            r["start_mrr"]
            + r["new"]
            + r["expansion"]
            + r["reactivation"]
            - r["contraction"]
            - r["churned"]
            + r["fx"]
        )
        assert abs(moved - r["end_mrr"]) <= ABS, (
            f"{r['period']}: start + movements = {moved} ≠ end {r['end_mrr']}"
        )
        for col in ("new", "expansion", "reactivation", "contraction", "churned"):
            assert r[col] >= -ABS, f"{r['period']}: {col} is negative ({r[col]})"
        if previous_end is not None:
            assert abs(r["start_mrr"] - previous_end) <= ABS, f"{r['period']}: start ≠ previous end"
        previous_end = r["end_mrr"]


# ---------------------------------------------------------------------------------------------
# (c) rates: bounds, and equal to the oracle
# ---------------------------------------------------------------------------------------------
@PROPERTY_SETTINGS
@given(rows=histories())
def test_rates_bounded_and_match_oracle(rows: list[oracle.Row]) -> None:
    expected = oracle.evaluate(rows, FIRST_DAY, LAST_DAY)
    with data_dirs(1) as (folder,):
        write_csv(rows, folder)
        got = values(compute([*COUNT_METRICS, *RATE_METRICS], data=folder, from_=FROM, to=TO))
    for (metric, period), v in got.items():
        if v is None:
            continue
        if metric in ("customer_churn_rate", "grr", "customer_retention_rate", "gross_mrr_churn_rate"):
            assert -1e-9 <= v <= 1 + 1e-9, f"{metric} {period} = {v} is outside [0, 1]"
        if metric == "nrr":
            assert v >= -1e-9, f"nrr {period} = {v} < 0"
    bad = []
    for p in expected:
        want = oracle.metrics(p)
        for m in [*COUNT_METRICS, *RATE_METRICS]:
            if (m, p.period) not in got or not close(got[(m, p.period)], want[m]):
                bad.append(f"{m} {p.period}: expected {want[m]}, got {got.get((m, p.period), 'no row')}")
    assert not bad, "\n".join(bad[:10]) + "\ninput:\n" + history_text(rows)


# ---------------------------------------------------------------------------------------------
# (d) row order and file format do not matter
# ---------------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])  # 6 calls per example
@given(rows=histories(), seed=st.integers(0, 2**32 - 1))
def test_independent_of_row_order_and_format(rows: list[oracle.Row], seed: int) -> None:
    shuffled = list(rows)
    random.Random(seed).shuffle(shuffled)
    with data_dirs(3) as (plain, mixed, parquet):
        write_csv(rows, plain)
        write_csv(shuffled, mixed)
        write_parquet(rows, parquet)
        results = [compute(ALL_METRICS, data=d, from_=FROM, to=TO) for d in (plain, mixed, parquet)]
        customer_tables = [
            sort_frame(movements(data=d, from_=FROM, to=TO, customers=True)) for d in (plain, mixed, parquet)
        ]
    for other, label in zip(results[1:], ("shuffled csv", "parquet"), strict=True):
        assert_same(results[0], other, f"compute on {label}")
    for other, label in zip(customer_tables[1:], ("shuffled csv", "parquet"), strict=True):
        assert_same(customer_tables[0], other, f"movements(customers=True) on {label}")


# ---------------------------------------------------------------------------------------------
# (e) a sub-range equals the same months of the full range
# ---------------------------------------------------------------------------------------------
@PROPERTY_SETTINGS
@given(rows=histories(), first=st.integers(1, len(MONTHS) - 1))
def test_sub_range_equals_full_range(rows: list[oracle.Row], first: int) -> None:
    start = MONTHS[first]
    with data_dirs(1) as (folder,):
        write_csv(rows, folder)
        full = compute(ALL_METRICS, data=folder, from_=FROM, to=TO)
        part = compute(ALL_METRICS, data=folder, from_=start.strftime("%Y-%m"), to=TO)
    assert_same(full.filter(pl.col("period") >= start), part, f"from {start} vs from {FROM}")


# ---------------------------------------------------------------------------------------------
# (f) engines agree (SPEC §5)
# ---------------------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=histories())
def test_duckdb_engine_equals_polars(rows: list[oracle.Row]) -> None:
    with data_dirs(1) as (folder,):
        write_csv(rows, folder)
        frames: dict[str, Any] = {
            engine: compute(ALL_METRICS, data=folder, from_=FROM, to=TO, engine=engine)
            for engine in ("polars", "duckdb")
        }
        rolls = {
            engine: movements(data=folder, from_=FROM, to=TO, engine=engine)
            for engine in ("polars", "duckdb")
        }
    assert_same(frames["polars"], frames["duckdb"], "compute, duckdb vs polars")
    assert_same(rolls["polars"], rolls["duckdb"], "movements, duckdb vs polars", check_dtypes=False)


# ---------------------------------------------------------------------------------------------
# the oracle itself, on the §4 golden example (so a broken oracle cannot pass silently)
# ---------------------------------------------------------------------------------------------
def test_oracle_on_golden_example() -> None:
    f = Fraction
    rows = [
        oracle.Row("A", "a1", date(2022, 11, 15), date(2023, 2, 10), f(100)),
        oracle.Row("A", "a1", date(2023, 2, 10), None, f(150)),
        oracle.Row("B", "b1", date(2022, 7, 1), date(2023, 3, 5), f(1200), "year", 1, 2),
        oracle.Row("B", "b1", date(2023, 3, 5), None, f(1200), "year", 1, 1),
        oracle.Row("C", "c1", date(2022, 10, 1), date(2023, 2, 1), f(50)),
        oracle.Row("D", "d0", date(2023, 1, 10), date(2023, 1, 24), f(300), "month", 3, 1, "trialing"),
        oracle.Row("D", "d1", date(2023, 1, 24), None, f(300), "month", 3),
        oracle.Row("E", "e1", date(2022, 9, 1), date(2022, 12, 15), f(80)),
        oracle.Row("E", "e2", date(2023, 3, 10), None, f(60)),  # 80 with 25 % off forever (no discounts here)
        oracle.Row("F", "f1", date(2023, 2, 15), None, f(200)),
        oracle.Row("G", "g1", date(2023, 3, 3), date(2023, 3, 20), f(40)),
        oracle.Row("H", "h1", date(2022, 12, 5), None, f(70)),
        oracle.Row("H", "h2", date(2022, 12, 5), date(2023, 3, 12), f(30)),
    ]
    periods = oracle.evaluate(rows, date(2023, 1, 1), date(2023, 3, 1))
    got = [oracle.metrics(p) for p in periods]
    assert [m["mrr"] for m in got] == [550, 750, 680]
    assert [(m["new_mrr"], m["expansion_mrr"], m["reactivation_mrr"]) for m in got] == [
        (100, 0, 0), (200, 50, 0), (0, 0, 60),
    ]  # fmt: skip
    assert [(m["contraction_mrr"], m["churned_mrr"]) for m in got] == [(0, 0), (0, 50), (130, 0)]
    assert [m["quick_ratio"] for m in got] == [None, 5.0, pytest.approx(60 / 130)]
    assert [m["customer_churn_rate"] for m in got] == [0.0, 0.2, 0.0]
    assert periods[2].movement == {"B": "contraction", "E": "reactivation", "H": "contraction"}
