"""``kpi validate``, ``kpi init``, ``kpi config`` and ``kpi sample``: the commands around the data."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kpi_cli.cli import (
    ACQUISITION_OPTS,
    ENGAGEMENT_OPTS,
    INPUT_OPTS,
    MESSAGE_OPTS,
    RANGE_OPTS,
    REVENUE_OPTS,
    SATISFACTION_OPTS,
    PanelCommand,
    app,
    data_command,
    handled,
    say_config_warnings,
    start_run,
)
from kpi_cli.errors import DataError, ExitCode, KpiError, NoMetricError
from kpi_cli.schemas import SOURCES, normalise

if TYPE_CHECKING:
    from kpi_cli.api import Run
    from kpi_cli.dataset import Dataset

# validate takes what compute takes, output options aside: it prints a report, not data.
VALIDATE_OPTS = (*RANGE_OPTS, "by", *INPUT_OPTS, *REVENUE_OPTS, *ENGAGEMENT_OPTS, *ACQUISITION_OPTS,
                 *SATISFACTION_OPTS, *MESSAGE_OPTS)
# The metric groups compute would run on each kind of data, and the sources each reads first.
FAMILIES = (("revenue", ("subscriptions", "invoices")), ("acquisition", ("spend", "traffic")),
            ("engagement", ("events",)), ("satisfaction", ("surveys", "tickets")))


@app.command(cls=PanelCommand)
@data_command(uses=VALIDATE_OPTS)
def validate(common: dict[str, Any]) -> None:
    """Check every source present and run every check compute runs: rows, date range, mapping, bad rows
    by reason, warnings.

    Exits 1 exactly when `kpi compute` would fail on the same data and options (bad rows under the
    default --on-bad-rows error included), with the message compute gives.

    Example:

      kpi validate --data exports/ --currency USD
    """
    from kpi_cli.api import compute_run

    mode = common["on_bad_rows"]
    # Rows are read with skip so every reason is counted; under `error` any bad row still fails below.
    run = start_run({**common, "on_bad_rows": "skip", "rejects": None})
    ds = run.dataset
    present = [s for s in SOURCES if ds.has(s)]
    if not present:
        msg = f"no source found in {run.settings.data_place}"
        raise DataError(msg, hint=f"expected files named like {', '.join(s + '.csv' for s in SOURCES)}")
    errors: dict[str, KpiError] = {}
    for family, sources in FAMILIES:
        if any(s in present for s in sources):
            try:
                compute_run(family, run)
            except NoMetricError:  # the sources this group needs besides these are absent
                continue
            except KpiError as e:
                errors[family] = e
    family_of = {s: f for f, sources in FAMILIES for s in sources}
    for name in present:
        if name in ds.reports or family_of.get(name) in errors:
            continue
        try:
            ds.load(name)  # a source no family read (fx_rates unused, invoices beside subscriptions, …)
        except KpiError as e:
            errors[name] = e
    if "events" in present and "engagement" not in errors:
        try:
            _event_hygiene(ds)
        except KpiError as e:
            errors["events"] = e
    failed: list[int] = []
    for name in present:
        rep = ds.reports.get(name)
        if rep is None:
            continue
        bad = bool(rep.rejected) and mode == "error"
        if bad:
            failed.append(int(ExitCode.DATA_ERROR))
        typer.echo(f"{'✗' if bad else '✓'} {name}: {rep.rows_read} row{'s' * (rep.rows_read != 1)} read, "
                   f"{rep.duplicates} exact duplicate{'s' * (rep.duplicates != 1)}, "
                   f"{rep.rejected} bad, {rep.used} used — {', '.join(rep.files)}")
        mapped = [f"{c}←{h!r}" for c, h in rep.mapping.items() if normalise(c) != normalise(h)]
        if mapped:
            typer.echo(f"    mapping: {', '.join(mapped)}")
        for reason, n in rep.reasons.items():
            typer.echo(f"    {n} × {reason}")
        for note in ds.sources[name].notes if name in ds.sources else ():  # rows a preset's filter left out
            typer.echo(f"    {note}")
        span = _date_span(run, name)
        if span:
            typer.echo(f"    dates: {span}")
    for name, error in errors.items():
        failed.append(int(ExitCode.DATA_ERROR))  # SPEC §1.3: validate exits 1 on any error it finds
        typer.echo(f"✗ {name}: {error.message}" + (f"\n    hint: {error.hint}" if error.hint else ""))
    for w in dict.fromkeys(ds.warnings):
        typer.echo(f"! warning: {w}")
    if failed:
        raise typer.Exit(failed[0])


def _event_hygiene(ds: Dataset) -> None:
    """Load events through hygiene and add what it found to the report's warnings."""
    import polars as pl

    from kpi_cli.engagement.events import Exclusions, Roles
    from kpi_cli.engagement.hygiene import load_events

    if ds.memo.get("validate:hygiene"):
        return
    ds.memo["validate:hygiene"] = True
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


