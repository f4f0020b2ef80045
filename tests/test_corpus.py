"""The bad-input corpus (issue 7): awkward and broken exports through the CLI, against SPEC §1.2–§1.3, §4.2.

Each folder of ``tests/corpus/`` is one case: the data files, and a ``kpi.toml`` when the case declares
settings. ``CASES`` says per case the command, the exit code and the exact first error line (or the
parts SPEC fixes in it: file, line, column, value) or the exact numbers, worked out by hand below.
Every case also asserts what holds for all input (SPEC §4.2): never a traceback, never the
internal-error path, nothing on stdout when the run fails.

The hand working shared by most cases (SPEC §3.1, snapshot at the last instant of February 2024):

``subs_base`` — A 100/month; B 1200/year → 100; C 50/month × quantity 2 → 100 (ends 2024-03-15,
after February): mrr 300, customers 3. The last timestamp in the data (C's end, 2024-03-15) is after
February, so February is complete. Cases add a row ``D`` (line 5: header 1, A 2, B 3, C 4) that is
10/month from 2024-01-10 when valid: mrr 310, customers 4.

``events_base`` — u1 on 1 and 2 February, u2 on 2 February, u3 on 1 March: mau 2 (u1, u2); dau =
(1 + 2 active actors on days 1–2, 0 on the other 27 days) / 29 days of February 2024 = 3/29.
"""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "corpus"

SUBS = ("compute", "mrr,customers", "--month", "2024-02", "--data", "data", "-f", "csv")
EVENTS = ("compute", "mau,dau", "--month", "2024-02", "--data", "data", "-f", "csv")
SKIP = ("--on-bad-rows", "skip")
USD = ("--currency", "USD")
FEB = "2024-02-01"
BASE: dict[tuple[str, ...], float] = {("mrr", FEB): 300.0, ("customers", FEB): 3.0}
WITH_D: dict[tuple[str, ...], float] = {("mrr", FEB): 310.0, ("customers", FEB): 4.0}
EV: dict[tuple[str, ...], float] = {("mau", FEB): 2.0, ("dau", FEB): 3 / 29}
ONE_SUB = "kpi: error: 1 bad row in subscriptions"
ONE_EV = "kpi: error: 1 bad row in events"
COMMA_HINT = ('decimal = ","',)  # SPEC §1.3: a comma's hint names the setting


@dataclass(frozen=True)
class Case:
    """One corpus case: command, exit code, and what stderr / stdout must hold exactly.

    ``error``: the exact first ``kpi: error:`` line. ``error_has``: when SPEC fixes only parts of
    that line (file, line, column), the substrings it must contain. ``lines``: stderr lines (stripped)
    that must start with these texts, e.g. ``data/subscriptions.csv:5 amount=49,90 `` — the
    ``file:line column=value`` SPEC §1.3 prescribes. ``has``: substrings of stderr (hints).
    ``values``: (metric, period) → exact value of the CSV output. ``complete``: the expected
    ``complete`` flag of every output row, when the case pins it.
    """

    args: tuple[str, ...]
    code: int
    error: str | None = None
    error_has: tuple[str, ...] = ()
    lines: tuple[str, ...] = ()
    has: tuple[str, ...] = ()
    values: dict[tuple[str, ...], float] = field(default_factory=dict)
    complete: bool | None = None


def bad(line: str, *has: str, error: str = ONE_SUB, args: tuple[str, ...] = SUBS) -> Case:
    """A case that must fail on one bad row: exit 1, ``error`` first, then ``file:line column=value``."""
    return Case(args, 1, error=error, lines=(line,), has=has)


def ok(values: dict[tuple[str, ...], float], args: tuple[str, ...] = SUBS, complete: bool | None = True) -> Case:
    """A case that must run: exit 0 and these exact values."""
    return Case(args, 0, values=values, complete=complete)


def fails(*error_has: str, args: tuple[str, ...] = SUBS, code: int = 1, has: tuple[str, ...] = ()) -> Case:
    """A case that must fail with one clean error line containing ``error_has``."""
    return Case(args, code, error_has=error_has, has=has)


