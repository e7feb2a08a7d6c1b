"""The offline evidence portal: `index.html` and `index.json` for an auditor opening the folder.

`write_portal` renders what `build_coverage` finds in a store-shaped folder (a full store or an
exported pack) into one self-contained page with relative links to every artefact and its
metadata record, plus the same data as JSON for tools. It runs `verify_store` first (unless given a
result), so the page says whether the folder was intact when it was made and from which ledger head.
The output is a pure function of the folder and `generated_at`, so an export stays byte-reproducible.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from ...collector import utc_iso
from ...store.verify import VerifyResult, verify_store
from ..coverage import build_coverage
from ..model import Coverage
from ..render import coverage_to_dict
from ..source import load_store_catalog, read_ledger
from .markup import Links
from .page import render_page
from .views import LedgerHead, days, heatmap, instances, ledger_head, principle_details

PAGE = "index.html"
DATA = "index.json"
PORTAL_FILES = (PAGE, DATA)  # top-level names the portal writes; `verify` must not call them unrecorded
PORTAL_VERSION = 1

__all__ = ["DATA", "PAGE", "PORTAL_FILES", "render_portal", "write_portal"]


def write_portal(
    store_root: Path,
    out_dir: Path | None = None,
    *,
    generated_at: dt.datetime | None = None,
    verification: VerifyResult | None = None,
) -> Path:
    """Render index.html and index.json for the store-shaped folder at `store_root` into `out_dir`
    (default: `store_root` itself); return the index.html path.

    Deterministic: the same folder and `generated_at` give byte-identical output. When
    `verification` is None, `verify_store(store_root)` is run first and its result shown.
    """
    target = out_dir if out_dir is not None else store_root
    page, data = render_portal(store_root, target, generated_at=generated_at, verification=verification)
    target.mkdir(parents=True, exist_ok=True)
    _write(target / DATA, data)
    _write(target / PAGE, page)
    return target / PAGE


def render_portal(
    store_root: Path,
    page_dir: Path,
    *,
    generated_at: dt.datetime | None = None,
    verification: VerifyResult | None = None,
) -> tuple[bytes, bytes]:
    """The page and the JSON as bytes, for a page that will live in `page_dir`."""
    moment = generated_at or dt.datetime.now(dt.timezone.utc)
    result = verification if verification is not None else verify_store(store_root)
    coverage = build_coverage(store_root, now=moment)
    ledger = read_ledger(store_root)
    catalog, _, _ = load_store_catalog(store_root, ledger.entries)
    head = ledger_head(ledger)
    links = Links.between(_posix(page_dir), _posix(store_root))
    page = render_page(
        coverage,
        head=head,
        verification=result,
        details=principle_details(catalog),
        heat=heatmap(coverage),
        instances=instances(coverage),
        days=days(coverage),
        links=links,
    )
    data = portal_document(coverage, head, result, links.prefix)
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    return page.encode("utf-8"), text.encode("utf-8")


def portal_document(
    coverage: Coverage, head: LedgerHead, result: VerifyResult, prefix: str
) -> dict[str, Any]:
    """index.json: the JSON report plus what the page adds (ledger head, verification at render)."""
    report = coverage_to_dict(coverage)
    report["store"] = prefix or "."  # where the store is, relative to this file: never an absolute path
    return {
        "evidentia_portal": PORTAL_VERSION,
        "generated_at": utc_iso(coverage.generated_at),
        "ledger_head": {
            "sha256": head.sha256,
            "seq": head.seq,
            "first_seq": head.first_seq,
            "lines": head.lines,
        },
        "verification": {
            "ok": result.ok,
            "entries": result.entries,
            "files": result.files,
            "discrepancies": [
                {"kind": d.kind, "where": d.where, "message": d.message, "fatal": d.fatal}
                for d in result.discrepancies
            ],
        },
        "report": report,
    }


def _posix(path: Path) -> str:
    """Absolute, symlinks resolved, so the relative link from page to store is right."""
    return Path(os.path.realpath(path)).as_posix()


def _write(path: Path, data: bytes) -> None:
    """Replace atomically: a reader (or a zip tool) never sees half a page."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)
