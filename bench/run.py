"""Benchmark harness: ``kpi`` vs independent DuckDB references on generated data.

Suites (``--suite revenue|events|plain|all|company|report|every``, default ``all`` = revenue + events: about
7 minutes on 2 cores with cached data; ``every`` adds plain, company and report):

- revenue: generates ``bench/data`` (and a quarter-size copy for the linearity check) when missing,
  runs ``kpi compute <6 MRR metrics>`` and ``duckdb_ref.py`` best-of-N as separate processes measuring
  wall time and peak RSS, checks that every value agrees to 1e-6 (relative, 1e-6 absolute near zero),
  times ``kpi --help`` and ``kpi list``, and prints a table.
- events: generates ``bench/data/events`` (20M events) when missing, does the same for
  ``kpi compute dau,mau,dau_mau`` against ``events_ref.py`` (agreement to 1e-9 relative), then times
  ``kpi cohort --of users --period week`` against the reference's weekly cohort query.
- plain: generates ``bench/data/plain`` (20M events of a plain log: no event ids, no anonymous ids;
  bench/plain_generate.py) when missing, times ``kpi compute dau,mau,dau_mau`` against the plain DuckDB
  query of ``plain_ref.py`` (agreement to 1e-9 relative; target kpi >= 2x faster, peak RSS <= DuckDB's),
  then ``kpi cohort --of users --period week`` and ``kpi lifecycle`` (target <= 2x the kpi dau run;
  the reference's cohort and lifecycle queries are timed beside them for information).
- engines: ``kpi --engine duckdb`` against ``kpi`` (Polars) on the same commands and data: the plain log's
  ``compute dau,mau,dau_mau``, the events log with ids (DuckDB reads and cleans the Parquet itself) and the
  revenue movements at 100k customers; every value must agree (1e-9 relative), target: DuckDB's time and
  peak each <= 1.5x Polars'. For information, weekly cohorts and a funnel of the plain log and monthly
  cohorts of the events log, whose CSV must be identical on both engines.
- company: generates ``bench/data/company`` (bench/company_generate.py) when missing, times
  ``kpi compute all`` against the sum of ``revenue``, ``acquisition``, ``engagement``, ``satisfaction``
  run alone (target <= 1.2x), checks that ``all`` gives exactly the groups' rows, and counts the scans
  of each source (bench/scan_count.py; strace openat as a cross-check).
- report: on the company data, ``kpi report --month <company-to>`` (value, changes, 24 periods of history,
  benchmarks, the tree section of ``--html``) against one ``kpi compute all`` over those 24 months (target
  <= 1.3x), and checks the report's values are compute's.

Exit 0 if all numbers agree, 1 if they disagree, 2 if a command failed to run.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
VENV_PY = ROOT / ".venv" / "bin" / "python"
PY = str(VENV_PY) if VENV_PY.exists() else sys.executable
METRICS = ["mrr", "new_mrr", "expansion_mrr", "contraction_mrr", "churned_mrr", "reactivation_mrr"]
DEFAULT_CUSTOMERS = 100_000
REL_TOL = 1e-6
ABS_TOL = 1e-6
EVENT_METRICS = ["dau", "mau", "dau_mau"]
DEFAULT_EVENTS = 20_000_000
EVENTS_REL_TOL = 1e-9
EVENTS_ABS_TOL = 1e-12
SUITES = ("revenue", "events", "plain", "engines", "all", "company", "report", "every")
PLAIN_RANGE = ("2023-01", "2023-12")
ENGINE_TARGET = 1.5  # issue 11: --engine duckdb within 1.5x of the Polars engine's time and peak memory
REPORT_TARGET = 1.3  # issue 9: kpi report for one month costs no more than 1.3x compute all over its 24 months
COMPANY_GROUPS = ["revenue", "acquisition", "engagement", "satisfaction"]
COMPANY_SOURCES = ["subscriptions", "events", "customers", "spend", "fx_rates", "tickets", "surveys", "traffic"]
COMPANY_TARGET = 1.2  # issue 8: `compute all` costs no more than 1.2x the sum of its groups run alone
# The groups overlap (cac needs revenue's new_customers, tickets_per_user engagement's actors), so their
# sum builds the revenue and engagement bases several times. The stricter yardstick builds each base
# once in separate processes: revenue, engagement, and the acquisition and satisfaction metrics that
# read only their own sources.
COMPANY_OWN = {
    "acq_own": "acquisition_spend,retention_spend,visitor_conversion_rate,bounce_rate",
    "sat_own": "nps,csat,ces,detractor_recovery_rate,tickets,first_response_time,first_response_time_p90,"
    "first_response_rate,unanswered_tickets,resolution_time,reopen_rate",
}
COMPANY_DISJOINT = ["revenue", "engagement", "acq_own", "sat_own"]
DEFAULT_SUITE = "all"
TIME_BIN = "/usr/bin/time" if Path("/usr/bin/time").exists() else None

# fallback when /usr/bin/time is missing: a fresh Python runs the command and reports the children's peak
_RUSAGE_CHILD = (
    "import resource, subprocess, sys\n"
    "rc = subprocess.call(sys.argv[2:])\n"
    "kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "open(sys.argv[1], 'w').write(f'Maximum resident set size (kbytes): {kb}\\n')\n"
    "sys.exit(rc)\n"
)


@dataclass
class Run:
    """One measured process run."""

    seconds: float
    peak_mb: float | None
    returncode: int
    stderr: str


@dataclass
class Best:
    """Best-of-N summary: minimum wall time, maximum peak RSS over the runs."""

    seconds: float
    peak_mb: float | None
    runs: list[Run]

    @property
    def ok(self) -> bool:
        """True when every run exited 0."""
        return all(r.returncode == 0 for r in self.runs)


def _env() -> dict[str, str]:
    """The environment for child processes: no ``KPI_*`` overrides, no colour."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPI_")}
    env["NO_COLOR"] = "1"
    return env


