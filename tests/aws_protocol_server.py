"""A loopback server speaking AWS JSON 1.1 and REST-JSON, for the operations moto does not implement.

moto lacks SageMaker monitoring schedules, CloudTrail `LookupEvents`, Bedrock guardrails and
foundation-model listing, Bedrock Agent prompts. Rather than mock boto3 (which would test our
assumptions about AWS, not the collector), the tests point a real boto3 client at this server through
`endpoint_url`, exactly as production points it at AWS: the request is signed, serialised, paginated
and retried by botocore itself, and only the answers are scripted. Signatures are not checked.

STABLE API (shared by the SageMaker, Bedrock and CloudTrail tests; extend it, do not change it)::

    from aws_protocol_server import AwsProtocolServer, fail_first, ok, paged, throttling

    with AwsProtocolServer(fallback=moto_url) as aws:    # 127.0.0.1, a free port; stopped on exit
        aws.json_target("SageMaker.ListMonitoringSchedules",
                        fail_first(2, throttling(), paged("MonitoringScheduleSummaries", items)),
                        service="sagemaker")          # optional: check answers against botocore's model
        aws.rest("GET", "/guardrails/{guardrailIdentifier}", handler, service="bedrock",
                 operation="GetGuardrail")
        boto3.client("sagemaker", endpoint_url=aws.url, ...)
        assert len(aws.requests_for("SageMaker.ListMonitoringSchedules")) == 3

- `AwsProtocolServer(fallback=None)`: with `fallback` (a moto server's URL), every request nothing
  is scripted for, and every one whose handler returns `None`, is forwarded there verbatim and its
  answer relayed: one `endpoint_url` then serves moto's operations (STS, seeded data) and the
  scripted ones together, so a whole collector runs unchanged. Forwarded requests are recorded too.
- A handler takes an `AwsRequest` (method, path, query, headers, body dict, target, path_params;
  `param(name)` looks in body, then path, then query; `raw` is the body as sent, and a
  form-encoded (query-protocol) body is parsed into `body` too) and returns `(status, body)`,
  `(status, body, headers)`, or `None` to forward it to the fallback. `ok(body)` always answers
  200 with `body`.
- Errors in AWS's own shape (`__type`, `message`, and the `x-amzn-ErrorType` header, which both
  protocols' parsers read): `error(code, message, status=400)`, `throttling()` (400
  ThrottlingException), `access_denied(status=400)` (AccessDeniedException; pass 403 for REST
  services), `internal_failure()` (500 InternalFailure). Each is a handler (and callable as one).
- `fail_first(n, failure, then)`: the first `n` calls answer `failure`, later ones `then` (retries).
- `paged(key, items, page_size=None, token="NextToken", limit="MaxResults")`: a listing served in
  pages with a numeric `NextToken`; page size is the request's `limit` field, else `page_size`.
- Every request is recorded (`aws.requests`, `aws.requests_for(name)` where name is the JSON target
  or `"GET /path"`). Anything unscripted answers 400 UnknownOperationException naming the request;
  a handler that raises answers 400 AwsProtocolServerScriptError (not retried) and is kept in
  `aws.errors`.
- With `service=` (and `operation=` for REST), a 200 answer is checked against botocore's output
  shape for that operation (unknown or missing required keys, wrong types, values outside an enum):
  a mismatch answers 400 AwsProtocolServerScriptError and is kept in `aws.errors`, so a typo in a
  script cannot silently look like "nothing there".
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

Answer = tuple[int, dict[str, Any]] | tuple[int, dict[str, Any], dict[str, str]]


@dataclass
class AwsRequest:
    """One request as received: enough for a handler to answer and a test to assert on."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: dict[str, Any]
    target: str | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""
    raw_path: str = ""  # path and query exactly as sent, for forwarding

    @property
    def name(self) -> str:
        """`Service.Operation` for JSON 1.1, `METHOD /path` for REST."""
        return self.target or f"{self.method} {self.path}"

    def param(self, name: str, default: Any = None) -> Any:
        for source in (self.body, self.path_params, self.query):
            if name in source:
                return source[name]
        return default


Handler = Callable[[AwsRequest], Answer | None]


def ok(body: dict[str, Any]) -> Handler:
    """A handler that always answers 200 with `body`."""
    return lambda _request: (200, body)


