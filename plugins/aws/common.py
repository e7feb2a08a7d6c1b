"""What every AWS collector shares: parameters, credentials, accounts and regions, and gaps.

Credentials come only from boto3's own chain (environment, profile, SSO, instance or container
role); an optional `role_arn` is assumed first, and for multi-account collection `role_name` is
assumed in each listed account (or every active account of the organization). Each collector
iterates `targets(ctx)` and gets one instrumented boto3 session per account and region, so every
API call is recorded as provenance and counted, and retried in boto3's `standard` mode.

A target whose role cannot be assumed, or a call the credentials may not make, is a *gap*: it is
recorded in the artefact (what could not be seen, and why) instead of failing the whole collection;
`raise_for_failed_targets` then fails the instance at the end so the run summary and exit code show it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from evidentia import CollectContext

T = TypeVar("T")
ACCESS_DENIED = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedException",
        "AuthorizationError",
        "AWSOrganizationsNotInUseException",
    }
)
ACCOUNT_ID = r"^[0-9]{12}$"

COMMON_PARAMS: dict[str, Any] = {
    "regions": {
        "type": "array",
        "items": {"type": "string", "pattern": r"^[a-z]{2}(-[a-z]+)+-[0-9]$"},
        "description": "Regions to collect from (default: the session's region, else us-east-1)",
    },
    "role_arn": {"type": "string", "description": "A role to assume first (e.g. an audit role)"},
    "accounts": {
        "type": "array",
        "items": {"type": "string", "pattern": ACCOUNT_ID},
        "description": "Account IDs to collect from, assuming `role_name` in each",
    },
    "organization": {
        "type": "boolean",
        "default": False,
        "description": "Collect from every active account of the organization (needs role_name)",
    },
    "role_name": {
        "type": "string",
        "default": "OrganizationAccountAccessRole",
        "description": "Role assumed in each account for multi-account collection",
    },
    "external_id": {"type": "string", "description": "ExternalId for the role assumptions, if required"},
    "endpoint_url": {"type": "string", "description": "Override endpoint (VPC endpoints, tests)"},
}


def params_schema(own: dict[str, Any] | None = None, required: tuple[str, ...] = ()) -> dict[str, Any]:
    """A collector's parameter schema: the common AWS parameters plus its own."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": list(required),
        "properties": {**COMMON_PARAMS, **(own or {})},
    }


@dataclass
class Target:
    """One account and region to collect from, with a session whose calls are recorded."""

    account: str
    region: str
    session: Any  # boto3.session.Session

    def client(self, ctx: CollectContext, service: str) -> Any:
        kwargs: dict[str, Any] = {"region_name": self.region}
        if ctx.params.get("endpoint_url"):
            kwargs["endpoint_url"] = ctx.params["endpoint_url"]
        return self.session.client(service, **kwargs)


@dataclass
class Gaps:
    """What could not be seen, and why: filed in the artefact as part of the evidence."""

    items: list[dict[str, str]] = field(default_factory=list)
    failed_targets: list[str] = field(default_factory=list)

    def add(self, where: str, call: str, error: Exception) -> None:
        self.items.append({"where": where, "call": call, "error": error_text(error)})

    def to_list(self) -> list[dict[str, str]]:
        return list(self.items)


