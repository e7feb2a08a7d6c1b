"""`local.git`: every commit that landed on a branch in the period, with signature and review signs.

Change records show that the AI system's code and configuration changed in a controlled way: who
changed what and when (P2 audit trail, P8 documentation, P11 updates), whether commits were signed,
and whether changes reached the branch through review. The population is every commit reachable
from the branch whose *committer* date lies in [start, end): the committer date is when a change
landed, the author date only when it was first written. Requires git 2.31 or later.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shlex
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from evidentia import Artefact, CollectContext, Collector, Finding

if TYPE_CHECKING:
    from evidentia.collector import Severity

# git's --since stops walking at the first commits older than it; a margin keeps commits whose
# dates are slightly out of order (clock skew, rebases), and Python then filters exactly.
MARGIN = dt.timedelta(days=1)
FIELDS = ("%H", "%P", "%an", "%ae", "%aI", "%cn", "%ce", "%cI", "%G?", "%s", "%B")
RECORD, UNIT = "\x1e", "\x1f"  # written as %x1e / %x1f in the format, so provenance is legible
LOG_FORMAT = "%x1e" + "%x1f".join(FIELDS) + "%x1f"
# fmt: off
SIGNATURES = {  # git's %G? letters in words
    "G": "good", "B": "bad", "U": "good-unknown-validity", "X": "good-expired-signature",
    "Y": "good-expired-key", "R": "good-revoked-key", "E": "unverifiable", "N": "none",
}
# fmt: on
FILES_CHANGED = re.compile(r"(\d+) files? changed")
DEFAULT_MARKERS = ["Reviewed-by:", "Approved-by:", r"\(#\d+\)", "Merge pull request"]
# Fixed output whatever the user's git config and locale say (shortstat is translated).
# core.fsmonitor: a repository's own config must not make us run its programs.
GIT_SETTINGS = ("log.showSignature=false", "i18n.logOutputEncoding=UTF-8", "core.fsmonitor=false")
GIT_ENV = {"LC_ALL": "C", "LANGUAGE": "C", "GIT_TERMINAL_PROMPT": "0", "GIT_PAGER": "cat"}


class GitCommandFailed(RuntimeError):
    """git ran and refused (a bad revision, a broken repository), as opposed to being absent."""


def run_git(ctx: CollectContext, repo: Path, *args: str) -> str:
    """Run one git command (no shell), record it as provenance, fail with git's own words."""
    settings = [arg for setting in GIT_SETTINGS for arg in ("-c", setting)]
    cmd = ["git", "-C", str(repo), *settings, *args]
    ctx.record_call(shlex.join(cmd))
    try:
        done = subprocess.run(cmd, capture_output=True, check=False, env={**os.environ, **GIT_ENV})
    except FileNotFoundError:
        raise RuntimeError("git is not installed or not on PATH") from None
    if done.returncode != 0:
        error = done.stderr.decode("utf-8", "replace").strip() or f"exit {done.returncode}"
        if "not a git repository" in error:
            raise RuntimeError(f"{repo} is not a git repository")
        raise GitCommandFailed(f"`git {' '.join(args)}` failed in {repo}: {error}")
    return done.stdout.decode("utf-8", "replace")


def parse_log(output: str) -> list[dict[str, Any]]:
    """Commits from `git log` with FIELDS separated by UNIT, each record led by RECORD."""
    commits = []
    for record in output.split(RECORD)[1:]:
        parts = record.split(UNIT)
        sha, parents, an, ae, ad, cn, ce, cd, sig, subject, body = parts[: len(FIELDS)]
        stat = FILES_CHANGED.search(parts[len(FIELDS)] if len(parts) > len(FIELDS) else "")
        commits.append(
            {
                "sha": sha,
                "parents": parents.split(),
                "is_merge": len(parents.split()) > 1,
                "author": {"name": an, "email": ae, "date": _utc(ad)},
                "committer": {"name": cn, "email": ce, "date": _utc(cd)},
                "subject": subject,
                "_message": body,
                "signature": SIGNATURES.get(sig, sig or "none"),
                "files_changed": int(stat.group(1)) if stat else 0,
            }
        )
    return commits


def _utc(text: str) -> dt.datetime:  # %aI / %cI: strict ISO 8601 with the committer's offset
    return dt.datetime.fromisoformat(text).astimezone(dt.timezone.utc)


def first_parent_line(tip: str, parents: dict[str, list[str]]) -> set[str]:
    """The commits reached from the tip by first parents only: the branch's own history."""
    line: set[str] = set()
    sha: str | None = tip
    while sha is not None and sha in parents and sha not in line:
        line.add(sha)
        sha = parents[sha][0] if parents[sha] else None
    return line


def compile_markers(markers: Sequence[str]) -> list[re.Pattern[str]]:
    """Compile the review markers up front, so a typo fails the run before git is asked."""
    out = []
    for i, marker in enumerate(markers):
        try:
            out.append(re.compile(marker, re.IGNORECASE | re.MULTILINE))
        except re.error as exc:
            raise RuntimeError(f"review_markers[{i}] {marker!r} is not a valid regex: {exc}") from None
    return out