S5 = "data/subscriptions.csv:5 "
CASES: dict[str, Case] = {
    "subs_base": ok(BASE),
    # ---- numbers (SPEC §1.3 "Numbers") ----------------------------------------------------------
    "amount_comma_decimal": bad(S5 + "amount=49,90 ", *COMMA_HINT),
    # decimal = ",": D is 49.90 → 300 + 49.90
    "amount_comma_decimal_declared": ok({("mrr", FEB): 349.9, ("customers", FEB): 4.0}),
    "amount_thousands_comma": bad(S5 + "amount=1,200 ", *COMMA_HINT),
    # thousands = ",": D is 1200/month → 1500
    "amount_thousands_comma_declared": ok({("mrr", FEB): 1500.0, ("customers", FEB): 4.0}),
    "amount_european": bad(S5 + "amount=1.234,56 ", *COMMA_HINT),
    # decimal "," + thousands ".": 1.234,56 = 1234.56 → 1534.56
    "amount_european_declared": ok({("mrr", FEB): 1534.56, ("customers", FEB): 4.0}),
    # decimal "," + thousands " ": 1 234,5 = 1234.5 → 1534.5
    "amount_thousands_space_declared": ok({("mrr", FEB): 1534.5, ("customers", FEB): 4.0}),
    "quantity_comma": bad(S5 + "quantity=1,5 ", *COMMA_HINT),
    "amount_nan": bad(S5 + "amount=NaN "),
    "amount_inf": bad(S5 + "amount=inf "),
    "amount_minus_infinity": bad(S5 + "amount=-Infinity "),
    "amount_1e308": bad(S5 + "amount=1e308 "),
    "amount_1e16": bad(S5 + "amount=1e16 "),  # beyond 1e15
    # 1.5e1 = 15 → 315
    "amount_exponent": ok({("mrr", FEB): 315.0, ("customers", FEB): 4.0}),
    "amount_dollar_sign": ok(WITH_D),  # "$10.00": a currency symbol before the digits
    "amount_plus_sign": ok(WITH_D),  # "+10": an optional sign
    "amount_two_points": bad(S5 + "amount=1.2.3 ", "not a number"),
    "amount_negative": bad(S5 + "amount=-10 ", "negative amount"),
    "interval_count_inf": bad(S5 + "interval_count=inf "),
    "interval_count_zero": bad(S5 + "interval_count=0 "),  # f = 1/count: a count of 0 has no value
    "interval_count_fraction": bad(S5 + "interval_count=1.5 "),  # a whole count (schemas: int)
    # ---- enums and blanks (SPEC §1.3 blank = absent, §3.1 statuses) -----------------------------
    "status_unknown": bad(S5 + "status=on_hold ", '[sources.subscriptions.status] on_hold = "paused"'),
    "status_mapped": ok(BASE),  # on_hold = "paused": D contributes 0 and is not a paying customer
    "status_trialing": ok(BASE),
    "interval_unknown": bad(S5 + "interval=fortnight "),
    "interval_blank": ok(WITH_D),  # blank interval = month
    "interval_whitespace": ok(WITH_D),
    "counts_blank_whitespace": ok(WITH_D),  # blank interval_count and " " quantity mean 1
    "status_blank_whitespace": ok(WITH_D),  # blank status counts
    "end_at_whitespace": ok(WITH_D),  # blank end_at: still running
    # A blank required cell is a bad row (SPEC §1.3: "Blank is never a bad row unless the column is required")
    "required_blank": bad(S5 + "customer_id= "),
    "currency_lower_case": ok(WITH_D),  # usd = USD: one currency, no "several currencies"
    # ---- timestamps (SPEC §1.2 "Timestamps") ------------------------------------------------------
    # 2024-01-10T00:00Z = 1704844800 s, in s / ms / µs / ns: the same instant by magnitude
    "epoch_seconds": ok(WITH_D),
    "epoch_milliseconds": ok(WITH_D),
    "epoch_microseconds": ok(WITH_D),
    "epoch_nanoseconds": ok(WITH_D),
    # end_at 1707782400000000 µs = 2024-02-13: D ended before the snapshot (as far-future it would count)
    "epoch_microseconds_end": ok(BASE),
    "date_1899": bad(S5 + "start_at=1899-12-31 "),
    "date_2201": bad(S5 + "end_at=2201-01-01 "),
    "bigquery_utc": ok(WITH_D),  # 2024-01-10 10:00:00 UTC
    "iso_offset": ok(WITH_D),
    "not_a_date": bad(S5 + "start_at=yesterday "),
    "end_before_start": bad(S5 + "end_at=2024-01-05 ", "end_at before start_at"),
    # D from 1969-06-01, blank trial_end_at: worth its 10 like any other row
    "pre_1970_subscription": ok(WITH_D),
    # D's second row (line 6) starts inside the first's open span: an overlap of one item
    "overlapping_rows": Case(SUBS, 1, error_has=("bad row", "subscriptions"), has=("data/subscriptions.csv:",)),
    "exact_duplicate_row": ok(BASE),  # A's row twice: dropped and counted, not 400
    # ---- records and files (SPEC §1.3 "Files") ---------------------------------------------------
    "short_record": bad(S5),  # 5 fields where the header has 10
    "long_record": bad(S5),  # 12 fields
    "short_record_skip": ok(BASE, args=(*SUBS, *SKIP)),
    # A's plan holds a quoted newline (lines 2–3): D, the bad row, is on physical line 6
    "quoted_newline_line_number": bad("data/subscriptions.csv:6 amount=abc ", "not a number"),
    "blank_line_line_number": bad("data/subscriptions.csv:6 amount=abc ", "not a number"),  # line 3 is blank
    "crlf_line_endings": bad(S5 + "amount=abc ", "not a number"),
    "latin1_byte": fails("data/subscriptions.csv", ":3"),  # é as one Latin-1 byte on line 3
    "latin1_declared": ok(BASE),
    "utf8_bom": ok(BASE),
    "utf16_bom_declared": ok(BASE),
    "utf16_bom": ok(BASE),  # the BOM names the encoding; never 17 "not a date" rows
    "semicolon_delimiter": ok(BASE),
    "tab_delimiter": ok(BASE),
    "pipe_delimiter": ok(BASE),
    # ';' delimiter and decimal = ",": D is 10.5 → 310.5
    "semicolon_european": ok({("mrr", FEB): 310.5, ("customers", FEB): 4.0}),
    # the quote opens on line 4 and never closes: named at its file and line (the error's list)
    "unterminated_quote": bad("data/subscriptions.csv:4 ", "unterminated quote"),
    "duplicate_header_exact": fails("data/subscriptions.csv", "amount"),
    "duplicate_header_case": fails("data/subscriptions.csv", "amount", "Amount"),
    "gzip_ok": ok(BASE),
    "gzip_truncated": fails("data/subscriptions.csv.gz"),
    "empty_file": fails("subscriptions.csv"),
    "header_only": fails("subscriptions"),  # one line naming the source (SPEC §1.3 first bullet)
    "missing_required_column": fails("subscriptions.csv", "amount", "price", has=("[sources.subscriptions.columns]",)),
    "header_case_and_punctuation": ok(BASE),  # "Customer ID", "Subscription-ID", "START_AT" …
    "file_name_upper_case": ok(BASE),  # Subscriptions.CSV
    "extra_columns_ignored": ok(BASE),
    # ---- currencies (SPEC §1.3: a currency with no rate is a bad row; codes case-insensitive) -----
    "currency_without_rate": bad(S5 + "currency=EUR ", args=(*SUBS, *USD)),
    "currency_without_rate_skip": ok(BASE, args=(*SUBS, *USD, *SKIP)),
    # D: 100 EUR × 1.1 = 110 USD → 410
    "currency_converted": ok({("mrr", FEB): 410.0, ("customers", FEB): 4.0}, args=(*SUBS, *USD)),
    "fx_rate_comma": bad("data/fx_rates.csv:2 rate=1,10 ", *COMMA_HINT,
                         error="kpi: error: 2 bad rows in fx_rates, subscriptions", args=(*SUBS, *USD)),
    # The negative rate is D's EUR rate: D's row then has none, and both are counted in one error.
    "fx_rate_negative": bad("data/fx_rates.csv:2 rate=-1.1 ", error="kpi: error: 2 bad rows in fx_rates, subscriptions",
                            args=(*SUBS, *USD)),
    "fx_currency_lower_case": ok({("mrr", FEB): 410.0, ("customers", FEB): 4.0}, args=(*SUBS, *USD)),
    # USD and EUR, no fx_rates, no --currency: no reporting currency can be inferred; the fix is an
    # option, so a usage error (exit 2) naming both currencies
    "mixed_currencies_no_reporting": fails("EUR", "USD", has=("--currency",), code=2),
    # ---- invoices (SPEC §3.1: recurring lines only) ------------------------------------------------
    # A's s1 line [Feb 1, Mar 1) 250; the 500 line has no subscription_id and blank recurring: one-time
    "invoice_one_time_line": ok({("mrr", FEB): 250.0, ("customers", FEB): 1.0}),
    # the proration line (80) and B's recurring=false line (90) never enter MRR: 250, one customer
    "invoice_proration_and_not_recurring": ok({("mrr", FEB): 250.0, ("customers", FEB): 1.0}),
    # ---- customers -----------------------------------------------------------------------------
    # smb: A 100 + C 100; ent: B 100
    "customers_by_segment": ok({("mrr", FEB, "ent"): 100.0, ("mrr", FEB, "smb"): 200.0},
                               args=("compute", "mrr", "--month", "2024-02", "--by", "segment", "--data", "data",
                                     "-f", "csv")),
    # A on lines 2 and 4: each line a bad row naming the other (SPEC: "both lines named")
    "customers_repeated_id": Case(
        ("compute", "mrr", "--month", "2024-02", "--by", "segment", "--data", "data"), 1,
        error="kpi: error: 2 bad rows in customers",
        lines=("data/customers.csv:2 customer_id=A customer_id repeated (also line 4)",
               "data/customers.csv:4 customer_id=A customer_id repeated (also line 2)"),
    ),
    # ---- events ---------------------------------------------------------------------------------
    "events_base": ok(EV, args=EVENTS),
    "events_epoch_microseconds": ok(EV, args=EVENTS),
    "events_epoch_nanoseconds": ok(EV, args=EVENTS),
    "events_bigquery_utc": ok(EV, args=EVENTS),
    "events_1899": bad("data/events.csv:6 timestamp=1899-06-01T00:00:00Z ", error="kpi: error: 1 bad row in events",
                       args=EVENTS),
    # a whitespace user_id is blank: the row is anon9's (3 February): mau 3, dau (1 + 2 + 1)/29
    "events_user_blank_anonymous": ok({("mau", FEB): 3.0, ("dau", FEB): 4 / 29}, args=EVENTS),
    "events_semicolon": ok(EV, args=EVENTS),
    "jsonl_base": ok(EV, args=EVENTS),
    # a JSONL line that is not an object: an error naming file and line (SPEC §1.3), listed as a bad row
    "jsonl_number_line": bad("data/events.jsonl:3 ", "not a JSON object", error=ONE_EV, args=EVENTS),
    "jsonl_null_line": bad("data/events.jsonl:2 ", "not a JSON object", error=ONE_EV, args=EVENTS),
    "jsonl_broken_line": bad("data/events.jsonl:4 ", error=ONE_EV, args=EVENTS),
    "jsonl_broken_line_skip": ok(EV, args=(*EVENTS, *SKIP)),  # the broken line is a bad row, not a lost file
    "jsonl_gzip_truncated": fails("data/events.jsonl.gz", args=EVENTS),
    "events_json_gz_name": ok(EV, args=EVENTS),  # events.json.gz is JSON lines (SPEC §1.1)
    "events_duplicate_user_headers": fails("data/events.csv", "user_id", "User ID", args=EVENTS),
    # no column maps to account_id: an error naming it, never a silent 0 (issue 7 A13)
    "events_no_account_column": fails("account_id", args=("compute", "active_accounts", "--month", "2024-02",
                                                          "--data", "data", "-f", "csv")),
    # ---- header-faithful exports with their presets ------------------------------------------------
    # Segment tracks.csv, event names from event_text, one account acc1
    "segment_tracks": ok({**EV, ("active_accounts", FEB): 1.0},
                         args=("compute", "mau,dau,active_accounts", *EVENTS[2:])),
    "amplitude_export_folder": ok(EV, args=EVENTS),  # events/123456_2024-02-01_9#0.json.gz …
    "mixpanel_jsonl": ok(EV, args=EVENTS),  # properties.time in seconds, properties.distinct_id
    "posthog_csv": ok(EV, args=EVENTS),  # naive "2024-02-01 10:00:00" taken as UTC
    # Stripe: A 100/month, B 1200/year → 100, C trialing until 20 March → 0: mrr 200, 2 customers
    "stripe_subscriptions_export": ok({("mrr", FEB): 200.0, ("customers", FEB): 2.0}, complete=None),
    # Baremetrics cents: 10000 → 100, 120000/year → 100, 5000 × 2 → 100 (cancels 15 March)
    "baremetrics_cents": ok(BASE, complete=None),
    # Chargebee: Unix seconds, cents, non_renewing = active, cancelled on 2024-03-15
    "chargebee_unix_cents": ok(BASE, complete=None),
    "recurly_unknown_state": bad("data/subscriptions.csv:3 status=on_hold ",
                                 '[sources.subscriptions.status] on_hold = "paused"'),
    # ---- usage errors (SPEC §4.2: exit 2) --------------------------------------------------------
    "usage_decimals_negative": fails("--decimals", args=(*SUBS, "--decimals", "-1"), code=2),
    "usage_month_and_last": fails("--month", "--last", args=(*SUBS, "--last", "3"), code=2),
    "usage_unknown_metric": fails("nope", args=("compute", "nope", "--month", "2024-02", "--data", "data"), code=2),
}

