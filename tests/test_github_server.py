"""The loopback GitHub speaks GitHub's documented shapes, not a private dialect.

Checked against the published descriptions in ../shared/reference (skipped, with the reason, in a
clone without them): every GraphQL query a collector sends validates against the full schema, the
server's pruned schema and REST skeletons are exactly what the reference yields, and every REST body
the server sends validates against its operation's response schema.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from github_rest_shapes import REFERENCE as REST_REFERENCE
from github_rest_shapes import SKELETONS, response_schema, skeletons, template_of
from github_schema import SUBSET, collector_queries, load_schema, prune, reference_schema_text
from github_server import UTC, Alert, GitHubServer, Installation, synthetic_org
from graphql import parse, validate
from jsonschema import Draft4Validator

from evidentia.plugins.github.changes import Changes
from evidentia.plugins.github.client import GitHubClient
from evidentia.plugins.github.queries import ALL_QUERIES
from evidentia.testing import make_context

TOKEN = "ghp_serverTestToken0123456789abcdefghij"
NOW = dt.datetime(2025, 6, 1, tzinfo=UTC)


def _graphql_reference() -> str:
    text = reference_schema_text()
    if text is None:
        pytest.skip(
            "../shared/reference/github-graphql-schema.graphql is absent (not part of a user's clone)"
        )
    return text


def _rest_reference() -> dict[str, Any]:
    if not REST_REFERENCE.is_file():
        pytest.skip("../shared/reference/github-rest-subset.json is absent (not part of a user's clone)")
    data: dict[str, Any] = json.loads(REST_REFERENCE.read_text(encoding="utf-8"))
    return data


def seeded() -> Any:
    org = synthetic_org(repos=5, members=6, pulls=30, days=5, end=NOW)
    org.outside = [f"contractor{i}" for i in range(5)]
    org.installations = [
        Installation(1, "ci-bot", {"contents": "read", "checks": "write"}, "selected", ["push"]),
        Installation(2, "deps-bot", {"contents": "write", "pull_requests": "write"}),
    ]
    org.alerts = [
        Alert(1, "repo-0000", "critical", NOW - dt.timedelta(days=40), "requests", "GHSA-aaaa-bbbb-cccc")
    ]
    org.repos["repo-0000"].protection = {"enforce_admins": {"url": "https://x.invalid/", "enabled": True}}
    org.repos["repo-0000"].packages = [{"name": "requests", "version": "2.31.0", "license": "Apache-2.0"}]
    return org


def test_every_collector_query_validates_against_the_published_schema() -> None:
    schema = load_schema(_graphql_reference())
    for name, query in ALL_QUERIES.items():
        assert validate(schema, parse(query)) == [], name


def test_the_servers_schema_is_the_reference_pruned_to_our_queries() -> None:
    expected = prune(_graphql_reference(), collector_queries())
    assert SUBSET.read_text(encoding="utf-8") == expected, "run: python3 tests/github_schema.py"


def test_the_rest_skeletons_are_derived_from_the_reference() -> None:
    expected = skeletons(_rest_reference())
    assert json.loads(SKELETONS.read_text(encoding="utf-8")) == expected, (
        "run: python3 tests/github_rest_shapes.py"
    )


def test_queries_the_server_received_are_the_collectors_own() -> None:
    with GitHubServer(seeded(), TOKEN, page_cap=4) as gh:
        ctx = make_context(Changes, {"org": "acme", "base_url": gh.base_url, "token": TOKEN})
        list(Changes().collect(ctx))
        received = set(gh.graphql_queries)
    assert received and received <= set(ALL_QUERIES.values())


def _json_schema(node: Any) -> Any:
    """OpenAPI 3.0's `nullable: true` as JSON Schema: null is also allowed."""
    if isinstance(node, list):
        return [_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _json_schema(v) for k, v in node.items() if k not in ("nullable", "example", "examples")}
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def _validator(reference: dict[str, Any], template: str, status: int) -> Draft4Validator:
    # OpenAPI 3.0 schemas are JSON Schema draft 4 plus `nullable`
    return Draft4Validator(_json_schema(response_schema(reference, template, str(status))))


def test_rest_bodies_match_the_published_response_schemas() -> None:
    reference = _rest_reference()
    org = seeded()
    with GitHubServer(org, TOKEN, page_cap=2) as gh:
        ctx = make_context(Changes, {"org": "acme", "base_url": gh.base_url, "token": TOKEN})
        api = GitHubClient(ctx, gh.base_url, TOKEN)
        assert len(list(api.pages("/orgs/acme/installations", key="installations"))) == 2
        assert len(list(api.pages("/orgs/acme/outside_collaborators"))) == 5
        assert len(list(api.pages("/orgs/acme/repos"))) == 5
        assert len(list(api.pages("/orgs/acme/dependabot/alerts", {"state": "open"}))) == 1
        pulls = list(api.pages("/repos/acme/repo-0000/pulls", {"state": "closed"}))
        assert len(pulls) == 6
        api.get(f"/repos/acme/repo-0000/pulls/{pulls[0]['number']}/reviews")
        api.get(f"/repos/acme/repo-0000/commits/{pulls[0]['head']['sha']}/status")
        api.get("/repos/acme/repo-0000/branches/main/protection")
        api.get("/repos/acme/repo-0000/dependency-graph/sbom")
        seen = list(gh.seen)
    checked = 0
    for s in seen:
        path = s.path.split("?")[0]
        template = template_of(path, reference)
        assert template, path
        errors = [e for e in _validator(reference, template, s.status).iter_errors(s.body)]
        assert errors == [], f"{s.path}: {errors[0].message if errors else ''}"
        checked += 1
    assert checked == len(seen) >= 15


def test_pagination_ratelimit_headers_and_conditional_requests() -> None:
    with GitHubServer(seeded(), TOKEN, page_cap=2) as gh:
        ctx = make_context(Changes, {"org": "acme", "base_url": gh.base_url, "token": TOKEN})
        api = GitHubClient(ctx, gh.base_url, TOKEN)
        first = [u["login"] for u in api.pages("/orgs/acme/outside_collaborators")]
        assert first == [f"contractor{i}" for i in range(5)]  # 3 pages of 2, via Link rel="next"
        assert len(gh.seen) == 3 and "page=3" in gh.seen[-1].path
        again = [u["login"] for u in api.pages("/orgs/acme/outside_collaborators")]
        assert again == first
        assert [s.status for s in gh.seen[3:]] == [304, 304, 304]
        assert gh.counted() == 3 and api.stats.not_modified == 3
        headers, _ = api.get("/orgs/acme/repos")
        assert int(headers["x-ratelimit-remaining"]) == gh.limit - gh.used


def test_error_bodies_have_githubs_shape() -> None:
    with GitHubServer(seeded(), TOKEN) as gh:
        gh.deny(r"/installations")
        ctx = make_context(Changes, {"org": "acme", "base_url": gh.base_url, "token": TOKEN})
        api = GitHubClient(ctx, gh.base_url, TOKEN)
        for path, status, message in [
            ("/repos/acme/nope/branches/main/protection", 404, "Not Found"),
            ("/repos/acme/repo-0001/branches/main/protection", 404, "Branch not protected"),
            ("/orgs/acme/installations", 403, "Resource not accessible by integration"),
        ]:
            with pytest.raises(Exception) as caught:
                api.get(path)
            assert getattr(caught.value, "status", None) == status and message in str(caught.value)
        bodies = [s.body for s in gh.seen]
    assert all(set(b) >= {"message", "documentation_url"} for b in bodies)
