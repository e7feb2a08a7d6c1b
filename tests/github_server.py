"""A stateful GitHub on 127.0.0.1: REST and GraphQL for what the collectors (and a PyGithub baseline) ask.

Real HTTP on a random port, so PyGithub is tested as it runs against github.com:
- REST pages with `per_page`/`page` and a `Link` header built from the request's `Host` (PyGithub
  asserts the host matches `base_url`); `X-RateLimit-*` headers on every answer, a 403 when the quota
  is spent; `ETag` on every 200 and a 304 (not counted against the quota) for `If-None-Match`;
  GitHub's error bodies for 401, 403, 404 and 422;
- GraphQL at `/graphql` (or `/api/graphql` under a GHES-style `/api/v3` prefix), executed by
  graphql-core against the reference schema pruned to the collectors' queries
  (`github_graphql_subset.graphql`); errors carry GitHub's `type` (NOT_FOUND, FORBIDDEN);
- faults on demand: `fail(pattern, status, times, retry_after=...)` (5xx, secondary rate limit),
  `deny(pattern)` (a token without permission for one endpoint), `after(pattern, action)` (delete a
  repository mid-run), and a fixed `latency` per request for benchmarks.
Every request is recorded (`requests`) with whether it counted against the primary limit.
REST objects start from skeletons derived from the published schemas (`github_rest_shapes.py`).
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from github_schema import server_schema
from graphql import GraphQLError, graphql_sync

SKELETONS = json.loads((Path(__file__).parent / "github_rest_skeletons.json").read_text(encoding="utf-8"))
UTC = dt.timezone.utc
DOCS = "https://docs.github.com/rest"


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sha(*parts: Any) -> str:
    return hashlib.sha1("/".join(map(str, parts)).encode()).hexdigest()


# -- the model --------------------------------------------------------------------------------


@dataclass
class Review:
    author: str
    state: str
    submitted_at: dt.datetime
    commit: str


@dataclass
class Check:
    name: str
    conclusion: str  # SUCCESS, FAILURE, ...
    kind: str = "CheckRun"  # or StatusContext


@dataclass
class Pull:
    repo: str
    number: int
    title: str
    author: str
    merged_by: str
    created_at: dt.datetime
    merged_at: dt.datetime
    base: str = "main"
    head_ref: str = "feature"
    reviews: list[Review] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def head_oid(self) -> str:
        return sha(self.repo, self.number, "head")

    @property
    def merge_oid(self) -> str:
        return sha(self.repo, self.number, "merge")

    @property
    def base_oid(self) -> str:
        return sha(self.repo, self.number, "base")


@dataclass
class Commit:
    oid: str
    message: str
    committed_at: dt.datetime
    author: str
    pull: int | None = None  # the merged pull request it belongs to


@dataclass
class Ruleset:
    """A ruleset in force on a repository's default branch; `rules` in REST shape (type, parameters)."""

    id: int
    name: str
    rules: list[dict[str, Any]]
    source_type: str = "Repository"  # or Organization
    source: str = ""
    enforcement: str = "ACTIVE"  # EVALUATE and DISABLED rulesets are not in force
    bypass: list[dict[str, Any]] = field(default_factory=list)  # GraphQL RepositoryRulesetBypassActor


@dataclass
class Repo:
    name: str
    id: int
    archived: bool = False
    default_branch: str = "main"
    required_checks: list[str] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)
    protection: dict[str, Any] | None = None
    collaborators: dict[str, str] = field(default_factory=dict)  # login -> ADMIN/WRITE/READ...
    packages: list[dict[str, Any]] = field(default_factory=list)
    rulesets: list[Ruleset] = field(default_factory=list)
    dependency_graph: bool = True


@dataclass
class Member:
    login: str
    id: int
    role: str = "MEMBER"  # or ADMIN
    two_factor: bool = True


@dataclass
class Installation:
    id: int
    app_slug: str
    permissions: dict[str, str]
    repository_selection: str = "all"
    events: list[str] = field(default_factory=list)
    repositories: list[str] = field(default_factory=list)  # for `selected`


@dataclass
class Team:
    slug: str
    members: dict[str, str] = field(default_factory=dict)  # login -> MEMBER or MAINTAINER
    repos: dict[str, str] = field(default_factory=dict)  # repository -> ADMIN/MAINTAIN/WRITE/TRIAGE/READ
    parent: str | None = None


@dataclass
class Alert:
    number: int
    repo: str
    severity: str
    created_at: dt.datetime
    package: str
    ghsa: str
    state: str = "open"


@dataclass
class Org:
    login: str = "acme"
    id: int = 1000
    members: dict[str, Member] = field(default_factory=dict)
    repos: dict[str, Repo] = field(default_factory=dict)
    pulls: list[Pull] = field(default_factory=list)
    installations: list[Installation] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    outside_without_2fa: list[str] = field(default_factory=list)
    teams: dict[str, Team] = field(default_factory=dict)
    default_permission: str = "read"  # the organisation's base repository permission
    requires_2fa: bool = True
    by_key: dict[tuple[str, int], Pull] = field(default_factory=dict)

    def add_pull(self, pull: Pull) -> Pull:
        """File a merged pull request and its merge commit on the default branch."""
        self.pulls.append(pull)
        self.by_key[(pull.repo, pull.number)] = pull
        repo = self.repos[pull.repo]
        repo.commits.append(Commit(pull.merge_oid, pull.title, pull.merged_at, pull.merged_by, pull.number))
        return pull


