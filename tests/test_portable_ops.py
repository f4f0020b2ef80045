"""The engine pipelines use no Polars-only operation (issue 11), so portability cannot rot unseen.

The functions below take and return Narwhals lazy frames and run unchanged on every engine. Read from
their source (AST), they may touch Polars only to build a small table handed to the engine
(``pl.DataFrame``, ``pl.concat`` of such tables, dtypes); they must not collect, reach for the native
frame, or call a Polars expression. The equality tests (Polars vs DuckDB) check the same at run time,
on the cases they cover; this covers every line.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable

import pytest

from kpi_cli import portable_rows
from kpi_cli.engagement import (
    base,
    portable,
    portable_cohorts,
    portable_entrants,
    portable_funnel,
    portable_hygiene,
    portable_parts,
    tables,
)
from kpi_cli.revenue import engine, portable_load, prep, spans

PORTABLE: list[Callable[..., object]] = [
    portable.checked, portable.pairs, portable_rows.day_of, portable_rows.bound_index,
    portable_rows.with_places, portable_parts.with_periods,
    portable.per_period,
    engine.change_points, engine.roll_forward, base.sessions,
    base.aggregate, base.trailing_diffs, tables.lifecycle_counts, tables.stickiness_counts,
    portable_hygiene.resolve, portable_hygiene.earliest, portable_entrants.plans, portable_cohorts.hits_plan,
    portable_funnel.distinct_rows, portable_funnel.following_rows, portable_funnel.next_loose,
    portable_funnel.next_strict, portable_funnel.first_in_window,
    spans.segments, spans.once_reach, spans.period_index, portable_load.load, portable_load._parsed,
    portable_load._parse_conditions, portable_load._transforms, prep.subscription_checks,
    portable_load._with_overlaps,
]
# Polars names a portable function may use: building small tables for the engine.
SMALL_TABLES = {"DataFrame", "concat", "Int64", "Int32", "UInt32", "Float64", "String", "Boolean", "Schema", "col",
                "Datetime"}
FORBIDDEN_CALLS = {"to_native", "collect", "lazy", "to_polars", "to_arrow", "join_asof", "map_batches",
                   "map_elements", "pipe"}


def _offences(fn: Callable[..., object]) -> list[str]:
    tree = ast.parse(textwrap.dedent(inspect.getsource(fn)))
    found = []
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in ("pl", "polars")
                and node.attr not in SMALL_TABLES):
            found.append(f"pl.{node.attr} (line {node.lineno})")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in FORBIDDEN_CALLS:
            found.append(f".{node.func.attr}() (line {node.lineno})")
    # A Polars expression may only go to a small table's own method (``day_period.select(pl.col(…))``).
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    for node in ast.walk(tree):
        if _is_pl_col(node):
            holder = _receiving_call(node, parents)
            if holder is not None and not _on_small_table(holder):
                name = holder.func.attr if isinstance(holder.func, ast.Attribute) else "?"
                found.append(f"pl.col in .{name}() (line {holder.lineno})")
    return found


def _is_pl_col(node: ast.AST) -> bool:
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "col"
            and isinstance(node.func.value, ast.Name) and node.func.value.id == "pl")


def _receiving_call(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> ast.Call | None:
    """The nearest call that takes ``node`` (or an expression built on it) as an argument."""
    child, parent = node, parents.get(node)
    while parent is not None:
        if isinstance(parent, ast.Call) and child is not parent.func:
            return parent
        child, parent = parent, parents.get(parent)
    return None


def _on_small_table(call: ast.Call) -> bool:
    """True when ``call`` is a method of a small Polars table: one built by ``pl.DataFrame(…)`` in the
    same expression, or a name bound to one (``day_period``, ``days``), or ``pl.concat`` of them."""
    if not isinstance(call.func, ast.Attribute):
        return False
    receiver = call.func.value
    if isinstance(receiver, ast.Name) and receiver.id == "pl":
        return call.func.attr in ("concat", "DataFrame")
    while isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Attribute):
        if isinstance(receiver.func.value, ast.Name) and receiver.func.value.id == "pl":
            return receiver.func.attr == "DataFrame"
        receiver = receiver.func.value
    return isinstance(receiver, ast.Name) and receiver.id in {"day_period", "days"}


@pytest.mark.parametrize("fn", PORTABLE, ids=lambda f: f"{f.__module__}.{f.__qualname__}")
def test_portable_function_uses_no_polars_only_operation(fn: Callable[..., object]) -> None:
    assert _offences(fn) == []


def test_the_guard_catches_polars_operations() -> None:
    def leaky(frame):
        import polars as pl

        return frame.filter(pl.col("a") > 1).to_native().collect().with_columns(pl.lit(1))

    found = _offences(leaky)
    assert "pl.lit (line 4)" in found
    assert ".to_native() (line 4)" in found
    assert ".collect() (line 4)" in found
    assert any(f.startswith("pl.col in .filter()") for f in found)
