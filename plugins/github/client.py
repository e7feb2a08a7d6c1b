"""PyGithub's `Requester` under the host's retry policy, with counting, paging and conditional requests.

Why the `Requester` and not PyGithub's object model: `Organization.get_members()` and friends fetch
lazily, one page or one object at a time, and cannot say which request they are about to make. The
`Requester` (PyGithub's documented way to reach any endpoint) keeps what PyGithub does well (token
auth for github.com and GHES alike, the Link-host check, GraphQL through `graphql_query`, GitHub's
error bodies turned into typed exceptions) while every request passes through here, so it is:

- retried under the one shared policy (`evidentia.retry`): 5xx, 429, and GitHub's 403 with
  `Retry-After` (secondary limit) or `X-RateLimit-Remaining: 0` (primary limit) wait as long as the
  service asks. PyGithub's own retries are switched off (`retry=None`) so there is exactly one policy;
- never slowed by PyGithub's fixed 0.25 s sleep (`seconds_between_requests=None`): when the primary
  quota runs out, the next request waits for `X-RateLimit-Reset` instead;
- recorded for provenance and counted for the run summary, the token never part of either;
- conditional (`If-None-Match`) where an ETag is known, so an unchanged listing costs a 304, which
  GitHub does not count against the hourly limit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode, urlsplit

import github
import requests
from github import Auth, GithubException

from evidentia import CollectContext, __version__
from evidentia.retry import RetryableError, retry_after_seconds, retrying

T = TypeVar("T")
PAGE_SIZE = 100
MAX_QUOTA_WAIT = 300.0  # seconds; a reset further away than this fails the run with a clear message
CACHE_FILE = "etags.json"
MAX_CACHE_BYTES = 64 * 1024 * 1024


class GitHubError(RuntimeError):
    """A GitHub answer the collector cannot use, with the status and GitHub's own message."""

    def __init__(self, call: str, status: int, message: str) -> None:
        super().__init__(f"{call}: HTTP {status}: {message}")
        self.call = call
        self.status = status
        self.message = message


@dataclass
class Stats:
    """What this client spent: requests sent, and how many were 304s (free against the quota)."""

    requests: int = 0
    not_modified: int = 0
    graphql: int = 0

    @property
    def counted(self) -> int:
        return self.requests - self.not_modified


@dataclass
class EtagCache:
    """ETags and bodies of earlier GET answers, kept between runs when the host gives a folder.

    Only an optimisation, so it may never cost evidence: a missing, unreadable or corrupt file is an
    empty cache; a write goes to a private temporary file renamed over the old one (a crash leaves
    the old cache or the new, never half of one); a failed write is logged, not raised. It holds
    what GitHub answered (bodies, ETags, Link headers) keyed by a hash of the request line, never a
    request header, so never the token. It is bounded: only answers used in the latest run are kept,
    and the largest are dropped first when they exceed `MAX_CACHE_BYTES`.
    """

    path: Path | None = None
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)
    used: set[str] = field(default_factory=set)

    @classmethod
    def load(cls, folder: Path | None) -> EtagCache:
        if folder is None:
            return cls()
        path = folder / CACHE_FILE
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raw = {}
        entries = raw if isinstance(raw, dict) else {}
        return cls(path, {k: v for k, v in entries.items() if _valid_entry(v)})

    def get(self, key: str) -> dict[str, Any] | None:
        entry = self.entries.get(key)
        if entry is not None:
            self.used.add(key)
        return entry

    def put(self, key: str, etag: str, data: Any, link: str) -> None:
        self.entries[key] = {"etag": etag, "data": data, "link": link}
        self.used.add(key)

    def save(self, log: logging.Logger) -> None:
        if self.path is None:
            return
        kept: dict[str, dict[str, Any]] = {}
        budget = MAX_CACHE_BYTES
        sized = sorted((len(json.dumps(self.entries[k])), k) for k in self.used if k in self.entries)
        for size, key in sized:
            if size > budget:
                break
            kept[key] = self.entries[key]
            budget -= size
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".etags-", suffix=".tmp")
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump(kept, out, sort_keys=True)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            log.warning("could not keep the GitHub request cache at %s: %s", self.path, exc.strerror)


def _valid_entry(entry: Any) -> bool:
    return (
        isinstance(entry, dict)
        and isinstance(entry.get("etag"), str)
        and "data" in entry
        and isinstance(entry.get("link", ""), str)
    )


def message_of(exc: GithubException) -> str:
    data = exc.data
    if isinstance(data, dict):
        return str(data.get("message") or data.get("errors") or "")[:300]
    return str(data or "")[:300]


def _throttled(exc: GithubException) -> bool:
    headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
    if exc.status in (429, 500, 502, 503, 504):
        return True
    return exc.status == 403 and ("retry-after" in headers or headers.get("x-ratelimit-remaining") == "0")


