"""`aws.iam_access`: the IAM access review an auditor asks for, per account.

Two sources, both bulk: the credential report (one CSV row per user with password, MFA and access-key
dates, generated on demand and filed exactly as AWS hands it over) and one paginated
`GetAccountAuthorizationDetails` sweep (users, groups, roles, policies and their attachments), so
who-can-do-what needs no per-user calls. Findings are computed from these two, never from guesses.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from evidentia import Artefact, CollectContext, Collector, Finding

from .common import Gaps, Target, or_gap, params_schema, raise_for_failed_targets, targets

ADMIN_POLICY_SUFFIX = ":iam::aws:policy/AdministratorAccess"  # any partition
AWS_MANAGED = ":iam::aws:policy/"
ROOT_USER = "<root_account>"
DETAIL_KEYS = ("UserDetailList", "GroupDetailList", "RoleDetailList", "Policies")
KEY_SLOTS = ("1", "2")
USED_COLUMNS = ("password_last_used", *(f"access_key_{slot}_last_used_date" for slot in KEY_SLOTS))
LIMIT_PARAMS = ("max_key_age_days", "max_key_unused_days", "inactive_days")


def _int(description: str, default: int, minimum: int = 0, maximum: int = 36500) -> dict[str, Any]:
    return dict(type="integer", minimum=minimum, maximum=maximum, default=default, description=description)


@dataclass(frozen=True)
class Limits:
    """The review's thresholds, as durations compared with the report's timestamps."""

    key_age: dt.timedelta
    key_unused: dt.timedelta
    inactive: dt.timedelta


def parse_time(value: str | None) -> dt.datetime | None:
    """A credential-report timestamp, or None for `N/A`, `no_information`, `not_supported`."""
    try:
        moment = dt.datetime.fromisoformat((value or "").replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def credential_report(ctx: CollectContext, iam: Any, wait_seconds: float) -> dict[str, Any]:
    """Generate the report if needed, poll until COMPLETE (bounded), then fetch it."""
    deadline, delay = time.monotonic() + wait_seconds, 0.25
    while iam.generate_credential_report().get("State") != "COMPLETE":
        if time.monotonic() + delay > deadline:
            raise TimeoutError(f"the credential report was not ready within {wait_seconds:g} s")
        _sleep(ctx, delay)
        delay = min(delay * 2, 5.0)
    return dict(iam.get_credential_report())


def _sleep(ctx: CollectContext, seconds: float) -> None:
    """Sleep in short slices, so an instance's time-out cuts a long wait short."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        ctx.check_cancelled()
        time.sleep(min(left, 0.5))


def authorization_details(iam: Any) -> dict[str, Any]:
    """Every user, group, role and policy in one sweep; unattached AWS-managed policies are dropped.

    AWS-managed policy documents are public and identical everywhere; those nobody uses only bloat
    the evidence (some endpoints list all ~1,300), so their count is recorded instead.
    """
    merged: dict[str, list[Any]] = {key: [] for key in DETAIL_KEYS}
    for page in iam.get_paginator("get_account_authorization_details").paginate():
        for key in DETAIL_KEYS:
            merged[key].extend(page.get(key, []))
    policies = merged["Policies"]
    kept = [p for p in policies if AWS_MANAGED not in p.get("Arn", "") or p.get("AttachmentCount", 0)]
    return {**merged, "Policies": kept, "UnattachedAwsManagedPoliciesOmitted": len(policies) - len(kept)}


def key_findings(row: dict[str, str], now: dt.datetime, limits: Limits) -> Iterator[Finding]:
    """Old and unused active access keys in one credential-report row (root included)."""
    for slot in KEY_SLOTS:
        if row.get(f"access_key_{slot}_active") != "true":
            continue
        rotated = parse_time(row.get(f"access_key_{slot}_last_rotated"))
        used = parse_time(row.get(f"access_key_{slot}_last_used_date"))
        who, subject = row.get("user", "?"), row.get("arn")
        if rotated and now - rotated > limits.key_age:
            age = (now - rotated).days
            text = f"{who}'s access key {slot} is {age} days old (limit {limits.key_age.days})"
            yield Finding("access-key-old", text, "medium", subject=subject)
        since = used or rotated
        if since and now - since > limits.key_unused:
            what = f"last used {used.date()}" if used else f"never used since {since.date()}"
            text = f"{who}'s access key {slot} is active but {what} (limit {limits.key_unused.days} days)"
            yield Finding("access-key-unused", text, "low", subject=subject)


def user_findings(row: dict[str, str], now: dt.datetime, limits: Limits) -> Iterator[Finding]:
    """Console access without MFA, and users with no sign-in or key use for too long."""
    who, subject = row.get("user", "?"), row.get("arn")
    if row.get("password_enabled") == "true" and row.get("mfa_active") != "true":
        yield Finding("console-without-mfa", f"{who} can sign in without MFA", "high", subject=subject)
    uses = [parse_time(row.get(column)) for column in USED_COLUMNS]
    last = max((u for u in uses if u), default=None) or parse_time(row.get("user_creation_time"))
    if last and now - last > limits.inactive:
        seen = f"last active {last.date()}" if any(uses) else f"never active since {last.date()}"
        text = f"{who} is inactive: {seen} (limit {limits.inactive.days} days)"
        yield Finding("inactive-user", text, "medium", subject=subject)


