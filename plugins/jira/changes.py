"""`jira.changes`: change tickets resolved in the period, with the approval trail behind each.

Auditors sample change tickets and ask: who approved it, when, and before it was implemented? The
changelog answers that (the workflow transitions, with author and time), so each ticket is filed
with its full status history, its approvers (the authors of approval transitions, plus the users
in an approvers field when one is configured) and its linked issues and development fields.

Membership is the resolution date: a ticket belongs to the period in which it was resolved, so
consecutive nights file each resolution once. A ticket reopened and resolved again later is filed
again, with its new resolution, as a second change.

Findings: `implemented-without-approval` (reached an implemented status with no approval before
it) and `approved-by-requester` (every approval before it came from the person who raised the
change). An approval counts only if it is dated before the first move into an implemented status:
an approval transition by its time, an approvers-field entry by when the field was filled (from its
changelog; from creation when it was filled then), so approving after the fact does not pass.
When Jira returned only part of a ticket's changelog (`history_complete: false`; see `search`),
either finding becomes `change-history-incomplete`: the missing entries may hold the approval.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from evidentia import Artefact, CollectContext, Collector, Finding

from .params import EVENTS_SETTLE, PERMISSIONS, SECRET_PARAMS, field_name, names, params_schema
from .population import Plan, gather
from .records import links, lower_set, person, plain, transitions
from .window import parse_time

DEFAULT_JQL = "issuetype = Change"


class ChangesCollector(Collector):
    name = "jira.changes"
    version = "1"
    description = (
        "Change tickets resolved in the period with their full transition history (who moved them "
        "to approved and done, and when), approvers, linked issues and development fields; findings "
        "for changes implemented without approval and changes approved by their requester."
    )
    principles = ("P2", "P8", "P11")
    kind = "events"
    default_settle = EVENTS_SETTLE
    secret_params = SECRET_PARAMS
    permissions = PERMISSIONS
    params_schema: ClassVar[dict[str, Any]] = params_schema(
        DEFAULT_JQL,
        {
            "approval_statuses": names("Statuses whose entry is an approval", ["Approved"]),
            "implemented_statuses": names(
                "Statuses that mean the change was carried out", ["Implemented", "Done", "Closed"]
            ),
            "approver_field": field_name("A user field listing approvers (e.g. Approvers), if used"),
            "requester_field": field_name("A user field naming the requester (default: the reporter)"),
            "link_fields": names("Fields holding linked PRs or deployments (e.g. Development)", []),
        },
    )

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        p = ctx.params
        named: dict[str, str | None] = {
            "approver_field": p.get("approver_field"),
            "requester_field": p.get("requester_field"),
        }
        named.update({f"link_fields[{i}]": n for i, n in enumerate(p.get("link_fields") or [])})
        plan = Plan(
            named_fields=named,
            system_fields=("issuelinks",),
            period_field="resolved",
            history_of=("status", "approver_field"),
        )
        population = gather(ctx, plan)
        approval, implemented = lower_set(p["approval_statuses"]), lower_set(p["implemented_statuses"])
        approver_field = p.get("approver_field")
        findings: list[Finding] = []
        for record in population.records:
            raw = population.raw[record["key"]]
            fields = raw.get("fields") or {}
            history = record.pop("history")
            trail = transitions(history)
            record["requester"] = requester(record, fields, population.fields, p.get("requester_field"))
            record["transitions"] = trail
            record["implemented_at"] = next((t["at"] for t in trail if _to(t) in implemented), None)
            record["approvals"] = [
                {"by": t["by"], "at": t["at"], "how": f"transition to {t['to']}"}
                for t in trail
                if _to(t) in approval
            ]
            if approver_field:
                field_id = population.fields[approver_field]
                changes = [e for e in history if e["field"] != "status"]
                users = plain(fields.get(field_id))
                since = filled_since(changes, record["created"], bool(users))
                record["approvals"] += [
                    {"by": u, "at": since, "how": f"field {approver_field}"}
                    for u in (users if isinstance(users, list) else [users])
                    if isinstance(u, dict)
                ]
                record["approver_changes"] = changes
            record["links"] = links(raw)
            record["development"] = {n: record["fields"].get(n) for n in p.get("link_fields") or []}
            findings.extend(change_findings(record, implemented))
        yield population.artefact("changes", findings)


def _to(transition: dict[str, Any]) -> str:
    return str(transition.get("to") or "").lower()


def requester(
    record: dict[str, Any], fields: dict[str, Any], ids: dict[str, str], requester_field: str | None
) -> dict[str, str] | None:
    """Who asked for the change: the requester field when configured, else the reporter."""
    if requester_field:
        return person(fields.get(ids[requester_field]))
    reporter = record.get("reporter")
    return reporter if isinstance(reporter, dict) else None


def filled_since(changes: list[dict[str, Any]], created: Any, filled_now: bool) -> Any:
    """Since when the approvers field has held someone without a break, from its changelog.

    A value set when the issue was created has no changelog entry, so it dates from creation. An
    approver written in after the change was carried out must not pass for an approval before it.
    """
    if not filled_now:
        return None
    since = created if not changes or changes[0]["from"] else None
    for change in changes:
        if not change["to"]:
            since = None
        elif since is None:
            since = change["at"]
    return since


def _before(moment: Any, deadline: Any) -> bool:
    """`moment` is known and earlier than `deadline` (no deadline: the change was not carried out)."""
    at = parse_time(moment)
    if at is None:
        return False
    end = parse_time(deadline)
    return end is None or at < end


def change_findings(record: dict[str, Any], implemented: set[str]) -> list[Finding]:
    """Implemented with no approval before it; approved before it by nobody but the requester."""
    key, done_at = record["key"], record["implemented_at"]
    was_implemented = done_at is not None or str(record.get("status") or "").lower() in implemented
    if done_at is None and was_implemented:
        done_at = record["created"]  # in an implemented status with no transition: created so
    counted = [a for a in record["approvals"] if _before(a["at"], done_at)]
    asker = (record.get("requester") or {}).get("id")
    approvers = {(a["by"] or {}).get("id") for a in counted}
    suspect = (was_implemented and not counted) or bool(asker and approvers == {asker})
    if suspect and not record.get("history_complete", True):
        # the unread part of the changelog is its oldest, where approvals are: say so, claim nothing
        return [
            Finding(
                "change-history-incomplete",
                f"{key} (status {record.get('status')}): history incomplete, Jira returned only part of "
                "its changelog, so whether and by whom it was approved before implementation is unknown",
                "medium",
                subject=key,
            )
        ]
    out = []
    if was_implemented and not counted:
        out.append(
            Finding(
                "implemented-without-approval",
                f"{key} was implemented (status {record.get('status')}) with no approval before it",
                "high",
                subject=key,
            )
        )
    if asker and approvers == {asker}:
        out.append(
            Finding(
                "approved-by-requester",
                f"{key} was approved only by its requester, {record['requester']['name']}",
                "high",
                subject=key,
            )
        )
    return out


COLLECTORS: tuple[type[Collector], ...] = (ChangesCollector,)
