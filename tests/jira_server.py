"""A stateful Jira on 127.0.0.1: Cloud (REST v3, token paging) or Data Center (REST v2, offset paging).

The Jira collectors are tested through the real `jira` client over real HTTP, so this server speaks
the documented shapes of the operations they use: `serverInfo`, `field`, `myself`, `search/jql`
(`nextPageToken`, `isLast`) on Cloud and `search` (`startAt`, `total`, `expand=changelog`) on Data
Center, per-issue and bulk changelogs, users and group members, and Jira's error bodies
(`{"errorMessages": [...], "errors": {}}`) for 400 (bad JQL), 401, 403, 404; 429 with `Retry-After`
and 5xx are injected on demand. It evaluates the JQL subset the collectors send (project, issuetype,
labels, status, resolution, key, component, priority; created/updated/resolved/duedate ranges with
absolute or relative dates read in the user's time zone; AND, OR, NOT, parentheses; ORDER BY) and
answers 400 to anything else, as Jira does for a query it cannot parse.

Every response is recorded, so a test can validate each one against Atlassian's published schema.

    with JiraServer(cloud=True) as jira:
        alice = jira.add_user("alice", "Alice Adams")
        issue = jira.add_issue("CHG", "Change", "Rotate keys", reporter=alice, created=t0)
        jira.transition(issue, "Approved", by=bob, at=t1)
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from zoneinfo import ZoneInfo

UTC = dt.timezone.utc
SYSTEM_FIELDS = [
    ("summary", "Summary", "string", ["summary"]),
    ("issuetype", "Issue Type", "issuetype", ["issuetype", "type"]),
    ("status", "Status", "status", ["status"]),
    ("resolution", "Resolution", "resolution", ["resolution"]),
    ("created", "Created", "datetime", ["created", "createdDate"]),
    ("updated", "Updated", "datetime", ["updated", "updatedDate"]),
    ("resolutiondate", "Resolved", "datetime", ["resolved", "resolutiondate"]),
    ("reporter", "Reporter", "user", ["reporter"]),
    ("assignee", "Assignee", "user", ["assignee"]),
    ("labels", "Labels", "array", ["labels"]),
    ("components", "Component/s", "array", ["component"]),
    ("priority", "Priority", "priority", ["priority"]),
    ("duedate", "Due date", "date", ["due", "duedate"]),
    ("issuelinks", "Linked Issues", "array", ["issueLink"]),
    ("project", "Project", "project", ["project"]),
]
NOT_AUTHENTICATED = "You are not authenticated. Authentication required to perform this operation."


@dataclass(frozen=True)
class User:
    id: str
    name: str
    email: str = ""


@dataclass(frozen=True)
class Option:
    """A select-list value, rendered as Jira renders options: {"value": ..., "id": ...}."""

    value: str


@dataclass
class Change:
    id: int
    author: User
    at: dt.datetime
    field_id: str
    field: str
    before: str | None
    after: str | None


@dataclass
class Issue:
    id: int
    key: str
    project: str
    type: str
    summary: str
    status: str
    created: dt.datetime
    updated: dt.datetime
    reporter: User | None = None
    assignee: User | None = None
    labels: list[str] = field(default_factory=list)
    components: list[str] = field(default_factory=list)
    priority: str | None = "Medium"
    resolution: str | None = None
    resolved: dt.datetime | None = None
    due: dt.date | None = None
    custom: dict[str, Any] = field(default_factory=dict)
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (link type, outward|inward, key)
    history: list[Change] = field(default_factory=list)


class JqlError(ValueError):
    """The query cannot be parsed or names something this Jira does not know."""


def jira_time(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


class JiraServer:
    """The server and its state; tests change the state between (or during) collector runs."""

    def __init__(
        self,
        *,
        cloud: bool = True,
        login: str = "auditor@example.com",
        token: str = "jira-test-token-Zq7Xw2Lp9Rk4",
        zone: str = "UTC",
        bulk_page: int = 1000,
        changelog_cap: int = 100,
        changelog_endpoint: bool | None = None,
    ) -> None:
        self.cloud = cloud
        self.bulk_page = bulk_page  # Jira caps pages server-side, whatever maxResults asks
        # `expand=changelog` returns at most this many histories (the latest) with the full `total`,
        # and `issue/{key}/changelog` pages hold at most this many
        self.changelog_cap = changelog_cap
        # `issue/{key}/changelog` exists on Cloud; on Data Center only in some versions (not 8.x)
        self.changelog_endpoint = cloud if changelog_endpoint is None else changelog_endpoint
        self.login, self.token = login, token
        self.zone = ZoneInfo(zone)
        self.lock = threading.RLock()
        self.issues: dict[str, Issue] = {}
        self.users: dict[str, User] = {}
        self.groups: dict[str, list[User]] = {}
        self.fields: list[dict[str, Any]] = [self._system_field(*f) for f in SYSTEM_FIELDS]
        self.responses: list[tuple[str, str, int, Any]] = []  # method, path, status, body
        self.requests: list[tuple[str, str]] = []  # method, path with query
        self._failures: list[tuple[str, int, str | None]] = []
        self._forbidden: set[str] = set()
        self._hooks: list[list[Any]] = []  # [path suffix, requests left, action]
        self._next_id = 10000
        self.me = self.add_user("auditor", "Evidence Auditor", login)
        self._httpd: ThreadingHTTPServer | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def __enter__(self) -> JiraServer:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()

    @property
    def url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # -- state ----------------------------------------------------------------------------------

    def add_user(self, ident: str, name: str, email: str = "") -> User:
        user = User(ident, name, email or f"{ident}@example.com")
        self.users[ident] = user
        return user

    def add_field(self, name: str, kind: str = "string") -> str:
        """A custom field; returns its ID (customfield_NNNNN)."""
        number = 10000 + len(self.fields)
        fid = f"customfield_{number}"
        schema = {"type": kind, "custom": f"com.atlassian.jira.plugin.system.customfieldtypes:{kind}"}
        schema["customId"] = number  # type: ignore[assignment]
        self.fields.append(
            {
                "id": fid,
                "key": fid,
                "name": name,
                "custom": True,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": [f"cf[{number}]", name],
                "schema": schema,
            }
        )
        return fid

    def add_issue(self, project: str, type: str, summary: str, *, created: dt.datetime, **kw: Any) -> Issue:
        with self.lock:
            self._next_id += 1
            number = 1 + sum(1 for i in self.issues.values() if i.project == project)
            status = kw.pop("status", "Open")
            issue = Issue(
                self._next_id, f"{project}-{number}", project, type, summary, status, created, created, **kw
            )
            self.issues[issue.key] = issue
            return issue

    def transition(
        self,
        issue: Issue,
        to: str,
        *,
        by: User,
        at: dt.datetime,
        resolution: str | None = None,
        reopen: bool = False,
    ) -> None:
        """Move the issue to a status; a resolution resolves it, `reopen` clears it."""
        with self.lock:
            self._change(issue, by, at, "status", "status", issue.status, to)
            issue.status = to
            if resolution is not None:
                self._change(issue, by, at, "resolution", "resolution", issue.resolution, resolution)
                issue.resolution, issue.resolved = resolution, at
            elif reopen and issue.resolution is not None:
                self._change(issue, by, at, "resolution", "resolution", issue.resolution, None)
                issue.resolution, issue.resolved = None, None
            issue.updated = at

    def set_field(self, issue: Issue, field_id: str, value: Any, *, by: User, at: dt.datetime) -> None:
        with self.lock:
            name = next(f["name"] for f in self.fields if f["id"] == field_id)
            self._change(issue, by, at, field_id, name, _display(issue.custom.get(field_id)), _display(value))
            issue.custom[field_id] = value
            issue.updated = at

    def _change(
        self, issue: Issue, by: User, at: dt.datetime, fid: str, name: str, before: Any, after: Any
    ) -> None:
        self._next_id += 1
        issue.history.append(Change(self._next_id, by, at, fid, name, before, after))

    def fail(self, path_suffix: str, status: int, times: int = 1, retry_after: str | None = None) -> None:
        """The next `times` requests whose path ends with `path_suffix` get `status`."""
        with self.lock:
            self._failures.extend([(path_suffix, status, retry_after)] * times)

    def after(self, path_suffix: str, count: int, action: Callable[[], None]) -> None:
        """Run `action` once the `count`-th request whose path ends with `path_suffix` is answered:
        the state changing under a collector between two pages."""
        with self.lock:
            self._hooks.append([path_suffix, count, action])

    def _answered(self, path: str) -> None:
        with self.lock:
            for hook in list(self._hooks):
                if path.endswith(hook[0]):
                    hook[1] -= 1
                    if hook[1] == 0:
                        self._hooks.remove(hook)
                        hook[2]()

    def forbid(self, path_suffix: str) -> None:
        self._forbidden.add(path_suffix)

    def calls(self, path_suffix: str) -> list[str]:
        """Requests (with query) whose path ends with `path_suffix`."""
        return [p for m, p in self.requests if urlsplit(p).path.endswith(path_suffix)]

    # -- rendering ------------------------------------------------------------------------------

    @staticmethod
    def _system_field(fid: str, name: str, kind: str, clauses: list[str]) -> dict[str, Any]:
        return {
            "id": fid,
            "key": fid,
            "name": name,
            "custom": False,
            "orderable": True,
            "navigable": True,
            "searchable": True,
            "clauseNames": clauses,
            "schema": {"type": kind, "system": fid},
        }

    def user_json(self, user: User | None, base: str) -> dict[str, Any] | None:
        if user is None:
            return None
        if self.cloud:
            return {
                "self": f"{base}/rest/api/3/user?accountId={user.id}",
                "accountId": user.id,
                "accountType": "atlassian",
                "displayName": user.name,
                "active": True,
            }
        return {
            "self": f"{base}/rest/api/2/user?username={user.id}",
            "name": user.id,
            "key": f"JIRAUSER{abs(hash(user.id)) % 100000}",
            "displayName": user.name,
            "emailAddress": user.email,
            "active": True,
        }

    def render(self, value: Any, base: str) -> Any:
        if isinstance(value, User):
            return self.user_json(value, base)
        if isinstance(value, Option):
            return {"self": f"{base}/rest/api/2/customFieldOption/1", "value": value.value, "id": "1"}
        if isinstance(value, list):
            return [self.render(v, base) for v in value]
        if isinstance(value, dt.datetime):
            return jira_time(value)
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    def issue_json(self, issue: Issue, wanted: set[str], base: str, expand: set[str]) -> dict[str, Any]:
        def named(name: str | None) -> dict[str, Any] | None:
            return (
                None
                if name is None
                else {"self": f"{base}/x", "id": str(abs(hash(name)) % 1000), "name": name}
            )

        values: dict[str, Any] = {
            "summary": issue.summary,
            "issuetype": {**(named(issue.type) or {}), "subtask": False},
            "status": named(issue.status),
            "resolution": named(issue.resolution),
            "created": jira_time(issue.created),
            "updated": jira_time(issue.updated),
            "resolutiondate": jira_time(issue.resolved) if issue.resolved else None,
            "reporter": self.user_json(issue.reporter, base),
            "assignee": self.user_json(issue.assignee, base),
            "labels": list(issue.labels),
            "components": [named(c) for c in issue.components],
            "priority": named(issue.priority),
            "duedate": issue.due.isoformat() if issue.due else None,
            "project": {"key": issue.project, "name": issue.project},
            "issuelinks": [self._link_json(t, d, k, base) for t, d, k in issue.links],
        }
        for fid, value in issue.custom.items():
            values[fid] = self.render(value, base)
        every = "*all" in wanted or "*navigable" in wanted
        known = {f["id"] for f in self.fields}
        fields = {k: values.get(k) for k in known if every or k in wanted}
        out: dict[str, Any] = {
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": str(issue.id),
            "self": f"{base}/rest/api/{3 if self.cloud else 2}/issue/{issue.id}",
            "key": issue.key,
            "fields": fields,
        }
        if "changelog" in expand:
            histories = [self.history_json(c, base) for c in issue.history[-self.changelog_cap :]]
            out["changelog"] = {
                "startAt": 0,
                "maxResults": len(histories),
                "total": len(issue.history),
                "histories": histories,
            }
        return out

    def _link_json(self, kind: str, direction: str, key: str, base: str) -> dict[str, Any]:
        other = self.issues[key]
        linked = {
            "id": str(other.id),
            "key": other.key,
            "self": f"{base}/rest/api/2/issue/{other.id}",
            "fields": {
                "summary": other.summary,
                "status": {"name": other.status, "statusCategory": _category(other.status)},
                "issuetype": {"name": other.type},
            },
        }
        link_type = {
            "id": "1",
            "name": kind,
            "inward": f"is {kind.lower()}d by",
            "outward": f"{kind.lower()}s",
        }
        return {
            "id": "1",
            "type": link_type,
            ("outwardIssue" if direction == "outward" else "inwardIssue"): linked,
        }

    def history_json(self, change: Change, base: str) -> dict[str, Any]:
        item: dict[str, Any] = {
            "field": change.field,
            "fieldtype": "custom" if change.field_id.startswith("customfield_") else "jira",
        }
        if self.cloud:
            item["fieldId"] = change.field_id
        for key, value in (
            ("from", change.before),
            ("fromString", change.before),
            ("to", change.after),
            ("toString", change.after),
        ):
            if value is not None:  # Jira's schema types these as strings: absent rather than null
                item[key] = value
        return {
            "id": str(change.id),
            "author": self.user_json(change.author, base),
            "created": jira_time(change.at),
            "items": [item],
        }

    # -- requests -------------------------------------------------------------------------------

    def authorised(self, header: str | None) -> bool:
        if not header:
            return False
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer":
            return value == self.token
        if scheme.lower() == "basic":
            try:
                return base64.b64decode(value).decode() == f"{self.login}:{self.token}"
            except ValueError:
                return False
        return False

    def injected(self, path: str) -> tuple[int, str | None] | None:
        with self.lock:
            for i, (suffix, status, retry_after) in enumerate(self._failures):
                if path.endswith(suffix):
                    del self._failures[i]
                    return status, retry_after
        return None

    def route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any, base: str
    ) -> tuple[int, Any]:
        match = re.fullmatch(r"/rest/api/(2|3|latest)/(.+)", path)
        if not match or (match.group(1) == "3" and not self.cloud):
            return 404, {"errorMessages": [f"No resource at {path}"], "errors": {}}
        if any(path.endswith(s) for s in self._forbidden):
            return 403, {
                "errorMessages": ["You do not have the permission to see the specified resource."],
                "errors": {},
            }
        op = match.group(2)
        one = {k: v[-1] for k, v in query.items()}
        with self.lock:
            if method == "GET" and op == "serverInfo":
                return 200, self.server_info(base)
            if method == "GET" and op == "field":
                return 200, self.fields
            if method == "GET" and op == "myself":
                me = self.user_json(self.me, base) or {}
                return 200, {
                    **me,
                    "emailAddress": self.me.email,
                    "timeZone": str(self.zone),
                    "locale": "en_GB",
                }
            if method == "GET" and op == "search/jql" and self.cloud:
                return self.search_tokens(one, _fields(query), base)
            if method == "GET" and op == "search":
                if self.cloud:
                    return 410, {
                        "errorMessages": [
                            "The requested API has been removed. "
                            "Please migrate to the /rest/api/3/search/jql API."
                        ],
                        "errors": {},
                    }
                return self.search_offset(one, _fields(query), base)
            if method == "POST" and op == "changelog/bulkfetch" and self.cloud:
                return self.bulk_changelog(body or {}, base)
            m = re.fullmatch(r"issue/([^/]+)/changelog", op)
            if method == "GET" and m and self.changelog_endpoint:
                return self.issue_changelog(unquote(m.group(1)), one, base)
            if method == "GET" and op in ("users/search", "user/search"):
                start, size = int(one.get("startAt", 0)), int(one.get("maxResults", 50))
                users = [self.user_json(u, base) for u in sorted(self.users.values(), key=lambda u: u.id)]
                return 200, users[start : start + size]
            if method == "GET" and op == "group/member":
                return self.group_members(one, base)
        return 404, {"errorMessages": [f"No operation {method} {path}"], "errors": {}}

    def server_info(self, base: str) -> dict[str, Any]:
        now = jira_time(dt.datetime.now(UTC))
        if self.cloud:
            version, numbers, kind = "1001.0.0-SNAPSHOT", [1001, 0, 0], "Cloud"
        else:
            version, numbers, kind = "9.12.4", [9, 12, 4], "Server"
        return {
            "baseUrl": base,
            "version": version,
            "versionNumbers": numbers,
            "deploymentType": kind,
            "buildNumber": 100289,
            "buildDate": now,
            "serverTime": now,
            "scmInfo": "a3c4f1e",
            "serverTitle": "Acme Jira",
        }

    def select(self, jql: str) -> list[Issue]:
        predicate, order = parse_jql(jql, self.zone, {f["name"].lower(): f["id"] for f in self.fields})
        chosen = [i for i in self.issues.values() if predicate(i)]
        for key, descending in reversed(order):
            chosen.sort(key=lambda i, k=key: _sort_value(i, k), reverse=descending)
        return chosen

    def search_tokens(self, q: dict[str, str], wanted: set[str], base: str) -> tuple[int, Any]:
        try:
            chosen = self.select(q.get("jql", ""))
        except JqlError as exc:
            return 400, {"errorMessages": [str(exc)], "errors": {}}
        size = min(int(q.get("maxResults", 50)), 100 if wanted - {"id", "key"} else 5000)
        start = _token_offset(q.get("nextPageToken"))
        if start is None:
            return 400, {
                "errorMessages": ["The provided next page token is invalid or expired."],
                "errors": {},
            }
        page = chosen[start : start + size]
        out: dict[str, Any] = {"issues": [self.issue_json(i, wanted, base, set()) for i in page]}
        last = start + size >= len(chosen)
        out["isLast"] = last
        if not last:
            out["nextPageToken"] = base64.urlsafe_b64encode(json.dumps({"o": start + size}).encode()).decode()
        return 200, out

    def search_offset(self, q: dict[str, str], wanted: set[str], base: str) -> tuple[int, Any]:
        try:
            chosen = self.select(q.get("jql", ""))
        except JqlError as exc:
            return 400, {"errorMessages": [str(exc)], "errors": {}}
        start, size = int(q.get("startAt", 0)), min(int(q.get("maxResults", 50)), 1000)
        expand = set((q.get("expand") or "").split(","))
        issues = [self.issue_json(i, wanted, base, expand) for i in chosen[start : start + size]]
        return 200, {
            "expand": "schema,names",
            "startAt": start,
            "maxResults": size,
            "total": len(chosen),
            "issues": issues,
        }

    def _find(self, ident: str) -> Issue | None:
        return next((i for i in self.issues.values() if ident in (i.key, str(i.id))), None)

    def bulk_changelog(self, body: dict[str, Any], base: str) -> tuple[int, Any]:
        ids, field_ids = body.get("issueIdsOrKeys") or [], body.get("fieldIds") or []
        if not 1 <= len(ids) <= 1000 or len(field_ids) > 10:
            return 400, {
                "errorMessages": ["issueIdsOrKeys must hold 1 to 1000 issues, fieldIds at most 10."],
                "errors": {},
            }
        size = min(int(body.get("maxResults", 1000)), 10000, self.bulk_page)
        entries = []
        for ident in ids:
            issue = self._find(str(ident))
            for change in issue.history if issue else []:
                if not field_ids or change.field_id in field_ids:
                    entries.append((issue, change))
        start = _token_offset(body.get("nextPageToken"))
        if start is None:
            return 400, {"errorMessages": ["Invalid nextPageToken."], "errors": {}}
        logs: list[dict[str, Any]] = []
        for issue, change in entries[start : start + size]:
            if not logs or logs[-1]["issueId"] != str(issue.id):
                logs.append({"issueId": str(issue.id), "changeHistories": []})
            logs[-1]["changeHistories"].append(self.history_json(change, base))
        out: dict[str, Any] = {"issueChangeLogs": logs}
        if start + size < len(entries):
            out["nextPageToken"] = base64.urlsafe_b64encode(json.dumps({"o": start + size}).encode()).decode()
        return 200, out

    def issue_changelog(self, ident: str, q: dict[str, str], base: str) -> tuple[int, Any]:
        issue = self._find(ident)
        if issue is None:
            return 404, {
                "errorMessages": ["Issue does not exist or you do not have permission to see it."],
                "errors": {},
            }
        start, size = int(q.get("startAt", 0)), min(int(q.get("maxResults", 100)), self.changelog_cap)
        values = [self.history_json(c, base) for c in issue.history[start : start + size]]
        last = start + size >= len(issue.history)
        api = f"{base}/rest/api/{3 if self.cloud else 2}"
        page = {
            "self": f"{api}/issue/{issue.key}/changelog?startAt={start}&maxResults={size}",
            "startAt": start,
            "maxResults": size,
            "total": len(issue.history),
            "isLast": last,
            "values": values,
        }
        if not last:
            page["nextPage"] = f"{api}/issue/{issue.key}/changelog?startAt={start + size}&maxResults={size}"
        return 200, page

    def group_members(self, q: dict[str, str], base: str) -> tuple[int, Any]:
        name = q.get("groupname", "")
        if name not in self.groups:
            return 404, {"errorMessages": [f"The group '{name}' does not exist."], "errors": {}}
        start, size = int(q.get("startAt", 0)), int(q.get("maxResults", 50))
        members = self.groups[name]
        values = [self.user_json(u, base) for u in members[start : start + size]]
        return 200, {
            "startAt": start,
            "maxResults": size,
            "total": len(members),
            "isLast": start + size >= len(members),
            "values": values,
        }


def _category(status: str) -> dict[str, Any]:
    """The status category Jira attaches to a status: what `done` means whatever the workflow."""
    key = "done" if status.lower() in ("done", "closed", "resolved") else "new"
    return {"id": 3 if key == "done" else 2, "key": key, "name": "Done" if key == "done" else "To Do"}


def _display(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list):
        return ", ".join(str(_display(v)) for v in value) or None
    if isinstance(value, User):
        return value.name
    if isinstance(value, Option):
        return value.value
    return str(value)


def _fields(query: dict[str, list[str]]) -> set[str]:
    """The `fields` parameter, given repeated (`fields=a&fields=b`) or comma-separated; default all."""
    values = [v for raw in query.get("fields", []) for v in raw.split(",") if v]
    return set(values) if values else {"*navigable"}


def _token_offset(token: Any) -> int | None:
    if not token:
        return 0
    try:
        return int(json.loads(base64.urlsafe_b64decode(str(token)))["o"])
    except (ValueError, KeyError, TypeError):
        return None


def _handler(jira: JiraServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            """Silent."""

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            base = f"http://{self.headers.get('Host')}"
            with jira.lock:
                jira.requests.append((self.command, self.path))
            headers: dict[str, str] = {}
            injected = jira.injected(parts.path)
            if injected is not None:
                status, retry_after = injected
                body: Any = {"errorMessages": [f"injected HTTP {status}"], "errors": {}}
                if retry_after is not None:
                    headers["Retry-After"] = retry_after
            elif not jira.authorised(self.headers.get("Authorization")):
                status, body = 401, {"errorMessages": [NOT_AUTHENTICATED], "errors": {}}
            else:
                try:
                    payload = json.loads(raw) if raw else None
                except ValueError:
                    payload = None
                status, body = jira.route(self.command, parts.path, parse_qs(parts.query), payload, base)
            with jira.lock:
                jira.responses.append((self.command, parts.path, status, body))
            jira._answered(parts.path)
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=UTF-8")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _handle

    return Handler


# -- JQL --------------------------------------------------------------------------------------

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"[^"]*"|\'[^\']*\')|(?P<op>>=|<=|!=|=|>|<|~|\(|\)|,)|(?P<word>[^\s()=<>!,~"\']+))'
)
DATE_FIELDS = {
    "created": "created",
    "createddate": "created",
    "updated": "updated",
    "updateddate": "updated",
    "resolved": "resolved",
    "resolutiondate": "resolved",
    "due": "due",
    "duedate": "due",
}
TEXT_FIELDS = {
    "project": "project",
    "issuetype": "type",
    "type": "type",
    "status": "status",
    "resolution": "resolution",
    "key": "key",
    "issuekey": "key",
    "priority": "priority",
    "labels": "labels",
    "component": "components",
}
Predicate = Callable[[Issue], bool]


def _tokens(jql: str) -> Iterator[tuple[str, str, int]]:
    pos = 0
    while pos < len(jql):
        if jql[pos:].strip() == "":
            return
        match = _TOKEN.match(jql, pos)
        if not match:
            raise JqlError(
                f"Error in the JQL Query: the character '{jql[pos]}' is a reserved JQL character "
                f"(line 1, character {pos + 1})."
            )
        kind = next(k for k in ("str", "op", "word") if match.group(k) is not None)
        text = match.group(kind)
        yield kind, text[1:-1] if kind == "str" else text, match.start(kind) + 1
        pos = match.end()


def parse_jql(jql: str, zone: ZoneInfo, custom: dict[str, str]) -> tuple[Predicate, list[tuple[str, bool]]]:
    """(issue predicate, ORDER BY keys) for the JQL subset; anything else raises `JqlError`."""
    tokens = list(_tokens(jql))
    parser = _Parser(tokens, zone, custom)
    predicate = parser.expression() if tokens and tokens[0][1].lower() != "order" else (lambda i: True)
    order = parser.order_by()
    if parser.pos < len(tokens):
        _, text, at = tokens[parser.pos]
        raise JqlError(
            f"Error in the JQL Query: Expecting either 'OR' or 'AND' but got '{text}'. "
            f"(line 1, character {at})"
        )
    return predicate, order


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]], zone: ZoneInfo, custom: dict[str, str]) -> None:
        self.tokens, self.pos, self.zone, self.custom = tokens, 0, zone, custom

    def peek(self) -> str:
        return self.tokens[self.pos][1].lower() if self.pos < len(self.tokens) else ""

    def take(self) -> tuple[str, str, int]:
        if self.pos >= len(self.tokens):
            raise JqlError("Error in the JQL Query: The JQL query is incomplete.")
        self.pos += 1
        return self.tokens[self.pos - 1]

    def expression(self) -> Predicate:
        left = self.term()
        while self.peek() == "or":
            self.take()
            right = self.term()
            left = (lambda a, b: lambda i: a(i) or b(i))(left, right)
        return left

    def term(self) -> Predicate:
        left = self.factor()
        while self.peek() == "and":
            self.take()
            right = self.factor()
            left = (lambda a, b: lambda i: a(i) and b(i))(left, right)
        return left

    def factor(self) -> Predicate:
        if self.peek() == "not":
            self.take()
            inner = self.factor()
            return lambda i: not inner(i)
        if self.peek() == "(":
            self.take()
            inner = self.expression()
            if self.take()[1] != ")":
                raise JqlError("Error in the JQL Query: Expecting ')'.")
            return inner
        return self.clause()

    def clause(self) -> Predicate:
        _, name, _ = self.take()
        lowered = name.lower()
        op = self.take()[1].lower()
        if op == "not" and self.peek() == "in":
            self.take()
            op = "not in"
        elif op == "is" and self.peek() == "not":
            self.take()
            op = "is not"
        if op in ("in", "not in"):
            values = self._list()
        elif op in ("is", "is not"):
            word = self.take()[1].lower()
            if word not in ("empty", "null"):
                raise JqlError(f"Error in the JQL Query: Expecting 'EMPTY' but got '{word}'.")
            values = []
        elif op in ("=", "!=", ">", ">=", "<", "<="):
            values = [self.take()[1]]
        else:
            raise JqlError(
                f"Error in the JQL Query: The operator '{op}' is not supported by this test server."
            )
        if lowered in DATE_FIELDS:
            return self._date_clause(DATE_FIELDS[lowered], op, values)
        if lowered in TEXT_FIELDS:
            return self._text_clause(TEXT_FIELDS[lowered], op, values)
        fid = self.custom.get(lowered) or (
            f"customfield_{lowered[3:-1]}" if re.fullmatch(r"cf\[\d+\]", lowered) else None
        )
        if fid and fid.startswith("customfield_"):
            return self._custom_clause(fid, op, values)
        raise JqlError(f"Field '{name}' does not exist or you do not have permission to view it.")

    def _list(self) -> list[str]:
        if self.take()[1] != "(":
            raise JqlError("Error in the JQL Query: Expecting '(' after IN.")
        values = []
        while True:
            values.append(self.take()[1])
            sep = self.take()[1]
            if sep == ")":
                return values
            if sep != ",":
                raise JqlError("Error in the JQL Query: Expecting ',' or ')'.")

    def _date(self, text: str) -> dt.datetime:
        rel = re.fullmatch(r"([-+]?)(\d+)([mhdw])", text)
        if rel:
            unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[rel.group(3)]
            delta = dt.timedelta(**{unit: int(rel.group(2))})
            return dt.datetime.now(UTC) + (-delta if rel.group(1) == "-" else delta)
        for fmt in ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d"):
            try:
                return dt.datetime.strptime(text, fmt).replace(tzinfo=self.zone)
            except ValueError:
                continue
        raise JqlError(
            f"Date value '{text}' for field is invalid. Valid formats include: 'yyyy/MM/dd HH:mm', "
            "'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'."
        )

    def _date_clause(self, attr: str, op: str, values: list[str]) -> Predicate:
        if op in ("is", "is not"):
            return lambda i: (_date_of(i, attr) is None) == (op == "is")
        if op not in (">", ">=", "<", "<=", "=", "!="):
            raise JqlError(
                f"Error in the JQL Query: The operator '{op}' is not supported by the '{attr}' field."
            )
        bound = self._date(values[0])
        compare = {
            ">": lambda a: a > bound,
            ">=": lambda a: a >= bound,
            "<": lambda a: a < bound,
            "<=": lambda a: a <= bound,
            "=": lambda a: a == bound,
            "!=": lambda a: a != bound,
        }[op]

        def check(issue: Issue) -> bool:
            value = _date_of(issue, attr)
            return value is not None and compare(value)

        return check

    def _text_clause(self, attr: str, op: str, values: list[str]) -> Predicate:
        wanted = {v.lower() for v in values}

        def current(issue: Issue) -> set[str]:
            value = getattr(issue, attr)
            items = value if isinstance(value, list) else [value]
            return {str(v).lower() for v in items if v is not None}

        if op in ("=", "in"):
            return lambda i: bool(current(i) & wanted)
        if op in ("!=", "not in"):
            return lambda i: not (current(i) & wanted)
        if op in ("is", "is not"):
            return lambda i: (not current(i)) == (op == "is")
        raise JqlError(f"Error in the JQL Query: The operator '{op}' is not supported by the '{attr}' field.")

    def _custom_clause(self, fid: str, op: str, values: list[str]) -> Predicate:
        wanted = {v.lower() for v in values}

        def current(issue: Issue) -> set[str]:
            shown = _display(issue.custom.get(fid))
            return {s.strip().lower() for s in shown.split(",")} if shown else set()

        if op in ("=", "in"):
            return lambda i: bool(current(i) & wanted)
        if op in ("!=", "not in"):
            return lambda i: not (current(i) & wanted)
        if op in ("is", "is not"):
            return lambda i: (not current(i)) == (op == "is")
        raise JqlError(f"Error in the JQL Query: The operator '{op}' is not supported by this test server.")

    def order_by(self) -> list[tuple[str, bool]]:
        if self.peek() != "order":
            return []
        self.take()
        if self.take()[1].lower() != "by":
            raise JqlError("Error in the JQL Query: Expecting 'BY' after 'ORDER'.")
        keys = []
        while True:
            name = self.take()[1].lower()
            if name not in ("key", "issuekey", *DATE_FIELDS):
                raise JqlError(f"Not able to sort using field '{name}'.")
            descending = False
            if self.peek() in ("asc", "desc"):
                descending = self.take()[1].lower() == "desc"
            keys.append((DATE_FIELDS.get(name, "key"), descending))
            if self.peek() != ",":
                return keys
            self.take()


def _date_of(issue: Issue, attr: str) -> dt.datetime | None:
    if attr == "due":
        return dt.datetime(issue.due.year, issue.due.month, issue.due.day, tzinfo=UTC) if issue.due else None
    value: dt.datetime | None = getattr(issue, attr)
    return value


def _sort_value(issue: Issue, key: str) -> Any:
    if key == "key":
        return (issue.project, int(issue.key.rpartition("-")[2]))
    value = _date_of(issue, key)
    return (value is None, value or dt.datetime.min.replace(tzinfo=UTC))
