"""`github.branch_protection` and `github.dependencies` through PyGithub against the loopback GitHub.

Each finding has one culprit next to clean look-alikes (a fully protected branch, a ruleset-only one,
alerts one second either side of a threshold), so a test checks where it must and must not appear.
Page sizes are capped by the server so listings span many pages, as 1,000 repositories would.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from github_schema import SUBSET, load_schema
from github_server import UTC, Alert, GitHubServer, Org, Repo, Ruleset
from support import cli_env, run_cli, write_config

from evidentia import Period
from evidentia.plugins.github.branch_protection import BranchProtection
from evidentia.plugins.github.dependencies import Dependencies
from evidentia.testing import make_context

TOKEN = "ghp_protectionDepsToken0123456789abcdefXYZ"
NOW = dt.datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
DAY = dt.timedelta(days=1)
URL = "https://api.github.invalid/x"


def protection(
    *,
    reviews: int | None = None,
    dismiss: bool = False,
    owners: bool = False,
    checks: tuple[str, ...] | None = None,
    admins: bool = False,
    signatures: bool = False,
    force: bool = False,
    deletions: bool = False,
) -> dict[str, Any]:
    """A REST branch protection body in the documented shape."""
    body: dict[str, Any] = {
        "enforce_admins": {"url": URL, "enabled": admins},
        "required_signatures": {"url": URL, "enabled": signatures},
        "allow_force_pushes": {"enabled": force},
        "allow_deletions": {"enabled": deletions},
    }
    if reviews is not None:
        body["required_pull_request_reviews"] = {
            "dismiss_stale_reviews": dismiss,
            "require_code_owner_reviews": owners,
            "required_approving_review_count": reviews,
        }
    if checks is not None:
        body["required_status_checks"] = {"strict": True, "contexts": list(checks), "checks": []}
    return body


def pr_rule(count: int, dismiss: bool = True) -> dict[str, Any]:
    return {
        "type": "pull_request",
        "parameters": {
            "required_approving_review_count": count,
            "dismiss_stale_reviews_on_push": dismiss,
            "require_code_owner_review": False,
            "require_last_push_approval": False,
            "required_review_thread_resolution": False,
        },
    }


def checks_rule(*names: str) -> dict[str, Any]:
    return {
        "type": "required_status_checks",
        "parameters": {
            "required_status_checks": [{"context": n} for n in names],
            "strict_required_status_checks_policy": False,
        },
    }


ORG_BASELINE = Ruleset(
    7,
    "org-baseline",
    [pr_rule(1), checks_rule("ci"), {"type": "non_fast_forward"}, {"type": "deletion"}],
    source_type="Organization",
    source="acme",
)
ADMIN_BYPASS = [{"repositoryRoleName": "admin", "bypassMode": "ALWAYS"}]


def protection_org() -> Org:
    org = Org()
    full = protection(reviews=2, dismiss=True, owners=True, checks=("ci",), admins=True, signatures=True)
    org.repos["api"] = Repo("api", 1, protection=full)
    org.repos["web"] = Repo("web", 2)  # unprotected
    org.repos["ml"] = Repo("ml", 3, rulesets=[ORG_BASELINE])  # ruleset-only
    org.repos["ml"].rulesets.append(
        Ruleset(8, "ml-signing", [{"type": "required_signatures"}], source="ml", bypass=ADMIN_BYPASS)
    )
    org.repos["docs"] = Repo("docs", 4, protection=protection(force=True))  # weak
    mixed = Repo("mixed", 5, protection=protection(reviews=1, dismiss=True, checks=("lint",), admins=False))
    mixed.rulesets = [
        Ruleset(9, "two-reviews", [pr_rule(2), checks_rule("ci")], source="mixed", bypass=ADMIN_BYPASS)
    ]
    org.repos["mixed"] = mixed
    org.repos["old"] = Repo("old", 6, archived=True)  # archived: out by default
    org.repos["draft"] = Repo(  # a ruleset in evaluate mode is not in force
        "draft", 7, rulesets=[Ruleset(10, "trial", [pr_rule(1)], enforcement="EVALUATE")]
    )
    return org


@pytest.fixture
def server() -> Iterator[GitHubServer]:
    with GitHubServer(protection_org(), TOKEN, page_cap=2) as gh:
        yield gh


def run(collector: Any, gh: GitHubServer, **params: Any) -> tuple[list[Any], Any]:
    cache_dir = params.pop("cache_dir", None)
    ctx = make_context(
        collector,
        {"org": "acme", "base_url": gh.base_url, "token": TOKEN, **params},
        period=Period(NOW - DAY, NOW),
        cache_dir=cache_dir,
    )
    return list(collector().collect(ctx)), ctx


def protect(gh: GitHubServer, **params: Any) -> tuple[dict[str, Any], dict[str, list[str]], Any]:
    [artefact], ctx = run(BranchProtection, gh, **params)
    by_code: dict[str, list[str]] = {}
    for f in artefact.findings:
        by_code.setdefault(f.code, []).append(f"{f.subject} {f.severity}")
    return json.loads(artefact.content), {k: sorted(v) for k, v in by_code.items()}, ctx


def values(record: dict[str, Any]) -> dict[str, Any]:
    return {name: s["value"] for name, s in record["settings"].items()}


# -- branch protection ------------------------------------------------------------------------


def test_protected_unprotected_ruleset_only_and_weak_branches(server: GitHubServer) -> None:
    doc, findings, _ = protect(server)
    branches = {b["repository"]: b for b in doc["branches"]}
    assert sorted(branches) == ["api", "docs", "draft", "mixed", "ml", "web"]  # `old` is archived
    assert doc["method"] == "graphql"
    assert values(branches["api"]) == {
        "pull_request_required": True,
        "required_reviews": True,
        "required_review_count": 2,
        "dismiss_stale_reviews": True,
        "code_owner_review": True,
        "required_status_checks": ["ci"],
        "signed_commits": True,
        "force_push_blocked": True,
        "deletion_blocked": True,
        "admin_enforced": True,
    }
    assert branches["api"]["settings"]["signed_commits"]["sources"] == ["classic branch protection"]
    ml = branches["ml"]
    assert ml["protected"] and ml["classic"] is None
    assert [r["name"] for r in ml["rulesets"]] == ["org-baseline", "ml-signing"]
    org_label = "ruleset 7 'org-baseline' (organization acme)"
    assert ml["settings"]["force_push_blocked"]["sources"] == [org_label]
    assert ml["settings"]["signed_commits"]["sources"] == ["ruleset 8 'ml-signing' (repository ml)"]
    assert ml["settings"]["admin_enforced"]["sources"] == [org_label]  # ml-signing lets admins bypass
    mixed = branches["mixed"]["settings"]
    two = "ruleset 9 'two-reviews' (repository mixed)"
    assert mixed["required_review_count"] == {"value": 2, "sources": [two], "not_visible_in": []}
    assert mixed["required_reviews"]["sources"] == ["classic branch protection", two]
    assert mixed["required_status_checks"]["by_check"] == {
        "ci": [two],
        "lint": ["classic branch protection"],
    }
    assert branches["draft"]["protected"] is False and branches["draft"]["rulesets"] == []
    assert findings == {
        "default-branch-unprotected": ["draft:main high", "web:main high"],
        "review-not-required": ["docs:main medium"],
        "force-push-allowed": ["docs:main medium"],
        "admins-not-enforced": ["docs:main low", "mixed:main low"],
        "status-checks-not-required": ["docs:main low"],
        "stale-reviews-not-dismissed": ["docs:main low"],
    }
    assert doc["gaps"] == []


def test_baseline_and_min_approvals_are_parameters(server: GitHubServer) -> None:
    _, findings, _ = protect(server, baseline=["signed_commits", "required_reviews"], min_approvals=2)
    assert findings["signed-commits-not-required"] == ["docs:main low", "mixed:main low"]
    # mixed needs 2 through its ruleset; ml's organisation ruleset only 1
    assert findings["review-not-required"] == ["docs:main medium", "ml:main medium"]
    _, findings, _ = protect(server, baseline=["required_reviews"], min_approvals=3)
    assert findings["review-not-required"] == [f"{r}:main medium" for r in ("api", "docs", "mixed", "ml")]


def test_one_graphql_sweep_pages_repositories_and_completes_long_rule_lists(server: GitHubServer) -> None:
    for i in range(3):  # more rules than the server's nested page of 2
        server.org.repos["ml"].rulesets.append(Ruleset(20 + i, f"extra-{i}", [{"type": "deletion"}]))
    doc, _, ctx = protect(server)
    ml = next(b for b in doc["branches"] if b["repository"] == "ml")
    assert len(ml["rulesets"]) == 5 and sum(len(r["rules"]) for r in ml["rulesets"]) == 8
    # 7 repositories, 2 a page: 4 sweep pages; ml's 8 rules in pages of 2: 3 more
    assert [s.method for s in server.seen] == ["POST"] * 7
    assert sum("DefaultBranchProtection" in c for c in ctx.calls) == 4
    assert sum("DefaultBranchRules" in c for c in ctx.calls) == 3


def test_a_token_that_does_not_administer_sees_what_non_admins_see(server: GitHubServer) -> None:
    server.viewer_admin = False
    doc, findings, _ = protect(server)
    branches = {b["repository"]: b for b in doc["branches"]}
    assert values(branches["api"])["admin_enforced"] is None  # not visible, not "off"
    assert values(branches["api"])["required_review_count"] == 2
    assert branches["api"]["settings"]["dismiss_stale_reviews"]["not_visible_in"] == [
        "classic branch protection"
    ]
    assert values(branches["ml"])["admin_enforced"] is None  # bypass lists hidden
    assert "admins-not-enforced" not in findings and "stale-reviews-not-dismissed" not in findings
    assert findings["force-push-allowed"] == ["docs:main medium"]
    assert findings["default-branch-unprotected"] == ["draft:main high", "web:main high"]
    [gap] = doc["gaps"]
    assert "does not administer 6 repositories" in gap["error"]


def _older_ghes_schema() -> Any:
    """The server's schema without `Ref.rules`, as an older GitHub Enterprise Server has it."""
    text = SUBSET.read_text(encoding="utf-8")
    ref = re.search(r"type Ref \{.*?\n\}", text, re.S)
    assert ref is not None
    without = re.sub(r"\n  rules\([^\n]*", "", ref.group(0))
    return load_schema(text.replace(ref.group(0), without))


