"""`huggingface.cache`: the third-party models and datasets actually present in a Hugging Face cache.

An asset register (P5) and the provenance of models and data (P8) need to know which Hub repos a
machine (or a shared cache) holds, at which commits, with which files. Supply-chain security (P7)
asks whether those revisions are pinned and whether loading a file runs code. The cache is read
as `huggingface_hub` lays it out (see `_layout`), without depending on that library at run time.

Each blob is described once, however many revisions share it: size and times from one `stat`
(taken before reading, so hashing does not count as an access), and, when `hash_files` is on and
the blob is not larger than `max_hash_bytes`, its SHA-256, checked against the hash the blob is
named by (SHA-256 for LFS files, git blob SHA-1 for small ones).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

from evidentia import Artefact, CollectContext, Collector, Finding

from . import _findings
from ._blobs import BlobFacts, BlobReader
from ._formats import file_format
from ._layout import CachedRepo, Revision, SnapshotFile, blob_hash_algorithm, list_cache
from ._location import default_cache_dir

DEFAULT_MAX_HASH_BYTES = 10 * 1024**3
DEFINITIONS = {
    "pinned_by_commit": (
        "no file under refs/ points at this revision: it was fetched by commit SHA (or is an old "
        "revision a branch pointed at before it moved; the cache cannot tell these apart)"
    ),
    "pinned": "at least one cached revision of the repo is pinned_by_commit",
    "blob_hash": "the blob's file name: the Hub's SHA-256 for LFS files, the git blob SHA-1 otherwise",
    "last_accessed": "the blob's atime before this run read it (mount options may make it coarse)",
}


class HuggingFaceCacheCollector(Collector):
    name = "huggingface.cache"
    version = "1"
    description = (
        "Hub models, datasets and spaces in a Hugging Face cache: repo id, type, cached revisions "
        "and the refs naming them, files with size, SHA-256 and times; flags revisions not pinned "
        "to a commit and model formats that execute code when loaded (pickle)."
    )
    principles = ("P5", "P7", "P8")
    kind = "snapshot"
    permissions = ("read access to the Hugging Face cache folder",)
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "cache_dir": {
                "type": "string",
                "minLength": 1,
                "description": (
                    "The hub cache folder, relative to the config file's folder. Default: where "
                    "huggingface_hub looks: $HF_HUB_CACHE, else $HF_HOME/hub, else "
                    "$XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub."
                ),
            },
            "hash_files": {
                "type": "boolean",
                "default": True,
                "description": "Compute the SHA-256 of each cached blob (read once, however shared).",
            },
            "max_hash_bytes": {
                "type": "integer",
                "minimum": 0,
                "default": DEFAULT_MAX_HASH_BYTES,
                "description": "Blobs larger than this are listed with their size but not hashed.",
            },
        },
    }

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        cache_dir, origin = self._cache_dir(ctx)
        hashing = bool(ctx.params.get("hash_files", True))
        ctx.record_call(f"list {'and hash ' if hashing else ''}the Hugging Face cache {cache_dir}")
        head = {"cache_dir": str(cache_dir), "cache_dir_from": origin, "definitions": DEFINITIONS}
        if not cache_dir.exists():  # a dangling symlink counts as missing
            found = _findings.cache_not_found(cache_dir, origin)
            data = {**head, "found": False, "repos": [], "other_entries": []}
            yield Artefact.json(
                "hf-cache", data, source=str(cache_dir), findings=[found], summary=_summary([])
            )
            return
        if not cache_dir.is_dir():
            raise RuntimeError(f"cache_dir {cache_dir} exists but is not a folder")
        repos, others = list_cache(cache_dir)
        reader = BlobReader(ctx, hashing, _max_bytes(ctx))
        findings: list[Finding] = []
        records = [self._repo(repo, reader, findings) for repo in repos]
        yield Artefact.json(
            "hf-cache",
            {**head, "found": True, "repos": records, "other_entries": others},
            source=str(cache_dir),
            findings=findings,
            summary=_summary(records),
        )

    def _cache_dir(self, ctx: CollectContext) -> tuple[Path, str]:
        """The configured folder (relative to the config file), else the library's default."""
        given = ctx.params.get("cache_dir")
        return (ctx.path(given), "param") if given else default_cache_dir()

    def _repo(self, repo: CachedRepo, reader: BlobReader, findings: list[Finding]) -> dict[str, Any]:
        """One repo's record; its findings are appended (files, blobs, formats, pinning, partials)."""
        revisions = [_revision_record(repo, rev, reader, findings) for rev in repo.revisions]
        partials = {p.name: record for p in repo.incomplete if (record := reader.partial_record(p))}
        findings.extend(reader.mismatches(repo))
        findings.extend(_findings.load_risks(repo))
        findings.extend([f for f in [_findings.not_pinned(repo)] if f])
        findings.extend(_findings.incomplete(repo, partials))
        return {
            "repo_id": repo.repo_id,
            "repo_type": repo.repo_type,
            "folder": repo.folder.name,
            "refs": repo.refs,
            "pinned": any(not rev.refs for rev in repo.revisions),
            "size_on_disk": reader.size_on_disk(repo),
            "revisions": revisions,
            "incomplete_downloads": list(partials.values()),
        }


def _revision_record(
    repo: CachedRepo, rev: Revision, reader: BlobReader, findings: list[Finding]
) -> dict[str, Any]:
    """One cached revision: its commit, the refs naming it, and its files (dangling ones flagged)."""
    files = []
    for file in rev.files:
        facts = reader.facts(file)
        if facts.missing:
            findings.append(_findings.dangling(repo, rev, file))
        files.append(_file_record(file, facts))
    return {"commit": rev.commit, "refs": rev.refs, "pinned_by_commit": not rev.refs, "files": files}


def _max_bytes(ctx: CollectContext) -> int:
    return int(ctx.params.get("max_hash_bytes", DEFAULT_MAX_HASH_BYTES))


def _file_record(file: SnapshotFile, facts: BlobFacts) -> dict[str, Any]:
    kind, fmt, executes = file_format(file.path)
    name = file.blob_name
    return {
        "path": file.path,
        "blob_hash": name,
        "blob_hash_algorithm": blob_hash_algorithm(name) if name else None,
        "blob_missing": facts.missing,
        "size": facts.size,
        "sha256": facts.sha256,
        "sha256_skipped": facts.skipped,
        "blob_hash_verified": facts.verified,
        "last_accessed": facts.accessed,
        "last_modified": facts.modified,
        "kind": kind,
        "format": fmt,
        "executes_code_on_load": executes,
    }


def _summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    files = [f for r in records for rev in r["revisions"] for f in rev["files"]]
    return {
        "repos": len(records),
        "models": sum(1 for r in records if r["repo_type"] == "model"),
        "datasets": sum(1 for r in records if r["repo_type"] == "dataset"),
        "revisions": sum(len(r["revisions"]) for r in records),
        "files": len(files),
        "unpinned_repos": sum(1 for r in records if r["revisions"] and not r["pinned"]),
        "executes_code_on_load": sum(1 for f in files if f["executes_code_on_load"]),
        "bytes": sum(r["size_on_disk"] for r in records),
    }