# -- recording --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Seen:
    method: str
    path: str  # with query
    status: int
    counted: bool
    body: Any = None  # the JSON sent (REST) for schema checks
    query: str | None = None  # the GraphQL document received


@dataclass
class Fault:
    pattern: re.Pattern[str]
    status: int
    times: int
    retry_after: int | None = None
    message: str = "Server Error"


# -- the server -------------------------------------------------------------------------------


class GitHubServer:
    """`with GitHubServer(org, token="t") as gh:` then point PyGithub at `gh.base_url`."""

    def __init__(
        self, org: Org, token: str, *, page_cap: int = 100, latency: float = 0.0, ghes: bool = False
    ):
        self.org = org
        self.token = token
        self.page_cap = page_cap
        self.latency = latency
        self.prefix = "/api/v3" if ghes else ""
        self.graphql_path = "/api/graphql" if ghes else "/graphql"
        self.limit = 5000
        self.used = 0
        self.reset_at = int(time.time()) + 3600
        self.owner_token = True  # the token may see members' 2FA
        self.viewer_admin = True  # the token administers the repositories (sees classic protection)
        self.schema: Any = None  # a GraphQLSchema to answer with instead of the subset (an older GHES)
        self.broken_rules: set[str] = set()  # repositories whose `Ref.rules` fails (a partial answer)
        self.faults: list[Fault] = []
        self.denied: list[re.Pattern[str]] = []
        self.hooks: list[tuple[re.Pattern[str], Callable[[], None]]] = []
        self.seen: list[Seen] = []
        self.record_bodies = True
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None

    # lifecycle
    def __enter__(self) -> GitHubServer:
        handler = type("Handler", (_Handler,), {"gh": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def __exit__(self, *_: Any) -> None:
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def base_url(self) -> str:
        assert self._httpd is not None
        return f"http://127.0.0.1:{self._httpd.server_address[1]}{self.prefix}"

    # scripting
    def fail(
        self, pattern: str, status: int, times: int = 1, retry_after: int | None = None, message: str = ""
    ) -> None:
        """The next `times` requests matching `pattern` (`METHOD /path?query`) answer `status`."""
        text = message or ("You have exceeded a secondary rate limit" if status == 403 else "Server Error")
        self.faults.append(Fault(re.compile(pattern, re.S), status, times, retry_after, text))

    def deny(self, pattern: str) -> None:
        """Requests matching `pattern` are refused as for a token without that permission."""
        self.denied.append(re.compile(pattern))

    def after(self, pattern: str, action: Callable[[], None]) -> None:
        """Run `action` once, after answering the first request matching `pattern`."""
        self.hooks.append((re.compile(pattern, re.S), action))

    def reset_log(self) -> None:
        with self.lock:
            self.seen = []

    @property
    def graphql_queries(self) -> list[str]:
        return [s.query for s in self.seen if s.query]

    def counted(self) -> int:
        return sum(1 for s in self.seen if s.counted)

    # -- REST ---------------------------------------------------------------------------------

    def rest(self, path: str, query: dict[str, str], host: str) -> tuple[int, Any, dict[str, str]]:
        org = self.org
        base = f"http://{host}{self.prefix}"
        m = re.fullmatch(r"/orgs/([^/]+)(/.*)?", path)
        if m and m.group(1) == org.login:
            rest = m.group(2) or ""
            if rest == "/installations":
                items = [self._installation(i, base) for i in org.installations]
                return self._page(items, query, base + path, key="installations")
            if rest == "":
                return 200, self._organization(base), {}
            if rest == "/outside_collaborators":
                logins = org.outside
                if query.get("filter") == "2fa_disabled":
                    if not self.owner_token:
                        body = {"message": "Only owners can use this filter.", "documentation_url": DOCS}
                        return 422, {**body, "status": "422"}, {}
                    logins = [u for u in org.outside if u in org.outside_without_2fa]
                return self._page([self._user(u, base) for u in logins], query, base + path)
            if rest == "/repos":
                items = [self._repo(r, base) for r in org.repos.values()]
                return self._page(items, query, base + path)
            if rest == "/dependabot/alerts":
                alerts = [
                    a for a in org.alerts if query.get("state", "open") == a.state and a.repo in org.repos
                ]
                return self._cursor_page([self._alert(a, base) for a in alerts], query, base + path)
        m = re.fullmatch(r"/user/installations/(\d+)/repositories", path)
        installation = next((i for i in org.installations if m and i.id == int(m.group(1))), None)
        if installation is not None:
            selected = installation.repository_selection == "selected"
            names = installation.repositories if selected else list(org.repos)
            items = [self._repo(org.repos[n], base) for n in names if n in org.repos]
            return self._page(items, query, base + path, key="repositories")
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)", path)
        if m and m.group(1) == org.login:
            repo = org.repos.get(m.group(2))
            if repo is None:
                return 404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}, {}
            return self._repo_route(repo, m.group(3), query, base, base + path)
        return 404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}, {}

    def _repo_route(
        self, repo: Repo, rest: str, query: dict[str, str], base: str, url: str
    ) -> tuple[int, Any, dict[str, str]]:
        pulls = [p for p in self.org.pulls if p.repo == repo.name]
        if rest == "/pulls":
            wanted = (
                sorted(pulls, key=lambda p: p.created_at, reverse=True)
                if query.get("state") != "open"
                else []
            )
            return self._page([self._pull(p, repo, base) for p in wanted], query, url)
        m = re.fullmatch(r"/pulls/(\d+)/reviews", rest)
        if m:
            pull = next((p for p in pulls if p.number == int(m.group(1))), None)
            if pull is None:
                return 404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}, {}
            return self._page(
                [self._review(r, i, pull, base) for i, r in enumerate(pull.reviews)], query, url
            )
        m = re.fullmatch(r"/commits/([^/]+)/status", rest)
        if m:
            pull = next((p for p in pulls if p.head_oid == m.group(1)), None)
            statuses = [c for c in (pull.checks if pull else []) if c.kind == "StatusContext"]
            body = copy.deepcopy(SKELETONS["combined_status"])
            state = "success" if all(c.conclusion == "SUCCESS" for c in statuses) else "failure"
            body.update(state=state, sha=m.group(1), total_count=len(statuses), statuses=[])
            body["repository"] = self._repo(repo, base)
            return 200, body, {}
        m = re.fullmatch(r"/branches/([^/]+)/protection", rest)
        if m:
            if repo.protection is None or m.group(1) != repo.default_branch:
                return (
                    404,
                    {"message": "Branch not protected", "documentation_url": DOCS, "status": "404"},
                    {},
                )
            return 200, {"url": url, **repo.protection}, {}
        if rest == "/dependency-graph/sbom":
            if not repo.dependency_graph:
                return 404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}, {}
            return 200, self._sbom(repo), {}
        m = re.fullmatch(r"/rules/branches/([^/]+)", rest)
        if m:
            rules = [
                {
                    **rule,
                    "ruleset_source_type": rs.source_type,
                    "ruleset_source": rs.source,
                    "ruleset_id": rs.id,
                }
                for rs in repo.rulesets
                if rs.enforcement == "ACTIVE" and m.group(1) == repo.default_branch
                for rule in rs.rules
            ]
            return self._page(rules, query, url)
        return 404, {"message": "Not Found", "documentation_url": DOCS, "status": "404"}, {}

    def _page(
        self, items: list[Any], query: dict[str, str], url: str, key: str | None = None
    ) -> tuple[int, Any, dict[str, str]]:
        per_page = min(int(query.get("per_page", 30)), 100, self.page_cap)
        page = max(1, int(query.get("page", 1)))
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []
        last = max(1, -(-len(items) // per_page))

        def link(n: int, rel: str) -> str:
            return f'<{url}?{urlencode({**query, "per_page": per_page, "page": n})}>; rel="{rel}"'

        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        if page > 1:
            links += [link(1, "first"), link(page - 1, "prev")]
        headers = {"Link": ", ".join(links)} if links else {}
        body: Any = {"total_count": len(items), key: chunk} if key else chunk
        return 200, body, headers

    def _cursor_page(
        self, items: list[Any], query: dict[str, str], url: str
    ) -> tuple[int, Any, dict[str, str]]:
        """Cursor paging (`after`), as the organisation's Dependabot alerts listing pages on github.com."""
        per_page = min(int(query.get("per_page", 30)), 100, self.page_cap)
        start = int(base64.b64decode(query["after"]).decode()) if query.get("after") else 0
        chunk = items[start : start + per_page]
        headers = {}
        if start + per_page < len(items):
            cursor = base64.b64encode(str(start + per_page).encode()).decode()
            params = {k: v for k, v in query.items() if k != "page"}
            headers["Link"] = (
                f'<{url}?{urlencode({**params, "per_page": per_page, "after": cursor})}>; rel="next"'
            )
        return 200, chunk, headers

    # REST objects: skeleton (the documented shape) + real values
    def _user(self, login: str, base: str) -> dict[str, Any]:
        user = copy.deepcopy(SKELETONS["user"])
        uid = (
            self.org.members[login].id
            if login in self.org.members
            else 50_000 + int(sha(login)[:6], 16) % 10_000
        )
        user.update(login=login, id=uid, node_id=f"U_{uid}", type="User", url=f"{base}/users/{login}")
        user["html_url"] = f"https://github.invalid/{login}"
        return user

    def _repo(self, repo: Repo, base: str) -> dict[str, Any]:
        body = copy.deepcopy(SKELETONS["repository"])
        full = f"{self.org.login}/{repo.name}"
        body.update(
            id=repo.id,
            node_id=f"R_{repo.id}",
            name=repo.name,
            full_name=full,
            private=True,
            archived=repo.archived,
            default_branch=repo.default_branch,
            url=f"{base}/repos/{full}",
            html_url=f"https://github.invalid/{full}",
            pulls_url=f"{base}/repos/{full}/pulls{{/number}}",
        )
        body["owner"] = self._user_org(base)
        return body

    def _organization(self, base: str) -> dict[str, Any]:
        """`GET /orgs/{org}`: the settings fields only an owner's token is shown."""
        body = copy.deepcopy(SKELETONS["organization"])
        org = self.org
        body.update(login=org.login, id=org.id, node_id=f"O_{org.id}", type="Organization")
        body.update(url=f"{base}/orgs/{org.login}", html_url=f"https://github.invalid/{org.login}")
        if self.owner_token:
            body["two_factor_requirement_enabled"] = org.requires_2fa
            body["default_repository_permission"] = org.default_permission
        return body

    def _user_org(self, base: str) -> dict[str, Any]:
        owner = copy.deepcopy(SKELETONS["user"])
        owner.update(
            login=self.org.login, id=self.org.id, type="Organization", url=f"{base}/orgs/{self.org.login}"
        )
        return owner

    def _pull(self, pull: Pull, repo: Repo, base: str) -> dict[str, Any]:
        body = copy.deepcopy(SKELETONS["pull"])
        full = f"{self.org.login}/{repo.name}"
        body.update(
            id=hash((repo.name, pull.number)) & 0xFFFFFF,
            number=pull.number,
            title=pull.title,
            state="closed",
            url=f"{base}/repos/{full}/pulls/{pull.number}",
            created_at=iso(pull.created_at),
            updated_at=iso(pull.merged_at),
            closed_at=iso(pull.merged_at),
            merged_at=iso(pull.merged_at),
            merge_commit_sha=pull.merge_oid,
            user=self._user(pull.author, base),
        )
        for side, ref, oid in (("head", pull.head_ref, pull.head_oid), ("base", pull.base, pull.base_oid)):
            body[side] = {**body[side], "ref": ref, "sha": oid, "label": f"{self.org.login}:{ref}"}
            body[side]["repo"] = {**body[side]["repo"], **self._repo(repo, base)}
        return body

    def _review(self, review: Review, index: int, pull: Pull, base: str) -> dict[str, Any]:
        body = copy.deepcopy(SKELETONS["review"])
        body.update(
            id=index + 1,
            node_id=f"PRR_{index}",
            user=self._user(review.author, base),
            state=review.state,
            submitted_at=iso(review.submitted_at),
            commit_id=review.commit,
            body="",
        )
        return body

    def _installation(self, inst: Installation, base: str) -> dict[str, Any]:
        body = copy.deepcopy(SKELETONS["installation"])
        body.update(
            id=inst.id,
            app_id=inst.id + 1,
            app_slug=inst.app_slug,
            target_id=self.org.id,
            target_type="Organization",
            repository_selection=inst.repository_selection,
            permissions=dict(inst.permissions),
            events=list(inst.events),
            account=self._user_org(base),
            access_tokens_url=f"{base}/app/installations/{inst.id}/access_tokens",
            repositories_url=f"{base}/installation/repositories",
            html_url=f"https://github.invalid/organizations/{self.org.login}/settings/installations/{inst.id}",
            created_at="2024-03-01T00:00:00Z",
            updated_at="2024-03-01T00:00:00Z",
        )
        return body

    def _alert(self, alert: Alert, base: str) -> dict[str, Any]:
        body = copy.deepcopy(SKELETONS["alert"])
        body.update(
            number=alert.number,
            state=alert.state,
            created_at=iso(alert.created_at),
            updated_at=iso(alert.created_at),
        )
        body["security_advisory"] = {
            **body["security_advisory"],
            "ghsa_id": alert.ghsa,
            "severity": alert.severity,
            "summary": f"{alert.package} advisory",
        }
        vuln = body["security_vulnerability"]
        body["security_vulnerability"] = {
            **vuln,
            "severity": alert.severity,
            "package": {"ecosystem": "pip", "name": alert.package},
        }
        body["dependency"] = {
            "package": {"ecosystem": "pip", "name": alert.package},
            "manifest_path": "requirements.txt",
        }
        repo = self.org.repos[alert.repo]
        body["repository"] = {
            **body["repository"],
            **{k: v for k, v in self._repo(repo, base).items() if k in body["repository"]},
        }
        return body

    def _sbom(self, repo: Repo) -> dict[str, Any]:
        body = copy.deepcopy(SKELETONS["sbom"])
        body["sbom"].update(
            SPDXID="SPDXRef-DOCUMENT",
            spdxVersion="SPDX-2.3",
            name=f"com.github.{self.org.login}/{repo.name}",
            dataLicense="CC0-1.0",
            documentNamespace=f"https://spdx.org/spdxdocs/{repo.name}-{repo.id}",
            creationInfo={
                "created": "2025-01-01T00:00:00Z",
                "creators": ["Tool: GitHub.com-Dependency-Graph"],
            },
            packages=[
                {
                    "SPDXID": f"SPDXRef-{p['name']}",
                    "name": p["name"],
                    "versionInfo": p["version"],
                    "downloadLocation": "NOASSERTION",
                    "licenseConcluded": p.get("license", "NOASSERTION"),
                }
                for p in repo.packages
            ],
        )
        return body

    # -- GraphQL ------------------------------------------------------------------------------

    def graphql(self, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        schema = self.schema or server_schema()
        result = graphql_sync(schema, document, root_value=_Root(self), variable_values=variables)
        out: dict[str, Any] = {}
        if result.errors:
            out["errors"] = [
                {
                    "type": (e.extensions or {}).get("type", "INVALID"),
                    "path": e.path,
                    "locations": [{"line": loc.line, "column": loc.column} for loc in e.locations or []],
                    "message": e.message,
                }
                for e in result.errors
            ]
        if result.data is not None or not result.errors:
            out["data"] = result.data
        return out


def _connection(
    items: list[Any], args: dict[str, Any], cap: int, edge: Callable[[Any], dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A GraphQL connection page with opaque cursors; `last` pages from the end."""
    start = int(base64.b64decode(args["after"]).decode().split(":")[1]) + 1 if args.get("after") else 0
    if args.get("last") is not None:
        size = min(int(args["last"]), cap)
        start, page = max(0, len(items) - size), items[max(0, len(items) - size) :]
    else:
        size = min(int(args.get("first") or 100), cap)
        page = items[start : start + size]
    cursors = [base64.b64encode(f"cursor:{start + i}".encode()).decode() for i in range(len(page))]
    edges = [
        {"cursor": c, "node": n, **(edge(n) if edge else {})} for c, n in zip(cursors, page, strict=True)
    ]
    return {
        "totalCount": len(items),
        "nodes": page,
        "edges": edges,
        "pageInfo": {
            "hasNextPage": start + len(page) < len(items),
            "endCursor": cursors[-1] if cursors else None,
        },
    }


class _Root:
    """Resolvers: graphql-core calls a callable attribute with (info, **args)."""

    def __init__(self, gh: GitHubServer) -> None:
        self.gh = gh

    def organization(self, info: Any, login: str) -> dict[str, Any] | None:
        if login != self.gh.org.login:
            raise GraphQLError(
                f"Could not resolve to an Organization with the login of '{login}'.",
                extensions={"type": "NOT_FOUND"},
            )
        return _OrgNode(self.gh).node()

    def repository(self, info: Any, owner: str, name: str, **_: Any) -> dict[str, Any] | None:
        repo = self.gh.org.repos.get(name)
        if owner != self.gh.org.login or repo is None:
            raise GraphQLError(
                f"Could not resolve to a Repository with the name '{owner}/{name}'.",
                extensions={"type": "NOT_FOUND"},
            )
        return _OrgNode(self.gh).repo(repo)

    def search(self, info: Any, query: str, type: str, **args: Any) -> dict[str, Any]:
        org = self.gh.org
        words = dict(w.split(":", 1) for w in query.split() if ":" in w)
        pulls = [p for p in org.pulls if words.get("org") == org.login and p.repo in org.repos]
        if "merged" in words:
            low, _, high = words["merged"].partition("..")
            lo, hi = dt.datetime.fromisoformat(low), dt.datetime.fromisoformat(high)
            pulls = [p for p in pulls if lo <= p.merged_at <= hi]
        pulls.sort(key=lambda p: (p.merged_at, p.repo, p.number))
        visible = pulls[:1000]  # search shows at most 1,000 results
        node = _OrgNode(self.gh)
        conn = _connection(visible, args, self.gh.page_cap)
        conn["nodes"] = [node.pull(p) for p in conn["nodes"]]
        conn["issueCount"] = len(pulls)
        return conn


class _OrgNode:
    def __init__(self, gh: GitHubServer) -> None:
        self.gh = gh
        self.org = gh.org
        self.cap = gh.page_cap

    def node(self) -> dict[str, Any]:
        org = self.org
        members = sorted(org.members.values(), key=lambda m: m.login)
        return {
            "login": org.login,
            "repositories": lambda info, **a: _connection(
                [self.repo(r) for r in sorted(org.repos.values(), key=lambda r: r.name.lower())], a, self.cap
            ),
            "membersWithRole": lambda info, **a: _connection(
                [self.user(m.login) for m in members],
                a,
                self.cap,
                lambda n: {
                    "role": org.members[n["login"]].role,
                    "hasTwoFactorEnabled": org.members[n["login"]].two_factor
                    if self.gh.owner_token
                    else None,
                },
            ),
            "teams": lambda info, **a: _connection(
                [self.team(t) for t in sorted(org.teams.values(), key=lambda t: t.slug)], a, self.cap
            ),
            "team": lambda info, slug: self.team(org.teams[slug]) if slug in org.teams else None,
        }

    def team(self, team: Team) -> dict[str, Any]:
        def everyone(t: Team) -> dict[str, str]:
            """membership ALL: a child team's members are members of its parent too."""
            found = dict(t.members)
            for child in self.org.teams.values():
                if child.parent == t.slug:
                    found = {**everyone(child), **found}
            return found

        def members(info: Any, **a: Any) -> dict[str, Any]:
            chosen = team.members if a.get("membership") == "IMMEDIATE" else everyone(team)
            users = [self.user(login) for login in sorted(chosen)]
            return _connection(users, a, self.cap, lambda n: {"role": chosen[n["login"]]})

        def repositories(info: Any, **a: Any) -> dict[str, Any]:
            names = [n for n in sorted(team.repos) if n in self.org.repos]
            nodes = [self.repo(self.org.repos[n]) for n in names]
            return _connection(nodes, a, self.cap, lambda n: {"permission": team.repos[n["name"]]})

        return {
            "slug": team.slug,
            "name": team.slug.replace("-", " ").title(),
            "privacy": "VISIBLE",
            "parentTeam": self.team(self.org.teams[team.parent]) if team.parent in self.org.teams else None,
            "members": members,
            "repositories": repositories,
        }

    def collaborators(self, repo: Repo, a: dict[str, Any]) -> dict[str, Any]:
        """DIRECT (and ALL, which this server does not widen); OUTSIDE: non-members only."""
        logins = sorted(repo.collaborators)
        if a.get("affiliation") == "OUTSIDE":
            logins = [u for u in logins if u not in self.org.members]
        users = [self.user(u) for u in logins]
        return _connection(users, a, self.cap, lambda n: {"permission": repo.collaborators[n["login"]]})

    def user(self, login: str | None) -> dict[str, Any] | None:
        if login is None:
            return None
        member = self.org.members.get(login)
        return {
            "__typename": "User",
            "login": login,
            "name": login.title(),
            "databaseId": member.id if member else None,
        }

    def repo(self, repo: Repo) -> dict[str, Any]:
        def history(info: Any, **a: Any) -> dict[str, Any]:
            since = dt.datetime.fromisoformat(a["since"]) if a.get("since") else None
            until = dt.datetime.fromisoformat(a["until"]) if a.get("until") else None
            commits = [
                c
                for c in sorted(repo.commits, key=lambda c: c.committed_at, reverse=True)
                if (since is None or c.committed_at >= since) and (until is None or c.committed_at <= until)
            ]
            return _connection([self.commit(repo, c) for c in commits], a, self.cap)

        admin = self.gh.viewer_admin
        classic = _classic_rule(repo.default_branch, repo.protection) if repo.protection is not None else None
        in_force = [(rs, rule) for rs in repo.rulesets if rs.enforcement == "ACTIVE" for rule in rs.rules]

        def rules(info: Any, **a: Any) -> dict[str, Any]:
            if repo.name in self.gh.broken_rules:
                raise GraphQLError("Something went wrong while executing your query. Please try again.")
            return _connection([_rule_node(rs, r, admin) for rs, r in in_force], a, self.cap)

        branch = {
            "name": repo.default_branch,
            "target": {"__typename": "Commit", "history": history},
            "branchProtectionRule": classic if admin else None,  # hidden from non-admins
            "refUpdateRule": _update_rule(classic) if classic else None,
            "rules": rules,
        }
        return {
            "__typename": "Repository",
            "name": repo.name,
            "isArchived": repo.archived,
            "visibility": "PRIVATE",
            "viewerCanAdminister": admin,
            "defaultBranchRef": branch,
            "collaborators": lambda info, **a: self.collaborators(repo, a),
        }

    def commit(self, repo: Repo, c: Commit) -> dict[str, Any]:
        found = self.org.by_key.get((repo.name, c.pull)) if c.pull else None
        pulls = [self.pull(found)] if found else []
        person = {"name": c.author.title(), "email": f"{c.author}@users.invalid", "user": self.user(c.author)}
        return {
            "__typename": "Commit",
            "oid": c.oid,
            "messageHeadline": c.message,
            "committedDate": iso(c.committed_at),
            "url": f"https://github.invalid/{self.org.login}/{repo.name}/commit/{c.oid}",
            "author": person,
            "committer": person,
            "parents": {"totalCount": 2 if c.pull else 1},
            "associatedPullRequests": lambda info, **a: _connection(pulls, a, self.cap),
        }

    def pull(self, p: Pull) -> dict[str, Any]:
        repo = self.org.repos[p.repo]
        required = repo.required_checks
        last_push = max([r.submitted_at for r in p.reviews] + [p.created_at])

        def contexts(info: Any, **a: Any) -> dict[str, Any]:
            items = [
                {
                    "__typename": "CheckRun",
                    "name": c.name,
                    "status": "COMPLETED",
                    "conclusion": c.conclusion,
                    "completedAt": iso(last_push),
                }
                if c.kind == "CheckRun"
                else {
                    "__typename": "StatusContext",
                    "context": c.name,
                    "state": c.conclusion,
                    "createdAt": iso(last_push),
                }
                for c in p.checks
            ]
            return _connection(items, a, self.cap)

        state = "SUCCESS" if all(c.conclusion == "SUCCESS" for c in p.checks) else "FAILURE"
        in_force = [
            _rule_node(rs, rule, self.gh.viewer_admin)
            for rs in repo.rulesets
            if rs.enforcement == "ACTIVE"
            for rule in rs.rules
        ]
        head = {
            "oid": p.head_oid,
            "committedDate": iso(p.created_at),
            "statusCheckRollup": {"state": state, "contexts": contexts} if p.checks else None,
        }
        reviews = [
            {
                "author": self.user(r.author),
                "state": r.state,
                "submittedAt": iso(r.submitted_at),
                "commit": {"oid": r.commit},
            }
            for r in p.reviews
        ]
        return {
            "__typename": "PullRequest",
            "number": p.number,
            "title": p.title,
            "url": f"https://github.invalid/{self.org.login}/{p.repo}/pull/{p.number}",
            "createdAt": iso(p.created_at),
            "mergedAt": iso(p.merged_at),
            "merged": True,
            "author": self.user(p.author),
            "mergedBy": self.user(p.merged_by),
            "repository": {
                "name": p.repo,
                "isArchived": repo.archived,
                "defaultBranchRef": {"name": repo.default_branch},
            },
            "baseRefName": p.base,
            "baseRefOid": p.base_oid,
            "headRefName": p.head_ref,
            "headRefOid": p.head_oid,
            "mergeCommit": {"oid": p.merge_oid},
            "baseRef": {
                # classic protection in full for administrators; `refUpdateRule` is everyone's view
                "branchProtectionRule": {
                    "requiredStatusCheckContexts": required,
                    "requiresApprovingReviews": True,
                    "requiredApprovingReviewCount": 1,
                }
                if self.gh.viewer_admin
                else None,
                "refUpdateRule": {"requiredStatusCheckContexts": required},
                "rules": lambda info, **a: _connection(
                    in_force if p.base == repo.default_branch else [], a, 100
                ),
            },
            "commits": lambda info, **a: _connection([{"commit": head}], a, self.cap),
            "reviews": lambda info, **a: _connection(reviews, a, self.cap),
        }


def _classic_rule(branch: str, protection: dict[str, Any]) -> dict[str, Any]:
    """A REST branch protection body as GraphQL's BranchProtectionRule: one model, two shapes."""
    reviews = protection.get("required_pull_request_reviews")
    checks = protection.get("required_status_checks")

    def on(key: str) -> bool:
        return bool((protection.get(key) or {}).get("enabled"))

    return {
        "pattern": branch,
        "isAdminEnforced": on("enforce_admins"),
        "requiresApprovingReviews": reviews is not None,
        "requiredApprovingReviewCount": (reviews or {}).get("required_approving_review_count"),
        "dismissesStaleReviews": bool((reviews or {}).get("dismiss_stale_reviews")),
        "requiresCodeOwnerReviews": bool((reviews or {}).get("require_code_owner_reviews")),
        "requireLastPushApproval": bool((reviews or {}).get("require_last_push_approval")),
        "requiresStatusChecks": checks is not None,
        "requiresStrictStatusChecks": bool((checks or {}).get("strict")),
        "requiredStatusCheckContexts": list((checks or {}).get("contexts") or []),
        "requiresCommitSignatures": on("required_signatures"),
        "allowsForcePushes": on("allow_force_pushes"),
        "allowsDeletions": on("allow_deletions"),
        "requiresLinearHistory": on("required_linear_history"),
        "lockBranch": on("lock_branch"),
    }


def _update_rule(rule: dict[str, Any]) -> dict[str, Any]:
    """What GraphQL's `refUpdateRule` shows a token that does not administer the repository."""
    return {
        "pattern": rule["pattern"],
        "requiredApprovingReviewCount": rule["requiredApprovingReviewCount"],
        "requiresCodeOwnerReviews": rule["requiresCodeOwnerReviews"],
        "requiredStatusCheckContexts": rule["requiredStatusCheckContexts"],
        "requiresSignatures": rule["requiresCommitSignatures"],
        "allowsForcePushes": rule["allowsForcePushes"],
        "allowsDeletions": rule["allowsDeletions"],
        "requiresLinearHistory": rule["requiresLinearHistory"],
    }


def _rule_node(ruleset: Ruleset, rule: dict[str, Any], admin: bool) -> dict[str, Any]:
    """A REST-shaped ruleset rule as GraphQL's RepositoryRule, with its ruleset."""
    params = rule.get("parameters") or {}
    parameters: dict[str, Any] | None = None
    if rule["type"] == "pull_request":
        parameters = {
            "__typename": "PullRequestParameters",
            "requiredApprovingReviewCount": params.get("required_approving_review_count", 0),
            "dismissStaleReviewsOnPush": params.get("dismiss_stale_reviews_on_push", False),
            "requireCodeOwnerReview": params.get("require_code_owner_review", False),
            "requireLastPushApproval": params.get("require_last_push_approval", False),
        }
    elif rule["type"] == "required_status_checks":
        parameters = {
            "__typename": "RequiredStatusChecksParameters",
            "strictRequiredStatusChecksPolicy": params.get("strict_required_status_checks_policy", False),
            "requiredStatusChecks": [
                {"context": c["context"], "integrationId": c.get("integration_id")}
                for c in params.get("required_status_checks", [])
            ],
        }
    if ruleset.source_type == "Organization":
        source = {"__typename": "Organization", "login": ruleset.source}
    else:
        source = {"__typename": "Repository", "name": ruleset.source}
    actors = [
        {"deployKey": False, "enterpriseOwner": False, "organizationAdmin": False, "actor": None, **b}
        for b in ruleset.bypass
    ]
    return {
        "type": rule["type"].upper(),
        "parameters": parameters,
        "repositoryRuleset": {
            "databaseId": ruleset.id,
            "name": ruleset.name,
            "enforcement": ruleset.enforcement,
            "source": source,
            # bypass actors are shown only to those who administer the ruleset
            "bypassActors": (lambda info, **a: _connection(actors, a, 100)) if admin else None,
        },
    }


# -- HTTP -------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    gh: GitHubServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:
        """Silent."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _send(
        self, status: int, body: Any, headers: dict[str, str], counted: bool, query: str | None = None
    ) -> None:
        gh = self.gh
        data = b"" if body is None else json.dumps(body).encode()
        with gh.lock:
            if counted:
                gh.used += 1
            remaining = max(0, gh.limit - gh.used)
            gh.seen.append(
                Seen(self.command, self.path, status, counted, body if gh.record_bodies else None, query)
            )
        self.send_response(status)
        base = {
            "Content-Type": "application/json; charset=utf-8",
            "X-RateLimit-Limit": str(gh.limit),
            "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Used": str(gh.used),
            "X-RateLimit-Reset": str(gh.reset_at),
            "X-RateLimit-Resource": "graphql" if query else "core",
            "Content-Length": str(len(data)),
        }
        for name, value in {**base, **headers}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        line = f"{self.command} {self.path}" + (f" {query}" if query else "")
        for pattern, action in list(gh.hooks):
            if pattern.search(line):
                gh.hooks.remove((pattern, action))
                action()

    def _handle(self) -> None:
        gh = self.gh
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if gh.latency:
            time.sleep(gh.latency)
        parts = urlsplit(self.path)
        path = parts.path
        if gh.prefix and path.startswith(gh.prefix):
            path = path[len(gh.prefix) :]
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        line = f"{self.command} {self.path}"
        document = json.loads(raw)["query"] if parts.path == gh.graphql_path and raw else None
        for fault in gh.faults:
            if fault.times > 0 and fault.pattern.search(line + (" " + document if document else "")):
                fault.times -= 1
                headers = {"Retry-After": str(fault.retry_after)} if fault.retry_after is not None else {}
                body = {"message": fault.message, "documentation_url": DOCS}
                self._send(fault.status, body, headers, counted=True, query=document)
                return
        auth = self.headers.get("Authorization", "")
        if auth not in (f"token {gh.token}", f"Bearer {gh.token}"):
            self._send(
                401, {"message": "Bad credentials", "documentation_url": DOCS, "status": "401"}, {}, True
            )
            return
        if gh.used >= gh.limit:
            body = {"message": "API rate limit exceeded for user.", "documentation_url": DOCS}
            self._send(403, body, {}, counted=False)
            return
        if any(p.search(line) for p in gh.denied):
            body = {
                "message": "Resource not accessible by integration",
                "documentation_url": DOCS,
                "status": "403",
            }
            self._send(403, body, {}, counted=True, query=document)
            return
        if parts.path == gh.graphql_path and self.command == "POST":
            payload = json.loads(raw)
            self._send(
                200, gh.graphql(payload["query"], payload.get("variables") or {}), {}, True, query=document
            )
            return
        if self.command != "GET":
            self._send(404, {"message": "Not Found", "documentation_url": DOCS}, {}, True)
            return
        status, body, headers = gh.rest(path, query, self.headers.get("Host", "127.0.0.1"))
        if status == 200:
            etag = 'W/"' + hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest() + '"'
            headers = {**headers, "ETag": etag}
            if self.headers.get("If-None-Match") == etag:
                self._send(304, None, {"ETag": etag}, counted=False)
                return
        self._send(status, body, headers, counted=True)


def synthetic_org(
    *, repos: int, members: int, pulls: int, days: int, end: dt.datetime, checks: tuple[str, ...] = ("ci",)
) -> Org:
    """An organisation with `pulls` merged pull requests spread evenly over `days` before `end`.

    Every pull request is clean (an independent approval on its head, passing checks), so findings
    in a benchmark or test come only from what a test adds on purpose.
    """
    org = Org()
    logins = [f"dev{i:03d}" for i in range(members)]
    for i, login in enumerate(logins):
        org.members[login] = Member(login, 10_000 + i, role="ADMIN" if i == 0 else "MEMBER")
    names = [f"repo-{i:04d}" for i in range(repos)]
    for i, name in enumerate(names):
        org.repos[name] = Repo(name, 500_000 + i, required_checks=list(checks))
    span = dt.timedelta(days=days).total_seconds()
    for n in range(pulls):
        merged = end - dt.timedelta(seconds=int(span * (n + 0.5) / pulls))
        repo = names[n % repos]
        author, reviewer = logins[n % members], logins[(n + 1) % members]
        pull = Pull(repo, n + 1, f"change {n + 1}", author, reviewer, merged - dt.timedelta(hours=6), merged)
        pull.reviews = [Review(reviewer, "APPROVED", merged - dt.timedelta(hours=1), pull.head_oid)]
        pull.checks = [Check(name, "SUCCESS") for name in checks]
        org.add_pull(pull)
    return org