def test_rest_when_graphql_refuses_the_query_and_a_repository_deleted_mid_run() -> None:
    org = protection_org()
    with GitHubServer(org, TOKEN, page_cap=2) as gh:
        graphql_doc, graphql_findings, _ = protect(gh)
        gh.schema = _older_ghes_schema()
        gh.after(r"GET /repos/acme/api/branches", lambda: org.repos.pop("web"))
        gh.reset_log()
        doc, findings, _ = protect(gh)
        paths = [s.path.split("?")[0] for s in gh.seen if s.method == "GET"]
    assert doc["method"] == "rest"
    assert (
        "/repos/acme/api/branches/main/protection" in paths and "/repos/acme/ml/rules/branches/main" in paths
    )
    branches = {b["repository"]: b for b in doc["branches"]}
    before = {b["repository"]: b for b in graphql_doc["branches"]}
    for name in ("api", "docs", "draft"):
        assert values(branches[name]) == values(before[name]), name
    for name in ("ml", "mixed"):  # REST's rules carry no bypass list: admin enforcement unknown
        assert {**values(branches[name]), "admin_enforced": "?"} == {
            **values(before[name]),
            "admin_enforced": "?",
        }
        assert values(branches[name])["admin_enforced"] is None
    assert branches["web"]["readable"] is False
    refused, deleted = doc["gaps"]
    assert refused["status"] == 400 and "REST used" in refused["error"]
    assert deleted["where"] == "web" and deleted["status"] == 404
    assert findings["default-branch-unprotected"] == ["draft:main high"]  # web: unknown, not unprotected
    assert graphql_findings["default-branch-unprotected"] == ["draft:main high", "web:main high"]