NEVER = ("Traceback", "unexpected", "this is a bug in kpi", "internal error")


def _stage(name: str, tmp_path: Path) -> None:
    """Copy case ``name`` into ``tmp_path``: its data under ``data/``, its kpi.toml beside."""
    src = CORPUS / name
    for path in sorted(src.rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(src)
        dest = tmp_path / rel if rel.as_posix() == "kpi.toml" else tmp_path / "data" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest)


def _values(stdout: str) -> dict[tuple[str, ...], float | None]:
    """CSV long output as (metric, period, *dims) → value."""
    out: dict[tuple[str, ...], float | None] = {}
    for row in csv.DictReader(io.StringIO(stdout)):
        fixed = {"metric", "period", "value", "numerator", "denominator", "complete"}
        dims = tuple(v for k, v in row.items() if k not in fixed)
        out[(row["metric"], row["period"], *dims)] = None if row["value"] == "" else float(row["value"])
    return out


def test_corpus_has_a_folder_per_case_and_a_case_per_folder():
    folders = sorted(p.name for p in CORPUS.iterdir() if p.is_dir())
    assert folders == sorted(CASES)
    assert len(CASES) >= 60


@pytest.mark.parametrize("name", sorted(CASES))
def test_corpus_case(name, run, tmp_path):
    case = CASES[name]
    _stage(name, tmp_path)
    result = run(*case.args)
    err = result.stderr
    for word in NEVER:
        assert word not in err, err
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.exit_code == case.code, (result.exit_code, err, result.stdout[:500])
    errors = [line for line in err.splitlines() if line.startswith("kpi: error:")]
    if case.code == 0:
        assert errors == [], err
        got = _values(result.stdout)
        for key, want in case.values.items():
            assert key in got, (key, sorted(got))
            assert got[key] == pytest.approx(want, rel=1e-12, abs=1e-12), (key, got[key], err)
        assert len(got) == len(case.values), sorted(got)
        if case.complete is not None:
            flags = {r["complete"] for r in csv.DictReader(io.StringIO(result.stdout))}
            assert flags == {"true" if case.complete else "false"}
        return
    assert result.stdout == ""
    assert len(errors) == 1, err  # one error line (a bad-row list follows it, indented)
    if case.error is not None:
        assert errors[0] == case.error, err
    for part in case.error_has:
        assert part in errors[0], err
    stripped = [line.strip() for line in err.splitlines()]
    for start in case.lines:
        assert any(line.startswith(start) for line in stripped), (start, err)
    for part in case.has:
        assert part in err, (part, err)


