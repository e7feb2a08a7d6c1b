"""`aws.identity_center`: who may enter which account with which permission set (IAM Identity Center).

Per instance: every permission set with its description, session duration, AWS-managed and
customer-managed policy attachments and inline policy; then, per permission set, the accounts it is
provisioned to and the assignments in each; then the identity-store users and groups behind the
assignments' principal IDs, listed once per store (`ListUsers`, `ListGroups`) and mapped in memory,
with the members of each assigned group. Only assigned principals are filed (ID, user name, display
name): the access review needs who has access, not the whole directory's personal data.

Not collected: permission-set permissions boundaries (`GetPermissionsBoundaryForPermissionSet`) and
tags; moto, the test double, implements neither, so their handling could not be tested.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from typing import Any, ClassVar

from evidentia import Artefact, CollectContext, Collector, Finding

from .common import Gaps, Target, or_gap, paginate, params_schema, raise_for_failed_targets, targets


def permission_set(sso: Any, instance: str, arn: str) -> dict[str, Any]:
    """One permission set with everything that says what it grants."""
    ids = {"InstanceArn": instance, "PermissionSetArn": arn}
    described = sso.describe_permission_set(**ids)["PermissionSet"]
    managed = paginate(sso, "list_managed_policies_in_permission_set", "AttachedManagedPolicies", **ids)
    customer = paginate(
        sso,
        "list_customer_managed_policy_references_in_permission_set",
        "CustomerManagedPolicyReferences",
        **ids,
    )
    inline = sso.get_inline_policy_for_permission_set(**ids).get("InlinePolicy") or None
    return {
        **described,
        "ManagedPolicies": managed,
        "CustomerManagedPolicies": customer,
        "InlinePolicy": inline,
    }


def assignments(sso: Any, instance: str, arn: str) -> list[dict[str, Any]]:
    """Every assignment of a permission set, in every account it is provisioned to."""
    ids = {"InstanceArn": instance, "PermissionSetArn": arn}
    found: list[dict[str, Any]] = []
    for account in paginate(sso, "list_accounts_for_provisioned_permission_set", "AccountIds", **ids):
        found += paginate(sso, "list_account_assignments", "AccountAssignments", AccountId=account, **ids)
    return found


def principals(store: Any, store_id: str, assigned: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The assigned users and groups by principal ID (groups with their member user IDs)."""
    if not assigned:
        return {}  # nothing to resolve: spare the directory listings
    users = {u["UserId"]: u for u in paginate(store, "list_users", "Users", IdentityStoreId=store_id)}
    groups = {g["GroupId"]: g for g in paginate(store, "list_groups", "Groups", IdentityStoreId=store_id)}
    found: dict[str, dict[str, Any]] = {}
    for a in assigned:
        pid, kind = a["PrincipalId"], a["PrincipalType"]
        if pid in found:
            continue
        if kind == "USER" and pid in users:
            found[pid] = _user(users[pid])
        elif kind == "GROUP" and pid in groups:
            found[pid] = {"Type": "GROUP", "GroupId": pid, "DisplayName": groups[pid].get("DisplayName")}
            found[pid]["Members"] = _members(store, store_id, pid, users)
    return found


def _user(user: dict[str, Any]) -> dict[str, Any]:
    return {
        "Type": "USER",
        "UserId": user["UserId"],
        "UserName": user.get("UserName"),
        "DisplayName": user.get("DisplayName"),
    }


def _members(store: Any, store_id: str, group: str, users: dict[str, Any]) -> list[dict[str, Any]]:
    listed = paginate(
        store, "list_group_memberships", "GroupMemberships", IdentityStoreId=store_id, GroupId=group
    )
    ids = [m.get("MemberId", {}).get("UserId") for m in listed]
    return [_user(users[i]) if i in users else {"Type": "USER", "UserId": i} for i in ids if i]