def test_a_repository_graphql_could_not_answer_is_read_through_rest(server: GitHubServer) -> None:
    server.broken_rules = {"ml", "web"}
    doc, findings, _ = protect(server)
    branches = {b["repository"]: b for b in doc["branches"]}
    assert branches["ml"]["method"] == "rest" and branches["api"]["method"] == "graphql"
    assert doc["method"] == "graphql+rest"
    assert values(branches["ml"])["force_push_blocked"] is True
    assert findings["default-branch-unprotected"] == ["draft:main high", "web:main high"]
    assert sorted(g["where"] for g in doc["gaps"]) == ["ml", "web"]
    assert all("Something went wrong" in g["error"] for g in doc["gaps"])


def test_5xx_and_secondary_limit_on_the_sweep_are_retried(server: GitHubServer) -> None:
    server.fail(r"query DefaultBranchProtection", 502, times=2)
    server.fail(r"query DefaultBranchProtection", 403, times=1, retry_after=0)
    doc, findings, ctx = protect(server)
    assert len(doc["branches"]) == 6 and len(findings["default-branch-unprotected"]) == 2
    assert [s.status for s in server.seen].count(502) == 2
    assert ctx.request_count == len(server.seen)


# -- dependencies -----------------------------------------------------------------------------


def deps_org() -> Org:
    org = Org()
    for i, name in enumerate(("api", "web", "ml")):
        org.repos[name] = Repo(name, 100 + i)
        org.repos[name].packages = [
            {"name": f"pkg-{name}-{n}", "version": f"1.{n}.0", "license": "MIT"} for n in range(i + 1)
        ]
    org.repos["old"] = Repo("old", 200, archived=True)
    ages = [
        ("api", "critical", dt.timedelta(days=30)),  # exactly at the threshold: not overdue
        ("api", "critical", dt.timedelta(days=30, seconds=1)),  # one second past: overdue
        ("web", "critical", dt.timedelta(days=3)),
        ("web", "high", dt.timedelta(days=90)),
        ("ml", "high", dt.timedelta(days=90, seconds=1)),
        ("ml", "medium", dt.timedelta(days=400)),  # old, but medium: no finding
        ("old", "critical", dt.timedelta(days=100)),  # archived repository: out of the selection
    ]
    for n, (repo, severity, age) in enumerate(ages, start=1):
        org.alerts.append(Alert(n, repo, severity, NOW - age, f"lib{n}", f"GHSA-{n:04d}-aaaa-bbbb"))
    org.alerts.append(Alert(99, "api", "critical", NOW - 50 * DAY, "gone", "GHSA-fixd-aaaa-bbbb", "fixed"))
    return org