def error_code(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    return str(response.get("Error", {}).get("Code", type(error).__name__))


def error_text(error: Exception) -> str:
    response = getattr(error, "response", None) or {}
    message = response.get("Error", {}).get("Message") or str(error)
    return f"{error_code(error)}: {message}"


def is_access_denied(error: Exception) -> bool:
    return error_code(error) in ACCESS_DENIED


def or_gap(gaps: Gaps, where: str, call: str, fn: Callable[[], T], default: T) -> T:
    """Run one API call; an access-denied answer becomes a recorded gap and `default`."""
    try:
        return fn()
    except Exception as exc:
        if not is_access_denied(exc):
            raise
        gaps.add(where, call, exc)
        return default


def paginate(client: Any, operation: str, key: str, **kwargs: Any) -> list[Any]:
    """Every item of a paginated listing, through boto3's own paginator.

    Page sizes differ per operation, so callers that want the largest pass
    `PaginationConfig={"PageSize": N}`; the default is the service's own.
    """
    items: list[Any] = []
    for page in client.get_paginator(operation).paginate(**kwargs):
        items.extend(page.get(key, []))
    return items


def _base_session(ctx: CollectContext) -> Any:
    session = ctx.boto3_session()
    role_arn = ctx.params.get("role_arn")
    return _assume(ctx, session, role_arn, "evidentia") if role_arn else session


def _assume(ctx: CollectContext, session: Any, role_arn: str, name: str) -> Any:
    kwargs: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": name[:64]}
    if ctx.params.get("external_id"):
        kwargs["ExternalId"] = ctx.params["external_id"]
    sts = session.client("sts", **_endpoint(ctx))
    creds = sts.assume_role(**kwargs)["Credentials"]
    return ctx.boto3_session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )


def _endpoint(ctx: CollectContext) -> dict[str, Any]:
    url = ctx.params.get("endpoint_url")
    return {"endpoint_url": url} if url else {}


def _regions(ctx: CollectContext, session: Any) -> list[str]:
    return list(ctx.params.get("regions") or [session.region_name or "us-east-1"])


def _accounts(ctx: CollectContext, base: Any) -> list[str] | None:
    """Accounts to visit, or None for just the base session's own account."""
    if ctx.params.get("organization"):
        org = base.client("organizations", region_name=_regions(ctx, base)[0], **_endpoint(ctx))
        accounts = paginate(org, "list_accounts", "Accounts")
        return [a["Id"] for a in accounts if a.get("Status") == "ACTIVE"]
    return list(ctx.params.get("accounts") or []) or None


def targets(ctx: CollectContext, gaps: Gaps, *, global_service: bool = False) -> Iterator[Target]:
    """Each account and region to collect from; an account whose role fails is a recorded gap.

    `global_service` (IAM, Organizations) yields one target per account, in the first region.
    """
    base = _base_session(ctx)
    regions = _regions(ctx, base)
    if global_service:
        regions = regions[:1]
    accounts = _accounts(ctx, base)
    if accounts is None:
        sts = base.client("sts", region_name=regions[0], **_endpoint(ctx))
        own = sts.get_caller_identity()["Account"]
        for region in regions:
            yield Target(own, region, base)
        return
    role_name = ctx.params.get("role_name") or "OrganizationAccountAccessRole"
    for account in accounts:
        ctx.check_cancelled()
        arn = f"arn:aws:iam::{account}:role/{role_name}"
        try:
            session = _assume(ctx, base, arn, f"evidentia-{ctx.instance_id}")
        except Exception as exc:
            gaps.add(account, f"sts:AssumeRole {arn}", exc)
            gaps.failed_targets.append(account)
            continue
        for region in regions:
            yield Target(account, region, session)


def raise_for_failed_targets(gaps: Gaps) -> None:
    """After filing what could be collected, fail the instance if whole accounts were unreachable."""
    if gaps.failed_targets:
        detail = "; ".join(g["error"] for g in gaps.items if g["where"] in gaps.failed_targets)
        raise RuntimeError(f"could not collect from account(s) {', '.join(gaps.failed_targets)}: {detail}")


# Services whose boto3 name differs from the IAM action prefix.
IAM_PREFIX = {"sso-admin": "sso", "sagemaker-runtime": "sagemaker", "bedrock-agent": "bedrock"}


def iam_action(recorded_call: str) -> str:
    """`sagemaker:ListModelPackages` from a recorded boto3 call `sagemaker:ListModelPackages`."""
    service, _, operation = recorded_call.partition(":")
    return f"{IAM_PREFIX.get(service, service)}:{operation}"
