"""kpi: SaaS KPIs from the billing, product and survey exports you already have.

``from kpi_cli import compute`` gives the Python API; importing the package itself loads no
dataframe library, so the CLI's ``--help`` stays instant.
"""

from __future__ import annotations

# Not `from typing import …`: importing typing costs ~10 ms before the console script can answer
# Ctrl-C (kpi_cli.__main__); mypy reads this flag as typing.TYPE_CHECKING.
TYPE_CHECKING = False

__version__ = "0.1.0"
__all__ = ["cohort", "compute", "funnel", "lifecycle", "movements", "report", "stickiness", "tree"]

if TYPE_CHECKING:
    from typing import Any

    from kpi_cli.api import cohort, compute, funnel, lifecycle, movements, report, stickiness, tree


def __getattr__(name: str) -> Any:
    if name in __all__:
        from kpi_cli import api

        return getattr(api, name)
    raise AttributeError(name)