def deps(gh: GitHubServer, **params: Any) -> tuple[dict[str, Any], dict[str, Any], list[Any], Any]:
    artefacts, ctx = run(Dependencies, gh, **params)
    *sboms, summary = artefacts
    assert summary.name == "dependencies"
    return json.loads(summary.content), {a.name: a for a in sboms}, list(summary.findings), ctx


def test_sboms_file_per_repository_and_alerts_by_severity_and_age() -> None:
    org = deps_org()
    with GitHubServer(org, TOKEN, page_cap=2) as gh:
        doc, sboms, findings, _ = deps(gh)
    assert sorted(sboms) == ["sbom-api", "sbom-ml", "sbom-web"]
    ml = sboms["sbom-ml"]
    assert ml.media_type == "application/spdx+json" and ml.extension == "spdx.json"
    spdx = json.loads(ml.content)
    assert spdx["spdxVersion"] == "SPDX-2.3" and [p["name"] for p in spdx["packages"]] == [
        "pkg-ml-0",
        "pkg-ml-1",
        "pkg-ml-2",
    ]
    index = {e["repository"]: e["sbom"] for e in doc["repositories"]}
    assert index["ml"]["packages"] == 3 and index["ml"]["artefact"] == "sbom-ml"
    assert index["ml"]["sha256"] == hashlib.sha256(ml.content).hexdigest()
    alerts = doc["dependabot_alerts"]
    assert alerts["open"] == 6  # not the fixed one, not the archived repository's
    assert alerts["by_severity"]["critical"] == {
        "total": 3,
        "0-7 days": 1,
        "8-30 days": 1,
        "31-90 days": 1,
        "over 90 days": 0,
    }
    assert alerts["by_repository"] == {
        "api": {"critical": 2},
        "ml": {"high": 1, "medium": 1},
        "web": {"critical": 1, "high": 1},
    }
    oldest = alerts["alerts"][0]
    assert (oldest["severity"], oldest["package"], oldest["age_bucket"]) == ("medium", "lib6", "over 90 days")
    assert sorted((f.code, f.subject, f.severity) for f in findings) == [
        ("critical-alert-overdue", "api/dependabot/2", "high"),
        ("high-alert-overdue", "ml/dependabot/5", "medium"),
    ]
    assert doc["gaps"] == []


