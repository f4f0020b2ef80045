"""kpi: SaaS KPIs from the billing, product and survey exports you already have.

``from kpi_cli import compute`` gives the Python API; importing the package itself loads no
dataframe library, so the CLI's ``--help`` stays instant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["cohort", "compute", "funnel", "lifecycle", "movements", "stickiness"]

if TYPE_CHECKING:
    from kpi_cli.api import cohort, compute, funnel, lifecycle, movements, stickiness


def __getattr__(name: str) -> Any:
    if name in __all__:
        from kpi_cli import api

        return getattr(api, name)
    raise AttributeError(name)
