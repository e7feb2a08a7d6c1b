"""Checking the signatures in a `signatures/` folder against the ledger lines they cover.

The rules, in order of what an auditor needs to know:
- a statement or signature that was altered, or a signature by another key than the one the
  auditor trusts, is fatal, and the message says which of the two it is;
- a statement covering a line the ledger no longer has means lines were removed after signing: fatal;
- a statement whose head is not the hash of the line it names means that line was rewritten: fatal;
- lines after the newest valid signature are reported as *unsigned*, a warning: a run without a key
  and a run stopped between its ledger append and its signature leave exactly this, and the next
  signed run covers them. Their origin is simply not proven.
- With `--public-key` the key is the auditor's own, so a valid signature proves origin. Without it
  the key shipped in the folder is used, and a warning says this proves integrity only: whoever
  could rewrite the folder could also have replaced that key.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..store import layout
from .keys import SigningError, fingerprint, parse_public_key
from .statements import MAX_STATEMENT_BYTES, SIG_DIR, Statement, key_file_name

ORIGIN_GIVEN = "public key given"
ORIGIN_SHIPPED = "public key shipped in the folder (integrity only, not origin)"


class Problem(NamedTuple):
    """A discrepancy in the shape `store.verify.Discrepancy` takes (kept separate: no import cycle)."""

    kind: str
    where: str
    message: str
    fatal: bool = True


@dataclass(frozen=True)
class SignatureFile:
    stem: str
    statement: Statement | None
    message: bytes
    signature: bytes | None


@dataclass
class SignatureFolder:
    """What `signatures/` holds, read once before the ledger replay (which needs `wanted`)."""

    files: list[SignatureFile] = field(default_factory=list)
    keys: dict[str, Ed25519PublicKey] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    names: list[str] = field(default_factory=list)

    @property
    def wanted(self) -> set[int]:
        """The ledger lines whose hashes the replay must keep."""
        return {f.statement.seq for f in self.files if f.statement is not None}


@dataclass
class SignatureState:
    """The signature part of a verify result (`verify --json` prints `to_dict()`)."""

    state: str = "unsigned"  # unsigned | valid | invalid
    signatures: int = 0
    ledger_seq: int = 0
    signed_seq: int | None = None
    signed_head: str | None = None
    signed_at: str | None = None
    key_sha256: str | None = None
    origin: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def describe(self) -> str:
        if self.state == "unsigned" and not self.signatures:
            return "unsigned"
        if self.signed_seq is None:
            return f"{self.state}: no valid signature"
        covered = f"covers ledger lines 1-{self.signed_seq} of {self.ledger_seq}"
        return f"{self.state}: {covered}, key sha256:{self.key_sha256}, {self.origin}"


def _regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def load_signature_folder(sig_dir: Path) -> SignatureFolder:
    """Read every statement, signature and public key; note anything else as a problem."""
    out = SignatureFolder()
    if not sig_dir.exists():
        return out
    if not sig_dir.is_dir() or sig_dir.is_symlink():
        out.problems.append(Problem("unrecorded", SIG_DIR, "is not a folder of signatures"))
        return out
    names = sorted(os.listdir(sig_dir))
    out.names = names
    stems = {n[: -len(".json")] for n in names if n.endswith(".json")}
    sigs = {n[: -len(".sig")] for n in names if n.endswith(".sig")}
    for name in names:
        where, path = f"{SIG_DIR}/{name}", sig_dir / name
        if not _regular(path) or path.stat().st_size > MAX_STATEMENT_BYTES:
            out.problems.append(
                Problem("unrecorded", where, "not a regular statement, signature or key file")
            )
        elif name.startswith("key-") and name.endswith(".pub"):
            _load_key(out, path, where)
        elif not (name.endswith(".json") or name.endswith(".sig")):
            out.problems.append(
                Problem("unrecorded", where, f"present in {SIG_DIR}/ but never written there")
            )
    for stem in sorted(stems):
        _load_statement(out, sig_dir, stem, has_sig=stem in sigs)
    for stem in sorted(sigs - stems):
        out.problems.append(
            Problem(
                "interrupted",
                f"{SIG_DIR}/{stem}.sig",
                "a signature without its statement: signing was interrupted; the next signed run signs again",
                fatal=False,
            )
        )
    return out


def _load_key(out: SignatureFolder, path: Path, where: str) -> None:
    try:
        key = parse_public_key(path.read_bytes(), where)
    except SigningError as exc:
        out.problems.append(Problem("signature", where, str(exc)))
        return
    actual = fingerprint(key)
    if path.name != key_file_name(actual):
        out.problems.append(
            Problem("signature", where, f"holds key sha256:{actual}, not the one its name says")
        )
        return
    out.keys[actual] = key


def _load_statement(out: SignatureFolder, sig_dir: Path, stem: str, has_sig: bool) -> None:
    where = f"{SIG_DIR}/{stem}.json"
    path = sig_dir / f"{stem}.json"
    if not _regular(path):
        return  # already reported as not a regular file
    message = path.read_bytes()
    try:
        statement: Statement | None = Statement.decode(message)
    except ValueError as exc:
        out.problems.append(Problem("signature", where, f"not a valid signed-head statement: {exc}"))
        statement = None
    signature = None
    if not has_sig:
        out.problems.append(Problem("signature", where, f"has no {stem}.sig beside it (removed?)"))
    elif _regular(sig_dir / f"{stem}.sig"):
        signature = (sig_dir / f"{stem}.sig").read_bytes()
    out.files.append(SignatureFile(stem, statement, message, signature))


def check_signatures(
    folder: SignatureFolder,
    hash_at: Mapping[int, str],
    last_seq: int,
    given: Ed25519PublicKey | None = None,
    first_seq: int = 1,
    promised: Mapping[int, str] | None = None,
) -> tuple[SignatureState, list[Problem]]:
    """Check each statement against the ledger line hashes `hash_at` (seq -> SHA-256 of the line).

    `first_seq`..`last_seq` are the ledger lines present (a whole store, or an audit pack's segment).
    `promised` maps the run records that said their run signs (seq -> key fingerprint).
    """
    state = SignatureState(ledger_seq=last_seq, signatures=len(folder.files))
    problems = list(folder.problems)
    given_fp = fingerprint(given) if given is not None else None
    trusted = {given_fp: given} if given is not None and given_fp else dict(folder.keys)
    readable = [f for f in folder.files if f.statement is not None and f.signature is not None]
    ordered = sorted(readable, key=lambda f: (f.statement.seq, f.statement.signed_at))  # type: ignore[union-attr]
    best: SignatureFile | None = None
    valid: list[Statement] = []
    for item in ordered:
        problem = _check_one(item, trusted, given_fp, hash_at, first_seq, last_seq)
        if problem is None:
            best = item
            valid.append(item.statement)  # type: ignore[arg-type]
        else:
            fatal = problem.fatal or item is ordered[-1]
            problems.append(problem._replace(fatal=fatal))
    if best is not None and best.statement is not None:
        st = best.statement
        state.signed_seq, state.signed_head, state.signed_at = st.seq, st.head, st.signed_at
        state.key_sha256 = st.key_sha256
        state.origin = ORIGIN_GIVEN if given is not None else ORIGIN_SHIPPED
        if st.seq < last_seq:
            problems.append(_unsigned_tail(st.seq + 1, last_seq))
        if given is None:
            problems.append(
                Problem(
                    "signature",
                    SIG_DIR,
                    "checked with the public key shipped in the folder: this proves the evidence is "
                    "unchanged since it was signed, not who signed it; pass --public-key with the "
                    "owner's key, obtained separately, to prove origin",
                    fatal=False,
                )
            )
    elif not folder.files and given is not None:
        problems.append(
            Problem("signature", SIG_DIR, "the store holds no signature: the given public key proves nothing")
        )
    # a statement that fails is already named; only a promise with no statement at all is news
    stated = max((f.statement.seq for f in folder.files if f.statement is not None), default=0)
    problems += _broken_promises(promised or {}, stated)
    if given is None:
        problems += _several_keys(valid, promised or {})
    signature_fatal = any(p.fatal and p.kind in ("signature", "truncated") for p in problems)
    if signature_fatal or (folder.files and best is None):
        state.state = "invalid"
    elif best is not None:
        state.state = "valid"
    return state, problems


def _check_one(
    item: SignatureFile,
    trusted: Mapping[str, Ed25519PublicKey],
    given_fp: str | None,
    hash_at: Mapping[int, str],
    first_seq: int,
    last_seq: int,
) -> Problem | None:
    """Why this statement fails (fatal, or a warning unless it is the newest), or None when valid."""
    st = item.statement
    assert st is not None and item.signature is not None
    where = f"{SIG_DIR}/{item.stem}.json"
    key = trusted.get(st.key_sha256)
    if key is None and given_fp is not None:
        message = f"signed by key sha256:{st.key_sha256}, not by the given public key sha256:{given_fp}"
        return Problem("signature", where, f"{message} (wrong key, or signed by another key)", fatal=False)
    if key is None:
        return Problem(
            "signature",
            where,
            f"signed by key sha256:{st.key_sha256}, whose public key is not in {SIG_DIR}/; pass --public-key",
        )
    try:
        key.verify(item.signature, item.message)
    except InvalidSignature:
        return Problem(
            "signature", where, "the signature does not match the statement: one of the two was altered"
        )
    if st.seq > last_seq:
        return Problem(
            "truncated",
            f"{layout.LEDGER} line {st.seq}",
            f"signed in {where}, but the ledger ends at line {last_seq}: lines were removed after signing",
        )
    if st.seq < first_seq:
        return Problem("signature", where, f"covers line {st.seq}, before the ledger lines present")
    actual = hash_at.get(st.seq)
    if actual != st.head:
        return Problem(
            "signature",
            f"{layout.LEDGER} line {st.seq}",
            f"is not the line signed in {where}: SHA-256 {actual} != signed {st.head}",
        )
    return None


def _broken_promises(promised: Mapping[int, str], signed_seq: int) -> list[Problem]:
    """Run records that said their run signs, with no statement at or after them.

    A run files its record (naming its key) and then signs it, so a missing signature means the
    signature was removed, or the run stopped in between; the next signed run repairs the latter.
    This catches signatures deleted from a store whose ledger was left alone; it cannot catch lines
    removed *with* their signatures and run records (see the README's limits).
    """
    broken = sorted(seq for seq in promised if seq > signed_seq)
    if not broken:
        return []
    lines = ", ".join(str(seq) for seq in broken[:5]) + (", ..." if len(broken) > 5 else "")
    return [
        Problem(
            "signature",
            f"{layout.LEDGER} line{'s' if len(broken) > 1 else ''} {lines}",
            f"the record of a run that signed with key sha256:{promised[broken[0]]}, but no "
            "signature covers it: its signature was removed (or the run stopped before signing; the "
            "next signed run covers it)",
        )
    ]


def _several_keys(valid: list[Statement], promised: Mapping[int, str]) -> list[Problem]:
    """With the shipped keys, a change of key is the one trace of someone re-signing: say so."""
    keys: dict[str, int] = {}
    for st in valid:
        keys[st.key_sha256] = max(keys.get(st.key_sha256, 0), st.seq)
    for key in promised.values():
        keys.setdefault(key, 0)
    if len(keys) < 2:
        return []
    named = "; ".join(
        f"sha256:{key} (newest signed line {seq})" if seq else f"sha256:{key} (named by a run record only)"
        for key, seq in sorted(keys.items(), key=lambda kv: kv[1])
    )
    return [
        Problem(
            "signature",
            SIG_DIR,
            f"signed with {len(keys)} different keys: {named}; a key change, or someone else "
            "re-signing: pass --public-key with the owner's key to tell",
            fatal=False,
        )
    ]


def _unsigned_tail(first: int, last: int) -> Problem:
    lines = f"line {first}" if first == last else f"lines {first}-{last}"
    return Problem(
        "unsigned",
        f"{layout.LEDGER} {lines}",
        "not covered by a signature: filed by a run without a signing key, or one stopped before it "
        "signed (the next signed run covers them); their origin is not proven",
        fatal=False,
    )
