"""`github.apps`: the GitHub Apps installed in the organisation, the software vendors with access to code.

Each installation as GitHub records it: which app, what it may do (`permissions`, e.g. `contents:
write`), on which repositories (`all`, or the `selected` ones) and which events it receives. For
`selected`, the repositories are listed where the token may see them
(`GET /user/installations/{id}/repositories`, which GitHub answers for a user's token but not for an
installation's); where it may not, the gap says so and the selection is still recorded.

Findings, with the severity of what goes wrong if a vendor is compromised:
- `app-writes-code-in-all-repositories` (high): write or admin on code, workflows, administration,
  secrets or Actions, across every repository, including ones created later;
- `app-administers-organization` (high): write on the organisation's administration, members or
  secrets;
- `app-writes-code-in-selected-repositories` (low): the same repository rights, on chosen ones.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from evidentia import Artefact, CollectContext, Collector, Finding

from .client import GitHubClient, GitHubError
from .common import Gaps, client, is_gap, params_schema, source_of

CODE_PERMISSIONS = ("administration", "contents", "workflows", "secrets", "actions")
ORG_PERMISSIONS = ("organization_administration", "members", "organization_secrets")
WRITE = ("write", "admin")
LIMITS = [
    "whether an app is the organisation's own or a third party's is not part of the installation record "
    "(see each app's page: https://github.com/apps/<app_slug>)",
    "repositories of a `selected` installation are listed only where GitHub shows them to this token",
]


def installations(ctx: CollectContext, gh: GitHubClient, gaps: Gaps) -> list[dict[str, Any]] | None:
    org = ctx.params["org"]
    try:
        return list(gh.pages(f"/orgs/{org}/installations", key="installations"))
    except GitHubError as exc:
        if not is_gap(exc):
            raise
        gaps.add_error(org, exc)
        return None


def selected_repositories(gh: GitHubClient, gaps: Gaps, installation: dict[str, Any]) -> list[str] | None:
    try:
        repos = gh.pages(f"/user/installations/{installation['id']}/repositories", key="repositories")
        return sorted((r["name"] for r in repos), key=str.lower)
    except GitHubError as exc:
        if not is_gap(exc):
            raise
        gaps.add_error(f"app {installation.get('app_slug')}", exc)
        return None


def app_record(installation: dict[str, Any], repositories: list[str] | None) -> dict[str, Any]:
    return {
        "app_slug": installation.get("app_slug"),
        "app_id": installation.get("app_id"),
        "installation_id": installation.get("id"),
        "repository_selection": installation.get("repository_selection"),
        "repositories": repositories,
        "permissions": dict(sorted((installation.get("permissions") or {}).items())),
        "events": sorted(installation.get("events") or []),
        "created_at": installation.get("created_at"),
        "updated_at": installation.get("updated_at"),
        "suspended_at": installation.get("suspended_at"),
    }


def _writes(app: dict[str, Any], names: tuple[str, ...]) -> list[str]:
    return [f"{n}:{app['permissions'][n]}" for n in names if app["permissions"].get(n) in WRITE]


def app_findings(app: dict[str, Any]) -> Iterator[Finding]:
    subject = str(app["app_slug"])
    code = _writes(app, CODE_PERMISSIONS)
    if code and app["repository_selection"] == "all":
        yield Finding(
            "app-writes-code-in-all-repositories",
            f"app {subject} has {', '.join(code)} on every repository of the organisation",
            "high",
            subject=subject,
        )
    elif code:
        where = ", ".join(app["repositories"]) if app["repositories"] is not None else "selected repositories"
        yield Finding(
            "app-writes-code-in-selected-repositories",
            f"app {subject} has {', '.join(code)} on {where}",
            "low",
            subject=subject,
        )
    org = _writes(app, ORG_PERMISSIONS)
    if org:
        yield Finding(
            "app-administers-organization",
            f"app {subject} has {', '.join(org)} on the organisation",
            "high",
            subject=subject,
        )


def _schema_without_repos() -> dict[str, Any]:
    """Installations belong to the organisation, not to a repository: `repos` would select nothing."""
    schema = params_schema()
    del schema["properties"]["repos"]
    return schema


class Apps(Collector):
    """GitHub App installations with their permissions and repository selection (P7 supply chain)."""

    name = "github.apps"
    description = "GitHub Apps installed in the organisation: permissions, repositories, findings"
    principles = ("P7",)
    kind = "snapshot"
    params_schema = _schema_without_repos()
    secret_params = ("token",)
    permissions = (
        "classic token of an organization owner: read:org (GitHub's reference for "
        "GET /orgs/{org}/installations calls it admin:read)",
        "fine-grained / GitHub App: organization Administration: read",
        "repositories of `selected` installations: a user's token (GET /user/installations/{id}/...)",
    )

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        org = ctx.params["org"]
        gh, gaps = client(ctx), Gaps()
        try:
            found = installations(ctx, gh, gaps)
            apps = []
            for inst in found or []:
                selected = inst.get("repository_selection") == "selected"
                apps.append(app_record(inst, selected_repositories(gh, gaps, inst) if selected else None))
        finally:
            gh.close()
        apps.sort(key=lambda a: (str(a["app_slug"]), a["installation_id"] or 0))
        findings = [f for a in apps for f in app_findings(a)]
        document = {
            "organization": org,
            "source": str(ctx.params.get("base_url")),
            "installations": apps if found is not None else None,
            "gaps": gaps.items,
            "limits": LIMITS,
        }
        summary = {"installations": len(apps), "gaps": len(gaps.items)}
        yield Artefact.json("apps", document, source=source_of(ctx), findings=findings, summary=summary)
