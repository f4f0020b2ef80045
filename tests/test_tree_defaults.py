"""kpi tree's choices where SPEC is silent: defaults that cannot run, windows longer than the data."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from kpi_cli.api import Run, _options
from kpi_cli.influence.run import tree_run

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
KPI = [sys.executable, "-m", "kpi_cli"]


def test_a_default_influencer_that_cannot_run_is_left_out_and_named(tmp_path):
    # A config without [events] key_actions: key_actions_per_user cannot be computed, the others can.
    (tmp_path / "kpi.toml").write_text(f'data_dir = "{SAMPLE.as_posix()}"\ncurrency = "USD"\n')
    run = Run.start(_options(None, {"config": str(tmp_path / "kpi.toml")}))
    result = tree_run(run, "customer_churn_rate")
    assert list(result.verdicts) == ["session_minutes_per_user", "logins_per_user", "dau_mau"]
    assert any(w.startswith("key_actions_per_user left out") for w in result.warnings)


def test_named_influencers_must_all_run(tmp_path):
    (tmp_path / "kpi.toml").write_text(f'data_dir = "{SAMPLE.as_posix()}"\ncurrency = "USD"\n')
    proc = subprocess.run([*KPI, "tree", "customer_churn_rate", "--influencers", "key_actions_per_user",
                           "--config", str(tmp_path / "kpi.toml"), "-f", "csv"], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "key_actions" in proc.stderr


def test_a_smoothed_kpi_is_refused_before_its_missing_defaults():
    proc = subprocess.run([*KPI, "tree", "ltv", "--data", str(SAMPLE), "-f", "csv"], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "trailing average" in proc.stderr


def test_a_window_longer_than_the_data_starts_where_the_data_does():
    # 24 quarters reach back to 2019; the sample starts in 2023-01: the change table starts there too.
    run = Run.start(_options(SAMPLE, {"period": "quarter", "currency": "USD"}))
    result = tree_run(run, "customer_churn_rate", "logins_per_user")
    periods = sorted({c.period for c in result.changes})
    assert periods[0].isoformat() == "2023-01-01"
    assert len(periods) == 7  # 2023-Q1 … 2024-Q3: the events end before 2024-Q4 does


def test_python_api_tree_stays_the_function():
    import kpi_cli

    first = kpi_cli.tree("customer_churn_rate", data=SAMPLE, influencers="logins_per_user")
    again = kpi_cli.tree("customer_churn_rate", data=SAMPLE, influencers="logins_per_user")
    assert first.equals(again)
    assert first["lag"].to_list() == [0, 1, 2, 3]


def run_kpi(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KPI, *args], capture_output=True, text=True, env={"COLUMNS": "100", "PATH": "/usr/bin"})


def test_by_is_refused_with_kpis_own_message():
    for command in (["report"], ["tree", "customer_churn_rate"]):
        proc = run_kpi(*command, "--by", "plan", "--data", str(SAMPLE))
        assert proc.returncode == 2
        assert "--by is not supported" in proc.stderr


def test_account_level_refuses_a_named_range():
    proc = run_kpi("tree", "customer_churn_rate", "--level", "account", "--from", "2024-01", "--to", "2024-06",
                   "--data", str(SAMPLE))
    assert proc.returncode == 2
    assert "--last N" in proc.stderr


def test_a_smoothed_default_influencer_is_left_out_under_trailing_windows():
    proc = run_kpi("tree", "customer_churn_rate", "--window", "trailing", "--config", str(SAMPLE / "kpi.toml"),
                   "-f", "csv")
    assert proc.returncode == 0, proc.stderr
    assert "dau_mau left out" in proc.stderr
    assert {line.split(",")[1] for line in proc.stdout.splitlines()[1:]} == {
        "key_actions_per_user", "session_minutes_per_user", "logins_per_user"}


def test_the_change_table_shows_changes_in_their_units():
    proc = run_kpi("tree", "customer_churn_rate", "--influencers", "logins_per_user", "--config",
                   str(SAMPLE / "kpi.toml"), "--changes", "-f", "table")
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"[+−]\d+\.\d pp", proc.stdout)  # churn's changes in percentage points
    assert re.search(r"[+−]\d+\.\d%", proc.stdout)  # logins per user's relative changes
    # The change column (the last) never holds a raw fraction such as 0.02 or -0.00.
    assert not re.search(r"│ -?\d+\.\d+ +│$", proc.stdout, re.MULTILINE)