def _date_span(run: Run, name: str) -> str | None:
    """``column first … last`` of a source the run read, in the reporting timezone."""
    from kpi_cli.coverage import source_span, when

    found = source_span(run, name)
    if found is None:
        return None
    column, lo, hi = found
    return f"{column} {when(run, lo)} … {when(run, hi)}"


DATA_SUFFIXES = (".parquet", ".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".json.gz", ".json")


@app.command(cls=PanelCommand)
def init(
    data: Annotated[str, typer.Option(help="Data directory to inspect.", metavar="DIR")] = ".",
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the config.",
                                         metavar="FILE")] = Path("kpi.toml"),
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Inspect the data directory, guess each file's source and preset from its headers, write a kpi.toml.

    Prints, per file, the source and preset guessed and every required column still missing; exits 1
    when the config it wrote cannot run yet (a "?" left in a required mapping: edit those lines).

    Example:

      kpi init --data exports/
    """
    from kpi_cli.config import load_settings

    with handled(False):
        if output.exists() and not force:
            msg = f"{output} exists"
            raise DataError(msg, hint="pass --force to overwrite it")
        if not Path(data).is_dir():
            msg = f"data directory {data} not found"
            raise DataError(msg, hint="pass --data DIR, the folder holding your exports")
        settings = load_settings({"data_dir": data})
        # data_dir is read relative to the config file's folder (Settings.data_dir): write it so.
        rel = os.path.relpath(Path(data).resolve(), output.resolve().parent)
        lines = ["# kpi configuration — written by `kpi init`; every setting can also be a flag.",
                 f"data_dir = {_quote(Path(rel).as_posix())}", '# tz = "UTC"', '# currency = "USD"',
                 '# week_start = "mon"', ""]
        guesses = _guess_sources(settings, Path(data))
        for g in guesses:  # a source's path, like data_dir, is read relative to the config's folder
            if g.path is not None:
                g.path = Path(os.path.relpath(Path(g.file).resolve(), output.resolve().parent)).as_posix()
        if not guesses:
            msg = f"no data files found in {data}"
            raise DataError(msg, hint="point --data at the folder of your CSV/Parquet/JSONL exports")
        missing_total = 0
        for g in guesses:
            lines += g.toml()
            missing_total += len(g.missing)
            typer.echo(g.summary(), err=True)
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text("\n".join(lines))
        typer.echo(f"wrote {output}", err=True)
        if missing_total:
            msg = (f"{output} cannot run yet: {missing_total} required column{'s' * (missing_total != 1)} "
                   'mapped to "?"')
            raise DataError(msg, hint=f'edit the "?" lines of {output} with the headers of your files')


class _Guess:
    """What init found for one source: its file, preset, mappings and the required columns still missing."""

    def __init__(self, name: str, file: str, path: str | None, headers: list[str], preset: Any,
                 mapped: dict[str, str], missing: list[str]) -> None:
        self.name, self.file, self.path, self.headers = name, file, path, headers
        self.preset, self.mapped, self.missing = preset, mapped, missing
        self.hits = 0  # canonical columns found
        self.settings: list[str] = []  # lines of the source's table beyond path and preset (survey = …)
        self.advice: list[str] = []  # what to set by hand, for the summary (source_tz)

    def toml(self) -> list[str]:
        lines = [f"[sources.{self.name}]", f"# found {self.file} with {len(self.headers)} columns"]
        if self.path is not None:
            lines.append(f"path = {_quote(self.path)}")
        if self.preset is not None:
            lines.append(f"preset = {_quote(self.preset.name)}")
        lines += self.settings
        if self.mapped or self.missing:
            lines.append(f"[sources.{self.name}.columns]  # canonical = \"header in your file\"")
            lines += [f"{c} = {_quote(h)}" for c, h in self.mapped.items()]
            lines += [f'{c} = "?"   # required, not found in the file' for c in self.missing]
        return [*lines, ""]

    def summary(self) -> str:
        preset = f"preset {self.preset.name}" if self.preset is not None else "no preset"
        needs = (f"missing required {', '.join(self.missing)}" if self.missing
                 else "every required column mapped")
        return f"kpi: {self.file}: {self.name}, {preset}; {'; '.join([needs, *self.advice])}"


def _quote(text: str) -> str:
    import json

    return json.dumps(text, ensure_ascii=False)


def _headers_of(path: str, table: dict[str, object] | None = None) -> list[str]:
    """Top-level headers plus ``parent.field`` for fields of nested (JSON) objects, as mappings reach them.

    ``table`` may say how many header rows a CSV has (``header_rows``).
    """
    import polars as pl

    from kpi_cli.loading import _headers, _scan_one

    frame = _scan_one(path, table)
    headers = _headers(frame, path)
    schema = frame.collect_schema()
    return headers + [f"{n}.{f.name}" for n, dt in schema.items() if isinstance(dt, pl.Struct) for f in dt.fields]


def _guess(name: str, file: str, path: str | None, headers: list[str]) -> _Guess:
    """The best preset for ``headers`` as source ``name`` (or none), and what is left to map.

    A preset whose export has several header rows is then applied to the file's names read with
    them; survey exports named by their questions get the score's question and survey type guessed
    from its wording (:func:`kpi_cli.presets.survey_question`).
    """
    from kpi_cli.loading import zone_suffix
    from kpi_cli.presets import PRESETS, survey_question

    keys = {normalise(h): h for h in reversed(headers)}
    for h in reversed(headers):  # Intercom's "Conversation started at (America/New_York)"
        split = zone_suffix(h)
        if split is not None:
            keys.setdefault(normalise(split[0]), h)
    # Stripe's line items say "Period Start (UTC)" for period_start and "Customer" for customer_id:
    # a unit suffix or a missing "ID" still names the column.
    loose = {**{f"{k}id": h for k, h in keys.items()}, **{k.removesuffix("utc"): h for k, h in keys.items()}}
    required = [c.name for c in SOURCES[name] if c.required]
    question = survey_question(headers) if name == "surveys" else None

    def derived(preset: Any) -> dict[str, Any]:
        return preset.derive(headers) if preset is not None and preset.derive else {}

    def direct(col: str, preset: Any) -> str | None:
        found = derived(preset).get("columns", {}).get(col)
        if found is not None:
            return str(found)
        for cand in (*(preset.columns.get(col, ()) if preset else ()), col):
            if normalise(cand) in keys:
                return keys[normalise(cand)]
        return None

    def found(col: str, preset: Any) -> str | None:
        return direct(col, preset) or loose.get(normalise(col))

    def score(preset: Any) -> tuple[int, int]:
        cols = [c.name for c in SOURCES[name]]
        return (sum(found(c, preset) is not None for c in required), sum(found(c, preset) is not None for c in cols))

    best = max([None, *(p for p in PRESETS.values() if p.source == name)], key=score)
    # Found only loosely (a unit suffix): the loader needs the mapping written down.
    mapped = {c.name: loose[normalise(c.name)] for c in SOURCES[name]
              if direct(c.name, best) is None and normalise(c.name) in loose}
    settings: list[str] = []
    constants = derived(best)
    if name == "surveys" and found("score", best) is None and question is not None:
        mapped["score"] = question[0]
    if name == "surveys" and found("survey", best) is None:
        kind = constants.get("survey") or (question[1] if question else None)
        if kind is not None:
            constants = {**constants, "survey": kind}
            if "survey" not in derived(best):
                settings.append(f"survey = {_quote(kind)}  # every row is one kind of survey")
    missing = [c for c in required if found(c, best) is None and c not in mapped and c not in constants]
    guess = _Guess(name, file, path, headers, best, mapped, missing)
    guess.settings = settings
    guess.hits = score(best)[1]
    if best is not None and best.needs_tz:
        guess.settings.append(f'# source_tz = "America/New_York"  # required: set it to {best.needs_tz}')
        guess.advice.append("set source_tz: its times are naive local times")
    return guess


def _guessed(name: str, file: str, path: str | None, headers: list[str] | None = None) -> _Guess:
    """:func:`_guess` on a file's headers, read again with its preset's header rows when it has several."""
    headers = _headers_of(file) if headers is None else headers
    guess = _guess(name, file, path, headers)
    rows = guess.preset.header_rows if guess.preset is not None else 1
    if rows > 1 and not file.lower().endswith((".parquet", ".jsonl", ".ndjson", ".json", ".json.gz", ".jsonl.gz")):
        guess = _guess(name, file, path, _headers_of(file, {"header_rows": rows}))
    return guess


def _guess_sources(settings: Any, folder: Path) -> list[_Guess]:
    """One guess per source: files found under its own name first, then any other data file whose
    headers fit a source (e.g. Segment's ``tracks.csv`` as events)."""
    from kpi_cli.loading import find_files

    out: list[_Guess] = []
    claimed: set[str] = set()
    for name in SOURCES:
        files = find_files(name, settings)
        if files:
            claimed.update(str(Path(f).resolve()) for f in files)
            out.append(_guessed(name, files[0], None))
    taken = {g.name for g in out}
    others = sorted(p for p in folder.iterdir() if p.is_file() and p.name.lower().endswith(DATA_SUFFIXES)
                    and str(p.resolve()) not in claimed)
    for p in others:
        try:
            headers = _headers_of(str(p))
            fits = [g for g in (_guessed(n, str(p), p.name, headers) for n in SOURCES if n not in taken)
                    if not g.missing]
        except KpiError:
            typer.echo(f"kpi: {p}: cannot read its headers; skipped", err=True)
            continue
        if fits:
            g = max(fits, key=lambda g: g.hits)
            taken.add(g.name)
            out.append(g)
        else:
            typer.echo(f"kpi: {p}: not recognised as any source (see `kpi list` and SPEC's canonical columns); "
                       "skipped", err=True)
    return out


@app.command("config", cls=PanelCommand)
def show_config(
    config: Annotated[str | None, typer.Option(help="Config file (else KPI_CONFIG, ./kpi.toml).", metavar="FILE",
                                               show_default=False)] = None,
    data: Annotated[str | None, typer.Option(help="Data directory.", metavar="DIR", show_default=False)] = None,
) -> None:
    """Print the resolved settings and where each came from, then the config tables as TOML."""
    from kpi_cli.config import load_settings

    with handled(False):
        settings = load_settings({"data_dir": data}, config)
        say_config_warnings(settings, {})
        for key, value, origin in settings.provenance():
            typer.echo(f"{key:<18} {value or '(none)':<20} {origin}")
        for line in toml_lines(settings.tables):
            typer.echo(line)


def toml_lines(tables: dict[str, object], prefix: str = "") -> list[str]:
    """The tables of a parsed kpi.toml (``[sources.*]``, ``[events]``…) as TOML-like ``key = value`` lines."""
    out: list[str] = []
    for name, table in tables.items():
        if not isinstance(table, dict):
            continue
        path = f"{prefix}{name}"
        plain = {k: v for k, v in table.items() if not isinstance(v, dict)}
        if plain or not table:
            out += ["", f"[{path}]", *(f"{k} = {_toml_value(v)}" for k, v in plain.items())]
        out += toml_lines({k: v for k, v in table.items() if isinstance(v, dict)}, f"{path}.")
    return out


def _toml_value(value: object) -> str:
    """One value in TOML syntax (strings quoted, booleans lower case, lists bracketed)."""
    import json

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return f"[{', '.join(_toml_value(v) for v in value)}]"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@app.command(cls=PanelCommand)
def sample(
    dest: Annotated[Path, typer.Argument(help="Folder to write the sample dataset into.", metavar="DIR")]
    = Path("kpi-sample"),
) -> None:
    """Write the bundled sample dataset (a fictional B2B SaaS company, 24 months) and its kpi.toml to a folder.

    The data bills in USD, EUR and GBP; the kpi.toml beside it reports in USD. It is read from the
    folder you run kpi in, so change into the folder first.

    Example:

      kpi sample demo && cd demo && kpi compute revenue --last 3
    """
    from kpi_cli.sample import write_sample

    with handled(False):
        try:
            dest.mkdir(parents=True, exist_ok=True)
            for path in write_sample(dest):
                typer.echo(f"wrote {path}", err=True)
        except OSError as e:
            msg = f"cannot write the sample into {dest}: {e.strerror}"
            raise DataError(msg, hint="choose a folder you can write to") from None
