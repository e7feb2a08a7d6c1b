"""`verify`: replay the ledger against the folder and name every discrepancy.

Read-only and lock-free, so an auditor can run it on a copy. Files are hashed in streaming chunks by
a small thread pool (hashlib releases the GIL), and each inode once, so hard-linked copies of an
artefact under several principles cost one read.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import layout
from .ledger import GENESIS, iter_lines, line_hash
from .local import PENDING

CHUNK = 1 << 20


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
class Expected:
    sha256: str
    size: int | None
    line: int
    is_meta: bool = False


@dataclass
class VerifyResult:
    discrepancies: list[Discrepancy] = field(default_factory=list)
    entries: int = 0
    files: int = 0
    bytes_hashed: int = 0

    @property
    def ok(self) -> bool:
        return not any(d.fatal for d in self.discrepancies)


def hash_file(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb", buffering=0) as fh:
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while n := fh.readinto(buf):
            digest.update(view[:n])
            size += n
    return digest.hexdigest(), size


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


class _LedgerReplay:
    """Checks the chain line by line and gathers what each recorded file must hash to."""

    def __init__(self, result: VerifyResult, pending: set[str] | None) -> None:
        self.result = result
        self.pending = pending
        self.expected: dict[str, Expected] = {}
        self.sha_by_seq: dict[int, str] = {}

    def problem(self, kind: str, where: str, message: str, fatal: bool = True) -> None:
        self.result.discrepancies.append(Discrepancy(kind, where, message, fatal))

    def run(self, ledger: Path) -> None:
        prev = GENESIS
        for number, line in iter_lines(ledger):
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
                prev = line_hash(line)
                continue
            if not isinstance(entry, dict):
                self.problem("ledger", where, "not a JSON object")
                prev = line_hash(line)
                continue
            if entry.get("prev") != prev:
                self.problem("chain", where, "'prev' does not match the SHA-256 of the line before")
            if entry.get("seq") != number:
                self.problem("chain", where, f"seq is {entry.get('seq')!r}, expected {number}")
            self.result.entries += 1
            self.entry(entry, number, where)
            prev = line_hash(line)

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
        size = entry.get("size")
        for rel in entry.get("paths", []):
            self.expect(rel, Expected(str(sha), size, number), where)
        for rel in entry.get("meta_paths", []):
            self.expect(rel, Expected(str(entry.get("meta_sha256")), None, number, True), where)

    def expect(self, rel: Any, exp: Expected, where: str) -> None:
        if not _safe_rel(rel):
            self.problem("ledger", where, f"recorded path {rel!r} is outside the evidence folders")
            return
        if rel in self.expected:
            self.problem("ledger", where, f"{rel} is recorded twice")
        self.expected[rel] = exp


def _walk(root: Path) -> Iterator[str]:
    skip_top = {layout.LEDGER, layout.README}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == ".":
            dirnames[:] = [d for d in dirnames if d != layout.TOOL_DIR]
        for name in filenames:
            rel = name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")
            if rel_dir == "." and name in skip_top:
                continue
            yield rel
        for name in dirnames:
            if os.path.islink(os.path.join(dirpath, name)):
                yield name if rel_dir == "." else f"{rel_dir}/{name}"


_Cache = dict[tuple[int, int, int], tuple[str, int]]


def _hash_once(path: Path, cache: _Cache) -> tuple[str, int]:
    """Hash a file, reusing the result for other hard links to the same unchanged inode."""
    st = path.stat()
    key = (st.st_dev, st.st_ino, st.st_mtime_ns)
    if key not in cache:
        cache[key] = hash_file(path)
    return cache[key]


def _check_file(root: Path, rel: str, exp: Expected, cache: _Cache) -> tuple[str, Discrepancy | None, int]:
    path = root / rel
    if path.is_symlink():
        return rel, Discrepancy("changed", rel, "is a symbolic link, not the filed bytes"), 0
    try:
        sha, size = _hash_once(path, cache)
    except FileNotFoundError:
        return rel, Discrepancy("missing", rel, f"recorded in ledger line {exp.line}"), 0
    except OSError as exc:
        return rel, Discrepancy("missing", rel, f"cannot be read: {exc.strerror}"), 0
    if sha != exp.sha256:
        what = "metadata record" if exp.is_meta else "content"
        return rel, Discrepancy("changed", rel, f"{what} SHA-256 {sha} != recorded {exp.sha256}"), size
    if exp.size is not None and size != exp.size:
        return rel, Discrepancy("changed", rel, f"size {size} != recorded {exp.size}"), size
    return rel, None, size


def verify_store(root: Path, *, workers: int | None = None) -> VerifyResult:
    """Check every recorded file's hash, the chain, and for files that were never filed."""
    result = VerifyResult()
    if not (root / layout.LEDGER).exists():
        result.discrepancies.append(Discrepancy("store", str(root), "no ledger.jsonl: not a store"))
        return result
    pending = _pending_paths(root)
    replay = _LedgerReplay(result, pending)
    replay.run(root / layout.LEDGER)
    expected = replay.expected
    checks: list[tuple[str, Discrepancy | None, int]] = []
    pool_size = workers or min(8, (os.cpu_count() or 2) * 2)
    cache: _Cache = {}
    # group hard-linked copies (same leaf name) so one thread meets them in turn and hashes once
    ordered = sorted(expected.items(), key=lambda item: item[0].rsplit("/", 1)[-1])
    with ThreadPoolExecutor(max_workers=pool_size) as pool:
        checks.extend(
            pool.map(lambda item: _check_file(root, item[0], item[1], cache), ordered, chunksize=64)
        )
    for _, problem, size in checks:
        result.files += 1
        result.bytes_hashed += size
        if problem:
            result.discrepancies.append(problem)
    for rel in _walk(root):
        if rel in expected:
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
