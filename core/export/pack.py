"""`evidentia export`: the audit pack for an observation window, as a byte-reproducible zip.

The pack is a store-shaped folder, so the auditor meets the layout they know:
- the evidence files of the entries `window.select` picks (filed in the window and matching the
  filters, the snapshots in force at its start, the catalogue in force, the run records), at their
  store paths;
- `ledger.jsonl`: the contiguous ledger lines from the first picked entry to the last line filed in
  the window, extended to the first head signed after the window's end (else the first signed head
  at or after it), verbatim; the first line's `prev` links the segment to the store's earlier lines,
  and the signature closes it;
- `signatures/`: the statements signed over heads inside the segment, with their public keys;
- `pack.json`: the window, filters, segment, each picked entry with why it is there and its files;
- `index.html`, `index.json`: the portal for the window; `README.md`: how to verify, for the auditor;
- `SHA256SUMS`: every other file, in `sha256sum -c` form.

Reproducible: the same store and window give the same bytes, because everything written is a
function of the ledger and the window (the portal is rendered as at the window's end), and the zip
has sorted entries, one fixed time stamp, fixed permissions, no extra fields and one compression.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import __version__
from ..collector import canonical_json, utc_iso
from ..errors import StoreError
from ..signing.check import SignatureFolder, load_signature_folder
from ..signing.statements import SIG_DIR, key_file_name
from ..store import layout
from ..store.ledger import iter_lines, line_hash
from .readme import pack_readme
from .window import ExportError, Selection, Window, entry_files, parse_when, select

MANIFEST = "pack.json"
SUMS = "SHA256SUMS"
PACK_VERSION = 1
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: the pack's bytes never depend on the clock
ZIP_LEVEL = 6  # deflate level, fixed; the same zlib then gives the same bytes (zlib-ng may not)
PORTAL_FILES = ("index.html", "index.json")  # what `report.portal.write_portal` writes


@dataclass(frozen=True)
class PackSummary:
    path: Path
    entries: int
    files: int
    first_seq: int
    last_seq: int
    signed: bool


def export_pack(store: Path, window: Window, out: Path) -> PackSummary:
    """Write the audit pack for `window` to `out` (a new .zip); refuse to overwrite it."""
    if out.exists():
        raise ExportError(f"{out} already exists; refusing to overwrite it", hint="choose another --out")
    if window.end <= window.start:
        raise ExportError(f"the window is empty: --to {utc_iso(window.end)} is not after --from")
    entries = _read_entries(store)
    selection = select(((seq, e) for seq, e, _ in entries), window)
    if selection.first is None:
        raise ExportError(
            f"nothing was filed between {utc_iso(window.start)} and {utc_iso(window.end)} that matches the "
            "filters, and nothing of theirs was in force at the start"
        )
    last_needed = max(selection.last_in_window or 0, max(selection.reasons))
    signatures = load_signature_folder(store / SIG_DIR)
    covering = _covering_signature(signatures, last_needed, len(entries), window.end)
    first, last = selection.first, covering or last_needed
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".evidentia-export-", dir=out.parent) as tmp:
        tree = Path(tmp) / "pack"
        tree.mkdir()
        segment = entries[first - 1 : last]
        (tree / layout.LEDGER).write_bytes(b"".join(line for _, _, line in segment))
        picked = _copy_evidence(store, tree, segment, selection)
        sig_files = _copy_signatures(store, tree, signatures, first, last)
        manifest = _manifest(window, segment, selection, picked, sig_files, covering)
        (tree / MANIFEST).write_bytes(canonical_json(manifest))
        (tree / layout.README).write_text(pack_readme(manifest), encoding="utf-8")
        _render_portal(tree, window.end)
        _write_sums(tree)
        names = sorted(_files(tree))
        _write_zip(tree, names, out)
    return PackSummary(out, len(picked), len(names), first, last, covering is not None)


def _read_entries(store: Path) -> list[tuple[int, dict[str, Any], bytes]]:
    ledger = store / layout.LEDGER
    if not ledger.is_file():
        raise StoreError(f"{store} is not an evidence store (no {layout.LEDGER})")
    out: list[tuple[int, dict[str, Any], bytes]] = []
    for number, line in iter_lines(ledger):
        if not line.endswith(b"\n"):
            break  # torn by a crash: never committed
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if not isinstance(entry, dict):
            raise StoreError(
                f"{layout.LEDGER} line {number} is not a JSON object",
                hint="run `evidentia verify` on the store",
            )
        out.append((number, entry, line))
    return out


def _covering_signature(signatures: SignatureFolder, needed: int, lines: int, end: dt.datetime) -> int | None:
    """The signed head that closes the segment: the first at or after line `needed` signed once the
    window was over, else the first at or after `needed` (the ledger may have moved on since).

    A signature made after the window's end shows the owner's ledger as it stood then, so the pack
    proves that nothing else was filed in the window; an earlier one cannot (verify says so).
    """
    signed = sorted(
        (f.statement.seq, f.statement.signed_at)
        for f in signatures.files
        if f.statement is not None and f.signature is not None and needed <= f.statement.seq <= lines
    )
    closing = [seq for seq, at in signed if parse_when(at, "signed_at") >= end]
    return closing[0] if closing else signed[0][0] if signed else None


def _copy_evidence(
    store: Path, tree: Path, segment: list[tuple[int, dict[str, Any], bytes]], selection: Selection
) -> dict[int, list[str]]:
    picked: dict[int, list[str]] = {}
    for seq, entry, _ in segment:
        if seq not in selection.reasons:
            continue
        files = entry_files(entry)
        for rel in files:
            _place(store, tree, rel, seq)
        picked[seq] = files
    return picked


def _place(store: Path, tree: Path, rel: str, seq: int) -> None:
    parts = rel.split("/")
    if rel.startswith("/") or ".." in parts or parts[0] in (layout.TOOL_DIR, SIG_DIR):
        raise ExportError(
            f"{layout.LEDGER} line {seq} records an unsafe path {rel!r}; run `evidentia verify`"
        )
    target = tree / rel
    if target.exists():
        return  # the same bytes, named by an 'unchanged' entry too
    source = store / rel
    if not source.is_file() or source.is_symlink():
        raise ExportError(
            f"{rel}, recorded in {layout.LEDGER} line {seq}, is missing from the store",
            hint="run `evidentia verify` on the store",
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _copy_signatures(
    store: Path, tree: Path, signatures: SignatureFolder, first: int, last: int
) -> list[str]:
    names: list[str] = []
    keys: set[str] = set()
    for item in signatures.files:
        st = item.statement
        if st is None or not first <= st.seq <= last or item.signature is None:
            continue
        names += [f"{item.stem}.json", f"{item.stem}.sig"]
        keys.add(st.key_sha256)
    names += [key_file_name(k) for k in sorted(keys) if (store / SIG_DIR / key_file_name(k)).is_file()]
    if names:
        (tree / SIG_DIR).mkdir()
    for name in names:
        shutil.copyfile(store / SIG_DIR / name, tree / SIG_DIR / name)
    return sorted(f"{SIG_DIR}/{n}" for n in names)


def _manifest(
    window: Window,
    segment: list[tuple[int, dict[str, Any], bytes]],
    selection: Selection,
    picked: dict[int, list[str]],
    sig_files: list[str],
    covering: int | None,
) -> dict[str, Any]:
    """pack.json: what the pack claims, for `verify` to hold it to and the auditor to read."""
    first_seq, first_entry, _ = segment[0]
    last_seq, _, last_line = segment[-1]
    types = {seq: str(entry.get("type")) for seq, entry, _ in segment}
    return {
        "evidentia_pack": PACK_VERSION,
        "tool": {"name": "evidentia", "version": __version__},
        "window": {"from": utc_iso(window.start), "to": utc_iso(window.end), "to_exclusive": True},
        "filters": {"principles": list(window.principles), "controls": list(window.controls)},
        "segment": {
            "ledger": layout.LEDGER,
            "first_seq": first_seq,
            "last_seq": last_seq,
            "window_last_seq": selection.last_in_window,
            "prev": first_entry.get("prev"),
            "head": line_hash(last_line),
        },
        "entries": [
            {"seq": seq, "type": types[seq], "why": selection.reasons[seq], "files": files}
            for seq, files in sorted(picked.items())
        ],
        "signature": {
            "state": "signed" if covering is not None else "partly signed" if sig_files else "unsigned",
            "covers_seq": covering,
            "files": sig_files,
        },
        "generated": sorted([layout.README, MANIFEST, SUMS, *PORTAL_FILES]),
    }


def _render_portal(tree: Path, generated_at: dt.datetime) -> None:
    """The portal for the pack, as at the window's end; given the pack's own verification result."""
    from ..report.portal import write_portal
    from .verify_pack import verify_pack

    write_portal(tree, generated_at=generated_at, verification=verify_pack(tree, check_sums=False))


def _files(tree: Path) -> Iterator[str]:
    for dirpath, _, filenames in os.walk(tree):
        rel_dir = os.path.relpath(dirpath, tree)
        for name in filenames:
            yield name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/")


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _write_sums(tree: Path) -> None:
    lines = [f"{sha256_file(tree / rel)}  {rel}\n" for rel in sorted(_files(tree)) if rel != SUMS]
    (tree / SUMS).write_text("".join(lines), encoding="utf-8")


def _write_zip(tree: Path, names: list[str], out: Path) -> None:
    """Sorted entries, one time stamp, mode 0644, deflate, no extra fields; replaced into place."""
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
            for name in names:
                info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info._compresslevel = ZIP_LEVEL  # type: ignore[attr-defined]  # fixed, not zlib's default
                info.create_system = 3  # Unix, so the permissions below are read everywhere
                info.external_attr = (stat.S_IFREG | 0o644) << 16
                info.file_size = (tree / name).stat().st_size  # decides zip64 up front
                with (tree / name).open("rb") as src, zf.open(info, "w") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
        with tmp.open("rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