class GitHubClient:
    """One organisation's API, through PyGithub, for one collector run."""

    def __init__(self, ctx: CollectContext, base_url: str, token: str, *, page_size: int = PAGE_SIZE) -> None:
        self.ctx = ctx
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.stats = Stats()
        self.cache = EtagCache.load(ctx.cache_dir)
        self._quota_reset: float | None = None
        self.gh = github.Github(
            base_url=self.base_url,
            auth=Auth.Token(token) if token else None,
            per_page=page_size,
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
            timeout=60,
            user_agent=f"evidentia/{__version__}",
        )
        self.requester = self.gh.requester

    def close(self) -> None:
        self.cache.save(self.ctx.log)
        self.gh.close()

    # -- one request --------------------------------------------------------------------------

    def _describe(self, verb: str, url: str, params: Mapping[str, Any] | None = None) -> str:
        full = url if url.startswith("http") else self.base_url + url
        query = urlencode(params or {})
        return f"{verb} {full}{'?' + query if query else ''}"

    def _send(
        self, described: str, fn: Callable[[], tuple[dict[str, Any], Any]]
    ) -> tuple[dict[str, Any], Any]:
        """Make one request under the shared retry policy, counting every attempt."""
        self.ctx.check_cancelled()
        self._wait_for_quota()
        self.ctx.record_call(described)
        first = True

        def attempt() -> tuple[dict[str, Any], Any]:
            nonlocal first
            self.ctx.check_cancelled()
            if not first:
                self.ctx.count_requests(1)
            first = False
            self.stats.requests += 1
            try:
                headers, data = fn()
            except GithubException as exc:
                self._note_quota(exc.headers or {})
                if _throttled(exc):
                    wait = retry_after_seconds(exc.headers or {})
                    raise RetryableError(f"{described}: HTTP {exc.status}: {message_of(exc)}", wait) from None
                raise
            except (requests.ConnectionError, requests.Timeout) as exc:
                raise RetryableError(f"{described}: {type(exc).__name__}") from exc
            self._note_quota(headers)
            return headers, data

        return retrying()(attempt)

    def _note_quota(self, headers: Mapping[str, Any]) -> None:
        lower = {k.lower(): str(v) for k, v in headers.items()}
        reset = lower.get("x-ratelimit-reset", "")
        if lower.get("x-ratelimit-remaining") == "0" and reset.isdigit():
            self._quota_reset = float(reset)
        elif "x-ratelimit-remaining" in lower:
            self._quota_reset = None

    def _wait_for_quota(self) -> None:
        """The primary quota is spent: wait for its reset rather than spend a request on a 403."""
        if self._quota_reset is None:
            return
        wait = self._quota_reset - time.time()
        self._quota_reset = None
        if wait <= 0:
            return
        if wait > MAX_QUOTA_WAIT:
            raise RuntimeError(
                f"the GitHub rate limit is exhausted for another {wait:.0f} s; run again later"
            )
        end = time.monotonic() + wait
        while (left := end - time.monotonic()) > 0:
            self.ctx.check_cancelled()
            time.sleep(min(left, 0.5))

    def get(self, url: str, params: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], Any]:
        """One GET (relative to base_url, or an absolute URL GitHub gave), conditional when possible."""
        described = self._describe("GET", url, params)
        key = hashlib.sha256(described.encode()).hexdigest()
        cached = self.cache.get(key)
        headers = {"If-None-Match": cached["etag"]} if cached else {}
        try:
            got_headers, data = self._send(
                described,
                lambda: self.requester.requestJsonAndCheck("GET", url, dict(params or {}) or None, headers),
            )
        except GithubException as exc:
            raise GitHubError(described, exc.status, message_of(exc)) from None
        if cached and data is None:  # PyGithub hands a 304 back as (headers, None)
            self.stats.not_modified += 1
            return {**got_headers, "link": cached.get("link", "")}, cached["data"]
        etag = got_headers.get("etag")
        if etag:
            self.cache.put(key, etag, data, got_headers.get("link", ""))
        return got_headers, data

    def pages(
        self, path: str, params: Mapping[str, Any] | None = None, key: str | None = None
    ) -> Iterator[Any]:
        """Every item of a REST listing, page by page, following GitHub's `Link: rel="next"`."""
        query = {"per_page": self.page_size, **(params or {})}
        url: str | None = path
        first = True
        while url:
            headers, data = self.get(url, query if first else None)
            first = False
            items = data.get(key, []) if key and isinstance(data, dict) else data
            yield from items or []
            url = _next_link(headers.get("link", ""))

    # -- GraphQL ------------------------------------------------------------------------------

    def graphql(
        self, query: str, variables: Mapping[str, Any]
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """One GraphQL query: (data, errors). Partial answers keep their data; errors are returned."""
        name = query.split("(")[0].split("{")[0].replace("query", "").strip() or "query"
        shown = {k: v for k, v in variables.items() if k != "after"}
        described = f"POST {self.requester.graphql_url} {name} {json.dumps(shown, sort_keys=True)}"
        self.stats.graphql += 1
        try:
            _, body = self._send(described, lambda: self.requester.graphql_query(query, dict(variables)))
        except GithubException as exc:
            body = exc.data if isinstance(exc.data, dict) else {}
            if not body.get("data"):
                raise GitHubError(described, exc.status, message_of(exc) or json.dumps(body)[:300]) from None
        return body.get("data") or {}, list(body.get("errors") or [])

    def connection(
        self, query: str, variables: Mapping[str, Any], path: tuple[str, ...]
    ) -> Generator[tuple[dict[str, Any], list[dict[str, Any]]], None, None]:
        """Each page of the connection at `path` (the query takes `$after`): (connection, errors).

        A generator, so a caller that has seen enough (a search window to be split) can `close()` it.
        """
        after: str | None = None
        while True:
            data, errors = self.graphql(query, {**variables, "after": after})
            conn: Any = data
            for step in path:
                conn = (conn or {}).get(step)
            if conn is None:
                yield {"nodes": []}, errors
                return
            yield conn, errors
            info = conn.get("pageInfo") or {}
            if not info.get("hasNextPage"):
                return
            after = info.get("endCursor")


def _next_link(link: str) -> str | None:
    for part in requests.utils.parse_header_links(link) if link else []:
        if part.get("rel") == "next":
            return part.get("url")
    return None


def host_of(base_url: str) -> str:
    """`api.github.com` or a GHES host: named in evidence as the source."""
    return urlsplit(base_url).netloc
