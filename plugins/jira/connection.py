"""One Jira instance through the `jira` client, with the host's retry policy, counting and provenance.

The `jira` client builds its own `ResilientSession`, which retries 429 and 503 by itself (sleeping up
to 60 s, and never more than three times) and cannot be handed a session. Two retry loops would
multiply waits and hide requests from the run summary, so the client's own loop is switched off
(`max_retries=0`) and its session sends every request through `ctx.http_session()` via a transport
adapter: one retry policy (honouring `Retry-After`), every request counted and named in the
artefact's provenance, every transport error scrubbed of secrets.

Errors keep the client's parsed message (`errorMessages`) and gain the instance id and server, and
never carry the client's `JIRAError` text, which dumps response headers.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import requests
from jira import JIRA  # the client library: absolute import, never this plugin package
from jira.exceptions import JIRAError
from requests.adapters import HTTPAdapter

from evidentia import CollectContext
from evidentia.retry import GaveUp

from .params import secret_value

T = TypeVar("T")


class JiraApiError(RuntimeError):
    """Jira refused or failed a call; the message names the instance, the server and the call."""

    def __init__(self, instance: str, server: str, what: str, status: int | None, message: str) -> None:
        status_text = f"HTTP {status}: " if status else ""
        super().__init__(
            f"Jira instance '{instance}' ({server}): {what}: {status_text}{message}".rstrip(": ")
        )
        self.status = status


class JiraConfigError(ValueError):
    """The configuration names something this Jira instance does not have (a field)."""


class _ThroughSession(HTTPAdapter):
    """Sends each request the `jira` client prepared through the host's instrumented session.

    The client's session keeps authentication, redirects and cookies; the host's session adds the
    shared retry policy, the request count and the recorded call.
    """

    def __init__(self, via: requests.Session) -> None:
        super().__init__()
        self._via = via

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        kwargs: dict[str, Any] = {
            "data": request.body,
            "headers": dict(request.headers),
            "stream": stream,
            "verify": verify,
            "cert": cert,
            "proxies": dict(proxies or {}),
            "allow_redirects": False,  # the client's session follows redirects, each hop counted
        }
        if timeout is not None:
            kwargs["timeout"] = timeout
        return self._via.request(request.method or "GET", request.url or "", **kwargs)


class EvidenceJira(JIRA):
    """The `jira` client, sending through the host's session, reading the field list once."""

    def __init__(self, server: str, via: requests.Session, rest_api_version: str, **auth: Any) -> None:
        options = {"rest_api_version": rest_api_version, "check_update": False}
        super().__init__(server, options=options, get_server_info=False, max_retries=0, **auth)
        # `_session` is the client's one protected attribute we rely on (present from jira 2.x to
        # 3.10); if a release renames it, fail loudly rather than send requests past the policy.
        session = getattr(self, "_session", None)
        if not isinstance(session, requests.Session) or not hasattr(self, "enhanced_search_issues"):
            raise RuntimeError(
                "this version of the `jira` package is not supported: Evidentia needs jira>=3.10.1 "
                "(enhanced_search_issues, and a requests session it can route through its retry policy)"
            )
        adapter = _ThroughSession(via)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self._field_list: list[dict[str, Any]] | None = None

    def fields(self) -> list[dict[str, Any]]:
        """Every field, fetched once: the client's own name translation asks for it again."""
        if self._field_list is None:
            self._field_list = list(super().fields())
        return self._field_list

    def adopt_server_info(self, info: Mapping[str, Any], cloud: bool) -> None:
        """What `JIRA(get_server_info=True)` would have set, with `cloud` deciding the deployment."""
        self.deploymentType = "Cloud" if cloud else str(info.get("deploymentType") or "Server")
        numbers = info.get("versionNumbers") or [0, 0, 0]
        self._version = tuple(int(n) for n in numbers)

    def bulk_changelogs(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """`POST changelog/bulkfetch` (Cloud): changelogs of up to 1,000 issues per request."""
        result: dict[str, Any] = self._get_json("changelog/bulkfetch", params=dict(body), use_post=True)
        return result

    def changelog_page(self, issue: str, start: int, size: int) -> dict[str, Any]:
        """`GET issue/{key}/changelog`: one offset page of an issue's changelog, oldest first."""
        result: dict[str, Any] = self._get_json(
            f"issue/{issue}/changelog", params={"startAt": start, "maxResults": size}
        )
        return result


def public_url(url: str) -> str:
    """The server URL without user info or trailing slash, safe to file as evidence."""
    parts = urlsplit(url.strip())
    netloc = parts.hostname or ""
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


@dataclass
class Connection:
    """A connected client plus what every collector files about the instance."""

    ctx: CollectContext
    client: EvidenceJira
    server: str
    cloud: bool
    info: dict[str, Any]

    def call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one client call; failures become `JiraApiError` naming instance, server and call."""
        self.ctx.check_cancelled()
        try:
            return fn()
        except JIRAError as exc:
            text = self.ctx.scrub(str(exc.text or "") or "no error message")
            raise JiraApiError(self.ctx.instance_id, self.server, what, exc.status_code, text) from None
        except GaveUp as exc:
            raise JiraApiError(
                self.ctx.instance_id, self.server, what, None, self.ctx.scrub(str(exc))
            ) from None
        except requests.exceptions.InvalidHeader:
            # requests quotes the offending header value, which here is the credential
            message = "a request header is invalid: check the token for spaces or line breaks"
            raise JiraApiError(self.ctx.instance_id, self.server, what, None, message) from None
        except json.JSONDecodeError:  # a 200 that is not JSON: a proxy or single sign-on page
            message = "the response is not JSON; is `server` the Jira base URL?"
            raise JiraApiError(self.ctx.instance_id, self.server, what, None, message) from None
        except requests.RequestException as exc:
            message = f"{type(exc).__name__}: {self.ctx.scrub(str(exc))}"
            raise JiraApiError(self.ctx.instance_id, self.server, what, None, message) from None

    def field_list(self) -> list[dict[str, Any]]:
        return self.call("GET field", self.client.fields)

    def resolve_fields(self, wanted: Iterable[tuple[str, str]]) -> dict[str, str]:
        """Map (parameter, display name or ID) pairs to field IDs, using the field list once.

        An ID wins over a name; a name matches exactly, then case-insensitively. An unknown or
        ambiguous name is a `JiraConfigError` naming the instance, the parameter and the field.
        """
        fields = self.field_list()
        by_id = {str(f.get("id")): f for f in fields}
        by_name: dict[str, list[str]] = {}
        for f in fields:
            by_name.setdefault(str(f.get("name", "")), []).append(str(f.get("id")))
        lower: dict[str, list[str]] = {}
        for name, ids in by_name.items():
            lower.setdefault(name.lower(), []).extend(ids)
        out: dict[str, str] = {}
        for param, name in wanted:
            if name in by_id:
                out[name] = name
                continue
            ids = by_name.get(name) or lower.get(name.lower()) or []
            if len(ids) == 1:
                out[name] = ids[0]
                continue
            where = f"Jira instance '{self.ctx.instance_id}' ({self.server})"
            if ids:
                raise JiraConfigError(
                    f"{where}: {param}: the field name '{name}' is ambiguous ({', '.join(sorted(ids))}); "
                    "give the field ID instead"
                )
            close = difflib.get_close_matches(name, list(by_name), n=1, cutoff=0.6)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            if param != "fields" and not close:
                hint = f"; name the field that holds it, or set {param}: null if there is none"
            raise JiraConfigError(f"{where}: {param}: no field named '{name}'{hint}")
        return out


def connect(ctx: CollectContext) -> Connection:
    """Authenticate, read `serverInfo` (the first call, as the client makes it) and pick the API.

    Cloud gets REST v3 (token paging, bulk changelogs); Server and Data Center get REST v2.
    """
    params = ctx.params
    server = public_url(params["server"])
    token = secret_value(params.get("token"))
    user = str(params.get("email") or params.get("username") or "")
    auth: dict[str, Any] = {}
    if user:
        auth["basic_auth"] = (user, token)
    elif token:
        auth["token_auth"] = token
    forced = params.get("cloud")
    via = ctx.http_session()
    via.trust_env = False  # the client's session already applied proxies and netrc from the environment
    client = EvidenceJira(server, via, "3" if forced else "2", **auth)
    probe = Connection(ctx, client, server, bool(forced), {})
    info = dict(probe.call("GET serverInfo", client.server_info) or {})
    cloud = bool(forced) if forced is not None else info.get("deploymentType") == "Cloud"
    if cloud and not forced:
        client = EvidenceJira(server, via, "3", **auth)  # no request: the v3 client for Cloud
    client.adopt_server_info(info, cloud)
    kept: dict[str, Any] = {
        k: info.get(k) for k in ("baseUrl", "version", "deploymentType", "serverTitle") if k in info
    }
    return Connection(ctx, client, server, cloud, kept)