def measure(cmd: list[str]) -> Run:
    """Run ``cmd`` from the project root; wall time from this process, peak RSS of the child."""
    with tempfile.NamedTemporaryFile("r", suffix=".rusage") as rep:
        if TIME_BIN:
            full = [TIME_BIN, "-v", "-o", rep.name, *cmd]
        else:
            full = [PY, "-c", _RUSAGE_CHILD, rep.name, *cmd]
        t0 = time.perf_counter()
        proc = subprocess.run(full, cwd=ROOT, env=_env(), capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - t0
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", Path(rep.name).read_text())
    peak = int(m.group(1)) / 1024 if m else None
    return Run(seconds, peak, proc.returncode, proc.stderr)


def best_of(cmds: dict[str, list[str]], n: int) -> dict[str, Best]:
    """Run each command ``n`` times, interleaved; stop early for a command that fails."""
    runs: dict[str, list[Run]] = {k: [] for k in cmds}
    for _ in range(n):
        for key, cmd in cmds.items():
            if runs[key] and runs[key][-1].returncode != 0:
                continue
            runs[key].append(measure(cmd))
    out = {}
    for key, rs in runs.items():
        peaks = [r.peak_mb for r in rs if r.peak_mb is not None]
        out[key] = Best(min(r.seconds for r in rs), max(peaks) if peaks else None, rs)
    return out


def ensure_data(out_dir: Path, customers: int, years: int, first_year: int, force: bool) -> dict[str, float]:
    """Generate ``out_dir/subscriptions.parquet`` unless it exists with the same arguments."""
    meta_path = out_dir / ".generated.json"
    want = {"customers": customers, "years": years, "first_year": first_year}
    if not force and meta_path.exists() and (out_dir / "subscriptions.parquet").exists():
        meta = json.loads(meta_path.read_text())
        if all(meta.get(k) == v for k, v in want.items()):
            return {**meta, "cached": True}
    cmd = [PY, str(BENCH / "generate.py"), "--customers", str(customers), "--years", str(years)]
    cmd += ["--first-year", str(first_year), "--out", str(out_dir)]
    rel = out_dir.relative_to(ROOT)
    print(f"generating {rel} ({customers} customers, {years} years) ...", file=sys.stderr)
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return {**json.loads(meta_path.read_text()), "cached": False}


def read_long(path: Path) -> dict[tuple[str, str], float | None]:
    """``{(metric, period): value}`` from a long CSV with at least metric, period, value columns."""
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"metric", "period", "value"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(f"{path}: missing columns {sorted(missing)}; header={reader.fieldnames}")
        out: dict[tuple[str, str], float | None] = {}
        for row in reader:
            key = (row["metric"], row["period"])
            if key in out:
                raise ValueError(f"{path}: duplicate row for {key}")
            out[key] = float(row["value"]) if row["value"] not in ("", "null", "None") else None
    return out


def compare(
    kpi: dict[tuple[str, str], float | None],
    ref: dict[tuple[str, str], float | None],
    metrics: list[str] = METRICS,
    rel_tol: float = REL_TOL,
    abs_tol: float = ABS_TOL,
) -> list[str]:
    """Human-readable disagreements between the kpi and the reference outputs."""
    problems = []
    order = {m: i for i, m in enumerate(metrics)}
    for key in sorted(set(ref) | set(kpi), key=lambda k: (order.get(k[0], 99), k[1])):
        k, r = kpi.get(key, "missing"), ref.get(key, "missing")
        if isinstance(k, float) and isinstance(r, float):
            if not math.isclose(k, r, rel_tol=rel_tol, abs_tol=abs_tol):
                problems.append(f"{key[0]:<17} {key[1]}  kpi={k!r:<22} ref={r!r:<22} diff={k - r:+.6g}")
        elif k != r:
            problems.append(f"{key[0]:<17} {key[1]}  kpi={k!r:<22} ref={r!r}")
    return problems


def fmt_s(x: float | None) -> str:
    """Seconds for the table."""
    return "-" if x is None else f"{x:.3f}"


def fmt_mb(x: float | None) -> str:
    """Megabytes for the table."""
    return "-" if x is None else f"{x:.0f}"


def _fail(label: str, best: Best) -> None:
    last = best.runs[-1]
    tail = "\n".join(last.stderr.strip().splitlines()[-15:])
    print(f"\n{label} failed (exit {last.returncode}):\n{tail}", file=sys.stderr)


def run_revenue(a: argparse.Namespace) -> int:
    """The revenue suite (MRR movements, linearity, start-up); returns the exit status."""
    frm = f"{a.first_year}-01"
    to = f"{a.first_year + a.years - 1}-12"
    data_dir = BENCH / "data"
    # the default scale lives in bench/data itself; any other customer count in bench/data/n<N>/
    full_dir = data_dir if a.customers == DEFAULT_CUSTOMERS else data_dir / f"n{a.customers}"
    sizes = [("full", a.customers, full_dir, Path(tempfile.gettempdir()) / "kpi_out.csv")]
    if not a.no_linearity:
        q = max(1, a.customers // 4)
        sizes.append(("quarter", q, data_dir / f"n{q}", Path(tempfile.gettempdir()) / "kpi_out_quarter.csv"))

    status = 0
    results = []
    for label, n, ddir, kpi_out in sizes:
        meta = ensure_data(ddir, n, a.years, a.first_year, a.regenerate)
        ref_out = kpi_out.with_name(kpi_out.stem + "_ref.csv")
        rel = os.path.relpath(ddir, ROOT)
        span = ["--from", frm, "--to", to, "--data", rel]
        cmds = {
            "kpi": [a.kpi, "compute", ",".join(METRICS), *span, "-f", "csv", "-o", str(kpi_out)],
            "duckdb": [PY, str(BENCH / "duckdb_ref.py"), *span, "-o", str(ref_out)],
        }
        print(f"[{label}] running kpi and duckdb, best of {a.runs} ...", file=sys.stderr)
        best = best_of(cmds, a.runs)
        agree: str
        if not best["kpi"].ok or not best["duckdb"].ok:
            for key in ("kpi", "duckdb"):
                if not best[key].ok:
                    _fail(f"[{label}] {key}", best[key])
            status, agree = 2, "n/a"
        else:
            problems = compare(read_long(kpi_out), read_long(ref_out))
            agree = "yes" if not problems else f"NO ({len(problems)})"
            if problems:
                status = max(status, 1)
                print(f"\n[{label}] {len(problems)} values disagree (first 20):", file=sys.stderr)
                print("\n".join("  " + s for s in problems[:20]), file=sys.stderr)
        results.append((label, n, meta, best, agree))

    print()
    head = f"{'dataset':<8} {'customers':>9} {'rows':>9} {'gen s':>6} {'kpi s':>8} {'duckdb s':>9}"
    head += f" {'duck/kpi':>8} {'kpi MB':>7} {'duck MB':>8}  agree"
    print(head)
    print("-" * len(head))
    for label, n, meta, best, agree in results:
        k, d = best["kpi"], best["duckdb"]
        ratio = f"{d.seconds / k.seconds:.2f}" if k.ok and d.ok else "-"
        gen = f"{meta['seconds']:.1f}" if "seconds" in meta else "?"
        gen += "*" if meta.get("cached") else ""
        print(
            f"{label:<8} {n:>9} {int(meta['rows']):>9} {gen:>6} {fmt_s(k.seconds if k.ok else None):>8}"
            f" {fmt_s(d.seconds if d.ok else None):>9} {ratio:>8} {fmt_mb(k.peak_mb):>7}"
            f" {fmt_mb(d.peak_mb):>8}  {agree}"
        )
    print(f"(best of {a.runs} wall seconds; peak RSS = max over runs; * = generation time of cached data)")
    print("duck/kpi > 1 means kpi is faster")

    if len(results) == 2 and all(r[3]["kpi"].ok and r[3]["duckdb"].ok for r in results):
        big, small = results[0][3], results[1][3]
        print(
            f"\nlinearity ({results[0][1]} vs {results[1][1]} customers, rows x"
            f"{results[0][2]['rows'] / results[1][2]['rows']:.2f}): "
            f"kpi time x{big['kpi'].seconds / small['kpi'].seconds:.2f}, "
            f"duckdb time x{big['duckdb'].seconds / small['duckdb'].seconds:.2f} (<= ~4 is linear)"
        )

    print(f"\nstartup, best of {a.startup_runs}:")
    startup = best_of({"--help": [a.kpi, "--help"], "list": [a.kpi, "list"]}, a.startup_runs)
    for key, b in startup.items():
        state = "" if b.ok else f"  FAILED (exit {b.runs[-1].returncode})"
        print(f"  kpi {key:<7} {b.seconds:.3f} s  peak {fmt_mb(b.peak_mb)} MB{state}")
        if not b.ok:
            _fail(f"kpi {key}", b)
            status = max(status, 2)
    return status


def ensure_events(out_dir: Path, events: int, force: bool) -> dict[str, float]:
    """Generate ``out_dir/events.parquet`` unless it exists with the same arguments."""
    meta_path = out_dir / ".generated.json"
    if not force and meta_path.exists() and (out_dir / "events.parquet").exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("events") == events:
            return {**meta, "cached": True}
    cmd = [PY, str(BENCH / "events_generate.py"), "--events", str(events), "--out", str(out_dir)]
    print(f"generating {out_dir.relative_to(ROOT)} ({events} events) ...", file=sys.stderr)
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return {**json.loads(meta_path.read_text()), "cached": False}


def read_cohort(path: Path) -> dict[tuple[str, int], tuple[float, float | None]]:
    """``{(cohort, period_index): (cohort_size, retained)}``; summary rows (no cohort) are skipped."""
    with path.open(newline="") as fh:
        out = {}
        for row in csv.DictReader(fh):
            if not row.get("cohort"):
                continue
            ret = row["retained"]
            out[(row["cohort"], int(row["period_index"]))] = (
                float(row["cohort_size"]),
                float(ret) if ret not in ("", "null", "None") else None,
            )
    return out


def compare_cohorts(kpi: dict, ref: dict) -> list[str]:
    """Cells whose size or retained count differ (a null kpi cell -- incomplete -- is not compared)."""
    problems = [f"{key} only in {'kpi' if key in kpi else 'reference'}" for key in sorted(set(kpi) ^ set(ref))]
    for key in sorted(set(kpi) & set(ref)):
        (ks, kr), (rs, rr) = kpi[key], ref[key]
        if ks != rs or (kr is not None and kr != rr):
            problems.append(f"{key}: kpi size={ks} retained={kr}, ref size={rs} retained={rr}")
    return problems


def _git_state() -> str:
    """``HEAD`` of the project and whether ``kpi_cli`` has uncommitted changes (the code being timed)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "kpi_cli"], cwd=ROOT, capture_output=True, text=True)
    except OSError:
        return "git state unknown"
    return f"kpi at {head.stdout.strip() or '?'}" + (" + uncommitted kpi_cli changes" if dirty.stdout.strip() else "")


def _load() -> str:
    """The 1/5/15-minute load averages, for the record (another process may share the 2 cores)."""
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def run_events(a: argparse.Namespace) -> int:
    """The events suite (dau/mau/dau_mau agreement and speed, weekly cohort speed); returns the exit status."""
    ddir = BENCH / "data" / ("events" if a.events == DEFAULT_EVENTS else f"events_{a.events}")
    meta = ensure_events(ddir, a.events, a.regenerate)
    rel = os.path.relpath(ddir, ROOT)
    tmp = Path(tempfile.gettempdir())
    kpi_out, ref_out = tmp / "kpi_ev.csv", tmp / "kpi_ev_ref.csv"
    kpi_coh, ref_coh = tmp / "kpi_cohort.csv", tmp / "kpi_cohort_ref.csv"
    span = ["--from", "2024-01", "--to", "2024-12", "--data", rel]
    ref = [PY, str(BENCH / "events_ref.py"), *span]
    dau_cmds = {
        "kpi": [a.kpi, "compute", ",".join(EVENT_METRICS), *span, "-f", "csv", "-o", str(kpi_out)],
        "duckdb": [*ref, "-o", str(ref_out)],
    }
    cohort_cmds = {
        "kpi": [a.kpi, "cohort", "--of", "users", "--period", "week", *span, "-f", "csv", "-o", str(kpi_coh)],
        "duckdb": [*ref, "--cohort", "-o", str(ref_coh)],
    }
    load_before, git_before = _load(), _git_state()
    status = 0
    rows = []
    for label, cmds in (("dau,mau,dau_mau", dau_cmds), ("cohort week", cohort_cmds)):
        print(f"[events {label}] running kpi and duckdb, best of {a.runs} ...", file=sys.stderr)
        best = best_of(cmds, a.runs)
        agree = "n/a"
        if not best["kpi"].ok or not best["duckdb"].ok:
            for key in ("kpi", "duckdb"):
                if not best[key].ok:
                    _fail(f"[events {label}] {key}", best[key])
            status = 2
        elif label == "cohort week":  # timing only: reported, does not change the exit status
            problems = compare_cohorts(read_cohort(kpi_coh), read_cohort(ref_coh))
            agree = "yes*" if not problems else f"no* ({len(problems)})"
            if problems:
                print(f"\n[events cohort] {len(problems)} cells differ (first 10, informational):", file=sys.stderr)
                print("\n".join("  " + p for p in problems[:10]), file=sys.stderr)
        else:
            problems = compare(read_long(kpi_out), read_long(ref_out), EVENT_METRICS, EVENTS_REL_TOL, EVENTS_ABS_TOL)
            agree = "yes" if not problems else f"NO ({len(problems)})"
            if problems:
                status = max(status, 1)
                print(f"\n[events] {len(problems)} values disagree (first 20):", file=sys.stderr)
                print("\n".join("  " + p for p in problems[:20]), file=sys.stderr)
        rows.append((label, best, agree))
    load_after, git_after = _load(), _git_state()

    gen = f"{meta['seconds']:.1f} s" + (" (cached)" if meta.get("cached") else "")
    print(f"\nevents: {rel}/events.parquet, {int(meta['rows']):,} rows, generated in {gen}")
    head = f"{'command':<16} {'kpi s':>8} {'duckdb s':>9} {'duck/kpi':>8} {'kpi MB':>7} {'duck MB':>8}  agree"
    print(head)
    print("-" * len(head))
    for label, best, agree in rows:
        k, d = best["kpi"], best["duckdb"]
        ratio = f"{d.seconds / k.seconds:.2f}" if k.ok and d.ok else "-"
        print(
            f"{label:<16} {fmt_s(k.seconds if k.ok else None):>8} {fmt_s(d.seconds if d.ok else None):>9}"
            f" {ratio:>8} {fmt_mb(k.peak_mb):>7} {fmt_mb(d.peak_mb):>8}  {agree}"
        )
    for label, best, _ in rows:
        each = "  ".join(f"{key} " + "/".join(f"{r.seconds:.1f}" for r in b.runs) for key, b in best.items())
        print(f"  {label} runs: {each}")
    print(f"(best of {a.runs} wall seconds; peak RSS = max over runs; duck/kpi > 1 means kpi is faster;")
    print(" * cohort cells compared for information only: cohort_size and retained, kpi's null cells skipped)")
    (_, dau, _), (_, coh, _) = rows
    if all(b["kpi"].ok and b["duckdb"].ok for b in (dau, coh)):
        speed = dau["duckdb"].seconds / dau["kpi"].seconds
        mem_ok = None not in (dau["kpi"].peak_mb, dau["duckdb"].peak_mb) and dau["kpi"].peak_mb <= dau["duckdb"].peak_mb
        cohort_ratio = coh["kpi"].seconds / dau["kpi"].seconds
        print("targets:")
        print(f"  dau,mau,dau_mau >= 2x faster than DuckDB: {speed:.2f}x  {'met' if speed >= 2 else 'MISSED'}")
        print(
            f"  peak RSS <= DuckDB's: {fmt_mb(dau['kpi'].peak_mb)} vs {fmt_mb(dau['duckdb'].peak_mb)} MB"
            f"  {'met' if mem_ok else 'MISSED'}"
        )
        print(f"  kpi cohort <= 2x kpi dau run: {cohort_ratio:.2f}x  {'met' if cohort_ratio <= 2 else 'MISSED'}")
    print(f"{load_before} (before), {load_after} (after); {os.cpu_count()} cores")
    print(git_before if git_before == git_after else f"{git_before} (before), {git_after} (after: kpi changed!)")
    return status


def ensure_plain(out_dir: Path, events: int, force: bool) -> dict:
    """Generate the plain log ``out_dir/events.parquet`` unless it exists with the same arguments."""
    meta_path = out_dir / ".generated.json"
    if not force and meta_path.exists() and (out_dir / "events.parquet").exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("events") == events:
            return {**meta, "cached": True}
    cmd = [PY, str(BENCH / "plain_generate.py"), "--events", str(events), "--out", str(out_dir)]
    print(f"generating {out_dir.relative_to(ROOT)} ({events} plain events) ...", file=sys.stderr)
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return {**json.loads(meta_path.read_text()), "cached": False}


def read_table(path: Path, key: str) -> dict[str, dict[str, str]]:
    """``{row[key]: row}`` of a CSV (lifecycle tables; rows without the key are skipped)."""
    with path.open(newline="") as fh:
        return {row[key]: row for row in csv.DictReader(fh) if row.get(key)}


def compare_lifecycle(kpi: dict, ref: dict) -> list[str]:
    """Periods whose new/returning/resurrecting/dormant counts differ (informational)."""
    problems = [f"{key} only in {'kpi' if key in kpi else 'reference'}" for key in sorted(set(kpi) ^ set(ref))]
    for key in sorted(set(kpi) & set(ref)):
        for col in ("new", "returning", "resurrecting", "dormant"):
            k, r = kpi[key].get(col), ref[key].get(col)
            if k is None or r is None or float(k or "nan") != float(r or "nan"):
                problems.append(f"{key} {col}: kpi {k}, ref {r}")
    return problems


def run_plain(a: argparse.Namespace) -> int:
    """The plain-log suite (issue 10): dau/mau/dau_mau vs a plain DuckDB query; cohort and lifecycle times."""
    ddir = BENCH / "data" / ("plain" if a.events == DEFAULT_EVENTS else f"plain_{a.events}")
    meta = ensure_plain(ddir, a.events, a.regenerate)
    rel = os.path.relpath(ddir, ROOT)
    tmp = Path(tempfile.gettempdir())
    out = {name: tmp / f"kpi_plain_{name}.csv" for name in ("dau", "dau_ref", "coh", "coh_ref", "life", "life_ref")}
    span = ["--from", PLAIN_RANGE[0], "--to", PLAIN_RANGE[1], "--data", rel]
    ref = [PY, str(BENCH / "plain_ref.py"), *span]
    suites = {
        "dau,mau,dau_mau": {
            "kpi": [a.kpi, "compute", ",".join(EVENT_METRICS), *span, "-f", "csv", "-o", str(out["dau"])],
            "duckdb": [*ref, "-o", str(out["dau_ref"])],
        },
        "cohort week": {
            "kpi": [a.kpi, "cohort", "--of", "users", "--period", "week", *span, "-f", "csv", "-o", str(out["coh"])],
            "duckdb": [*ref, "--cohort", "-o", str(out["coh_ref"])],
        },
        "lifecycle": {
            "kpi": [a.kpi, "lifecycle", *span, "-f", "csv", "-o", str(out["life"])],
            "duckdb": [*ref, "--lifecycle", "-o", str(out["life_ref"])],
        },
    }
    load_before, git_before = _load(), _git_state()
    status = 0
    rows = []
    for label, cmds in suites.items():
        print(f"[plain {label}] running kpi and duckdb, best of {a.runs} ...", file=sys.stderr)
        best = best_of(cmds, a.runs)
        agree = "n/a"
        if not best["kpi"].ok or not best["duckdb"].ok:
            for key in ("kpi", "duckdb"):
                if not best[key].ok:
                    _fail(f"[plain {label}] {key}", best[key])
            status = 2
        elif label == "dau,mau,dau_mau":
            problems = compare(
                read_long(out["dau"]), read_long(out["dau_ref"]), EVENT_METRICS, EVENTS_REL_TOL, EVENTS_ABS_TOL
            )
            agree = "yes" if not problems else f"NO ({len(problems)})"
            if problems:
                status = max(status, 1)
                print(f"\n[plain] {len(problems)} values disagree (first 20):", file=sys.stderr)
                print("\n".join("  " + p for p in problems[:20]), file=sys.stderr)
        else:  # timing only: cells compared for information, the exit status does not change
            if label == "cohort week":
                problems = compare_cohorts(read_cohort(out["coh"]), read_cohort(out["coh_ref"]))
            else:
                problems = compare_lifecycle(read_table(out["life"], "period"), read_table(out["life_ref"], "period"))
            agree = "yes*" if not problems else f"no* ({len(problems)})"
            if problems:
                print(f"\n[plain {label}] {len(problems)} cells differ (first 10, informational):", file=sys.stderr)
                print("\n".join("  " + p for p in problems[:10]), file=sys.stderr)
        rows.append((label, best, agree))
    load_after, git_after = _load(), _git_state()

    gen = f"{meta['seconds']:.1f} s" + (" (cached)" if meta.get("cached") else "")
    per_user = meta.get("events_per_user", {})
    print(f"\nplain: {rel}/events.parquet, {int(meta['rows']):,} rows, {meta.get('users', 0):,} users, "
          f"{meta.get('row_groups', '?')} row groups, {meta.get('bytes', 0) / 1e6:,.0f} MB, generated in {gen}")
    print(f"  events per user p50 {per_user.get('p50')}, p90 {per_user.get('p90')}, p99 {per_user.get('p99')}, "
          f"max {per_user.get('max')}; top 1 % make {100 * meta.get('top_1pct_share', 0):.0f} %; "
          f"{meta.get('duplicate_rows', 0):,} exact duplicate rows; {meta.get('user_days', 0):,} user-days")
    head = f"{'command':<16} {'kpi s':>8} {'duckdb s':>9} {'duck/kpi':>8} {'kpi MB':>7} {'duck MB':>8}  agree"
    print(head)
    print("-" * len(head))
    for label, best, agree in rows:
        k, d = best["kpi"], best["duckdb"]
        ratio = f"{d.seconds / k.seconds:.2f}" if k.ok and d.ok else "-"
        print(
            f"{label:<16} {fmt_s(k.seconds if k.ok else None):>8} {fmt_s(d.seconds if d.ok else None):>9}"
            f" {ratio:>8} {fmt_mb(k.peak_mb):>7} {fmt_mb(d.peak_mb):>8}  {agree}"
        )
    for label, best, _ in rows:
        each = "  ".join(f"{key} " + "/".join(f"{r.seconds:.1f}" for r in b.runs) for key, b in best.items())
        print(f"  {label} runs: {each}")
    print(f"(best of {a.runs} wall seconds; peak RSS = max over runs (neither tool starts child processes);")
    print(" duck/kpi > 1 means kpi is faster; * cohort and lifecycle are timing targets: their cells are compared")
    print(" for information only (kpi's null cohort cells skipped), the DuckDB times are for information)")
    dau, coh, life = (best for _, best, _ in rows)
    print("targets:")
    if dau["kpi"].ok and dau["duckdb"].ok:
        speed = dau["duckdb"].seconds / dau["kpi"].seconds
        kmb, dmb = dau["kpi"].peak_mb, dau["duckdb"].peak_mb
        mem_ok = kmb is not None and dmb is not None and kmb <= dmb
        print(f"  dau,mau,dau_mau >= 2x faster than DuckDB: {speed:.2f}x  {'met' if speed >= 2 else 'MISSED'}")
        print(f"  peak RSS <= DuckDB's: {fmt_mb(kmb)} vs {fmt_mb(dmb)} MB  {'met' if mem_ok else 'MISSED'}")
    for label, best in (("cohort", coh), ("lifecycle", life)):
        if best["kpi"].ok and dau["kpi"].ok:
            ratio = best["kpi"].seconds / dau["kpi"].seconds
            print(f"  kpi {label} <= 2x kpi dau run: {ratio:.2f}x  {'met' if ratio <= 2 else 'MISSED'}")
    print(f"{load_before} (before), {load_after} (after); {os.cpu_count()} cores")
    print(git_before if git_before == git_after else f"{git_before} (before), {git_after} (after: kpi changed!)")
    if Path(a.kpi).resolve() != (ROOT / ".venv" / "bin" / "kpi").resolve():
        print(f"kpi executable: {a.kpi} (the git state above is the project's, not necessarily this kpi's)")
    return status


DEFAULT_TICKETS = 1_000_000
DEFAULT_SURVEYS = 200_000
DEFAULT_SESSIONS = 3_000_000


def ensure_company(a: argparse.Namespace) -> tuple[Path, dict]:
    """Generate the company folder (and the billing and event files it starts from) unless current."""
    data = BENCH / "data"
    subs_dir = data if a.customers == DEFAULT_CUSTOMERS else data / f"n{a.customers}"
    ev_dir = data / ("events" if a.events == DEFAULT_EVENTS else f"events_{a.events}")
    ensure_data(subs_dir, a.customers, a.years, a.first_year, a.regenerate)
    ensure_events(ev_dir, a.events, a.regenerate)
    default = (a.customers, a.events, a.tickets, a.surveys, a.sessions) == (
        DEFAULT_CUSTOMERS, DEFAULT_EVENTS, DEFAULT_TICKETS, DEFAULT_SURVEYS, DEFAULT_SESSIONS)
    out = data / ("company" if default else f"company_{a.customers}_{a.events}_{a.tickets}_{a.surveys}_{a.sessions}")
    meta_path = out / ".generated.json"
    inputs = [subs_dir / "subscriptions.parquet", ev_dir / "events.parquet"]
    want = {"tickets": a.tickets, "surveys": a.surveys, "sessions": a.sessions}
    if not a.regenerate and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        newer = any(f.stat().st_mtime > meta_path.stat().st_mtime for f in inputs)
        if not newer and all(meta.get(k) == v for k, v in want.items()):
            return out, {**meta, "cached": True}
    cmd = [PY, str(BENCH / "company_generate.py"), "--subscriptions", str(inputs[0]), "--events", str(inputs[1])]
    cmd += ["--tickets", str(a.tickets), "--surveys", str(a.surveys), "--sessions", str(a.sessions), "--out", str(out)]
    print(f"generating {out.relative_to(ROOT)} ...", file=sys.stderr)
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return out, {**json.loads(meta_path.read_text()), "cached": False}


def compare_company(all_out: Path, group_outs: dict[str, Path]) -> tuple[int, list[str]]:
    """Rows of ``compute all`` against the union of the groups' rows: (rows compared, problems).

    Every metric of a group must appear in ``all`` with the same periods, values, numerators,
    denominators and completeness (1e-9 relative); ``all`` must hold no metric no group has.
    """
    import polars as pl

    key = ["metric", "period"]
    whole = pl.read_parquet(all_out)
    parts = pl.concat([pl.read_parquet(p) for p in group_outs.values()], how="vertical_relaxed")
    problems: list[str] = []
    repeated = parts.group_by(key).agg(pl.len().alias("n"), pl.col("value").n_unique().alias("values"))
    if repeated.filter(pl.col("values") > 1).height:  # a metric in two groups must agree with itself
        problems.append(f"{repeated.filter(pl.col('values') > 1).height} (metric, period) differ between groups")
    parts = parts.unique(key, keep="first", maintain_order=True)
    only_all = sorted(set(whole["metric"]) - set(parts["metric"]))
    only_groups = sorted(set(parts["metric"]) - set(whole["metric"]))
    if only_all:
        problems.append(f"metrics only in all: {', '.join(only_all)}")
    if only_groups:
        problems.append(f"metrics of a group missing from all: {', '.join(only_groups)}")
    joined = whole.join(parts, on=key, how="full", suffix="_g", coalesce=True)
    for col in ("value", "numerator", "denominator"):
        a_, b_ = pl.col(col), pl.col(f"{col}_g")
        close = (a_ - b_).abs() <= 1e-9 * pl.max_horizontal(a_.abs(), b_.abs()) + 1e-12
        bad = joined.filter(~(close.fill_null(False) | (a_.is_null() & b_.is_null()) | (a_.is_nan() & b_.is_nan())))
        for row in bad.head(5).iter_rows(named=True):
            problems.append(f"{row['metric']} {row['period']} {col}: all={row[col]!r} group={row[col + '_g']!r}")
        if bad.height > 5:
            problems.append(f"... {bad.height - 5} more {col} differences")
    flags = joined.filter(pl.col("complete") != pl.col("complete_g"))
    if flags.height:
        problems.append(f"{flags.height} rows differ in complete")
    return whole.height, problems


def count_scans(cmd: list[str], label: str) -> dict[str, int] | None:
    """Scans per company source in one run of ``cmd`` (a kpi command line), by bench/scan_count.py."""
    with tempfile.NamedTemporaryFile("r", suffix=".json") as rep:
        full = [PY, str(BENCH / "scan_count.py"), "--json", rep.name, "--", *cmd[1:]]
        proc = subprocess.run(full, cwd=ROOT, env=_env(), capture_output=True, text=True, check=False)
        text = Path(rep.name).read_text()
    if proc.returncode != 0 or not text:
        print(f"[company] scan count of {label} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
        return None
    found = json.loads(text)["scans"]
    out: dict[str, int] = {}
    for path, n in found.items():
        name = Path(path).name.split(".")[0]
        out[name] = out.get(name, 0) + n
    return out


def strace_opens(cmd: list[str]) -> dict[str, int] | None:
    """``openat`` calls per file of the data folder in one run of ``cmd`` (``strace -f``), or None."""
    strace = "/usr/bin/strace" if Path("/usr/bin/strace").exists() else None
    if strace is None:
        return None
    with tempfile.NamedTemporaryFile("r", suffix=".strace") as rep:
        full = [strace, "-f", "-qq", "-e", "trace=openat", "-o", rep.name, *cmd]
        proc = subprocess.run(full, cwd=ROOT, env=_env(), capture_output=True, text=True, check=False)
        lines = Path(rep.name).read_text().splitlines()
    if proc.returncode != 0:
        return None
    out: dict[str, int] = {}
    for line in lines:
        m = re.search(r'openat\([^"]*"([^"]+)"', line)
        if m and "ENOENT" not in line and Path(m.group(1)).parent.name.startswith("company"):
            name = Path(m.group(1)).name.split(".")[0]
            out[name] = out.get(name, 0) + 1
    return out


def run_engines(a: argparse.Namespace) -> int:
    """``--engine duckdb`` against the default engine on the plain, events and billing workloads (issue 11)."""
    plain = BENCH / "data" / "plain"
    events = BENCH / "data" / "events"
    ensure_plain(plain, DEFAULT_EVENTS, a.regenerate)
    ensure_events(events, DEFAULT_EVENTS, a.regenerate)
    ensure_data(BENCH / "data", DEFAULT_CUSTOMERS, 5, 2020, a.regenerate)
    tmp = Path(tempfile.gettempdir())
    work = {
        "plain dau,mau,dau_mau": (["compute", ",".join(EVENT_METRICS), "--from", PLAIN_RANGE[0], "--to",
                                   PLAIN_RANGE[1], "--data", os.path.relpath(plain, ROOT)], EVENT_METRICS),
        "events dau,mau,dau_mau": (["compute", ",".join(EVENT_METRICS), "--from", "2024-01", "--to", "2024-12",
                                    "--data", os.path.relpath(events, ROOT)], EVENT_METRICS),
        "revenue 6 MRR metrics": (["compute", ",".join(METRICS), "--from", "2020-01", "--to", "2024-12",
                                   "--data", os.path.relpath(BENCH / "data", ROOT)], METRICS),
        # Table commands, for information (no target): their CSV must be the same, byte for byte.
        "plain cohort (weeks)": (["cohort", "--of", "users", "--period", "week", "--from", PLAIN_RANGE[0], "--to",
                                  PLAIN_RANGE[1], "--data", os.path.relpath(plain, ROOT)], None),
        "plain funnel (3 steps)": (["funnel", "Signed In", "Report Created", "Export Downloaded", "--from",
                                    PLAIN_RANGE[0], "--to", PLAIN_RANGE[1], "--data", os.path.relpath(plain, ROOT)],
                                   None),
        "events cohort (months)": (["cohort", "--of", "users", "--period", "month", "--from", "2024-01", "--to",
                                    "2024-12", "--data", os.path.relpath(events, ROOT)], None),
    }
    load_before = _load()
    status, rows = 0, []
    for label, (args, metrics) in work.items():
        outs = {e: tmp / f"kpi_engine_{e}.csv" for e in ("polars", "duckdb")}
        cmds = {e: [a.kpi, *args, "--engine", e, "-f", "csv", "-o", str(outs[e])] for e in outs}
        print(f"[engines {label}] running kpi --engine polars and duckdb, best of {a.runs} ...", file=sys.stderr)
        best = best_of(cmds, a.runs)
        if not all(b.ok for b in best.values()):
            for key, b in best.items():
                if not b.ok:
                    _fail(f"[engines {label}] {key}", b)
            status = 2
            rows.append((label, best, "n/a"))
            continue
        if metrics is None:
            same = outs["duckdb"].read_bytes() == outs["polars"].read_bytes()
            problems = [] if same else [f"{outs['duckdb']} and {outs['polars']} differ"]
        else:
            problems = compare(read_long(outs["duckdb"]), read_long(outs["polars"]), metrics, EVENTS_REL_TOL,
                               EVENTS_ABS_TOL)
        if problems:
            status = max(status, 1)
            print(f"\n[engines {label}] {len(problems)} values disagree (first 20):", file=sys.stderr)
            print("\n".join("  " + p for p in problems[:20]), file=sys.stderr)
        rows.append((label, best, "yes" if not problems else f"NO ({len(problems)})"))
    head = (f"{'workload':<24} {'polars s':>9} {'duckdb s':>9} {'time x':>7} {'polars MB':>10} {'duckdb MB':>10}"
            "  agree")
    print(head)
    print("-" * len(head))
    for label, best, agree in rows:
        pol, duck = best["polars"], best["duckdb"]
        t = f"{duck.seconds / pol.seconds:.2f}" if pol.ok and duck.ok else "-"
        m = f" {duck.peak_mb / pol.peak_mb:.2f}x mem" if pol.peak_mb and duck.peak_mb else ""
        print(f"{label:<24} {fmt_s(pol.seconds if pol.ok else None):>9} {fmt_s(duck.seconds if duck.ok else None):>9}"
              f" {t:>7} {fmt_mb(pol.peak_mb):>10} {fmt_mb(duck.peak_mb):>10}  {agree}{m}")
    for label, best, _ in rows:
        each = "  ".join(f"{key} " + "/".join(f"{r.seconds:.1f}" for r in b.runs) for key, b in best.items())
        print(f"  {label} runs: {each}")
    print(f"targets (duckdb <= {ENGINE_TARGET}x polars, time and peak; the table commands have none):")
    for label, best, _ in rows:
        if work[label][1] is None:
            continue
        pol, duck = best["polars"], best["duckdb"]
        if pol.ok and duck.ok and pol.peak_mb and duck.peak_mb:
            tr, mr = duck.seconds / pol.seconds, duck.peak_mb / pol.peak_mb
            met = "met" if tr <= ENGINE_TARGET and mr <= ENGINE_TARGET else "MISSED"
            print(f"  {label}: time {tr:.2f}x, peak {mr:.2f}x  {met}")
    print(f"{load_before} (before), {_load()} (after); {os.cpu_count()} cores; {_git_state()}")
    return status


def run_company(a: argparse.Namespace) -> int:
    """The company suite: ``compute all`` vs the sum of its groups run alone, and scans per source."""
    ddir, meta = ensure_company(a)
    rel = os.path.relpath(ddir, ROOT)
    tmp = Path(tempfile.gettempdir())
    span = ["--from", a.company_from, "--to", a.company_to, "--data", rel, "--config", f"{rel}/kpi.toml"]
    span += ["--currency", "USD", "-f", "parquet"]
    outs = {g: tmp / f"kpi_company_{g}.parquet" for g in ["all", *COMPANY_GROUPS, *COMPANY_OWN]}
    cmds = {g: [a.kpi, "compute", COMPANY_OWN.get(g, g), *span, "-o", str(out)] for g, out in outs.items()}
    load_before, git_before = _load(), _git_state()
    print(f"[company] compute all and each group alone, best of {a.runs} ...", file=sys.stderr)
    best = best_of(cmds, a.runs)
    load_after, git_after = _load(), _git_state()
    status = 0
    if not all(b.ok for b in best.values()):
        for g, b in best.items():
            if not b.ok:
                _fail(f"[company] compute {g}", b)
        status = 2
    rows, problems = (0, [])
    if status == 0:
        rows, problems = compare_company(outs["all"], {g: outs[g] for g in COMPANY_GROUPS})
        if problems:
            status = 1
            print(f"\n[company] compute all differs from the groups run alone ({len(problems)}):", file=sys.stderr)
            print("\n".join("  " + p for p in problems[:20]), file=sys.stderr)
    scans: dict[str, dict[str, int] | None] = {}
    opens: dict[str, dict[str, int] | None] = {}
    if status != 2 and not a.no_scans:
        print("[company] counting scans per source (bench/scan_count.py) ...", file=sys.stderr)
        scans = {g: count_scans(cmd, g) for g, cmd in cmds.items()}
    if status != 2 and not a.no_strace:
        print("[company] strace -f -e trace=openat on each command ...", file=sys.stderr)
        opens = {g: strace_opens(cmd) for g, cmd in cmds.items()}

    counts = meta.get("rows", {})
    gen = f"{meta['seconds']:.1f} s" + (" (cached)" if meta.get("cached") else "")
    print(f"\ncompany: {rel}/, generated in {gen}; range {a.company_from}..{a.company_to}, --currency USD")
    print("  rows: " + ", ".join(f"{k} {int(v):,}" for k, v in counts.items()))
    short = {"subscriptions": "subs", "events": "events", "customers": "cust", "spend": "spend", "fx_rates": "fx",
             "tickets": "tix", "surveys": "surv", "traffic": "web"}
    head = f"{'compute':<13} {'kpi s':>8} {'peak MB':>8}  " + " ".join(f"{short[s]:>6}" for s in COMPANY_SOURCES)
    print(head + "   (scans per source)")
    print("-" * len(head))
    for g, b in best.items():
        sc = scans.get(g)
        cells = " ".join(f"{(sc or {}).get(s, 0) if sc is not None else '?':>6}" for s in COMPANY_SOURCES)
        print(f"{g:<13} {fmt_s(b.seconds if b.ok else None):>8} {fmt_mb(b.peak_mb):>8}  {cells}")
    ok = all(best[g].ok for g in COMPANY_GROUPS)
    total = sum(best[g].seconds for g in COMPANY_GROUPS) if ok else None
    if total is not None:
        summed = {s: sum((scans.get(g) or {}).get(s, 0) for g in COMPANY_GROUPS) for s in COMPANY_SOURCES}
        cells = " ".join(f"{summed[s] if scans else '?':>6}" for s in COMPANY_SOURCES)
        peak = max((best[g].peak_mb or 0) for g in COMPANY_GROUPS)
        print(f"{'sum of groups':<13} {fmt_s(total):>8} {fmt_mb(peak):>8}  {cells}   (peak: the largest group's)")
    disjoint = sum(best[g].seconds for g in COMPANY_DISJOINT) if all(best[g].ok for g in COMPANY_DISJOINT) else None
    if disjoint is not None:
        summed = {s: sum((scans.get(g) or {}).get(s, 0) for g in COMPANY_DISJOINT) for s in COMPANY_SOURCES}
        cells = " ".join(f"{summed[s] if scans else '?':>6}" for s in COMPANY_SOURCES)
        print(f"{'each base once':<13} {fmt_s(disjoint):>8} {'':>8}  {cells}   (revenue + engagement + *_own)")
    for g, b in best.items():
        print(f"  {g} runs: " + "/".join(f"{r.seconds:.1f}" for r in b.runs))
    for g, metrics in COMPANY_OWN.items():
        print(f"  {g} = compute {metrics}")
    print(f"(best of {a.runs} wall seconds; peak RSS = max over runs; scans counted by bench/scan_count.py:")
    print(" SCAN nodes of every executed Polars plan, whole-file reads of CSV sources)")
    if any(o is not None for o in opens.values()):
        print("openat calls per source file (strace -f; a Parquet scan opens its file twice, a schema read once):")
        for g, o in opens.items():
            cells = " ".join(f"{(o or {}).get(s, 0) if o is not None else '?':>6}" for s in COMPANY_SOURCES)
            print(f"  {g:<11} {'':>8} {'':>8}  {cells}")
    if status == 0:
        print(f"compute all: {rows:,} rows, equal to the groups' own rows ({len(COMPANY_GROUPS)} groups)")
    print("targets:")
    if total is not None and best["all"].ok:
        ratio = best["all"].seconds / total
        print(f"  all <= {COMPANY_TARGET}x the sum of its groups alone: {ratio:.2f}x  "
              f"{'met' if ratio <= COMPANY_TARGET else 'MISSED'}")
    if disjoint is not None and best["all"].ok:
        print(f"  (informational) all / each base once in separate processes: {best['all'].seconds / disjoint:.2f}x")
    sc_all = scans.get("all")
    if sc_all is not None:
        extra = {s: n for s, n in sc_all.items() if n != 1 and s in COMPANY_SOURCES}
        missing = [s for s in COMPANY_SOURCES if s not in sc_all]
        state = "met" if not extra and not missing else "MISSED"
        detail = ", ".join([f"{s} x{n}" for s, n in extra.items()] + [f"{s} not read" for s in missing])
        print(f"  each source scanned once by compute all: {state}" + (f" ({detail})" if detail else ""))
    print(f"{load_before} (before), {load_after} (after); {os.cpu_count()} cores")
    print(git_before if git_before == git_after else f"{git_before} (before), {git_after} (after: kpi changed!)")
    return status


def run_report(a: argparse.Namespace) -> int:
    """The report suite: ``kpi report`` for one month vs ``kpi compute all`` over its 24 months."""
    ddir, _ = ensure_company(a)
    rel = os.path.relpath(ddir, ROOT)
    tmp = Path(tempfile.gettempdir())
    year, month = (int(x) for x in a.company_to.split("-"))
    first = f"{year - 2 + (month == 12)}-{month % 12 + 1:02d}"  # 24 months ending at company_to
    base = ["--data", rel, "--config", f"{rel}/kpi.toml", "--currency", "USD", "-q"]
    outs = {"report": tmp / "kpi_report.csv", "report_html": tmp / "kpi_report.html",
            "compute_all": tmp / "kpi_report_compute.csv"}
    cmds = {"report": [a.kpi, "report", "--month", a.company_to, *base, "-o", str(outs["report"])],
            "report_html": [a.kpi, "report", "--month", a.company_to, *base, "--html", str(outs["report_html"])],
            "compute_all": [a.kpi, "compute", "all", "--from", first, "--to", a.company_to, *base,
                            "-o", str(outs["compute_all"])]}
    print(f"[report] kpi report vs compute all over {first}..{a.company_to}, best of {a.runs} ...", file=sys.stderr)
    best = best_of(cmds, a.runs)
    if not all(b.ok for b in best.values()):
        for g, b in best.items():
            if not b.ok:
                _fail(f"[report] {g}", b)
        return 2
    with open(outs["compute_all"]) as f:
        want = {(r["metric"], r["period"]): r["value"] for r in csv.DictReader(f)}
    problems = []
    with open(outs["report"]) as f:
        got = list(csv.DictReader(f))
    for r in got:
        w = want.get((r["metric"], r["period"]))
        if w is None or (w and r["value"] and not math.isclose(float(w), float(r["value"]), rel_tol=1e-9)) or \
                (bool(w) != bool(r["value"])):
            problems.append(f"{r['metric']} {r['period']}: report {r['value']!r}, compute {w!r}")
    print(f"\nreport: {rel}/, --month {a.company_to}; compute all --from {first} --to {a.company_to}")
    print(f"{'command':<13} {'kpi s':>8} {'peak MB':>8}")
    for g, b in best.items():
        runs = "/".join(f"{r.seconds:.1f}" for r in b.runs)
        print(f"{g:<13} {fmt_s(b.seconds):>8} {fmt_mb(b.peak_mb):>8}   runs {runs}")
    size = outs["report_html"].stat().st_size
    print(f"report rows: {len(got)}, values equal to compute all's: {'yes' if not problems else 'NO'}; "
          f"HTML page {size:,} bytes")
    for p in problems[:20]:
        print("  " + p)
    print("targets:")
    for g in ("report", "report_html"):
        ratio = best[g].seconds / best["compute_all"].seconds
        print(f"  {g} <= {REPORT_TARGET}x compute all over 24 months: {ratio:.2f}x "
              f"{'met' if ratio <= REPORT_TARGET else 'MISSED'}")
    print(f"{_load()}; {os.cpu_count()} cores; {_git_state()}")
    return 1 if problems else 0


def main() -> int:
    """Run the benchmark; returns the process exit code."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--suite", choices=SUITES, default=DEFAULT_SUITE, help=f"default {DEFAULT_SUITE}")
    p.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
    p.add_argument("--years", type=int, default=5)
    p.add_argument("--first-year", type=int, default=2020)
    p.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="events/plain suites: rows (default 20,000,000)")
    p.add_argument("--tickets", type=int, default=DEFAULT_TICKETS, help="company suite: tickets (default 1,000,000)")
    p.add_argument("--surveys", type=int, default=DEFAULT_SURVEYS, help="company suite: responses (default 200,000)")
    p.add_argument("--sessions", type=int, default=DEFAULT_SESSIONS, help="company suite: web sessions (3,000,000)")
    p.add_argument("--company-from", default="2020-01", help="company suite: --from (default 2020-01)")
    p.add_argument("--company-to", default="2024-12", help="company suite: --to (default 2024-12)")
    p.add_argument("--no-scans", action="store_true", help="company suite: skip the scan counts (bench/scan_count.py)")
    p.add_argument("--no-strace", action="store_true", help="company suite: skip the strace openat cross-check")
    p.add_argument("--runs", type=int, default=3, help="best of N for compute runs (default 3)")
    p.add_argument("--startup-runs", type=int, default=5, help="best of N for --help / list (default 5)")
    p.add_argument("--no-linearity", action="store_true", help="skip the quarter-size run")
    p.add_argument("--regenerate", action="store_true", help="regenerate the data even if present")
    p.add_argument("--kpi", default=str(ROOT / ".venv" / "bin" / "kpi"), help="kpi executable")
    a = p.parse_args()

    if not Path(a.kpi).exists():
        print(f"kpi executable not found: {a.kpi}", file=sys.stderr)
        return 2
    status = 0
    if a.suite in ("revenue", "all", "every"):
        status = max(status, run_revenue(a))
    if a.suite in ("events", "all", "every"):
        if a.suite in ("all", "every"):
            print()
        status = max(status, run_events(a))
    if a.suite in ("plain", "every"):
        if a.suite == "every":
            print()
        status = max(status, run_plain(a))
    if a.suite in ("engines", "every"):
        if a.suite == "every":
            print()
        status = max(status, run_engines(a))
    if a.suite in ("company", "every"):
        if a.suite == "every":
            print()
        status = max(status, run_company(a))
    if a.suite in ("report", "every"):
        if a.suite == "every":
            print()
        status = max(status, run_report(a))
    return status


if __name__ == "__main__":
    sys.exit(main())
