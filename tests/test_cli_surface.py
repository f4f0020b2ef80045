"""The command line's surface (issue 7 B, C, D): errors, help, explain, config, init, validate, sample.

Each test is a reproduction from the issue; expected lines are exact.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import GOLDEN_HEADER, GOLDEN_ROWS, write_csv

KPI = str(Path(sys.executable).parent / "kpi")  # the console script, as users run it


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith(("kpi: error:", "hint:"))]


# --- B: one clean line instead of the internal-error path ---------------------------------------------------


def cpu_ticks(pid: int) -> int:
    """CPU time a process has used, in clock ticks (utime + stime of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return int(fields[11]) + int(fields[12])


# Moments are CPU time used, not wall time, so a loaded machine does not move them: Python's own start-up
# (its `site` imports, ~2 ticks), which no program can guard, is over by the first; the whole run takes ~80.
@pytest.mark.parametrize("ticks", [5, 8, 12, 18, 25, 35])
def test_ctrl_c_at_any_moment_of_start_up_exits_130_with_one_line(tmp_path, ticks):
    folder = tmp_path / "golden"
    write_csv(folder / "subscriptions.csv", GOLDEN_HEADER, GOLDEN_ROWS)
    env = {"PATH": "/usr/bin:/bin", "XDG_CONFIG_HOME": str(tmp_path / "none"), "NO_COLOR": "1"}
    proc = subprocess.Popen([KPI, "compute", "revenue", "--data", str(folder), "--last", "2", "-f", "csv"],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    while proc.poll() is None and cpu_ticks(proc.pid) < ticks:
        time.sleep(0.002)
    assert proc.poll() is None  # still starting up: importing, parsing options, reading
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err.decode()
    assert err.decode() == "kpi: interrupted\n"


def test_user_config_that_is_a_directory_is_one_line(run, tmp_path):
    (tmp_path / ".no-user-config" / "kpi" / "kpi.toml").mkdir(parents=True)
    result = run("config")
    assert result.exit_code == 1
    path = tmp_path / ".no-user-config" / "kpi" / "kpi.toml"
    assert errors(result.stderr) == [f"kpi: error: config {path}: cannot read (Is a directory)",
                                     "hint: fix or remove the user config file"]


def test_user_config_not_utf8_is_one_line(run, tmp_path):
    path = tmp_path / ".no-user-config" / "kpi" / "kpi.toml"
    path.parent.mkdir(parents=True)
    path.write_bytes(b'tz = "\xff"\n')
    result = run("config")
    assert result.exit_code == 1
    assert errors(result.stderr) == [f"kpi: error: config {path}: not UTF-8 text (byte 0xff at offset 6)",
                                     "hint: save the file as UTF-8"]


def test_user_config_without_permission_is_one_line(run, tmp_path, monkeypatch):
    path = tmp_path / ".no-user-config" / "kpi" / "kpi.toml"
    path.parent.mkdir(parents=True)
    path.write_text('tz = "UTC"\n')
    real_open = Path.open

    def guarded(self, *args, **kwargs):  # mode 000 as root is still readable: refuse it by hand
        if self == path:
            raise PermissionError(13, "Permission denied")
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", guarded)
    result = run("compute", "mrr", "--month", "2023-02")
    assert result.exit_code == 1
    assert errors(result.stderr)[0] == f"kpi: error: config {path}: cannot read (Permission denied)"


def test_negative_decimals_is_a_usage_error(run, golden_dir):
    result = run("compute", "mrr", "--month", "2023-02", "--data", golden_dir, "--decimals", "-1", "-f", "csv")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert errors(result.stderr) == ["kpi: error: --decimals -1 is out of range: it must be between 0 and 15",
                                     "hint: e.g. --decimals 2"]


def test_mau_days_zero_is_a_usage_error(run, golden_dir):
    result = run("compute", "mau", "--month", "2023-02", "--data", golden_dir, "--mau-days", "0")
    assert result.exit_code == 2
    assert errors(result.stderr)[0] == "kpi: error: --mau-days 0 is out of range: it must be between 1 and 366"


def test_engine_duckdb_not_installed_is_a_usage_error(run, golden_dir, monkeypatch):
    monkeypatch.setitem(sys.modules, "duckdb", None)  # `import duckdb` now raises ImportError
    result = run("compute", "mrr", "--month", "2023-02", "--data", golden_dir, "--engine", "duckdb")
    assert result.exit_code == 2
    assert errors(result.stderr) == [
        "kpi: error: --engine duckdb needs the duckdb package, which is not installed",
        "hint: pip install 'kpi-cli[duckdb]', or use --engine polars (the default)"]


def test_a_real_bug_is_called_internal_never_unexpected(run, golden_dir, monkeypatch):
    import kpi_cli.api

    def broken(*_args, **_kwargs):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(kpi_cli.api, "compute_run", broken)
    result = run("compute", "mrr", "--month", "2023-02", "--data", golden_dir)
    assert result.exit_code == 1
    assert "unexpected" not in result.stderr
    assert errors(result.stderr) == [
        "kpi: error: internal error (ZeroDivisionError: division by zero); this is a bug in kpi",
        "hint: rerun with --debug and report the traceback"]


# --- C: output for people -------------------------------------------------------------------------------------


def test_explain_nrr_shows_readable_parts_and_real_values(run):
    result = run("explain", "nrr")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[5:] == [
        "numerator:   MRR(start) + expansion_mrr − contraction_mrr − churned_mrr",
        "denominator: MRR at the start of P (the end of P − 1)  (a zero denominator gives null)",
        "benchmark: none for nrr; surveys of annual NRR compare with nrr_ttm (add one as [benchmarks.nrr] in kpi.toml)",
        "options in force:",
        "  --discounts = recurring  (default)",
        "  --churn-at = end  (default)",
        "  --currency = (the one currency of the data, or the one fx_rates convert into)  (default)",
        "  --period = month  (default)",
        "  --tz = UTC  (default)",
    ]
    assert "nrr_num" not in result.stdout
    assert "None" not in result.stdout


def test_explain_takes_the_data_flags_and_names_each_origin(run, tmp_path):
    (tmp_path / "kpi.toml").write_text('currency = "EUR"\n')
    result = run("explain", "arpa", "--churn-at", "cancel", "--period", "quarter", env={"KPI_TZ": "Asia/Tokyo"})
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[5:7] == ["numerator:   mrr (MRR)",
                          "denominator: customers (Customers)  (a zero denominator gives null)"]
    assert lines[7] == "benchmark: none for arpa (add one as [benchmarks.arpa] in kpi.toml)"
    assert lines[9:] == ["  --discounts = recurring  (default)", "  --churn-at = cancel  (flag)",
                         "  --currency = EUR  (config kpi.toml)", "  --period = quarter  (flag)",
                         "  --tz = Asia/Tokyo  (env KPI_TZ)"]


def test_explain_engagement_options_show_their_values(run):
    result = run("explain", "dau", "--actor", "account")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[-4:] == ["  --actor = account  (flag)", "  --identified-only = off  (default)",
                                               "  --tz = UTC  (default)", "  --period = month  (default)"]
    plain = run("explain", "dau")
    assert "  --actor = user  (default)" in plain.stdout.splitlines()


def test_explain_checks_option_values(run):
    result = run("explain", "nrr", "--discounts", "some")
    assert result.exit_code == 2
    assert errors(result.stderr)[0] == "kpi: error: --discounts 'some' is not one of none, recurring, all"


def test_config_prints_source_tables_as_toml(run, tmp_path):
    (tmp_path / "kpi.toml").write_text('[sources.subscriptions]\npreset = "stripe"\nheader_rows = 1\n'
                                       '[sources.subscriptions.columns]\namount = "Plan Amount"\n'
                                       '[events]\nkey_actions = ["Report Created", "Invite Sent"]\n')
    result = run("config")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines()[10:] == [
        "", "[sources.subscriptions]", 'preset = "stripe"', "header_rows = 1",
        "", "[sources.subscriptions.columns]", 'amount = "Plan Amount"',
        "", "[events]", 'key_actions = ["Report Created", "Invite Sent"]']
    assert "{" not in result.stdout


def test_verbose_on_an_event_run_shows_no_revenue_options(run, tmp_path):
    write_csv(tmp_path / "ev" / "events.csv", ["timestamp", "event", "user_id"],
              [["2024-03-01T10:00:00Z", "Signed In", "u1"], ["2024-03-02T10:00:00Z", "Signed In", "u2"]])
    result = run("compute", "mau", "--month", "2024-03", "--data", tmp_path / "ev", "-v", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    options = [line for line in result.stderr.splitlines() if line.startswith("kpi: options:")]
    assert options == [("kpi: options: tz=UTC, period=month, week_start=mon, engine=polars, actor=user, "
                       "identified_only=False, session_gap=30m, window=calendar, mau_days=30")]


def test_verbose_on_a_revenue_run_shows_no_engagement_options(run, golden_dir):
    result = run("compute", "mrr", "--month", "2023-02", "--data", golden_dir, "-v", "-f", "csv")
    options = [line for line in result.stderr.splitlines() if line.startswith("kpi: options:")]
    assert options == [("kpi: options: tz=UTC, period=month, week_start=mon, engine=polars, discounts=recurring, "
                       "churn_at=end, churn_denominator=start, currency=USD")]


def test_help_groups_options_with_metavars_and_only_those_that_apply(run):
    result = run("movements", "--help")
    assert result.exit_code == 0
    text = result.stdout
    for section in ("Range and time:", "Input:", "Revenue:", "Output:"):
        assert f"\n{section}\n" in text
    assert "Engagement:" not in text
    for absent in ("--actor", "--mau-days", "--churn-denominator", "--gross-margin", "--within", "<str>"):
        assert absent not in text
    for line in ("  --month YYYY-MM", "  --last N", "  --tz ZONE", "  --data DIR", "  --config FILE"):
        assert line in text
    lifecycle = run("lifecycle", "--help").stdout
    assert "Revenue:" not in lifecycle
    assert "--currency" not in lifecycle
    assert "--actor WHO" in lifecycle
    compute = run("compute", "--help").stdout
    assert "\nEngagement:\n" in compute
    assert "\nRevenue:\n" in compute


def test_help_imports_no_dataframe_library():
    code = ("import sys; sys.argv = ['kpi', 'compute', '--help']\nfrom kpi_cli.__main__ import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\nprint('polars' in sys.modules, 'rich' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines()[-1] == "False False"


# --- D: telling the truth about inputs ------------------------------------------------------------------------


def test_month_with_last_is_a_usage_error_naming_both(run, golden_dir):
    result = run("compute", "mrr", "--month", "2024-01", "--last", "3", "--data", golden_dir)
    assert result.exit_code == 2
    assert errors(result.stderr) == [
        "kpi: error: --month and --last each set the range: give only one of them",
        "hint: e.g. --month 2024-01, or --last 3, or --from 2024-01 --to 2024-03"]


def test_from_with_quarter_is_a_usage_error(run, golden_dir):
    result = run("compute", "mrr", "--quarter", "2023-Q1", "--from", "2023-01", "--data", golden_dir)
    assert result.exit_code == 2
    assert errors(result.stderr)[0] == "kpi: error: --quarter and --from/--to each set the range: give only one of them"


def test_config_typos_warn_with_the_nearest_key(run, golden_dir, tmp_path):
    (tmp_path / "kpi.toml").write_text(f'data_dir = "{golden_dir}"\ntzz = "UTC"\ncurency = "USD"\n'
                                       '[sources.subscriptons]\npath = "x.csv"\n'
                                       '[sources.subscriptions]\npreset_name = "stripe"\n'
                                       '[sources.subscriptions.columns]\ncustomerid = "c"\n')
    result = run("compute", "mrr", "--month", "2023-02", "-f", "csv")
    assert result.exit_code == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("kpi: warning:")]
    assert warnings == [
        "kpi: warning: kpi.toml: unknown key tzz; did you mean 'tz'?",
        "kpi: warning: kpi.toml: unknown key curency; did you mean 'currency'?",
        "kpi: warning: kpi.toml: unknown key sources.subscriptons; did you mean 'subscriptions'?",
        "kpi: warning: kpi.toml: unknown key sources.subscriptions.preset_name; did you mean 'preset'?",
        "kpi: warning: kpi.toml: unknown key sources.subscriptions.columns.customerid; did you mean 'customer_id'?",
    ]


def test_a_month_before_the_data_warns_with_the_data_span(run, golden_dir):
    # Golden rows: the first start is 2022-07-01 (B), the latest instant 2023-03-20 (G's end).
    result = run("compute", "mrr", "--month", "2010-01", "--data", golden_dir, "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        ("kpi: warning: the range asked for (2010-01-01 … 2010-01-31) lies wholly before the data, which covers "
        "2022-07-01 … 2023-03-20")]
    inside = run("compute", "mrr", "--month", "2023-01", "--data", golden_dir, "-f", "csv")
    assert inside.stderr == ""


def test_a_month_after_the_data_warns_unless_subscriptions_still_run(run, golden_dir, tmp_path):
    # A, B, D, E, F and H never end: their MRR in 2031 is real, so no warning.
    result = run("compute", "mrr", "--month", "2031-05", "--data", golden_dir, "-f", "csv")
    assert result.exit_code == 0, result.stderr
    assert "wholly" not in result.stderr
    # A 150 + B 1200/12 + D 300/3 + E 80 × 0.75 + F 200 (a once coupon is not recurring) + H 70
    assert result.stdout.splitlines()[1].startswith("mrr,2031-05-01,680.0,")
    closed = [[*row[:3], row[3] or "2023-03-31", *row[4:]] for row in GOLDEN_ROWS]
    write_csv(tmp_path / "closed" / "subscriptions.csv", GOLDEN_HEADER, closed)
    result = run("compute", "mrr", "--month", "2031-05", "--data", tmp_path / "closed", "-f", "csv")
    assert "lies wholly after the data, which covers 2022-07-01 … 2023-03-31" in result.stderr


SEGMENT = ["id", "anonymous_id", "user_id", "event", "event_text", "timestamp", "received_at", "context_group_id"]


def test_init_finds_segment_tracks_and_writes_paths_relative_to_the_config(run, tmp_path):
    write_csv(tmp_path / "exports" / "tracks.csv", SEGMENT,
              [["m1", "", "u1", "signed_in", "Signed In", "2024-03-01T10:00:00Z", "2024-03-01T10:00:01Z", "a1"]])
    result = run("init", "--data", "exports", "-o", "conf/kpi.toml")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines() == [
        "kpi: exports/tracks.csv: events, preset segment; every required column mapped", "wrote conf/kpi.toml"]
    text = (tmp_path / "conf" / "kpi.toml").read_text()
    assert 'data_dir = "../exports"' in text
    assert 'path = "../exports/tracks.csv"\npreset = "segment"' in text
    computed = run("compute", "mau", "--month", "2024-03", "--config", "conf/kpi.toml", "-f", "csv")
    assert computed.exit_code == 0, computed.stderr
    assert computed.stdout.splitlines()[1] == "mau,2024-03-01,1.0,,,false"


def test_init_guesses_mixpanel_from_nested_properties(run, tmp_path):
    (tmp_path / "mp").mkdir()
    (tmp_path / "mp" / "events.jsonl").write_text(json.dumps(
        {"event": "Signed In", "properties": {"time": 1709287200, "distinct_id": "u1", "$insert_id": "x1"}}) + "\n")
    result = run("init", "--data", "mp", "-o", "mp/kpi.toml")
    assert result.exit_code == 0, result.stderr
    first = result.stderr.splitlines()[0]
    assert first == "kpi: mp/events.jsonl: events, preset mixpanel; every required column mapped"
    assert 'preset = "mixpanel"' in (tmp_path / "mp" / "kpi.toml").read_text()


def test_init_maps_stripe_line_item_headers(run, tmp_path):
    write_csv(tmp_path / "st" / "invoices.csv",
              ["Invoice ID", "Customer", "Subscription", "Period Start (UTC)", "Period End (UTC)", "Amount",
               "Currency"],
              [["in_1", "cus_1", "sub_1", "2024-01-01 00:00", "2024-02-01 00:00", "100", "usd"]])
    result = run("init", "--data", "st", "-o", "st/kpi.toml")
    assert result.exit_code == 0, result.stderr
    text = (tmp_path / "st" / "kpi.toml").read_text()
    assert ('customer_id = "Customer"\nsubscription_id = "Subscription"\nperiod_start = "Period Start (UTC)"\n'
            'period_end = "Period End (UTC)"') in text
    computed = run("compute", "mrr", "--month", "2024-01", "--config", "st/kpi.toml", "-f", "csv")
    assert computed.stdout.splitlines()[1] == "mrr,2024-01-01,100.0,,,true"


def test_init_exits_1_when_a_required_column_is_left_unmapped(run, tmp_path):
    write_csv(tmp_path / "x" / "subscriptions.csv", ["customer", "plan_price"], [["c1", "10"]])
    result = run("init", "--data", "x", "-o", "x/kpi.toml")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "kpi: x/subscriptions.csv: subscriptions, no preset; missing required subscription_id, start_at, amount",
        "wrote x/kpi.toml",
        'kpi: error: x/kpi.toml cannot run yet: 3 required columns mapped to "?"',
        'hint: edit the "?" lines of x/kpi.toml with the headers of your files']
    assert 'start_at = "?"   # required, not found in the file' in (tmp_path / "x" / "kpi.toml").read_text()


def test_validate_fails_on_mixed_currencies_as_compute_does(run, tmp_path):
    write_csv(tmp_path / "mix" / "subscriptions.csv", ["customer_id", "subscription_id", "start_at", "amount",
                                                       "currency"],
              [["A", "a1", "2023-01-01", "100", "USD"], ["B", "b1", "2023-01-01", "100", "EUR"]])
    compute = run("compute", "mrr", "--month", "2023-02", "--data", tmp_path / "mix")
    assert compute.exit_code != 0
    message = errors(compute.stderr)[0].removeprefix("kpi: error: ")
    result = run("validate", "--data", tmp_path / "mix")
    assert result.exit_code == 1
    assert f"✗ revenue: {message}" in result.stdout.splitlines()
    with_currency = run("validate", "--data", tmp_path / "mix", "--currency", "USD")
    assert with_currency.exit_code == 1  # no fx rate for EUR: a bad row under the default error mode
    assert "✗ subscriptions: 2 rows read, 0 exact duplicates, 1 bad, 1 used" in with_currency.stdout


def test_validate_shows_the_real_cause_when_every_row_is_bad(run, tmp_path):
    write_csv(tmp_path / "bad" / "subscriptions.csv", ["customer_id", "subscription_id", "start_at", "amount"],
              [["A", "a1", "2023-01-01", "abc"], ["B", "b1", "2023-01-01", "-5"]])
    result = run("validate", "--data", tmp_path / "bad")
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    file = tmp_path / "bad" / "subscriptions.csv"
    assert lines[:3] == [f"✗ subscriptions: 2 rows read, 0 exact duplicates, 2 bad, 0 used — {file}",
                         "    1 × negative amount", "    1 × not a number"]


def test_validate_prints_the_event_date_range(run, tmp_path):
    write_csv(tmp_path / "ev" / "events.csv", ["timestamp", "event", "user_id"],
              [["2024-03-01T10:00:00Z", "Signed In", "u1"], ["2024-03-02T11:30:00Z", "Signed In", "u2"]])
    result = run("validate", "--data", tmp_path / "ev", "--tz", "Europe/Berlin")
    assert result.exit_code == 0, result.stdout
    assert "    dates: timestamp 2024-03-01 11:00 … 2024-03-02 12:30" in result.stdout.splitlines()


def test_validate_passes_clean_golden_data(run, golden_dir):
    result = run("validate", "--data", golden_dir)
    assert result.exit_code == 0, result.stdout
    assert result.stdout.splitlines()[:2] == [
        f"✓ subscriptions: 13 rows read, 0 exact duplicates, 0 bad, 13 used — {golden_dir / 'subscriptions.csv'}",
        "    dates: start_at 2022-07-01 00:00 … 2023-03-20 00:00"]


def test_sample_runs_as_its_help_says(run, tmp_path, monkeypatch):
    result = run("sample", "demo")
    assert result.exit_code == 0, result.stderr
    assert result.stderr.splitlines()[-1] == "wrote demo/kpi.toml"
    assert "kpi sample demo && cd demo && kpi compute revenue --last 3" in run("sample", "--help").stdout
    monkeypatch.chdir(tmp_path / "demo")
    computed = run("compute", "revenue", "--last", "3", "--as-of", "2025-01-15", "-f", "csv")
    assert computed.exit_code == 0, computed.stderr
    assert computed.stdout.splitlines()[1].startswith("mrr,2024-10-01,")
