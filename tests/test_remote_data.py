"""A data directory given as a URI (SPEC §1.1, issue 11): ``s3://``, ``file://``; a source's own folder.

The same tiny log everywhere, worked out by hand: u1 on 2023-01-01 and 2023-02-01, u2 on 2023-01-02
(UTC). January: two active days of one user each, MAU 2, DAU 2/31; February: MAU 1, DAU 1/28. The
log sits in Hive folders beside what Spark writes and nobody reads (``_SUCCESS``, ``_temporary/``):
a decoy part there holds seven more users in January, so reading it would show MAU 9.

S3 is served by moto on localhost; ``kpi`` runs as a user runs it, in a subprocess.
"""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest

KPI = [sys.executable, "-m", "kpi_cli"]
RANGE = ["--from", "2023-01", "--to", "2023-02"]
EXPECTED = {("dau", "2023-01-01"): 2 / 31, ("dau", "2023-02-01"): 1 / 28,
            ("mau", "2023-01-01"): 2.0, ("mau", "2023-02-01"): 1.0}


def _log() -> pl.DataFrame:
    return pl.DataFrame({"timestamp": [datetime(2023, 1, 1, 10), datetime(2023, 1, 2, 10)],
                         "event": ["login", "login"], "user_id": ["u1", "u2"]})


def _layout() -> dict[str, pl.DataFrame | bytes]:
    """Relative paths of an ``events/`` folder as Spark writes one, and their contents."""
    feb = pl.DataFrame({"timestamp": [datetime(2023, 2, 1, 9)], "event": ["login"], "user_id": ["u1"]})
    decoy = pl.DataFrame({"timestamp": [datetime(2023, 1, 5)] * 7, "event": ["login"] * 7,
                          "user_id": [f"x{i}" for i in range(7)]})
    return {"events/month=2023-01/part-00000.parquet": _log(), "events/month=2023-02/part-00000.parquet": feb,
            "events/_temporary/0/part-00009.parquet": decoy, "events/_SUCCESS": b""}


def _write(root: Path) -> Path:
    for rel, content in _layout().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, pl.DataFrame):
            content.write_parquet(path)
        else:
            path.write_bytes(content)
    return root


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KPI, "compute", "dau,mau", *RANGE, "-f", "csv", *args], capture_output=True,
                          text=True, env={**os.environ, **(env or {})}, check=False)


def _values(out: subprocess.CompletedProcess[str]) -> dict[tuple[str, str], float]:
    assert out.returncode == 0, out.stderr
    return {(r["metric"], r["period"]): float(r["value"]) for r in csv.DictReader(io.StringIO(out.stdout))}


def _assert_hand_values(got: dict[tuple[str, str], float]) -> None:
    assert got.keys() == EXPECTED.keys()
    for key, want in EXPECTED.items():
        assert got[key] == pytest.approx(want, rel=1e-12), key


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_a_file_uri_data_directory(tmp_path: Path, engine: str) -> None:
    root = _write(tmp_path)
    _assert_hand_values(_values(_run("--data", root.as_uri() + "/", "--engine", engine)))


@pytest.mark.parametrize("engine", ["polars", "duckdb"])
def test_the_sources_own_folder_as_data_directory(tmp_path: Path, engine: str) -> None:
    root = _write(tmp_path)
    _assert_hand_values(_values(_run("--data", str(root / "events"), "--engine", engine)))
    _assert_hand_values(_values(_run("--data", (root / "events").as_uri(), "--engine", engine)))


def test_a_folder_named_events_that_holds_sources_is_a_data_directory(tmp_path: Path) -> None:
    """A data directory named ``events`` holding ``customers.csv`` is a data directory like any:
    its parts are not taken for the event log."""
    folder = tmp_path / "events"
    folder.mkdir()
    _log().write_parquet(folder / "part-0.parquet")
    (folder / "customers.csv").write_text("customer_id,name\nc1,A\n")
    out = _run("--data", str(folder))
    assert out.returncode == 1
    assert "events" in out.stderr
    assert out.stdout == ""


@pytest.fixture(scope="module")
def s3() -> Iterator[dict[str, str]]:
    """A moto S3 server with bucket ``kpi`` holding the layout; the environment that reaches it."""
    import boto3  # moto's dependency, in the dev extra: a missing one fails the run
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1", "AWS_ALLOW_HTTP": "true",
           "AWS_EC2_METADATA_DISABLED": "true"}
    client = boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], aws_access_key_id="test",
                          aws_secret_access_key="test", region_name="us-east-1")
    client.create_bucket(Bucket="kpi")
    for rel, content in _layout().items():
        body = content if isinstance(content, bytes) else _parquet_bytes(content)
        client.put_object(Bucket="kpi", Key=f"data/{rel}", Body=body)
    yield env
    server.stop()


def _parquet_bytes(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf)
    return buf.getvalue()


@pytest.mark.parametrize("data", ["s3://kpi/data/", "s3://kpi/data/events/", "s3://kpi/data", "s3a://kpi/data/"])
def test_an_s3_data_directory(s3: dict[str, str], data: str) -> None:
    _assert_hand_values(_values(_run("--data", data, env=s3)))


def test_an_s3_data_directory_on_duckdb(s3: dict[str, str]) -> None:
    """DuckDB reads S3 through its httpfs extension, which it downloads: offline (as here and in CI)
    that is a usage error naming the fix; online, the same numbers."""
    out = _run("--data", "s3://kpi/data/", "--engine", "duckdb", env=s3)
    if out.returncode == 0:
        _assert_hand_values(_values(out))
        return
    assert out.returncode == 2, out.stderr
    first = out.stderr.splitlines()[0]
    assert "httpfs" in first
    assert "--engine polars" in out.stderr
    assert "Traceback" not in out.stderr


def test_an_s3_directory_with_no_source(s3: dict[str, str]) -> None:
    out = _run("--data", "s3://kpi/nothing-here/", env=s3)
    assert out.returncode == 1
    assert "s3://kpi/nothing-here" in out.stderr
    assert "Traceback" not in out.stderr
