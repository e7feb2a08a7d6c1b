"""Names inside the store folder: portable (no `:`), sortable, and safe from path traversal."""

from __future__ import annotations

import datetime as dt
import re

LEDGER = "ledger.jsonl"
README = "README.md"
TOOL_DIR = ".evidentia"
RUNS_DIR = "runs"
CATALOG_DIR = "catalog"
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
SAFE_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def stamp(moment: dt.datetime) -> str:
    """`20261123T204600Z`: ISO 8601 basic format, UTC, safe on every file system."""
    return moment.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def safe_name(name: str, limit: int = 96) -> str:
    """Fold an artefact name to characters every file system and zip tool accepts."""
    cleaned = _UNSAFE.sub("-", name).strip(".-") or "artefact"
    return cleaned[:limit].rstrip(".-") or "artefact"


def artefact_filename(moment: dt.datetime, name: str, extension: str) -> str:
    base = safe_name(name)
    ext = safe_name(extension.lstrip("."), 16) if extension.strip(". ") else ""
    if ext and not base.lower().endswith("." + ext.lower()):
        base = f"{base}.{ext}"
    return f"{stamp(moment)}--{base}"


def meta_name(artefact_path: str) -> str:
    return artefact_path + ".meta.json"
