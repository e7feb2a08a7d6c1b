"""What every GitHub collector shares: parameters, the client, the repository list, and gaps.

A call the token may not make (403, or 404 for something that vanished mid-run) is a *gap*: recorded
in the artefact, naming what could not be seen and why, instead of failing the whole collection.
A token GitHub refuses outright (401) fails the instance: nothing could be seen at all.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from evidentia import CollectContext

from .client import GitHubClient, GitHubError, host_of
from .queries import REPOSITORIES

DEFAULT_BASE_URL = "https://api.github.com"
COMMON_PARAMS: dict[str, Any] = {
    "org": {"type": "string", "minLength": 1, "description": "The organisation's login"},
    "repos": {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "description": "Repository names or globs (default: every non-archived repository)",
    },
    "base_url": {
        "type": "string",
        "default": DEFAULT_BASE_URL,
        "pattern": "^https?://",
        "description": "API root: https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise",
    },
    "token": {
        "type": "string",
        "default": "${GITHUB_TOKEN}",
        "description": "A token (classic, fine-grained, or a GitHub App installation token)",
    },
}


def params_schema(own: dict[str, Any] | None = None) -> dict[str, Any]:
    """A collector's parameter schema: the common GitHub parameters plus its own."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["org"],
        "properties": {**COMMON_PARAMS, **(own or {})},
    }


def token_of(ctx: CollectContext) -> str:
    """The token, or a clear error: a literal `${...}` means the variable was never resolved."""
    token = str(ctx.params.get("token") or "")
    if not token or token.startswith("${"):
        raise ValueError("no GitHub token: set GITHUB_TOKEN or give params.token as ${ENV_VAR}")
    return token


def client(ctx: CollectContext) -> GitHubClient:
    return GitHubClient(ctx, str(ctx.params.get("base_url") or DEFAULT_BASE_URL), token_of(ctx))


def source_of(ctx: CollectContext) -> str:
    """An artefact's `source`: the API host and organisation, as every GitHub collector names them."""
    return f"{host_of(str(ctx.params.get('base_url') or DEFAULT_BASE_URL))} org {ctx.params['org']}"


def parse_time(value: str | None) -> dt.datetime | None:
    """A GitHub timestamp (`2025-05-31T01:00:00Z`), or None where GitHub gave none."""
    if not value:
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def dig(data: Any, path: tuple[str, ...]) -> Any:
    """The value at `path` in a GraphQL answer, or None where any step is null or missing."""
    for step in path:
        data = (data or {}).get(step)
    return data


@dataclass
class Gaps:
    """What could not be seen, and why: filed in the artefact as part of the evidence."""

    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, where: str, call: str, status: int | None, message: str) -> None:
        self.items.append({"where": where, "call": call, "status": status, "error": message})

    def add_error(self, where: str, error: GitHubError) -> None:
        self.add(where, error.call, error.status, error.message)

    def add_graphql(self, where: str, errors: list[dict[str, Any]]) -> None:
        for error in errors:
            path = "/".join(str(p) for p in error.get("path") or [])
            self.add(
                where,
                f"GraphQL {path}".strip(),
                None,
                f"{error.get('type', 'ERROR')}: {error.get('message')}",
            )


def is_gap(error: GitHubError) -> bool:
    """403 (no permission) and 404 (gone, or hidden from this token) are gaps; the rest are failures."""
    return error.status in (403, 404, 410, 422)


def matches(name: str, patterns: list[str] | None) -> bool:
    """A repository is wanted when no `repos` are given, or when its name matches one (case-insensitive)."""
    if not patterns:
        return True
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, p.lower()) for p in patterns)


def wanted(ctx: CollectContext, repo: dict[str, Any]) -> bool:
    """Named (or globbed) by `repos`; archived repositories only when named explicitly."""
    patterns = ctx.params.get("repos")
    if repo.get("isArchived") and not patterns:
        return False
    return matches(repo["name"], patterns)


def repositories(ctx: CollectContext, gh: GitHubClient, gaps: Gaps) -> Iterator[dict[str, Any]]:
    """The wanted repositories with their default branch, 100 per request."""
    org = ctx.params["org"]
    for conn, errors in gh.connection(REPOSITORIES, {"org": org}, ("organization", "repositories")):
        gaps.add_graphql(org, errors)
        for repo in conn.get("nodes") or []:
            if repo and wanted(ctx, repo):
                yield repo


def all_pages(
    gh: GitHubClient,
    gaps: Gaps,
    where: str,
    query: str,
    variables: dict[str, Any],
    path: tuple[str, ...],
    first: dict[str, Any],
    key: str = "nodes",
) -> tuple[list[dict[str, Any]], bool]:
    """A nested connection in full: `(items, complete)`.

    Why: a sweep reads the first page of each repository's (or team's) nested list in its own
    request; only a list longer than that page costs more, one query per further page (`query` takes
    `$after` and answers the same connection at `path`). A page GitHub refuses is a gap and leaves
    the list incomplete, which the evidence says rather than filing a partial list as whole.
    """
    items = [n for n in first.get(key) or [] if n]
    info = first.get("pageInfo") or {}
    after = info.get("endCursor") if info.get("hasNextPage") else None
    while after:
        try:
            data, errors = gh.graphql(query, {**variables, "after": after})
        except GitHubError as exc:
            if not is_gap(exc):
                raise
            gaps.add_error(where, exc)
            return items, False
        gaps.add_graphql(where, errors)
        conn = dig(data, path)
        if conn is None:
            return items, False
        items += [n for n in conn.get(key) or [] if n]
        info = conn.get("pageInfo") or {}
        after = info.get("endCursor") if info.get("hasNextPage") else None
    return items, True
