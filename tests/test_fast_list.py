"""``kpi list`` answered before Typer loads (kpi_cli.listing.fast_list) is the Typer command, byte for byte.

Each case runs two fresh processes from the project root: the console-script entry point
(``kpi_cli.__main__.main``, also what ``python -m kpi_cli`` runs) and the Typer app called directly,
and compares stdout, stderr and the exit code. Speed is measured in ``bench/``, not here.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from kpi_cli import listing

ROOT = Path(__file__).resolve().parents[1]
ENTRY = "import sys\nfrom kpi_cli.__main__ import main\nsys.exit(main())\n"
TYPER = "from kpi_cli.cli import app\napp()\n"
# Modules the fast path must not load: the point is to skip Typer (and the pydantic it coerces with).
HEAVY = ("polars", "pydantic", "pydantic_core", "narwhals", "pyarrow", "typer", "rich")
SERVED = [
    [],
    ["-f", "table"],
    ["-f", "csv"],
    ["-f", "json"],
    ["--format", "json"],
    ["--format=csv"],
    ["-fjson"],
]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("KPI_") and not k.endswith("_COMPLETE")}
    return {**env, "NO_COLOR": "1", "PYTHONIOENCODING": "utf-8", **extra}


def _run(argv: list[str], **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, *argv], capture_output=True, cwd=ROOT, env=_env(**env), check=False)


def _same(a: subprocess.CompletedProcess[bytes], b: subprocess.CompletedProcess[bytes]) -> None:
    assert (a.stdout, a.stderr, a.returncode) == (b.stdout, b.stderr, b.returncode)


@pytest.mark.parametrize("args", SERVED, ids=lambda a: " ".join(a) or "plain")
def test_fast_path_matches_the_typer_command(args: list[str]) -> None:
    fast = _run(["-m", "kpi_cli", "list", *args])
    typer_path = _run(["-c", TYPER, "list", *args])
    assert fast.returncode == 0, fast.stderr
    assert fast.stdout.count(b"\n") > len(listing.METRICS)
    _same(fast, typer_path)


@pytest.mark.parametrize("args", SERVED, ids=lambda a: " ".join(a) or "plain")
def test_fast_path_imports_neither_typer_nor_polars_nor_pydantic(args: list[str]) -> None:
    out = _run(["-X", "importtime", "-m", "kpi_cli", "list", *args])
    assert out.returncode == 0, out.stderr
    imported = {line.rsplit("|", 1)[-1].strip() for line in out.stderr.decode().splitlines()
                if line.startswith("import time:")}
    assert "kpi_cli.registry" in imported  # the importtime report is there
    assert {m.split(".")[0] for m in imported} & set(HEAVY) == set()


def test_console_script_is_the_typer_free_entry_point() -> None:
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["kpi"] == "kpi_cli.__main__:main"
    code = ENTRY.replace("sys.exit(main())", "rc = main()\n"
                         f"print(rc, sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}), file=sys.stderr)")
    out = _run(["-c", code, "list"])
    assert out.stderr.decode().strip() == "0 []"


@pytest.mark.parametrize("args", [
    ["--help"], ["-h"], ["-f"], ["-f", "xml"], ["-f", "json", "-f", "csv"], ["extra"], ["-f", "--help"],
    ["--format", "table", "--help"],
], ids=lambda a: " ".join(a))
def test_anything_else_goes_to_typer(args: list[str]) -> None:
    assert listing.list_format(["list", *args]) is None
    _same(_run(["-c", ENTRY, "list", *args]), _run(["-c", TYPER, "list", *args]))


def test_other_commands_go_to_typer() -> None:
    for argv in (["--version"], ["explain", "mrr"], [], ["--help"], ["lists"]):
        assert listing.list_format(argv) is None
    _same(_run(["-c", ENTRY, "--version"]), _run(["-c", TYPER, "--version"]))


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
def test_a_stdout_that_is_not_utf8_is_left_to_typer(encoding: str) -> None:
    # Click re-wraps an ASCII stdout as UTF-8 (and fails on latin-1, whose labels "→" it cannot encode):
    # whatever it does, the entry point does the same, because it does not serve these.
    entry = _run(["-c", ENTRY, "list"], PYTHONIOENCODING=encoding)
    typer_path = _run(["-c", TYPER, "list"], PYTHONIOENCODING=encoding)
    assert entry.returncode == typer_path.returncode
    assert entry.stdout == typer_path.stdout


def test_shell_completion_is_left_to_typer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_KPI_COMPLETE", "complete_bash")
    assert listing.fast_list(["list"]) is None


def test_a_closed_pipe_exits_0_quietly_as_every_command_does() -> None:
    def closed(code: str) -> tuple[int, bytes]:
        proc = subprocess.Popen([sys.executable, "-c", code, "list", "-f", "json"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, cwd=ROOT, env=_env())
        assert proc.stdout is not None
        assert proc.stderr is not None
        proc.stdout.close()  # before the child has started Python: its first write gets EPIPE
        err = proc.stderr.read()
        return proc.wait(timeout=60), err

    assert closed(ENTRY) == closed(TYPER) == (0, b"")


def test_render_is_what_the_typer_command_prints() -> None:
    from typer.testing import CliRunner

    from kpi_cli.cli import app

    for fmt in listing.FORMATS:
        result = CliRunner().invoke(app, ["list", "-f", fmt])
        assert result.exit_code == 0
        assert result.stdout == listing.render(fmt)


@pytest.mark.parametrize("fmt", ["xlsx", "parquet", "anything-else"])
def test_a_format_list_does_not_write_is_a_usage_error(fmt: str) -> None:
    # Both paths: the entry point hands an unknown format to Typer, which refuses it in one line.
    out = _run(["-c", ENTRY, "list", "-f", fmt])
    _same(out, _run(["-c", TYPER, "list", "-f", fmt]))
    assert out.returncode == 2
    assert out.stdout == b""
    assert out.stderr.decode() == (f"kpi: error: kpi list --format '{fmt}' is not one of table, csv, json\n"
                                   "hint: e.g. kpi list -f csv > metrics.csv\n")


@pytest.mark.parametrize(("cores", "arenas"), [(1, 1), (2, 1), (7, 1), (8, 2), (32, 8), (None, 1)])
def test_allocator_arenas_per_four_cores(monkeypatch: pytest.MonkeyPatch, cores: int | None, arenas: int) -> None:
    from kpi_cli.__main__ import allocator_settings

    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    assert allocator_settings() == f"narenas:{arenas}"


@pytest.mark.parametrize("user", [None, "narenas:3,dirty_decay_ms:0"])
def test_entry_point_sets_allocator_before_polars_loads(user: str | None) -> None:
    """The setting reaches Polars' jemalloc (read when the library loads); a user's own setting is kept."""
    env = {k: v for k, v in _env().items() if k != "_RJEM_MALLOC_CONF"}
    if user is not None:
        env["_RJEM_MALLOC_CONF"] = user
    # Record the variable at the moment Polars is first imported, during a run that computes.
    probe = ("import os, sys\nseen = []\n"
             "class Spy:\n    def find_spec(self, name, path=None, target=None):\n"
             "        if name == 'polars' and not seen:\n            seen.append(os.environ.get('_RJEM_MALLOC_CONF'))\n"
             "sys.meta_path.insert(0, Spy())\nfrom kpi_cli import __main__ as m\n"
             "sys.argv = ['kpi', 'compute', 'mrr', '--data', 'sample_data', '--month', '2024-06', '-f', 'csv']\n"
             "try:\n    m.main()\nexcept SystemExit:\n    pass\nprint(seen)\n")
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True).stdout.splitlines()[-1]
    from kpi_cli.__main__ import allocator_settings

    assert out == repr([user or allocator_settings()])
