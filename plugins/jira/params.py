"""Parameters every Jira collector shares, and the schema helper that adds each collector's own.

Kept free of the `jira` package so `evidentia plugins` and `--help` never import the client.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

SECRET_PARAMS = ("token",)
# Jira Cloud's search index is eventually consistent: a ticket resolved just before a run may not be
# searchable yet, so event periods end this long before the run and the next night covers it.
EVENTS_SETTLE = dt.timedelta(minutes=10)
PERMISSIONS = (
    "Jira: Browse projects on the projects the JQL reaches (issues, fields, changelogs)",
    "Jira Cloud: an API token of a user with that permission (basic auth with `email`)",
    "Jira Data Center: a personal access token (bearer), or `username` with a token or password",
)
_UNRESOLVED = re.compile(r"^\$\{[^}]*\}$")

COMMON_PARAMS: dict[str, Any] = {
    "server": {
        "type": "string",
        "pattern": "^https?://[^/\\s]+",
        "description": "The Jira base URL, e.g. https://acme.atlassian.net or https://jira.example.com",
    },
    "email": {"type": "string", "description": "Jira Cloud: the account e-mail the API token belongs to"},
    "username": {
        "type": "string",
        "description": "Jira Data Center: a user name for basic auth (unset for a personal access token)",
    },
    "token": {
        "type": "string",
        "default": "${JIRA_API_TOKEN}",
        "description": "API token (Cloud) or personal access token (Data Center); only as ${VAR}",
    },
    "cloud": {
        "type": "boolean",
        "description": "Jira Cloud (REST v3, token paging) or not (REST v2, offset paging); "
        "detected from serverInfo when unset",
    },
    "jql": {"type": "string", "minLength": 1, "description": "The JQL selecting the population"},
    "fields": {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "default": [],
        "description": "Extra fields to keep on each issue, by display name (resolved through the "
        "field list once per run) or by ID (customfield_10010, duedate)",
    },
    "page_size": {
        "type": "integer",
        "minimum": 2,
        "maximum": 1000,
        "default": 100,
        "description": "Issues per search page (Jira Cloud returns at most 100 with fields)",
    },
}


def field_name(description: str, default: str | None = None) -> dict[str, Any]:
    """A parameter naming one Jira field (display name or ID).

    One with a default (`Data shared`) also takes `null`: an organisation whose register has no
    such field says so, rather than being stuck with an error about a field it never had.
    """
    out: dict[str, Any] = {"type": "string", "minLength": 1, "description": description}
    if default is not None:
        out = {
            "type": ["string", "null"],
            "minLength": 1,
            "default": default,
            "description": f"{description}; null if there is no such field",
        }
    return out


def names(description: str, default: list[str]) -> dict[str, Any]:
    """A parameter listing names (statuses, labels, issue types), compared case-insensitively."""
    return {
        "type": "array",
        "items": {"type": "string", "minLength": 1},
        "default": default,
        "description": description,
    }


def days(description: str, default: int, minimum: int = 0) -> dict[str, Any]:
    return {"type": "integer", "minimum": minimum, "default": default, "description": description}


def params_schema(default_jql: str, own: dict[str, Any] | None = None) -> dict[str, Any]:
    """A collector's parameter schema: the common Jira parameters, its default JQL, and its own."""
    common = dict(COMMON_PARAMS)
    common["jql"] = {**COMMON_PARAMS["jql"], "default": default_jql}
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["server"],
        "properties": {**common, **(own or {})},
    }


def secret_value(value: Any) -> str:
    """A credential parameter, or "" when unset (a `${VAR}` nobody resolved must never be sent)."""
    text = "" if value is None else str(value)
    return "" if _UNRESOLVED.match(text.strip()) else text
