"""Reading a store folder for a report: the ledger and the catalogue filed with it, nothing else.

The report must be reproducible by an auditor from the folder alone, so it never consults the
configuration or the network, and it reads without taking the store lock (it writes nothing), so
it works on a read-only copy. It does not check hashes beyond the catalogue it relies on: that is
`evidentia verify`'s job; problems it meets are returned as warnings for the report to show.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ..catalog import Catalog, load_builtin, parse_catalog
from ..errors import CatalogError, StoreError
from ..store import layout
from ..store.ledger import GENESIS, iter_lines, line_hash
from ..store.local import PENDING
from .model import CatalogInfo, LedgerSummary


@dataclass
class LedgerRead:
    """The parsed ledger: complete entries in order, its head hash, and what looked wrong."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    head: str = GENESIS
    lines: int = 0
    warnings: list[str] = field(default_factory=list)

    def summary(self) -> LedgerSummary:
        return LedgerSummary(entries=self.lines, head=self.head)


def read_ledger(root: Path) -> LedgerRead:
    """Parse `ledger.jsonl`; a torn last line is ignored, as the store itself ignores it."""
    ledger = root / layout.LEDGER
    if not ledger.is_file():
        raise StoreError(f"{root} has no {layout.LEDGER}: not an evidence store")
    out = LedgerRead()
    for number, line in iter_lines(ledger):
        if not line.endswith(b"\n"):
            out.warnings.append(f"{layout.LEDGER} line {number} is incomplete (interrupted write)")
            break
        out.lines += 1
        out.head = line_hash(line)
        try:
            entry = json.loads(line)
        except ValueError:
            entry = None
        if not isinstance(entry, dict):
            out.warnings.append(f"{layout.LEDGER} line {number} is not a JSON object; skipped")
            continue
        out.entries.append(entry)
    if (root / layout.TOOL_DIR / PENDING).exists():
        out.warnings.append("a filing was interrupted; the next run on this store completes it")
    return out


def catalog_from_document(doc: Mapping[str, Any], source: str = "filed catalogue") -> Catalog:
    """Rebuild a `Catalog` from its filed `Catalog.document()` form.

    The document keeps the shape `parse_catalog` checks (frameworks, principles with mappings,
    themes), so it is validated the same way; only `notes` and `sources`, which the document
    carries under different keys than the YAML, are restored afterwards.
    """
    catalog = parse_catalog(dict(doc), source)
    principles = dict(catalog.principles)
    for raw in doc.get("principles", []):
        notes = raw.get("notes") or ()
        principles[raw["id"]] = replace(principles[raw["id"]], notes=tuple(str(n) for n in notes))
    sources = tuple(str(s) for s in doc.get("sources", ())) or catalog.sources
    return replace(catalog, principles=principles, sources=sources)


def load_store_catalog(root: Path, entries: list[dict[str, Any]]) -> tuple[Catalog, CatalogInfo, list[str]]:
    """The catalogue of the latest `catalog` entry; the built-in one if the store has none.

    A catalogue whose bytes no longer match the ledger is still used (there is nothing better in
    the folder) but flagged, because its mappings decide what each control's status is.
    """
    latest = next((e for e in reversed(entries) if e.get("type") == "catalog" and e.get("paths")), None)
    if latest is None:
        builtin = load_builtin()
        info = _info(builtin, "builtin")
        return builtin, info, ["the store holds no catalogue; the built-in one was used"]
    rel = str(latest["paths"][0])
    try:
        data = (root / rel).read_bytes()
    except OSError as exc:
        raise StoreError(f"the filed catalogue {rel} cannot be read: {exc.strerror}") from None
    warnings = []
    if hashlib.sha256(data).hexdigest() != latest.get("sha256"):
        warnings.append(f"{rel} does not match its ledger SHA-256; run `evidentia verify`")
    try:
        catalog = catalog_from_document(json.loads(data), rel)
    except ValueError as exc:
        raise CatalogError(f"{rel}: not a catalogue document: {exc}") from None
    return catalog, _info(catalog, rel), warnings


def _info(catalog: Catalog, source: str) -> CatalogInfo:
    return CatalogInfo(
        version=catalog.version,
        sha256=catalog.sha256(),
        source=source,
        frameworks=dict(catalog.frameworks),
    )


def parse_time(value: Any) -> dt.datetime | None:
    """Read a ledger timestamp (`...Z`); Python 3.10's `fromisoformat` does not accept `Z`."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
