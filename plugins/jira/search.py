"""Every issue a JQL selects, and their changelogs, with checks that no page went missing.

Cloud (`search/jql`) pages with `nextPageToken` until `isLast`; the `jira` client only loops when
`maxResults=False` and then trusts any page without a token to be the last, so the pages are read
here one by one: a page that ends the listing without `isLast`, or a token seen before, is an error
rather than a silently short population. Data Center (`search`) pages by offset, ordered by key.
An offset only means the same thing while the result does not change: an issue leaving it (reopened
while we page) shifts every later issue one place left, and the first issue of the next page would
be skipped without any count noticing. So each page after the first starts one issue early and must
begin with the issue that ended the page before; if it does not, the listing is read again from the
start (a few times, then it is an error). Issues are kept once each, by id.

Changelogs: on Cloud in bulk (`POST changelog/bulkfetch`, 1,000 issues a request, its own token
paging), limited to the fields the collector reads; on Data Center from `expand=changelog` on the
search itself, so neither costs a call per issue. `expand=changelog` holds only a page of histories
(`total` says how many there are), and the missing ones are the oldest, where approvals sit. Such an
issue's changelog is read again from `GET issue/{key}/changelog`; Data Center versions without that
endpoint (8.x documents none) answer 404, and the issue is then marked as having an incomplete
history, so that no finding claims an approval is missing when it may only be unread.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

from .window import parse_time

if TYPE_CHECKING:
    from .connection import Connection

BULK_ISSUES = 1000
BULK_FIELDS = 10  # the most `fieldIds` one bulkfetch request accepts
CHANGELOG_PAGE = 100  # the most histories one `issue/{key}/changelog` page holds


@dataclass
class Found:
    """The issues of one search, in order, and what the listing looked like."""

    jql: str
    issues: list[dict[str, Any]] = field(default_factory=list)
    pages: int = 0
    repeated: int = 0
    notes: list[str] = field(default_factory=list)

    def add(self, raw: Iterable[Any], seen: set[str]) -> int:
        added = 0
        for issue in raw:
            if not isinstance(issue, dict):
                continue
            ident = str(issue.get("id") or issue.get("key"))
            if ident in seen:
                self.repeated += 1
                continue
            seen.add(ident)
            self.issues.append(issue)
            added += 1
        return added


def search(
    conn: Connection, jql: str, fields: list[str], page_size: int, *, changelog: bool = False
) -> Found:
    """Every issue `jql` selects, with only `fields` (and, on Data Center, the changelog if asked)."""
    if conn.cloud:
        return _search_cloud(conn, jql, fields, page_size)
    return _search_offset(conn, jql, fields, page_size, "changelog" if changelog else None)


def _search_cloud(conn: Connection, jql: str, fields: list[str], page_size: int) -> Found:
    found = Found(jql)
    seen: set[str] = set()
    tokens: set[str] = set()
    token: str | None = None
    while True:
        answer = conn.call(
            f"search/jql refused JQL {jql!r}",
            partial(
                conn.client.enhanced_search_issues,
                jql,
                nextPageToken=token,
                maxResults=page_size,
                fields=list(fields),
                json_result=True,
            ),
        )
        found.pages += 1
        page = _check_page(conn, jql, answer, found.pages)
        found.add(page.get("issues") or [], seen)
        token = page.get("nextPageToken") or None
        if page.get("isLast") is True or (token is None and page.get("isLast") is None):
            return found
        if token is None:
            raise _paging_error(
                conn, jql, f"page {found.pages} is not the last (isLast false) but has no token"
            )
        if token in tokens:
            raise _paging_error(conn, jql, f"page {found.pages} repeated a nextPageToken")
        tokens.add(token)


OFFSET_ATTEMPTS = 3  # full re-reads of a Data Center listing that shifted under us


class _Shifted(Exception):
    """The offset listing changed while it was being read; the reason says where."""


def _search_offset(
    conn: Connection, jql: str, fields: list[str], page_size: int, expand: str | None
) -> Found:
    reasons = []
    for _ in range(OFFSET_ATTEMPTS):
        try:
            return _read_offset(conn, jql, fields, page_size, expand)
        except _Shifted as exc:
            reasons.append(str(exc))
            conn.ctx.log.warning("Jira search results shifted while paging (%s); reading again", exc)
    raise _paging_error(conn, jql, f"results kept changing while paging ({reasons[-1]})")


def _read_offset(conn: Connection, jql: str, fields: list[str], page_size: int, expand: str | None) -> Found:
    """One pass over the offset pages; `_Shifted` when the listing moved under it."""
    found = Found(jql)
    seen: set[str] = set()
    size = max(page_size, 2)  # one place of each later page is the overlap
    start, total, last_id = 0, 0, None
    while True:
        ask = start if last_id is None else start - 1
        answer = conn.call(
            f"search refused JQL {jql!r}",
            partial(
                conn.client.search_issues,
                jql,
                startAt=ask,
                maxResults=size,
                fields=list(fields),
                expand=expand,
                json_result=True,
            ),
        )
        found.pages += 1
        page = _check_page(conn, jql, answer, found.pages)
        issues = [i for i in page.get("issues") or [] if isinstance(i, dict)]
        if int(page.get("startAt", ask)) != ask:
            raise _Shifted(f"page {found.pages} starts at {page.get('startAt')}, not {ask}")
        if last_id is not None:
            first = str(issues[0].get("id")) if issues else None
            if first != last_id:
                raise _Shifted(f"page {found.pages} should begin with issue {last_id}, not {first}")
            issues = issues[1:]
        found.add(issues, seen)
        total = int(page.get("total") or 0)
        start += len(issues)
        if not issues or start >= total:
            break
        last_id = str(issues[-1].get("id"))
    if len(found.issues) < total:
        raise _Shifted(f"read {len(found.issues)} distinct issues of {total}")
    return found


def _check_page(conn: Connection, jql: str, page: Any, number: int) -> dict[str, Any]:
    """A page must be a search result: an empty 200 (a proxy, a maintenance page) is not "no issues"."""
    if not isinstance(page, dict) or not isinstance(page.get("issues"), list):
        raise _paging_error(conn, jql, f"page {number} is not a search result (no `issues` list)")
    return page


def _paging_error(conn: Connection, jql: str, why: str) -> Exception:
    from .connection import JiraApiError

    return JiraApiError(conn.ctx.instance_id, conn.server, f"search for {jql!r}", None, f"{why}; run again")


@dataclass
class Changelogs:
    """Per issue id, the histories touching the wanted fields (oldest first); and what is partial."""

    histories: dict[str, list[dict[str, Any]]]
    incomplete: set[str]  # ids of issues whose changelog Jira did not return in full
    notes: list[str]


def changelogs(
    conn: Connection, issues: list[dict[str, Any]], field_ids: list[str], field_names: list[str]
) -> Changelogs:
    """The changelogs of `issues`, limited to the wanted fields, with the issues read only in part."""
    if conn.cloud:
        histories = _bulk(conn, [str(i["id"]) for i in issues], field_ids)
        incomplete: set[str] = set()
        notes: list[str] = []
    else:
        histories, incomplete, notes = _expanded(conn, issues)
    wanted_ids, wanted_names = set(field_ids), {n.lower() for n in field_names}
    out: dict[str, list[dict[str, Any]]] = {}
    for issue_id, items in histories.items():
        kept = []
        for history in items:
            changes = [
                c
                for c in history.get("items") or []
                if c.get("fieldId") in wanted_ids or str(c.get("field", "")).lower() in wanted_names
            ]
            if changes:
                kept.append({**history, "items": changes})
        out[issue_id] = sorted(kept, key=_when)
    return Changelogs(out, incomplete, notes)


def _when(history: dict[str, Any]) -> tuple[dt.datetime, int, str]:
    """Order by the moment, not the text: Data Center writes its own UTC offset, which changes
    with daylight saving, so string order can put an hour's changes out of order."""
    moment = parse_time(history.get("created")) or dt.datetime.min.replace(tzinfo=dt.timezone.utc)
    ident = str(history.get("id", ""))
    return moment, int(ident) if ident.isdigit() else 0, ident


