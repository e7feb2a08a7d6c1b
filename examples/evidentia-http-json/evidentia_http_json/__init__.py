"""Evidentia plugin `http.json`: file the JSON (or text) document at a URL as audit evidence.

Much of what an auditor asks for is already published by some internal service as one document: a
model registry's inventory, an SBOM, a feature-flag export, an access review. This collector fetches
one URL per configured instance and files what came back, so such a document becomes dated,
hash-chained evidence without writing a collector for it.

It is also the template for a third-party plugin, small enough to copy: one `Collector` subclass
that declares what it is (so `evidentia plugins` and `evidentia check` can describe and validate it
without running it), one `evidentia_register_collectors` hook, and an entry point in
pyproject.toml. See README.md.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from evidentia import Artefact, CollectContext, Collector, Finding, hookimpl

if TYPE_CHECKING:
    import requests

__version__ = "0.1.0"

DEFAULT_NAME = "document"
# Stable file extensions for the text types we expect; `mimetypes` varies by platform.
EXTENSIONS = {
    "text/plain": "txt",
    "text/markdown": "md",
    "text/csv": "csv",
    "text/html": "html",
    "text/xml": "xml",
    "application/xml": "xml",
    "application/yaml": "yaml",
}


class FetchError(RuntimeError):
    """The source answered, but not with a document we can file. The message says what to check."""


class HttpJson(Collector):
    """Files the JSON (or text) document at a URL as a snapshot, unchanged runs deduplicated."""

    name = "http.json"
    version = "1"
    description = "The JSON (or text) document at an HTTP(S) URL, filed as a snapshot."
    kind = "snapshot"
    # Documents like these are usually inventories and registers: P5, "identify, track and protect
    # the assets". An instance adds what its document also supports with `principles: [P8]`.
    principles = ("P5",)
    # Declared as JSON Schema so `evidentia check` reports a bad parameter, with its YAML line,
    # before anything runs, and `evidentia plugins http.json` documents the parameters.
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["url"],
        "properties": {
            "url": {
                "type": "string",
                "pattern": "^https?://",
                "description": "The document's URL. Put no credentials in it: use `token`.",
            },
            "headers": {
                "type": "object",
                "additionalProperties": {"type": "string"},
                "description": "Extra request headers, e.g. {Accept: text/csv}.",
            },
            "token": {
                "type": "string",
                "minLength": 1,
                "description": "Sent as `Authorization: Bearer <token>`.",
            },
            "name": {
                "type": "string",
                "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]*$",
                "default": DEFAULT_NAME,
                "description": "The artefact's name; keep it stable, runs compare snapshots by it.",
            },
        },
    }
    # A secret parameter must be given as `${ENV_VAR}` in the config, and its value is scrubbed
    # from evidence, metadata and logs.
    secret_params = ("token",)
    permissions = ("read access to the URL; with `token`, a token scoped to read it only",)

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        """Fetch the URL once and yield it as one artefact.

        The session from `ctx.http_session()` retries throttling and transient failures with the
        shared policy, counts requests and records the call for the artefact's provenance, so the
        collector itself is just "ask, check, file".
        """
        url: str = ctx.params["url"]
        with ctx.http_session() as session:
            response = session.get(url, headers=request_headers(ctx.params))
        if not 200 <= response.status_code < 300:
            raise FetchError(_failure(url, response))
        yield to_artefact(ctx.params.get("name", DEFAULT_NAME), url, response)


def request_headers(params: Mapping[str, Any]) -> dict[str, str]:
    """Ask for JSON, add the configured headers, and the token last, so it cannot be overridden."""
    headers = {"Accept": "application/json, text/*;q=0.5"}
    headers.update(params.get("headers") or {})
    if params.get("token"):
        headers["Authorization"] = f"Bearer {params['token']}"
    return headers


def to_artefact(name: str, url: str, response: requests.Response) -> Artefact:
    """File JSON canonicalised (so an unchanged document dedups), anything else byte for byte.

    The body is JSON when the server says so (`application/json`, `*+json`); guessing from the bytes
    would file the same URL differently from run to run.
    """
    media_type = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
    summary = {"http_status": response.status_code, "media_type": media_type or "unknown"}
    body = response.content
    if _is_json(media_type) and body.strip():
        try:
            data = json.loads(body)
        except ValueError as exc:
            raise FetchError(f"GET {url}: says {media_type} but is not JSON: {exc}") from exc
        findings = _empty(url) if data in (None, "", [], {}) else []
        return Artefact.json(name, data, source=url, findings=findings, summary=summary)
    findings = _empty(url) if not body.strip() else []
    return Artefact(
        name=name,
        content=body,
        media_type=media_type or "application/octet-stream",
        extension=_extension(media_type),
        source=url,
        findings=tuple(findings),
        summary=summary,
    )


def _is_json(media_type: str) -> bool:
    return media_type == "application/json" or media_type.endswith("+json")


def _extension(media_type: str) -> str:
    if media_type in EXTENSIONS:
        return EXTENSIONS[media_type]
    if _is_json(media_type):
        return "json"
    return "txt" if media_type.startswith("text/") else "bin"


def _empty(url: str) -> list[Finding]:
    """An empty document is filed (the source did say it) but flagged: often a failed export."""
    return [Finding("empty-document", f"{url} returned an empty document", "medium", subject=url)]


def _failure(url: str, response: requests.Response) -> str:
    """Say what went wrong and what to check; retries are already exhausted or not warranted."""
    text = f"GET {url} answered HTTP {response.status_code} {response.reason}".rstrip()
    if response.status_code in (401, 403):
        return f"{text}: check that `token` is set and may read this URL"
    if response.status_code == 404:
        return f"{text}: check `url`"
    return text


@hookimpl
def evidentia_register_collectors(register: Callable[[type[Collector]], None]) -> None:
    """Hand our collector to the host; called once when the plugin is loaded. No I/O here."""
    register(HttpJson)
