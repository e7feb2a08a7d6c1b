"""`github.changes` through PyGithub against the loopback GitHub: population, findings, paging, faults.

Each finding has one culprit pull request (or commit) next to clean look-alikes, so a test checks
where it must and must not appear. Page sizes are capped at a few items by the server, so every
listing spans many pages, as a large organisation's would at 100 per page.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from github_server import (
    UTC,
    Check,
    Commit,
    GitHubServer,
    Member,
    Org,
    Pull,
    Repo,
    Review,
    Ruleset,
    synthetic_org,
)
from support import run_cli, write_config

from evidentia import Period
from evidentia.config import load_config
from evidentia.plugin_manager import build_plugin_host
from evidentia.plugins.github.changes import Changes, split
from evidentia.plugins.github.client import GitHubError
from evidentia.runner import Runner
from evidentia.testing import make_context

TOKEN = "ghp_loopbackTokenValue0123456789abcdefXYZ"
NOW = dt.datetime(2025, 6, 1, 2, 0, tzinfo=UTC)


def _pull(org: Org, repo: str, number: int, merged: dt.datetime, **kw: Any) -> Pull:
    pull = Pull(repo, number, f"change {number}", "alice", "bob", merged - dt.timedelta(hours=3), merged)
    pull.reviews = kw.get(
        "reviews", [Review("bob", "APPROVED", merged - dt.timedelta(hours=1), pull.head_oid)]
    )
    pull.checks = kw.get("checks", [Check("ci", "SUCCESS")])
    pull.base = kw.get("base", "main")
    return org.add_pull(pull)


def findings_org() -> Org:
    org = Org()
    for login in ("alice", "bob", "carol"):
        org.members[login] = Member(login, len(org.members) + 1)
    org.repos["api"] = Repo("api", 1, required_checks=["ci"])
    org.repos["web"] = Repo("web", 2, required_checks=["ci"])
    org.repos["old"] = Repo("old", 3, archived=True)
    day = NOW - dt.timedelta(days=1)
    _pull(org, "api", 1, day)  # clean
    _pull(org, "api", 2, day, reviews=[Review("alice", "APPROVED", day, "x")])  # self-approved only
    _pull(org, "api", 3, day, reviews=[Review("bob", "APPROVED", day - dt.timedelta(hours=2), "old-head")])
    _pull(org, "web", 4, day, checks=[Check("ci", "FAILURE")])  # required check failed
    _pull(org, "web", 5, day, checks=[Check("ci", "SUCCESS"), Check("lint", "FAILURE", "StatusContext")])
    _pull(org, "web", 6, day, checks=[])  # required check never reported
    _pull(org, "web", 7, day, reviews=[Review("carol", "CHANGES_REQUESTED", day, "h")])
    _pull(org, "web", 8, day, base="release")  # merged elsewhere: not a default-branch change
    _pull(org, "old", 9, day)  # archived repository: out by default
    org.repos["api"].commits.append(Commit("f" * 40, "hotfix straight to main", day, "carol"))
    return org


@pytest.fixture
def server() -> Iterator[GitHubServer]:
    with GitHubServer(findings_org(), TOKEN, page_cap=2) as gh:
        yield gh


def run(gh: GitHubServer, period: Period, **params: Any) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    ctx = make_context(
        Changes, {"org": "acme", "base_url": gh.base_url, "token": TOKEN, **params}, period=period
    )
    [artefact] = list(Changes().collect(ctx))
    doc = json.loads(artefact.content)
    doc["changes"] = [i for i in doc["items"] if i["type"] == "pull_request"]  # the tests' shorthand
    return doc, [f.to_dict() for f in artefact.findings], ctx


WEEK = Period(NOW - dt.timedelta(days=7), NOW)


def test_changes_carry_reviews_checks_and_shas(server: GitHubServer) -> None:
    doc, _, _ = run(server, WEEK)
    numbers = sorted(c["number"] for c in doc["changes"])
    assert numbers == [1, 2, 3, 4, 5, 6, 7]  # #8 went to another branch, #9 is archived
    assert doc["merged_into_other_branches"] == 1
    first = next(c for c in doc["changes"] if c["number"] == 1)
    pull = server.org.by_key[("api", 1)]
    assert first["author"] == "alice" and first["merged_by"] == "bob"
    assert (first["head_sha"], first["merge_commit"], first["base_sha"]) == (
        pull.head_oid,
        pull.merge_oid,
        pull.base_oid,
    )
    assert first["reviews"] == [
        {
            "reviewer": "bob",
            "state": "APPROVED",
            "submitted_at": "2025-05-31T01:00:00Z",
            "commit": pull.head_oid,
        }
    ]
    assert first["checks"][0]["name"] == "ci" and first["checks"][0]["required"] is True
    assert [r["name"] for r in doc["repositories"]] == ["api", "web"]


def test_findings_name_each_culprit_and_only_it(server: GitHubServer) -> None:
    _, findings, _ = run(server, WEEK)
    by_code: dict[str, list[str]] = {}
    for f in findings:
        by_code.setdefault(f["code"], []).append(f["subject"])
    assert sorted(by_code["merged-without-independent-approval"]) == ["acme/api#2", "acme/web#7"]
    assert by_code["approval-before-last-push"] == ["acme/api#3"]
    assert sorted(by_code["merged-with-failing-checks"]) == ["acme/web#4", "acme/web#5", "acme/web#6"]
    severity = {f["subject"]: f["severity"] for f in findings if f["code"] == "merged-with-failing-checks"}
    assert severity == {"acme/web#4": "high", "acme/web#5": "low", "acme/web#6": "high"}
    assert by_code["direct-commit-to-default-branch"] == ["acme/api@" + "f" * 40]


def test_required_checks_come_from_rulesets_too_and_without_admin_rights() -> None:
    org = findings_org()
    org.repos["api"].required_checks = []  # no classic requirement: the ruleset alone requires `sec`
    checks = {"context": "sec", "integration_id": None}
    rule = {"type": "required_status_checks", "parameters": {"required_status_checks": [checks]}}
    org.repos["api"].rulesets = [
        Ruleset(10, "main checks", [rule], source_type="Organization", source="acme"),
        Ruleset(
            11,
            "trial",
            [dict(rule, parameters={"required_status_checks": [{"context": "x"}]})],
            enforcement="EVALUATE",
        ),
    ]
    with GitHubServer(org, TOKEN) as gh:
        gh.viewer_admin = False  # classic protection comes through refUpdateRule
        doc, findings, _ = run(gh, WEEK)
    api1 = next(c for c in doc["changes"] if c["id"] == "acme/api#1")
    web4 = next(c for c in doc["changes"] if c["id"] == "acme/web#4")
    assert api1["required_checks"] == ["sec"] and web4["required_checks"] == ["ci"]
    failing = {f["subject"]: f for f in findings if f["code"] == "merged-with-failing-checks"}
    assert (
        failing["acme/api#1"]["severity"] == "high"
        and "sec (never reported)" in failing["acme/api#1"]["message"]
    )
    assert failing["acme/web#4"]["severity"] == "high"


def test_an_approval_withdrawn_by_a_later_request_for_changes_does_not_count() -> None:
    org = findings_org()
    day = NOW - dt.timedelta(days=1)
    pull = org.by_key[("api", 1)]
    pull.reviews.append(Review("bob", "CHANGES_REQUESTED", day - dt.timedelta(minutes=30), pull.head_oid))
    pull.reviews.append(Review("carol", "COMMENTED", day - dt.timedelta(minutes=20), pull.head_oid))
    again = org.by_key[("api", 3)]  # approved an old head, then approved the last push as well
    again.reviews.append(Review("bob", "APPROVED", day - dt.timedelta(minutes=10), again.head_oid))
    with GitHubServer(org, TOKEN) as gh:
        _, findings, _ = run(gh, WEEK)
    codes = {(f["code"], f["subject"]) for f in findings}
    assert ("merged-without-independent-approval", "acme/api#1") in codes
    assert not any(subject == "acme/api#3" for _, subject in codes)


def test_repos_globs_and_named_archived_repositories(server: GitHubServer) -> None:
    doc, _, _ = run(server, WEEK, repos=["w*"])
    assert {c["repository"] for c in doc["changes"]} == {"web"}
    doc, _, _ = run(server, WEEK, repos=["old", "API"])
    assert sorted(c["number"] for c in doc["changes"]) == [1, 2, 3, 9]


def test_nights_in_sequence_have_no_gap_and_no_duplicate() -> None:
    org = synthetic_org(repos=6, members=5, pulls=120, days=6, end=NOW)
    seen: list[int] = []
    with GitHubServer(org, TOKEN, page_cap=7) as gh:
        start = NOW - dt.timedelta(days=6)
        for night in range(6):
            end = start + dt.timedelta(days=1, minutes=night * 7)  # runs drift, as cron does
            doc, findings, _ = run(gh, Period(start, min(end, NOW)))
            seen += [c["number"] for c in doc["changes"]]
            assert findings == []
            start = min(end, NOW)
    assert sorted(seen) == list(range(1, 121))


def test_a_merge_in_the_second_a_period_ends_is_filed_once() -> None:
    """Periods end at any microsecond, GitHub stamps merges and commits in whole seconds."""
    boundary = NOW - dt.timedelta(hours=5)
    org = Org()
    org.members["alice"] = Member("alice", 1)
    org.repos["api"] = Repo("api", 1)
    _pull(org, "api", 1, boundary)
    org.repos["api"].commits.append(Commit("e" * 40, "hotfix", boundary, "alice"))
    cut = boundary + dt.timedelta(microseconds=500_000)  # the first night ends half a second later
    with GitHubServer(org, TOKEN) as gh:
        first, _, _ = run(gh, Period(NOW - dt.timedelta(days=1, microseconds=250_000), cut))
        second, _, _ = run(gh, Period(cut, NOW))
    assert [i["id"] for i in first["items"]] == ["acme/api#1", "acme/api@" + "e" * 40]
    assert second["items"] == []


def test_backfill_splits_search_windows_below_the_cap() -> None:
    org = synthetic_org(repos=3, members=4, pulls=2500, days=10, end=NOW)
    with GitHubServer(org, TOKEN) as gh:
        doc, _, ctx = run(gh, Period(NOW - dt.timedelta(days=10), NOW))
    assert (
        len(doc["changes"]) == 2500 and len({(c["repository"], c["number"]) for c in doc["changes"]}) == 2500
    )
    windows = doc["search_windows"]
    assert len(windows) >= 3 and all(w["merged"] <= 1000 for w in windows)
    assert windows[0]["start"] == "2025-05-22T02:00:00Z" and windows[-1]["end"] == "2025-06-01T02:00:00Z"
    assert all(a["end"] == b["start"] for a, b in itertools.pairwise(windows))
    # one probe of the whole period, then each window in pages of 100
    searches = sum("MergedPullRequests" in c for c in ctx.calls)
    assert searches == 1 + sum(-(-w["merged"] // 100) for w in windows)


def test_split_covers_the_window_exactly() -> None:
    start = NOW - dt.timedelta(days=3, seconds=7)
    parts = split(start, NOW, 4)
    assert parts[0][0] == start and parts[-1][1] == NOW and len(parts) == 4
    assert all(a[1] == b[0] for a, b in itertools.pairwise(parts))


def test_throttling_and_5xx_are_retried_and_counted(server: GitHubServer) -> None:
    server.fail(r"POST /graphql.*query MergedPullRequests", 403, times=1, retry_after=1)
    server.fail(r"POST /graphql.*query DefaultBranchCommits", 502, times=2)
    doc, _, ctx = run(server, WEEK)
    assert len(doc["changes"]) == 7
    statuses = [s.status for s in server.seen]
    assert statuses.count(403) == 1 and statuses.count(502) == 2
    assert ctx.request_count == len(server.seen)  # every attempt counted, retries included


def test_a_bad_token_fails_with_githubs_reason(server: GitHubServer) -> None:
    ctx = make_context(Changes, {"org": "acme", "base_url": server.base_url, "token": "wrong"}, period=WEEK)
    with pytest.raises(GitHubError, match="HTTP 401: Bad credentials") as caught:
        list(Changes().collect(ctx))
    assert "wrong" not in str(caught.value)


def test_a_repository_deleted_mid_run_is_a_gap_not_a_failure() -> None:
    org = synthetic_org(repos=2, members=3, pulls=10, days=2, end=NOW)
    repo = org.repos["repo-0001"]
    for i in range(5):  # more commits than one nested page: the collector pages that repo alone
        repo.commits.append(Commit(f"{i:040d}", "direct", NOW - dt.timedelta(hours=i + 1), "dev001"))
    with GitHubServer(org, TOKEN, page_cap=3) as gh:
        gh.after(r"query DefaultBranchCommits", lambda: org.repos.pop("repo-0001"))
        doc, findings, _ = run(gh, Period(NOW - dt.timedelta(days=2), NOW))
    [gap] = doc["gaps"]
    assert gap["where"] == "repo-0001" and "NOT_FOUND" in gap["error"]
    assert any(f["code"] == "direct-commit-to-default-branch" for f in findings)


def test_ghes_style_base_url() -> None:
    org = synthetic_org(repos=2, members=3, pulls=4, days=2, end=NOW)
    with GitHubServer(org, TOKEN, ghes=True) as gh:
        assert gh.base_url.endswith("/api/v3")
        doc, _, ctx = run(gh, Period(NOW - dt.timedelta(days=2), NOW))
    assert len(doc["changes"]) == 4
    assert all("/api/graphql " in c for c in ctx.calls)


def test_items_follow_the_sampling_convention(server: GitHubServer) -> None:
    doc, findings, _ = run(server, WEEK)
    items = doc["items"]
    assert [i["type"] for i in items].count("direct_commit") == 1 and len(items) == 8
    ids = [i["id"] for i in items]
    assert len(set(ids)) == len(ids) and "acme/api#1" in ids and "acme/api@" + "f" * 40 in ids
    for item in items:
        at = dt.datetime.fromisoformat(item["at"].replace("Z", "+00:00"))
        assert item["at"].endswith("Z") and WEEK.contains(at)
        assert item["at"] == (item["merged_at"] if item["type"] == "pull_request" else item["committed_at"])
    assert [i["at"] for i in items] == sorted(i["at"] for i in items)
    assert {f["subject"] for f in findings} <= set(ids)  # a finding names the item it is about


def test_evidentia_sample_draws_from_a_collected_changes_population(tmp_path: Path) -> None:
    now = dt.datetime.now(UTC)
    org = synthetic_org(repos=3, members=4, pulls=9, days=3, end=now - dt.timedelta(minutes=5))
    for i in range(4):
        commit = Commit(f"{i:040x}", "direct", now - dt.timedelta(hours=5 + i), "dev001")
        org.repos[f"repo-000{i % 3}"].commits.append(commit)
    with GitHubServer(org, TOKEN, page_cap=4) as gh:
        config_path = write_config(
            tmp_path,
            f"""
            store: evidence
            collectors:
              - id: org-changes
                plugin: github.changes
                params: {{org: acme, base_url: "{gh.base_url}", token: "${{GH_LOOPBACK_TOKEN}}"}}
            """,
        )
        host = build_plugin_host()
        [result] = (
            Runner(load_config(config_path, host, env={"GH_LOOPBACK_TOKEN": TOKEN}), host).run().instances
        )
    assert result.status == "ok"
    day = dt.timedelta(days=1)
    sampled = run_cli(
        "sample", "--store", str(tmp_path / "evidence"), "--population", "org-changes",
        "--from", f"{now - 5 * day:%Y-%m-%d}", "--to", f"{now + day:%Y-%m-%d}",
        "--size", "5", "--seed", "audit", "--json",
        cwd=tmp_path,
    )  # fmt: skip
    assert sampled.returncode == 0, sampled.stderr
    document = json.loads(sampled.stdout)
    population = {i["id"] for i in document["population"]["items"]}
    assert document["population"]["size"] == len(population) == 9 + 4
    assert sum("#" in i for i in population) == 9 and sum("@" in i for i in population) == 4
    assert len(document["sample"]) == 5 and {s["id"] for s in document["sample"]} <= population