def error(code: str, message: str, status: int = 400) -> Handler:
    """A handler answering an AWS error, readable by both the JSON 1.1 and REST-JSON parsers."""
    return lambda _request: (status, {"__type": code, "message": message}, {"x-amzn-ErrorType": code})


def throttling(message: str = "Rate exceeded") -> Handler:
    return error("ThrottlingException", message)


def access_denied(status: int = 400, message: str = "not authorized to perform this action") -> Handler:
    return error("AccessDeniedException", f"User: arn:aws:iam::123456789012:user/test is {message}", status)


def internal_failure(message: str = "We encountered an internal error. Please try again.") -> Handler:
    return error("InternalFailure", message, 500)


def fail_first(n: int, failure: Handler, then: Handler) -> Handler:
    """Answer `failure` to the first `n` calls and `then` afterwards: proves the client retried."""
    counter = itertools.count()
    lock = threading.Lock()

    def handler(request: AwsRequest) -> Answer | None:
        with lock:
            index = next(counter)
        return failure(request) if index < n else then(request)

    return handler


def paged(
    key: str,
    items: list[Any],
    page_size: int | None = None,
    token: str = "NextToken",
    limit: str = "MaxResults",
) -> Handler:
    """Serve `items` under `key` a page at a time, with an opaque numeric continuation token."""

    def handler(request: AwsRequest) -> Answer:
        start = int(request.param(token) or 0)
        size = int(request.param(limit) or page_size or len(items) or 1)
        body: dict[str, Any] = {key: items[start : start + size]}
        if start + size < len(items):
            body[token] = str(start + size)
        return 200, body

    return handler


def _route_pattern(path: str) -> re.Pattern[str]:
    """`/guardrails/{id}` -> a regex capturing `id` (one path segment; `{key+}` spans several)."""
    out = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", re.escape(path))
    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", out) + "$")


@dataclass
class _Route:
    handler: Handler
    check: tuple[str, str] | None  # (botocore service, operation) whose output shape answers must fit


class AwsProtocolServer:
    """Scripted AWS answers on 127.0.0.1; a context manager that starts and stops the server."""

    def __init__(self, fallback: str | None = None) -> None:
        self.fallback = fallback.rstrip("/") if fallback else None
        self._targets: dict[str, _Route] = {}
        self._rest: list[tuple[str, re.Pattern[str], _Route]] = []
        self._lock = threading.Lock()
        self.requests: list[AwsRequest] = []
        self.errors: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_port}"

    def json_target(self, target: str, handler: Handler, *, service: str | None = None) -> None:
        """Answer JSON 1.1 requests with `X-Amz-Target: target` (`SageMaker.ListMonitoringSchedules`)."""
        operation = target.rpartition(".")[2]
        self._targets[target] = _Route(handler, (service, operation) if service else None)

    def rest(
        self,
        method: str,
        path: str,
        handler: Handler,
        *,
        service: str | None = None,
        operation: str | None = None,
    ) -> None:
        """Answer REST-JSON `method path`; `{name}` segments become `request.path_params`."""
        check = (service, operation) if service and operation else None
        self._rest.append((method.upper(), _route_pattern(path), _Route(handler, check)))

    def requests_for(self, name: str) -> list[AwsRequest]:
        with self._lock:
            return [r for r in self.requests if r.name == name]

    def start(self) -> AwsProtocolServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> AwsProtocolServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def answer(self, request: AwsRequest) -> tuple[int, bytes, dict[str, str]]:
        """Route one request (recording it): to its handler, else the fallback, else an error."""
        with self._lock:
            self.requests.append(request)
        route = self._route(request)
        try:
            answer = route.handler(request) if route else None
            if answer is None and self.fallback:
                return _forward(self.fallback, request)
            if answer is None:
                message = f"aws_protocol_server: nothing scripted for {request.name}"
                return _aws_error(request, "UnknownOperationException", message)
            status, body, *rest = answer
            problems = _check_shape(route.check, body) if status == 200 and route and route.check else []
        except Exception as exc:
            problems = [f"handler for {request.name} raised {type(exc).__name__}: {exc}"]
        if problems:  # a 400, so botocore fails at once instead of retrying a broken script
            with self._lock:
                self.errors.extend(problems)
            return _aws_error(request, "AwsProtocolServerScriptError", "; ".join(problems))
        content_type = "application/x-amz-json-1.1" if request.target else "application/json"
        headers = {"Content-Type": content_type, **(rest[0] if rest else {})}
        return status, json.dumps(body, default=str).encode("utf-8"), headers

    def _route(self, request: AwsRequest) -> _Route | None:
        if request.target is not None:
            return self._targets.get(request.target)
        for method, pattern, route in self._rest:
            match = pattern.match(request.path)
            if method == request.method and match:
                request.path_params = match.groupdict()
                return route
        return None


