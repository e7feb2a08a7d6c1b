"""`jira.query` and `jira.changes` through the real `jira` client against the loopback Jira.

Both deployments (Cloud: REST v3, token pages, bulk changelogs; Data Center: REST v2, offset pages,
expanded changelogs), hundreds of issues over small pages, incremental nights across a time zone
with a half-hour offset, throttling, and the errors a user must be able to act on.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonschema
import pytest
from http_server import LoopbackServer, Reply
from jira_server import JiraServer, User

from evidentia import Period
from evidentia.plugins.jira.changes import ChangesCollector
from evidentia.plugins.jira.connection import JiraApiError, JiraConfigError
from evidentia.plugins.jira.query import EventsQueryCollector, QueryCollector
from evidentia.testing import make_context

T0 = dt.datetime(2025, 3, 1, 0, 0, 30, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)


def params(jira: JiraServer, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"server": jira.url, "token": jira.token, "page_size": 40}
    if jira.cloud:
        out["email"] = jira.login
    return {**out, **extra}


def run(
    cls: type, p: dict[str, Any], period: Period | None = None, instance: str = "test"
) -> tuple[dict, list, Any]:
    ctx = make_context(cls, p, period=period or Period(T0, T0 + 3 * DAY), instance_id=instance)
    [artefact] = list(cls().collect(ctx))
    return json.loads(artefact.content), [f.to_dict() for f in artefact.findings], ctx


@pytest.fixture(params=[True, False], ids=["cloud", "data-center"])
def jira(request: pytest.FixtureRequest) -> Iterator[JiraServer]:
    with JiraServer(cloud=request.param, zone="Asia/Kolkata", bulk_page=200) as server:
        yield server


def seed_changes(jira: JiraServer, count: int) -> tuple[User, User]:
    """`count` approved changes resolved across three days, each approved by bob, not the reporter."""
    alice, bob = jira.add_user("alice", "Alice Adams"), jira.add_user("bob", "Bob Brown")
    for n in range(count):
        resolved = T0 + dt.timedelta(minutes=17 * n, seconds=n % 60)
        issue = jira.add_issue("CHG", "Change", f"change {n}", created=T0 - DAY, reporter=alice)
        jira.transition(issue, "Approved", by=bob, at=resolved - dt.timedelta(hours=1))
        jira.transition(issue, "Implemented", by=alice, at=resolved, resolution="Done")
    return alice, bob


def test_hundreds_of_changes_over_small_pages_each_filed_once(jira: JiraServer) -> None:
    seed_changes(jira, 250)
    doc, findings, ctx = run(ChangesCollector, params(jira))
    keys = [i["key"] for i in doc["items"]]
    assert keys == [f"CHG-{n}" for n in range(1, 251)]
    assert findings == []
    pages = 7  # 250 issues in pages of 40
    # serverInfo, field (once, though the client translates field names too), myself, the pages,
    # and on Cloud the bulk changelog: 500 status changes in server pages of 200
    assert ctx.request_count == 3 + pages + (3 if jira.cloud else 0)
    searches = [c for c in ctx.calls if "/search" in c]
    assert len(searches) == pages
    assert (
        all("/rest/api/3/search/jql?" in c for c in searches)
        if jira.cloud
        else all("/rest/api/2/search?" in c and "expand=changelog" in c for c in searches)
    )
    assert "fields=description" not in searches[0] and "fields=summary" in searches[0]
    assert sum(c.rsplit("/", 1)[-1] == "field" for c in ctx.calls) == 1
    first = doc["items"][0]
    assert [(t["from"], t["to"], t["by"]["id"]) for t in first["transitions"]] == [
        ("Open", "Approved", "bob"),
        ("Approved", "Implemented", "alice"),
    ]
    assert first["approvals"][0]["by"] == {"id": "bob", "name": "Bob Brown"}
    assert first["requester"]["id"] == "alice" and first["implemented_at"] == first["resolved"]
    assert doc["deployment"] == ("cloud" if jira.cloud else "server/data-center")


def test_findings_name_exactly_their_culprits(jira: JiraServer) -> None:
    alice, bob = seed_changes(jira, 2)
    approvers = jira.add_field("Approvers", "array")
    dev = jira.add_field("Development")
    at = T0 + dt.timedelta(hours=5)
    unapproved = jira.add_issue("CHG", "Change", "hotfix", created=T0, reporter=alice)
    jira.transition(unapproved, "Implemented", by=alice, at=at, resolution="Done")
    jira.transition(
        unapproved, "Approved", by=bob, at=at + dt.timedelta(minutes=5)
    )  # approved after the fact
    selfie = jira.add_issue("CHG", "Change", "self-approved", created=T0, reporter=alice)
    jira.transition(selfie, "Approved", by=alice, at=at)
    jira.transition(selfie, "Implemented", by=alice, at=at + dt.timedelta(hours=1), resolution="Done")
    by_field = jira.add_issue("CHG", "Change", "approved in field", created=T0, reporter=alice)
    jira.set_field(by_field, approvers, [bob], by=alice, at=at)
    by_field.custom[dev] = "PR #42 merged"
    jira.transition(by_field, "Implemented", by=alice, at=at + dt.timedelta(hours=1), resolution="Done")
    late_field = jira.add_issue("CHG", "Change", "approver named afterwards", created=T0, reporter=alice)
    jira.transition(late_field, "Implemented", by=alice, at=at, resolution="Done")
    jira.set_field(late_field, approvers, [bob], by=alice, at=at + dt.timedelta(minutes=1))
    at_creation = jira.add_issue("CHG", "Change", "approver given when raised", created=T0, reporter=alice)
    at_creation.custom[approvers] = [bob]  # no changelog entry: filled since creation
    jira.transition(at_creation, "Implemented", by=alice, at=at, resolution="Done")
    self_first = jira.add_issue(
        "CHG", "Change", "self-approved, then rubber-stamped", created=T0, reporter=alice
    )
    jira.transition(self_first, "Approved", by=alice, at=at)
    jira.transition(self_first, "Implemented", by=alice, at=at + dt.timedelta(minutes=1), resolution="Done")
    jira.transition(self_first, "Approved", by=bob, at=at + dt.timedelta(minutes=2))
    rejected = jira.add_issue("CHG", "Change", "rejected", created=T0, reporter=alice)
    jira.transition(rejected, "Rejected", by=bob, at=at, resolution="Won't Do")
    linked = jira.add_issue("DEP", "Deployment", "deploy 7", created=T0)
    by_field.links.append(("Relates", "outward", linked.key))
    doc, findings, _ = run(
        ChangesCollector, params(jira, approver_field="approvers", link_fields=["Development"])
    )
    assert sorted((f["code"], f["subject"]) for f in findings) == [
        ("approved-by-requester", selfie.key),
        ("approved-by-requester", self_first.key),  # bob's approval came after it was carried out
        ("implemented-without-approval", unapproved.key),
        ("implemented-without-approval", late_field.key),  # approver written in afterwards
    ]
    record = {i["key"]: i for i in doc["items"]}[by_field.key]
    assert record["approvals"] == [
        {
            "by": {"id": "bob", "name": "Bob Brown"},
            "at": record["approver_changes"][0]["at"],
            "how": "field approvers",
        }
    ]
    assert _parse(record["approvals"][0]["at"]) == at
    created = {i["key"]: i for i in doc["items"]}[at_creation.key]
    assert [a["at"] for a in created["approvals"]] == [created["created"]]
    assert record["development"] == {"Development": "PR #42 merged"}
    assert record["links"][0]["key"] == linked.key and record["links"][0]["issue_type"] == "Deployment"
    assert [c["to"] for c in record["approver_changes"]] == ["Bob Brown"]
    assert doc["fields"] == {"approvers": approvers, "Development": dev}


def test_incremental_nights_have_no_gap_and_no_duplicate(jira: JiraServer) -> None:
    """Nights end at odd seconds; issues resolved on either side of each end, in a +05:30 zone."""
    alice, bob = jira.add_user("alice", "Alice"), jira.add_user("bob", "Bob")
    ends = [T0 + n * DAY + dt.timedelta(seconds=7 * n) for n in range(4)]
    moments = []
    for end in ends[1:3]:
        moments += [end - dt.timedelta(milliseconds=1), end, end + dt.timedelta(seconds=20)]
    moments += [T0 + dt.timedelta(hours=h, minutes=h) for h in range(0, 72, 5)]
    for n, moment in enumerate(moments):
        issue = jira.add_issue("CHG", "Change", f"c{n}", created=T0 - DAY, reporter=alice)
        jira.transition(issue, "Approved", by=bob, at=moment - dt.timedelta(minutes=1))
        jira.transition(issue, "Implemented", by=alice, at=moment, resolution="Done")
    filed: list[str] = []
    for start, end in itertools.pairwise(ends):
        doc, _, _ = run(ChangesCollector, params(jira), Period(start, end))
        assert all(start <= _parse(i["resolved"]) < end for i in doc["items"])
        filed += [i["key"] for i in doc["items"]]
    expected = sorted(f"CHG-{n + 1}" for n, m in enumerate(moments) if ends[0] <= m < ends[-1])
    assert sorted(filed) == expected and len(filed) == len(set(filed))
    night = Period(ends[1], ends[2])
    doc, _, _ = run(ChangesCollector, params(jira), night)
    assert 'resolved >= "2025/03/02 04:30"' in doc["jql"]  # the night's start, 05:30 ahead, less an hour


def _parse(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z")


def test_query_files_any_population_with_named_fields(jira: JiraServer) -> None:
    risk = jira.add_field("Model name")
    for n in range(5):
        issue = jira.add_issue("RED", "Finding", f"jailbreak {n}", created=T0 + n * dt.timedelta(hours=1))
        issue.custom[risk] = f"model-{n}"
        issue.labels.append("red-team" if n % 2 else "other")
    p = params(jira, jql="project = RED AND labels = red-team ORDER BY created DESC", fields=["model name"])
    doc, findings, _ = run(QueryCollector, {**p, "transitions": True, "name": "red-team"})
    assert [(i["key"], i["fields"]["model name"]) for i in doc["items"]] == [
        ("RED-2", "model-1"),
        ("RED-4", "model-3"),
    ]
    assert findings == [] and doc["items"][0]["transitions"] == []
    assert doc["jql"] == "(project = RED AND labels = red-team) ORDER BY key ASC"
    later = Period(T0 + dt.timedelta(hours=2), T0 + DAY)
    p = {**params(jira, jql="project = RED"), "period_field": "created"}
    doc, _, _ = run(EventsQueryCollector, p, later)
    assert [i["key"] for i in doc["items"]] == ["RED-3", "RED-4", "RED-5"]
    assert all(i["at"] and i["id"].startswith(i["key"] + "@") for i in doc["items"])  # a sample population
    assert EventsQueryCollector.kind == "events" and QueryCollector.kind == "snapshot"
    with pytest.raises(Exception, match="period_field"):  # a snapshot has no period to filter by
        jsonschema.validate(p, QueryCollector.params_schema)


def test_a_bad_jql_is_reported_with_the_instance(jira: JiraServer) -> None:
    with pytest.raises(JiraApiError) as info:
        run(QueryCollector, params(jira, jql="project = = CHG"), instance="nightly-changes")
    text = str(info.value)
    assert text.startswith(f"Jira instance 'nightly-changes' ({jira.url}): search")
    assert "HTTP 400" in text and "Error in the JQL Query" in text and "project = = CHG" in text
    assert "request headers" not in text and jira.token not in text


def test_an_unknown_field_name_is_a_clear_error_with_a_suggestion(jira: JiraServer) -> None:
    jira.add_field("Approvers", "array")
    with pytest.raises(JiraConfigError) as info:
        run(ChangesCollector, params(jira, approver_field="Aprovers"), instance="chg")
    assert str(info.value) == (
        f"Jira instance 'chg' ({jira.url}): approver_field: "
        "no field named 'Aprovers'; did you mean 'Approvers'?"
    )
    assert not jira.calls("/search") and not jira.calls("/search/jql")


def test_throttling_and_outages_are_retried_by_the_shared_policy(jira: JiraServer) -> None:
    seed_changes(jira, 45)
    search = "search/jql" if jira.cloud else "search"
    jira.fail(search, 429, retry_after="1")
    jira.fail("field", 503)
    doc, _, ctx = run(ChangesCollector, params(jira))
    assert len(doc["items"]) == 45
    assert len(jira.calls("/" + search)) == 3  # two pages, one of them twice
    assert ctx.request_count == 3 + 2 + (1 if jira.cloud else 0) + 2  # plus the two retries
    retried = [r for r in jira.responses if r[2] == 429]
    assert len(retried) == 1


def test_wrong_credentials_and_refusals_name_the_instance(jira: JiraServer) -> None:
    with pytest.raises(
        JiraApiError, match=r"Jira instance 'test' .*GET serverInfo: HTTP 401: You are not auth"
    ):
        run(QueryCollector, {**params(jira, jql="project = X"), "token": "wrong-token"})
    if jira.cloud:
        seed_changes(jira, 3)
        jira.forbid("changelog/bulkfetch")
        with pytest.raises(
            JiraApiError, match="POST changelog/bulkfetch: HTTP 403: You do not have the permission"
        ):
            run(ChangesCollector, params(jira))


def test_cloud_search_pages_that_lose_their_place_are_errors() -> None:
    """A repeated token, or a page that is not last but has no token, would drop issues silently."""
    info = {"baseUrl": "x", "version": "1001", "versionNumbers": [1001, 0, 0], "deploymentType": "Cloud"}
    issue = {"id": "1", "key": "A-1", "fields": {}}
    with LoopbackServer() as fake:
        fake.always("/rest/api/2/serverInfo", Reply.json(info))
        fake.always("/rest/api/3/field", Reply.json([]))
        page = {"issues": [issue], "isLast": False, "nextPageToken": "same"}
        fake.always("/rest/api/3/search/jql", Reply.json(page))
        p = {"server": fake.base_url, "token": "t", "email": "e", "jql": "project = A"}
        with pytest.raises(JiraApiError, match="page 2 repeated a nextPageToken; run again"):
            run(QueryCollector, p)
        fake.always("/rest/api/3/search/jql", Reply.json({"issues": [issue], "isLast": False}))
        with pytest.raises(JiraApiError, match=r"page 1 is not the last \(isLast false\) but has no token"):
            run(QueryCollector, p)
        fake.always("/rest/api/3/search/jql", Reply.text(""))  # an empty 200 is not an empty result
        with pytest.raises(JiraApiError, match=r"page 1 is not a search result \(no `issues` list\)"):
            run(QueryCollector, p)
        fake.always("/rest/api/3/search/jql", Reply.text("<html>Log in</html>", content_type="text/html"))
        with pytest.raises(
            JiraApiError, match=r"search.*: the response is not JSON; is `server` the Jira base URL\?"
        ):
            run(QueryCollector, p)


def test_data_center_pages_that_shift_while_read_are_read_again() -> None:
    """A change reopened between two offset pages moves every later issue one place left: the
    first issue of the next page would be skipped with every count still adding up."""
    with JiraServer(cloud=False) as jira:
        alice, _ = seed_changes(jira, 60)
        reopened = [jira.issues["CHG-3"], jira.issues["CHG-4"], jira.issues["CHG-5"], jira.issues["CHG-6"]]

        def reopen(issue: Any) -> Any:
            return lambda: jira.transition(issue, "Reopened", by=alice, at=T0 + 4 * DAY, reopen=True)

        jira.after("/search", 1, reopen(reopened[0]))  # during the first read
        doc, _, _ = run(ChangesCollector, params(jira, page_size=10))
        expected = [f"CHG-{n}" for n in range(1, 61) if n != 3]
        assert [i["key"] for i in doc["items"]] == expected  # CHG-12 would be missing
        assert len(jira.calls("/search")) == 2 + 7  # two pages of the broken read; 10 + 9 * 6 issues
        for n, issue in enumerate(reopened[1:], start=1):
            jira.after("/search", 2 * n - 1, reopen(issue))  # after the first page of every read
        with pytest.raises(JiraApiError, match=r"results kept changing while paging .*; run again"):
            run(ChangesCollector, params(jira, page_size=10))


@pytest.mark.parametrize("endpoint", [True, False], ids=["changelog-endpoint", "no-endpoint"])
def test_data_center_changelogs_cut_short_are_read_in_full_or_marked_incomplete(endpoint: bool) -> None:
    """`expand=changelog` holds only the latest histories: the approval, the oldest, would be lost
    and the change reported as unapproved. Read the rest where Jira can; where it cannot (no
    `issue/{key}/changelog`, as on Data Center 8.x), say the history is incomplete instead."""
    with JiraServer(cloud=False, changelog_cap=3, changelog_endpoint=endpoint) as jira:
        alice, bob = seed_changes(jira, 2)  # three histories each: within the cap
        notes = jira.add_field("Notes")
        approved = jira.add_issue("CHG", "Change", "long history, approved", created=T0, reporter=alice)
        unapproved = jira.add_issue("CHG", "Change", "long history, unapproved", created=T0, reporter=alice)
        jira.transition(approved, "Approved", by=bob, at=T0 + dt.timedelta(hours=1))
        for issue in (approved, unapproved):
            for n in range(4):
                jira.set_field(issue, notes, f"step {n}", by=alice, at=T0 + dt.timedelta(hours=2, minutes=n))
            jira.transition(issue, "Implemented", by=alice, at=T0 + dt.timedelta(hours=5), resolution="Done")
        doc, findings, _ = run(ChangesCollector, params(jira))
    records = {i["key"]: i for i in doc["items"]}
    got = sorted((f["code"], f["subject"]) for f in findings)
    asked = [urlsplit(c) for c in jira.calls("/changelog")]
    paths = [(u.path, parse_qs(u.query).get("startAt")) for u in asked]
    if endpoint:  # 7 and 6 histories, in the server's pages of 3
        assert paths == [
            *((f"/rest/api/2/issue/{approved.key}/changelog", [s]) for s in ("0", "3", "6")),
            *((f"/rest/api/2/issue/{unapproved.key}/changelog", [s]) for s in ("0", "3")),
        ]
        assert got == [("implemented-without-approval", unapproved.key)]
        assert records[approved.key]["approvals"][0]["by"] == {"id": "bob", "name": "Bob Brown"}
        assert [t["to"] for t in records[unapproved.key]["transitions"]] == ["Implemented"]
        assert all(r["history_complete"] for r in records.values())
        assert doc["notes"] == []
    else:  # one 404 each
        assert [p for p, _ in paths] == [
            f"/rest/api/2/issue/{k}/changelog" for k in (approved.key, unapproved.key)
        ]
        assert got == [
            ("change-history-incomplete", approved.key),
            ("change-history-incomplete", unapproved.key),
        ]
        assert all("history incomplete" in f["message"] for f in findings)
        assert {k for k, r in records.items() if not r["history_complete"]} == {approved.key, unapproved.key}
        assert doc["notes"] == [
            f"{k}: history incomplete: the changelog has {n} entries, Jira returned 3 "
            "(this Jira has no GET issue/{key}/changelog (404))"
            for k, n in ((approved.key, 7), (unapproved.key, 6))
        ]
