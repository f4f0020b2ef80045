"""Hypothesis properties over messy inputs (issue 7, "Tests that must exist"; SPEC §1.3, §4.2).

Random subscription histories and event logs are rendered to CSV with random blanks, whitespace and
malformed cells, then run through the CLI in-process (``run`` fixture):

- every run ends in a result (exit 0) or one clean error (exit 1 or 2), never a traceback or the
  internal-error path;
- a blank optional cell means what the absent column means: the same output bytes;
- ``kpi validate`` fails exactly when ``kpi compute`` fails, on the same data and options;
- five reruns of a revenue command give byte-identical CSV.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import Result

# The `run` fixture is function-scoped but holds no per-example state: each example writes its own
# folder (a fresh name from COUNTER), so sharing the fixture across examples is safe.
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
COUNTER = itertools.count()
NEVER = ("Traceback", "unexpected", "this is a bug in kpi", "internal error")

SUB_HEADER = ["customer_id", "subscription_id", "start_at", "end_at", "amount", "currency", "interval",
              "interval_count", "quantity", "status", "trial_end_at", "canceled_at", "plan"]
OPTIONAL_SUB = ["end_at", "interval", "interval_count", "quantity", "status", "trial_end_at", "canceled_at", "plan"]
EVENT_HEADER = ["timestamp", "event", "user_id", "anonymous_id", "account_id", "event_id", "session_id", "email"]
OPTIONAL_EVENT = ["account_id", "event_id", "session_id", "email"]
REVENUE = ("compute", "mrr,customers,new_mrr,churned_mrr,expansion_mrr", "--from", "2023-06", "--to", "2024-03",
           "--as-of", "2025-01-01", "-f", "csv")
ENGAGEMENT = ("compute", "mau,dau,wau", "--from", "2024-01", "--to", "2024-03", "--as-of", "2025-01-01", "-f", "csv")
RANGE = ("--from", "2023-06", "--to", "2024-03", "--as-of", "2025-01-01")

# Cells a real export gets wrong: blanks, whitespace, commas, non-finite and huge numbers, bad dates,
# unknown enum values, stray quotes.
JUNK = ["", " ", "\t", "abc", "1,5", "1.234,56", "NaN", "inf", "-inf", "1e308", "-3", "2024-13-45", "1899-01-01",
        "on_hold", "fortnight", '"', "0", "1.5", "  2024-01-01  ", "1704067200000000", "$12"]

days = st.integers(min_value=0, max_value=600)  # days after 2023-01-01


def _day(n: int) -> str:
    return (date(2023, 1, 1) + timedelta(days=n)).isoformat()


def _epoch(n: int, unit: int) -> str:
    return str((1672531200 + n * 86400) * unit)


def _instant(draw: st.DrawFn, n: int) -> str:
    """One instant written in one of the forms SPEC §1.2 accepts."""
    form = draw(st.sampled_from(["date", "iso", "bq", "s", "ms", "us", "ns"]))
    if form == "date":
        return _day(n)
    if form == "iso":
        return _day(n) + "T08:30:00Z"
    if form == "bq":
        return _day(n) + " 08:30:00 UTC"
    return _epoch(n, {"s": 1, "ms": 1000, "us": 10**6, "ns": 10**9}[form])


@st.composite
def subscription_rows(draw: st.DrawFn, clean: bool = False) -> list[dict[str, str]]:
    """A subscription history: items in USD, some ended, some still running."""
    rows = []
    for i in range(draw(st.integers(min_value=1, max_value=8))):
        start = draw(days)
        ends = draw(st.booleans())
        row = {
            "customer_id": draw(st.sampled_from("ABCDE")),
            "subscription_id": f"s{i}",  # one row per item: no overlaps in clean data
            "start_at": _instant(draw, start),
            "end_at": _instant(draw, start + draw(st.integers(min_value=1, max_value=400))) if ends else "",
            "amount": f"{draw(st.integers(min_value=0, max_value=500_000)) / 100:.2f}",
            "currency": draw(st.sampled_from(["USD", "usd"])),
            "interval": draw(st.sampled_from(["month", "year", "week", "quarter", ""])),
            "interval_count": draw(st.sampled_from(["1", "2", ""])),
            "quantity": draw(st.sampled_from(["1", "3", ""])),
            "status": draw(st.sampled_from(["active", "canceled", "past_due", "trialing", "paused", ""])),
            "trial_end_at": draw(st.sampled_from(["", _day(start + 14)])),
            "canceled_at": "",
            "plan": draw(st.sampled_from(["", "pro", "team"])),
        }
        if not clean:
            for col in SUB_HEADER:
                if draw(st.integers(min_value=0, max_value=14)) == 0:
                    row[col] = draw(st.sampled_from(JUNK))
        rows.append(row)
    return rows


@st.composite
def event_rows(draw: st.DrawFn, clean: bool = False) -> list[dict[str, str]]:
    """An event log over Q1 2024, identified and anonymous actors."""
    rows = []
    for i in range(draw(st.integers(min_value=1, max_value=15))):
        n = draw(st.integers(min_value=365, max_value=455))  # 2024-01-01 … 2024-03-31
        row = {
            "timestamp": _instant(draw, n),
            "event": draw(st.sampled_from(["Signed In", "Report Created", "Page Viewed"])),
            "user_id": draw(st.sampled_from(["u1", "u2", "u3", "u4"])),
            "anonymous_id": draw(st.sampled_from(["", "a1", "a2"])),
            "account_id": draw(st.sampled_from(["", "acc1", "acc2"])),
            "event_id": f"e{i}",
            "session_id": draw(st.sampled_from(["", "s1", "s2"])),
            "email": "",
        }
        if not clean:
            for col in EVENT_HEADER:
                if draw(st.integers(min_value=0, max_value=10)) == 0:
                    row[col] = draw(st.sampled_from(JUNK))
        rows.append(row)
    return rows


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / f"ex{next(COUNTER)}"
    folder.mkdir()
    return folder


def _write(path: Path, header: list[str], rows: list[dict[str, str]]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows([[r[h] for h in header] for r in rows])


def _clean(result: Result) -> None:
    """A result or one clean error: exit 0/1/2, no escaped exception, no traceback, no internal error."""
    for word in NEVER:
        assert word not in result.stderr, result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code in (0, 1, 2), (result.exit_code, result.stderr)
    errors = [line for line in result.stderr.splitlines() if line.startswith("kpi: error:")]
    if result.exit_code == 0:
        assert errors == [], result.stderr
        assert result.stdout.startswith("metric,period,value,numerator,denominator,complete\n")
    else:
        assert len(errors) == 1, result.stderr
        assert result.stdout == ""


# -------------------------------------------------------------------------------------------------
# 1. messy input: a result or one clean error
# -------------------------------------------------------------------------------------------------


@FAST
@given(rows=subscription_rows(), skip=st.booleans())
def test_messy_subscriptions_give_a_result_or_one_clean_error(run: Callable[..., Result], tmp_path: Path,
                                                              rows: list[dict[str, str]], skip: bool) -> None:
    data = _folder(tmp_path)
    _write(data / "subscriptions.csv", SUB_HEADER, rows)
    result = run(*REVENUE, "--data", data, *(("--on-bad-rows", "skip") if skip else ()))
    _clean(result)


@FAST
@given(rows=event_rows(), skip=st.booleans())
def test_messy_events_give_a_result_or_one_clean_error(run: Callable[..., Result], tmp_path: Path,
                                                       rows: list[dict[str, str]], skip: bool) -> None:
    data = _folder(tmp_path)
    _write(data / "events.csv", EVENT_HEADER, rows)
    result = run(*ENGAGEMENT, "--data", data, *(("--on-bad-rows", "skip") if skip else ()))
    _clean(result)


# -------------------------------------------------------------------------------------------------
# 2. blank optional cells = the column absent (SPEC §1.3)
# -------------------------------------------------------------------------------------------------


@FAST
@given(rows=subscription_rows(clean=True), blanks=st.sets(st.sampled_from(OPTIONAL_SUB), min_size=1),
       filler=st.sampled_from(["", " ", "  \t"]))
def test_blank_subscription_columns_equal_absent_columns(run: Callable[..., Result], tmp_path: Path,
                                                         rows: list[dict[str, str]], blanks: set[str],
                                                         filler: str) -> None:
    blank_dir, absent_dir = _folder(tmp_path), _folder(tmp_path)
    _write(blank_dir / "subscriptions.csv", SUB_HEADER, [{**r, **dict.fromkeys(blanks, filler)} for r in rows])
    _write(absent_dir / "subscriptions.csv", [h for h in SUB_HEADER if h not in blanks], rows)
    blank, absent = run(*REVENUE, "--data", blank_dir), run(*REVENUE, "--data", absent_dir)
    _clean(absent)
    assert absent.exit_code == 0, absent.stderr
    assert blank.exit_code == 0, blank.stderr
    assert blank.stdout_bytes == absent.stdout_bytes


DEFAULTS = {"interval": "month", "interval_count": "1", "quantity": "1"}  # SPEC §1.3 / §3.1 defaults


@FAST
@given(rows=subscription_rows(clean=True), filler=st.sampled_from(["", " ", "\t"]))
def test_blank_cells_mean_the_default(run: Callable[..., Result], tmp_path: Path,
                                      rows: list[dict[str, str]], filler: str) -> None:
    # Per cell: a blank interval / interval_count / quantity is month / 1 / 1, in rows mixed with set ones.
    spelled = [{**r, **{c: r[c] or DEFAULTS[c] for c in DEFAULTS}} for r in rows]
    blanked = [{**r, **{c: (filler if r[c] == DEFAULTS[c] else r[c]) for c in DEFAULTS}} for r in spelled]
    a_dir, b_dir = _folder(tmp_path), _folder(tmp_path)
    _write(a_dir / "subscriptions.csv", SUB_HEADER, spelled)
    _write(b_dir / "subscriptions.csv", SUB_HEADER, blanked)
    a, b = run(*REVENUE, "--data", a_dir), run(*REVENUE, "--data", b_dir)
    assert a.exit_code == 0, a.stderr
    assert b.exit_code == 0, b.stderr
    assert a.stdout_bytes == b.stdout_bytes


@FAST
@given(rows=event_rows(clean=True), blanks=st.sets(st.sampled_from(OPTIONAL_EVENT), min_size=1),
       filler=st.sampled_from(["", " "]))
def test_blank_event_columns_equal_absent_columns(run: Callable[..., Result], tmp_path: Path,
                                                  rows: list[dict[str, str]], blanks: set[str], filler: str) -> None:
    blank_dir, absent_dir = _folder(tmp_path), _folder(tmp_path)
    _write(blank_dir / "events.csv", EVENT_HEADER, [{**r, **dict.fromkeys(blanks, filler)} for r in rows])
    _write(absent_dir / "events.csv", [h for h in EVENT_HEADER if h not in blanks], rows)
    blank, absent = run(*ENGAGEMENT, "--data", blank_dir), run(*ENGAGEMENT, "--data", absent_dir)
    assert absent.exit_code == 0, absent.stderr
    assert blank.exit_code == 0, blank.stderr
    assert blank.stdout_bytes == absent.stdout_bytes


# -------------------------------------------------------------------------------------------------
# 3. validate fails exactly when compute fails (SPEC §1.3)
# -------------------------------------------------------------------------------------------------


@FAST
@given(rows=subscription_rows(), skip=st.booleans())
def test_validate_fails_exactly_when_compute_fails(run: Callable[..., Result], tmp_path: Path,
                                                   rows: list[dict[str, str]], skip: bool) -> None:
    data = _folder(tmp_path)
    _write(data / "subscriptions.csv", SUB_HEADER, rows)
    opts = ("--data", data, *RANGE, *(("--on-bad-rows", "skip") if skip else ()))
    compute = run("compute", "revenue", "-f", "csv", *opts)
    validate = run("validate", *opts)
    _clean(compute)
    assert "Traceback" not in validate.stderr
    assert (validate.exit_code != 0) == (compute.exit_code != 0), (compute.stderr, validate.stdout, validate.stderr)


@FAST
@given(rows=event_rows())
def test_validate_fails_exactly_when_compute_fails_on_events(run: Callable[..., Result], tmp_path: Path,
                                                             rows: list[dict[str, str]]) -> None:
    data = _folder(tmp_path)
    _write(data / "events.csv", EVENT_HEADER, rows)
    opts = ("--data", data, "--from", "2024-01", "--to", "2024-03", "--as-of", "2025-01-01")
    compute = run("compute", "engagement", "-f", "csv", *opts)
    validate = run("validate", *opts)
    _clean(compute)
    assert "Traceback" not in validate.stderr
    assert (validate.exit_code != 0) == (compute.exit_code != 0), (compute.stderr, validate.stdout, validate.stderr)


# -------------------------------------------------------------------------------------------------
# 4. five reruns byte-identical (SPEC §4.2)
# -------------------------------------------------------------------------------------------------

amounts = st.integers(min_value=1, max_value=10**9).map(lambda n: f"{n / 10**6:.6f}")  # up to 6 decimals


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(amounts=st.lists(amounts, min_size=3, max_size=40), rates=st.lists(amounts, min_size=2, max_size=6),
       fmt=st.sampled_from(["csv", "json"]))
def test_five_reruns_of_movements_are_byte_identical(run: Callable[..., Result], tmp_path: Path,
                                                     amounts: list[str], rates: list[str], fmt: str) -> None:
    data = _folder(tmp_path)
    rows = [
        {"customer_id": f"c{i % 7}", "subscription_id": f"s{i}", "start_at": _day(i * 11 % 300),
         "end_at": _day(i * 11 % 300 + 40 + i * 7) if i % 3 else "", "amount": a,
         "currency": ("EUR", "USD", "GBP")[i % 3], "interval": "month", "interval_count": "1",
         "quantity": str(1 + i % 4),
         "status": "", "trial_end_at": "", "canceled_at": "", "plan": ""}
        for i, a in enumerate(amounts)
    ]
    _write(data / "subscriptions.csv", SUB_HEADER, rows)
    fx = [{"date": _day(j * 60), "currency": cur, "rate": r} for j, r in enumerate(rates) for cur in ("EUR", "GBP")]
    _write(data / "fx_rates.csv", ["date", "currency", "rate"], fx)
    args = ("movements", "--data", data, "--from", "2023-01", "--to", "2023-12", "--as-of", "2025-01-01",
            "--currency", "USD", "-f", fmt)
    outs = [run(*args) for _ in range(5)]
    assert outs[0].exit_code == 0, outs[0].stderr
    if fmt == "csv":
        head = "period,start_mrr,new,expansion,reactivation,contraction,churned,fx,end_mrr\n"
        assert outs[0].stdout.startswith(head)
        assert len(outs[0].stdout.splitlines()) == 13  # header + 12 months
    else:
        assert [r["period"] for r in json.loads(outs[0].stdout)] == [f"2023-{m:02d}-01" for m in range(1, 13)]
    assert all(o.stdout_bytes == outs[0].stdout_bytes for o in outs[1:])