def test_rejects_hold_the_rows_without_a_rate(run, tmp_path):
    # issue 7 A2: D (EUR, no EUR rate) is skipped and written to --rejects with its own columns as read
    _stage("currency_without_rate_skip", tmp_path)
    result = run(*SUBS, *USD, *SKIP, "--rejects", "rejects.csv")
    assert result.exit_code == 0, result.stderr
    assert _values(result.stdout) == {("mrr", FEB): 300.0, ("customers", FEB): 3.0}
    rejects = list(csv.DictReader((tmp_path / "rejects.csv").open()))
    assert [(r["customer_id"], r["currency"], r["amount"], r["file"], r["line"]) for r in rejects] == [
        ("D", "EUR", "100", "data/subscriptions.csv", "5")
    ]


def test_rejects_hold_the_short_record(run, tmp_path):
    # SPEC §1.3: a record with fewer fields than the header is a bad row, skipped and in --rejects at line 5
    _stage("short_record_skip", tmp_path)
    result = run(*SUBS, *SKIP, "--rejects", "rejects.csv")
    assert result.exit_code == 0, result.stderr
    assert _values(result.stdout) == {("mrr", FEB): 300.0, ("customers", FEB): 3.0}
    rejects = list(csv.DictReader((tmp_path / "rejects.csv").open()))
    assert [(r["file"], r["line"]) for r in rejects] == [("data/subscriptions.csv", "5")]