def commit_findings(commit: dict[str, Any], require_signed: bool) -> list[Finding]:
    """Signature and review findings for one commit of the period.

    Only non-merge commits on the first-parent line count as direct commits: a commit on a merged
    branch was reviewed (or not) through its merge, which is judged by its own message.
    """
    sha, findings = commit["sha"], []
    if commit["signature"] == "none":
        severity: Severity = "low" if require_signed else "info"
        findings.append(Finding("unsigned-commit", f"{sha[:12]} is not signed", severity, sha))
    elif commit["signature"] == "bad":
        findings.append(Finding("bad-signature", f"{sha[:12]} has a bad signature", "high", sha))
    if commit["on_first_parent_line"] and not commit["is_merge"] and not commit["review_marker"]:
        findings.append(
            Finding(
                "direct-commit-without-review",
                f"{sha[:12]} ({commit['subject'][:60]!r}) was committed straight to the branch "
                "with no sign of review in its message",
                "medium",
                sha,
            )
        )
    return findings


class GitCollector(Collector):
    name = "local.git"
    version = "1"
    description = (
        "Commits that landed on a branch of a local git repository in the period: author, "
        "committer, signature status, files changed, merges, and direct commits without review."
    )
    principles = ("P2", "P8", "P11")
    kind = "events"
    permissions = ("read access to the repository folder", "git 2.31 or later on PATH")
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "repo": {
                "type": "string",
                "minLength": 1,
                "default": ".",
                "description": "The repository folder, relative to the config file's folder.",
            },
            "branch": {
                "type": "string",
                "pattern": "^[^-\\s][^\\s]*$",
                "default": "HEAD",
                "description": "Branch (or any revision) whose history is collected.",
            },
            "require_signed": {
                "type": "boolean",
                "default": False,
                "description": "Unsigned commits are 'low' findings when true, 'info' when false.",
            },
            "review_markers": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "default": DEFAULT_MARKERS,
                "description": "Regexes (case-insensitive) whose presence in a commit message "
                "shows it was reviewed; first-parent commits with none are findings.",
            },
        },
    }

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        repo = ctx.path(ctx.params.get("repo", ".")).resolve()
        branch = str(ctx.params.get("branch", "HEAD"))
        markers = compile_markers(ctx.params.get("review_markers", DEFAULT_MARKERS))
        require_signed = bool(ctx.params.get("require_signed", False))
        if not repo.is_dir():
            raise RuntimeError(f"the repository folder {repo} does not exist")
        tip = self._tip(ctx, repo, branch)
        commits = self._commits(ctx, repo, tip, markers)
        findings = [f for c in commits for f in commit_findings(c, require_signed)]
        signed = sum(1 for c in commits if c["signature"] != "none")
        direct = sum(1 for f in findings if f.code == "direct-commit-without-review")
        yield Artefact.json(
            "commits",
            {
                # as configured, so the content does not change with where the config is checked out
                "repository": ctx.params.get("repo", "."),
                "branch": branch,
                "tip": tip,
                "commits": commits,
            },
            source=f"git repository {repo} ({branch})",
            findings=findings,
            summary={
                "commits": len(commits),
                "merges": sum(1 for c in commits if c["is_merge"]),
                "signed": signed,
                "unsigned": len(commits) - signed,
                "direct_without_review": direct,
            },
        )

    def _tip(self, ctx: CollectContext, repo: Path, branch: str) -> str:
        """Resolve the branch once, so the log and the first-parent line describe one state."""
        try:
            out = run_git(ctx, repo, "rev-parse", "--verify", "--quiet", f"{branch}^{{commit}}")
        except GitCommandFailed:
            raise RuntimeError(f"{branch!r} does not name a commit in {repo}") from None
        return out.strip()

    def _commits(
        self, ctx: CollectContext, repo: Path, tip: str, markers: Sequence[re.Pattern[str]]
    ) -> list[dict[str, Any]]:
        """Commits reachable from `tip` committed in [start, end), oldest first.

        No --until: the walk from the tip down to the period is what tells which commits lie on
        the branch's first-parent line; commits after the end are dropped here instead.
        """
        since = (ctx.period.start - MARGIN).astimezone(dt.timezone.utc)
        output = run_git(
            ctx, repo, "log", tip, "--no-color", "--no-ext-diff", "--no-textconv", "--no-renames",
            "--shortstat", "--diff-merges=first-parent",
            f"--format={LOG_FORMAT}",
            f"--since={since:%Y-%m-%dT%H:%M:%SZ}",
        )  # fmt: skip
        parsed = parse_log(output)
        line = first_parent_line(tip, {c["sha"]: c["parents"] for c in parsed})
        commits = []
        for commit in parsed:
            if not ctx.period.contains(commit["committer"]["date"]):
                continue
            commit["on_first_parent_line"] = commit["sha"] in line
            message = commit.pop("_message")
            found = (rx.search(message) for rx in markers)  # the first sign of review, as written
            commit["review_marker"] = next((m.group(0) for m in found if m), None)
            commits.append(commit)
        return sorted(commits, key=lambda c: (c["committer"]["date"], c["sha"]))
