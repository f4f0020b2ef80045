"""Where a source's rows can come from (SPEC §1.1): one file in any supported format, a folder of
parts (Hive-style directories too), or a configured path or glob. Each layout of the golden
subscriptions must give March's MRR of 680 (research/revenue.md §4.2)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest
from conftest import GOLDEN_HEADER, GOLDEN_ROWS

from kpi_cli import compute


def golden_frame() -> pl.DataFrame:
    return pl.DataFrame([dict(zip(GOLDEN_HEADER, r, strict=True)) for r in GOLDEN_ROWS],
                        schema=dict.fromkeys(GOLDEN_HEADER, pl.String))


def march_mrr(data: Path, **options: object) -> float:
    return compute("mrr", data=data, month="2023-03", **options)["value"][0]


def test_csv_gz(tmp_path: Path) -> None:
    with gzip.open(tmp_path / "subscriptions.csv.gz", "wb") as f:
        f.write(golden_frame().write_csv().encode())
    assert march_mrr(tmp_path) == 680


def test_jsonl(tmp_path: Path) -> None:
    rows = golden_frame().to_dicts()
    (tmp_path / "subscriptions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert march_mrr(tmp_path) == 680


def test_folder_of_parts_with_hive_directories(tmp_path: Path) -> None:
    frame = golden_frame()
    first, second = tmp_path / "subscriptions" / "half=1", tmp_path / "subscriptions" / "half=2"
    first.mkdir(parents=True)
    second.mkdir(parents=True)
    frame.head(6).write_csv(first / "part-0.csv")
    frame.tail(7).write_csv(second / "part-0.csv")
    assert march_mrr(tmp_path) == 680


@pytest.mark.parametrize("pattern", ["exports/subs-*.csv", "exports"])
def test_configured_glob_or_folder(tmp_path: Path, pattern: str) -> None:
    exports = tmp_path / "exports"
    exports.mkdir()
    frame = golden_frame()
    frame.head(5).write_csv(exports / "subs-a.csv")
    frame.tail(8).write_csv(exports / "subs-b.csv")
    config = tmp_path / "kpi.toml"
    config.write_text(f'[sources.subscriptions]\npath = "{pattern}"\n')
    assert march_mrr(tmp_path / "nowhere", config=str(config)) == 680


def test_bad_rows_name_the_right_part(tmp_path: Path) -> None:
    parts = tmp_path / "subscriptions"
    parts.mkdir()
    frame = golden_frame()
    frame.head(6).write_csv(parts / "a.csv")
    frame.tail(7).with_columns(pl.lit("abc").alias("amount")).head(1).vstack(frame.tail(6)).write_csv(parts / "b.csv")
    with pytest.raises(Exception) as info:
        compute("mrr", data=tmp_path, month="2023-03")
    assert any("b.csv:2 amount=abc not a number" in line for line in info.value.lines)  # type: ignore[attr-defined]
