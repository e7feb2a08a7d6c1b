"""Plain REST calls to an MLflow tracking server: authentication, errors, and `page_token` paging.

The official `mlflow` client would pull pandas, pyarrow, SQLAlchemy and a web framework into the
core install for three GET endpoints, so this speaks the documented REST API (also served by
Databricks workspaces) through the host's instrumented `requests` session: every request is retried
under the shared policy, counted, and named in the artefact's provenance.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

if TYPE_CHECKING:
    import requests

API = "/api/2.0/mlflow"
MODELS_ENDPOINT = "registered-models/search"
VERSIONS_ENDPOINT = "model-versions/search"
RUN_ENDPOINT = "runs/get"
# Largest `max_results` each search accepts. Open-source MLflow takes up to 1000 registered models
# and 200 000 model versions per page; Databricks caps versions at 10 000, so 10 000 is the largest
# page both accept.
MAX_PAGE = {MODELS_ENDPOINT: 1000, VERSIONS_ENDPOINT: 10_000}
_UNRESOLVED = re.compile(r"^\$\{[^}]*\}$")


class MlflowApiError(RuntimeError):
    """A non-2xx answer, with MLflow's `error_code` and message (never the request's credentials)."""

    def __init__(self, endpoint: str, status: int, error_code: str, message: str) -> None:
        super().__init__(f"{endpoint}: HTTP {status} {error_code}: {message}".rstrip(": "))
        self.endpoint = endpoint
        self.status = status
        self.error_code = error_code


def public_uri(uri: str) -> str:
    """The tracking URI without user info or trailing slash, safe to file as evidence."""
    parts = urlsplit(uri.strip())
    netloc = parts.hostname or ""
    if ":" in netloc:
        netloc = f"[{netloc}]"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def secret_value(value: Any) -> str:
    """A credential parameter, or "" when unset (including a `${VAR:-}` nobody resolved).

    The CLI resolves `${...}` references before `collect()`, but `evidentia.testing.run_collector`
    fills schema defaults without resolving them, and the literal text must never be sent.
    """
    text = "" if value is None else str(value)
    return "" if _UNRESOLVED.match(text.strip()) else text


def authenticate(session: requests.Session, token: str, username: str, password: str) -> str:
    """Set credentials the way the MLflow client does: basic auth if both parts are set, else bearer.

    Returns the scheme used ("basic", "bearer" or "none") so the evidence can say how it was read.
    """
    if username and password:
        session.auth = (username, password)
        return "basic"
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
        return "bearer"
    return "none"


class MlflowRest:
    """GET calls against one tracking server's REST API, raising `MlflowApiError` on failures."""

    def __init__(self, session: requests.Session, tracking_uri: str) -> None:
        self.session = session
        self.base = tracking_uri.strip().rstrip("/") + API

    def get(self, endpoint: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """One GET; the decoded JSON object, or `MlflowApiError` with the server's own reason."""
        response = self.session.get(f"{self.base}/{endpoint}", params=dict(params))
        if not response.ok:
            raise _error(endpoint, response)
        try:
            body = response.json()
        except ValueError:
            raise MlflowApiError(endpoint, response.status_code, "NOT_JSON", _snippet(response)) from None
        if not isinstance(body, dict):
            raise MlflowApiError(endpoint, response.status_code, "NOT_AN_OBJECT", _snippet(response))
        return body

    def search(self, endpoint: str, key: str, page_size: int) -> Iterator[dict[str, Any]]:
        """Every item of a paged search, following `next_page_token` until the server stops giving one.

        A token the server already gave would loop forever, so it is an error rather than a hang.
        """
        size = min(page_size, MAX_PAGE[endpoint])
        seen: set[str] = set()
        token = ""
        while True:
            params: dict[str, Any] = {"max_results": size}
            if token:
                params["page_token"] = token
            body = self.get(endpoint, params)
            items = body.get(key) or []
            yield from (item for item in items if isinstance(item, dict))
            token = str(body.get("next_page_token") or "")
            if not token:
                return
            if token in seen:
                raise MlflowApiError(endpoint, 200, "PAGING_LOOP", "the server repeated a page token")
            seen.add(token)

    def run(self, run_id: str) -> dict[str, Any]:
        """The run's info, data (params, metrics, tags), inputs and outputs as the server gives them."""
        run = self.get(RUN_ENDPOINT, {"run_id": run_id}).get("run")
        return run if isinstance(run, dict) else {}


def _error(endpoint: str, response: requests.Response) -> MlflowApiError:
    """MLflow answers errors as `{"error_code": ..., "message": ...}`; proxies answer HTML or text."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and ("error_code" in body or "message" in body):
        code, message = str(body.get("error_code", "")), str(body.get("message", ""))
    else:
        code, message = response.reason or "", _snippet(response)
    return MlflowApiError(endpoint, response.status_code, code, message)


def _snippet(response: requests.Response) -> str:
    text = " ".join(response.text.split())
    return text[:200] + ("…" if len(text) > 200 else "")
