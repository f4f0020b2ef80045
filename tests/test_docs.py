"""The README's metric table and the CLI's help stay in step with the registry."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from kpi_cli.registry import METRICS

ROOT = Path(__file__).resolve().parents[1]


def readme_metric_ids() -> list[str]:
    text = (ROOT / "README.md").read_text().split("## Metrics", 1)[1]
    return re.findall(r"^\| `([a-z_0-9]+)` \|", text, flags=re.MULTILINE)


def test_readme_lists_every_metric_in_registry_order() -> None:
    assert readme_metric_ids() == [m for m in METRICS if not METRICS[m].hidden]


def test_every_metric_has_label_unit_definition() -> None:
    for m in METRICS.values():
        assert m.label, m.id
        assert m.definition.rstrip(")").endswith("."), m.id
        assert m.unit in {"currency", "count", "ratio", "score", "duration", "months"}, m.id
        # One way to compute it: a base column, a ratio of base columns, a family function, or a
        # formula over other metrics (``op``); ``of`` may name parts a family function reads.
        ways = (m.value is not None) + (m.ratio is not None) + (m.special is not None) + (m.op is not None)
        assert ways <= 1, m.id  # none: its family evaluates it by id
        assert m.op is None or m.of, m.id
        assert all(p.partition("@")[0] in METRICS for p in m.of), m.id


def test_help_and_list_do_not_import_polars() -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from kpi_cli.cli import app\n"
        "r1 = CliRunner().invoke(app, ['--help'])\n"
        "r2 = CliRunner().invoke(app, ['list'])\n"
        "assert r1.exit_code == 0 and r2.exit_code == 0\n"
        "print('polars' in sys.modules, 'narwhals' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"