def _bulk(conn: Connection, ids: list[str], field_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for offset in range(0, len(ids), BULK_ISSUES):
        chunk = ids[offset : offset + BULK_ISSUES]
        tokens: set[str] = set()
        token: str | None = None
        while True:
            body: dict[str, Any] = {"issueIdsOrKeys": chunk, "maxResults": 1000}
            if 0 < len(field_ids) <= BULK_FIELDS:
                body["fieldIds"] = field_ids
            if token:
                body["nextPageToken"] = token
            page = conn.call("POST changelog/bulkfetch", partial(conn.client.bulk_changelogs, body))
            for log in page.get("issueChangeLogs") or []:
                per_issue = out.setdefault(str(log.get("issueId")), {})
                for history in log.get("changeHistories") or []:
                    per_issue.setdefault(str(history.get("id")), history)
            token = page.get("nextPageToken") or None
            if token is None:
                break
            if token in tokens:
                raise _paging_error(
                    conn, "changelog/bulkfetch", "the bulk changelog repeated a nextPageToken"
                )
            tokens.add(token)
    return {issue: list(histories.values()) for issue, histories in out.items()}


def _expanded(
    conn: Connection, issues: list[dict[str, Any]]
) -> tuple[dict[str, list[dict[str, Any]]], set[str], list[str]]:
    """Histories from `expand=changelog`, completed per issue where Jira returned only a page."""
    out: dict[str, list[dict[str, Any]]] = {}
    incomplete: set[str] = set()
    notes = []
    for issue in issues:
        ident, key = str(issue.get("id")), str(issue.get("key"))
        log = issue.get("changelog") or {}
        histories = [h for h in log.get("histories") or [] if isinstance(h, dict)]
        total = int(log.get("total") or len(histories))
        if total > len(histories):
            histories, total, why = _complete(conn, key, histories, total)
            if why:
                incomplete.add(ident)
                notes.append(f"{key}: history incomplete: {why}")
        out[ident] = histories
    return out, incomplete, notes


def _complete(
    conn: Connection, key: str, first: list[dict[str, Any]], total: int
) -> tuple[list[dict[str, Any]], int, str]:
    """(histories, their total, why they are still partial, or "") from `GET issue/{key}/changelog`."""
    from .connection import JiraApiError

    by_id = {str(h.get("id")): h for h in first}
    start = 0
    while True:
        try:
            page = conn.call(
                f"GET issue/{key}/changelog",
                partial(conn.client.changelog_page, key, start, CHANGELOG_PAGE),
            )
        except JiraApiError as exc:
            if exc.status != 404:
                raise
            why = "this Jira has no GET issue/{key}/changelog (404)"
            return first, total, f"the changelog has {total} entries, Jira returned {len(first)} ({why})"
        values = [v for v in page.get("values") or [] if isinstance(v, dict)]
        for value in values:
            by_id.setdefault(str(value.get("id")), value)
        total = max(total, int(page.get("total") or 0))
        start += len(values)
        if not values or page.get("isLast") is True or start >= total:
            break
    histories = list(by_id.values())
    if len(histories) < total:
        return histories, total, f"the changelog has {total} entries, Jira returned {len(histories)}"
    return histories, total, ""
