"""Least-privilege policies from what collectors declare they need.

Collectors declare `permissions`; those written as IAM actions (`service:Operation`) are turned into
an IAM policy document for the instances of a config, so the audit role grants exactly what the
configured collectors call and nothing more. (A test per AWS collector proves it calls nothing
outside its declaration.) The core knows the policy format only, not any AWS SDK.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from .config import Instance

IAM_ACTION = re.compile(r"^[a-z0-9-]+:[A-Za-z0-9]+$")


def iam_actions(instances: Iterable[Instance]) -> list[str]:
    """Every declared permission that is an IAM action, across the instances, sorted.

    `organization: true` makes the collector list the organization's accounts first, which needs
    `organizations:ListAccounts` whatever the collector itself calls.
    """
    actions: set[str] = set()
    for inst in instances:
        own = {p for p in inst.collector.cls.permissions if IAM_ACTION.match(p)}
        if own and inst.params.get("organization"):
            own.add("organizations:ListAccounts")
        actions |= own
    return sorted(actions)


def _assumed_roles(instances: Iterable[Instance]) -> list[str]:
    """Roles the collecting identity assumes (role_arn, or role_name in each account)."""
    roles: set[str] = set()
    for inst in instances:
        params = inst.params
        if params.get("role_arn"):
            roles.add(str(params["role_arn"]))
        role_name = params.get("role_name") or "OrganizationAccountAccessRole"
        if params.get("organization"):
            roles.add(f"arn:aws:iam::*:role/{role_name}")
        for account in params.get("accounts") or []:
            roles.add(f"arn:aws:iam::{account}:role/{role_name}")
    return sorted(roles)


def iam_policy(instances: Iterable[Instance]) -> dict[str, Any]:
    """An IAM policy document: the declared read-only actions, plus AssumeRole where configured."""
    chosen = list(instances)
    statements: list[dict[str, Any]] = [
        {"Sid": "EvidentiaCollect", "Effect": "Allow", "Action": iam_actions(chosen), "Resource": "*"}
    ]
    roles = _assumed_roles(chosen)
    if roles:
        statements.append(
            {
                "Sid": "EvidentiaAssumeAuditRoles",
                "Effect": "Allow",
                "Action": "sts:AssumeRole",
                "Resource": roles,
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}
