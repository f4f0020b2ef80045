"""``kpi validate``, ``kpi init``, ``kpi config`` and ``kpi sample``: the commands around the data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kpi_cli.cli import app, handled
from kpi_cli.dataset import Dataset
from kpi_cli.errors import DataError, ExitCode
from kpi_cli.schemas import SOURCES, normalise


@app.command()
def validate(
    data: Annotated[str | None, typer.Option(help="Data directory.")] = None,
    config: Annotated[str | None, typer.Option(help="Config file.")] = None,
    debug: Annotated[bool, typer.Option(help="Show tracebacks.")] = False,
) -> None:
    """Check every source present: rows, date range, mapping, bad rows by reason, warnings.

    Exits 1 when any source has an error or a bad row.

    Example:

      kpi validate --data exports/
    """
    from kpi_cli.config import load_settings
    from kpi_cli.dataset import Dataset
    from kpi_cli.revenue.base import load_items

    with handled(debug):
        settings = load_settings({"data_dir": data}, config)
        ds = Dataset(settings, on_bad_rows="skip")
        present = [s for s in SOURCES if ds.has(s)]
        if not present:
            msg = f"no source found in {settings.data_dir}"
            raise DataError(msg, hint=f"expected files named like {', '.join(s + '.csv' for s in SOURCES)}")
        failed = False
        for name in present:
            try:
                if name in ("subscriptions", "invoices"):
                    if name == "invoices" and ds.has("subscriptions"):
                        ds.load("invoices")
                    else:
                        load_items(ds)
                elif name == "events":
                    _event_hygiene(ds)
                else:
                    ds.load(name)
            except DataError as e:
                typer.echo(f"✗ {name}: {e.message}" + (f"\n    hint: {e.hint}" if e.hint else ""))
                failed = True
                continue
            rep = ds.reports[name]
            mark = "✗" if rep.rejected else "✓"
            failed |= bool(rep.rejected)
            typer.echo(f"{mark} {name}: {rep.rows_read} rows read, {rep.duplicates} exact duplicates, "
                       f"{rep.rejected} bad, {rep.used} used — {', '.join(rep.files)}")
            mapped = [f"{c}←{h!r}" for c, h in rep.mapping.items() if normalise(c) != normalise(h)]
            if mapped:
                typer.echo(f"    mapping: {', '.join(mapped)}")
            for reason, n in rep.reasons.items():
                typer.echo(f"    {n} × {reason}")
            span = _date_span(ds, name)
            if span:
                typer.echo(f"    dates: {span}")
        for w in dict.fromkeys(ds.warnings):
            typer.echo(f"! warning: {w}")
        if failed:
            raise typer.Exit(int(ExitCode.DATA_ERROR))


def _event_hygiene(ds: Dataset) -> None:
    """Load events through hygiene and add what it found to the report's warnings."""
    import polars as pl

    from kpi_cli.engagement.events import Exclusions, Roles
    from kpi_cli.engagement.hygiene import load_events

    roles = Roles.from_table(ds.settings.tables.get("events", {}))
    events, hygiene = load_events(ds, exclusions=Exclusions.from_config(ds.settings.tables.get("exclude", {})))
    ds.warnings.append(f"events: {hygiene.repeated_ids} repeated event_id dropped, {hygiene.merged_anonymous} "
                       f"anonymous rows merged into users, {hygiene.anonymous_rows} rows stay anonymous, "
                       f"{hygiene.excluded_actors} actors / {hygiene.excluded_rows} rows excluded by [exclude]")
    signups = events.filter(pl.col("event").is_in(roles.events("signup"))).group_by("actor").agg(
        pl.col("ts").min().alias("t0"))
    early = events.join(signups, on="actor").filter(pl.col("ts") < pl.col("t0"))
    if early.height:
        ds.warnings.append(f"events: {early.height} events of {early['actor'].n_unique()} actors come before "
                           "their first signup (kept; cohorts start at the signup)")
    if hygiene.anonymous_rows:
        ds.warnings.append(f"events: {hygiene.anonymous_rows} rows have only an anonymous_id (each id is its own "
                           "actor; --identified-only drops them)")


