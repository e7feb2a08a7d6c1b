"""Tests of the `http.json` collector against a real HTTP server on 127.0.0.1.

The collector is run the way the host runs it, with a `CollectContext`, so what is tested includes
the shared retry policy and call recording it gets from `ctx.http_session()`. The server is a few
lines of `http.server`, kept in this file so the package (and a plugin copied from it) tests itself.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from evidentia_http_json import FetchError, HttpJson, evidentia_register_collectors

from evidentia import Artefact, CollectContext, Collector, Period, canonical_json

# (status, headers, body) sent in order, one per request
Scripted = tuple[int, dict[str, str], bytes]
Serve = Callable[..., str]


class _Server(ThreadingHTTPServer):
    replies: list[Scripted]
    seen: list[dict[str, str]]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.seen.append(dict(self.headers.items()))
        status, headers, body = self.server.replies.pop(0)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""


@pytest.fixture
def server() -> Iterator[_Server]:
    httpd = _Server(("127.0.0.1", 0), _Handler)
    httpd.replies, httpd.seen = [], []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def serve(server: _Server) -> Serve:
    """Script the replies and get the document's URL."""

    def script(*replies: Scripted) -> str:
        server.replies.extend(replies)
        return f"http://127.0.0.1:{server.server_address[1]}/inventory"

    return script


def json_reply(data: Any, status: int = 200, **headers: str) -> Scripted:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(data).encode()


def collect(**params: Any) -> tuple[list[Artefact], CollectContext]:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
    ctx = CollectContext(
        instance_id="inventory",
        params=params,
        period=Period(now - dt.timedelta(days=1), now),
        logger=logging.getLogger("test"),
        is_first_run=True,
    )
    return list(HttpJson().collect(ctx)), ctx


def test_registers_its_collector() -> None:
    found: list[type[Collector]] = []
    evidentia_register_collectors(register=found.append)
    assert found == [HttpJson]


def test_files_the_json_canonicalised_with_its_source(serve: Serve, server: _Server) -> None:
    document = {"models": [{"id": "m1", "owner": "ml-team"}], "version": 3}
    url = serve(json_reply(document))

    [artefact], ctx = collect(url=url, token="t0ken", headers={"X-Team": "audit"}, name="models")

    assert artefact.name == "models"
    assert artefact.content == canonical_json(document)
    assert artefact.source == url
    assert artefact.findings == ()
    assert ctx.calls == [f"GET {url}"]
    assert server.seen[0]["Authorization"] == "Bearer t0ken"
    assert server.seen[0]["X-Team"] == "audit"


def test_retries_a_throttled_request(serve: Serve, server: _Server) -> None:
    url = serve((429, {"Retry-After": "0"}, b""), json_reply({"ok": True}))

    [artefact], ctx = collect(url=url)

    assert json.loads(artefact.content) == {"ok": True}
    assert ctx.request_count == 2 and len(server.seen) == 2


def test_a_non_2xx_answer_is_a_clear_error(serve: Serve) -> None:
    url = serve(json_reply({"message": "Not Found"}, status=404))

    with pytest.raises(FetchError, match=r"HTTP 404 Not Found: check `url`"):
        collect(url=url)


@pytest.mark.parametrize(
    "reply", [json_reply([]), (200, {"Content-Type": "text/plain"}, b"\n")], ids=["json", "text"]
)
def test_an_empty_document_is_filed_with_a_finding(serve: Serve, reply: Scripted) -> None:
    [artefact], _ = collect(url=serve(reply))

    assert [f.code for f in artefact.findings] == ["empty-document"]


def test_text_is_filed_byte_for_byte(serve: Serve) -> None:
    body = b"id,owner\nm1,ml-team\n"
    url = serve((200, {"Content-Type": "text/csv; charset=utf-8"}, body))

    [artefact], _ = collect(url=url)

    assert (artefact.content, artefact.media_type, artefact.extension) == (body, "text/csv", "csv")
