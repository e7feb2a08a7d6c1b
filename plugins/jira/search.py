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
search itself, so neither costs a call per issue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .window import parse_time

if TYPE_CHECKING:
    from .connection import Connection

BULK_ISSUES = 1000
BULK_FIELDS = 10  # the most `fieldIds` one bulkfetch request accepts


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
        page = conn.call(
            f"search/jql refused JQL {jql!r}",
            lambda t=token: conn.client.enhanced_search_issues(
                jql, nextPageToken=t, maxResults=page_size, fields=list(fields), json_result=True
            ),
        )
        found.pages += 1
        _check_page(conn, jql, page, found.pages)
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
        page = conn.call(
            f"search refused JQL {jql!r}",
            lambda s=ask: conn.client.search_issues(
                jql, startAt=s, maxResults=size, fields=list(fields), expand=expand, json_result=True
            ),
        )
        found.pages += 1
        _check_page(conn, jql, page, found.pages)
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


def _check_page(conn: Connection, jql: str, page: Any, number: int) -> None:
    """A page must be a search result: an empty 200 (a proxy, a maintenance page) is not "no issues"."""
    if not isinstance(page, dict) or not isinstance(page.get("issues"), list):
        raise _paging_error(conn, jql, f"page {number} is not a search result (no `issues` list)")


def _paging_error(conn: Connection, jql: str, why: str) -> Exception:
    from .connection import JiraApiError

    return JiraApiError(conn.ctx.instance_id, conn.server, f"search for {jql!r}", None, f"{why}; run again")


def changelogs(
    conn: Connection, issues: list[dict[str, Any]], field_ids: list[str], field_names: list[str]
) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    """(issue id → histories touching the wanted fields, oldest first; notes on truncated logs)."""
    if conn.cloud:
        histories = _bulk(conn, [str(i["id"]) for i in issues], field_ids)
        notes: list[str] = []
    else:
        histories, notes = _expanded(issues)
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
    return out, notes


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
            page = conn.call("POST changelog/bulkfetch", lambda b=body: conn.client.bulk_changelogs(b))
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


def _expanded(issues: list[dict[str, Any]]) -> tuple[dict[str, list[dict[str, Any]]], list[str]]:
    out: dict[str, list[dict[str, Any]]] = {}
    notes = []
    for issue in issues:
        log = issue.get("changelog") or {}
        histories = [h for h in log.get("histories") or [] if isinstance(h, dict)]
        total = int(log.get("total") or len(histories))
        if total > len(histories):
            notes.append(f"{issue.get('key')}: changelog has {total} entries, Jira returned {len(histories)}")
        out[str(issue.get("id"))] = histories
    return out, notes
