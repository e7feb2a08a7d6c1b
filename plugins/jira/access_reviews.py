"""`jira.access_reviews`: periodic access-review tickets, their schedule, reviewers and outcomes.

Access reviews are a population over time: one ticket per review cycle (per system, when a field
such as the component names it). Each ticket is filed with when it was raised, due and completed,
who reviewed and the outcome. Findings: `access-review-overdue` (open past its due date, or
completed after it) and `access-review-missing` (a cycle with no review: more than `cadence_days`
plus `grace_days` between consecutive reviews of a system, or since its last one, or between the
start of the look-back window and its first one). The last is `medium`, not `high`: the tickets
cannot tell a system that went unreviewed from one that did not exist yet.

A snapshot of the tickets created in the last `since_days` (a relative JQL date, so the query and
the filed evidence stay identical while nothing changes).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any, ClassVar

from evidentia import Artefact, CollectContext, Collector, Finding

from .params import PERMISSIONS, SECRET_PARAMS, days, field_name, params_schema
from .population import Plan, gather
from .window import parse_time

DEFAULT_JQL = "labels = access-review"


class AccessReviewsCollector(Collector):
    name = "jira.access_reviews"
    version = "1"
    description = (
        "Periodic access-review tickets: created, due and completed, reviewer and outcome; findings "
        "for overdue reviews and review cycles with no review."
    )
    principles = ("P6",)
    kind = "snapshot"
    secret_params = SECRET_PARAMS
    permissions = PERMISSIONS
    params_schema: ClassVar[dict[str, Any]] = params_schema(
        DEFAULT_JQL,
        {
            "reviewer_field": field_name("A user field naming the reviewer (default: the assignee)"),
            "outcome_field": field_name("The outcome field (default: the resolution)"),
            "system_field": field_name(
                "A field naming the system reviewed, one cycle per value (e.g. components)"
            ),
            "cadence_days": days("Days between reviews of a system", 90, 1),
            "grace_days": days("Days a review may be late before the cycle counts as missing", 14),
            "since_days": days("Look at review tickets created in this many past days", 400, 1),
        },
    )

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        p = ctx.params
        named = {k: p.get(k) for k in ("reviewer_field", "outcome_field", "system_field")}
        plan = Plan(
            named_fields=named, system_fields=("duedate",), jql_clauses=(f"created >= -{p['since_days']}d",)
        )
        population = gather(ctx, plan)
        findings = []
        for record in population.records:
            values = record["fields"]
            raw_fields = population.raw[record["key"]].get("fields") or {}
            record["due"] = raw_fields.get("duedate")
            record["reviewer"] = (
                values.get(p["reviewer_field"]) if p.get("reviewer_field") else record["assignee"]
            )
            record["outcome"] = (
                values.get(p["outcome_field"]) if p.get("outcome_field") else record["resolution"]
            )
            system = values.get(p["system_field"]) if p.get("system_field") else None
            record["system"] = ", ".join(map(str, system)) if isinstance(system, list) else system
            findings.extend(overdue(record, ctx.now))
        since = ctx.now - dt.timedelta(days=int(p["since_days"]))
        findings.extend(
            missing(population.records, since, ctx.now, int(p["cadence_days"]), int(p["grace_days"]))
        )
        yield population.artefact("access-reviews", findings, cadence_days=p["cadence_days"])


def overdue(record: dict[str, Any], now: dt.datetime) -> list[Finding]:
    due, done, key = parse_time(record["due"]), parse_time(record["resolved"]), record["key"]
    if due is None:
        return []
    deadline = due + dt.timedelta(days=1)  # a due date is the whole day
    if done is None and deadline <= now:
        return [
            Finding(
                "access-review-overdue",
                f"{key} was due {record['due']} and is not completed",
                "high",
                subject=key,
            )
        ]
    if done is not None and done >= deadline:
        message = f"{key} was due {record['due']} and completed late, {record['resolved']}"
        return [Finding("access-review-overdue", message, "medium", subject=key)]
    return []


def missing(
    records: list[dict[str, Any]], since: dt.datetime, now: dt.datetime, cadence: int, grace: int
) -> list[Finding]:
    """Cycles with no review of a system in the look-back window (`since` to `now`): before its
    first review, between consecutive ones, and since its last one."""
    allowed = dt.timedelta(days=cadence + grace)
    by_system: dict[str, list[dt.datetime]] = {}
    for record in records:
        created = parse_time(record["created"])
        if created is not None:
            by_system.setdefault(str(record.get("system") or "all systems"), []).append(created)
    if not by_system:
        return [
            Finding(
                "access-review-missing",
                "no access-review tickets matched the JQL",
                "high",
                subject="all systems",
            )
        ]
    out = []
    for system, moments in sorted(by_system.items()):
        moments.sort()
        for before, after in zip([since, *moments], [*moments, now], strict=True):
            if after - before > allowed:
                start = before.date().isoformat()
                if before is since:
                    start += " (the start of the look-back window)"
                end = "now" if after is now else after.date().isoformat()
                out.append(
                    Finding(
                        "access-review-missing",
                        f"{system}: no access review between {start} and {end} "
                        f"(every {cadence} days expected, {grace} days' grace)",
                        "medium" if before is since else "high",
                        subject=system,
                    )
                )
    return out


COLLECTORS: tuple[type[Collector], ...] = (AccessReviewsCollector,)
