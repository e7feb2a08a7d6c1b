"""What is signed, and how signatures are filed beside the ledger without ever being rewritten.

A run that holds a key signs a *statement*: one line of canonical JSON (keys sorted, compact, UTF-8,
newline-terminated, like a ledger line) naming the ledger line it covers (`seq`), that line's SHA-256
(`head`, as `sed -n '<seq>p' ledger.jsonl | sha256sum` prints it), when it was signed and by which
key. The statement file *is* the signed message, so OpenSSL checks it byte for byte with no
canonicalisation step, and Evidentia refuses one that is not in canonical form (two encodings of the
same fields must not both verify). Because each line's `prev` hashes the line before, signing the
head signs every line up to it.

Files, under `signatures/` in the store (outside the ledger: recording a signature in the ledger
would move the head it signs):
- `<seq, 10 digits>-<UTC stamp>.json`: the statement; `<same>.sig`: the raw 64-byte Ed25519 signature;
- `key-<fingerprint>.pub`: the signer's public key, shipped so the folder verifies on its own.
Every file is created once (staged, made durable, linked into place, which fails rather than
overwrites) and kept forever: each run adds a pair, older pairs stay as the history of signed heads.
The `.sig` is placed before the `.json`, so a crash in between leaves only a harmless orphan `.sig`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ..collector import utc_iso
from ..store import layout
from ..store.durability import sync_dirs, sync_new_files
from ..store.ledger import encode_entry
from .keys import SigningError, fingerprint, public_pem, write_exclusive

if TYPE_CHECKING:
    from ..store.local import LocalStore

SIG_DIR = "signatures"
STATEMENT_KIND = "evidentia-ledger-head"
STATEMENT_VERSION = 1
MAX_STATEMENT_BYTES = 4096
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z$")  # what `utc_iso` writes


def key_file_name(key_sha256: str) -> str:
    return f"key-{key_sha256}.pub"


@dataclass(frozen=True)
class Statement:
    """The signed claim: "ledger line `seq` of this store hashes to `head`", by key `key_sha256`."""

    seq: int
    head: str
    signed_at: str
    key_sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "statement": STATEMENT_KIND,
            "version": STATEMENT_VERSION,
            "ledger": layout.LEDGER,
            "seq": self.seq,
            "head": self.head,
            "signed_at": self.signed_at,
            "key_sha256": self.key_sha256,
        }

    def encode(self) -> bytes:
        """The exact bytes signed: compact, sorted keys, newline-terminated."""
        return encode_entry(self.to_dict())

    @property
    def stem(self) -> str:
        moment = dt.datetime.fromisoformat(self.signed_at.replace("Z", "+00:00"))
        return f"{self.seq:010d}-{layout.stamp(moment)}"

    @classmethod
    def decode(cls, data: bytes) -> Statement:
        """Parse a statement file; ValueError unless it is exactly the canonical encoding."""
        if len(data) > MAX_STATEMENT_BYTES:
            raise ValueError("too large to be a statement")
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("statement") != STATEMENT_KIND:
            raise ValueError(f"not an {STATEMENT_KIND} statement")
        if doc.get("version") != STATEMENT_VERSION:
            raise ValueError(f"statement version {doc.get('version')!r} is not {STATEMENT_VERSION}")
        seq, head, signed_at, key = (doc.get(k) for k in ("seq", "head", "signed_at", "key_sha256"))
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise ValueError("'seq' must be a ledger line number")
        if not (isinstance(head, str) and _HEX64.match(head) and isinstance(key, str) and _HEX64.match(key)):
            raise ValueError("'head' and 'key_sha256' must be SHA-256 hex digests")
        if not isinstance(signed_at, str) or not _UTC.match(signed_at):
            raise ValueError("'signed_at' must be a UTC timestamp")
        statement = cls(seq=seq, head=head, signed_at=signed_at, key_sha256=key)
        try:
            statement.stem  # noqa: B018 - parses signed_at
        except ValueError:
            raise ValueError("'signed_at' must be a UTC timestamp") from None
        if statement.encode() != data:
            raise ValueError("not in canonical form (edited by hand?)")
        return statement


def sign_ledger_head(
    root: Path, staging: Path, seq: int, head: str, key: Ed25519PrivateKey, moment: dt.datetime
) -> Path:
    """Sign ledger line `seq` (hash `head`) and file the statement, signature and public key.

    Called by the run holding the store lock, after its run record is in the ledger. Returns the
    statement's path.
    """
    if seq < 1:
        raise SigningError("the ledger is empty: there is no head to sign")
    key_sha256 = fingerprint(key.public_key())
    statement = Statement(seq=seq, head=head, signed_at=utc_iso(moment), key_sha256=key_sha256)
    message = statement.encode()
    sig_dir = root / SIG_DIR
    sig_dir.mkdir(exist_ok=True)
    placed: list[tuple[Path, Path]] = []
    key_path = sig_dir / key_file_name(key_sha256)
    if not key_path.exists():
        placed.append((staging / f"{statement.stem}.pub", key_path))
        write_exclusive(placed[-1][0], public_pem(key.public_key()), 0o644)
    for suffix, data in ((".sig", key.sign(message)), (".json", message)):
        placed.append((staging / f"{statement.stem}{suffix}", sig_dir / f"{statement.stem}{suffix}"))
        write_exclusive(placed[-1][0], data, 0o644)
    sync_new_files(staging, (tmp for tmp, _ in placed))
    for tmp, final in placed:
        try:
            os.link(tmp, final)  # unlike rename, never replaces an existing file
        except FileExistsError:
            raise SigningError(f"{final} already exists; a signature is never overwritten") from None
        os.unlink(tmp)
    sync_dirs(root, (root, sig_dir))
    return sig_dir / f"{statement.stem}.json"


def sign_store(store: LocalStore, key: Path | Ed25519PrivateKey, moment: dt.datetime | None = None) -> Path:
    """Sign the head of an open store (its lock held): what each run does last when keyed."""
    from .keys import load_private_key

    assert store.ledger is not None, "the store must be open"
    moment = moment or dt.datetime.now(dt.timezone.utc)
    if isinstance(key, Path):
        key = load_private_key(key)
    return sign_ledger_head(store.root, store.staging, store.ledger.count, store.ledger.head, key, moment)