def report_findings(rows: Iterable[dict[str, str]], now: dt.datetime, limits: Limits) -> list[Finding]:
    """All credential-report findings: root access keys first, then each user's."""
    findings: list[Finding] = []
    for row in rows:
        if row.get("user") == ROOT_USER:
            if any(row.get(f"access_key_{slot}_active") == "true" for slot in KEY_SLOTS):
                text = f"the root user of {row.get('arn')} has active access keys"
                findings.append(Finding("root-access-key", text, "critical", subject=row.get("arn")))
            continue
        findings += [*user_findings(row, now, limits), *key_findings(row, now, limits)]
    return findings


def admin_findings(details: dict[str, Any]) -> list[Finding]:
    """Users with AdministratorAccess attached directly or through a group they belong to."""
    admin_groups = {g["GroupName"] for g in details["GroupDetailList"] if _is_admin(g)}
    findings = []
    for user in details["UserDetailList"]:
        via = sorted(admin_groups.intersection(user.get("GroupList", [])))
        if _is_admin(user) or via:
            how = "directly" if _is_admin(user) else f"via group {', '.join(via)}"
            text = f"{user['UserName']} has AdministratorAccess ({how})"
            findings.append(Finding("administrator-access", text, "medium", subject=user.get("Arn")))
    return findings


def _is_admin(principal: dict[str, Any]) -> bool:
    attached = principal.get("AttachedManagedPolicies", [])
    return any(p.get("PolicyArn", "").endswith(ADMIN_POLICY_SUFFIX) for p in attached)


class IamAccessCollector(Collector):
    name = "aws.iam_access"
    version = "1"
    description = (
        "IAM access review: the credential report (CSV, as filed) and GetAccountAuthorizationDetails; "
        "findings for console users without MFA, old or unused access keys, root access keys, "
        "AdministratorAccess and inactive users."
    )
    principles = ("P5", "P6")
    kind = "snapshot"
    permissions = (
        "iam:GenerateCredentialReport",
        "iam:GetCredentialReport",
        "iam:GetAccountAuthorizationDetails",
        "sts:GetCallerIdentity",
    )
    params_schema: ClassVar[dict[str, Any]] = params_schema(
        {
            "max_key_age_days": _int("Active access keys older than this (days) are a finding", 90),
            "max_key_unused_days": _int("Active access keys unused this long (days) are a finding", 90),
            "inactive_days": _int("Users without sign-in or key use this long (days) are a finding", 90),
            "report_wait_seconds": _int("Seconds to wait for the credential report", 120, 1, 900),
        }
    )

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        days = {name: int(ctx.params.get(name, 90)) for name in LIMIT_PARAMS}
        limits = Limits(*(dt.timedelta(days=n) for n in days.values()))
        gaps, accounts, findings = Gaps(), list[dict[str, Any]](), list[Finding]()
        for target in targets(ctx, gaps, global_service=True):
            account, found, report = self._account(ctx, target, gaps, limits)
            if report is not None:
                yield report
            accounts.append(account)
            findings += found
        yield Artefact.json(
            "iam-access",
            {"as_of": ctx.now, "limits_days": days, "accounts": accounts, "gaps": gaps.to_list()},
            source="iam",
            findings=findings,
            summary=_summary(accounts, findings, gaps),
        )
        raise_for_failed_targets(gaps)

    def _account(
        self, ctx: CollectContext, target: Target, gaps: Gaps, limits: Limits
    ) -> tuple[dict[str, Any], list[Finding], Artefact | None]:
        """One account's evidence, its findings, and its credential report as filed."""
        iam, where = target.client(ctx, "iam"), target.account
        report = _report_artefact(ctx, iam, gaps, where)
        call = "iam:GetAccountAuthorizationDetails"
        details = or_gap(gaps, where, call, lambda: authorization_details(iam), None)
        rows = list(csv.DictReader(io.StringIO(report.content.decode("utf-8-sig")))) if report else []
        findings = report_findings(rows, ctx.now, limits) + (admin_findings(details) if details else [])
        account = {
            "account": target.account,
            "region": target.region,
            "credential_report": report and {"artefact": report.name, "rows": len(rows)},
            "authorization_details": details,
        }
        return account, findings, report


def _report_artefact(ctx: CollectContext, iam: Any, gaps: Gaps, account: str) -> Artefact | None:
    """The credential report as filed, or None with a gap if denied or never ready in time."""
    wait = float(ctx.params.get("report_wait_seconds", 120))
    call = "iam:GenerateCredentialReport"
    try:
        report = or_gap(gaps, account, call, lambda: credential_report(ctx, iam, wait), None)
    except TimeoutError as exc:
        gaps.add(account, call, exc)
        return None
    if report is None:
        return None
    content = bytes(report["Content"])
    return Artefact(
        name=f"credential-report-{account}",
        content=content,
        media_type="text/csv",
        extension="csv",
        source=f"iam:GetCredentialReport account {account}",
        summary={"account": account, "generated_time": str(report.get("GeneratedTime", ""))},
    )


def _summary(accounts: list[dict[str, Any]], findings: list[Finding], gaps: Gaps) -> dict[str, Any]:
    details = [a["authorization_details"] or {} for a in accounts]
    return {
        "accounts": len(accounts),
        "users": sum(len(d.get("UserDetailList", [])) for d in details),
        "roles": sum(len(d.get("RoleDetailList", [])) for d in details),
        "findings": dict(Counter(f.code for f in findings)),
        "gaps": len(gaps.items),
    }


COLLECTORS = (IamAccessCollector,)
