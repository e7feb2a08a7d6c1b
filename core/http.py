"""Instrumented clients handed to collectors: requests and boto3, with the shared retry policy.

Every request is counted (the run summary reports requests per instance, since request economy is a
feature) and every logical call is recorded for the artefact's provenance, scrubbed of secrets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .retry import RETRY_STATUSES, RetryableError, retry_after_seconds, retrying

if TYPE_CHECKING:
    import boto3
    import requests

    from .collector import CollectContext

DEFAULT_TIMEOUT = (10.0, 60.0)
SECRET_QUERY_KEYS = frozenset(
    {
        "token",
        "access_token",
        "key",
        "apikey",
        "api_key",
        "password",
        "signature",
        "sig",
        "client_secret",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
    }
)


def describe_request(method: str, url: str) -> str:
    """`GET https://host/path?per_page=100` with secret-looking query values removed."""
    parts = urlsplit(url)
    query = "&".join(
        f"{k}=[REDACTED]" if k.lower() in SECRET_QUERY_KEYS else (f"{k}={v}" if v else k)
        for k, _, v in (pair.partition("=") for pair in parts.query.split("&") if pair)
    )
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port:
        netloc += f":{parts.port}"
    return f"{method.upper()} {urlunsplit((parts.scheme, netloc, parts.path, query, ''))}"


def _is_throttle(response: requests.Response) -> bool:
    """GitHub signals secondary rate limits with 403 plus Retry-After or an exhausted quota."""
    if response.status_code in RETRY_STATUSES:
        return True
    if response.status_code == 403:
        headers = response.headers
        return "Retry-After" in headers or headers.get("X-RateLimit-Remaining") == "0"
    return False


def instrumented_session(ctx: CollectContext, **policy: Any) -> requests.Session:
    """A `requests.Session` whose `request` retries transient failures and records each call."""
    import requests

    class _Session(requests.Session):
        def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("timeout", DEFAULT_TIMEOUT)
            m = method.decode() if isinstance(method, bytes) else method
            u = url.decode() if isinstance(url, bytes) else url
            full = requests.Request(m, u, params=kwargs.get("params")).prepare().url or u
            described = describe_request(m, full)
            ctx.check_cancelled()
            ctx.record_call(described)
            first = True

            def attempt() -> requests.Response:
                nonlocal first
                ctx.check_cancelled()
                if not first:
                    ctx.count_requests(1)
                first = False
                try:
                    response = super(_Session, self).request(method, url, *args, **kwargs)
                except (requests.ConnectionError, requests.Timeout) as exc:
                    reason = ctx.scrub(str(exc)).replace(full, described)
                    raise RetryableError(f"{described}: {type(exc).__name__}: {reason}") from exc
                if _is_throttle(response):
                    raise RetryableError(
                        f"{described}: HTTP {response.status_code}", retry_after_seconds(response.headers)
                    )
                return response

            return retrying(**policy)(attempt)

    return _Session()


def instrumented_boto3_session(ctx: CollectContext, **kwargs: Any) -> boto3.session.Session:
    """A boto3 session in `standard` retry mode that records each API call and counts each attempt."""
    import boto3
    import botocore.config
    import botocore.session

    core = botocore.session.Session()
    core.set_default_client_config(
        botocore.config.Config(retries={"mode": "standard", "max_attempts": 8}, max_pool_connections=16)
    )

    def before_call(model: Any, params: Any, **_: Any) -> None:
        ctx.check_cancelled()
        ctx.record_call(f"{model.service_model.service_name}:{model.name}", count=False)

    def before_send(request: Any, **_: Any) -> None:
        ctx.count_requests(1)

    core.register("before-call", before_call)
    core.register("before-send", before_send)
    return boto3.session.Session(botocore_session=core, **kwargs)