def test_thresholds_are_parameters() -> None:
    with GitHubServer(deps_org(), TOKEN) as gh:
        _, _, findings, _ = deps(gh, critical_days=2, high_days=365, sboms=False)
    assert sorted(f.subject for f in findings) == ["api/dependabot/1", "api/dependabot/2", "web/dependabot/3"]


def test_alerts_page_by_cursor_across_many_pages() -> None:
    org = deps_org()
    org.alerts = [Alert(n, "api", "low", NOW - n * DAY, "lib", f"GHSA-{n}") for n in range(1, 251)]
    with GitHubServer(org, TOKEN, page_cap=7) as gh:
        doc, _, _, _ = deps(gh, sboms=False)
        pages = [s.path for s in gh.seen if "/dependabot/alerts" in s.path]
    assert doc["dependabot_alerts"]["open"] == 250
    assert len({a["number"] for a in doc["dependabot_alerts"]["alerts"]}) == 250
    assert len(pages) == 36 and all("after=" in p for p in pages[1:])


def test_a_token_without_dependabot_permission_is_a_gap_and_the_sboms_still_file() -> None:
    with GitHubServer(deps_org(), TOKEN) as gh:
        gh.deny(r"/dependabot/alerts")
        doc, sboms, findings, _ = deps(gh)
    assert len(sboms) == 3 and findings == []
    assert doc["dependabot_alerts"] is None  # not seen, which is not "no alerts"
    [gap] = doc["gaps"]
    assert gap["where"] == "acme" and gap["status"] == 403
    assert "Resource not accessible" in gap["error"]


def test_dependency_graph_off_a_deleted_repository_and_5xx() -> None:
    org = deps_org()
    org.repos["web"].dependency_graph = False
    with GitHubServer(org, TOKEN) as gh:
        gh.after(r"query Repositories", lambda: org.repos.pop("ml"))
        gh.fail(r"GET /repos/acme/api/dependency-graph/sbom", 503, times=2)
        doc, sboms, _, ctx = deps(gh)
        statuses = [s.status for s in gh.seen]
    assert sorted(sboms) == ["sbom-api"]
    assert statuses.count(503) == 2 and ctx.request_count == len(statuses)
    assert sorted((g["where"], g["status"]) for g in doc["gaps"]) == [("ml", 404), ("web", 404)]
    index = {e["repository"]: e["sbom"] for e in doc["repositories"]}
    assert index["web"] is None and index["ml"] is None and index["api"]["packages"] == 1


def test_a_second_run_asks_conditionally_and_files_the_same_bytes(tmp_path: Path) -> None:
    with GitHubServer(deps_org(), TOKEN) as gh:
        _, first, _, _ = deps(gh, cache_dir=tmp_path)
        gh.reset_log()
        _, again, _, _ = deps(gh, cache_dir=tmp_path)
        sbom_answers = [s.status for s in gh.seen if s.path.endswith("/sbom")]
    assert sbom_answers == [304, 304, 304]
    assert {n: a.content for n, a in again.items()} == {n: a.content for n, a in first.items()}


