"""Jira's JSON as evidence: plain values, people as (id, name), transitions from the changelog.

Cloud and Data Center describe the same things differently (users by `accountId` or by `name`,
rich text as Atlassian Document Format or wiki text); records flatten both to one shape, so an
auditor reads the same evidence whatever the deployment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# System fields every record carries: JSON key in the record → Jira field ID.
BASE_FIELDS = {
    "summary": "summary",
    "type": "issuetype",
    "status": "status",
    "resolution": "resolution",
    "created": "created",
    "updated": "updated",
    "resolved": "resolutiondate",
    "reporter": "reporter",
    "assignee": "assignee",
    "labels": "labels",
    "components": "components",
    "priority": "priority",
}


def person(value: Any) -> dict[str, str] | None:
    """A user as {id, name}: Cloud's accountId or Data Center's name/key, and the display name."""
    if not isinstance(value, Mapping):
        return None
    ident = value.get("accountId") or value.get("name") or value.get("key")
    if not ident:
        return None
    return {"id": str(ident), "name": str(value.get("displayName") or ident)}


def _is_person(value: Mapping[str, Any]) -> bool:
    return "accountId" in value or ("displayName" in value and ("name" in value or "key" in value))


def adf_text(node: Any) -> str:
    """The plain text of an Atlassian Document Format document (REST v3 rich-text fields)."""
    if isinstance(node, list):
        return "".join(adf_text(n) for n in node)
    if not isinstance(node, Mapping):
        return ""
    text = str(node.get("text", "")) + adf_text(node.get("content"))
    return text + ("\n" if node.get("type") in ("paragraph", "heading", "listItem") else "")


def plain(value: Any) -> Any:
    """A field value as plain JSON: options and named things by name, people as {id, name}."""
    if isinstance(value, list):
        return [plain(v) for v in value]
    if not isinstance(value, Mapping):
        return value
    if value.get("type") == "doc":
        return adf_text(value).strip()
    if _is_person(value):
        return person(value)
    for key in ("value", "name", "key"):
        if key in value and not isinstance(value[key], (dict, list)):
            child = value.get("child")
            return f"{value[key]} / {plain(child)}" if isinstance(child, Mapping) else value[key]
    return {k: plain(v) for k, v in value.items() if k not in ("self", "avatarUrls", "iconUrl")}


def issue_record(raw: Mapping[str, Any], server: str, extra: Mapping[str, str]) -> dict[str, Any]:
    """The evidence for one issue: base fields, then the configured ones by the name the user gave."""
    fields = raw.get("fields") or {}
    key = str(raw.get("key", ""))
    record: dict[str, Any] = {
        "id": key,  # event populations qualify it with the moment (`CHG-7@…`), see `population`
        "key": key,
        "issue_id": str(raw.get("id", "")),
        "url": f"{server}/browse/{key}",
    }
    for name, field_id in BASE_FIELDS.items():
        record[name] = plain(fields.get(field_id))
    record["fields"] = {name: plain(fields.get(field_id)) for name, field_id in extra.items()}
    return record


def links(raw: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Linked issues (`issuelinks`): link type, direction, and the other issue's key, type, status."""
    out = []
    for link in (raw.get("fields") or {}).get("issuelinks") or []:
        for direction in ("outwardIssue", "inwardIssue"):
            other = link.get(direction)
            if not isinstance(other, Mapping):
                continue
            kind = link.get("type") or {}
            other_fields = other.get("fields") or {}
            out.append(
                {
                    "type": kind.get("name"),
                    "relation": kind.get("outward" if direction == "outwardIssue" else "inward"),
                    "key": other.get("key"),
                    "issue_type": plain(other_fields.get("issuetype")),
                    "status": plain(other_fields.get("status")),
                    "status_category": ((other_fields.get("status") or {}).get("statusCategory") or {}).get(
                        "key"
                    ),
                    "summary": other_fields.get("summary"),
                }
            )
    return out


def history_entries(histories: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each change to a tracked field: when, by whom, which field, from and to."""
    out = []
    for history in histories:
        for item in history.get("items") or []:
            out.append(
                {
                    "at": history.get("created"),
                    "by": person(history.get("author")),
                    "field": item.get("fieldId") or item.get("field"),
                    "from": item.get("fromString")
                    if item.get("fromString") is not None
                    else item.get("from"),
                    "to": item.get("toString") if item.get("toString") is not None else item.get("to"),
                }
            )
    return out


def transitions(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The status changes among history entries: the ticket's workflow trail."""
    return [
        {"at": e["at"], "by": e["by"], "from": e["from"], "to": e["to"]}
        for e in entries
        if str(e["field"]).lower() == "status"
    ]


def lower_set(values: Any) -> set[str]:
    return {str(v).lower() for v in values or []}


def truthy(value: Any) -> bool:
    """A yes/no field in any of Jira's shapes: checkbox list, select option, text, boolean."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, list):
        return any(truthy(v) for v in value)
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "y", "true", "1", "ai")
    return False


def natural_key(key: str) -> tuple[str, int]:
    project, _, number = key.rpartition("-")
    return (project, int(number)) if number.isdigit() else (key, 0)
