"""`aws.iam_access` against a moto server over real HTTP: findings, pagination, gaps, accounts.

moto stamps IAM objects with `moto.iam.models.utcnow()`; since the server runs in this process,
patching that clock while seeding makes users and keys genuinely old, so each finding is asserted
for exactly the seeded culprit under the collector's default-like thresholds.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from aws_moto import ACCOUNT, ALLOW_ALL, boto, enforce_iam, identity_with_policy, role_with_policy
from botocore.stub import Stubber

from evidentia import Artefact
from evidentia.plugins.aws.common import iam_action
from evidentia.plugins.aws.iam import IamAccessCollector, Limits, authorization_details, report_findings
from evidentia.testing import make_context, run_collector

pytest_plugins = ["aws_moto"]

NOW = dt.datetime.now(dt.timezone.utc)
ADMIN = "arn:aws:iam::aws:policy/AdministratorAccess"
PARAMS = {"max_key_age_days": 365, "max_key_unused_days": 90, "inactive_days": 90}


@contextmanager
def moto_clock(monkeypatch: pytest.MonkeyPatch, days_ago: int) -> Iterator[None]:
    """While inside, moto's IAM stamps everything it creates or sees used `days_ago` days back."""
    with monkeypatch.context() as mp:
        mp.setattr("moto.iam.models.utcnow", lambda: (NOW - dt.timedelta(days=days_ago)).replace(tzinfo=None))
        yield


def arn(user: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:iam::{account}:user/{user}"


def use_key(key: dict) -> None:
    """Make one request with a user's access key, so moto records it as last used now."""
    boto(
        "sts", aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"]
    ).get_caller_identity()


def seed_review(monkeypatch: pytest.MonkeyPatch) -> None:
    """alice (console+MFA: clean), bob (console, no MFA), carol (400-day-old key used today),
    dave (120 days old, key never used), erin (admin via group), frank (admin directly),
    grace (200 days old, never active)."""
    iam = boto("iam")
    for user in ("alice", "bob", "erin", "frank"):
        iam.create_user(UserName=user)
    for user in ("alice", "bob"):
        iam.create_login_profile(UserName=user, Password="Correct-Horse-9")
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="alice")["VirtualMFADevice"]["SerialNumber"]
    iam.enable_mfa_device(
        UserName="alice", SerialNumber=serial, AuthenticationCode1="123456", AuthenticationCode2="654321"
    )
    with moto_clock(monkeypatch, 400):
        iam.create_user(UserName="carol")
        carol_key = iam.create_access_key(UserName="carol")["AccessKey"]
    use_key(carol_key)
    with moto_clock(monkeypatch, 120):
        iam.create_user(UserName="dave")
        iam.create_access_key(UserName="dave")
    with moto_clock(monkeypatch, 200):
        iam.create_user(UserName="grace")
    iam.create_group(GroupName="admins")
    iam.attach_group_policy(GroupName="admins", PolicyArn=ADMIN)
    iam.add_user_to_group(GroupName="admins", UserName="erin")
    iam.attach_user_policy(UserName="frank", PolicyArn=ADMIN)


def by_code(artefact: Artefact) -> dict[str, set[str | None]]:
    codes: dict[str, set[str | None]] = {}
    for finding in artefact.findings:
        codes.setdefault(finding.code, set()).add(finding.subject)
    return codes


def split(artefacts: list[Artefact]) -> tuple[dict, list[Artefact]]:
    """The JSON review (parsed) and the CSV credential reports."""
    (review,) = [a for a in artefacts if a.name == "iam-access"]
    return json.loads(review.content), [a for a in artefacts if a.media_type == "text/csv"]


