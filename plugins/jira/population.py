"""The flow every Jira collector shares: connect, resolve field names, search, read changelogs.

A collector states which parameters name fields, whether its population is the period's events
(and by which date), and which fields' history it needs; `gather` does the rest and hands back
issues as evidence records, ready for the collector's own fields and findings.

Every artefact has one shape, so `evidentia sample` and an auditor's `jq` read any of them alike:
the records are a top-level `items` list, each with a stable `id`. In an event population the
record is one occurrence (a resolution), so its `id` is the issue key and that moment (`CHG-7@
2025-03-01T10:00:00Z`) and `at` is the moment: a change reopened and resolved again on a later
night is a second occurrence, not a duplicate of the first. In a snapshot the `id` is the key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from evidentia import Artefact, CollectContext, Finding, Period

from .records import BASE_FIELDS, history_entries, issue_record, natural_key
from .window import PERIOD_FIELDS, combine, in_period, jql_window, parse_time, user_zone, utc_text


@dataclass(frozen=True)
class Plan:
    """What one collector asks of Jira."""

    named_fields: Mapping[str, str | None] = field(default_factory=dict)  # parameter → field name
    system_fields: tuple[str, ...] = ()  # extra field IDs (issuelinks, duedate)
    period_field: str | None = None  # JQL date field deciding membership: resolved, created, updated
    period_shift: dt.timedelta = dt.timedelta(0)  # judge events this long after they happen
    history_of: tuple[str, ...] = ()  # parameters or field IDs whose changelog is needed
    jql_clauses: tuple[str, ...] = ()


@dataclass
class Population:
    """The issues of one run as records, with what was asked and how."""

    server: str
    cloud: bool
    jql: str
    fields: dict[str, str]  # name given in config → field ID
    records: list[dict[str, Any]]
    raw: dict[str, dict[str, Any]]  # key → issue JSON, for collector-specific fields
    period: Period | None
    pages: int
    repeated: int
    notes: list[str]
    info: dict[str, Any]

    def document(self, **extra: Any) -> dict[str, Any]:
        """The artefact body: instance, query, field mapping, the issues, and any notes."""
        doc: dict[str, Any] = {
            "server": self.server,
            "deployment": "cloud" if self.cloud else "server/data-center",
            "jql": self.jql,
            "fields": self.fields,
            "items": self.records,
            "notes": self.notes,
        }
        if self.period is not None:
            doc["period"] = self.period.to_dict()
        doc.update(extra)
        return doc

    def artefact(self, name: str, findings: list[Finding], **extra: Any) -> Artefact:
        summary = {"issues": len(self.records), "pages": self.pages, "findings": len(findings)}
        return Artefact.json(
            name, self.document(**extra), source=self.server, findings=findings, summary=summary
        )


def gather(ctx: CollectContext, plan: Plan) -> Population:
    """Run the plan against the configured instance; errors name the instance and what failed."""
    from .connection import connect
    from .search import changelogs, search

    params = ctx.params
    conn = connect(ctx)
    wanted = [("fields", name) for name in params.get("fields") or []]
    wanted += [(param, str(name)) for param, name in plan.named_fields.items() if name]
    resolved = conn.resolve_fields(wanted) if wanted else {}
    field_ids = list(dict.fromkeys([*BASE_FIELDS.values(), *plan.system_fields, *resolved.values()]))
    clauses = list(plan.jql_clauses)
    period: Period | None = None
    if plan.period_field:
        period = Period(ctx.period.start - plan.period_shift, ctx.period.end - plan.period_shift)
        zone = user_zone(conn.call("GET myself", conn.client.myself))
        clauses.append(jql_window(plan.period_field, period, zone))
    jql = combine(str(params["jql"]), *clauses)
    found = search(conn, jql, field_ids, int(params.get("page_size", 100)), changelog=bool(plan.history_of))
    issues = found.issues
    if period is not None and plan.period_field:
        stamp = PERIOD_FIELDS[plan.period_field]
        issues = [i for i in issues if in_period((i.get("fields") or {}).get(stamp), period)]
    issues.sort(key=lambda i: natural_key(str(i.get("key", ""))))
    extra = {name: resolved[name] for _, name in wanted}
    records = [issue_record(i, conn.server, extra) for i in issues]
    if period is not None and plan.period_field:
        for record, issue in zip(records, issues, strict=True):
            moment = parse_time((issue.get("fields") or {}).get(PERIOD_FIELDS[plan.period_field]))
            assert moment is not None  # kept above only when it lies in the period
            record["at"] = utc_text(moment)
            record["id"] = f"{record['key']}@{record['at']}"
    notes = list(found.notes)
    if plan.history_of:
        tracked, names = _tracked(plan, resolved)
        logs = changelogs(conn, issues, tracked, names)
        notes += logs.notes
        for record in records:
            record["history"] = history_entries(logs.histories.get(record["issue_id"], []))
            record["history_complete"] = record["issue_id"] not in logs.incomplete
    return Population(
        server=conn.server,
        cloud=conn.cloud,
        jql=jql,
        fields=extra,
        records=records,
        raw={str(i.get("key")): i for i in issues},
        period=period,
        pages=found.pages,
        repeated=found.repeated,
        notes=notes,
        info=conn.info,
    )


def _tracked(plan: Plan, resolved: Mapping[str, str]) -> tuple[list[str], list[str]]:
    """(field IDs, names) whose history is read: field IDs as given, parameters when configured."""
    ids, names = [], []
    for item in plan.history_of:
        if item in plan.named_fields:
            name = plan.named_fields[item]
            if name:
                ids.append(resolved[name])
                names.append(name)
        else:
            ids.append(item)
            names.append(item)
    return ids, names