def unknown_principals(instance: dict[str, Any]) -> list[Finding]:
    """Assignments whose principal is not in the identity store (deleted users keep access there)."""
    findings = []
    for a in instance["Assignments"]:
        if a["PrincipalId"] not in instance["Principals"]:
            text = (
                f"{a['PrincipalType'].lower()} {a['PrincipalId']} is assigned {a['PermissionSetName']} in "
                f"account {a['AccountId']} but is not in identity store {instance['IdentityStoreId']}"
            )
            findings.append(Finding("assignment-unknown-principal", text, "medium", subject=a["PrincipalId"]))
    return findings


class IdentityCenterCollector(Collector):
    name = "aws.identity_center"
    version = "1"
    description = (
        "IAM Identity Center permission sets (policies included) and account assignments, with the "
        "identity-store users and groups behind them."
    )
    principles = ("P6",)
    kind = "snapshot"
    permissions = (
        "sso:ListInstances",
        "sso:ListPermissionSets",
        "sso:DescribePermissionSet",
        "sso:ListManagedPoliciesInPermissionSet",
        "sso:ListCustomerManagedPolicyReferencesInPermissionSet",
        "sso:GetInlinePolicyForPermissionSet",
        "sso:ListAccountsForProvisionedPermissionSet",
        "sso:ListAccountAssignments",
        "identitystore:ListUsers",
        "identitystore:ListGroups",
        "identitystore:ListGroupMemberships",
        "sts:GetCallerIdentity",
    )
    params_schema: ClassVar[dict[str, Any]] = params_schema()

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        gaps, instances, findings = Gaps(), list[dict[str, Any]](), list[Finding]()
        for target in targets(ctx, gaps):
            for instance in self._instances(ctx, target, gaps):
                instances.append(instance)
                findings += unknown_principals(instance)
        yield Artefact.json(
            "identity-center",
            {"as_of": ctx.now, "instances": instances, "gaps": gaps.to_list()},
            source="sso-admin, identitystore",
            findings=findings,
            summary={
                "instances": len(instances),
                "permission_sets": sum(len(i["PermissionSets"]) for i in instances),
                "assignments": sum(len(i["Assignments"]) for i in instances),
                "gaps": len(gaps.items),
            },
        )
        raise_for_failed_targets(gaps)

    def _instances(self, ctx: CollectContext, target: Target, gaps: Gaps) -> Iterator[dict[str, Any]]:
        """Each Identity Center instance in the target's account and region; one denied stays a stub."""
        sso = target.client(ctx, "sso-admin")
        where = f"{target.account}/{target.region}"
        empty: list[dict[str, Any]] = []
        listed = or_gap(
            gaps, where, "sso:ListInstances", partial(paginate, sso, "list_instances", "Instances"), empty
        )
        for instance in listed:
            ctx.check_cancelled()
            base = {**instance, "Account": target.account, "Region": target.region}
            what = f"permission sets and assignments of {instance['InstanceArn']}"
            detail = or_gap(gaps, where, what, partial(self._detail, ctx, target, sso, base), None)
            yield {**base, **(detail or {"PermissionSets": [], "Assignments": [], "Principals": {}})}

    def _detail(
        self, ctx: CollectContext, target: Target, sso: Any, instance: dict[str, Any]
    ) -> dict[str, Any]:
        """Permission sets, their assignments and the principals behind them, for one instance."""
        arn = instance["InstanceArn"]
        listed = paginate(sso, "list_permission_sets", "PermissionSets", InstanceArn=arn)
        sets = [permission_set(sso, arn, p) for p in listed]
        assigned = []
        for ps in sets:
            named = {"PermissionSetName": ps.get("Name")}
            assigned += [{**a, **named} for a in assignments(sso, arn, ps["PermissionSetArn"])]
        store = target.client(ctx, "identitystore")
        found = principals(store, instance["IdentityStoreId"], assigned)
        return {"PermissionSets": sets, "Assignments": assigned, "Principals": found}


COLLECTORS = (IdentityCenterCollector,)
