"""Values as exports write them (issue 7: A1, A4, A5, A6, A9, A10, A12; SPEC §1.2, §1.3, §3.1).

One number parser, one timestamp parser, blanks that mean what an absent column means, known
statuses and per-source row rules. Every number here is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from conftest import write_csv

from kpi_cli.schemas import SOURCES

SUBS = ["customer_id", "subscription_id", "start_at", "amount"]
HINT = "hint: fix them, or pass --on-bad-rows skip (with --rejects FILE to keep them)"


def values(result) -> list[float]:
    """The ``value`` column of a CSV result, as numbers."""
    assert result.exit_code == 0, result.stderr
    return [float(r["value"]) for r in csv.DictReader(io.StringIO(result.stdout))]


def bad_lines(result) -> list[str]:
    """stderr of a failed run: the error line, the bad rows, the hint."""
    assert result.exit_code == 1, result.stdout + result.stderr
    return result.stderr.splitlines()


def subs(folder: Path, rows: list[list[str]], header: list[str] = SUBS, config: str = "") -> Path:
    write_csv(folder / "subscriptions.csv", header, rows)
    if config:
        (folder / "kpi.toml").write_text(config)
    return folder


def mrr(run, folder: Path, month: str = "2023-03", *extra: str) -> list[float]:
    config = ["--config", str(folder / "kpi.toml")] if (folder / "kpi.toml").exists() else []
    return values(run("compute", "mrr", "--data", folder, "--month", month, "-f", "csv", *config, *extra))


# --- A1: numbers ---------------------------------------------------------------------------------

COMMA = 'not a number: a comma (set [sources.subscriptions] decimal = "," or thousands = ",")'


def test_comma_in_amount_or_quantity_is_a_bad_row_naming_the_setting(run, tmp_path):
    folder = subs(tmp_path / "d", [["A", "a1", "2023-01-01", "49,90", "1"], ["B", "b1", "2023-01-01", "10", "1,5"]],
                  [*SUBS, "quantity"])
    lines = bad_lines(run("compute", "mrr", "--data", folder, "--month", "2023-03"))
    path = folder / "subscriptions.csv"
    assert lines == ["kpi: error: 2 bad rows in subscriptions", f"  {path}:2 amount=49,90 {COMMA}",
                     f"  {path}:3 quantity=1,5 {COMMA}", HINT]


def test_validate_fails_on_a_comma_too(run, tmp_path):
    folder = subs(tmp_path / "d", [["A", "a1", "2023-01-01", "49,90"], ["B", "b1", "2023-01-01", "10"]])
    result = run("validate", "--data", folder)
    assert result.exit_code == 1
    assert f"1 × {COMMA}" in result.stdout


@pytest.mark.parametrize(("config", "amount", "expected"), [
    ('decimal = ","', "49,90", 49.9),
    ('decimal = ","\nthousands = "."', "1.234,56", 1234.56),
    ('decimal = ","\nthousands = " "', "1 234,56", 1234.56),
    ('thousands = ","', "1,234.50", 1234.5),
    ("", "$1234.50", 1234.5),  # a currency symbol before the digits
    ("", "€ 20", 20.0),
    ("", "20 €", 20.0),
    ("", "1.5e2", 150.0),
])
def test_declared_separators_and_currency_symbols(run, tmp_path, config, amount, expected):
    folder = subs(tmp_path / "d", [["A", "a1", "2023-01-01", amount]],
                  config=f"[sources.subscriptions]\n{config}\n" if config else "")
    assert mrr(run, folder) == [expected]


def test_declared_decimal_comma_applies_to_quantity_and_rejects_a_stray_point(run, tmp_path):
    # 10 × 1,5 = 15; with decimal = "," the point in "2.5" is neither separator: a bad row.
    folder = subs(tmp_path / "d", [["A", "a1", "2023-01-01", "10", "1,5"], ["B", "b1", "2023-01-01", "2.5", "1"]],
                  [*SUBS, "quantity"], config='[sources.subscriptions]\ndecimal = ","\n')
    assert mrr(run, folder, "2023-03", "--on-bad-rows", "skip") == [15.0]
    lines = bad_lines(run("compute", "mrr", "--data", folder, "--month", "2023-03",
                          "--config", folder / "kpi.toml"))
    assert lines[1] == f"  {folder / 'subscriptions.csv'}:3 amount=2.5 not a number"


def test_thousands_must_group_by_three(run, tmp_path):
    folder = subs(tmp_path / "d", [["A", "a1", "2023-01-01", "12,34"]],
                  config='[sources.subscriptions]\nthousands = ","\n')
    lines = bad_lines(run("compute", "mrr", "--data", folder, "--month", "2023-03", "--config", folder / "kpi.toml"))
    assert lines[1] == f"  {folder / 'subscriptions.csv'}:2 amount=12,34 not a number"


def test_a_bad_separator_setting_is_a_usage_error(run, tmp_path):
    folder = subs(tmp_path / "d", [["A", "a1", "2023-01-01", "10"]], config='[sources.subscriptions]\ndecimal = ";"\n')
    result = run("compute", "mrr", "--data", folder, "--month", "2023-03", "--config", folder / "kpi.toml")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == 'kpi: error: [sources.subscriptions] decimal = \';\' is not "." or ","'


def test_comma_in_an_fx_rate_is_a_bad_row(run, tmp_path):
    folder = subs(tmp_path / "d", [["A", "a1", "2023-01-01", "100", "EUR"]], [*SUBS, "currency"])
    write_csv(folder / "fx_rates.csv", ["date", "currency", "rate"], [["2023-01-01", "EUR", "1,10"]])
    lines = bad_lines(run("compute", "mrr", "--data", folder, "--month", "2023-03", "--currency", "USD"))
    assert lines[:2] == ["kpi: error: 2 bad rows in fx_rates, subscriptions",  # A's row then has no EUR rate
                         (f"  {folder / 'fx_rates.csv'}:2 rate=1,10 not a number: a comma (set [sources.fx_rates] "
                         'decimal = "," or thousands = ",")')]


@pytest.mark.parametrize(("rate", "reason"), [("-1.1", "rate must be positive"), ("0", "rate must be positive"),
                                              ("inf", "not a finite number (NaN or infinity)")])
def test_fx_rate_must_be_a_positive_number(run, tmp_path, rate, reason):
    folder = subs(tmp_path / "d", [["A", "a1", "2023-01-01", "100", "EUR"]], [*SUBS, "currency"])
    write_csv(folder / "fx_rates.csv", ["date", "currency", "rate"], [["2023-01-01", "EUR", rate]])
    lines = bad_lines(run("compute", "mrr", "--data", folder, "--month", "2023-03", "--currency", "USD"))
    # The bad rate was the subscription's only EUR rate: that row has none now, and both are counted.
    assert lines[:2] == ["kpi: error: 2 bad rows in fx_rates, subscriptions",
                         f"  {folder / 'fx_rates.csv'}:2 rate={rate} {reason}"]


# --- A9: values outside their domain ----------------------------------------------------------

def test_nan_infinite_huge_and_non_whole_values_are_bad_rows(run, tmp_path):
    rows = [["A", "a1", "2023-01-01", "nan", "1"], ["B", "b1", "2023-01-01", "-Infinity", "1"],
            ["C", "c1", "2023-01-01", "1e308", "1"], ["D", "d1", "2023-01-01", "10", "inf"],
            ["E", "e1", "2023-01-01", "10", "1.5"], ["F", "f1", "2023-01-01", "10", "0"],
            ["G", "g1", "2023-01-01", "10", "2"]]
    folder = subs(tmp_path / "d", rows, [*SUBS, "interval_count"])
    lines = bad_lines(run("compute", "mrr", "--data", folder, "--month", "2023-03"))
    path = folder / "subscriptions.csv"
    assert lines == ["kpi: error: 6 bad rows in subscriptions",
                     f"  {path}:2 amount=nan not a finite number (NaN or infinity)",
                     f"  {path}:3 amount=-Infinity not a finite number (NaN or infinity)",
                     f"  {path}:4 amount=1e308 magnitude beyond 1e15",
                     f"  {path}:5 interval_count=inf not a finite number (NaN or infinity)",
                     f"  {path}:6 interval_count=1.5 not a whole number",
                     f"  {path}:7 interval_count=0 interval_count must be ≥ 1", HINT]
    # What is left: G, 10 every 2 months = 5 a month.
    assert mrr(run, folder, "2023-03", "--on-bad-rows", "skip") == [5.0]


def test_nan_in_a_numeric_parquet_column_is_a_bad_row(run, tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    pl.DataFrame({"customer_id": ["A", "B"], "subscription_id": ["a1", "b1"], "start_at": ["2023-01-01"] * 2,
                  "amount": [float("nan"), 30.0]}).write_parquet(folder / "subscriptions.parquet")
    lines = bad_lines(run("compute", "mrr", "--data", folder, "--month", "2023-03"))
    assert lines[1] == f"  {folder / 'subscriptions.parquet'}:2 amount=NaN not a finite number (NaN or infinity)"
    assert mrr(run, folder, "2023-03", "--on-bad-rows", "skip") == [30.0]


UNKNOWN = 'unknown status (map it: [sources.subscriptions.status] {} = "paused")'


def test_unknown_status_is_a_bad_row_showing_the_mapping_to_write(run, tmp_path):
    rows = [["A", "a1", "2023-01-01", "100", "on_hold"], ["B", "b1", "2023-01-01", "50", "On Hold "],
            ["C", "c1", "2023-01-01", "20", "Active"]]
    folder = subs(tmp_path / "d", rows, [*SUBS, "status"])
    lines = bad_lines(run("compute", "mrr", "--data", folder, "--month", "2023-03"))
    path = folder / "subscriptions.csv"
    assert lines[1:3] == [f"  {path}:2 status=on_hold {UNKNOWN.format('on_hold')}",
                          f"  {path}:3 status=On Hold  {UNKNOWN.format(chr(34) + 'on hold' + chr(34))}"]


@pytest.mark.parametrize(("target", "expected"), [("paused", 20.0), ("active", 170.0)])
def test_status_table_maps_export_statuses(run, tmp_path, target, expected):
    # C (20, Active) always pays; A (100) and B (50) pay only when on_hold means active.
    rows = [["A", "a1", "2023-01-01", "100", "on_hold"], ["B", "b1", "2023-01-01", "50", "On Hold"],
            ["C", "c1", "2023-01-01", "20", "Active"]]
    config = f'[sources.subscriptions.status]\non_hold = "{target}"\n"on hold" = "{target}"\n'
    folder = subs(tmp_path / "d", rows, [*SUBS, "status"], config=config)
    assert mrr(run, folder) == [expected]


def test_status_table_overrides_the_preset(run, tmp_path):
    # Chargebee maps non_renewing to active; the user says it pays nothing any more.
    header = ["id", "customer_id", "started_at", "plan_unit_price", "status"]
    folder = tmp_path / "d"
    write_csv(folder / "subscriptions.csv", header, [["s1", "A", "2023-01-01", "100", "non_renewing"],
                                                     ["s2", "B", "2023-01-01", "40", "in_trial"],
                                                     ["s3", "C", "2023-01-01", "30", "active"]])
    (folder / "kpi.toml").write_text('[sources.subscriptions]\npreset = "chargebee"\namount_unit = "major"\n'
                                     '[sources.subscriptions.status]\nnon_renewing = "paused"\n')
    assert mrr(run, folder) == [30.0]


def test_status_mapped_to_an_unknown_status_is_a_usage_error(run, tmp_path):
    folder = subs(tmp_path / "d", [["A", "a1", "2023-01-01", "100", "on_hold"]], [*SUBS, "status"],
                  config='[sources.subscriptions.status]\non_hold = "frozen"\n')
    result = run("compute", "mrr", "--data", folder, "--month", "2023-03", "--config", folder / "kpi.toml")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[0] == ("kpi: error: [sources.subscriptions.status] on_hold = 'frozen' "
                                             "is not a known status")


# --- A5: timestamps ----------------------------------------------------------------------------

START = int(datetime(2023, 1, 15, tzinfo=UTC).timestamp())  # 1673740800
END = int(datetime(2023, 3, 20, tzinfo=UTC).timestamp())  # 1679270400


@pytest.mark.parametrize(("scale", "unit"), [(1, "s"), (1_000, "ms"), (1_000_000, "µs"), (1_000_000_000, "ns")])
def test_epochs_in_any_unit_give_the_same_dates(run, tmp_path, scale, unit):
    # 100 a month from 15 Jan to 20 Mar: paying at the end of Feb, not at the end of March.
    folder = subs(tmp_path / "d", [["A", "a1", str(START * scale), str(END * scale), "100"]],
                  ["customer_id", "subscription_id", "start_at", "end_at", "amount"])
    result = run("compute", "mrr", "--data", folder, "--from", "2023-01", "--to", "2023-03", "-f", "csv", "-v")
    assert values(result) == [100.0, 100.0, 0.0]
    assert f"kpi: subscriptions: epoch timestamps: start_at in {unit}, end_at in {unit}" in result.stderr.splitlines()


def test_epoch_units_mixed_in_one_column_are_all_reported(run, tmp_path):
    rows = [["A", "a1", str(START), "100"], ["B", "b1", str(START * 1_000_000), "50"], ["C", "c1", "2023-01-15", "7"]]
    folder = subs(tmp_path / "d", rows)
    result = run("compute", "mrr", "--data", folder, "--month", "2023-02", "-f", "csv", "-v")
    assert values(result) == [157.0]
    assert "kpi: subscriptions: epoch timestamps: start_at in s/µs" in result.stderr.splitlines()


def test_epochs_in_a_numeric_parquet_column(run, tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    pl.DataFrame({"customer_id": ["A", "B"], "subscription_id": ["a1", "b1"],
                  "start_at": [START * 1_000, START * 1_000_000_000], "amount": [100.0, 50.0]}
                 ).write_parquet(folder / "subscriptions.parquet")
    result = run("compute", "mrr", "--data", folder, "--month", "2023-02", "-f", "csv", "-v")
    assert values(result) == [150.0]
    assert "kpi: subscriptions: epoch timestamps: start_at in ms/ns" in result.stderr.splitlines()


@pytest.mark.parametrize("value", ["1899-12-31", "2201-01-01", "1899-12-31T23:59:59Z", str(-2208988801),
                                   "7289654400000"])  # the last two: 1899-12-31 23:59:59 in s, 2201-01-01 in ms
def test_instants_outside_1900_to_2200_are_bad_rows(run, tmp_path, value):
    folder = subs(tmp_path / "d", [["A", "a1", value, "100"], ["B", "b1", "2023-01-01", "10"]])
    lines = bad_lines(run("compute", "mrr", "--data", folder, "--month", "2023-03"))
    assert lines[:2] == ["kpi: error: 1 bad row in subscriptions",
                         (f"  {folder / 'subscriptions.csv'}:2 start_at={value} not between 1900 and 2200 "
                         "(an epoch in another unit?)")]


def test_typed_parquet_datetime_after_2200_is_a_bad_row(run, tmp_path):
    folder = tmp_path / "d"
    folder.mkdir()
    pl.DataFrame({"customer_id": ["A", "B"], "subscription_id": ["a1", "b1"],
                  "start_at": [datetime(2023, 1, 1), datetime(2023, 1, 1)],
                  "end_at": [datetime(2999, 1, 1), None], "amount": [100.0, 10.0]}
                 ).write_parquet(folder / "subscriptions.parquet")
    lines = bad_lines(run("compute", "mrr", "--data", folder, "--month", "2023-03"))
    assert lines[1] == (f"  {folder / 'subscriptions.parquet'}:2 end_at=2999-01-01 00:00:00.000000 not between "
                        "1900 and 2200 (an epoch in another unit?)")


@pytest.mark.parametrize("end", ["2023-03-20 10:00:00 UTC", "2023-03-20T10:00:00Z", "2023-03-20T10:00:00+00:00",
                                 "2023-03-20 12:00:00+02:00"])
def test_warehouse_and_offset_forms(run, tmp_path, end):
    # Each is 20 Mar 10:00 UTC: paying at the end of February, not of March.
    folder = subs(tmp_path / "d", [["A", "a1", "2023-01-15 09:30:00 UTC", end, "100"]],
                  ["customer_id", "subscription_id", "start_at", "end_at", "amount"])
    assert values(run("compute", "mrr", "--data", folder, "--from", "2023-01", "--to", "2023-03", "-f", "csv")) \
        == [100.0, 100.0, 0.0]


# --- A4: before 1970 -------------------------------------------------------------------------

def test_subscription_starting_before_1970_is_worth_its_amount(run, tmp_path):
    # No trial (blank trial_end_at) and a forever discount of 25 %: 100 × 0.75 = 75 in March 1965.
    folder = subs(tmp_path / "d", [["A", "a1", "1965-01-15", "100", "", "25", "forever"]],
                  [*SUBS, "trial_end_at", "discount_percent", "discount_duration"])
    assert mrr(run, folder, "1965-03") == [75.0]


# --- A10: blank means absent -------------------------------------------------------------------

def test_blank_or_whitespace_interval_is_a_month(run, tmp_path):
    folder = subs(tmp_path / "d", [["A", "a1", "2023-01-01", "100", ""], ["B", "b1", "2023-01-01", "50", "   "],
                                   ["C", "c1", "2023-01-01", "1200", " Year "]], [*SUBS, "interval"])
    assert mrr(run, folder) == [250.0]  # 100 + 50 + 1200 / 12


# Per source: a header, rows with every optional column filled, the command run over them.
DATASETS: dict[str, tuple[list[str], list[list[str]], list[str]]] = {
    "subscriptions": (
        ["customer_id", "subscription_id", "item_id", "start_at", "end_at", "amount", "currency", "interval",
         "interval_count", "quantity", "status", "trial_end_at", "canceled_at", "discount_percent",
         "discount_amount", "discount_duration", "discount_end_at", "plan", "is_metered"],
        [["A", "a1", "i1", "2023-01-01", "2023-05-01", "100", "USD", "year", "2", "3", "active", "2023-02-01",
          "2023-04-10", "10", "", "repeating", "2023-03-15", "pro", "false"],
         ["B", "b1", "i2", "2023-01-10", "", "40", "USD", "quarter", "1", "2", "past_due", "", "", "", "5",
          "forever", "", "team", "true"],
         ["C", "c1", "i3", "2023-02-01", "", "30", "USD", "week", "1", "1", "trialing", "2023-03-01", "", "",
          "", "", "", "solo", "false"]],
        ["compute", "mrr,customers,new_mrr,churned_mrr,arpa", "--from", "2023-01", "--to", "2023-06"],
    ),
    "invoices": (
        ["customer_id", "subscription_id", "period_start", "period_end", "amount", "tax_amount", "discount_amount",
         "currency", "quantity", "proration", "recurring"],
        [["A", "s1", "2023-01-01", "2023-02-01", "100", "20", "10", "USD", "1", "false", "true"],
         ["A", "s1", "2023-02-01", "2023-03-01", "100", "20", "10", "USD", "1", "false", "true"],
         ["B", "s2", "2023-01-01", "2024-01-01", "1200", "0", "0", "USD", "2", "false", "true"],
         ["C", "s3", "2023-02-01", "2023-03-01", "30", "0", "0", "USD", "1", "true", "false"]],
        ["compute", "mrr,customers", "--from", "2023-01", "--to", "2023-03"],
    ),
    "customers": (
        ["customer_id", "created_at", "segment"],
        [["A", "2022-12-01", "smb"], ["B", "2022-11-01", "ent"]],
        ["compute", "mrr", "--from", "2023-01", "--to", "2023-03", "--by", "segment"],
    ),
    "events": (
        ["timestamp", "event", "user_id", "anonymous_id", "account_id", "event_id", "session_id", "email",
         "properties"],
        [["2023-03-01T10:00:00Z", "Signed In", "u1", "x1", "acc1", "e1", "s1", "a@x.io", '{"plan": "pro"}'],
         ["2023-03-01T10:05:00Z", "Page Viewed", "u1", "x1", "acc1", "e2", "s1", "a@x.io", '{"plan": "pro"}'],
         ["2023-03-02T09:00:00Z", "Signed In", "u2", "x2", "acc2", "e3", "s2", "b@y.io", "{}"],
         ["2023-03-15T09:00:00Z", "Signed In", "u1", "x3", "acc1", "e4", "s3", "a@x.io", "{}"]],
        ["compute", "dau,mau,logins_per_user", "--month", "2023-03"],
    ),
    "fx_rates": (["date", "currency", "rate"], [["2023-01-01", "EUR", "1.1"]],
                 ["compute", "mrr", "--month", "2023-03", "--currency", "USD"]),
}
# What the other sources of a run need to be present (customers needs billing, fx_rates a foreign row).
COMPANIONS = {"customers": ("subscriptions", SUBS, [["A", "a1", "2023-01-01", "100"], ["B", "b1", "2023-01-01", "50"]]),
              "fx_rates": ("subscriptions", [*SUBS, "currency"], [["A", "a1", "2023-01-01", "100", "EUR"]])}
OPTIONAL = [(s, c.name) for s in DATASETS for c in SOURCES[s] if not c.required]


def test_every_optional_column_of_the_sources_is_walked():
    assert len(OPTIONAL) == 15 + 7 + 1 + 7 + 0
    assert {s for s, _ in OPTIONAL} == {"subscriptions", "invoices", "customers", "events"}


@pytest.mark.parametrize(("source", "column"), OPTIONAL, ids=[f"{s}.{c}" for s, c in OPTIONAL])
def test_blank_optional_column_is_the_absent_column(run, tmp_path, source, column):
    header, rows, command = DATASETS[source]
    i = header.index(column)
    outputs = []
    for variant in ("blank", "absent"):
        folder = tmp_path / variant
        if source in COMPANIONS:
            other, other_header, other_rows = COMPANIONS[source]
            write_csv(folder / f"{other}.csv", other_header, other_rows)
        if variant == "blank":  # empty and whitespace-only cells alike
            table = [[*r[:i], ["", "  ", "\t"][n % 3], *r[i + 1:]] for n, r in enumerate(rows)]
            write_csv(folder / f"{source}.csv", header, table)
        else:
            write_csv(folder / f"{source}.csv", [h for h in header if h != column],
                      [[v for j, v in enumerate(r) if j != i] for r in rows])
        result = run(*command, "--data", folder, "-f", "csv", "--on-bad-rows", "skip")
        assert result.exit_code == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    assert outputs[0].count("\n") >= 2


# --- A6: one row per customer ------------------------------------------------------------------

def test_repeated_customer_id_is_a_bad_row_at_both_lines(run, tmp_path):
    folder = subs(tmp_path / "d", [["A", "a1", "2023-01-01", "100"], ["B", "b1", "2023-01-01", "50"]])
    write_csv(folder / "customers.csv", ["customer_id", "segment"], [["A", "smb"], ["B", "ent"], ["A", "ent"]])
    path = folder / "customers.csv"
    lines = bad_lines(run("compute", "mrr", "--data", folder, "--month", "2023-03", "--by", "segment"))
    assert lines == ["kpi: error: 2 bad rows in customers",
                     f"  {path}:2 customer_id=A customer_id repeated (also line 4)",
                     f"  {path}:4 customer_id=A customer_id repeated (also line 2)", HINT]
    result = run("validate", "--data", folder)
    assert result.exit_code == 1
    assert "✗ customers: 3 rows read, 0 exact duplicates, 2 bad, 1 used — " + str(path) in result.stdout


def test_exact_duplicate_customer_rows_are_not_a_conflict(run, tmp_path):
    folder = subs(tmp_path / "d", [["A", "a1", "2023-01-01", "100"], ["B", "b1", "2023-01-01", "50"]])
    write_csv(folder / "customers.csv", ["customer_id", "segment"], [["A", "smb"], ["B", "ent"], ["A", "smb"]])
    result = run("compute", "mrr", "--data", folder, "--month", "2023-03", "--by", "segment", "-f", "csv")
    assert values(result) == [50.0, 100.0]  # ent: B 50, smb: A 100


# --- A12: one-time invoice lines -------------------------------------------------------------

def test_one_time_invoice_line_never_enters_mrr(run, tmp_path):
    # Recurring: s1 (blank flag, has a subscription) 250, B's line flagged true 40 (no subscription id).
    # Not: A's one-time fee (no subscription, blank flag), C's line flagged false, A's proration.
    header = ["customer_id", "subscription_id", "period_start", "period_end", "amount", "proration", "recurring"]
    folder = tmp_path / "d"
    write_csv(folder / "invoices.csv", header, [
        ["A", "s1", "2024-01-01", "2024-02-01", "250", "", ""],
        ["A", "", "2024-01-10", "2024-02-10", "500", "", ""],
        ["B", "", "2024-01-01", "2024-02-01", "40", "", "true"],
        ["C", "s3", "2024-01-01", "2024-02-01", "30", "", "false"],
        ["A", "s1", "2024-01-15", "2024-02-01", "80", "true", ""],
    ])
    assert mrr(run, folder, "2024-01") == [290.0]


def test_whitespace_in_parquet_text_is_blank(run, tmp_path):
    # A: blank interval and status mean month and paying: 100; B: 1200 a year = 100 a month.
    folder = tmp_path / "d"
    folder.mkdir()
    pl.DataFrame({"customer_id": ["A", "B"], "subscription_id": ["a1", "b1"], "start_at": ["2023-01-01"] * 2,
                  "amount": ["100", " 1200 "], "interval": ["  ", "year"], "status": ["\t", "active"]}
                 ).write_parquet(folder / "subscriptions.parquet")
    assert mrr(run, folder) == [200.0]
