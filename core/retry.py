"""The one retry policy every collector shares (tenacity).

Throttling is normal for a nightly job against GitHub, Jira or AWS; the policy waits as long as the
service asks (`Retry-After`, `X-RateLimit-Reset`), otherwise backs off exponentially with jitter,
and gives up within a bounded total wait with a message that says why. No collector writes its own
retry loop.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import tenacity

T = TypeVar("T")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class RetryableError(Exception):
    """A transient failure; `retry_after` is the wait the service asked for, in seconds."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GaveUp(Exception):
    """Retries exhausted; the message says how many attempts, how long, and the last error."""


def retry_after_seconds(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """The wait a response asks for: `Retry-After` (seconds or HTTP date), or a rate-limit reset."""
    now = time.time() if now is None else now
    lower = {k.lower(): v for k, v in headers.items()}
    value = lower.get("retry-after")
    if value:
        value = value.strip()
        if value.isdigit():
            return float(value)
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.timezone.utc)
            return max(0.0, when.timestamp() - now)
    if lower.get("x-ratelimit-remaining") == "0" and lower.get("x-ratelimit-reset", "").isdigit():
        return max(0.0, float(lower["x-ratelimit-reset"]) - now)
    return None


class _WaitAsAsked(tenacity.wait.wait_base):
    """Wait what the service asked for, else exponential back-off with jitter."""

    def __init__(self, initial: float, maximum: float) -> None:
        self.backoff = tenacity.wait_exponential(multiplier=initial, max=maximum) + tenacity.wait_random(
            0, initial
        )

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        exc = outcome.exception() if outcome is not None else None
        if isinstance(exc, RetryableError) and exc.retry_after is not None:
            return exc.retry_after
        return float(self.backoff(retry_state))


def retrying(
    *,
    attempts: int = 6,
    max_total_wait: float = 300.0,
    initial: float = 0.5,
    maximum: float = 30.0,
    retry_on: tuple[type[BaseException], ...] = (RetryableError,),
    sleep: Callable[[float], None] = time.sleep,
) -> tenacity.Retrying:
    """A tenacity `Retrying` with the shared policy; wrap one request per call."""
    started = time.monotonic()

    def before_sleep(state: tenacity.RetryCallState) -> None:
        wait = state.next_action.sleep if state.next_action else 0.0
        if time.monotonic() - started + wait > max_total_wait:
            why = f"the next wait ({wait:.0f} s) exceeds the {max_total_wait:.0f} s budget"
            raise _give_up(state, why) from _last_error(state)

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(retry_on),
        wait=_WaitAsAsked(initial, maximum),
        stop=tenacity.stop_after_attempt(attempts),
        before_sleep=before_sleep,
        sleep=sleep,
        reraise=False,
        retry_error_callback=lambda state: _raise(_give_up(state, f"{attempts} attempts failed"), state),
    )


def _last_error(state: tenacity.RetryCallState) -> BaseException | None:
    outcome = state.outcome
    return outcome.exception() if outcome is not None else None


def _give_up(state: tenacity.RetryCallState, why: str) -> GaveUp:
    last = _last_error(state)
    elapsed = state.seconds_since_start or 0.0
    return GaveUp(f"gave up after {state.attempt_number} attempt(s) in {elapsed:.1f} s ({why}): {last}")


def _raise(exc: BaseException, state: tenacity.RetryCallState) -> Any:
    raise exc from _last_error(state)
