"""Digests and times of cached blobs, read without disturbing the evidence they are part of.

Two things differ from `local._fs.file_facts`, which is why it is not used directly here:

- The blob's last-access time is itself evidence (which cached models are in use), and reading a
  file to hash it refreshes that time under the usual `relatime` mount option, so a daily run would
  otherwise make every blob look "last used by the collector". Files are opened with `O_NOATIME`
  where the OS allows it (Linux, for files the collecting user owns, which is the usual case for a
  user's own cache) and times are taken from the `stat` made before reading.
- A small (non-LFS) file is stored under its git blob SHA-1, so the same pass computes that too,
  letting every blob be checked against the name it is stored under.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from evidentia.plugins.local._fs import CHUNK

_NOATIME = getattr(os, "O_NOATIME", 0)


@dataclass(frozen=True)
class Digests:
    sha256: str
    git_blob_sha1: str | None


def utc_seconds(timestamp: float) -> dt.datetime:
    """A stat time as an aware UTC datetime, to the second like the other local collectors."""
    return dt.datetime.fromtimestamp(timestamp, tz=dt.timezone.utc).replace(microsecond=0)


def _open_quietly(path: Path) -> int:
    """Open for reading without updating the access time when the OS lets us; plain open otherwise."""
    if _NOATIME:
        try:
            return os.open(path, os.O_RDONLY | _NOATIME)
        except PermissionError:  # O_NOATIME needs ownership (or CAP_FOWNER): fall back
            pass
    return os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))


def digest_blob(path: Path, size: int, *, git_sha1: bool) -> Digests:
    """Stream a blob once: its SHA-256, and its git blob SHA-1 when that is what names it."""
    sha256 = hashlib.sha256()
    sha1 = hashlib.sha1(f"blob {size}\0".encode()) if git_sha1 else None
    with os.fdopen(_open_quietly(path), "rb") as handle:
        while chunk := handle.read(CHUNK):
            sha256.update(chunk)
            if sha1 is not None:
                sha1.update(chunk)
    return Digests(sha256.hexdigest(), sha1.hexdigest() if sha1 is not None else None)
