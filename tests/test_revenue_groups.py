"""``--by`` for revenue keeps the MRR of a blank group (a blank plan, a customer missing from customers)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from kpi_cli import compute, movements
from tests.conftest import write_csv


def test_customer_missing_from_customers_keeps_its_mrr_in_the_blank_group(tmp_path: Path) -> None:
    write_csv(tmp_path / "subscriptions.csv", ["customer_id", "subscription_id", "start_at", "end_at", "amount"],
              [["A", "a1", "2023-01-01", "", "100"], ["B", "b1", "2023-01-01", "", "50"],
               ["C", "c1", "2023-01-01", "", "70"]])
    write_csv(tmp_path / "customers.csv", ["customer_id", "segment"], [["A", "smb"], ["B", "ent"]])
    df = compute("mrr,customers", data=tmp_path, month="2023-03", by="segment")
    # C has no customers row: its 70 stays, in the blank group, listed after the named ones.
    assert df.select("metric", "segment", "value").rows() == [
        ("mrr", "ent", 50.0), ("mrr", "smb", 100.0), ("mrr", None, 70.0),
        ("customers", "ent", 1.0), ("customers", "smb", 1.0), ("customers", None, 1.0)]
    total = compute("mrr", data=tmp_path, month="2023-03")["value"].item()
    assert df.filter(pl.col("metric") == "mrr")["value"].sum() == total == 220.0


def test_blank_plan_is_its_own_group_in_movements(tmp_path: Path) -> None:
    header = ["customer_id", "subscription_id", "start_at", "end_at", "amount", "plan"]
    write_csv(tmp_path / "subscriptions.csv", header,
              [["A", "a1", "2023-01-01", "", "100", "pro"], ["B", "b1", "2023-01-01", "2023-02-15", "50", ""]])
    df = movements(data=tmp_path, from_="2023-01", to="2023-02", by="plan")
    assert df.select("period", "plan", "new", "churned", "end_mrr").rows() == [
        (date(2023, 1, 1), "pro", 100.0, 0.0, 100.0),
        (date(2023, 1, 1), None, 50.0, 0.0, 50.0),
        (date(2023, 2, 1), "pro", 0.0, 0.0, 100.0),
        (date(2023, 2, 1), None, 0.0, 50.0, 0.0),
    ]


def test_signups_that_never_paid_keep_their_customers_group(tmp_path: Path) -> None:
    # A (smb) signs up 5 Jan and pays from 20 Jan; B (ent) signs up 10 Jan and never pays; C (smb)
    # signs up 12 Jan and never pays. January, --within 90d, as of July (windows ended):
    # smb 1 of 2 converted, ent 0 of 1; no blank group (every signup has a segment). D's row (no signup
    # row) carries the billing data to June, so the 90-day windows have ended.
    write_csv(tmp_path / "subscriptions.csv", ["customer_id", "subscription_id", "start_at", "end_at", "amount"],
              [["A", "a1", "2023-01-20", "", "100"], ["D", "d1", "2023-06-01", "", "10"]])
    write_csv(tmp_path / "customers.csv", ["customer_id", "created_at", "segment"],
              [["A", "2023-01-05", "smb"], ["B", "2023-01-10", "ent"], ["C", "2023-01-12", "smb"]])
    df = compute("freemium_conversion_rate", data=tmp_path, month="2023-01", by="segment", as_of="2023-07-01")
    assert df.select("segment", "value", "numerator", "denominator").rows() == [
        ("ent", 0.0, 0.0, 1.0), ("smb", 0.5, 1.0, 2.0)]


def test_attribute_cells_are_trimmed_and_whitespace_is_blank(tmp_path: Path) -> None:
    # SPEC §1.3: a cell of only whitespace is blank. A " smb " and B "smb" are one group; C "   " is the
    # blank group, not a group named by three spaces.
    write_csv(tmp_path / "subscriptions.csv", ["customer_id", "subscription_id", "start_at", "end_at", "amount"],
              [["A", "a1", "2023-01-01", "", "100"], ["B", "b1", "2023-01-01", "", "50"],
               ["C", "c1", "2023-01-01", "", "70"]])
    write_csv(tmp_path / "customers.csv", ["customer_id", "segment"], [["A", " smb "], ["B", "smb"], ["C", "   "]])
    df = compute("mrr", data=tmp_path, month="2023-03", by="segment")
    assert df.select("segment", "value").rows() == [("smb", 150.0), (None, 70.0)]
