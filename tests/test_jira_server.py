"""The loopback Jira answers in Atlassian's documented shapes, and the CLI keeps the token out.

Every 200 the server sends while the collectors run (and for users and group members) is validated
against the operation's response schema in `../shared/reference/jira-cloud-rest-v3-subset.json`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
import requests
from jira_server import JiraServer, Option
from support import REPO, cli_env, run_cli, write_config
from test_jira_changes import T0, params, run, seed_changes

from evidentia.plugins.jira.changes import ChangesCollector
from evidentia.plugins.jira.incidents import IncidentsCollector
from evidentia.plugins.jira.query import QueryCollector

REFERENCE = REPO.parent / "shared" / "reference" / "jira-cloud-rest-v3-subset.json"


def _schemas() -> dict[str, Any]:
    if not REFERENCE.exists():
        pytest.skip(f"{REFERENCE} is absent (it ships beside the repository in CI, not in clones)")
    return json.loads(REFERENCE.read_text())


def _schema_for(doc: dict[str, Any], method: str, path: str) -> dict[str, Any] | None:
    path = re.sub(r"^/rest/api/(2|latest)/", "/rest/api/3/", path)
    for template, operations in doc["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            content = operations[method.lower()]["responses"]["200"]["content"]["application/json"]
            return {**content["schema"], "components": doc["components"]}
    return None


def test_every_response_matches_the_published_schema() -> None:
    from jsonschema import Draft202012Validator

    doc = _schemas()
    with JiraServer(cloud=True, bulk_page=50) as jira:
        seed_changes(jira, 60)
        approvers = jira.add_field("Approvers", "array")
        issue = jira.add_issue("INC", "Incident", "leak", created=T0, labels=["security"])
        issue.custom[approvers] = [jira.users["bob"]]
        issue.custom[jira.add_field("Severity")] = Option("Sev2")
        jira.transition(
            issue, "Resolved", by=jira.users["bob"], at=T0 + dt.timedelta(hours=1), resolution="Done"
        )
        jira.groups["auditors"] = [jira.users["alice"], jira.users["bob"]]
        run(ChangesCollector, params(jira, approver_field="Approvers", page_size=25))
        run(IncidentsCollector, params(jira, severity_field="Severity"))
        run(QueryCollector, params(jira, jql="project = CHG", fields=["Approvers"]))
        auth = (jira.login, jira.token)
        for extra in (
            "users/search?maxResults=2",
            "group/member?groupname=auditors",
            "issue/CHG-1/changelog",
        ):
            assert requests.get(f"{jira.url}/rest/api/3/{extra}", auth=auth, timeout=5).ok
        responses = list(jira.responses)
    checked: dict[str, int] = {}
    for method, path, status, body in responses:
        assert status == 200, (method, path, body)
        schema = _schema_for(doc, method, path)
        assert schema is not None, f"no documented operation for {method} {path}"
        errors = [e.message for e in Draft202012Validator(schema).iter_errors(body)]
        assert errors == [], f"{method} {path}: {errors[:3]}"
        operation = re.sub(r"/rest/api/\w+/", "", path)
        checked[operation] = checked.get(operation, 0) + 1
    # 60 changes in pages of 25, one incident, 60 CHG issues in pages of 40
    assert checked["search/jql"] == 3 + 1 + 2 and checked["changelog/bulkfetch"] >= 3
    assert {"serverInfo", "field", "myself", "users/search", "group/member", "issue/CHG-1/changelog"} <= set(
        checked
    )


@pytest.mark.parametrize("cloud", [True, False], ids=["cloud", "data-center"])
def test_error_bodies_are_jiras(cloud: bool) -> None:
    with JiraServer(cloud=cloud) as jira:
        base = f"{jira.url}/rest/api/{3 if cloud else 2}"
        auth = (jira.login, jira.token)
        assert requests.get(f"{base}/field", timeout=5).status_code == 401
        search = "search/jql" if cloud else "search"
        bad = requests.get(f"{base}/{search}", params={"jql": "project ~ X"}, auth=auth, timeout=5)
        assert bad.status_code == 400 and bad.json()["errorMessages"][0].startswith("Error in the JQL Query")
        unknown = requests.get(f"{base}/{search}", params={"jql": "sprint = 3"}, auth=auth, timeout=5)
        assert unknown.json() == {
            "errorMessages": ["Field 'sprint' does not exist or you do not have permission to view it."],
            "errors": {},
        }
        jira.fail("field", 429, retry_after="7")
        throttled = requests.get(f"{base}/field", auth=auth, timeout=5)
        assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "7")
        group = requests.get(f"{base}/group/member", params={"groupname": "nobody"}, auth=auth, timeout=5)
        assert group.status_code == 404
        if cloud:
            assert requests.get(f"{jira.url}/rest/api/2/search", auth=auth, timeout=5).status_code == 410
        else:
            assert requests.get(f"{jira.url}/rest/api/3/field", auth=auth, timeout=5).status_code == 404


def test_cli_collects_verifies_and_never_files_the_token(tmp_path: Path) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    with JiraServer(cloud=False) as jira:
        alice, bob = jira.add_user("alice", "Alice"), jira.add_user("bob", "Bob")
        for n in range(30):
            issue = jira.add_issue(
                "CHG", "Change", f"mentions {jira.token}" if n == 0 else f"c{n}", created=now, reporter=alice
            )
            jira.transition(issue, "Approved", by=bob if n else alice, at=now - dt.timedelta(hours=3))
            jira.transition(
                issue, "Implemented", by=alice, at=now - dt.timedelta(hours=2, minutes=n), resolution="Done"
            )
        cfg = write_config(
            tmp_path,
            f"""
            collectors:
              - id: changes
                plugin: jira.changes
                params: {{server: "{jira.url}", page_size: 7}}
              - id: broken-jql
                plugin: jira.query
                principles: [P2]
                params: {{server: "{jira.url}", jql: "project = = CHG"}}
            """,
        )
        env = cli_env(JIRA_API_TOKEN=jira.token)
        done = run_cli("collect", "-c", str(cfg), "--json", "-v", cwd=tmp_path, env=env)
    assert done.returncode == 1, done.stdout + done.stderr  # the broken instance fails the run
    instances = {i["id"]: i for i in json.loads(done.stdout)["instances"]}
    assert instances["changes"]["status"] == "ok" and instances["changes"]["findings"] == 1
    assert instances["changes"]["requests"] == 3 + 5
    reason = instances["broken-jql"]["reason"]
    assert "Jira instance 'broken-jql'" in reason and "Error in the JQL Query" in reason
    store = tmp_path / "evidence"
    verified = run_cli("verify", str(store), cwd=tmp_path, env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    filed = list(store.glob("P02-*/changes/*--changes.json"))
    assert len(filed) == 1 and "[REDACTED]" in filed[0].read_text()
    leaked = [p for p in store.rglob("*") if p.is_file() and jira.token.encode() in p.read_bytes()]
    assert leaked == []
    assert jira.token not in done.stdout + done.stderr
