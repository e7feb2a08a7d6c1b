"""Reading a Hugging Face hub cache folder as `huggingface_hub` writes it, without importing it.

Layout (hub-docs "Hub Local Cache", huggingface_hub `scan_cache_dir`):

    <cache>/{models,datasets,spaces,kernels}--<org>--<name>/
        blobs/<etag>                 file contents, named by the Hub's etag: the SHA-256 for LFS
                                     files, the git blob SHA-1 for small files; `<etag>*.incomplete`
                                     while (or after an interrupted) download
        refs/<ref>                   one line: the commit SHA a branch, tag or `refs/pr/N` named
        snapshots/<commit>/<path>    symlinks to ../../blobs/<etag>; real files where the OS had no
                                     symlinks (Windows "degraded mode")
        .no_exist/<commit>/<path>    markers for files known not to exist (not evidence; skipped)
    <cache>/.locks/, <cache>/CACHEDIR.TAG, <cache>/blobs/ (the shared Xet store) are not repos.

This module only lists; it reads no file contents, so it is fast on a cache of any size.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

REPO_TYPES = {"models": "model", "datasets": "dataset", "spaces": "space", "kernels": "kernel"}
# OS helper files the library skips too; `.locks`, `CACHEDIR.TAG` and the shared `blobs` store
# are part of the cache but are not repositories.
NOT_REPOS = frozenset({".locks", "CACHEDIR.TAG", "blobs", ".DS_Store", "Thumbs.db", "desktop.ini"})
_SHA256 = re.compile(r"[0-9a-f]{64}")
_SHA1 = re.compile(r"[0-9a-f]{40}")
INCOMPLETE_SUFFIX = ".incomplete"


def blob_hash_algorithm(name: str) -> str | None:
    """What a blob's file name is a hash of: `sha256` (LFS content) or `git-blob-sha1` (git object)."""
    if _SHA256.fullmatch(name):
        return "sha256"
    if _SHA1.fullmatch(name):
        return "git-blob-sha1"
    return None


@dataclass(frozen=True)
class SnapshotFile:
    """One file of a revision: where the snapshot entry is and the blob it stands for."""

    path: str  # posix, relative to the snapshot folder (the path in the Hub repository)
    entry: Path  # the snapshot entry itself (a symlink, or a real file)
    blob: Path | None  # first symlink hop (blobs/<etag>); None for a real file

    @property
    def blob_name(self) -> str | None:
        return self.blob.name if self.blob is not None else None

    @property
    def target(self) -> Path:
        """What holds the bytes: the blob, or the entry itself when it is a real file."""
        return self.blob if self.blob is not None else self.entry


@dataclass
class Revision:
    commit: str
    refs: list[str]
    files: list[SnapshotFile]


@dataclass
class CachedRepo:
    folder: Path
    repo_type: str
    repo_id: str
    refs: dict[str, str] = field(default_factory=dict)
    revisions: list[Revision] = field(default_factory=list)
    incomplete: list[Path] = field(default_factory=list)

    @property
    def label(self) -> str:
        """How findings name the repo: `model:org/name`."""
        return f"{self.repo_type}:{self.repo_id}"


def parse_repo_folder(name: str) -> tuple[str, str] | None:
    """(`model`, `org/name`) for `models--org--name`, as the library splits it; None otherwise."""
    prefix, sep, rest = name.partition("--")
    if not sep or not rest or prefix not in REPO_TYPES:
        return None
    return REPO_TYPES[prefix], rest.replace("--", "/")


def read_refs(repo: Path) -> dict[str, str]:
    """Ref name (`main`, `v1.0`, `refs/pr/1`) -> commit SHA, from the files under `refs/`."""
    root = repo / "refs"
    refs: dict[str, str] = {}
    if not root.is_dir():
        return refs
    for folder, _, files in os.walk(root):
        for name in files:
            if name in NOT_REPOS:
                continue
            path = Path(folder) / name
            refs[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8").strip()
    return dict(sorted(refs.items()))


def _snapshot_file(snapshot: Path, entry: Path) -> SnapshotFile:
    rel = entry.relative_to(snapshot).as_posix()
    if not entry.is_symlink():
        return SnapshotFile(rel, entry, None)
    # The first hop only (as the library does): a repo blob may itself link into the shared store.
    blob = Path(os.path.normpath(entry.parent / os.readlink(entry)))
    return SnapshotFile(rel, entry, blob)


def list_snapshot(snapshot: Path) -> list[SnapshotFile]:
    """Every file of one revision, sorted; symlinked folders are not followed (no loops)."""
    found: list[SnapshotFile] = []
    for folder, dirs, files in os.walk(snapshot):
        dirs.sort()
        for name in sorted(files):  # broken symlinks are listed here too, on purpose
            if name not in NOT_REPOS:
                found.append(_snapshot_file(snapshot, Path(folder) / name))
    return sorted(found, key=lambda f: f.path)


def read_repo(folder: Path, repo_type: str, repo_id: str) -> CachedRepo:
    """One repo folder: its refs, each snapshot (with the refs pointing at it), partial blobs."""
    repo = CachedRepo(folder, repo_type, repo_id, refs=read_refs(folder))
    by_commit: dict[str, list[str]] = {}
    for ref, commit in repo.refs.items():
        by_commit.setdefault(commit, []).append(ref)
    snapshots = folder / "snapshots"
    if snapshots.is_dir():
        for snapshot in sorted(p for p in snapshots.iterdir() if p.is_dir()):
            files = list_snapshot(snapshot)
            repo.revisions.append(Revision(snapshot.name, by_commit.get(snapshot.name, []), files))
    blobs = folder / "blobs"
    if blobs.is_dir():
        repo.incomplete = sorted(p for p in blobs.iterdir() if p.name.endswith(INCOMPLETE_SUFFIX))
    return repo


def list_cache(cache_dir: Path) -> tuple[list[CachedRepo], list[str]]:
    """The repos in a cache folder, sorted by type and id, and the names of entries that are not."""
    repos: list[CachedRepo] = []
    others: list[str] = []
    for entry in sorted(cache_dir.iterdir()):
        if entry.name in NOT_REPOS:
            continue
        parsed = parse_repo_folder(entry.name)
        if parsed is None or not entry.is_dir():
            others.append(entry.name)
            continue
        repos.append(read_repo(entry, *parsed))
    return sorted(repos, key=lambda r: (r.repo_type, r.repo_id)), others
