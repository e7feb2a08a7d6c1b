"""`evidentia aws-policy`: the policy holds exactly the declared IAM actions and the assumed roles."""

from __future__ import annotations

import json
from pathlib import Path

from support import run_cli, write_config


def test_policy_lists_declared_actions_and_assumed_roles(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        """
        collectors:
          - id: a
            plugin: test.cloudish
            params: {accounts: ["111111111111", "222222222222"], role_name: Audit}
          - {id: b, plugin: test.echo}
    """,
    )
    out = run_cli("aws-policy", "-c", str(cfg), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    policy = json.loads(out.stdout)
    collect, assume = policy["Statement"]
    assert collect["Action"] == ["iam:ListUsers", "sts:GetCallerIdentity"]
    assert assume["Action"] == "sts:AssumeRole"
    assert assume["Resource"] == [
        "arn:aws:iam::111111111111:role/Audit",
        "arn:aws:iam::222222222222:role/Audit",
    ]


def test_no_aws_collector_is_a_clear_error(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "collectors:\n  - {id: b, plugin: test.echo}\n")
    out = run_cli("aws-policy", "-c", str(cfg), cwd=tmp_path)
    assert out.returncode == 2 and "no configured collector declares IAM actions" in out.stderr


def test_organization_mode_adds_list_accounts_to_that_instances_actions(tmp_path: Path) -> None:
    one = write_config(tmp_path, "collectors:\n  - {id: a, plugin: test.cloudish}\n", "one.yaml")
    org = write_config(
        tmp_path,
        "collectors:\n  - {id: a, plugin: test.cloudish, params: {organization: true}}\n",
        "org.yaml",
    )
    plain = json.loads(run_cli("aws-policy", "-c", str(one), cwd=tmp_path).stdout)
    whole = json.loads(run_cli("aws-policy", "-c", str(org), cwd=tmp_path).stdout)
    assert "organizations:ListAccounts" not in plain["Statement"][0]["Action"]
    assert "organizations:ListAccounts" in whole["Statement"][0]["Action"]
    assert whole["Statement"][1]["Resource"] == ["arn:aws:iam::*:role/OrganizationAccountAccessRole"]
