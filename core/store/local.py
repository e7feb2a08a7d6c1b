"""The folder store: atomic, batched, crash-safe filing keyed by principle.

Filing a batch is a small write-ahead protocol, so that killing the process at any moment leaves a
store that verifies:

1. artefact and metadata bytes are written into `.evidentia/staging/` and fsynced (invisible);
2. `.evidentia/pending.json` lists the batch's ledger entries and their staged files (fsynced);
3. staged files are renamed into their principle folders (and hard-linked into the other principle
   folders of the artefact), directories fsynced;
4. the ledger lines are appended in one write and one fsync;
5. `pending.json` is removed.

A crash before 2 leaves only staging litter, removed on the next open. A crash after 2 is rolled
forward on the next open: the files are put in place and the missing ledger lines appended, so
nothing collected is lost and no ledger entry ever lacks its file. `verify` reports files of a
pending batch as an interrupted filing rather than as tampering.
"""

from __future__ import annotations

import datetime as dt
import errno
import fcntl
import json
import os
import shutil
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from ..collector import canonical_json, utc_iso
from ..errors import StoreError
from . import layout
from .durability import fsync_path, sync_dirs, sync_new_files
from .ledger import LedgerWriter, iter_lines
from .readme import STORE_README

PENDING = "pending.json"
STAGING = "staging"
LOCK = "lock"


@dataclass
class StagedItem:
    """An artefact (or run record) waiting in the current batch."""

    body: dict[str, Any]
    content: bytes | None = None
    meta: bytes | None = None


@dataclass
class StoreIndex:
    """What the runner needs from history, rebuilt from the ledger on open (no mutable state)."""

    last_snapshot: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    last_success: dict[str, dict[str, Any]] = field(default_factory=dict)
    catalog_sha256: str | None = None
    used_paths: set[str] = field(default_factory=set)

    def observe(self, entry: Mapping[str, Any]) -> None:
        kind = entry.get("type")
        if kind == "artefact":
            self.last_snapshot[(entry["instance"], entry["name"])] = dict(entry)
            self.used_paths.update(entry.get("paths", ()))
        elif kind == "catalog":
            self.catalog_sha256 = entry["sha256"]
            self.used_paths.update(entry.get("paths", ()))
        elif kind == "run":
            self.used_paths.update(entry.get("paths", ()))
            for inst in entry.get("instances", []):
                if inst.get("status") == "ok":
                    self.last_success[inst["id"]] = inst


