"""Linearity of ``kpi`` on plain event logs (issue 10: cost linear in rows for every engagement metric and table).

Generates plain logs (bench/plain_generate.py, its defaults but ``--events``) at each of ``--sizes`` (default
2.5M, 5M and 10M events) into ``bench/data/lin_<N>/`` when missing, then for each size runs, as separate
processes, best of ``--runs``:

- ``kpi compute <id> --data DIR --from 2023-01 --to 2023-12 -f csv -o /tmp/...`` for every engagement metric id
  (``kpi list -f json``, group ``engagement``; the per-feature ones with ``--by feature``), one process per id,
  and the whole group ``compute engagement`` in one process. The metrics with no default event roles (key
  actions, activation, onboarding, features, PQLs) get them from CONFIG, written to the temp folder and passed
  with ``--config`` (``--no-config``: without it, where they exit 2 naming the missing setting);
- ``compute ... --by account_id`` / ``--by event`` runs;
- the table commands on events: ``cohort --of users --period week``, ``cohort --of accounts``, ``cohort --of users
  --period week --clock rolling``, ``lifecycle``, ``stickiness``, ``funnel "Signed In" "Report Created" "Invite
  Sent"``.

Prints, per command, the seconds and peak RSS (MB) per size and the ratios time(largest)/time(smallest) and
mem(largest)/mem(smallest); with rows x4 a ratio <= ~4 is linear, and a ratio above 1.25x the rows ratio (5 for
the default sizes) is flagged "super-linear". A command that fails keeps its error line in the table and the
JSON (bench/data/linearity.json); an output whose every value is null is flagged "no values" (the plain log has
no "Signed Up" event, so the signup-based metrics have no signups to count). Wall time and peak RSS come from
bench/run.py's ``measure`` (/usr/bin/time -v). Exit 0, even when some commands fail (the failures are part of
the measurement).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import BENCH, ROOT, Run, _git_state, _load, ensure_plain, measure

DEFAULT_SIZES = "2500000,5000000,10000000"
RANGE = ["--from", "2023-01", "--to", "2023-12"]
FUNNEL = ["Signed In", "Report Created", "Invite Sent"]  # present in every plain log (plain_generate.EVENTS)
SUPER = 1.25  # flag a ratio above 1.25x the rows ratio (5 for 2.5M -> 10M)
# The event roles a plain log needs for the metrics that have no default (key actions, activation, onboarding,
# features, PQLs); written to the temp folder and passed with --config unless --no-config. The log has no
# "Signed Up" event, so the signup-based metrics (activation, time to value, onboarding) run on no signups:
# their values come out null, which the table reports as "no values".
CONFIG = """[events]
key_actions = ["Report Created", "Export Downloaded"]
activation = ["Report Created"]
activation_window = "7d"
onboarding = ["Signed In", "Dashboard Viewed", "Report Created"]
[events.features]
reports = ["Report Created"]
exports = ["Export Downloaded"]
search = ["Search Performed"]
[pql]
min_active_users = 2
min_key_actions = 5
"""
PER_FEATURE = ("feature_adoption_rate", "feature_retention_rate")  # reported per feature only: --by feature


def engagement_ids(kpi: str) -> list[str]:
    """The engagement metric ids, in ``kpi list`` order."""
    out = subprocess.run([kpi, "list", "-f", "json"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [m["id"] for m in json.loads(out.stdout) if m.get("group") == "engagement"]


def commands(ids: list[str]) -> list[tuple[str, list[str]]]:
    """``(label, kpi arguments before --data)`` for every measured command."""
    cmds = [(f"compute {i} --by feature", ["compute", i, "--by", "feature"]) if i in PER_FEATURE
            else (f"compute {i}", ["compute", i]) for i in ids]
    cmds.append(("compute engagement (all, one process)", ["compute", "engagement"]))
    cmds += [
        ("compute dau --by account_id", ["compute", "dau", "--by", "account_id"]),
        ("compute dau,mau --by event", ["compute", "dau,mau", "--by", "event"]),
        ("compute logins_per_user --by account_id", ["compute", "logins_per_user", "--by", "account_id"]),
        ("cohort --of users --period week", ["cohort", "--of", "users", "--period", "week"]),
        ("cohort --of accounts", ["cohort", "--of", "accounts"]),
        ("cohort --of users --period week --clock rolling",
         ["cohort", "--of", "users", "--period", "week", "--clock", "rolling"]),
        ("lifecycle", ["lifecycle"]),
        ("stickiness", ["stickiness"]),
        ("funnel " + " ".join(f'"{s}"' for s in FUNNEL), ["funnel", *FUNNEL]),
    ]
    return cmds


def error_line(stderr: str) -> str:
    """The line of stderr that says what went wrong (the last ``error`` line, else the last line)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    errs = [ln for ln in lines if re.search(r"\berror\b", ln, re.IGNORECASE)]
    return (errs or lines or ["(no message)"])[-1][:300]


