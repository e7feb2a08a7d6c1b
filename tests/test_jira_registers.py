"""`jira.incidents`, `jira.access_reviews`, `jira.vendors` and `jira.risks` against the loopback Jira.

Each seeded population has one culprit per finding next to clean look-alikes, on both deployments.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from jira_server import JiraServer, Option
from test_jira_changes import DAY, T0, params, run

from evidentia import Period
from evidentia.plugins.jira.access_reviews import AccessReviewsCollector
from evidentia.plugins.jira.connection import JiraConfigError
from evidentia.plugins.jira.incidents import IncidentsCollector
from evidentia.plugins.jira.risks import RisksCollector
from evidentia.plugins.jira.vendors import VendorsCollector


@pytest.fixture(params=[True, False], ids=["cloud", "data-center"])
def jira(request: pytest.FixtureRequest) -> Iterator[JiraServer]:
    with JiraServer(cloud=request.param) as server:
        yield server


def test_incidents_with_timeline_ai_involvement_and_reviews(jira: JiraServer) -> None:
    sec, lead = jira.add_user("sec", "Sec Ops"), jira.add_user("lead", "Incident Lead")
    severity = jira.add_field("Severity")
    made = []
    for n, labels in enumerate(
        [["security", "ai-system"], ["security"], ["security", "pir-done"], ["other"]]
    ):
        issue = jira.add_issue("INC", "Incident", f"incident {n}", created=T0, reporter=sec, labels=labels)
        issue.custom[severity] = Option("Sev1" if n == 0 else "Sev3")
        jira.transition(issue, "Investigating", by=lead, at=T0 + dt.timedelta(hours=1))
        jira.transition(issue, "Resolved", by=lead, at=T0 + dt.timedelta(hours=4 + n), resolution="Fixed")
        made.append(issue)
    review = jira.add_issue("INC", "Post-incident review", "PIR for incident 1", created=T0 + DAY)
    jira.transition(review, "Done", by=lead, at=T0 + 2 * DAY, resolution="Done")
    made[1].links.append(("Relates", "inward", review.key))
    planned = jira.add_issue("INC", "Post-incident review", "PIR for incident 0, not held yet", created=T0)
    made[0].links.append(("Relates", "inward", planned.key))  # still open: no review yet
    doc, findings, _ = run(IncidentsCollector, params(jira, severity_field="Severity"))
    assert [i["key"] for i in doc["items"]] == [m.key for m in made[:3]]  # not the 'other' label
    first = doc["items"][0]
    assert first["severity"] == "Sev1" and first["ai_involved"] is True
    assert [e["event"] for e in first["timeline"]] == [
        "created",
        "Open → Investigating",
        "Investigating → Resolved",
    ]
    assert doc["items"][1]["post_incident_review"] == [f"linked {review.key} (Done)"]
    assert doc["items"][2]["post_incident_review"] == ["label pir-done"]
    assert [(f["code"], f["subject"], f["severity"]) for f in findings] == [
        ("incident-without-post-incident-review", made[0].key, "high")  # AI involved: high
    ]
    # with a week's grace, incidents resolved this period are judged next week instead
    doc, _, _ = run(IncidentsCollector, params(jira, review_grace_days=7), Period(T0, T0 + 3 * DAY))
    assert doc["items"] == [] and doc["period"]["end"] == "2025-02-25T00:00:30Z"


def test_access_reviews_overdue_late_and_missing_cycles(jira: JiraServer) -> None:
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    reviewer = jira.add_user("rev", "Reviewer")
    system = jira.add_field("System")
    plan = [  # (system, created days ago, due days from creation, completed days after creation or None)
        ("sagemaker", 200, 14, 10),
        ("sagemaker", 110, 14, 20),  # completed late
        ("sagemaker", 20, 14, 5),
        ("bedrock", 300, 14, 3),  # then nothing for 300 days: missing cycles
        ("mlflow", 30, 14, None),  # open past its due date
    ]
    for name, ago, due, done in plan:
        created = now - dt.timedelta(days=ago)
        issue = jira.add_issue(
            "SEC", "Task", f"Q review {name}", created=created, labels=["access-review"], assignee=reviewer
        )
        issue.due = (created + dt.timedelta(days=due)).date()
        issue.custom[system] = Option(name)
        if done is not None:
            jira.transition(
                issue, "Done", by=reviewer, at=created + dt.timedelta(days=done), resolution="Done"
            )
    doc, findings, _ = run(
        AccessReviewsCollector, params(jira, system_field="System"), Period(now - DAY, now)
    )
    assert len(doc["items"]) == 5 and doc["items"][0]["reviewer"] == {"id": "rev", "name": "Reviewer"}
    assert "created >= -400d" in doc["jql"]
    got = sorted((f["code"], f["subject"], f["severity"]) for f in findings)
    keys = [i["key"] for i in doc["items"]]
    assert got == [
        ("access-review-missing", "bedrock", "high"),
        ("access-review-missing", "mlflow", "medium"),  # first review 370 days into the window
        ("access-review-missing", "sagemaker", "medium"),  # 200 days in; bedrock's 100 are within 104
        ("access-review-overdue", keys[1], "medium"),
        ("access-review-overdue", keys[4], "high"),
    ]
    missing = {f["subject"]: f["message"] for f in findings if f["code"] == "access-review-missing"}
    assert "and now" in missing["bedrock"]
    window = (now - dt.timedelta(days=400)).date().isoformat()
    first = (now - dt.timedelta(days=30)).date().isoformat()
    assert f"between {window} (the start of the look-back window) and {first}" in missing["mlflow"]


def test_vendors_flag_ai_providers_without_a_recent_assessment(jira: JiraServer) -> None:
    fields = {
        n: jira.add_field(n)
        for n in ("Service", "AI provider", "Data shared", "Risk rating", "Last assessment")
    }
    today = dt.datetime.now(dt.timezone.utc).date()
    rows = [  # vendor, ai, assessed days ago, label
        ("OpenAI", "Yes", 100, None),
        ("Anthropic", "Yes", 500, None),
        ("ModelHost", "No", None, "ai-vendor"),  # AI by label, never assessed
        ("Payroll Inc", "No", None, None),  # not AI: no finding even unassessed
    ]
    for name, ai, ago, label in rows:
        issue = jira.add_issue("VEN", "Vendor", name, created=T0, labels=[label] if label else [])
        issue.custom.update({fields["Service"]: "LLM API", fields["AI provider"]: Option(ai)})
        issue.custom[fields["Data shared"]] = ["prompts", "logs"]
        issue.custom[fields["Risk rating"]] = Option("High")
        if ago is not None:
            issue.custom[fields["Last assessment"]] = (today - dt.timedelta(days=ago)).isoformat()
    now = dt.datetime.now(dt.timezone.utc)
    doc, findings, _ = run(VendorsCollector, params(jira), Period(now - DAY, now))
    openai = doc["items"][0]
    assert (openai["vendor"], openai["ai_provider"], openai["data_shared"], openai["risk_rating"]) == (
        "OpenAI",
        True,
        ["prompts", "logs"],
        "High",
    )
    assert sorted((f["code"], f["subject"]) for f in findings) == [
        ("ai-vendor-not-assessed", "VEN-2"),
        ("ai-vendor-not-assessed", "VEN-3"),
    ]
    assert "never assessed" in next(f["message"] for f in findings if f["subject"] == "VEN-3")


def test_risks_with_owner_status_and_review_date(jira: JiraServer) -> None:
    owner = jira.add_user("risk-owner", "Risk Owner")
    review = jira.add_field("Review date", "date")
    past, future = "2020-01-01", "2999-01-01"
    specs = [
        ("Risk", [], owner, future),
        ("Threat Model", [], None, future),
        ("Task", ["ai-risk"], owner, past),
    ]
    for kind, labels, assignee, when in specs:
        issue = jira.add_issue("RISK", kind, f"{kind} item", created=T0, labels=labels, assignee=assignee)
        issue.custom[review] = when
    jira.add_issue("RISK", "Task", "unrelated", created=T0)
    doc, findings, _ = run(RisksCollector, params(jira, review_date_field="Review date"))
    assert [(i["key"], i["status"], i["review_date"]) for i in doc["items"]] == [
        ("RISK-1", "Open", future),
        ("RISK-2", "Open", future),
        ("RISK-3", "Open", past),
    ]
    assert sorted((f["code"], f["subject"]) for f in findings) == [
        ("risk-review-overdue", "RISK-3"),
        ("risk-without-owner", "RISK-2"),
    ]


def test_a_register_without_a_default_field_says_how_to_leave_it_out(jira: JiraServer) -> None:
    for name in ("Service", "AI provider", "Risk rating", "Last assessment"):  # no "Data shared"
        jira.add_field(name)
    jira.add_issue("VEN", "Vendor", "OpenAI", created=T0, labels=["ai-vendor"])
    with pytest.raises(
        JiraConfigError, match=r"data_field: no field named 'Data shared'; .*data_field: null"
    ):
        run(VendorsCollector, params(jira), instance="vendors")
    doc, findings, _ = run(VendorsCollector, params(jira, data_field=None))
    assert [(i["vendor"], i["data_shared"], i["ai_provider"]) for i in doc["items"]] == [
        ("OpenAI", None, True)
    ]
    assert [f["subject"] for f in findings] == ["VEN-1"]  # never assessed
