"""Where a source's files are: a configured path or glob, else the data directory (SPEC §1.1).

Names match case-insensitively; a folder of parts and a preset's own file names count too. A data
directory may be a URI (``s3://bucket/prefix/``, ``gs://…``, ``file:///…``): it is listed through
PyArrow's filesystems, with the same rules, and the files found are handed to the engine as URIs.
Names starting with ``_`` or ``.`` (Spark's ``_SUCCESS``, ``_temporary/``, ``.crc`` files) are not
parts, as in Spark, Hive and PyArrow datasets.
"""

from __future__ import annotations

import fnmatch
import glob
from pathlib import Path
from typing import TYPE_CHECKING

from kpi_cli.errors import DataError
from kpi_cli.presets import PRESETS
from kpi_cli.schemas import SOURCES

if TYPE_CHECKING:
    from collections.abc import Iterable

    from kpi_cli.config import Settings

SUFFIXES = (".parquet", ".csv", ".csv.gz", ".jsonl", ".jsonl.gz", ".ndjson", ".json.gz")  # SPEC §1.1 order
PART_SUFFIXES = (*SUFFIXES, ".ndjson.gz")
REMOTE = ("s3://", "gs://", "gcs://", "az://", "abfs://", "http://", "https://", "hf://")
LISTABLE = ("s3://", "s3a://", "gs://", "gcs://", "abfs://", "abfss://", "hdfs://", "file://")
HIDDEN = ("_", ".")


def is_uri(text: str) -> bool:
    """True for a data directory given as a URI that PyArrow's filesystems can list."""
    return text.lower().startswith(LISTABLE)


def _listing(folder: Path) -> dict[str, Path]:
    """The folder's entries by lower-case name (names match case-insensitively, SPEC §1.1)."""
    try:
        return {p.name.lower(): p for p in sorted(folder.iterdir(), reverse=True)}
    except OSError:
        return {}


def _parts(folder: Path, suffixes: tuple[str, ...] = PART_SUFFIXES) -> list[str]:
    return sorted(str(p) for p in folder.rglob("*") if p.is_file() and p.name.lower().endswith(suffixes)
                  and not any(part.startswith(HIDDEN) for part in p.relative_to(folder).parts))


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
    uri = str(settings.values["data_dir"])
    if is_uri(uri):
        if uri not in settings.listings:  # listed once per run
            settings.listings[uri] = RemoteFolder(uri)
        return settings.listings[uri].find(name)
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
    found = _preset_files(root, preset.files) if preset else []
    if not found and _own_folder(root.resolve().name, entries, name):
        found = _parts(root)
    return found


def _own_folder(folder: str, entries: Iterable[str], name: str) -> bool:
    """True when the data directory is source ``name``'s own folder of parts (``--data …/events/``):
    it is named after the source and holds no file or folder named after any source."""
    named = {f"{s}{suffix}" for s in SOURCES for suffix in ("", *SUFFIXES)}
    return folder.lower() == name and not named & set(entries)


class RemoteFolder:
    """A data directory given as a URI, listed once through PyArrow's filesystem for its scheme.

    The rules are the local ones (``S.parquet`` first, then a folder ``S/`` of parts, Hive folders
    included; a directory named after the source is its folder); a preset's own file names are
    looked for only in local folders.
    """

    def __init__(self, uri: str) -> None:
        from pyarrow import fs

        self.uri = uri.rstrip("/")
        listed = "s3://" + self.uri[6:] if self.uri.lower().startswith("s3a://") else self.uri  # Hadoop's name
        try:
            self.fs, self.root = fs.FileSystem.from_uri(listed)
            infos = self.fs.get_file_info(fs.FileSelector(self.root, allow_not_found=True))
        except (OSError, ValueError) as e:
            raise self._error(e) from None
        self.entries = {i.base_name.lower(): i for i in sorted(infos, key=lambda i: i.base_name, reverse=True)}

    def _error(self, e: Exception) -> DataError:
        msg = f"data directory {self.uri}: cannot list it ({str(e).splitlines()[0]})"
        return DataError(msg, hint="check the URI and the credentials in the environment "
                                   "(AWS_*, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_*)")

    def _as_uri(self, path: str) -> str:
        """The URI of a listed ``path``: the given URI and the path below it (an account, a host, the
        ``s3a`` scheme are kept as given)."""
        return self.uri + "/" + path.removeprefix(self.root.rstrip("/") + "/")

    def _parts(self, path: str) -> list[str]:
        from pyarrow import fs

        try:
            infos = self.fs.get_file_info(fs.FileSelector(path, recursive=True))
        except OSError as e:
            raise self._error(e) from None
        prefix = path.rstrip("/") + "/"
        return sorted(self._as_uri(i.path) for i in infos if i.type == fs.FileType.File
                      and i.base_name.lower().endswith(PART_SUFFIXES)
                      and not any(p.startswith(HIDDEN) for p in i.path.removeprefix(prefix).split("/")))

    def find(self, name: str) -> list[str]:
        """The files of source ``name`` in this directory, as URIs."""
        from pyarrow import fs

        for suffix in SUFFIXES:
            info = self.entries.get(f"{name}{suffix}")
            if info is not None and info.type == fs.FileType.File:
                return [self._as_uri(info.path)]
        folder = self.entries.get(name)
        if folder is not None and folder.type == fs.FileType.Directory:
            parts = self._parts(folder.path)
            if parts:
                return parts
        if _own_folder(self.root.rstrip("/").rsplit("/", 1)[-1], self.entries, name):
            return self._parts(self.root)
        return []


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