def output_values(path: Path) -> tuple[int, int] | None:
    """(rows, rows with a non-empty ``value``) of a long CSV output; None for tables without a value column."""
    try:
        with path.open(newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError:
        return None
    if not rows or "value" not in rows[0]:
        return (len(rows), len(rows))
    return (len(rows), sum(1 for r in rows if r["value"] not in ("", "null", "None")))


def best(runs: list[Run], out: Path) -> dict:
    """Best-of-N summary of one command at one size: min seconds, max peak, the error of a failed run."""
    peaks = [r.peak_mb for r in runs if r.peak_mb is not None]
    failed = [r for r in runs if r.returncode != 0]
    counts = None if failed else output_values(out)
    return {
        "seconds": min(r.seconds for r in runs),
        "peak_mb": max(peaks) if peaks else None,
        "returncode": failed[-1].returncode if failed else 0,
        "error": error_line(failed[-1].stderr) if failed else None,
        "runs": [round(r.seconds, 3) for r in runs],
        "output_rows": counts[0] if counts else None,
        "output_values": counts[1] if counts else None,
    }


def ratio(a: float | None, b: float | None) -> float | None:
    """a / b, or None when either is missing."""
    return a / b if a is not None and b else None


def main() -> int:
    """Generate, measure, print the table and write the JSON; returns 0."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--sizes", default=DEFAULT_SIZES, help=f"comma-separated event counts (default {DEFAULT_SIZES})")
    p.add_argument("--runs", type=int, default=1, help="best of N per command and size (default 1)")
    p.add_argument("--only", default="", help="run only the commands whose label contains one of these (comma-sep.)")
    p.add_argument("--no-config", action="store_true", help="without the event roles of CONFIG (their metrics exit 2)")
    p.add_argument("--regenerate", action="store_true", help="regenerate the logs even if present")
    p.add_argument("--json", default=str(BENCH / "data" / "linearity.json"), help="JSON output file")
    p.add_argument("--kpi", default=str(ROOT / ".venv" / "bin" / "kpi"), help="kpi executable")
    a = p.parse_args()

    sizes = sorted(int(s.replace("_", "")) for s in a.sizes.split(",") if s.strip())
    cmds = commands(engagement_ids(a.kpi))
    if a.only:
        keys = [k.strip() for k in a.only.split(",") if k.strip()]
        cmds = [(label, c) for label, c in cmds if any(k in label for k in keys)]
    tmp = Path(tempfile.gettempdir()) / "kpi_linearity"
    tmp.mkdir(exist_ok=True)
    config: list[str] = []
    if not a.no_config:
        (tmp / "kpi.toml").write_text(CONFIG)
        config = ["--config", str(tmp / "kpi.toml")]

    metas = {}
    for n in sizes:
        metas[n] = ensure_plain(BENCH / "data" / f"lin_{n}", n, a.regenerate)
    load_before, git_before = _load(), _git_state()
    started = datetime.now(UTC)
    print(f"{load_before} (before); {os.cpu_count()} cores; {git_before}", file=sys.stderr)

    results: dict[str, dict[int, dict]] = {label: {} for label, _ in cmds}
    for n in sizes:
        rel = os.path.relpath(BENCH / "data" / f"lin_{n}", ROOT)
        print(f"[{n:,} events] {len(cmds)} commands, best of {a.runs} ...", file=sys.stderr)
        for i, (label, args) in enumerate(cmds):
            out = tmp / f"{i:02d}_{n}.csv"
            out.unlink(missing_ok=True)
            argv = [a.kpi, *args, "--data", rel, *RANGE, *config, "-f", "csv", "-o", str(out)]
            runs: list[Run] = []
            for _ in range(a.runs):
                runs.append(measure(argv))
                if runs[-1].returncode != 0:
                    break
            results[label][n] = best(runs, out)
            r = results[label][n]
            state = f"  ERROR: {r['error']}" if r["error"] else ""
            state += "  (no values)" if r["output_values"] == 0 else ""
            print(f"  {label:<48} {r['seconds']:7.2f} s {r['peak_mb'] or 0:7.0f} MB{state}", file=sys.stderr)
    load_after, git_after = _load(), _git_state()

    lo, hi = sizes[0], sizes[-1]
    rows_ratio = metas[hi]["rows"] / metas[lo]["rows"]
    limit = SUPER * rows_ratio
    table = []
    for label, args in cmds:
        res = results[label]
        ok = all(res[n]["error"] is None for n in sizes)
        t = ratio(res[hi]["seconds"], res[lo]["seconds"]) if ok else None
        m = ratio(res[hi]["peak_mb"], res[lo]["peak_mb"]) if ok else None
        flags = [f"super-linear {k}" for k, v in (("time", t), ("memory", m)) if v is not None and v > limit]
        if any(res[n]["output_values"] == 0 for n in sizes):
            flags.append("no values (every value null)")
        table.append({"command": label, "args": args, "sizes": {str(n): res[n] for n in sizes},
                      "time_ratio": t, "mem_ratio": m, "flags": flags})

    names = {n: f"{n / 1e6:g}M" for n in sizes}
    size_head = "".join(f" {names[n] + ' s':>9} {names[n] + ' MB':>9}" for n in sizes)
    head = f"{'command':<48}{size_head} {'time x':>7} {'mem x':>6}  flags"
    print()
    rows = ", ".join(f"{int(metas[n]['rows']):,}" for n in sizes)
    print(f"linearity on plain logs, {rows} rows "
          f"(rows x{rows_ratio:.2f}); --from 2023-01 --to 2023-12; best of {a.runs}")
    print(head)
    print("-" * len(head))
    for row in table:
        cells = ""
        for n in sizes:
            r = row["sizes"][str(n)]
            secs = "ERR" if r["error"] else f"{r['seconds']:.2f}"
            cells += f" {secs:>9} {r['peak_mb'] or 0:>9.0f}"
        t = "-" if row["time_ratio"] is None else f"{row['time_ratio']:.2f}"
        m = "-" if row["mem_ratio"] is None else f"{row['mem_ratio']:.2f}"
        print(f"{row['command']:<48}{cells} {t:>7} {m:>6}  {', '.join(row['flags'])}")
    errors = [(row["command"], n, row["sizes"][str(n)]["error"]) for row in table for n in sizes
              if row["sizes"][str(n)]["error"]]
    if errors:
        print("\nerrors (the command exited non-zero; seconds/MB above are those of the failed run):")
        for label, n, err in errors:
            print(f"  {label} at {n:,}: {err}")
    sup = [(row["command"], [f for f in row["flags"] if f.startswith("super")]) for row in table]
    sup = [(c, f) for c, f in sup if f]
    print(f"\nratios: largest / smallest size; <= ~{rows_ratio:.0f} is linear, > {limit:.1f} flagged super-linear")
    print("super-linear: " + ("; ".join(f"{c} ({', '.join(f)})" for c, f in sup) if sup else "none"))
    print(f"{load_before} (before), {load_after} (after); {os.cpu_count()} cores")
    print(git_before if git_before == git_after else f"{git_before} (before), {git_after} (after: kpi changed!)")

    doc = {
        "started": started.isoformat(timespec="seconds"),
        "finished": datetime.now(UTC).isoformat(timespec="seconds"),
        "git_before": git_before, "git_after": git_after,
        "load_before": load_before, "load_after": load_after, "cores": os.cpu_count(),
        "runs": a.runs, "range": RANGE, "sizes": sizes, "config": None if a.no_config else CONFIG,
        "rows": {str(n): metas[n]["rows"] for n in sizes}, "rows_ratio": rows_ratio,
        "super_linear_above": limit, "commands": table,
    }
    Path(a.json).parent.mkdir(parents=True, exist_ok=True)
    Path(a.json).write_text(json.dumps(doc, indent=1) + "\n")
    print(f"JSON: {os.path.relpath(a.json, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
