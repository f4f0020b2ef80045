"""The period grid a run computes over: local period starts and their UTC instants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import polars as pl

from kpi_cli.periods import Calendar


@dataclass
class Grid:
    """Period starts (local dates) and their UTC instants; index 0 is the first data period."""

    cal: Calendar
    starts: list[date]  # periods 0..last+1
    first: int  # first requested period index
    last: int  # last requested period index
    complete_before: int  # periods ending at or before this instant are complete

    def frame(self) -> pl.DataFrame:
        """``idx, b_us, period`` for every start, including the one after the last period."""
        return pl.DataFrame(
            {"idx": list(range(len(self.starts))), "b_us": [self.cal.instant(d) for d in self.starts],
             "period": self.starts},
            schema={"idx": pl.Int64, "b_us": pl.Int64, "period": pl.Date},
        )

    def periods(self) -> pl.DataFrame:
        """``idx, period, complete`` for the requested periods (plus the look-back before them)."""
        f = self.frame()
        ends = f["b_us"].shift(-1)
        return f.with_columns((ends <= self.complete_before).fill_null(False).alias("complete")).head(self.last + 1)
