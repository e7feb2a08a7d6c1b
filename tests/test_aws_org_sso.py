"""`aws.organizations` and `aws.identity_center` against a moto server, and all three IAM-side AWS
collectors end to end through the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_moto import (
    ACCOUNT,
    ALLOW_ALL,
    boto,
    cli_env_for,
    enforce_iam,
    identity_with_policy,
    role_with_policy,
)
from support import run_cli, write_config

from evidentia import Artefact, Collector
from evidentia.plugins.aws.common import iam_action
from evidentia.plugins.aws.identity_center import IdentityCenterCollector
from evidentia.plugins.aws.organizations import OrganizationsCollector
from evidentia.testing import make_context

pytest_plugins = ["aws_moto"]

ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"


def run(cls: type[Collector], params: dict[str, Any] | None = None) -> tuple[dict, Artefact, list[str]]:
    """Run a collector; return its one artefact parsed, the artefact, and the IAM actions it called."""
    ctx = make_context(cls, params)
    (artefact,) = cls().collect(ctx)
    called = sorted(iam_action(c) for c in ctx.calls)
    assert set(called) <= set(cls.permissions)  # the declared actions are exactly enough
    return json.loads(artefact.content), artefact, called


def seed_organization() -> dict[str, str]:
    """Root > Workloads > Prod holding `ml-prod`; `sandbox` closed (SUSPENDED) under the root."""
    org = boto("organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    workloads = org.create_organizational_unit(ParentId=root, Name="Workloads")["OrganizationalUnit"]["Id"]
    prod = org.create_organizational_unit(ParentId=workloads, Name="Prod")["OrganizationalUnit"]["Id"]
    ids = {}
    for name in ("ml-prod", "sandbox"):
        status = org.create_account(Email=f"{name}@example.com", AccountName=name)["CreateAccountStatus"]
        created = org.describe_create_account_status(CreateAccountRequestId=status["Id"])
        ids[name] = created["CreateAccountStatus"]["AccountId"]
    org.move_account(AccountId=ids["ml-prod"], SourceParentId=root, DestinationParentId=prod)
    org.close_account(AccountId=ids["sandbox"])
    return ids


def test_accounts_with_status_and_their_units(moto_url: str) -> None:
    ids = seed_organization()
    data, artefact, _ = run(OrganizationsCollector)
    (org,) = data["organizations"]
    accounts = {a["Name"]: a for a in org["accounts"]}
    assert accounts["ml-prod"]["Path"] == "Root/Workloads/Prod" and accounts["ml-prod"]["Status"] == "ACTIVE"
    assert accounts["sandbox"]["Status"] == "SUSPENDED" and accounts["sandbox"]["Path"] == "Root"
    assert accounts["ml-prod"]["Id"] == ids["ml-prod"] and len(accounts) == 3  # with the management account
    assert sorted(u["Path"] for u in org["organizational_units"]) == [
        "Root",
        "Root/Workloads",
        "Root/Workloads/Prod",
    ]
    assert org["organization"]["MasterAccountId"] == ACCOUNT and data["gaps"] == []
    assert artefact.summary["status"] == {"ACTIVE": 2, "SUSPENDED": 1}
    assert not run(OrganizationsCollector, {"include_ous": False})[0]["organizations"][0][
        "organizational_units"
    ]


def test_not_in_an_organization_is_a_gap(moto_url: str) -> None:
    """moto answers AWSOrganizationsNotInUseException, which common.py counts as access denied."""
    data, _, called = run(OrganizationsCollector)
    assert data["organizations"] == [{"account": ACCOUNT, "region": "us-east-1", "organization": None}]
    (gap,) = data["gaps"]
    assert gap["error"].startswith("AWSOrganizationsNotInUseException") and gap["where"] == ACCOUNT
    assert called == ["organizations:DescribeOrganization", "sts:GetCallerIdentity"]


def test_many_accounts_and_units_page_through(moto_url: str) -> None:
    """moto pages ListAccounts by 100 and ListOrganizationalUnitsForParent by 20."""
    org = boto("organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    for i in range(120):
        org.create_account(Email=f"a{i}@example.com", AccountName=f"acct-{i:03d}")
    for i in range(25):
        org.create_organizational_unit(ParentId=root, Name=f"ou-{i:02d}")
    data, _, called = run(OrganizationsCollector)
    names = [a["Name"] for a in data["organizations"][0]["accounts"]]
    assert len(names) == 121 and len(set(names)) == 121
    assert len(data["organizations"][0]["organizational_units"]) == 26
    assert called.count("organizations:ListAccounts") == 2
    # the root's units take two pages; each of the 25 units is asked once for its own
    assert called.count("organizations:ListOrganizationalUnitsForParent") == 2 + 25


def add_user(store: Any, store_id: str, name: str) -> str:
    full = {"GivenName": name.title(), "FamilyName": "Example"}
    user = store.create_user(IdentityStoreId=store_id, UserName=name, DisplayName=f"{name} E.", Name=full)
    return str(user["UserId"])


def add_member(store: Any, store_id: str, group: str, user: str) -> None:
    store.create_group_membership(IdentityStoreId=store_id, GroupId=group, MemberId={"UserId": user})


def assign(sso: Any, instance: str, permission_set: str, kind: str, principal: str) -> None:
    ids = {"InstanceArn": instance, "PermissionSetArn": permission_set}
    sso.provision_permission_set(**ids, TargetType="ALL_PROVISIONED_ACCOUNTS")
    target = {"TargetId": ACCOUNT, "TargetType": "AWS_ACCOUNT"}
    sso.create_account_assignment(**ids, **target, PrincipalType=kind, PrincipalId=principal)


def seed_identity_center(region: str = "us-east-1") -> dict[str, str]:
    """An Admin permission set (AdministratorAccess, a customer policy, an inline policy) assigned to
    the `admins` group (ann, bob) and to carol directly; a ReadOnly set assigned to a deleted user."""
    sso, store = boto("sso-admin", region), boto("identitystore", region)
    instance = sso.list_instances()["Instances"][0]
    arn, store_id = instance["InstanceArn"], instance["IdentityStoreId"]
    users = {name: add_user(store, store_id, name) for name in ("ann", "bob", "carol", "dan")}
    group = store.create_group(IdentityStoreId=store_id, DisplayName="admins")["GroupId"]
    for name in ("ann", "bob"):
        add_member(store, store_id, group, users[name])
    admin = sso.create_permission_set(InstanceArn=arn, Name="Admin", SessionDuration="PT1H")["PermissionSet"]
    ids = {"InstanceArn": arn, "PermissionSetArn": admin["PermissionSetArn"]}
    sso.attach_managed_policy_to_permission_set(**ids, ManagedPolicyArn=ADMIN)
    customer = {"Name": "ml-deploy", "Path": "/"}
    sso.attach_customer_managed_policy_reference_to_permission_set(
        **ids, CustomerManagedPolicyReference=customer
    )
    inline = {"Version": "2012-10-17", "Statement": [{"Effect": "Deny", "Action": "iam:*", "Resource": "*"}]}
    sso.put_inline_policy_to_permission_set(**ids, InlinePolicy=json.dumps(inline))
    readonly = sso.create_permission_set(InstanceArn=arn, Name="ReadOnly")["PermissionSet"]
    assign(sso, arn, admin["PermissionSetArn"], "GROUP", group)
    assign(sso, arn, admin["PermissionSetArn"], "USER", users["carol"])
    assign(sso, arn, readonly["PermissionSetArn"], "USER", users["dan"])
    store.delete_user(IdentityStoreId=store_id, UserId=users["dan"])
    return {**users, "admins": group, "store": store_id}


def test_permission_sets_assignments_and_principals(moto_url: str) -> None:
    seeded = seed_identity_center()
    data, artefact, _ = run(IdentityCenterCollector)
    (instance,) = data["instances"]
    sets = {p["Name"]: p for p in instance["PermissionSets"]}
    assert [m["Arn"] for m in sets["Admin"]["ManagedPolicies"]] == [ADMIN]
    assert sets["Admin"]["CustomerManagedPolicies"] == [{"Name": "ml-deploy", "Path": "/"}]
    assert json.loads(sets["Admin"]["InlinePolicy"])["Statement"][0]["Action"] == "iam:*"
    assert sets["Admin"]["SessionDuration"] == "PT1H" and sets["ReadOnly"]["InlinePolicy"] is None
    assigned = {
        (a["PermissionSetName"], a["PrincipalType"], a["PrincipalId"]) for a in instance["Assignments"]
    }
    assert assigned == {
        ("Admin", "GROUP", seeded["admins"]),
        ("Admin", "USER", seeded["carol"]),
        ("ReadOnly", "USER", seeded["dan"]),
    }
    principals = instance["Principals"]
    assert principals[seeded["carol"]]["UserName"] == "carol"
    members = principals[seeded["admins"]]["Members"]
    assert principals[seeded["admins"]]["DisplayName"] == "admins"
    assert sorted(m["UserName"] for m in members) == ["ann", "bob"]
    assert [(f.code, f.subject) for f in artefact.findings] == [
        ("assignment-unknown-principal", seeded["dan"])
    ]
    assert instance["IdentityStoreId"] == seeded["store"] and data["gaps"] == []
    assert "Name" not in members[0] and "Emails" not in members[0]  # only what the review needs


def test_identity_store_pages_and_several_regions(moto_url: str) -> None:
    """120 members of an assigned group: ListUsers and ListGroupMemberships each take two pages;
    moto has one Identity Center instance per region, so two regions give two instances."""
    seeded = seed_identity_center("eu-west-1")
    store = boto("identitystore", "eu-west-1")
    for i in range(120):
        add_member(store, seeded["store"], seeded["admins"], add_user(store, seeded["store"], f"u{i:03d}"))
    data, _, called = run(IdentityCenterCollector, {"regions": ["us-east-1", "eu-west-1"]})
    regions = [(i["Region"], len(i["PermissionSets"])) for i in data["instances"]]
    assert regions == [("us-east-1", 0), ("eu-west-1", 2)]
    members = [m["UserName"] for m in data["instances"][1]["Principals"][seeded["admins"]]["Members"]]
    assert len(members) == 122 and len(set(members)) == 122
    assert called.count("identitystore:ListUsers") == 2
    assert called.count("identitystore:ListGroupMemberships") == 2


@pytest.mark.parametrize("cls", [OrganizationsCollector, IdentityCenterCollector])
def test_unassumable_account_fails_after_filing(
    cls: type[Collector], moto_url: str, aws_env: pytest.MonkeyPatch
) -> None:
    good, bad = "111111111111", "222222222222"
    role = role_with_policy(good, "Audit", ALLOW_ALL)
    assume = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role}
    for name, value in identity_with_policy([assume]).items():
        aws_env.setenv(name, value)
    enforce_iam(moto_url)
    ctx = make_context(cls, {"accounts": [good, bad], "role_name": "Audit"})
    filed = []
    with pytest.raises(RuntimeError, match=f"could not collect from account.*{bad}"):
        for artefact in cls().collect(ctx):
            filed.append(json.loads(artefact.content))
    (data,) = filed
    items = data.get("organizations") or data.get("instances")
    assert {item.get("account") or item.get("Account") for item in items} == {good}
    assert [g["where"] for g in data["gaps"] if "AssumeRole" in g["call"]] == [bad]


def test_cli_collects_all_three_into_p05_and_p06(moto_managed_policies: str, tmp_path: Path) -> None:
    seed_organization()
    seed_identity_center()
    boto("iam").create_user(UserName="alice")
    boto("iam").create_login_profile(UserName="alice", Password="Correct-Horse-9")
    config = write_config(
        tmp_path,
        """
        collectors:
          - {id: iam, plugin: aws.iam_access}
          - {id: org, plugin: aws.organizations}
          - {id: sso, plugin: aws.identity_center}
        """,
    )
    env = cli_env_for(moto_managed_policies)
    done = run_cli(
        "collect", "-c", str(config), "--store", str(tmp_path / "ev"), "--json", cwd=tmp_path, env=env
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert {i["id"]: i["status"] for i in summary["instances"]} == {"iam": "ok", "org": "ok", "sso": "ok"}
    filed = {f"{p.parts[-3][:3]}/{p.parent.name}/{p.suffix}" for p in (tmp_path / "ev").glob("P*/*/*")}
    assert {"P05/iam/.csv", "P05/iam/.json", "P06/iam/.csv", "P06/iam/.json"} <= filed
    assert {"P05/org/.json", "P06/sso/.json"} <= filed
    assert not any(f.startswith("P05/sso") or f.startswith("P06/org") for f in filed)
    assert run_cli("verify", str(tmp_path / "ev"), cwd=tmp_path, env=env).returncode == 0
    policy = json.loads(run_cli("aws-policy", "-c", str(config), cwd=tmp_path, env=env).stdout)
    assert {"iam:GetCredentialReport", "sso:ListInstances", "organizations:ListAccounts"} <= set(
        policy["Statement"][0]["Action"]
    )
