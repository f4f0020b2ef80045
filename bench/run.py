"""Benchmark harness: ``kpi`` vs independent DuckDB references on generated data.

Two suites (``--suite revenue|events|all``, default ``all``: about 7 minutes on 2 cores with cached data):

- revenue: generates ``bench/data`` (and a quarter-size copy for the linearity check) when missing,
  runs ``kpi compute <6 MRR metrics>`` and ``duckdb_ref.py`` best-of-N as separate processes measuring
  wall time and peak RSS, checks that every value agrees to 1e-6 (relative, 1e-6 absolute near zero),
  times ``kpi --help`` and ``kpi list``, and prints a table.
- events: generates ``bench/data/events`` (20M events) when missing, does the same for
  ``kpi compute dau,mau,dau_mau`` against ``events_ref.py`` (agreement to 1e-9 relative), then times
  ``kpi cohort --of users --period week`` against the reference's weekly cohort query.

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
SUITES = ("revenue", "events", "all")
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


def main() -> int:
    """Run the benchmark; returns the process exit code."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--suite", choices=SUITES, default=DEFAULT_SUITE, help=f"default {DEFAULT_SUITE}")
    p.add_argument("--customers", type=int, default=DEFAULT_CUSTOMERS)
    p.add_argument("--years", type=int, default=5)
    p.add_argument("--first-year", type=int, default=2020)
    p.add_argument("--events", type=int, default=DEFAULT_EVENTS, help="events suite: rows (default 20,000,000)")
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
    if a.suite in ("revenue", "all"):
        status = max(status, run_revenue(a))
    if a.suite in ("events", "all"):
        if a.suite == "all":
            print()
        status = max(status, run_events(a))
    return status


if __name__ == "__main__":
    sys.exit(main())
