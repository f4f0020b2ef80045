"""Where a source's files are: a configured path or glob, else the data directory (SPEC §1.1).

Names match case-insensitively; a folder of parts and a preset's own file names count too.
"""

from __future__ import annotations

import fnmatch
import glob
from pathlib import Path
from typing import TYPE_CHECKING

from kpi_cli.errors import DataError
from kpi_cli.presets import PRESETS

if TYPE_CHECKING:
    from kpi_cli.config import Settings

SUFFIXES = (".parquet", ".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".json.gz")  # SPEC §1.1 order
PART_SUFFIXES = (*SUFFIXES, ".ndjson.gz")
REMOTE = ("s3://", "gs://", "gcs://", "az://", "abfs://", "http://", "https://", "hf://")


def _listing(folder: Path) -> dict[str, Path]:
    """The folder's entries by lower-case name (names match case-insensitively, SPEC §1.1)."""
    try:
        return {p.name.lower(): p for p in sorted(folder.iterdir(), reverse=True)}
    except OSError:
        return {}


def _parts(folder: Path, suffixes: tuple[str, ...] = PART_SUFFIXES) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(suffixes))


def find_files(name: str, settings: Settings) -> list[str]:
    """The files of source ``name``: config path/glob, else the first match in the data dir.

    In the data dir: ``name`` with the first suffix of :data:`SUFFIXES` present, else a folder
    ``name/`` of parts, else the files the source's preset names (:attr:`Preset.files`); names
    match case-insensitively.
    """
    table = settings.source_table(name)
    configured = table.get("path")
    if configured:
        text = str(configured)
        if text.startswith(REMOTE):
            return [text]
        base = settings.project_file.parent if settings.project_file else Path()
        pattern = text if Path(text).is_absolute() else str(base / text)
        found = sorted(glob.glob(pattern, recursive=True)) if any(c in text for c in "*?[") else [pattern]
        if not found or not all(Path(f).exists() for f in found):
            msg = f"source {name}: {text} matches no file"
            raise DataError(msg, hint=f"fix [sources.{name}] path in the config")
        return _expand(found)
    root = settings.data_dir
    entries = _listing(root)
    for suffix in SUFFIXES:
        candidate = entries.get(f"{name}{suffix}")
        if candidate is not None and candidate.is_file():
            return [str(candidate)]
    folder = entries.get(name)
    if folder is not None and folder.is_dir():
        parts = _parts(folder)
        if parts:
            return parts
    preset = PRESETS.get(str(table.get("preset") or "").lower())
    return _preset_files(root, preset.files) if preset else []


def _preset_files(root: Path, patterns: tuple[str, ...]) -> list[str]:
    """Data files under ``root`` whose path (relative, lower case) matches one of ``patterns``."""
    found: set[str] = set()
    for pattern in patterns:
        depth = pattern.count("/")
        places = [root] if depth == 0 else [p for p in _listing(root).values() if p.is_dir()]
        for place in places:
            for entry in _listing(place).values():
                relative = entry.name.lower() if depth == 0 else f"{place.name.lower()}/{entry.name.lower()}"
                if fnmatch.fnmatchcase(relative, pattern.lower()):
                    if entry.is_file() and entry.name.lower().endswith((*PART_SUFFIXES, ".json")):
                        found.add(str(entry))
                    elif entry.is_dir():
                        found.update(_parts(entry))
    return sorted(found)


def _expand(paths: list[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        out += _parts(Path(p)) if Path(p).is_dir() else [p]
    return out
