"""Reruns give the same bytes (SPEC §4.2): money sums do not depend on the order of their terms."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import polars as pl
import pytest

from kpi_cli.money import fsum

ROOT = Path(__file__).resolve().parent.parent


def test_fsum_is_the_same_in_any_order() -> None:
    # A float sum of these depends on the order: 0.1 + 0.2 + 0.3 differs from 0.3 + 0.2 + 0.1.
    terms = [0.1, 0.2, 0.3, 1e6 / 3, 29.000000000000004, 4633.686812667]
    assert sum(terms[:3]) != sum(terms[2::-1])
    forward = pl.DataFrame({"v": terms})
    backward = pl.DataFrame({"v": terms[::-1]})
    a = forward.select(fsum(pl.col("v"))).item()
    b = backward.select(fsum(pl.col("v"))).item()
    exact = float(sum(Fraction(t) for t in terms))  # the exactly rounded sum of the floats themselves
    assert a == b
    assert abs(a - exact) < 1e-9


def test_fsum_per_group_matches_the_decimal_sum() -> None:
    frame = pl.DataFrame({"g": [i % 300 for i in range(600)], "v": [4633.686812667, -0.3] * 300})
    out = frame.group_by("g").agg(fsum(pl.col("v")).alias("s"))["s"].unique().sort().to_list()
    # 4633.686812667 + 4633.686812667 in groups of even g, -0.6 in the odd ones: exact decimals.
    assert out == [-0.6, 9267.373625334]


@pytest.mark.parametrize("args", [
    ["movements", "--last", "6"],
    ["compute", "revenue", "--last", "12"],
    ["cohort", "--of", "mrr"],
    ["movements", "--last", "3", "--customers"],
])
def test_five_reruns_are_byte_identical(args: list[str]) -> None:
    cmd = [sys.executable, "-m", "kpi_cli", *args, "--data", str(ROOT / "sample_data"), "--as-of", "2025-01-01",
           "--currency", "USD", "-f", "csv"]
    digests = set()
    for threads in ("1", "2", "2", "1", "2"):
        out = subprocess.run(cmd, capture_output=True, check=True, env={"POLARS_MAX_THREADS": threads, "PATH": ""})
        digests.add(hashlib.sha256(out.stdout).hexdigest())
    assert len(digests) == 1


# An annual plan of 8,192.21 a year is 682.68416666… a month, whose float times 10¹² is
# 682684166666666.5 exactly: a tie, which Polars rounds to even and DuckDB away from zero.
TIE = 8192.21 / 12


def test_a_pico_unit_tie_rounds_away_from_zero_on_every_engine() -> None:
    import narwhals as nw

    from kpi_cli.engines import engine_for
    from kpi_cli.money import fixed, money_for

    values = [TIE, -TIE, 2.5e-12, 8192.29 / 12]
    assert [v * 10**12 for v in values] == [682684166666666.5, -682684166666666.5, 2.5, 682690833333333.5]
    frame = pl.DataFrame({"x": values})
    # Each a tie, rounded away from zero; to even, the first three would be 682684166666666, its negative, 2.
    want = [682684166666667, -682684166666667, 3, 682690833333334]
    assert frame.select(fixed(pl.col("x"))).to_series().to_list() == want
    for name in ("polars", "duckdb"):
        engine = engine_for(name)
        for rounding in (fixed, money_for(engine).fixed):  # the portable rule, and the engine's own
            got = engine.collect(engine.table(frame).select(rounding(nw.col("x")))).to_series().cast(pl.Int64)
            assert got.to_list() == want, name


def test_a_tied_mrr_is_the_same_on_both_engines(tmp_path: Path) -> None:
    """Before, this customer's MRR was 682.684166666666 on Polars and 682.684166666667 on DuckDB."""
    from kpi_cli import compute

    (tmp_path / "subscriptions.csv").write_text(
        "customer_id,subscription_id,start_at,end_at,amount,currency,interval,interval_count,quantity\n"
        "A,a1,2024-01-10,,8192.21,USD,year,1,1\n")
    fast = compute("mrr", data=tmp_path, month="2024-02")
    duck = compute("mrr", data=tmp_path, month="2024-02", engine="duckdb")
    assert fast["value"].to_list() == duck["value"].to_list() == [682.684166666667]
