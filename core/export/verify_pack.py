"""`evidentia verify pack.zip`: hold an audit pack to what it says of itself, on its own.

A zip is unpacked into a private temporary folder (never the working folder), refusing absolute
paths, `..` and links. Then, for the folder:
- the ledger segment chains: its first line links to `segment.prev`, each line to the one before,
  seq numbers run on from `segment.first_seq`, and the last line hashes to `segment.head`;
- the entries the window and filters pick (recomputed from the segment with the export's own rule)
  are all in `pack.json`, and every file of every listed entry has its ledger hash and size, and
  an artefact's metadata record agrees with its entry;
- no file is present that is neither listed evidence, a signature file, nor a generated file, and
  `SHA256SUMS` matches every file (the README and portal are covered by it alone: they are
  generated, not evidence);
- the signatures verify and the newest covers the segment's last line (see `signing.check`).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ..signing.check import check_signatures, load_signature_folder
from ..signing.statements import SIG_DIR
from ..store import layout
from ..store.verify import Discrepancy, LedgerReplay, VerifyResult
from .pack import sha256_file
from .window import Window, entry_files, parse_when, select

MANIFEST = "pack.json"
SUMS = "SHA256SUMS"
MAX_ENTRIES = 1_000_000  # far beyond any pack; bounds the work a hostile zip's directory can ask for
GENERATED = frozenset({layout.README, MANIFEST, SUMS, "index.html", "index.json"})


def is_pack(path: Path) -> bool:
    """A zip file, or a folder holding `pack.json` (an unzipped pack)."""
    if path.is_file():
        return zipfile.is_zipfile(path)
    return (path / MANIFEST).is_file() and not (path / layout.TOOL_DIR).exists()


def verify_pack(
    path: Path, public_key: Ed25519PublicKey | None = None, *, check_sums: bool = True
) -> VerifyResult:
    """Verify a pack zip (unpacked privately) or an unzipped pack folder."""
    if path.is_dir():
        return _verify_tree(path, public_key, check_sums)
    with tempfile.TemporaryDirectory(prefix="evidentia-verify-") as tmp:
        root = Path(tmp)
        problem = _unpack(path, root)
        if problem is not None:
            return VerifyResult(discrepancies=[problem])
        return _verify_tree(root, public_key, check_sums)


def _unpack(zip_path: Path, root: Path) -> Discrepancy | None:
    try:
        with zipfile.ZipFile(zip_path) as zf:
            infos = zf.infolist()
            problem = _refuse(infos, shutil.disk_usage(root).free)
            if problem is not None:
                return problem
            zf.extractall(root)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError) as exc:
        return Discrepancy("pack", str(zip_path), f"not a readable zip: {exc}")
    return None


def _refuse(infos: list[zipfile.ZipInfo], free: int) -> Discrepancy | None:
    """Why the zip must not be extracted at all: a path that escapes or is ambiguous, a link, a name
    twice (which copy would an auditor's `unzip` keep?), or more bytes than the disk holds (a zip
    bomb: `zipfile` never writes more than an entry's declared size, so the sum bounds extraction)."""
    if len(infos) > MAX_ENTRIES:
        return Discrepancy(
            "pack", "zip", f"{len(infos)} entries, more than {MAX_ENTRIES}; nothing was extracted"
        )
    seen: set[str] = set()
    total = 0
    for info in infos:
        name = info.filename
        parts = name.rstrip("/").split("/")
        if name.startswith("/") or "\\" in name or ":" in parts[0] or set(parts) & {"", ".", ".."}:
            return Discrepancy("pack", name, "unsafe path in the zip; nothing was extracted")
        if stat.S_ISLNK(info.external_attr >> 16):
            return Discrepancy("pack", name, "a link in the zip; nothing was extracted")
        if name.rstrip("/") in seen:
            return Discrepancy("pack", name, "in the zip twice; nothing was extracted")
        seen.add(name.rstrip("/"))
        total += info.file_size
    if total > free:
        return Discrepancy(
            "pack", "zip", f"would unpack to {total} bytes, more than the {free} free; nothing was extracted"
        )
    return None


def _load_manifest(root: Path, result: VerifyResult) -> dict[str, Any] | None:
    try:
        manifest = json.loads((root / MANIFEST).read_bytes())
        segment = manifest["segment"]
        int(segment["first_seq"]), int(segment["last_seq"]), str(segment["prev"]), str(segment["head"])
        (
            parse_when(manifest["window"]["from"], "window.from"),
            parse_when(manifest["window"]["to"], "window.to"),
        )
        [(int(e["seq"]), list(e["files"])) for e in manifest["entries"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) else f"{type(exc).__name__}: {exc}"
        result.discrepancies.append(Discrepancy("pack", MANIFEST, f"missing or malformed ({why})"))
        return None
    return manifest if isinstance(manifest, dict) else None


def _verify_tree(root: Path, public_key: Ed25519PublicKey | None, check_sums: bool) -> VerifyResult:
    result = VerifyResult()
    manifest = _load_manifest(root, result)
    if manifest is None:
        return result
    seg = manifest["segment"]
    first, last = int(seg["first_seq"]), int(seg["last_seq"])
    result.pack = {k: manifest.get(k) for k in ("window", "filters", "segment", "signature")}
    listed = {int(e["seq"]): [str(f) for f in e["files"]] for e in manifest["entries"]}
    only = {f for files in listed.values() for f in files}
    signatures = load_signature_folder(root / SIG_DIR)
    replay = LedgerReplay(root, result, None, wanted=signatures.wanted, only=only)
    replay.run(root / layout.LEDGER, first_seq=first, prev=str(seg["prev"]))
    if (replay.last_seq, replay.head) != (last, seg["head"]):
        result.discrepancies.append(
            Discrepancy(
                "chain",
                layout.LEDGER,
                f"the segment ends at line {replay.last_seq} hashing to {replay.head}; "
                f"{MANIFEST} says line {last} hashing to {seg['head']}",
            )
        )
    entries = _segment_entries(root, first)
    _check_listing(manifest, entries, listed, result)
    _check_metadata(root, entries, listed, result)
    _check_extras(root, manifest, only, signatures.names, result)
    if check_sums:
        _check_sums(root, _ledger_hashes(entries, listed), result)
    result.signature, problems = check_signatures(
        signatures, replay.hash_at, last, public_key, first, replay.promised
    )
    result.discrepancies.extend(Discrepancy(*p) for p in problems)
    _check_closed(result, manifest["window"]["to"])
    claimed = (manifest.get("signature") or {}).get("state")
    if not signatures.files and claimed == "signed":
        result.discrepancies.append(
            Discrepancy(
                "signature", SIG_DIR, f"{MANIFEST} says the pack is signed, but it holds no signature"
            )
        )
    elif not signatures.files and public_key is None:
        result.discrepancies.append(
            Discrepancy("unsigned", layout.LEDGER, "the pack is unsigned: its origin is not proven", False)
        )
    return result


def _check_closed(result: VerifyResult, end: str) -> None:
    """Whether the newest valid signature was made after the window: only then does the pack show
    the owner's ledger as it stood once the window was over, so that nothing filed in the window can
    be missing. (pack.json, which names the window, is not signed: this holds it to the signature.)"""
    signed_at = result.signature.signed_at if result.signature else None
    if signed_at is None or parse_when(signed_at, "signed_at") >= parse_when(end, "window.to"):
        return
    result.discrepancies.append(
        Discrepancy(
            "window",
            MANIFEST,
            f"the newest signature was made at {signed_at}, before the window's end {end}: the pack "
            "cannot show that nothing more was filed in between (export again once a signed run has "
            "followed the window)",
            fatal=False,
        )
    )


def _ledger_hashes(entries: dict[int, dict[str, Any]], listed: dict[int, list[str]]) -> dict[str, str]:
    """What the ledger says each listed file hashes to (the replay has checked them already)."""
    out: dict[str, str] = {}
    for seq in listed:
        entry = entries.get(seq, {})
        out.update((str(p), str(entry.get("sha256"))) for p in entry.get("paths") or ())
        out.update((str(p), str(entry.get("meta_sha256"))) for p in entry.get("meta_paths") or ())
    return out


def _segment_entries(root: Path, first: int) -> dict[int, dict[str, Any]]:
    out: dict[int, dict[str, Any]] = {}
    with (root / layout.LEDGER).open("rb") as fh:
        for index, line in enumerate(fh):
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # reported by the replay
            if isinstance(entry, dict):
                out[first + index] = entry
    return out


def _check_listing(
    manifest: dict[str, Any],
    entries: dict[int, dict[str, Any]],
    listed: dict[int, list[str]],
    result: VerifyResult,
) -> None:
    """Every entry the window picks is listed with all its files; nothing listed is outside."""
    window = Window(
        start=parse_when(manifest["window"]["from"], "window.from"),
        end=parse_when(manifest["window"]["to"], "window.to"),
        principles=tuple(manifest.get("filters", {}).get("principles", ())),
        controls=tuple(manifest.get("filters", {}).get("controls", ())),
    )
    expected = select(sorted(entries.items()), window)
    for seq, why in sorted(expected.reasons.items()):
        if seq in entries and seq not in listed:
            result.discrepancies.append(
                Discrepancy(
                    "pack", f"{layout.LEDGER} line {seq}", f"{why}, but its files are not in the pack"
                )
            )
    for seq, files in sorted(listed.items()):
        entry = entries.get(seq)
        if entry is None:
            result.discrepancies.append(
                Discrepancy("pack", MANIFEST, f"lists ledger line {seq}, which is not in the segment")
            )
        elif sorted(files) != sorted(entry_files(entry)):
            result.discrepancies.append(
                Discrepancy("pack", MANIFEST, f"lists other files for ledger line {seq} than it records")
            )
        elif seq not in expected.reasons:  # the window or filters in pack.json are not the exported ones
            result.discrepancies.append(
                Discrepancy(
                    "pack", MANIFEST, f"lists ledger line {seq}, which its window and filters do not pick"
                )
            )


def _check_metadata(
    root: Path, entries: dict[int, dict[str, Any]], listed: dict[int, list[str]], result: VerifyResult
) -> None:
    """An artefact's metadata record names the same hash and size as its ledger entry."""
    for seq in sorted(listed):
        entry = entries.get(seq, {})
        if entry.get("type") != "artefact" or not entry.get("meta_path"):
            continue
        rel = str(entry["meta_path"])
        if rel not in listed[seq]:  # only a file of the pack: never a path a forged line points elsewhere
            continue
        try:
            art = json.loads((root / rel).read_bytes())["artefact"]
        except (OSError, ValueError, KeyError, TypeError):
            continue  # missing or changed: the replay already named it
        if art.get("sha256") != entry.get("sha256") or art.get("size") != entry.get("size"):
            result.discrepancies.append(
                Discrepancy(
                    "changed", rel, f"disagrees with ledger line {seq} on the artefact's hash or size"
                )
            )


def _walk_all(root: Path) -> list[str]:
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in [*filenames, *(d for d in dirnames if os.path.islink(os.path.join(dirpath, d)))]:
            out.append(name if rel_dir == "." else f"{rel_dir}/{name}".replace(os.sep, "/"))
    return sorted(out)


def _check_extras(
    root: Path, manifest: dict[str, Any], only: set[str], sig_names: list[str], result: VerifyResult
) -> None:
    allowed = only | {layout.LEDGER} | (GENERATED & {str(n) for n in manifest.get("generated", ())})
    allowed |= {f"{SIG_DIR}/{n}" for n in sig_names}  # checked by the signature check itself
    for rel in _walk_all(root):
        if os.path.islink(root / rel):  # a pack is unpacked from a zip that holds no links
            result.discrepancies.append(Discrepancy("changed", rel, "is a link, not a file of the pack"))
        elif rel not in allowed:
            result.discrepancies.append(Discrepancy("unrecorded", rel, "in the pack but not part of it"))


def _check_sums(root: Path, ledger_hashes: dict[str, str], result: VerifyResult) -> None:
    """SHA256SUMS matches every file: evidence against the ledger's hashes (already checked against
    the bytes by the replay, so not read twice), generated files by hashing them."""
    try:
        text = (root / SUMS).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        result.discrepancies.append(Discrepancy("pack", SUMS, "missing or unreadable"))
        return
    sums: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        digest, sep, rel = line.partition("  ")
        if not sep or len(digest) != 64:
            result.discrepancies.append(
                Discrepancy("pack", f"{SUMS} line {number}", "not `<sha256>  <path>`")
            )
            continue
        sums[rel] = digest
    present = set(_walk_all(root)) - {SUMS}
    for rel in sorted(present - set(sums)):
        result.discrepancies.append(Discrepancy("pack", rel, f"not listed in {SUMS}"))
    for rel, digest in sorted(sums.items()):
        path = root / rel
        if rel not in present:
            result.discrepancies.append(Discrepancy("missing", rel, f"listed in {SUMS}"))
        elif rel in ledger_hashes:
            if ledger_hashes[rel] != digest:
                result.discrepancies.append(Discrepancy("pack", rel, f"{SUMS} disagrees with the ledger"))
        elif sha256_file(path) != digest:
            result.discrepancies.append(Discrepancy("changed", rel, f"SHA-256 differs from {SUMS}"))