def _make_handler(server: AwsProtocolServer) -> type[BaseHTTPRequestHandler]:
    class _Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            parts = urlsplit(self.path)
            request = AwsRequest(
                method=self.command,
                path=parts.path,
                query={k: v[-1] for k, v in parse_qs(parts.query).items()},
                headers={k.lower(): v for k, v in self.headers.items()},
                body=_parse_body(raw),
                target=self.headers.get("X-Amz-Target"),
                raw=raw,
                raw_path=self.path,
            )
            status, payload, headers = server.answer(request)
            self.send_response(status)
            for name, value in {"x-amzn-RequestId": "loopback", **headers}.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # quiet: the recorded requests are the log

    return _Handler


def _parse_body(raw: bytes) -> dict[str, Any]:
    """JSON (JSON 1.1, REST-JSON), else a form (query protocol: STS, IAM), else nothing."""
    if not raw.strip():
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
    return parsed if isinstance(parsed, dict) else {}


def _aws_error(request: AwsRequest, code: str, message: str) -> tuple[int, bytes, dict[str, str]]:
    content_type = "application/x-amz-json-1.1" if request.target else "application/json"
    body = json.dumps({"__type": code, "message": message}).encode("utf-8")
    return 400, body, {"Content-Type": content_type, "x-amzn-ErrorType": code}


_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}


def _forward(base: str, request: AwsRequest) -> tuple[int, bytes, dict[str, str]]:
    """Replay the request on the fallback server and relay its answer (status, body, headers)."""
    url = base + (request.raw_path or request.path)
    headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
    forwarded = urllib.request.Request(url, data=request.raw or None, headers=headers, method=request.method)
    try:
        with urllib.request.urlopen(forwarded, timeout=60) as response:
            status, payload, answer_headers = response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        status, payload, answer_headers = exc.code, exc.read(), exc.headers
    return status, payload, {k: v for k, v in answer_headers.items() if k.lower() not in _HOP_BY_HOP}


_NUMBER, _STR = (int, float), (str,)
_TYPES: dict[str, tuple[type, ...]] = {"string": _STR, "blob": _STR, "boolean": (bool,), "integer": (int,)}
_TYPES.update(long=(int,), float=_NUMBER, double=_NUMBER, timestamp=(*_NUMBER, str))
_TYPES.update(structure=(dict,), map=(dict,), list=(list,))


def _check_shape(check: tuple[str, str] | None, body: dict[str, Any]) -> list[str]:
    """Where `body` departs from botocore's output shape for the operation (empty if it fits)."""
    import botocore.session

    assert check is not None
    service, operation = check
    model = botocore.session.get_session().get_service_model(service)
    shape = model.operation_model(operation).output_shape
    return _walk(shape, body, f"{service}:{operation}") if shape is not None else []


def _walk(shape: Any, value: Any, where: str) -> list[str]:
    fits = isinstance(value, _TYPES.get(shape.type_name, (object,)))  # (not narrowing `value`)
    if not fits or (shape.type_name != "boolean" and isinstance(value, bool)):
        return [f"{where}: expected {shape.type_name}, got {type(value).__name__}"]
    if shape.type_name == "string" and shape.enum and value not in shape.enum:
        return [f"{where}: {value!r} is not one of {shape.enum}"]
    if shape.type_name == "list":
        return [p for i, item in enumerate(value) for p in _walk(shape.member, item, f"{where}[{i}]")]
    if shape.type_name == "map":
        return [p for k, v in value.items() for p in _walk(shape.value, v, f"{where}.{k}")]
    if shape.type_name != "structure":
        return []
    # REST members carried in headers or the status line are not part of the JSON body.
    members = {k: m for k, m in shape.members.items() if not m.serialization.get("location")}
    problems = [f"{where}: unknown key {k!r}" for k in value if k not in members]
    problems += [
        f"{where}: missing required {k!r}" for k in shape.required_members if k in members and k not in value
    ]
    for key, item in value.items():
        if key in members:
            problems += _walk(members[key], item, f"{where}.{key}")
    return problems
