"""`github.access`: the organisation's access review population, as it stands at collection time.

Who can reach the code, and how: members with their role and two-factor status, outside
collaborators with the repositories they were given, teams with their members and repository
permissions, and, per repository, everyone who administers it and by which route (organisation
owner, base permission, a direct grant, or a team). An access review (ISO 27001 A.5.18, SOC 2
CC6.2) compares exactly this against who *should* have access.

Request economy: GraphQL pages of 100 for members (with 2FA on the same edges), teams (with their
first 100 members and repositories) and repositories (with their first 100 direct collaborators);
only a team or repository with more than 100 is paged on its own. Direct collaborators rather than
`affiliation: ALL`, because ALL lists every member on every repository under a base permission
(members x repositories entries); access through the base permission, owners and teams is derived
from the organisation's settings and team grants instead. Three REST calls remain (the
organisation's settings, outside collaborators, and their 2FA), each conditional, so a second
night against an unchanged organisation costs nothing against GitHub's hourly limit for them.

What a token may not see is recorded as a gap: two-factor status and the base permission are shown
only to organisation owners (GitHub returns null / omits them); a 403 on outside collaborators
falls back to those found among the repositories' direct collaborators, and says so.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from evidentia import Artefact, CollectContext, Collector, Finding

from .client import GitHubClient, GitHubError
from .common import Gaps, all_pages, client, is_gap, params_schema, source_of, wanted
from .queries import (
    DIRECT_COLLABORATORS,
    MEMBERS,
    REPOSITORY_COLLABORATORS,
    TEAM_MEMBERS,
    TEAM_REPOSITORIES,
    TEAMS,
)

ADMIN = "admin"
DORMANT = {
    "assessed": False,
    "reason": "GitHub's public REST and GraphQL APIs expose no last-activity time for members; GitHub "
    "Enterprise Cloud's dormant-users report and the audit log are not part of them. Review dormancy "
    "from that report, where the plan provides it, alongside this population.",
}
LIMITS = [
    "two-factor status and the base repository permission are shown only to organisation owners' tokens",
    "team members include members of child teams (GitHub's membership ALL), who inherit the team's access",
    "repository admins are derived: organisation owners, the base permission, direct grants and team "
    "grants; custom repository roles appear under their base permission",
]


def _login(edge: dict[str, Any]) -> str | None:
    return (edge.get("node") or {}).get("login")


def members(ctx: CollectContext, gh: GitHubClient, gaps: Gaps) -> list[dict[str, Any]]:
    org = ctx.params["org"]
    found = []
    for conn, errors in gh.connection(MEMBERS, {"org": org}, ("organization", "membersWithRole")):
        gaps.add_graphql(org, errors)
        for edge in conn.get("edges") or []:
            node = (edge or {}).get("node") or {}
            if node.get("login"):
                found.append(
                    {
                        "login": node["login"],
                        "name": node.get("name"),
                        "id": node.get("databaseId"),
                        "role": "owner" if edge.get("role") == "ADMIN" else "member",
                        "two_factor": edge.get("hasTwoFactorEnabled"),
                    }
                )
    return sorted(found, key=lambda m: m["login"].lower())


def teams(ctx: CollectContext, gh: GitHubClient, gaps: Gaps) -> list[dict[str, Any]]:
    org = ctx.params["org"]
    found = []
    for conn, errors in gh.connection(TEAMS, {"org": org}, ("organization", "teams")):
        gaps.add_graphql(org, errors)
        for node in conn.get("nodes") or []:
            if not node:
                continue
            slug, where = node["slug"], f"team {node['slug']}"
            variables = {"org": org, "team": slug}
            member_edges, members_done = all_pages(
                gh,
                gaps,
                where,
                TEAM_MEMBERS,
                variables,
                ("organization", "team", "members"),
                node["members"],
                "edges",
            )
            repo_edges, repos_done = all_pages(
                gh,
                gaps,
                where,
                TEAM_REPOSITORIES,
                variables,
                ("organization", "team", "repositories"),
                node["repositories"],
                "edges",
            )
            found.append(
                {
                    "slug": slug,
                    "name": node.get("name"),
                    "privacy": str(node.get("privacy") or "").lower() or None,
                    "parent": (node.get("parentTeam") or {}).get("slug"),
                    "members": sorted(
                        ({"login": _login(e), "role": str(e.get("role")).lower()} for e in member_edges),
                        key=lambda m: str(m["login"]).lower(),
                    ),
                    "repositories": sorted(
                        (
                            {"name": (e.get("node") or {}).get("name"), "permission": e["permission"].lower()}
                            for e in repo_edges
                        ),
                        key=lambda r: str(r["name"]).lower(),
                    ),
                    "complete": members_done and repos_done,
                }
            )
    return sorted(found, key=lambda t: t["slug"])


def direct_collaborators(ctx: CollectContext, gh: GitHubClient, gaps: Gaps) -> list[dict[str, Any]]:
    """Each wanted repository with the people granted access to it directly (members or not)."""
    org = ctx.params["org"]
    found = []
    path = ("organization", "repositories")
    for conn, errors in gh.connection(REPOSITORY_COLLABORATORS, {"org": org}, path):
        gaps.add_graphql(org, errors)
        for repo in conn.get("nodes") or []:
            if not repo or not wanted(ctx, repo):
                continue
            first = repo.get("collaborators")
            edges: list[dict[str, Any]] = []
            done = False  # hidden from this token when GraphQL answered null (its error is a gap)
            if first is not None:
                variables = {"org": org, "repo": repo["name"]}
                edges, done = all_pages(
                    gh,
                    gaps,
                    repo["name"],
                    DIRECT_COLLABORATORS,
                    variables,
                    ("repository", "collaborators"),
                    first,
                    "edges",
                )
            grants = {_login(e): e["permission"].lower() for e in edges if _login(e)}
            found.append(
                {"name": repo["name"], "archived": repo["isArchived"], "grants": grants, "complete": done}
            )
    return found


def outside_collaborators(
    ctx: CollectContext, gh: GitHubClient, gaps: Gaps, two_factor: str
) -> list[str] | None:
    """Logins of outside collaborators (`two_factor="2fa_disabled"`: those without 2FA), or None if hidden."""
    org = ctx.params["org"]
    try:
        return sorted(
            u["login"] for u in gh.pages(f"/orgs/{org}/outside_collaborators", {"filter": two_factor})
        )
    except GitHubError as exc:
        if not is_gap(exc):
            raise
        gaps.add_error(org, exc)
        return None


def settings(ctx: CollectContext, gh: GitHubClient, gaps: Gaps) -> dict[str, Any]:
    org = ctx.params["org"]
    try:
        _, body = gh.get(f"/orgs/{org}")
    except GitHubError as exc:
        if not is_gap(exc):
            raise
        gaps.add_error(org, exc)
        body = {}
    return {
        "two_factor_required": body.get("two_factor_requirement_enabled"),
        "base_repository_permission": body.get("default_repository_permission"),
    }


def repository_admins(
    repo: dict[str, Any], people: list[dict[str, Any]], team_list: list[dict[str, Any]], base: str | None
) -> list[dict[str, Any]]:
    """Everyone who administers `repo`, each with every route by which they do."""
    via: dict[str, list[str]] = {}
    for m in people:
        if m["role"] == "owner":
            via.setdefault(m["login"], []).append("organization owner")
        elif base == ADMIN:
            via.setdefault(m["login"], []).append("base permission")
    for login, permission in repo["grants"].items():
        if permission == ADMIN:
            via.setdefault(login, []).append("direct")
    for team in team_list:
        if any(r["name"] == repo["name"] and r["permission"] == ADMIN for r in team["repositories"]):
            for m in team["members"]:
                via.setdefault(m["login"], []).append(f"team {team['slug']}")
    return [{"login": login, "via": via[login]} for login in sorted(via, key=str.lower)]


def access_findings(document: dict[str, Any]) -> Iterator[Finding]:
    org = document["organization"]
    required = document["settings"]["two_factor_required"]
    if required is False:
        yield Finding(
            "two-factor-not-required",
            f"organisation {org} does not require two-factor authentication of its members and collaborators",
            "medium",
            subject=org,
        )
    base = document["settings"]["base_repository_permission"]
    if base in ("write", ADMIN):
        yield Finding(
            "broad-base-permission",
            f"every member of {org} has {base} access to every repository (base permission)",
            "medium",
            subject=org,
        )
    for m in document["members"]:
        if m["two_factor"] is False:
            yield Finding(
                "member-without-2fa",
                f"{m['login']} ({m['role']}) has no two-factor authentication",
                "high",
                subject=m["login"],
            )
    for c in document["outside_collaborators"]:
        if c["two_factor"] is False:
            yield Finding(
                "outside-collaborator-without-2fa",
                f"outside collaborator {c['login']} has no two-factor authentication",
                "high",
                subject=c["login"],
            )
        administered = [r["name"] for r in c["repositories"] if r["permission"] == ADMIN]
        if administered:
            yield Finding(
                "outside-collaborator-with-admin",
                f"outside collaborator {c['login']} administers {', '.join(administered)}",
                "high",
                subject=c["login"],
            )


class Access(Collector):
    """Members, 2FA, outside collaborators, teams and repository admins: the access review population."""

    name = "github.access"
    description = "Who can reach the code: members and 2FA, outside collaborators, teams, repository admins"
    principles = ("P5", "P6")
    kind = "snapshot"
    params_schema = params_schema()
    secret_params = ("token",)
    permissions = (
        "classic token: read:org, and repo to see private repositories' collaborators",
        "fine-grained / GitHub App: organization Members: read and Administration: read; "
        "repository Metadata: read and Administration: read",
        "an organization owner's token to see members' two-factor status and the base permission "
        "(otherwise recorded as a gap)",
    )

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        org = ctx.params["org"]
        gh, gaps = client(ctx), Gaps()
        try:
            org_settings = settings(ctx, gh, gaps)
            people = members(ctx, gh, gaps)
            team_list = teams(ctx, gh, gaps)
            repos = direct_collaborators(ctx, gh, gaps)
            outside = outside_collaborators(ctx, gh, gaps, "all")
            two_factor_visible = any(m["two_factor"] is not None for m in people)
            without_2fa: list[str] | None = None
            if two_factor_visible:
                if outside is not None:  # a refused list would be refused again
                    without_2fa = outside_collaborators(ctx, gh, gaps, "2fa_disabled")
            elif people:
                gaps.add(
                    org,
                    "GraphQL organization.membersWithRole.hasTwoFactorEnabled",
                    None,
                    "two-factor status is shown only to organization owners; this token sees none",
                )
        finally:
            gh.close()
        document = self._document(ctx, org_settings, people, team_list, repos, outside, without_2fa, gaps)
        findings = list(access_findings(document))
        summary = {
            "members": len(people),
            "owners": sum(1 for m in people if m["role"] == "owner"),
            "outside_collaborators": len(document["outside_collaborators"]),
            "teams": len(team_list),
            "repositories": len(repos),
            "gaps": len(gaps.items),
        }
        yield Artefact.json("access", document, source=source_of(ctx), findings=findings, summary=summary)

    @staticmethod
    def _document(
        ctx: CollectContext,
        org_settings: dict[str, Any],
        people: list[dict[str, Any]],
        team_list: list[dict[str, Any]],
        repos: list[dict[str, Any]],
        outside: list[str] | None,
        without_2fa: list[str] | None,
        gaps: Gaps,
    ) -> dict[str, Any]:
        member_logins = {m["login"] for m in people}
        if outside is None:  # hidden: those granted directly who are not members are outside collaborators
            logins = sorted({u for r in repos for u in r["grants"] if u not in member_logins}, key=str.lower)
            outside_source = (
                "derived from repositories' direct collaborators (the outside-collaborator list was refused)"
            )
        else:
            logins, outside_source = outside, "GET /orgs/{org}/outside_collaborators"
        base = org_settings["base_repository_permission"]
        outside_records = [
            {
                "login": login,
                "two_factor": None if without_2fa is None else login not in without_2fa,
                "repositories": [
                    {"name": r["name"], "permission": r["grants"][login]}
                    for r in repos
                    if login in r["grants"]
                ],
            }
            for login in logins
        ]
        repo_records = [
            {
                "name": r["name"],
                "archived": r["archived"],
                "complete": r["complete"],
                "direct_collaborators": [
                    {"login": login, "permission": p, "outside": login not in member_logins}
                    for login, p in sorted(r["grants"].items(), key=lambda kv: kv[0].lower())
                ],
                "teams": [
                    {"slug": t["slug"], "permission": p["permission"]}
                    for t in team_list
                    for p in t["repositories"]
                    if p["name"] == r["name"]
                ],
                "admins": repository_admins(r, people, team_list, base),
            }
            for r in sorted(repos, key=lambda r: r["name"].lower())
        ]
        return {
            "organization": ctx.params["org"],
            "source": str(ctx.params.get("base_url")),
            "settings": org_settings,
            "two_factor_visible": any(m["two_factor"] is not None for m in people),
            "members": people,
            "outside_collaborators": outside_records,
            "outside_collaborators_source": outside_source,
            "teams": team_list,
            "repositories": repo_records,
            "dormant_accounts": DORMANT,
            "gaps": gaps.items,
            "limits": LIMITS,
        }
