"""The shared retry policy (core/retry.py) and the instrumented requests session (core/http.py).

The policy is tested with an injected `sleep` that records waits, so "waits what the service asked"
and "gives up instead of sleeping past the budget" are asserted exactly and instantly. The session
is tested against a real loopback server that produces the failures it must survive (throttling,
503s, dropped connections, slow replies), because mocking `requests` would only test our idea of
how those failures look.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from http_server import LoopbackServer, Reply

from evidentia import CollectContext, Period
from evidentia.http import instrumented_session
from evidentia.retry import GaveUp, RetryableError, retry_after_seconds, retrying

NOW = 1_700_000_000.0
# short back-off so tests of the session take milliseconds, not the production half second
FAST: dict[str, Any] = {"initial": 0.01, "maximum": 0.05}


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


def make_ctx() -> CollectContext:
    end = dt.datetime.now(dt.timezone.utc)
    return CollectContext(
        instance_id="t",
        params={},
        period=Period(end - dt.timedelta(days=1), end),
        logger=logging.getLogger("t"),
        is_first_run=True,
    )


def failing(*errors: BaseException, result: str = "done") -> Callable[[], str]:
    """A callable that raises `errors` in turn, then returns `result`; counts its calls."""
    remaining = list(errors)

    def call() -> str:
        call.calls += 1  # type: ignore[attr-defined]
        if remaining:
            raise remaining.pop(0)
        return result

    call.calls = 0  # type: ignore[attr-defined]
    return call


# -- retry_after_seconds ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "7"}, 7.0),
        ({"retry-after": " 120 "}, 120.0),
        ({"Retry-After": "0"}, 0.0),
        ({"Retry-After": email.utils.formatdate(NOW + 30, usegmt=True)}, 30.0),
        ({"Retry-After": email.utils.formatdate(NOW - 30, usegmt=True)}, 0.0),
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 42)}, 42.0),
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) - 5)}, 0.0),
        ({"X-RateLimit-Remaining": "12", "X-RateLimit-Reset": str(int(NOW) + 42)}, None),
        ({"Retry-After": "soon"}, None),
        ({}, None),
    ],
    ids=[
        "delta-seconds",
        "case-and-space",
        "zero",
        "http-date",
        "http-date-past",
        "ratelimit-reset",
        "ratelimit-reset-past",
        "quota-left",
        "garbage",
        "none",
    ],
)
def test_retry_after_seconds(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_seconds(headers, now=NOW) == expected


def test_retry_after_prefers_retry_after_over_the_rate_limit_reset() -> None:
    headers = {"Retry-After": "3", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(NOW + 99)}
    assert retry_after_seconds(headers, now=NOW) == 3.0


# -- retrying --------------------------------------------------------------------------------


def test_retrying_waits_what_the_service_asked_for() -> None:
    waits: list[float] = []
    fn = failing(RetryableError("HTTP 429", retry_after=2.5), RetryableError("HTTP 503"))

    assert retrying(sleep=waits.append, **FAST)(fn) == "done"
    assert fn.calls == 3  # type: ignore[attr-defined]
    assert waits[0] == 2.5
    assert 0 < waits[1] <= FAST["maximum"]  # no Retry-After: bounded exponential back-off


def test_retrying_gives_up_naming_attempts_and_the_last_error() -> None:
    waits: list[float] = []
    fn = failing(*(RetryableError(f"HTTP 500 #{i}") for i in range(1, 4)))

    with pytest.raises(GaveUp) as caught:
        retrying(attempts=3, sleep=waits.append, **FAST)(fn)

    message = str(caught.value)
    assert "3 attempt(s)" in message
    assert "HTTP 500 #3" in message  # the last error, not the first
    assert fn.calls == 3 and len(waits) == 2  # type: ignore[attr-defined]


def test_a_retry_after_beyond_the_budget_gives_up_at_once_instead_of_sleeping() -> None:
    waits: list[float] = []
    fn = failing(RetryableError("HTTP 429", retry_after=3600))

    with pytest.raises(GaveUp, match=r"next wait \(3600 s\) exceeds the 300 s budget.*HTTP 429"):
        retrying(max_total_wait=300, sleep=waits.append)(fn)

    assert waits == []
    assert fn.calls == 1  # type: ignore[attr-defined]


def test_errors_that_are_not_transient_are_raised_as_they_are() -> None:
    waits: list[float] = []
    fn = failing(KeyError("bug"))

    with pytest.raises(KeyError):
        retrying(sleep=waits.append)(fn)

    assert fn.calls == 1 and waits == []  # type: ignore[attr-defined]


# -- the instrumented session against the loopback server ------------------------------------


def test_429_with_retry_after_is_waited_out_and_counted(server: LoopbackServer) -> None:
    server.script("/items", Reply.rate_limited(retry_after=1), Reply.json({"items": [1]}))
    ctx = make_ctx()

    started = time.monotonic()
    response = instrumented_session(ctx, **FAST).get(server.url("/items"))
    elapsed = time.monotonic() - started

    assert response.status_code == 200 and response.json() == {"items": [1]}
    assert 0.9 <= elapsed < 3  # the asked-for second, not the 0.05 s back-off
    assert ctx.request_count == 2
    assert ctx.calls == [f"GET {server.url('/items')}"]  # one logical call, two requests
    assert len(server.requests_to("/items")) == 2


def test_503s_are_retried_until_success(server: LoopbackServer) -> None:
    server.script("/x", Reply.unavailable(), Reply.unavailable(), Reply.text("ok"))
    ctx = make_ctx()

    response = instrumented_session(ctx, **FAST).get(server.url("/x"))

    assert (response.status_code, response.text) == (200, "ok")
    assert ctx.request_count == 3 and len(ctx.calls) == 1


def test_an_exhausted_quota_403_waits_for_the_reset(server: LoopbackServer) -> None:
    server.script("/x", Reply.quota_exhausted(reset_at=time.time()), Reply.text("ok"))
    ctx = make_ctx()

    response = instrumented_session(ctx, **FAST).get(server.url("/x"))

    assert response.status_code == 200 and ctx.request_count == 2


def test_a_plain_403_is_returned_not_retried(server: LoopbackServer) -> None:
    server.script("/x", Reply.text("forbidden", status=403))
    ctx = make_ctx()

    response = instrumented_session(ctx, **FAST).get(server.url("/x"))

    assert response.status_code == 403 and ctx.request_count == 1


def test_a_reset_connection_is_retried(server: LoopbackServer) -> None:
    server.script("/x", Reply.connection_reset(), Reply.text("ok"))
    ctx = make_ctx()

    response = instrumented_session(ctx, **FAST).get(server.url("/x"))

    assert response.text == "ok"
    assert ctx.request_count == 2 and len(server.requests_to("/x")) == 2


def test_a_read_time_out_is_retried(server: LoopbackServer) -> None:
    server.script("/x", Reply.text("late").delayed(1.0), Reply.text("ok"))
    ctx = make_ctx()

    response = instrumented_session(ctx, **FAST).get(server.url("/x"), timeout=(1, 0.2))

    assert response.text == "ok" and ctx.request_count == 2


def test_a_persistent_500_gives_up(server: LoopbackServer) -> None:
    server.always("/x", Reply.text("boom", status=500))
    ctx = make_ctx()

    with pytest.raises(GaveUp, match=r"3 attempt\(s\).*HTTP 500"):
        instrumented_session(ctx, attempts=3, **FAST).get(server.url("/x"))

    assert ctx.request_count == 3 and len(server.requests_to("/x")) == 3


def test_404_is_returned_not_retried(server: LoopbackServer) -> None:
    server.script("/missing", Reply.json({"message": "Not Found"}, status=404))
    ctx = make_ctx()

    response = instrumented_session(ctx, **FAST).get(server.url("/missing"))

    assert response.status_code == 404
    assert ctx.request_count == 1 and len(server.requests) == 1


def test_a_secret_query_value_is_redacted_in_the_recorded_call(server: LoopbackServer) -> None:
    server.script("/me", Reply.json({"login": "octo"}))
    ctx = make_ctx()

    instrumented_session(ctx, **FAST).get(server.url("/me?access_token=s3cr3t-value&per_page=100"))

    assert ctx.calls == [f"GET {server.url('/me')}?access_token=[REDACTED]&per_page=100"]
    assert server.requests[0].path == "/me?access_token=s3cr3t-value&per_page=100"  # still sent


def test_a_malformed_url_is_raised_as_it_is() -> None:
    """A malformed URL is a bug in the caller, not a transient failure: no retries, no GaveUp."""
    with pytest.raises(requests.exceptions.MissingSchema):
        instrumented_session(make_ctx(), **FAST).get("not-a-url")
