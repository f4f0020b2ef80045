"""One metric catalogue entry (SPEC §3): what a metric is, declared as data.

Families declare their entries in ``kpi_cli/<family>/catalogue.py``; :mod:`kpi_cli.registry`
gathers them. Nothing here imports a dataframe library.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OPS = ("ratio", "product", "difference", "growth")


@dataclass(frozen=True)
class Metric:
    """One catalogue entry."""

    id: str
    label: str
    unit: str  # currency | count | ratio | score | duration | months
    family: str
    sources: tuple[str, ...]
    definition: str
    value: str | None = None  # base-table column
    ratio: tuple[str, str] | None = None  # base-table numerator, denominator columns
    special: str | None = None  # name of a family function
    options: tuple[str, ...] = field(default_factory=tuple)
    roles: tuple[str, ...] = ()  # [events] roles that must be configured ("a|b": either will do)
    tables: tuple[str, ...] = ()  # config tables that must exist, e.g. [pql]
    columns: tuple[str, ...] = ()  # optional columns it cannot do without, as "source.column"
    group: str = ""  # the kpi compute / kpi list group; default: the family
    # Metrics this one is built from, by id, in any family; "id@option" or "id@N" reads period P − lag.
    of: tuple[str, ...] = ()
    op: str | None = None  # ratio | product | difference | growth: the graph evaluates ``of`` itself
    hidden: bool = False  # a part kpi list and groups leave out (still computable by id)
    # (option, value, unit): the unit when a run option has that value (``--csat mean`` is a score).
    unit_when: tuple[tuple[str, str, str], ...] = ()

    def unit_for(self, options: object) -> str:
        """The unit under a run's options (:class:`kpi_cli.options.RunOptions`)."""
        for option, value, unit in self.unit_when:
            if str(getattr(options, option, "")) == value:
                return unit
        return self.unit

    @property
    def listed_group(self) -> str:
        """The group this metric is listed under."""
        return self.group or self.family
