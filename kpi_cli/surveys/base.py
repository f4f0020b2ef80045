"""Survey responses → the one table every survey metric reads (SPEC §3.4).

The base holds every response of the source (not only the requested periods): detractor recovery
compares P with P − 1 and waves with the wave before them, which may lie before ``--from``
(SPEC §2). Each response carries its period index on a grid that runs from the data's first
period to one past the last requested one, its respondent key and its ``--by`` groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING

import polars as pl

from kpi_cli.errors import DataError, UsageError

if TYPE_CHECKING:
    from kpi_cli.dataset import Dataset
    from kpi_cli.periods import Calendar

# Columns that are not something to split by: the answer itself, who gave it and when.
NOT_DIMS = {"responded_at", "score", "survey", "comment", "response_id", "respondent_id", "user_id", "email",
            "csat_scale"}


@dataclass
class SurveyBase:
    """Every valid response with its period, respondent and groups; the grid it sits on.

    ``responses`` columns: ``_idx`` (period index on ``starts``), ``_at`` (responded_at, UTC µs),
    ``survey``, ``score``, ``_binary`` (a Good/Bad CSAT answer), ``_key`` (respondent), ``_rid``
    (respondent_id else user_id), ``_email`` (lower case), ``_account``, ``_wave``, the group
    columns, ``_file``, ``_line``. Internal names start with ``_``, which no kept export column does.
    """

    responses: pl.DataFrame
    starts: list[date]  # period starts, index 0 = the first period of the data (or of the request)
    bounds: list[int]  # UTC µs at which each start begins
    groups: list[str]
    complete_before: int  # a period ending at or before this instant is complete
    dataset: Dataset
    memo: dict[str, pl.DataFrame] = field(default_factory=dict)  # frames shared by nps and nps_moe
    # Responses after the last requested period: a wave that starts inside the range is read whole,
    # whatever --to says (its rate is reported in the period it starts in).
    later: pl.DataFrame = field(default_factory=pl.DataFrame)

    def periods(self, dates: list[date]) -> pl.DataFrame:
        """``_idx, period, complete`` for the period starts ``dates``."""
        idx = [self.starts.index(d) for d in dates]
        return pl.DataFrame(
            {"_idx": idx, "period": dates, "complete": [self.bounds[i + 1] <= self.complete_before for i in idx]},
            schema={"_idx": pl.Int64, "period": pl.Date, "complete": pl.Boolean})


def survey_columns(ds: Dataset) -> list[str]:
    """Columns of the loaded surveys source a response can be grouped by."""
    frame = ds.load("surveys")
    assert frame is not None
    return [c for c in frame.columns if not c.startswith("_") and c not in NOT_DIMS]


def customer_columns(ds: Dataset) -> list[str]:
    """Attribute columns of ``customers`` (empty without the source)."""
    if not ds.has("customers"):
        return []
    customers = ds.load("customers", required=False)
    return [] if customers is None else [c for c in customers.columns if not c.startswith("_") and c != "customer_id"]


def build(ds: Dataset, cal: Calendar, periods: list[date], as_of: int, by: tuple[str, ...] = (),
          ces_scale: str = "1-7") -> SurveyBase:
    """Load the surveys source once and lay every response on the period grid.

    Parameters
    ----------
    ds
        The run's dataset (``surveys`` is parsed with :mod:`kpi_cli.surveys.rules`).
    cal
        Grain, timezone and week start.
    periods
        The period starts the rows must cover (the requested ones and any look-back).
    as_of
        ``--as-of`` in UTC microseconds: a period ending after it is incomplete.
    by
        ``--by`` dimensions: survey columns first, else ``customers`` columns via ``account_id``.
    ces_scale
        ``1-7`` or ``1-5``: with ``1-5`` a CES 6 or 7 is a bad row (the rules accept 1–7).
    """
    frame = ds.load("surveys")
    assert frame is not None
    if frame.height == 0:
        rep = ds.reports["surveys"]
        why = "every row was rejected" if rep.rejected else "the file has only a header"
        msg = f"source surveys ({', '.join(rep.files)}): no responses to compute from ({why})"
        raise DataError(msg, hint="check the export, or run `kpi validate` to see why rows were rejected")
    frame = _unanswered_out(ds, frame)
    if ces_scale == "1-5":
        frame = _ces_1_5(ds, frame)
    data_end = frame["responded_at"].max() if frame.height else None
    first_data = cal.floor(cal.local_date(int(frame["responded_at"].min()))) if frame.height else periods[0]  # type: ignore[arg-type]
    starts = cal.starts(min(first_data, periods[0]), cal.step(periods[-1], 1))
    bounds = [cal.instant(d) for d in starts]
    idx = (pl.lit(pl.Series(bounds, dtype=pl.Int64)).search_sorted(pl.col("responded_at"), side="right")
           .cast(pl.Int64) - 1)
    cols = frame.columns

    def text(name: str) -> pl.Expr:
        return pl.col(name).cast(pl.String) if name in cols else pl.lit(None, dtype=pl.String)

    binary = pl.col("csat_scale").is_not_null() if "csat_scale" in cols else pl.lit(False)
    # A response with no respondent is its own respondent: a key no other row can share.
    own = pl.format("\x00{}:{}", pl.col("_file"), pl.col("_line"))
    out = frame.with_columns(
        idx.alias("_idx"), pl.col("responded_at").alias("_at"), binary.alias("_binary"),
        pl.coalesce(text("respondent_id"), text("user_id")).alias("_rid"),
        text("email").str.to_lowercase().alias("_email"), text("account_id").alias("_account"),
        text("wave").alias("_wave"),
    ).with_columns(pl.coalesce("_rid", "_email", own).alias("_key"))
    out, groups = _attach_groups(ds, out, by)
    out = out.select("_idx", "_at", "survey", "score", "_binary", "_key", "_rid", "_email", "_account", "_wave",
                     *groups, "_file", "_line")
    after = pl.col("_idx") >= len(starts) - 1  # after the last requested period
    complete_before = min(as_of, int(data_end)) if data_end is not None else as_of  # type: ignore[arg-type]
    return SurveyBase(out.filter(~after), starts, bounds, groups, complete_before, ds, later=out.filter(after))


def _unanswered_out(ds: Dataset, frame: pl.DataFrame) -> pl.DataFrame:
    """Leave out rows that say a survey was offered and not answered (null score), counted at -v."""
    unanswered = frame.filter(pl.col("score").is_null())
    if unanswered.height:
        ds.notes.append(f"surveys: {unanswered.height} csat row{'s' * (unanswered.height != 1)} offered but not "
                        "answered (Offered / Not Offered) left out: not responses")
    return frame.filter(pl.col("score").is_not_null())


def _ces_1_5(ds: Dataset, frame: pl.DataFrame) -> pl.DataFrame:
    """``--ces-scale 1-5``: a CES above 5 is a bad row of the source (raised, or skipped and counted)."""
    outside = (pl.col("survey") == "ces") & (pl.col("score") > 5)
    ds.reject("surveys", frame.filter(outside), "score", "score outside the ces scale 1–5 (--ces-scale 1-5)",
              hint="the responses use 1–7: drop --ces-scale 1-5, or pass --on-bad-rows skip")
    return frame.filter(~outside)


def _attach_groups(ds: Dataset, frame: pl.DataFrame, by: tuple[str, ...]) -> tuple[pl.DataFrame, list[str]]:
    """Group columns as text: a survey column as it is, else a customers column joined on account_id."""
    groups: list[str] = []
    own = set(survey_columns(ds))
    for dim in by:
        if dim in own:
            frame = frame.with_columns(pl.col(dim).cast(pl.String))
        else:
            attrs = customer_columns(ds)
            if dim not in attrs:
                msg = f"--by {dim}: not a column of surveys or of customers"
                known = sorted(own | set(attrs))
                raise UsageError(msg, hint=f"surveys can split by: {', '.join(known) or 'none'}")
            customers = ds.load("customers", required=False)
            assert customers is not None
            table = (customers.select(pl.col("customer_id").cast(pl.String).alias("_account"),
                                      pl.col(dim).cast(pl.String).alias("_attr"))
                     .unique("_account", keep="first"))
            frame = (frame.drop(dim, strict=False).join(table, on="_account", how="left")
                     .rename({"_attr": dim}))
        groups.append(dim)
    return frame, groups
