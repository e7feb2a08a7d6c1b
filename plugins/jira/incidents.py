"""`jira.incidents`: security incidents resolved in the period, with timeline, severity and reviews.

Each incident is filed with its timeline (created, every status change with who and when,
resolved), its severity, whether AI systems were involved (a label, a component or a yes/no
field), and its post-incident review: a linked issue of a review type that is done, a review field,
or a label.

Membership is the resolution date, shifted back by `review_grace_days`: an incident is filed once
that many days have passed since it was resolved, so the review it should have by then is judged
fairly, and consecutive nights still file each incident exactly once.

Finding: `incident-without-post-incident-review`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from evidentia import Artefact, CollectContext, Collector, Finding

from .params import EVENTS_SETTLE, PERMISSIONS, SECRET_PARAMS, days, field_name, names, params_schema
from .population import Plan, gather
from .records import links, lower_set, transitions, truthy

DEFAULT_JQL = "issuetype = Incident AND labels = security"


class IncidentsCollector(Collector):
    name = "jira.incidents"
    version = "1"
    description = (
        "Security incidents resolved in the period with their timeline, severity, AI involvement "
        "(label, component or field) and post-incident review; finding for incidents without a review."
    )
    principles = ("P6", "P10", "P12")
    kind = "events"
    default_settle = EVENTS_SETTLE
    secret_params = SECRET_PARAMS
    permissions = PERMISSIONS
    params_schema: ClassVar[dict[str, Any]] = params_schema(
        DEFAULT_JQL,
        {
            "severity_field": field_name("The severity field (default: priority)"),
            "ai_labels": names("Labels that mark AI involvement", ["ai", "ai-system"]),
            "ai_components": names("Components that are AI systems", []),
            "ai_field": field_name("A yes/no field marking AI involvement, if used"),
            "review_issue_types": names("Issue types of post-incident reviews", ["Post-incident review"]),
            "review_done_statuses": names(
                "Statuses of a linked review that mean it was held (any status in Jira's Done category also "
                "counts)",
                ["Done", "Closed", "Resolved"],
            ),
            "review_labels": names("Labels saying the review was done", ["pir-done"]),
            "review_field": field_name("A field holding the review (link or text), if used"),
            "review_grace_days": days("Days after resolution before an incident is filed and judged", 0),
        },
    )

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        p = ctx.params
        named = {k: p.get(k) for k in ("severity_field", "ai_field", "review_field")}
        plan = Plan(
            named_fields=named,
            system_fields=("issuelinks",),
            period_field="resolved",
            period_shift=dt.timedelta(days=int(p.get("review_grace_days", 0))),
            history_of=("status",),
        )
        population = gather(ctx, plan)
        findings = []
        for record in population.records:
            raw = population.raw[record["key"]]
            extra = record["fields"]
            record["severity"] = (
                extra.get(p["severity_field"]) if p.get("severity_field") else record["priority"]
            )
            record["ai_involved"] = ai_involved(record, p)
            trail = transitions(record.pop("history"))
            record["timeline"] = [
                {"at": record["created"], "event": "created", "by": record["reporter"]},
                *({"at": t["at"], "event": f"{t['from']} → {t['to']}", "by": t["by"]} for t in trail),
            ]
            record["links"] = links(raw)
            record["post_incident_review"] = review(record, p)
            if not record["post_incident_review"]:
                findings.append(
                    Finding(
                        "incident-without-post-incident-review",
                        f"{record['key']} (severity {record['severity']}) was resolved {record['resolved']} "
                        "with no post-incident review",
                        "high" if record["ai_involved"] else "medium",
                        subject=record["key"],
                    )
                )
        yield population.artefact("incidents", findings, review_grace_days=int(p.get("review_grace_days", 0)))


def ai_involved(record: dict[str, Any], p: Mapping[str, Any]) -> bool:
    if lower_set(record["labels"]) & lower_set(p.get("ai_labels")):
        return True
    if lower_set(record["components"]) & lower_set(p.get("ai_components")):
        return True
    return bool(p.get("ai_field")) and truthy(record["fields"].get(p["ai_field"]))


def review(record: dict[str, Any], p: Mapping[str, Any]) -> list[str]:
    """What shows the review: linked review issues that are done (a review ticket still open is a
    review planned, not held), the review field, review labels."""
    types, done = lower_set(p.get("review_issue_types")), lower_set(p.get("review_done_statuses"))
    found = [
        f"linked {link['key']} ({link['status']})"
        for link in record["links"]
        if str(link["issue_type"]).lower() in types
        and (link.get("status_category") == "done" or str(link["status"]).lower() in done)
    ]
    if p.get("review_field") and record["fields"].get(p["review_field"]):
        found.append(f"field {p['review_field']}")
    found += [
        f"label {label}" for label in record["labels"] if label.lower() in lower_set(p.get("review_labels"))
    ]
    return found


COLLECTORS: tuple[type[Collector], ...] = (IncidentsCollector,)