def _date_span(ds: object, name: str) -> str | None:
    import polars as pl

    frame = ds._cache.get(name)  # type: ignore[attr-defined]
    if frame is None or frame.height == 0:
        return None
    ts = [c.name for c in SOURCES[name] if c.kind == "ts" and c.name in frame.columns]
    if not ts:
        return None
    col = ts[0]
    lo, hi = frame.select(pl.col(col).min().alias("lo"), pl.col(col).max().alias("hi")).row(0)
    if lo is None:
        return None
    as_dt = pl.Series([lo, hi]).cast(pl.Datetime("us")).dt.strftime("%Y-%m-%d %H:%M").to_list()
    return f"{col} {as_dt[0]} … {as_dt[1]}"


@app.command()
def init(
    data: Annotated[str, typer.Option(help="Data directory to inspect.")] = ".",
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the config.")] = Path("kpi.toml"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Inspect the data directory, guess presets from headers and write a commented kpi.toml.

    Example:

      kpi init --data exports/
    """
    from kpi_cli.config import load_settings
    from kpi_cli.loading import _headers, _scan_one, find_files
    from kpi_cli.presets import PRESETS

    with handled(False):
        if output.exists() and not force:
            msg = f"{output} exists"
            raise DataError(msg, hint="pass --force to overwrite it")
        settings = load_settings({"data_dir": data})
        lines = ["# kpi configuration — written by `kpi init`; every setting can also be a flag.",
                 f'data_dir = "{data}"', '# tz = "UTC"', '# currency = "USD"', '# week_start = "mon"', ""]
        for name in SOURCES:
            files = find_files(name, settings)
            if not files:
                continue
            headers = _headers(_scan_one(files[0]), files[0])
            keys = {normalise(h) for h in headers}
            best, score = None, 0
            for p in PRESETS.values():
                if p.source != name:
                    continue
                hits = sum(any(normalise(c) in keys for c in cands) for cands in p.columns.values())
                if hits > score:
                    best, score = p, hits
            lines.append(f"[sources.{name}]")
            lines.append(f"# found {files[0]} with {len(headers)} columns")
            required = [c.name for c in SOURCES[name] if c.required]
            plain = sum(normalise(c) in keys for c in required)
            chosen = best if best is not None and score > plain else None
            if chosen is not None:
                lines.append(f'preset = "{chosen.name}"')
            lines.append(f"# [sources.{name}.columns]  # canonical = \"header in your file\"")
            for c in SOURCES[name]:
                candidates = (c.name, *(chosen.columns.get(c.name, ()) if chosen else ()))
                if c.required and not any(normalise(h) in keys for h in candidates):
                    lines.append(f'# {c.name} = "?"   # required, not found in the file')
            lines.append("")
        output.write_text("\n".join(lines))
        typer.echo(f"wrote {output}", err=True)


@app.command("config")
def show_config(
    config: Annotated[str | None, typer.Option(help="Config file.")] = None,
) -> None:
    """Print the resolved settings and where each came from."""
    from kpi_cli.config import load_settings

    with handled(False):
        settings = load_settings({}, config)
        for key, value, origin in settings.provenance():
            typer.echo(f"{key:<18} {value:<20} {origin}")
        for name, table in sorted(settings.tables.get("sources", {}).items()):
            typer.echo(f"sources.{name:<10} {table}")


@app.command()
def sample(
    dest: Annotated[Path, typer.Argument(help="Folder to write the sample dataset into.")] = Path("kpi-sample"),
) -> None:
    """Write the bundled sample dataset (a fictional B2B SaaS company, 24 months) to a folder.

    Example:

      kpi sample demo && kpi compute revenue --data demo --last 3
    """
    from kpi_cli.sample import write_sample

    with handled(False):
        dest.mkdir(parents=True, exist_ok=True)
        for path in write_sample(dest):
            typer.echo(f"wrote {path}", err=True)