def test_collect_from_the_cli_files_spdx_and_verifies(tmp_path: Path) -> None:
    with GitHubServer(deps_org(), TOKEN) as gh:
        config = write_config(
            tmp_path,
            f"""
            store: evidence
            collectors:
              - id: deps
                plugin: github.dependencies
                params: {{org: acme, base_url: "{gh.base_url}", token: "${{GH_TEST_TOKEN}}"}}
              - id: protection
                plugin: github.branch_protection
                params: {{org: acme, base_url: "{gh.base_url}", token: "${{GH_TEST_TOKEN}}"}}
            """,
        )
        env = cli_env(GH_TEST_TOKEN=TOKEN)
        collected = run_cli("collect", "-c", str(config), "--json", cwd=tmp_path, env=env)
    assert collected.returncode == 0, collected.stderr
    instances = {i["id"]: i for i in json.loads(collected.stdout)["instances"]}
    assert instances["deps"]["status"] == instances["protection"]["status"] == "ok"
    verified = run_cli("verify", str(tmp_path / "evidence"), cwd=tmp_path, env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    spdx = sorted(p.name.split("--")[1] for p in (tmp_path / "evidence").rglob("*.spdx.json"))
    assert spdx == sorted(["sbom-api.spdx.json", "sbom-ml.spdx.json", "sbom-web.spdx.json"] * 2)  # P7, P11
    for path in (tmp_path / "evidence").rglob("*"):
        if path.is_file():
            assert TOKEN not in path.read_text(encoding="utf-8", errors="replace"), path


def test_every_rest_body_served_for_these_collectors_has_the_published_shape() -> None:
    from github_rest_shapes import template_of
    from test_github_server import _rest_reference, _validator

    reference = _rest_reference()
    org = protection_org()
    org.repos["web"].dependency_graph = False
    org.repos["api"].packages = [{"name": "requests", "version": "2.31.0"}]
    org.alerts = [Alert(n, "api", "high", NOW - n * DAY, "lib", f"GHSA-{n}") for n in range(1, 6)]
    with GitHubServer(org, TOKEN, page_cap=2) as gh:
        gh.schema = _older_ghes_schema()  # REST for protection: protection bodies and rules for a branch
        protect(gh)
        deps(gh)
        seen = [s for s in gh.seen if s.method == "GET"]
    templates = {template_of(s.path.split("?")[0], reference) for s in seen}
    assert templates >= {
        "/repos/{owner}/{repo}/branches/{branch}/protection",
        "/repos/{owner}/{repo}/rules/branches/{branch}",
        "/repos/{owner}/{repo}/dependency-graph/sbom",
        "/orgs/{org}/dependabot/alerts",
    }
    assert {s.status for s in seen} == {200, 404}
    for s in seen:
        template = template_of(s.path.split("?")[0], reference)
        assert template, s.path
        errors = list(_validator(reference, template, s.status).iter_errors(s.body))
        assert errors == [], f"{s.path}: {errors[0].message if errors else ''}"


def test_classic_protection_the_token_may_not_read_is_unknown_not_unprotected() -> None:
    with GitHubServer(protection_org(), TOKEN) as gh:
        gh.schema = _older_ghes_schema()
        gh.deny(r"/branches/main/protection")
        doc, findings, _ = protect(gh)
    branches = {b["repository"]: b for b in doc["branches"]}
    assert branches["api"]["protected"] is None and branches["web"]["protected"] is None
    assert branches["api"]["settings"]["signed_commits"]["not_visible_in"] == ["classic branch protection"]
    assert branches["ml"]["protected"] is True and values(branches["ml"])["force_push_blocked"] is True
    assert branches["draft"]["protected"] is None  # no ruleset in force, classic unreadable: unknown
    assert findings == {}  # nothing is judged unprotected on what could not be seen
    assert sum(g["status"] == 403 for g in doc["gaps"]) == 6
