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
