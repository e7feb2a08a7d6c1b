"""File-system helpers shared by the folder-walking collectors (`local.files`, `ai_inventory`).

Both collectors must agree on what a glob means and on what is never evidence (the `.git` folder,
the evidence store itself, virtual environments), or the same folder would be described
differently by two collectors. Globs are matched against posix paths relative to the config file's
folder, with `**` spanning folders and `*` staying inside one, as in most ignore files.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_EXCLUDE: tuple[str, ...] = (".git/**", "evidence/**", ".venv/**", "**/__pycache__/**")
CHUNK = 1024 * 1024
_WILDCARDS = frozenset("*?[")

EXCLUDE_SCHEMA: dict[str, Any] = {
    "type": "array",
    "items": {"type": "string", "minLength": 1},
    "default": list(DEFAULT_EXCLUDE),
    "description": (
        "Globs of paths never collected, relative to the config file's folder ('**' spans "
        "folders). Replaces the default list, so keep '.git/**' and the evidence folder in it."
    ),
}


def glob_regex(pattern: str) -> re.Pattern[str]:
    """Compile a glob to a regex over posix paths: `**/` is any folders, `*` stays in one."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and (close := pattern.find("]", i + 2)) != -1:
            body = pattern[i + 1 : close]
            negate = body.startswith("!")
            body = re.escape(body[1:] if negate else body).replace("\\-", "-")
            out.append(f"[{'^/' if negate else ''}{body}]")
            i = close + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


def split_glob(pattern: str) -> tuple[str, str]:
    """Split `docs/policies/**/*.md` into the literal folder to walk and the rest to match."""
    parts = pattern.split("/")
    literal: list[str] = []
    for part in parts[:-1]:
        if _WILDCARDS & set(part):
            break
        literal.append(part)
    rest = "/".join(parts[len(literal) :])
    root = "/".join(literal) if literal != [""] else "/"
    return root or ".", rest


class Excluder:
    """Decides which paths are never collected; prunes whole folders so `.git` is never read."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self._files = [glob_regex(p) for p in patterns]
        self._dirs = [glob_regex(p[:-3]) for p in patterns if p.endswith("/**")]

    def file(self, rel: str) -> bool:
        return any(rx.fullmatch(rel) for rx in self._files)

    def folder(self, rel: str) -> bool:
        return any(rx.fullmatch(rel) for rx in self._dirs)


def display_path(path: Path, base: Path) -> str:
    """The path as evidence names it: posix and relative to the config folder when possible."""
    return Path(os.path.relpath(path, base)).as_posix()


def walk_files(root: Path, base: Path, excluder: Excluder) -> Iterator[tuple[Path, str, str]]:
    """Yield (path, path relative to `base`, path relative to `root`) for files, sorted.

    Symlinked folders are not followed (no loops, nothing outside what was asked for); excluded
    folders are pruned before they are read.
    """
    if root.is_file():
        rel = display_path(root, base)
        if not excluder.file(rel):
            yield root, rel, root.name
        return
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        dirs[:] = sorted(d for d in dirs if not excluder.folder(display_path(here / d, base)))
        for name in sorted(files):
            path = here / name
            rel = display_path(path, base)
            if path.is_file() and not excluder.file(rel):  # skips broken links, sockets
                yield path, rel, path.relative_to(root).as_posix()


@dataclass(frozen=True)
class FileFacts:
    """Size, digest and modification time of one file, read once in chunks."""

    size: int
    sha256: str
    modified: dt.datetime


def file_facts(path: Path) -> FileFacts:
    """Hash a file without loading it whole: models can be many gigabytes."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return FileFacts(size, digest.hexdigest(), modified_utc(path))


def modified_utc(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(path.stat().st_mtime, tz=dt.timezone.utc).replace(microsecond=0)
