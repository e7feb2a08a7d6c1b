"""`local.files`: policies, threat models and records kept as files, filed under their principles.

Much AI-security evidence is a document a person wrote (a policy, a runbook, a training record).
Each configured glob says which principles its documents support, so one instance can file a
policy under P1 and a threat model under P3. Every matched file is filed byte for byte, plus one
index of all of them, so an auditor can see at a glance what existed and what a glob failed to find.
"""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from evidentia import Artefact, CollectContext, Collector, Finding

from ._fs import (
    EXCLUDE_SCHEMA,
    Excluder,
    file_facts,
    glob_regex,
    modified_utc,
    split_glob,
    walk_files,
)

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
# Types the standard library's built-in table lacks; its answer must not depend on the machine.
_EXTRA_TYPES = {
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".yaml": "application/yaml",
    ".yml": "application/yaml",
    ".jsonl": "application/jsonl",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
_MIME: list[mimetypes.MimeTypes] = []


def media_type(path: Path) -> str:
    """Guess a media type from the built-in table only, so every machine files the same type."""
    extra = _EXTRA_TYPES.get(path.suffix.lower())
    if extra:
        return extra
    if not _MIME:
        _MIME.append(mimetypes.MimeTypes())
    return _MIME[0].guess_type(path.name, strict=False)[0] or "application/octet-stream"


@dataclass
class Matched:
    """One file and every glob entry that matched it (their principles are combined)."""

    path: Path
    rel: str
    globs: list[str] = field(default_factory=list)
    principles: set[str] = field(default_factory=set)


class FilesCollector(Collector):
    name = "local.files"
    version = "1"
    description = (
        "Documents from folders (policies, runbooks, threat models, training records), each "
        "filed as-is under the principles its glob names, plus an index with SHA-256 digests."
    )
    principles = ()
    kind = "snapshot"
    permissions = ("read access to the document folders",)
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["documents"],
        "properties": {
            "documents": {
                "type": "array",
                "minItems": 1,
                "description": "Which files to collect and the principles each set supports.",
                "items": {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["glob", "principles"],
                    "properties": {
                        "glob": {
                            "type": "string",
                            "minLength": 1,
                            "description": "Files to collect, relative to the config file's "
                            "folder ('**' spans folders), e.g. 'policies/**/*.md'.",
                        },
                        "principles": {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "string", "pattern": "^[Pp][1-9][0-9]*$"},
                            "description": "EN 304 223 principles these documents support.",
                        },
                        "description": {
                            "type": "string",
                            "description": "What these documents are, for readers of the index.",
                        },
                    },
                },
            },
            "exclude": EXCLUDE_SCHEMA,
            "max_bytes": {
                "type": "integer",
                "minimum": 1,
                "default": DEFAULT_MAX_BYTES,
                "description": "Files larger than this are listed in the index but not stored.",
            },
        },
    }

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        entries: Sequence[Mapping[str, Any]] = ctx.params["documents"]
        excluder = Excluder(ctx.params.get("exclude", EXCLUDE_SCHEMA["default"]))
        max_bytes = int(ctx.params.get("max_bytes", DEFAULT_MAX_BYTES))
        matched, findings, listings = self._match(ctx, entries, excluder)
        index: list[dict[str, Any]] = []
        for item in matched:
            ctx.check_cancelled()
            ctx.record_call(f"read {item.path}")
            artefact, record, finding = self._read(item, max_bytes)
            index.append(record)
            if finding is not None:
                findings.append(finding)
            if artefact is not None:
                yield artefact
        for listing in listings:
            ctx.record_call(listing)
        all_principles = sorted({p.upper() for e in entries for p in e["principles"]})
        yield Artefact.json(
            "document-index",
            {"globs": [dict(e) for e in entries], "documents": index},
            source=str(ctx.base_dir),
            findings=findings,
            principles=all_principles,
            summary={
                "documents": len(index),
                "stored": sum(1 for r in index if r["stored"]),
                "bytes": sum(r["size"] for r in index),
                "globs_without_match": sum(1 for f in findings if f.code == "no-documents-matched"),
            },
        )

    def _match(
        self, ctx: CollectContext, entries: Sequence[Mapping[str, Any]], excluder: Excluder
    ) -> tuple[list[Matched], list[Finding], list[str]]:
        """Walk each glob's literal folder and combine the entries that match the same file.

        Returns the matches, a finding per glob that matched nothing, and the listings made
        (recorded later, as provenance of the index that lists their results).
        """
        by_path: dict[str, Matched] = {}
        findings: list[Finding] = []
        listings: list[str] = []
        for entry in entries:
            pattern = str(entry["glob"])
            root_text, rest = split_glob(pattern)
            root, rx = ctx.path(root_text), glob_regex(rest)
            listings.append(f"list files matching {pattern} under {root}")
            hits = 0
            for path, rel, rel_root in walk_files(root, ctx.base_dir, excluder):
                if rx.fullmatch(rel_root):
                    item = by_path.setdefault(rel, Matched(path, rel))
                    item.globs.append(pattern)
                    item.principles.update(p.upper() for p in entry["principles"])
                    hits += 1
            if hits == 0:
                findings.append(
                    Finding(
                        "no-documents-matched",
                        f"no file matches {pattern!r}: the documents it stands for are missing",
                        "medium",
                        subject=pattern,
                    )
                )
        return [by_path[k] for k in sorted(by_path)], findings, listings

    def _read(self, item: Matched, max_bytes: int) -> tuple[Artefact | None, dict[str, Any], Finding | None]:
        """Read one file once: its artefact (unless too large), its index record, any finding."""
        record: dict[str, Any] = {
            "path": item.rel,
            "globs": item.globs,
            "principles": sorted(item.principles),
            "modified": modified_utc(item.path),
        }
        if item.path.stat().st_size > max_bytes:
            facts = file_facts(item.path)  # streamed: never hold an oversized file in memory
            record.update(size=facts.size, sha256=facts.sha256, stored=False)
            message = f"{item.rel} is {facts.size} bytes, over max_bytes {max_bytes}: not stored"
            return None, record, Finding("file-too-large", message, "low", subject=item.rel)
        content = item.path.read_bytes()
        record.update(size=len(content), sha256=hashlib.sha256(content).hexdigest(), stored=True)
        artefact = Artefact(
            name=item.rel,
            content=content,
            media_type=media_type(item.path),
            # the store cannot name a file without an extension; `bin` says "raw bytes"
            extension=item.path.suffix.lstrip(".") or "bin",
            source=str(item.path),
            principles=tuple(sorted(item.principles)),
            summary={"size": len(content), "globs": item.globs},
        )
        return artefact, record, None
