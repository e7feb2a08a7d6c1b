"""A scripted HTTP server on 127.0.0.1, so clients are tested against real sockets, not mocks.

Retry and throttling code is only trustworthy when it has met the failures it claims to survive: a
429 with `Retry-After`, a 503, GitHub's 403 with an exhausted quota, a connection dropped without a
response, a response too slow to wait for. Mocking `requests` would test our assumptions about
those failures; this server produces them on a loopback socket, and records every request so a test
can assert what the client actually sent (and how often).

    with LoopbackServer() as server:
        server.script("/items", Reply.rate_limited(retry_after=1), Reply.json({"items": []}))
        response = session.get(server.url("/items"))
        assert len(server.requests_to("/items")) == 2

Each path has a queue of replies, used once each, in order; `always()` sets the reply for when the
queue is empty (a persistent failure). A request nothing was scripted for gets a 404 that says so.
"""

from __future__ import annotations

import json
import socket
import struct
import sys
import threading
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

__all__ = ["LoopbackServer", "Recorded", "Reply"]


@dataclass(frozen=True)
class Reply:
    """One scripted response. `reset` drops the connection instead; `delay` holds the reply back."""

    status: int = 200
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    delay: float = 0.0
    reset: bool = False

    @classmethod
    def json(cls, data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Reply:
        """A JSON body with `Content-Type: application/json`."""
        return cls(
            status=status,
            headers={"Content-Type": "application/json", **(headers or {})},
            body=json.dumps(data).encode("utf-8"),
        )

    @classmethod
    def text(
        cls,
        text: str,
        status: int = 200,
        content_type: str = "text/plain; charset=utf-8",
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """A text body (or an empty one: `Reply.text("")`)."""
        return cls(
            status=status,
            headers={"Content-Type": content_type, **(headers or {})},
            body=text.encode("utf-8"),
        )

    @classmethod
    def rate_limited(cls, retry_after: int | str = 1) -> Reply:
        """429 Too Many Requests with `Retry-After` (delta-seconds, or an HTTP-date string)."""
        return cls.text("slow down", status=429, headers={"Retry-After": str(retry_after)})

    @classmethod
    def unavailable(cls, retry_after: int | str | None = None) -> Reply:
        """503 Service Unavailable, with `Retry-After` only when given."""
        headers = {} if retry_after is None else {"Retry-After": str(retry_after)}
        return cls.text("unavailable", status=503, headers=headers)

    @classmethod
    def quota_exhausted(cls, reset_at: float) -> Reply:
        """GitHub's rate limit: 403, `X-RateLimit-Remaining: 0`, and the epoch second it resets."""
        headers = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(reset_at))}
        return cls.text("API rate limit exceeded", status=403, headers=headers)

    @classmethod
    def connection_reset(cls) -> Reply:
        """Read the request, then reset the connection (TCP RST) without sending a byte."""
        return cls(status=0, reset=True)

    def delayed(self, seconds: float) -> Reply:
        """This reply, sent only after `seconds` (to trip a client's read time-out)."""
        return replace(self, delay=seconds)


@dataclass(frozen=True)
class Recorded:
    """One request as the server received it. `path` includes the query string."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """A request header by case-insensitive name."""
        wanted = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == wanted), None)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    # bounds the wait for a request line, so stop() cannot hang on a client that sends nothing
    timeout = 5.0

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: test output is for assertions, not access logs."""

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = urlsplit(self.path).path
        reply = self.server.owner._take(
            Recorded(self.command, self.path, dict(self.headers.items()), body), path
        )
        if reply.delay and self.server.owner._stopping.wait(reply.delay):
            return  # stopping: drop the reply rather than hold up stop()
        if reply.reset:
            # SO_LINGER 0 makes close() send RST; closing happens in _Server.shutdown_request,
            # after the handler's file objects are gone, so no FIN goes out first.
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.server.resets.add(self.connection)
            self.close_connection = True
            return
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _handle


class _Server(ThreadingHTTPServer):
    # non-daemon handler threads, joined by server_close(): stop() returns only when all are done
    daemon_threads = False
    block_on_close = True

    def __init__(self, owner: LoopbackServer) -> None:
        self.owner = owner
        self.resets: set[socket.socket] = set()
        super().__init__(("127.0.0.1", 0), _Handler)

    def shutdown_request(self, request: Any) -> None:
        if request in self.resets:
            self.resets.discard(request)
            request.close()  # no shutdown(SHUT_WR) first: that would send FIN, not a reset
            return
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (read time-out) makes a late write fail: expected, not an error."""
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class LoopbackServer:
    """A threaded HTTP server on 127.0.0.1 and a free port; use it as a context manager."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Reply]] = defaultdict(deque)
        self._always: dict[str, Reply] = {}
        self._requests: list[Recorded] = []
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> LoopbackServer:
        self._httpd = _Server(self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"loopback-http-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake delayed replies, and wait for every handler thread to finish."""
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- addresses ---------------------------------------------------------------------------

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not running")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of `path` (which may carry a query string)."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # -- scripting and recording -------------------------------------------------------------

    def script(self, path: str, *replies: Reply) -> None:
        """Queue replies for `path` (without query), each sent once, in order."""
        with self._lock:
            self._queues[path].extend(replies)

    def always(self, path: str, reply: Reply) -> None:
        """The reply for `path` whenever its queue is empty: a persistent state or failure."""
        with self._lock:
            self._always[path] = reply

    @property
    def requests(self) -> list[Recorded]:
        """Every request received so far, in arrival order."""
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[Recorded]:
        """The requests whose path (query ignored) is `path`."""
        return [r for r in self.requests if urlsplit(r.path).path == path]

    def _take(self, request: Recorded, path: str) -> Reply:
        with self._lock:
            self._requests.append(request)
            queue = self._queues.get(path)
            if queue:
                return queue.popleft()
            if path in self._always:
                return self._always[path]
        return Reply.json({"error": f"nothing scripted for {request.method} {path}"}, status=404)
