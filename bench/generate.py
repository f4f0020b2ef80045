"""Deterministic generator of a synthetic `subscriptions` source for the benchmark.

Writes ``<out>/subscriptions.parquet`` with the canonical columns of SPEC §1.2. Every customer starts
at a random instant of the range, holds one or two subscriptions (one or two items each), changes
price or quantity over time (each change ends one row and starts the next at the same instant), may
churn, and may come back later with a new subscription (reactivation). About 10 % of change/churn
instants fall exactly on a month boundary (00:00:00 UTC on the 1st) to exercise the snapshot edge.
Pure ``random`` with a fixed seed: the same arguments always give the same file.
"""

from __future__ import annotations

import argparse
import bisect
import json
import random
import time
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

US_PER_DAY = 86_400 * 1_000_000
DAY = US_PER_DAY
MONTH = 30.4375 * DAY

# plan -> monthly list price (major units); yearly price is 10x the monthly one
PLANS: dict[str, float] = {
    "starter": 19.0,
    "basic": 49.0,
    "team": 99.99,
    "business": 249.0,
    "enterprise": 799.5,
}
PLAN_NAMES = list(PLANS)
PLAN_WEIGHTS = [30, 30, 20, 15, 5]

COLUMNS = [
    "customer_id",
    "subscription_id",
    "item_id",
    "start_at",
    "end_at",
    "amount",
    "currency",
    "interval",
    "interval_count",
    "quantity",
    "status",
    "plan",
]


def _epoch_us(year: int, month: int = 1, day: int = 1) -> int:
    """Microseconds since the Unix epoch of a UTC midnight."""
    return int(datetime(year, month, day, tzinfo=UTC).timestamp()) * 1_000_000


def _month_starts(first_year: int, last_year_excl: int) -> list[int]:
    """Epoch µs of every 1st-of-month from ``first_year`` to ``last_year_excl`` + 2 years."""
    return [_epoch_us(y, m) for y in range(first_year, last_year_excl + 3) for m in range(1, 13)]