def test_each_finding_names_exactly_its_culprit(
    moto_managed_policies: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_review(monkeypatch)
    artefacts = run_collector(IamAccessCollector, PARAMS)
    review = next(a for a in artefacts if a.name == "iam-access")
    assert by_code(review) == {
        "console-without-mfa": {arn("bob")},
        "access-key-old": {arn("carol")},
        "access-key-unused": {arn("dave")},
        "inactive-user": {arn("dave"), arn("grace")},
        "administrator-access": {arn("erin"), arn("frank")},
    }
    assert {f.severity for f in review.findings if f.code == "console-without-mfa"} == {"high"}
    data, (report,) = split(artefacts)
    assert report.name == f"credential-report-{ACCOUNT}" and report.extension == "csv"
    assert report.content == boto("iam").get_credential_report()["Content"]  # filed exactly as given
    (account,) = data["accounts"]
    assert account["account"] == ACCOUNT and account["credential_report"]["rows"] == 7
    details = account["authorization_details"]
    assert [p["Arn"] for p in details["Policies"]] == [ADMIN]  # only the attached AWS-managed one
    assert details["UnattachedAwsManagedPoliciesOmitted"] > 1000
    assert data["gaps"] == [] and review.summary["findings"]["inactive-user"] == 2


def test_default_thresholds_and_key_age_zero(moto_url: str) -> None:
    boto("iam").create_user(UserName="zoe")
    boto("iam").create_access_key(UserName="zoe")
    assert not run_collector(IamAccessCollector)[-1].findings  # everything is fresh
    fresh = run_collector(IamAccessCollector, {"max_key_age_days": 0})[-1]
    assert by_code(fresh) == {"access-key-old": {arn("zoe")}}


def test_root_access_keys_come_from_the_report_root_row() -> None:
    """moto's credential report has no `<root_account>` row, so the rule is checked on a real-shaped row."""
    root = {
        "user": "<root_account>",
        "arn": f"arn:aws:iam::{ACCOUNT}:root",
        "password_enabled": "not_supported",
    }
    root |= {
        "mfa_active": "true",
        "access_key_1_active": "true",
        "access_key_1_last_rotated": NOW.isoformat(),
    }
    root |= {"access_key_1_last_used_date": NOW.isoformat(), "access_key_2_active": "false"}
    limits = Limits(*(dt.timedelta(days=90),) * 3)
    findings = report_findings([root], NOW, limits)
    assert [(f.code, f.subject, f.severity) for f in findings] == [
        ("root-access-key", root["arn"], "critical")
    ]
    assert not report_findings([{**root, "access_key_1_active": "false"}], NOW, limits)


def test_120_users_each_appear_once(moto_url: str) -> None:
    """moto answers GetAccountAuthorizationDetails in one page (it ignores MaxItems): see the next test."""
    iam = boto("iam")
    for i in range(120):
        iam.create_user(UserName=f"user{i:03d}")
    data, (report,) = split(run_collector(IamAccessCollector))
    names = [u["UserName"] for u in data["accounts"][0]["authorization_details"]["UserDetailList"]]
    assert sorted(names) == [f"user{i:03d}" for i in range(120)]
    assert report.content.count(b"\n") == 121


def test_authorization_details_follows_markers_across_pages() -> None:
    """The sweep merges every page of every list, following IsTruncated/Marker as AWS pages them."""
    import boto3

    iam = boto3.session.Session(aws_access_key_id="x", aws_secret_access_key="x").client(
        "iam", region_name="us-east-1"
    )
    user = {"UserName": "u", "UserId": "AIDA" + "A" * 16, "Arn": arn("u"), "Path": "/", "CreateDate": NOW}
    pages = [
        ({"UserDetailList": [{**user, "UserName": "u1"}], "IsTruncated": True, "Marker": "m1"}, {}),
        ({"GroupDetailList": [{"GroupName": "g"}], "IsTruncated": True, "Marker": "m2"}, {"Marker": "m1"}),
        ({"UserDetailList": [{**user, "UserName": "u2"}], "IsTruncated": False}, {"Marker": "m2"}),
    ]
    with Stubber(iam) as stub:
        for response, expected in pages:
            stub.add_response("get_account_authorization_details", response, expected)
        details = authorization_details(iam)
        stub.assert_no_pending_responses()
    assert [u["UserName"] for u in details["UserDetailList"]] == ["u1", "u2"]
    assert [g["GroupName"] for g in details["GroupDetailList"]] == ["g"]


def test_calls_stay_within_declared_permissions(moto_url: str) -> None:
    boto("iam").create_user(UserName="alice")
    ctx = make_context(IamAccessCollector)
    assert len(list(IamAccessCollector().collect(ctx))) == 2
    called = {iam_action(c) for c in ctx.calls}
    assert "iam:GetAccountAuthorizationDetails" in called
    assert called <= set(IamAccessCollector.permissions)


def test_access_denied_on_one_call_is_a_gap(moto_url: str, aws_env: pytest.MonkeyPatch) -> None:
    """moto enforces IAM after `enforce_iam`; the auditor may not generate the credential report."""
    deny = {"Effect": "Deny", "Action": "iam:GenerateCredentialReport", "Resource": "*"}
    for name, value in identity_with_policy([*ALLOW_ALL, deny]).items():
        aws_env.setenv(name, value)
    enforce_iam(moto_url)
    data, reports = split(run_collector(IamAccessCollector))
    assert reports == []
    (gap,) = data["gaps"]
    assert gap["where"] == ACCOUNT and gap["error"].startswith("AccessDenied")
    assert data["accounts"][0]["credential_report"] is None
    users = data["accounts"][0]["authorization_details"]["UserDetailList"]
    assert [u["UserName"] for u in users] == ["auditor"]


def test_unassumable_account_fails_after_the_others_are_filed(
    moto_url: str, aws_env: pytest.MonkeyPatch
) -> None:
    """The auditor may assume the audit role in 111111111111 only: 222222222222 is a failed target."""
    good, bad = "111111111111", "222222222222"
    role = role_with_policy(good, "Audit", ALLOW_ALL)
    boto("iam", account=good).create_user(UserName="worker")
    assume = {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": role}
    for name, value in identity_with_policy([assume]).items():
        aws_env.setenv(name, value)
    enforce_iam(moto_url)
    ctx = make_context(IamAccessCollector, {"accounts": [good, bad], "role_name": "Audit"})
    filed: list[Artefact] = []
    with pytest.raises(RuntimeError, match=f"could not collect from account.*{bad}.*AccessDenied"):
        for artefact in IamAccessCollector().collect(ctx):
            filed.append(artefact)
    data, (report,) = split(filed)
    assert [a["account"] for a in data["accounts"]] == [good] and report.name == f"credential-report-{good}"
    assert [u["UserName"] for u in data["accounts"][0]["authorization_details"]["UserDetailList"]] == [
        "worker"
    ]
    assert [g["where"] for g in data["gaps"]] == [bad]
    assert {iam_action(c) for c in ctx.calls} <= {*IamAccessCollector.permissions, "sts:AssumeRole"}