def _write_synced(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


class LocalStore:
    """An evidence folder. Use as a context manager: it holds the store lock while open."""

    def __init__(self, root: Path, *, lock_timeout: float = 30.0, batch_size: int = 256) -> None:
        self.root = root
        self.lock_timeout = lock_timeout
        self.batch_size = batch_size
        self.tool_dir = root / layout.TOOL_DIR
        self.staging = self.tool_dir / STAGING
        self._lock_fh: Any = None
        self._batch: list[StagedItem] = []
        self._reserved: set[str] = set()
        self._made_dirs: set[Path] = set()
        self.ledger: LedgerWriter | None = None
        self.index = StoreIndex()
        self.recovered = 0

    # -- opening, locking, recovery -------------------------------------------------------------

    def __enter__(self) -> LocalStore:
        self.open()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if exc_type is None:
                self.flush()
        finally:
            self.close()

    def open(self) -> None:
        if self.root.exists() and not self.root.is_dir():
            raise StoreError(f"store path {self.root} exists and is not a folder")
        self.staging.mkdir(parents=True, exist_ok=True)
        self._acquire_lock()
        readme = self.root / layout.README
        if not readme.exists():
            _write_synced(readme, STORE_README.encode("utf-8"))
        self.ledger = LedgerWriter(self.root / layout.LEDGER)
        self.ledger.repair_torn_tail()
        self._rebuild_index()
        self._recover()
        for leftover in self.staging.iterdir():
            leftover.unlink()

    def close(self) -> None:
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    def _acquire_lock(self) -> None:
        self._lock_fh = (self.tool_dir / LOCK).open("a+")
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                fcntl.flock(self._lock_fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    self._lock_fh.close()
                    self._lock_fh = None
                    raise StoreError(
                        f"another run holds the lock on {self.root} (waited {self.lock_timeout:.0f} s)",
                        hint="runs against one store are serialised; try again when it finishes",
                    ) from None
                time.sleep(0.1)

    def entries(self) -> Iterator[dict[str, Any]]:
        for _, line in iter_lines(self.root / layout.LEDGER):
            if line.endswith(b"\n"):
                yield json.loads(line)

    def _rebuild_index(self) -> None:
        self.index = StoreIndex()
        for entry in self.entries():
            self.index.observe(entry)

    def _recover(self) -> None:
        """Roll an interrupted batch forward: put its files in place, append missing entries."""
        pending_path = self.tool_dir / PENDING
        if not pending_path.exists():
            return
        try:
            pending = json.loads(pending_path.read_bytes())
        except ValueError:
            pending = None  # torn before its fsync completed: nothing was moved yet
        if pending:
            recorded = {e.get("filing_id") for e in self.entries()}
            missing = [item for item in pending["items"] if item["body"]["filing_id"] not in recorded]
            for item in missing:
                self._place_files(item["body"], item["staged"])
            if missing:
                assert self.ledger is not None
                for entry in self.ledger.append([item["body"] for item in missing]):
                    self.index.observe(entry)
                self.recovered = len(missing)
        pending_path.unlink()
        fsync_path(self.tool_dir)

    # -- filing ---------------------------------------------------------------------------------

    def add(
        self, body: dict[str, Any], content: bytes | None = None, meta: bytes | None = None
    ) -> list[dict[str, Any]]:
        """Queue one ledger entry with the bytes it records; return entries a full batch flushed."""
        body = {**body, "filing_id": uuid.uuid4().hex, "recorded_at": utc_iso(_now())}
        self._batch.append(StagedItem(body=body, content=content, meta=meta))
        if content is not None:
            self._reserved.update(body.get("paths", ()))
        if len(self._batch) >= self.batch_size:
            return self.flush()
        return []

    def flush(self) -> list[dict[str, Any]]:
        """Commit the queued batch durably; return the ledger entries written."""
        if not self._batch:
            return []
        batch, self._batch = self._batch, []
        pending_items = [self._stage(item) for item in batch]
        self._sync_staged(pending_items)
        pending_path = self.tool_dir / PENDING
        _write_synced(pending_path, canonical_json({"items": pending_items}))
        fsync_path(self.tool_dir)
        dirs: set[Path] = set()
        for item in pending_items:
            dirs.update(self._place_files(item["body"], item["staged"]))
        sync_dirs(self.root, dirs)
        assert self.ledger is not None
        entries = self.ledger.append([item["body"] for item in pending_items])
        pending_path.unlink()
        for entry in entries:
            self.index.observe(entry)
        self._reserved.clear()
        return entries

    def _stage(self, item: StagedItem) -> dict[str, Any]:
        staged: dict[str, str] = {}
        for role, data in (("content", item.content), ("meta", item.meta)):
            if data is None:
                continue
            name = f"{item.body['filing_id']}.{role}"
            _write_new(self.staging / name, data)
            staged[role] = name
        return {"body": item.body, "staged": staged}

    def _sync_staged(self, pending_items: list[dict[str, Any]]) -> None:
        """Make the whole staged batch durable at once, before anything refers to it."""
        files = (self.staging / name for item in pending_items for name in item["staged"].values())
        sync_new_files(self.staging, files)

    def _place_files(self, body: Mapping[str, Any], staged: Mapping[str, str]) -> set[Path]:
        """Move staged bytes to the entry's paths (first by rename, others by link or copy)."""
        touched: set[Path] = set()
        groups: list[tuple[str, Sequence[str]]] = [("content", body.get("paths", ()))]
        if body.get("meta_path"):
            groups.append(("meta", body.get("meta_paths", [body["meta_path"]])))
        for role, paths in groups:
            if role not in staged or not paths:
                continue
            first = self._target(paths[0])
            source = self.staging / staged[role]
            if source.exists():
                os.replace(source, first)
            touched.add(first.parent)
            for other in paths[1:]:
                target = self._target(other)
                if not target.exists():
                    _link_or_copy(first, target)
                touched.add(target.parent)
        return touched

    def _target(self, rel: str) -> Path:
        """The absolute path for a store-relative path, its folder created; never outside the store."""
        norm = os.path.normpath(rel)
        if norm.startswith(("..", "/")) or os.path.isabs(norm) or norm.startswith(layout.TOOL_DIR):
            raise StoreError(f"refusing to write outside the evidence folders: {rel}")
        path = self.root / norm
        if path.parent not in self._made_dirs:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._made_dirs.add(path.parent)
        return path

    def unique_paths(self, folders: Sequence[str], filename: str) -> list[str]:
        """One leaf name free in every folder (a counter breaks same-second clashes).

        The same leaf in each principle folder lets an auditor recognise the one artefact wherever
        they meet it.
        """
        stem, dot, ext = filename.rpartition(".")
        n = 1
        while True:
            leaf = filename if n == 1 else (f"{stem}-{n}.{ext}" if dot else f"{filename}-{n}")
            paths = [f"{folder}/{leaf}" for folder in folders]
            if not any(p in self.index.used_paths or p in self._reserved for p in paths):
                return paths
            n += 1


def _write_new(path: Path, data: bytes) -> None:
    """Create and write a file with raw syscalls: buffered `open()` costs far more per small file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _link_or_copy(source: Path, target: Path) -> None:
    """Hard-link where the file system allows it (no extra bytes); copy where it does not."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)
        with target.open("rb") as fh:
            os.fsync(fh.fileno())


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
