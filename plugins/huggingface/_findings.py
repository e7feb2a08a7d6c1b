"""The findings `huggingface.cache` raises, each defined by exactly what the cache can show.

Subjects name the repo as `<type>:<repo id>` (`model:org/name`), then the revision and path or the
blob, so a finding points at one place in the cache.

Pinning, precisely. The cache cannot know how code asked for a revision; it only records that a
download named a ref: `hf_hub_download(revision="main")` writes `refs/main`, while
`revision="<40-hex commit>"` writes no ref. So:

- a revision is *pinned by commit* when no file under `refs/` points at it;
- a revision any ref points at (a branch, a tag or `refs/pr/N`; the cache stores them alike and
  all of them can move on the Hub) is reachable by name, so not evidence of pinning;
- `revision-not-pinned` is raised for a repo with at least one cached revision, every one of which
  some ref points at: no code on this machine is shown to have pinned a commit.

Limits: a revision a branch used to point at, left behind when the branch moved, has no ref either
and counts as pinned (the finding can miss a repo); a commit fetched both by SHA and by a branch has
a ref and counts as unpinned (the finding can flag a repo whose code does pin).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from evidentia import Finding

from ._formats import file_format
from ._layout import CachedRepo, Revision, SnapshotFile


def not_pinned(repo: CachedRepo) -> Finding | None:
    """`revision-not-pinned` (medium) when every cached revision is reachable only through a ref."""
    if not repo.revisions or any(not rev.refs for rev in repo.revisions):
        return None
    refs = sorted({ref for rev in repo.revisions for ref in rev.refs})
    return Finding(
        "revision-not-pinned",
        f"{repo.label}: every cached revision was fetched by a ref ({', '.join(refs)}), none by commit "
        "SHA; what it loads changes when the ref moves on the Hub. Pin `revision=` to a commit.",
        "medium",
        subject=repo.label,
    )


def load_risks(repo: CachedRepo) -> Iterator[Finding]:
    """One finding per file path in a repo whose format runs code on load (any of its revisions)."""
    commits: dict[str, list[str]] = {}
    for rev in repo.revisions:
        for file in rev.files:
            commits.setdefault(file.path, []).append(rev.commit)
    for path, where in sorted(commits.items()):
        kind, fmt, executes = file_format(path)
        if kind != "model" or executes is False:
            continue
        subject = f"{repo.label}/{path}"
        revisions = f"(revision {', '.join(c[:12] for c in where)})"
        if executes:
            yield Finding(
                "unsafe-model-format",
                f"{subject} {revisions} is a {fmt} file: loading it runs code embedded in it; prefer "
                "the repo's safetensors weights, or verify the file before every load",
                "high",
                subject=subject,
            )
        else:
            yield Finding(
                "model-format-may-execute-code",
                f"{subject} {revisions} is a {fmt} file: Lambda layers in it run code on load "
                "unless safe_mode refuses them",
                "medium",
                subject=subject,
            )


def dangling(repo: CachedRepo, rev: Revision, file: SnapshotFile) -> Finding:
    """`dangling-snapshot-file` (low): a snapshot symlink whose blob is gone (the file is not cached)."""
    subject = f"{repo.label}@{rev.commit}/{file.path}"
    return Finding(
        "dangling-snapshot-file",
        f"{subject} links to a missing blob ({file.blob_name}): loading it fails or re-downloads it",
        "low",
        subject=subject,
    )


def incomplete(repo: CachedRepo, partials: Iterable[str]) -> Iterator[Finding]:
    """`incomplete-download` (info): a partial blob left by a download in progress or interrupted."""
    for name in partials:
        subject = f"{repo.label}/blobs/{name}"
        yield Finding(
            "incomplete-download",
            f"{subject}: a download in progress or interrupted; not part of any revision",
            "info",
            subject=subject,
        )


def hash_mismatch(repo: CachedRepo, blob: str, sha256: str) -> Finding:
    """`blob-hash-mismatch` (high): a blob's content is not what the Hub's hash named it to be."""
    subject = f"{repo.label}/blobs/{blob}"
    return Finding(
        "blob-hash-mismatch",
        f"{subject}: the content does not match the hash it is stored under (SHA-256 {sha256}); "
        "it was modified or corrupted after download",
        "high",
        subject=subject,
    )


def cache_not_found(cache_dir: Path, origin: str) -> Finding:
    """`cache-not-found` (info): no cache folder, so no Hub files on this machine (valid evidence)."""
    return Finding(
        "cache-not-found",
        f"no Hugging Face cache at {cache_dir} (from {origin}): no Hub repo is cached there",
        "info",
        subject=str(cache_dir),
    )