class _Gen:
    """Holds the RNG, the column buffers and the id counters."""

    def __init__(self, seed: int, start_us: int, end_us: int) -> None:
        self.rng = random.Random(seed)
        self.start_us = start_us
        self.end_us = end_us
        self.month_starts = _month_starts(
            datetime.fromtimestamp(start_us / 1e6, UTC).year, datetime.fromtimestamp(end_us / 1e6, UTC).year
        )
        self.cols: dict[str, list[object]] = {c: [] for c in COLUMNS}
        self.n_subs = 0

    # -- helpers ---------------------------------------------------------------------------------
    def _instant(self, t: float) -> int:
        """Random instant near ``t``; 10 % of the time snapped to the next month boundary."""
        ti = int(t)
        if self.rng.random() < 0.10:
            i = bisect.bisect_right(self.month_starts, ti)
            if i < len(self.month_starts):
                return self.month_starts[i]
        return ti

    def _price(self, plan: str, interval: str) -> float:
        base = PLANS[plan]
        return round(base * 10, 2) if interval == "year" else base

    def _row(
        self,
        cid: str,
        sid: str,
        iid: str | None,
        start: int,
        end: int | None,
        plan: str,
        interval: str,
        qty: int,
        status: str | None,
    ) -> None:
        c = self.cols
        c["customer_id"].append(cid)
        c["subscription_id"].append(sid)
        c["item_id"].append(iid)
        c["start_at"].append(start)
        c["end_at"].append(end)
        c["amount"].append(self._price(plan, interval))
        c["currency"].append("USD")
        c["interval"].append(interval)
        c["interval_count"].append(1)
        c["quantity"].append(qty)
        c["status"].append(status)
        c["plan"].append(plan)

    def _status(self) -> str | None:
        return "active" if self.rng.random() < 0.3 else None

    # -- one subscription item -------------------------------------------------------------------
    def _item(
        self,
        cid: str,
        sid: str,
        iid: str | None,
        start: int,
        end: int | None,
        interval: str,
        trial_end: int | None,
    ) -> None:
        """Rows of one item over ``[start, end)``: an optional trial span, then price/qty changes."""
        rng = self.rng
        plan = rng.choices(PLAN_NAMES, PLAN_WEIGHTS)[0]
        qty = 1 if rng.random() < 0.6 else rng.randint(2, 25)
        t = start
        if trial_end is not None and trial_end > t and (end is None or trial_end < end):
            self._row(cid, sid, iid, t, trial_end, plan, interval, qty, "trialing")
            t = trial_end
        horizon = end if end is not None else self.end_us
        while True:
            nxt = self._instant(t + rng.expovariate(1 / (11 * MONTH)) + DAY)
            if nxt >= horizon or nxt <= t:
                self._row(cid, sid, iid, t, end, plan, interval, qty, self._status())
                return
            self._row(cid, sid, iid, t, nxt, plan, interval, qty, self._status())
            t = nxt
            r = rng.random()
            if r < 0.45:  # quantity change, up more often than down
                qty = max(1, qty + rng.choice([-3, -2, -1, 1, 1, 2, 3, 5]))
            elif r < 0.85:  # plan change (upgrade or downgrade)
                i = PLAN_NAMES.index(plan) + rng.choice([-1, 1, 1])
                plan = PLAN_NAMES[min(max(i, 0), len(PLAN_NAMES) - 1)]
            else:  # both
                qty = max(1, qty + rng.choice([-1, 1, 2]))
                plan = rng.choice(PLAN_NAMES)

    # -- one subscription ------------------------------------------------------------------------
    def subscription(self, cid: str, start: int, trial: bool) -> int | None:
        """Generate one subscription from ``start``; returns its end (``None`` if still running)."""
        rng = self.rng
        self.n_subs += 1
        sid = f"sub_{self.n_subs:08d}"
        interval = "year" if rng.random() < 0.2 else "month"
        life = rng.expovariate(1 / (26 * MONTH)) + 3 * DAY
        end: int | None = self._instant(start + life)
        if end is not None and (end >= self.end_us or end <= start):
            end = None
        trial_end = start + 14 * DAY if trial else None
        n_items = 1 if rng.random() < 0.7 else 2
        if n_items == 1:
            self._item(cid, sid, None, start, end, interval, trial_end)
            return end
        self._item(cid, sid, f"{sid}_i1", start, end, interval, trial_end)
        # second item: an add-on, possibly added later and possibly removed early
        s2 = start if rng.random() < 0.5 else self._instant(start + rng.uniform(DAY, 9 * MONTH))
        e2: int | None = end
        if rng.random() < 0.3:
            e2 = self._instant(s2 + rng.uniform(DAY, 14 * MONTH))
            if end is not None and e2 >= end:
                e2 = end
            if e2 >= self.end_us:
                e2 = None
        if s2 < (end if end is not None else self.end_us) and (e2 is None or e2 > s2):
            self._item(cid, sid, f"{sid}_i2", s2, e2, interval, trial_end)
        return end

    # -- one customer ----------------------------------------------------------------------------
    def customer(self, n: int) -> None:
        """All subscriptions of customer ``n``, including a possible later reactivation."""
        rng = self.rng
        cid = f"cus_{n:07d}"
        t0 = rng.uniform(self.start_us, self.end_us - 7 * DAY)
        start = self._instant(t0)
        if start >= self.end_us:
            start = int(t0)
        ends = [self.subscription(cid, start, trial=rng.random() < 0.25)]
        if rng.random() < 0.25:  # a second, concurrent subscription (another product)
            s2 = int(start + rng.uniform(0, 12 * MONTH))
            if s2 < self.end_us:
                ends.append(self.subscription(cid, s2, trial=False))
        last_end = None if any(e is None for e in ends) else max(e for e in ends if e is not None)
        while last_end is not None and rng.random() < 0.4:  # churned: maybe come back later
            back = int(last_end + rng.uniform(15 * DAY, 15 * MONTH))
            if back >= self.end_us:
                break
            last_end = self.subscription(cid, back, trial=False)

    def frame(self) -> pl.DataFrame:
        """The buffered rows as a typed Polars frame."""
        c = self.cols
        ts = pl.Datetime("us", "UTC")
        return pl.DataFrame(
            {
                "customer_id": pl.Series(c["customer_id"], dtype=pl.String),
                "subscription_id": pl.Series(c["subscription_id"], dtype=pl.String),
                "item_id": pl.Series(c["item_id"], dtype=pl.String),
                "start_at": pl.Series(c["start_at"], dtype=pl.Int64).cast(pl.Datetime("us")).cast(ts),
                "end_at": pl.Series(c["end_at"], dtype=pl.Int64).cast(pl.Datetime("us")).cast(ts),
                "amount": pl.Series(c["amount"], dtype=pl.Float64),
                "currency": pl.Series(c["currency"], dtype=pl.String),
                "interval": pl.Series(c["interval"], dtype=pl.String),
                "interval_count": pl.Series(c["interval_count"], dtype=pl.Int64),
                "quantity": pl.Series(c["quantity"], dtype=pl.Int64),
                "status": pl.Series(c["status"], dtype=pl.String),
                "plan": pl.Series(c["plan"], dtype=pl.String),
            }
        )


def generate(customers: int, years: int, out_dir: Path, seed: int = 42, first_year: int = 2020) -> Path:
    """Generate the dataset and write ``out_dir/subscriptions.parquet``; returns the file path.

    A sidecar ``out_dir/.generated.json`` records the arguments, the row count and the seconds taken.
    """
    t0 = time.perf_counter()
    gen = _Gen(seed, _epoch_us(first_year), _epoch_us(first_year + years))
    for n in range(customers):
        gen.customer(n)
    df = gen.frame()
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "subscriptions.parquet"
    tmp = out_dir / ".subscriptions.parquet.tmp"
    df.write_parquet(tmp)
    tmp.replace(path)
    meta = {
        "customers": customers,
        "years": years,
        "seed": seed,
        "first_year": first_year,
        "rows": df.height,
        "seconds": round(time.perf_counter() - t0, 3),
    }
    (out_dir / ".generated.json").write_text(json.dumps(meta) + "\n")
    return path


def main() -> None:
    """CLI entry point."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--customers", type=int, default=100_000)
    p.add_argument("--years", type=int, default=5, help="years of history from --first-year (default 5)")
    p.add_argument("--first-year", type=int, default=2020)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "data")
    a = p.parse_args()
    t = time.perf_counter()
    path = generate(a.customers, a.years, a.out, a.seed, a.first_year)
    rows = pl.scan_parquet(path).select(pl.len()).collect().item()
    print(f"wrote {path} rows={rows} customers={a.customers} in {time.perf_counter() - t:.2f}s")


if __name__ == "__main__":
    main()
