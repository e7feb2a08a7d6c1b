"""The append-only, hash-chained ledger: one JSON object per line in `ledger.jsonl`.

Each entry's `prev` is the SHA-256 of the previous line's exact bytes (including its newline), so
the chain can be checked with `sed -n Np ledger.jsonl | sha256sum` and no canonicalisation rules.
The first entry's `prev` is 64 zeros.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

GENESIS = "0" * 64


def encode_entry(entry: dict[str, Any]) -> bytes:
    """One ledger line: compact, keys sorted, UTF-8, newline-terminated."""
    text = json.dumps(entry, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return (text + "\n").encode("utf-8")


def line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def iter_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """Yield (line number from 1, raw line bytes) without holding the file in memory."""
    if not path.exists():
        return
    with path.open("rb") as fh:
        yield from enumerate(fh, start=1)


class LedgerWriter:
    """Appends entries, keeping `seq` and `prev` consistent; one writer at a time (the store lock)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self.head = GENESIS
        self.good_size = 0
        for _, line in iter_lines(path):
            if not line.endswith(b"\n"):
                break  # a torn final line from a crash; truncated by `repair_torn_tail`
            self.count += 1
            self.head = line_hash(line)
            self.good_size += len(line)

    def repair_torn_tail(self) -> bool:
        """Drop an incomplete last line left by a crash mid-append (it was never committed)."""
        if self.path.exists() and self.path.stat().st_size > self.good_size:
            with self.path.open("r+b") as fh:
                fh.truncate(self.good_size)
                fh.flush()
                os.fsync(fh.fileno())
            return True
        return False

    def append(self, bodies: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Chain and append entries in one write and one fsync; return them with seq and prev."""
        entries, chunks = [], []
        for body in bodies:
            entry = {**body, "seq": self.count + 1, "prev": self.head}
            line = encode_entry(entry)
            chunks.append(line)
            entries.append(entry)
            self.count += 1
            self.head = line_hash(line)
        data = b"".join(chunks)
        with self.path.open("ab") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        self.good_size += len(data)
        return entries
