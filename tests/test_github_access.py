"""`github.access` and `github.apps` through PyGithub against the loopback GitHub.

The organisation below has one culprit per finding next to clean look-alikes: bob has no 2FA
(carol, a member like him, has), vendor1 administers a repository (vendor2 only reads), dave reaches
`web` as admin only through a child team. Page sizes are capped at 2 by the server, so every
listing, and every team's and repository's nested list, spans several pages.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from github_server import GitHubServer, Installation, Member, Org, Repo, Team
from support import write_config

from evidentia.config import load_config
from evidentia.plugin_manager import build_plugin_host
from evidentia.plugins.github.access import Access
from evidentia.plugins.github.apps import Apps
from evidentia.plugins.github.client import GitHubError
from evidentia.plugins.github.queries import ALL_QUERIES
from evidentia.runner import Runner
from evidentia.store.verify import verify_store
from evidentia.testing import make_context

TOKEN = "ghp_accessLoopbackToken0123456789abcdefXY"


def access_org() -> Org:
    org = Org()
    for i, login in enumerate(["alice", "bob", "carol", "dave", "erin"]):
        org.members[login] = Member(login, i + 1, role="ADMIN" if login == "alice" else "MEMBER")
    org.members["bob"].two_factor = False
    org.repos["api"] = Repo("api", 1, collaborators={"vendor1": "ADMIN", "carol": "WRITE", "erin": "READ"})
    org.repos["web"] = Repo("web", 2, collaborators={"vendor2": "READ"})
    org.repos["infra"] = Repo("infra", 3)
    org.repos["old"] = Repo("old", 4, archived=True, collaborators={"vendor3": "ADMIN"})
    org.teams["platform"] = Team(
        "platform",
        {"bob": "MAINTAINER", "carol": "MEMBER", "erin": "MEMBER"},
        {"api": "ADMIN", "web": "WRITE"},
    )
    org.teams["platform-sre"] = Team("platform-sre", {"dave": "MEMBER"}, {"web": "ADMIN"}, parent="platform")
    org.teams["readers"] = Team("readers", {"erin": "MEMBER"}, {"infra": "READ"})
    org.outside = ["vendor1", "vendor2", "vendor3"]
    org.outside_without_2fa = ["vendor2"]
    org.requires_2fa = False
    return org


@pytest.fixture
def server() -> Iterator[GitHubServer]:
    with GitHubServer(access_org(), TOKEN, page_cap=2) as gh:
        yield gh


def run(
    gh: GitHubServer, collector: Any = Access, **params: Any
) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    ctx = make_context(collector, {"org": "acme", "base_url": gh.base_url, "token": TOKEN, **params})
    [artefact] = list(collector().collect(ctx))
    return json.loads(artefact.content), [f.to_dict() for f in artefact.findings], ctx


def by_code(findings: list[dict[str, Any]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for f in findings:
        out.setdefault(f["code"], []).append(f["subject"])
    return {k: sorted(v) for k, v in out.items()}


# -- github.access ------------------------------------------------------------------------------


def test_members_teams_and_outside_collaborators_as_github_holds_them(server: GitHubServer) -> None:
    doc, _, _ = run(server)
    assert [(m["login"], m["role"], m["two_factor"]) for m in doc["members"]] == [
        ("alice", "owner", True),
        ("bob", "member", False),
        ("carol", "member", True),
        ("dave", "member", True),
        ("erin", "member", True),
    ]
    teams = {t["slug"]: t for t in doc["teams"]}
    # membership ALL: dave is in platform through its child team platform-sre
    assert [(m["login"], m["role"]) for m in teams["platform"]["members"]] == [
        ("bob", "maintainer"),
        ("carol", "member"),
        ("dave", "member"),
        ("erin", "member"),
    ]
    assert teams["platform"]["repositories"] == [
        {"name": "api", "permission": "admin"},
        {"name": "web", "permission": "write"},
    ]
    assert teams["platform-sre"]["parent"] == "platform" and all(t["complete"] for t in teams.values())
    outside = {c["login"]: c for c in doc["outside_collaborators"]}
    assert outside["vendor1"]["repositories"] == [{"name": "api", "permission": "admin"}]
    assert (outside["vendor1"]["two_factor"], outside["vendor2"]["two_factor"]) == (True, False)
    assert outside["vendor3"]["repositories"] == []  # its repository is archived: not reviewed by default
    assert doc["settings"] == {"two_factor_required": False, "base_repository_permission": "read"}
    assert doc["gaps"] == [] and doc["dormant_accounts"]["assessed"] is False


def test_repository_admins_name_every_route(server: GitHubServer) -> None:
    doc, _, _ = run(server)
    repos = {r["name"]: r for r in doc["repositories"]}
    assert sorted(repos) == ["api", "infra", "web"]
    assert repos["api"]["admins"] == [
        {"login": "alice", "via": ["organization owner"]},
        {"login": "bob", "via": ["team platform"]},
        {"login": "carol", "via": ["team platform"]},
        {"login": "dave", "via": ["team platform"]},
        {"login": "erin", "via": ["team platform"]},
        {"login": "vendor1", "via": ["direct"]},
    ]
    assert repos["web"]["admins"] == [
        {"login": "alice", "via": ["organization owner"]},
        {"login": "dave", "via": ["team platform-sre"]},
    ]
    assert repos["infra"]["admins"] == [{"login": "alice", "via": ["organization owner"]}]
    assert repos["api"]["direct_collaborators"] == [
        {"login": "carol", "permission": "write", "outside": False},
        {"login": "erin", "permission": "read", "outside": False},
        {"login": "vendor1", "permission": "admin", "outside": True},
    ]
    assert repos["web"]["teams"] == [
        {"slug": "platform", "permission": "write"},
        {"slug": "platform-sre", "permission": "admin"},
    ]


def test_findings_name_each_culprit_and_only_it(server: GitHubServer) -> None:
    _, findings, _ = run(server)
    assert by_code(findings) == {
        "two-factor-not-required": ["acme"],
        "member-without-2fa": ["bob"],
        "outside-collaborator-without-2fa": ["vendor2"],
        "outside-collaborator-with-admin": ["vendor1"],
    }
    severity = {f["code"]: f["severity"] for f in findings}
    assert severity["member-without-2fa"] == "high" and severity["two-factor-not-required"] == "medium"


def test_named_archived_repository_and_broad_base_permission(server: GitHubServer) -> None:
    server.org.default_permission = "admin"
    doc, findings, _ = run(server, repos=["old", "api"])
    assert [r["name"] for r in doc["repositories"]] == ["api", "old"]
    old = next(r for r in doc["repositories"] if r["name"] == "old")
    assert {a["login"]: a["via"] for a in old["admins"]}["bob"] == ["base permission"]
    assert "broad-base-permission" in by_code(findings)
    assert by_code(findings)["outside-collaborator-with-admin"] == ["vendor1", "vendor3"]


def test_every_nested_page_is_followed() -> None:
    org = access_org()
    for i in range(7):
        login = f"dev{i}"
        org.members[login] = Member(login, 100 + i)
        org.teams["platform"].members[login] = "MEMBER"
        org.repos["api"].collaborators[login] = "WRITE"
    for i in range(5):
        org.repos[f"svc{i}"] = Repo(f"svc{i}", 10 + i)
        org.teams["platform"].repos[f"svc{i}"] = "READ"
    with GitHubServer(org, TOKEN, page_cap=2) as gh:
        doc, _, ctx = run(gh)
        received = set(gh.graphql_queries)
    assert received <= set(ALL_QUERIES.values()) and len(received) == 6
    platform = next(t for t in doc["teams"] if t["slug"] == "platform")
    assert len(platform["members"]) == 4 + 7 and len(platform["repositories"]) == 7
    api = next(r for r in doc["repositories"] if r["name"] == "api")
    assert len(api["direct_collaborators"]) == 3 + 7 and api["complete"]
    assert len(doc["members"]) == 12 and len(doc["repositories"]) == 3 + 5
    named = [c.split()[2] for c in ctx.calls if c.startswith("POST ")]
    assert named.count("OrgMembers") == 6  # 12 members, 2 a page
    assert named.count("TeamMembers") == 5 and named.count("TeamRepositories") == 3
    assert named.count("DirectCollaborators") == 4  # api's 10 direct collaborators after its first 2


def test_a_token_that_is_not_an_owners_records_what_it_could_not_see(server: GitHubServer) -> None:
    server.owner_token = False
    doc, findings, ctx = run(server)
    assert all(m["two_factor"] is None for m in doc["members"]) and doc["two_factor_visible"] is False
    assert doc["settings"] == {"two_factor_required": None, "base_repository_permission": None}
    [gap] = doc["gaps"]
    assert "organization owners" in gap["error"]
    assert not any("2fa" in c for c in ctx.calls)  # the owners-only filter is not even tried
    codes = by_code(findings)
    assert "member-without-2fa" not in codes and codes["outside-collaborator-with-admin"] == ["vendor1"]


def test_a_refused_outside_collaborator_list_is_a_gap_and_derived_instead(server: GitHubServer) -> None:
    server.deny(r"/outside_collaborators")
    doc, findings, _ = run(server)
    assert {g["status"] for g in doc["gaps"]} == {403}
    assert all("outside_collaborators" in g["call"] for g in doc["gaps"])
    assert [c["login"] for c in doc["outside_collaborators"]] == ["vendor1", "vendor2"]
    assert doc["outside_collaborators_source"].startswith("derived")
    assert by_code(findings)["outside-collaborator-with-admin"] == ["vendor1"]


def test_a_repository_deleted_mid_run_is_a_gap_not_a_failure() -> None:
    org = access_org()
    org.repos["api"].collaborators.update({f"dev{i}": "READ" for i in range(5)})
    with GitHubServer(org, TOKEN, page_cap=2) as gh:
        gh.after(r"query RepositoryCollaborators", lambda: org.repos.pop("api"))
        doc, _, _ = run(gh)
    [gap] = doc["gaps"]
    assert gap["where"] == "api" and "NOT_FOUND" in gap["error"]
    api = next(r for r in doc["repositories"] if r["name"] == "api")
    assert api["complete"] is False and len(api["direct_collaborators"]) == 2  # the first page it got


def test_throttling_and_5xx_are_retried_and_counted(server: GitHubServer) -> None:
    server.fail(r"POST /graphql.*query OrgTeams", 502, times=1)
    server.fail(r"GET /orgs/acme/outside_collaborators", 403, times=1, retry_after=0)
    doc, findings, ctx = run(server)
    assert len(doc["teams"]) == 3 and doc["gaps"] == [] and len(findings) == 4
    statuses = [s.status for s in server.seen]
    assert statuses.count(502) == 1 and statuses.count(403) == 1
    assert ctx.request_count == len(server.seen)


def test_a_bad_token_fails_with_githubs_reason(server: GitHubServer) -> None:
    ctx = make_context(Access, {"org": "acme", "base_url": server.base_url, "token": "nope"})
    with pytest.raises(GitHubError, match="HTTP 401: Bad credentials"):
        list(Access().collect(ctx))


def test_request_economy_for_a_larger_organisation() -> None:
    org = Org()
    for i in range(250):
        org.members[f"dev{i:03d}"] = Member(f"dev{i:03d}", 10 + i)
    for i in range(250):
        org.repos[f"repo{i:03d}"] = Repo(f"repo{i:03d}", 1000 + i, collaborators={f"dev{i:03d}": "ADMIN"})
    for i in range(30):
        members = {f"dev{j:03d}": "MEMBER" for j in range(i * 8, i * 8 + 8)}
        org.teams[f"team{i:02d}"] = Team(f"team{i:02d}", members, {f"repo{i:03d}": "WRITE"})
    with GitHubServer(org, TOKEN) as gh:
        doc, _, ctx = run(gh)
    assert len(doc["members"]) == 250 and len(doc["repositories"]) == 250 and len(doc["teams"]) == 30
    # 3 pages of members, 1 of teams, 3 of repositories, and 3 REST calls (settings, outside, their 2FA)
    assert ctx.request_count == 3 + 1 + 3 + 3


# -- github.apps --------------------------------------------------------------------------------


def apps_org() -> Org:
    org = access_org()
    org.installations = [
        Installation(1, "ci-bot", {"contents": "read", "checks": "write"}, "selected", ["push"], ["api"]),
        Installation(2, "deps-bot", {"contents": "write", "pull_requests": "write", "metadata": "read"}),
        Installation(3, "release-bot", {"contents": "write"}, "selected", [], ["web", "infra"]),
        Installation(4, "org-admin", {"organization_administration": "write", "members": "read"}, "selected"),
        Installation(5, "reader", {"metadata": "read", "issues": "read"}),
    ]
    return org


def test_apps_with_permissions_selection_and_repositories() -> None:
    with GitHubServer(apps_org(), TOKEN, page_cap=2) as gh:
        doc, findings, _ = run(gh, Apps)
    apps = {a["app_slug"]: a for a in doc["installations"]}
    assert sorted(apps) == ["ci-bot", "deps-bot", "org-admin", "reader", "release-bot"]
    assert apps["ci-bot"]["repository_selection"] == "selected" and apps["ci-bot"]["repositories"] == ["api"]
    assert apps["release-bot"]["repositories"] == ["infra", "web"]
    assert apps["deps-bot"]["repositories"] is None  # `all`: nothing to list
    assert apps["deps-bot"]["permissions"] == {
        "contents": "write",
        "metadata": "read",
        "pull_requests": "write",
    }
    assert apps["ci-bot"]["events"] == ["push"] and doc["gaps"] == []
    assert by_code(findings) == {
        "app-writes-code-in-all-repositories": ["deps-bot"],
        "app-writes-code-in-selected-repositories": ["release-bot"],
        "app-administers-organization": ["org-admin"],
    }
    severity = {f["subject"]: f["severity"] for f in findings}
    assert severity == {"deps-bot": "high", "release-bot": "low", "org-admin": "high"}


def test_apps_gaps_when_the_token_may_not_see() -> None:
    with GitHubServer(apps_org(), TOKEN) as gh:
        gh.deny(r"/user/installations/")
        doc, findings, _ = run(gh, Apps)
        assert {g["where"] for g in doc["gaps"]} == {"app ci-bot", "app release-bot", "app org-admin"}
        assert all(a["repositories"] is None for a in doc["installations"])
        assert "app-writes-code-in-all-repositories" in by_code(findings)
        gh.deny(r"/orgs/acme/installations")
        doc, findings, _ = run(gh, Apps)
    assert doc["installations"] is None and findings == []
    [gap] = doc["gaps"]
    assert gap["status"] == 403 and "Resource not accessible" in gap["error"]


def test_apps_refuses_a_repos_parameter() -> None:
    with pytest.raises(ValueError, match="repos"):
        make_context(Apps, {"org": "acme", "repos": ["api"], "token": TOKEN})


# -- the documented shapes, and conditional requests across nights ------------------------------


def test_rest_bodies_served_for_access_and_apps_match_the_published_schemas() -> None:
    from github_rest_shapes import template_of
    from test_github_server import _rest_reference, _validator

    reference = _rest_reference()
    with GitHubServer(apps_org(), TOKEN, page_cap=2) as gh:
        run(gh, Access)
        run(gh, Apps)
        seen = [s for s in gh.seen if s.method == "GET"]
    outside_reference = set()
    for s in seen:
        path = s.path.split("?")[0]
        template = template_of(path, reference)
        if template is None:
            outside_reference.add(path)
            continue
        errors = list(_validator(reference, template, s.status).iter_errors(s.body))
        assert errors == [], f"{s.path}: {errors[0].message if errors else ''}"
    # GitHub documents it (apps/list-installation-repos-for-authenticated-user); the subset lacks it
    assert outside_reference == {f"/user/installations/{i}/repositories" for i in (1, 3, 4)}


def test_a_second_night_is_answered_by_304s_and_files_unchanged(tmp_path: Path) -> None:
    with GitHubServer(access_org(), TOKEN, page_cap=2) as gh:
        config_path = write_config(
            tmp_path,
            f"""
            store: evidence
            collectors:
              - id: org-access
                plugin: github.access
                params: {{org: acme, base_url: "{gh.base_url}", token: "${{GH_LOOPBACK_TOKEN}}"}}
            """,
        )
        host = build_plugin_host()
        config = load_config(config_path, host, env={"GH_LOOPBACK_TOKEN": TOKEN})
        [first] = Runner(config, host).run().instances
        night_one = list(gh.seen)
        gh.reset_log()
        [second] = Runner(config, host, force=True).run().instances
        night_two = list(gh.seen)
    assert (first.status, first.artefacts, second.status, second.unchanged, second.artefacts) == (
        "ok",
        1,
        "ok",
        1,
        0,
    )
    rest_one = [s for s in night_one if s.method == "GET"]
    rest_two = [s for s in night_two if s.method == "GET"]
    assert len(rest_two) == len(rest_one) >= 3 and all(s.status == 200 for s in rest_one)
    assert all(s.status == 304 and not s.counted for s in rest_two)
    graphql = [s for s in night_two if s.method == "POST"]
    assert sum(s.counted for s in night_two) == len(graphql) == len(night_one) - len(rest_one)
    assert second.requests == len(night_two)  # 304s are still requests made, just free ones
    cache = tmp_path / "evidence" / ".evidentia" / "cache" / "org-access" / "etags.json"
    assert len(json.loads(cache.read_text(encoding="utf-8"))) == len(rest_one)
    assert TOKEN not in cache.read_text(encoding="utf-8")
    assert verify_store(tmp_path / "evidence").ok


def test_the_request_cache_survives_corruption_and_keeps_only_what_was_used(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    (cache_dir / "etags.json").write_text('{"half a file', encoding="utf-8")
    with GitHubServer(access_org(), TOKEN) as gh:
        params = {"org": "acme", "base_url": gh.base_url, "token": TOKEN}
        [artefact] = list(Access().collect(make_context(Access, params, cache_dir=cache_dir)))
        entries = json.loads((cache_dir / "etags.json").read_text(encoding="utf-8"))
        assert len(entries) == 3  # settings, outside collaborators, those without 2FA
        entries["stale"] = {"etag": 'W/"gone"', "data": [], "link": ""}
        entries["garbage"] = "not an entry"
        (cache_dir / "etags.json").write_text(json.dumps(entries), encoding="utf-8")
        gh.reset_log()
        [again] = list(Access().collect(make_context(Access, params, cache_dir=cache_dir)))
        assert [s.status for s in gh.seen if s.method == "GET"] == [304, 304, 304]
    assert again.content == artefact.content
    kept = json.loads((cache_dir / "etags.json").read_text(encoding="utf-8"))
    assert set(kept) == set(entries) - {"stale", "garbage"}
    assert [p.name for p in cache_dir.iterdir()] == ["etags.json"]  # no temporary file left behind
