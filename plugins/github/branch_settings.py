"""Classic branch protection and ruleset rules merged into one set of settings, each with its sources.

GitHub stacks protections: a branch must satisfy its classic protection rule *and* every rule of every
active ruleset (repository or organisation) that targets it, so the effective setting is the
strictest of them. Each setting is filed with the sources that impose it, so an auditor can trace
"two approvals required" to the ruleset that requires it, and with `None` where the token could not
see a source's value (classic protection and ruleset bypass lists are shown only to administrators):
unknown is recorded as unknown, never as "off".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from evidentia import Finding
from evidentia.collector import Severity

CLASSIC = "classic branch protection"
FLAGS = (
    "pull_request_required",
    "required_reviews",
    "dismiss_stale_reviews",
    "code_owner_review",
    "signed_commits",
    "force_push_blocked",
    "deletion_blocked",
    "admin_enforced",
)
# baseline setting -> (finding code, severity, what is wrong)
BASELINE: dict[str, tuple[str, Severity, str]] = {
    "required_reviews": ("review-not-required", "medium", "no approving review is required"),
    "force_push_blocked": ("force-push-allowed", "medium", "force pushes are allowed"),
    "deletion_blocked": ("deletion-allowed", "low", "the branch may be deleted"),
    "admin_enforced": ("admins-not-enforced", "low", "administrators may bypass the protection"),
    "required_status_checks": ("status-checks-not-required", "low", "no status check is required"),
    "dismiss_stale_reviews": ("stale-reviews-not-dismissed", "low", "approvals survive later pushes"),
    "code_owner_review": ("code-owner-review-not-required", "low", "code owners need not review"),
    "signed_commits": ("signed-commits-not-required", "low", "unsigned commits are accepted"),
}
DEFAULT_BASELINE = (
    "required_reviews",
    "force_push_blocked",
    "deletion_blocked",
    "admin_enforced",
    "required_status_checks",
    "dismiss_stale_reviews",
)
ADMIN_ROLES = frozenset({"admin"})

Contribution = dict[str, Any]  # setting -> value this one source imposes (None: not visible)


def classic_from_graphql(rule: dict[str, Any]) -> Contribution:
    """GraphQL `BranchProtectionRule` (seen by an administrator): every setting is visible."""
    count = int(rule.get("requiredApprovingReviewCount") or 0)
    reviews = bool(rule.get("requiresApprovingReviews"))
    checks = rule.get("requiredStatusCheckContexts") or [] if rule.get("requiresStatusChecks") else []
    return {
        "pull_request_required": reviews,
        "required_reviews": reviews and count >= 1,
        "required_review_count": count if reviews else 0,
        "dismiss_stale_reviews": bool(rule.get("dismissesStaleReviews")),
        "code_owner_review": bool(rule.get("requiresCodeOwnerReviews")),
        "required_status_checks": sorted(c for c in checks if c),
        "signed_commits": bool(rule.get("requiresCommitSignatures")),
        "force_push_blocked": not rule.get("allowsForcePushes"),
        "deletion_blocked": not rule.get("allowsDeletions"),
        "admin_enforced": bool(rule.get("isAdminEnforced")),
    }


def classic_from_update_rule(rule: dict[str, Any]) -> Contribution:
    """GraphQL `refUpdateRule`, what a non-administrator sees: no stale-review or admin settings."""
    count = int(rule.get("requiredApprovingReviewCount") or 0)
    return {
        "pull_request_required": True if count else None,
        "required_reviews": count >= 1,
        "required_review_count": count,
        "dismiss_stale_reviews": None,
        "code_owner_review": bool(rule.get("requiresCodeOwnerReviews")),
        "required_status_checks": sorted(c for c in rule.get("requiredStatusCheckContexts") or [] if c),
        "signed_commits": bool(rule.get("requiresSignatures")),
        "force_push_blocked": not rule.get("allowsForcePushes"),
        "deletion_blocked": not rule.get("allowsDeletions"),
        "admin_enforced": None,
    }


def classic_from_rest(body: dict[str, Any]) -> Contribution:
    """REST `GET .../branches/{branch}/protection`."""

    def on(key: str) -> bool:
        return bool((body.get(key) or {}).get("enabled"))

    reviews = body.get("required_pull_request_reviews")
    count = int((reviews or {}).get("required_approving_review_count") or 0)
    checks = body.get("required_status_checks") or {}
    names = set(checks.get("contexts") or []) | {c.get("context") for c in checks.get("checks") or []}
    return {
        "pull_request_required": reviews is not None,
        "required_reviews": reviews is not None and count >= 1,
        "required_review_count": count,
        "dismiss_stale_reviews": bool((reviews or {}).get("dismiss_stale_reviews")),
        "code_owner_review": bool((reviews or {}).get("require_code_owner_reviews")),
        "required_status_checks": sorted(n for n in names if n),
        "signed_commits": on("required_signatures"),
        "force_push_blocked": not on("allow_force_pushes"),
        "deletion_blocked": not on("allow_deletions"),
        "admin_enforced": on("enforce_admins"),
    }


def _snake(parameters: dict[str, Any] | None) -> dict[str, Any]:
    """GraphQL rule parameters in the REST (snake_case) spelling, so both sources read alike."""
    p = parameters or {}
    if p.get("__typename") == "PullRequestParameters":
        return {
            "required_approving_review_count": p.get("requiredApprovingReviewCount"),
            "dismiss_stale_reviews_on_push": p.get("dismissStaleReviewsOnPush"),
            "require_code_owner_review": p.get("requireCodeOwnerReview"),
            "require_last_push_approval": p.get("requireLastPushApproval"),
        }
    if p.get("__typename") == "RequiredStatusChecksParameters":
        return {
            "strict_required_status_checks_policy": p.get("strictRequiredStatusChecksPolicy"),
            "required_status_checks": [
                {"context": c.get("context"), "integration_id": c.get("integrationId")}
                for c in p.get("requiredStatusChecks") or []
            ],
        }
    return {}


def _bypass_actor(node: dict[str, Any]) -> dict[str, Any]:
    actor = node.get("actor") or {}
    return {
        "mode": node.get("bypassMode"),
        "organization_admin": bool(node.get("organizationAdmin")),
        "enterprise_owner": bool(node.get("enterpriseOwner")),
        "repository_role": node.get("repositoryRoleName"),
        "deploy_key": bool(node.get("deployKey")),
        "actor": f"{actor.get('__typename', '').lower()}:{actor.get('slug')}" if actor else None,
    }


def rulesets_from_graphql(nodes: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """GraphQL `Ref.rules` nodes grouped by ruleset, with its source and (if visible) bypass list."""
    found: dict[Any, dict[str, Any]] = {}
    for node in nodes:
        ruleset = node.get("repositoryRuleset") or {}
        source = ruleset.get("source") or {}
        key = ruleset.get("databaseId") or ruleset.get("name")
        entry = found.get(key)
        if entry is None:
            actors = ruleset.get("bypassActors")
            bypass = None
            if actors is not None and (actors.get("totalCount") or 0) <= len(actors.get("nodes") or []):
                bypass = [_bypass_actor(a) for a in actors.get("nodes") or [] if a]
            entry = found[key] = {
                "id": ruleset.get("databaseId"),
                "name": ruleset.get("name"),
                "source_type": source.get("__typename"),
                "source": source.get("login") or source.get("name") or source.get("slug"),
                "enforcement": ruleset.get("enforcement"),
                "bypass_actors": bypass,
                "rules": [],
            }
        entry["rules"].append(
            {"type": str(node.get("type") or "").lower(), "parameters": _snake(node.get("parameters"))}
        )
    return list(found.values())


def rulesets_from_rest(rules: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """REST `GET .../rules/branches/{branch}`: active rules only, bypass lists not included (unknown)."""
    found: dict[Any, dict[str, Any]] = {}
    for rule in rules:
        key = rule.get("ruleset_id")
        entry = found.setdefault(
            key,
            {
                "id": key,
                "name": None,
                "source_type": rule.get("ruleset_source_type"),
                "source": rule.get("ruleset_source"),
                "enforcement": "ACTIVE",
                "bypass_actors": None,
                "rules": [],
            },
        )
        entry["rules"].append({"type": rule.get("type"), "parameters": dict(rule.get("parameters") or {})})
    return list(found.values())


def ruleset_label(ruleset: dict[str, Any]) -> str:
    name = f" {ruleset['name']!r}" if ruleset.get("name") else ""
    return (
        f"ruleset {ruleset.get('id')}{name} ({str(ruleset.get('source_type')).lower()} {ruleset['source']})"
    )


def ruleset_contribution(ruleset: dict[str, Any]) -> Contribution:
    """What one ruleset imposes; a setting it has no rule for is left out (it neither helps nor hides)."""
    out: Contribution = {}
    for rule in ruleset["rules"]:
        kind, p = rule["type"], rule["parameters"]
        if kind == "pull_request":
            count = int(p.get("required_approving_review_count") or 0)
            out["pull_request_required"] = True
            out["required_reviews"] = out.get("required_reviews") or count >= 1
            out["required_review_count"] = max(count, out.get("required_review_count", 0))
            out["dismiss_stale_reviews"] = bool(p.get("dismiss_stale_reviews_on_push"))
            out["code_owner_review"] = bool(p.get("require_code_owner_review"))
        elif kind == "required_status_checks":
            names = [c.get("context") for c in p.get("required_status_checks") or []]
            out["required_status_checks"] = sorted(n for n in names if n)
        elif kind == "required_signatures":
            out["signed_commits"] = True
        elif kind == "non_fast_forward":
            out["force_push_blocked"] = True
        elif kind == "deletion":
            out["deletion_blocked"] = True
    if out:
        bypass = ruleset.get("bypass_actors")
        out["admin_enforced"] = None if bypass is None else not any(_admin_bypass(b) for b in bypass)
    return out


def _admin_bypass(actor: dict[str, Any]) -> bool:
    return bool(
        actor["organization_admin"] or actor["enterprise_owner"] or actor["repository_role"] in ADMIN_ROLES
    )


def merge(contributions: list[tuple[str, Contribution]]) -> dict[str, dict[str, Any]]:
    """The effective settings: the strictest source wins; each names the sources that impose it."""
    settings: dict[str, dict[str, Any]] = {}
    opaque = [label for label, c in contributions if all(c.get(f) is None for f in FLAGS)]
    for flag in FLAGS:
        values = [(label, c[flag]) for label, c in contributions if flag in c]
        on = [label for label, v in values if v is True]
        unknown = [label for label, v in values if v is None]
        value = True if on else (None if unknown else False)
        settings[flag] = {"value": value, "sources": on, "not_visible_in": unknown}
    counts = [
        (label, int(c["required_review_count"])) for label, c in contributions if "required_review_count" in c
    ]
    top = max((n for _, n in counts), default=0)
    settings["required_review_count"] = {
        "value": top,
        "sources": [label for label, n in counts if n == top and top > 0],
        "not_visible_in": opaque,
    }
    checks: dict[str, list[str]] = {}
    for label, c in contributions:
        for name in c.get("required_status_checks") or []:
            checks.setdefault(name, []).append(label)
    settings["required_status_checks"] = {
        "value": sorted(checks),
        "sources": sorted({s for labels in checks.values() for s in labels}),
        "by_check": {name: labels for name, labels in sorted(checks.items())},
        "not_visible_in": opaque,
    }
    return settings


def branch_findings(record: dict[str, Any], baseline: Iterable[str], min_approvals: int) -> Iterator[Finding]:
    """Unprotected (high), else one finding per baseline setting the branch falls short of."""
    subject = f"{record['repository']}:{record['branch']}"
    if record["protected"] is None:  # classic protection not readable and no ruleset in force
        return
    if not record["protected"]:
        yield Finding(
            "default-branch-unprotected",
            f"{subject}: the default branch has neither classic protection nor a ruleset in force",
            "high",
            subject=subject,
        )
        return
    settings = record["settings"]
    for name in baseline:
        code, severity, what = BASELINE[name]
        value = settings[name]["value"]
        if name == "required_reviews":
            count = settings["required_review_count"]["value"]
            if value is True and count < min_approvals:
                what, value = f"only {count} approving review(s) required, baseline {min_approvals}", False
        if value is False or value == []:
            yield Finding(code, f"{subject}: {what}", severity, subject=subject)
