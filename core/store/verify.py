"""`verify`: replay the ledger against the folder and name every discrepancy.

Read-only and lock-free, so an auditor can run it on a copy. One pass: each file is checked as the
ledger line that records it is replayed, hashed in chunks through one reused buffer, and each inode
once, so hard-linked copies of an artefact under several principles cost one read. Only the recorded
paths are kept in memory, for the final walk that finds files never filed. (A thread pool was
measured slower: lock hand-offs per small file cost more than the hashing.)
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import layout
from .ledger import GENESIS, iter_lines, line_hash
from .local import PENDING

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from ..signing.check import SignatureState

CHUNK = 1 << 20
SIG_DIR = "signatures"  # checked against the ledger by `evidentia.signing`, not recorded in it
# Written by the portal (`evidentia.report.portal.PORTAL_FILES`) from the ledger, so never recorded in
# it; top level only, exact names. Not imported from there: the portal itself imports this module.
GENERATED_TOP_FILES = frozenset({"index.html", "index.json"})


@dataclass(frozen=True)
class Discrepancy:
    kind: str
    where: str
    message: str
    fatal: bool = True

    def __str__(self) -> str:
        label = self.kind if self.fatal else f"{self.kind} (warning)"
        return f"{label}: {self.where}: {self.message}"


@dataclass
class VerifyResult:
    discrepancies: list[Discrepancy] = field(default_factory=list)
    entries: int = 0
    files: int = 0
    bytes_hashed: int = 0
    signature: SignatureState | None = None
    pack: dict[str, Any] | None = None  # what an audit pack says of itself (window, segment, filters)

    @property
    def ok(self) -> bool:
        return not any(d.fatal for d in self.discrepancies)


class _Hasher:
    """Hashes files through one buffer, remembering inodes already hashed (hard-linked copies)."""

    def __init__(self) -> None:
        self.buffer = bytearray(CHUNK)
        self.view = memoryview(self.buffer)
        self.by_inode: dict[tuple[int, int, int], tuple[str, int]] = {}
        self.links_left: dict[tuple[int, int, int], int] = {}

    def hash(self, path: str, st: os.stat_result) -> tuple[str, int]:
        key = (st.st_dev, st.st_ino, st.st_mtime_ns)
        known = self.by_inode.get(key)
        if known is not None:
            self.links_left[key] -= 1
            if not self.links_left[key]:  # every link seen: forget it, keeping memory flat
                del self.by_inode[key], self.links_left[key]
            return known
        digest = hashlib.sha256()
        size = 0
        fd = os.open(path, os.O_RDONLY)
        try:
            while n := os.readv(fd, [self.buffer]):
                digest.update(self.view[:n])
                size += n
        finally:
            os.close(fd)
        result = (digest.hexdigest(), size)
        if st.st_nlink > 1:
            self.by_inode[key] = result
            self.links_left[key] = st.st_nlink - 1
        return result


def _pending_paths(root: Path) -> set[str] | None:
    path = root / layout.TOOL_DIR / PENDING
    if not path.exists():
        return None
    try:
        pending = json.loads(path.read_bytes())
    except ValueError:
        return set()
    out: set[str] = set()
    for item in pending.get("items", []):
        out.update(item["body"].get("paths", ()))
        out.update(item["body"].get("meta_paths", ()))
    return out


def _safe_rel(rel: Any) -> bool:
    return (
        isinstance(rel, str)
        and bool(rel)
        and not rel.startswith("/")
        and ".." not in rel.split("/")
        and not rel.startswith(layout.TOOL_DIR)
    )


class LedgerReplay:
    """Checks the chain line by line and each recorded file as its line is read."""

    def __init__(
        self,
        root: Path,
        result: VerifyResult,
        pending: set[str] | None,
        *,
        wanted: set[int] | None = None,
        only: set[str] | None = None,
    ) -> None:
        self.root = str(root)
        self.result = result
        self.pending = pending
        self.recorded: set[str] = set()
        self.sha_by_seq: dict[int, str] = {}
        self.hasher = _Hasher()
        self.wanted = wanted or set()
        self.hash_at: dict[int, str] = {}  # line hashes a signature statement names
        self.promised: dict[int, str] = {}  # run records that said their run signs, and with which key
        self.only = only  # an audit pack holds only these of the recorded files
        self.last_seq = 0
        self.head = GENESIS

    def problem(self, kind: str, where: str, message: str, fatal: bool = True) -> None:
        self.result.discrepancies.append(Discrepancy(kind, where, message, fatal))

    def run(self, ledger: Path, first_seq: int = 1, prev: str = GENESIS) -> None:
        """Replay `ledger`, whose first line is line `first_seq` of the chain and links to `prev`."""
        self.last_seq = first_seq - 1
        for index, line in iter_lines(ledger):
            number = first_seq + index - 1
            where = f"{layout.LEDGER} line {number}"
            if not line.endswith(b"\n"):
                interrupted = self.pending is not None
                self.problem(
                    "ledger", where, "incomplete last line (interrupted write)", fatal=not interrupted
                )
                break
            try:
                entry = json.loads(line)
            except ValueError:
                self.problem("ledger", where, "not valid JSON (edited or corrupted)")
                prev = self._skip(line, number)
                continue
            if not isinstance(entry, dict):
                self.problem("ledger", where, "not a JSON object")
                prev = self._skip(line, number)
                continue
            if entry.get("prev") != prev:
                self.problem("chain", where, "'prev' does not match the SHA-256 of the line before")
            if entry.get("seq") != number:
                self.problem("chain", where, f"seq is {entry.get('seq')!r}, expected {number}")
            self.result.entries += 1
            self.entry(entry, number, where)
            prev = line_hash(line)
            self.last_seq, self.head = number, prev
            if number in self.wanted:
                self.hash_at[number] = prev

    def _skip(self, line: bytes, number: int) -> str:
        """An unreadable line still holds its place in the chain (and under a signature)."""
        self.last_seq, self.head = number, line_hash(line)
        if number in self.wanted:
            self.hash_at[number] = self.head
        return self.head

    def entry(self, entry: dict[str, Any], number: int, where: str) -> None:
        kind = entry.get("type")
        sha = entry.get("sha256")
        if kind == "unchanged":
            original = self.sha_by_seq.get(entry.get("same_as", -1))
            if original is None or original != sha:
                self.problem("ledger", where, f"'unchanged' points at no earlier filing with {sha}")
            return
        if kind not in ("artefact", "catalog", "run"):
            self.problem("ledger", where, f"unknown entry type {kind!r}")
            return
        self.sha_by_seq[number] = str(sha)
        if kind == "run" and isinstance(entry.get("signing_key_sha256"), str):
            self.promised[number] = entry["signing_key_sha256"]
        size = entry.get("size")
        for rel in entry.get("paths", []):
            self.check(rel, str(sha), size, number, where, "content")
        for rel in entry.get("meta_paths", []):
            self.check(rel, str(entry.get("meta_sha256")), None, number, where, "metadata record")

    def check(self, rel: Any, sha: str, size: Any, number: int, where: str, what: str) -> None:
        if not _safe_rel(rel):
            self.problem("ledger", where, f"recorded path {rel!r} is outside the evidence folders")
            return
        if self.only is not None and rel not in self.only:
            return  # left out of the audit pack (outside its window or filters)
        if rel in self.recorded:
            self.problem("ledger", where, f"{rel} is recorded twice")
            return
        self.recorded.add(rel)
        problem = self._file_problem(rel, sha, size, number, what)
        self.result.files += 1
        if problem:
            self.result.discrepancies.append(problem)

    def _file_problem(self, rel: str, sha: str, size: Any, number: int, what: str) -> Discrepancy | None:
        path = os.path.join(self.root, rel)
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            return Discrepancy("missing", rel, f"recorded in ledger line {number}")
        if stat.S_ISLNK(st.st_mode) or not stat.S_ISREG(st.st_mode):
            return Discrepancy("changed", rel, "is not a regular file (a link?), not the filed bytes")
        try:
            actual, actual_size = self.hasher.hash(path, st)
        except OSError as exc:
            return Discrepancy("missing", rel, f"cannot be read: {exc.strerror}")
        self.result.bytes_hashed += actual_size
        if actual != sha:
            return Discrepancy("changed", rel, f"{what} SHA-256 {actual} != recorded {sha}")
        if size is not None and actual_size != size:
            return Discrepancy("changed", rel, f"size {actual_size} != recorded {size}")
        return None


def _walk(
    root: Path, skip_top: frozenset[str] = frozenset(), skip_dirs: frozenset[str] = frozenset()
) -> Iterator[str]:
    """Every file (and linked folder) under `root` except the top-level names that are not evidence."""
    skip_top = skip_top | {layout.LEDGER, layout.README} | GENERATED_TOP_FILES
    skip_dirs = skip_dirs | {layout.TOOL_DIR, SIG_DIR}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d not in skip_dirs]
        for name in filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
            if rel_dir == "." and name in skip_top:
                continue
            yield rel
        for name in dirnames:
            if os.path.islink(os.path.join(dirpath, name)):
                yield name if rel_dir == "." else f"{rel_dir}/{name}"


def verify_store(root: Path, public_key: Ed25519PublicKey | None = None) -> VerifyResult:
    """Check every recorded file's hash, the chain, the signatures, and for files never filed.

    `public_key` is the auditor's own copy of the owner's key (origin); without it the key shipped
    in `signatures/` is used (integrity only, and said so).
    """
    from ..signing.check import check_signatures, load_signature_folder

    result = VerifyResult()
    if not (root / layout.LEDGER).exists():
        result.discrepancies.append(Discrepancy("store", str(root), "no ledger.jsonl: not a store"))
        return result
    if (root / layout.LEDGER).is_symlink():  # the chain must be this folder's, not a file elsewhere
        result.discrepancies.append(Discrepancy("ledger", layout.LEDGER, "is a link, not the store's ledger"))
    pending = _pending_paths(root)
    signatures = load_signature_folder(root / SIG_DIR)
    replay = LedgerReplay(root, result, pending, wanted=signatures.wanted)
    replay.run(root / layout.LEDGER)
    result.signature, problems = check_signatures(
        signatures, replay.hash_at, replay.last_seq, public_key, promised=replay.promised
    )
    result.discrepancies.extend(Discrepancy(*p) for p in problems)
    for rel in _walk(root):
        if rel in replay.recorded:
            continue
        if pending is not None and rel in pending:
            result.discrepancies.append(
                Discrepancy(
                    "interrupted",
                    rel,
                    "filed by a run that was stopped; the next run completes it",
                    fatal=False,
                )
            )
        else:
            result.discrepancies.append(Discrepancy("unrecorded", rel, "present but never filed"))
    return result
