"""Facts about the blobs behind snapshot files, gathered once per blob however many files share it.

Revisions of one repo usually share most blobs (a new commit that only edits the README links the
same multi-gigabyte weights), so facts are cached by the blob's real path: each blob is stat'ed and
hashed at most once per run.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from evidentia import CollectContext, Finding

from . import _findings
from ._hashing import digest_blob, utc_seconds
from ._layout import CachedRepo, SnapshotFile, blob_hash_algorithm


@dataclass(frozen=True)
class BlobFacts:
    """What one blob is. `skipped` says why `sha256` is null; `verified` is null when not checked."""

    missing: bool
    size: int | None = None
    accessed: dt.datetime | None = None
    modified: dt.datetime | None = None
    sha256: str | None = None
    skipped: str | None = None
    verified: bool | None = None


MISSING = BlobFacts(missing=True, skipped="blob missing")


class BlobReader:
    """Stats and (within the limits the params set) hashes blobs, remembering each answer."""

    def __init__(self, ctx: CollectContext, hash_files: bool, max_hash_bytes: int) -> None:
        self._ctx = ctx
        self._hash = hash_files
        self._max = max_hash_bytes
        self._known: dict[str, BlobFacts] = {}

    def facts(self, file: SnapshotFile) -> BlobFacts:
        key = os.path.realpath(file.target)
        if key not in self._known:
            self._known[key] = self._read(file.target, file.blob_name)
        return self._known[key]

    def _read(self, target: Path, name: str | None) -> BlobFacts:
        try:
            stat = target.stat()  # before reading: hashing must not count as the last access
        except FileNotFoundError:
            return MISSING
        listed = BlobFacts(False, stat.st_size, utc_seconds(stat.st_atime), utc_seconds(stat.st_mtime))
        if not self._hash:
            return replace(listed, skipped="hash_files is false")
        if stat.st_size > self._max:
            return replace(listed, skipped=f"larger than max_hash_bytes ({self._max})")
        self._ctx.check_cancelled()
        algorithm = blob_hash_algorithm(name) if name else None
        digests = digest_blob(target, stat.st_size, git_sha1=algorithm == "git-blob-sha1")
        named_by = {"sha256": digests.sha256, "git-blob-sha1": digests.git_blob_sha1}.get(algorithm or "")
        verified = None if named_by is None else named_by == name
        return replace(listed, sha256=digests.sha256, verified=verified)

    def _blobs(self, repo: CachedRepo) -> dict[str, tuple[str | None, BlobFacts]]:
        """The repo's distinct blobs (by real path) with their names, as already read."""
        return {
            os.path.realpath(f.target): (f.blob_name, self.facts(f))
            for rev in repo.revisions
            for f in rev.files
        }

    def mismatches(self, repo: CachedRepo) -> Iterator[Finding]:
        """`blob-hash-mismatch` for each blob of the repo whose content contradicts its name."""
        for name, facts in sorted(self._blobs(repo).values(), key=lambda item: item[0] or ""):
            if facts.verified is False and name and facts.sha256:
                yield _findings.hash_mismatch(repo, name, facts.sha256)

    def size_on_disk(self, repo: CachedRepo) -> int:
        """Bytes the repo's blobs take, each shared blob counted once."""
        return sum(facts.size or 0 for _, facts in self._blobs(repo).values())

    @staticmethod
    def partial_record(path: Path) -> dict[str, Any] | None:
        """A partial download as evidence: name, bytes so far, when last written. Never hashed.

        None when it vanished since the listing: a download in progress finished or was cleaned up.
        """
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        return {"blob": path.name, "size": stat.st_size, "last_modified": utc_seconds(stat.st_mtime)}
