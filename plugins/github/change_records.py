"""GraphQL pull requests and commits turned into change records, and the findings an auditor samples for.

Findings, with the severity of what goes wrong if nobody acts:
- `merged-without-independent-approval` (high): nobody but the author approved what reached the
  default branch (segregation of duties, SOC 2 CC8.1). A reviewer's approval counts only while it
  stands: a later request for changes by the same reviewer withdraws it, as on GitHub.
- `approval-before-last-push` (medium): every approval was given on an earlier head; what merged was
  never approved as such. Judged by the commit each review was submitted on (exact), or by time when
  GitHub does not say.
- `merged-with-failing-checks` (high when a required check failed or never reported, else low).
- `direct-commit-to-default-branch` (medium): a commit on the default branch that belongs to no
  merged pull request, so it was never reviewed there.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from evidentia import Finding

from .common import parse_time

PASSING = frozenset({"SUCCESS", "NEUTRAL", "SKIPPED"})
CHECK_RUN = "CheckRun"


def _login(actor: dict[str, Any] | None) -> str | None:
    return (actor or {}).get("login")


def check_record(node: dict[str, Any], required: set[str]) -> dict[str, Any]:
    """A check run or commit status as one shape: name, kind, conclusion, required."""
    if node.get("__typename") == CHECK_RUN:
        name, conclusion = node.get("name"), node.get("conclusion") or node.get("status")
        kind, at = "check_run", node.get("completedAt")
    else:
        name, conclusion, kind, at = node.get("context"), node.get("state"), "status", node.get("createdAt")
    return {"name": name, "kind": kind, "conclusion": conclusion, "at": at, "required": name in required}


def required_checks(base_ref: dict[str, Any] | None) -> tuple[set[str], bool]:
    """The checks the base branch requires now: (names, complete).

    GitHub requires the union of classic protection (`branchProtectionRule`, shown to administrators;
    `refUpdateRule`, its view for everyone else) and every active ruleset's `required_status_checks`
    rule (`Ref.rules`, which lists only rules in force). `complete` is False when the branch has more
    rules than the query's page.
    """
    ref = base_ref or {}
    names: set[str] = set()
    for classic in (ref.get("branchProtectionRule"), ref.get("refUpdateRule")):
        names.update((classic or {}).get("requiredStatusCheckContexts") or [])
    rules = ref.get("rules") or {}
    nodes = [n for n in rules.get("nodes") or [] if n]
    for rule in nodes:
        if str(rule.get("type")).upper() == "REQUIRED_STATUS_CHECKS":
            checks = (rule.get("parameters") or {}).get("requiredStatusChecks") or []
            names.update(c.get("context") for c in checks if c and c.get("context"))
    return {n for n in names if n}, (rules.get("totalCount") or 0) <= len(nodes)


def change_record(node: dict[str, Any]) -> dict[str, Any]:
    """One merged pull request as filed: who, when, which commits, every review and check."""
    required, required_complete = required_checks(node.get("baseRef"))
    head = (((node.get("commits") or {}).get("nodes") or [{}])[-1] or {}).get("commit") or {}
    rollup = head.get("statusCheckRollup") or {}
    contexts = rollup.get("contexts") or {}
    checks = [check_record(c, required) for c in contexts.get("nodes") or [] if c]
    reviews_conn = node.get("reviews") or {}
    reviews = [
        {
            "reviewer": _login(r.get("author")),
            "state": r.get("state"),
            "submitted_at": r.get("submittedAt"),
            "commit": (r.get("commit") or {}).get("oid"),
        }
        for r in reviews_conn.get("nodes") or []
        if r
    ]
    return {
        "repository": (node.get("repository") or {}).get("name"),
        "number": node.get("number"),
        "title": node.get("title"),
        "url": node.get("url"),
        "author": _login(node.get("author")),
        "merged_by": _login(node.get("mergedBy")),
        "created_at": node.get("createdAt"),
        "merged_at": node.get("mergedAt"),
        "base_ref": node.get("baseRefName"),
        "base_sha": node.get("baseRefOid"),
        "head_ref": node.get("headRefName"),
        "head_sha": node.get("headRefOid"),
        "head_committed_at": head.get("committedDate"),
        "merge_commit": (node.get("mergeCommit") or {}).get("oid"),
        "reviews": reviews,
        "reviews_truncated": (reviews_conn.get("totalCount") or 0) > len(reviews),
        "required_checks": sorted(required),
        "required_checks_truncated": not required_complete,
        "checks_state": rollup.get("state"),
        "checks": checks,
        "checks_truncated": (contexts.get("totalCount") or 0) > len(checks),
    }


def commit_record(repo: str, branch: str, node: dict[str, Any]) -> dict[str, Any]:
    def person(p: dict[str, Any] | None) -> dict[str, Any]:
        p = p or {}
        return {"name": p.get("name"), "email": p.get("email"), "login": _login(p.get("user"))}

    return {
        "repository": repo,
        "branch": branch,
        "sha": node.get("oid"),
        "message": node.get("messageHeadline"),
        "url": node.get("url"),
        "committed_at": node.get("committedDate"),
        "author": person(node.get("author")),
        "committer": person(node.get("committer")),
        "parents": (node.get("parents") or {}).get("totalCount"),
    }


def in_merged_pull_request(node: dict[str, Any]) -> bool:
    prs = (node.get("associatedPullRequests") or {}).get("nodes") or []
    return any(pr and pr.get("merged") for pr in prs)


def change_findings(change: dict[str, Any]) -> Iterator[Finding]:
    subject = change["id"]
    author = change["author"]
    approvals = [r for r in standing_approvals(change["reviews"]) if r["reviewer"] not in (None, author)]
    if not approvals:
        yield Finding(
            "merged-without-independent-approval",
            f"{subject} was merged by {change['merged_by']} without an approving review by anyone but "
            f"its author {author}",
            "high",
            subject=subject,
        )
    elif not any(_approves_head(r, change) for r in approvals):
        yield Finding(
            "approval-before-last-push",
            f"{subject}: every approval predates the last push ({change['head_sha']}); what merged was "
            "never approved as such",
            "medium",
            subject=subject,
        )
    failing = [c for c in change["checks"] if c["conclusion"] not in PASSING]
    reported = {c["name"] for c in change["checks"]}
    missing = [name for name in change["required_checks"] if name not in reported]
    if failing or missing:
        required_failed = missing + [c["name"] for c in failing if c["required"]]
        names = ", ".join(f"{c['name']} ({c['conclusion']})" for c in failing)
        names = ", ".join(filter(None, [names, *(f"{m} (never reported)" for m in missing)]))
        yield Finding(
            "merged-with-failing-checks",
            f"{subject} was merged with failing checks: {names}",
            "high" if required_failed else "low",
            subject=subject,
        )


DECISIVE = frozenset({"APPROVED", "CHANGES_REQUESTED", "DISMISSED"})


def standing_approvals(reviews: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each reviewer's latest decisive review, where it is an approval.

    As on GitHub: a reviewer who approved and later requested changes no longer approves; a comment
    changes nothing. Reviews are in the order GitHub submitted them.
    """
    latest: dict[str, dict[str, Any]] = {}
    ordered = sorted(enumerate(reviews), key=lambda ir: (ir[1]["submitted_at"] or "", ir[0]))
    for _, review in ordered:
        if review["state"] in DECISIVE and review["reviewer"] is not None:
            latest[review["reviewer"]] = review
    return [r for r in latest.values() if r["state"] == "APPROVED"]


def _approves_head(review: dict[str, Any], change: dict[str, Any]) -> bool:
    if review["commit"] and change["head_sha"]:
        return bool(review["commit"] == change["head_sha"])
    submitted, pushed = parse_time(review["submitted_at"]), parse_time(change["head_committed_at"])
    return submitted is None or pushed is None or submitted >= pushed


def direct_commit_finding(commit: dict[str, Any]) -> Finding:
    subject = commit["id"]
    who = commit["author"]["login"] or commit["author"]["name"]
    return Finding(
        "direct-commit-to-default-branch",
        f"{commit['sha'][:12]} by {who} reached {commit['repository']}:{commit['branch']} outside any "
        "merged pull request",
        "medium",
        subject=subject,
    )
