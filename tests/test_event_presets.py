"""Each analytics tool's export, with its own headers and layout, loads through its preset."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import date
from pathlib import Path

import pytest

from kpi_cli import compute

MAR = date(2023, 3, 1)


def config(folder: Path, preset: str) -> str:
    path = folder / "kpi.toml"
    path.write_text(f'[sources.events]\npreset = "{preset}"\n')
    return str(path)


def mau_dau(folder: Path, preset: str, **options: object) -> tuple[float, float]:
    df = compute(["mau", "dau"], data=folder, month="2023-03", config=config(folder, preset), **options)
    got = {r["metric"]: r["value"] for r in df.iter_rows(named=True)}
    return got["mau"], got["dau"]


def test_segment_warehouse_tracks_csv(tmp_path: Path) -> None:
    # Segment's tracks table: id, anonymous_id, user_id, event, event_text, timestamp, context_* columns.
    head = ["id", "anonymous_id", "user_id", "event", "event_text", "timestamp", "received_at",
            "context_group_id", "context_traits_email"]
    rows = [
        ["m1", "a-1", "", "page_viewed", "Page Viewed", "2023-03-01T08:00:00.000Z", "2023-03-01T08:00:01Z", "", ""],
        ["m2", "a-1", "u1", "signed_up", "Signed Up", "2023-03-01T08:05:00.000Z", "2023-03-01T08:05:01Z", "A",
         "u1@a.test"],
        ["m3", "", "u2", "signed_in", "Signed In", "2023-03-02T09:00:00.000Z", "2023-03-02T09:00:01Z", "A", ""],
        ["m3", "", "u2", "signed_in", "Signed In", "2023-03-02T09:00:00.000Z", "2023-03-02T09:00:02Z", "A", ""],
        ["m4", "", "u1", "signed_in", "Signed In", "2023-03-31T10:00:00.000Z", "2023-03-31T10:00:01Z", "A", ""],
    ]
    with (tmp_path / "events.csv").open("w", newline="") as f:
        csv.writer(f).writerows([head, *rows])
    # a-1 merges into u1; m3 is sent twice (same message id). Active days: u1 1 and 31 March, u2 2 March.
    assert mau_dau(tmp_path, "segment") == (2, pytest.approx(3 / 31))
    df = compute("active_accounts", data=tmp_path, month="2023-03", config=config(tmp_path, "segment"))
    assert df["value"].to_list() == [1]


def test_amplitude_gzipped_jsonl(tmp_path: Path) -> None:
    # Amplitude export: one JSON object per line, gzipped; event_time is a UTC string, session_id is a
    # millisecond epoch (-1 = none), device_id is the anonymous id.
    lines = [
        {"$insert_id": "i1", "event_type": "Signed In", "event_time": "2023-03-01 10:00:00.000000",
         "user_id": "u1", "device_id": "d1", "session_id": 1677664800000},
        {"$insert_id": "i2", "event_type": "Report Created", "event_time": "2023-03-01 10:20:00.000000",
         "user_id": "u1", "device_id": "d1", "session_id": 1677664800000},
        {"$insert_id": "i3", "event_type": "Page Viewed", "event_time": "2023-03-05 12:00:00.000000",
         "user_id": None, "device_id": "d9", "session_id": -1},
    ]
    with gzip.open(tmp_path / "events.jsonl.gz", "wt") as f:
        f.writelines(json.dumps(line) + "\n" for line in lines)
    # u1 (1 March) and the anonymous device d9 (5 March): 2 actors, 2 active days.
    assert mau_dau(tmp_path, "amplitude") == (2, pytest.approx(2 / 31))
    assert mau_dau(tmp_path, "amplitude", identified_only=True) == (1, pytest.approx(1 / 31))
    df = compute("sessions_per_user", data=tmp_path, month="2023-03", config=config(tmp_path, "amplitude"))
    assert df["value"].to_list() == [pytest.approx(2 / 2)]  # u1's session 1677664800000 and d9's own run


def test_mixpanel_nested_jsonl(tmp_path: Path) -> None:
    # Mixpanel raw export: {"event": ..., "properties": {"time": unix seconds, "distinct_id", "$insert_id"}}.
    lines = [
        {"event": "Signed In", "properties": {"time": 1677664800, "distinct_id": "u1", "$insert_id": "x1"}},
        {"event": "Signed In", "properties": {"time": 1677664800, "distinct_id": "u1", "$insert_id": "x1"}},
        {"event": "Report Created", "properties": {"time": 1680220800, "distinct_id": "u2", "$insert_id": "x2"}},
    ]
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    # 1677664800 = 2023-03-01 10:00 UTC; 1680220800 = 2023-03-31 00:00 UTC; the repeated x1 counts once.
    assert mau_dau(tmp_path, "mixpanel") == (2, pytest.approx(2 / 31))


def test_posthog_csv(tmp_path: Path) -> None:
    head = ["uuid", "event", "distinct_id", "person_id", "timestamp", "$group_0", "properties"]
    rows = [
        ["0186a1", "$pageview", "anon-1", "p1", "2023-03-01 10:00:00.000000+00:00", "org1", "{}"],
        ["0186a2", "Signed In", "u-1", "p1", "2023-03-03 10:00:00.000000+00:00", "org1", "{}"],
        ["0186a3", "Signed In", "u-2", "p2", "2023-03-03 11:00:00.000000+00:00", "org2", "{}"],
    ]
    with (tmp_path / "events.csv").open("w", newline="") as f:
        csv.writer(f).writerows([head, *rows])
    # person_id is the merged person: p1 active 1 and 3 March, p2 on 3 March → MAU 2, Σ DAU 3.
    assert mau_dau(tmp_path, "posthog") == (2, pytest.approx(3 / 31))
    df = compute("mau", data=tmp_path, month="2023-03", actor="account", config=config(tmp_path, "posthog"))
    assert df["value"].to_list() == [2]
