"""`github.branch_protection`: how each repository's default branch is protected, and where it is not.

Request economy decides the shape. REST needs two calls per repository (`GET .../protection` and
`GET .../rules/branches/{branch}`) plus the repository listing: ~2,010 requests for 1,000
repositories. One GraphQL sweep over `organization.repositories` (100 a page) reads each default
branch's classic `branchProtectionRule` and the `rules` of every active repository and organisation
ruleset in force on it (with each ruleset's source and bypass list, which REST's rules endpoint does
not give at all): ~10 requests, under 30 points each. REST is used only where GraphQL cannot answer:
- a repository whose part of the sweep came back with errors (GitHub's partial failures): its two
  REST calls give the answer, or the HTTP status that becomes its gap (404: deleted mid-run);
- a server whose schema cannot take the query (an older GHES without `Ref.rules`): every
  repository then goes through REST, and the evidence says so (`method`).
A default branch with more rules than the sweep's nested page is completed by its own query.

GitHub shows classic protection and ruleset bypass lists only to administrators. With a token that
does not administer a repository the sweep reads `refUpdateRule` (what non-administrators see), and
the settings it cannot show (dismiss stale reviews, admin enforcement) are filed as not visible.
The artefact holds no timestamp of its own, so an unchanged organisation files as "unchanged".
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

from evidentia import Artefact, CollectContext, Collector, Finding

from .branch_settings import (
    BASELINE,
    CLASSIC,
    DEFAULT_BASELINE,
    FLAGS,
    Contribution,
    branch_findings,
    classic_from_graphql,
    classic_from_rest,
    classic_from_update_rule,
    merge,
    ruleset_contribution,
    ruleset_label,
    rulesets_from_graphql,
    rulesets_from_rest,
)
from .client import GitHubClient, GitHubError
from .common import Gaps, all_pages, client, is_gap, params_schema, repositories, source_of, wanted
from .queries import DEFAULT_BRANCH_PROTECTION, DEFAULT_BRANCH_RULES

REFUSED = 400  # PyGithub's status for a GraphQL answer with errors and no data: the query was refused
NOT_PROTECTED = "Branch not protected"


def _branch_of(repo: dict[str, Any]) -> dict[str, Any] | None:
    return repo.get("defaultBranchRef")


def _errors_by_repo(
    conn: dict[str, Any], errors: list[dict[str, Any]], org: str, gaps: Gaps
) -> dict[str, list[dict[str, Any]]]:
    """GraphQL errors of one page, by the repository their path points into (others: the org's gap)."""
    nodes = conn.get("nodes") or []
    out: dict[str, list[dict[str, Any]]] = {}
    for error in errors:
        path = list(error.get("path") or [])
        index = path[3] if len(path) > 3 and path[:3] == ["organization", "repositories", "nodes"] else None
        repo = nodes[index] if isinstance(index, int) and index < len(nodes) else None
        if repo and repo.get("name"):
            out.setdefault(repo["name"], []).append(error)
        else:
            gaps.add_graphql(org, [error])
    return out


class BranchProtection(Collector):
    """Classic protection and rulesets in force on every default branch, merged, with their sources."""

    name = "github.branch_protection"
    description = "Default-branch protection: classic rules and rulesets in force, merged per setting"
    principles = ("P6", "P11")
    kind = "snapshot"
    params_schema = params_schema(
        {
            "baseline": {
                "type": "array",
                "items": {"type": "string", "enum": sorted(BASELINE)},
                "uniqueItems": True,
                "default": list(DEFAULT_BASELINE),
                "description": "Settings a protected default branch must have; each missing one is a finding",
            },
            "min_approvals": {
                "type": "integer",
                "minimum": 1,
                "default": 1,
                "description": "Approving reviews the baseline requires",
            },
        }
    )
    secret_params = ("token",)
    permissions = (
        "classic token: repo (read), read:org; administering the repositories shows classic protection "
        "and ruleset bypass lists in full",
        "fine-grained / GitHub App: Metadata: read, Administration: read (repository)",
    )

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        gh, gaps = client(ctx), Gaps()
        try:
            records, method = self._sweep(ctx, gh, gaps)
        finally:
            gh.close()
        baseline = list(ctx.params.get("baseline") or DEFAULT_BASELINE)
        min_approvals = int(ctx.params.get("min_approvals") or 1)
        findings: list[Finding] = []
        for record in records:
            if record["branch"] is not None and record["readable"]:
                findings += branch_findings(record, baseline, min_approvals)
        records.sort(key=lambda r: r["repository"])
        document = {
            "organization": ctx.params["org"],
            "source": str(ctx.params.get("base_url")),
            "method": method,
            "baseline": {"settings": baseline, "min_approvals": min_approvals},
            "branches": records,
            "gaps": gaps.items,
            "limits": [
                "rulesets in evaluate mode are not in force and are not listed",
                "classic protection and ruleset bypass lists are visible only to repository administrators",
            ],
        }
        judged = [r for r in records if r["branch"] is not None and r["readable"]]
        summary = {
            "default_branches": len(judged),
            "unprotected": sum(1 for r in judged if r["protected"] is False),
            "findings": len(findings),
            "gaps": len(gaps.items),
        }
        yield Artefact.json(
            "branch-protection", document, source=source_of(ctx), findings=findings, summary=summary
        )

    # -- reading ------------------------------------------------------------------------------

    def _sweep(self, ctx: CollectContext, gh: GitHubClient, gaps: Gaps) -> tuple[list[dict[str, Any]], str]:
        org = ctx.params["org"]
        records: list[dict[str, Any]] = []
        pages = gh.connection(DEFAULT_BRANCH_PROTECTION, {"org": org}, ("organization", "repositories"))
        try:
            for conn, errors in pages:
                broken = _errors_by_repo(conn, errors, org, gaps)
                for repo in conn.get("nodes") or []:
                    if not repo or not wanted(ctx, repo):
                        continue
                    if repo["name"] in broken:
                        records.append(self._rest_record(ctx, gh, gaps, repo, broken[repo["name"]]))
                    else:
                        records.append(self._graphql_record(ctx, gh, gaps, repo))
        except GitHubError as exc:
            if exc.status != REFUSED or records:
                raise
            ctx.log.info("GraphQL refused the protection query (%s); reading through REST", exc.message)
            gaps.add(org, exc.call, exc.status, f"GraphQL refused the query, REST used: {exc.message}")
            listed = list(repositories(ctx, gh, gaps))
            return [self._rest_record(ctx, gh, gaps, r, []) for r in listed], "rest"
        partial = sorted(r["repository"] for r in records if r.get("administered") is False)
        if partial:
            gaps.add(
                org,
                "GraphQL branchProtectionRule, bypassActors",
                None,
                f"the token does not administer {len(partial)} repositories ({', '.join(partial)}): their "
                "classic protection is read from refUpdateRule (no stale-review or admin-enforcement "
                "setting) and ruleset bypass lists are hidden",
            )
        method = "graphql+rest" if any(r["method"] == "rest" for r in records) else "graphql"
        return records, method

    def _graphql_record(
        self, ctx: CollectContext, gh: GitHubClient, gaps: Gaps, repo: dict[str, Any]
    ) -> dict[str, Any]:
        branch = _branch_of(repo)
        if branch is None:
            return _record(repo, None, None, [], "graphql")
        admin = bool(repo.get("viewerCanAdminister"))
        contributions: list[tuple[str, Contribution]] = []
        classic: dict[str, Any] | None = None
        if admin and branch.get("branchProtectionRule"):
            classic = branch["branchProtectionRule"]
            contributions.append((CLASSIC, classic_from_graphql(classic)))
        elif not admin and branch.get("refUpdateRule"):
            classic = branch["refUpdateRule"]
            contributions.append((CLASSIC, classic_from_update_rule(classic)))
        nodes, _ = all_pages(
            gh,
            gaps,
            repo["name"],
            DEFAULT_BRANCH_RULES,
            {"org": ctx.params["org"], "repo": repo["name"]},
            ("repository", "defaultBranchRef", "rules"),
            branch.get("rules") or {},
        )
        record = _record(repo, classic, rulesets_from_graphql(nodes), contributions, "graphql")
        record["administered"] = admin
        return record

    def _rest_record(
        self,
        ctx: CollectContext,
        gh: GitHubClient,
        gaps: Gaps,
        repo: dict[str, Any],
        errors: list[dict[str, Any]],
    ) -> dict[str, Any]:
        """One repository through REST: its classic protection and the rules in force on its branch."""
        name = repo["name"]
        gaps.add_graphql(name, errors)
        branch = _branch_of(repo)
        if branch is None:
            return _record(repo, None, None, [], "rest")
        base = f"/repos/{quote(ctx.params['org'], safe='')}/{quote(name, safe='')}"
        ref = quote(branch["name"], safe="")
        contributions: list[tuple[str, Contribution]] = []
        classic: dict[str, Any] | None = None
        try:
            _, classic = gh.get(f"{base}/branches/{ref}/protection")
            contributions.append((CLASSIC, classic_from_rest(classic or {})))
        except GitHubError as exc:
            if not is_gap(exc):
                raise
            if exc.status == 404 and NOT_PROTECTED not in exc.message:  # gone (deleted mid-run)
                gaps.add_error(name, exc)
                return _record(repo, None, None, [], "rest", readable=False)
            if exc.status != 404:  # not allowed to read it: classic protection unknown, rules still read
                gaps.add_error(name, exc)
                classic = {"not_visible": f"HTTP {exc.status}: {exc.message}"}
                contributions.append((CLASSIC, dict.fromkeys(FLAGS)))
        try:
            rulesets = rulesets_from_rest(gh.pages(f"{base}/rules/branches/{ref}"))
        except GitHubError as exc:
            if not is_gap(exc):
                raise
            gaps.add_error(name, exc)
            return _record(repo, classic, None, contributions, "rest", readable=False)
        return _record(repo, classic, rulesets, contributions, "rest")


def _protected(classic: dict[str, Any] | None, rulesets: list[dict[str, Any]] | None) -> bool | None:
    """Protected by either; None when neither shows protection and classic could not be read."""
    if rulesets or (classic is not None and "not_visible" not in classic):
        return True
    return None if classic is not None else False


def _record(
    repo: dict[str, Any],
    classic: dict[str, Any] | None,
    rulesets: list[dict[str, Any]] | None,
    contributions: list[tuple[str, Contribution]],
    method: str,
    *,
    readable: bool = True,
) -> dict[str, Any]:
    """One default branch as filed: what each source says, and the merged settings."""
    branch = _branch_of(repo)
    for ruleset in rulesets or []:
        own = ruleset_contribution(ruleset)
        if own:
            contributions.append((ruleset_label(ruleset), own))
    return {
        "repository": repo["name"],
        "branch": branch["name"] if branch else None,
        "archived": bool(repo.get("isArchived")),
        "visibility": repo.get("visibility"),
        "readable": readable,
        "method": method,
        "protected": _protected(classic, rulesets),
        "classic": classic,
        "rulesets": rulesets,
        "settings": merge(contributions) if branch else None,
        "administered": None,
    }
