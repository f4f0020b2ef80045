"""Parquet statistics prove a log has no bad row, or the checks run (kpi_cli.clean_proof).

Each case writes a plain events log as Parquet (several row groups) with one kind of bad row in a
late row group, and asks for the proof; a clean log is proven clean with and without statistics
(then by an exact count), and a streamed run on a log with bad rows still finds every one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from test_streamed import _log

from kpi_cli import compute
from kpi_cli.api import Run, RunOptions
from kpi_cli.clean_proof import no_row_can_fail
from kpi_cli.engagement.events import event_rules
from kpi_cli.errors import BadRowsError


def _proof(data: Path) -> bool:
    run = Run.start(RunOptions(data=str(data)))
    return no_row_can_fail(run.dataset.typed("events", rules=event_rules))


def _late(frame: pl.DataFrame, column: str, value: object) -> pl.DataFrame:
    """``frame`` with row 2,900 (in the last row group of 500) set to ``value`` in ``column``."""
    dtype = frame.schema[column]
    return frame.with_columns(pl.when(pl.int_range(pl.len()) == 2_900).then(pl.lit(value, dtype=dtype))
                              .otherwise(pl.col(column)).alias(column))


@pytest.mark.parametrize("statistics", [True, False])
def test_a_clean_log_is_proven_clean(tmp_path: Path, statistics: bool) -> None:
    _log().write_parquet(tmp_path / "events.parquet", row_group_size=500, statistics=statistics)
    assert _proof(tmp_path)


@pytest.mark.parametrize(("column", "value"), [
    ("event", None), ("event", ""), ("user_id", None), ("user_id", ""), ("timestamp", None),
    ("timestamp", datetime(2300, 1, 1, tzinfo=UTC)), ("timestamp", datetime(1899, 12, 31, tzinfo=UTC)),
])
@pytest.mark.parametrize("statistics", [True, False])
def test_one_bad_row_anywhere_denies_the_proof(tmp_path: Path, column: str, value: object, statistics: bool) -> None:
    _late(_log(), column, value).write_parquet(tmp_path / "events.parquet", row_group_size=500,
                                               statistics=statistics)
    assert not _proof(tmp_path)
    with pytest.raises(BadRowsError) as caught:
        compute("dau", data=tmp_path, from_="2024-01", to="2024-04")
    assert caught.value.total == 1


def test_csv_and_text_timestamps_get_no_proof(tmp_path: Path) -> None:
    _log().write_csv(tmp_path / "events.csv")
    assert not _proof(tmp_path)
    (tmp_path / "events.csv").unlink()
    _log().with_columns(pl.col("timestamp").dt.to_string()).write_parquet(tmp_path / "events.parquet")
    assert not _proof(tmp_path)
