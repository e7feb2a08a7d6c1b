"""A moto server on loopback for the AWS collector tests: started once per session, reset per test.

The collectors speak real HTTP to whatever endpoint boto3 is given, so the tests run them against
`moto.server.ThreadedMotoServer` (in this process, on 127.0.0.1, a free port) rather than with
moto's in-process mocks: the signed requests, paginators and retries are exactly those that run
against AWS. Credentials are fake and nothing of the developer's own AWS setup (profiles, config,
SSO cache, real keys) can leak in.

API. A test module loads the fixtures as a plugin and imports the plain helpers::

    from aws_moto import ACCOUNT, boto, cli_env_for

    pytest_plugins = ["aws_moto"]  # the fixtures below, by name; no conftest.py needed

(Importing the fixtures by name instead trips ruff's F811 and misses `moto_server`.)

- fixture `moto_url` -> str: the server's base URL (`http://127.0.0.1:PORT`), with the server reset
  (`POST /moto-api/reset`) before the test and `aws_env` applied; the fixture to use in every test.
- fixture `aws_env` -> pytest.MonkeyPatch: the process environment for boto3 in this test: test
  credentials, `AWS_DEFAULT_REGION=us-east-1`, empty config/credentials files, no profile, and
  `AWS_ENDPOINT_URL` pointing at the server (a collector's `endpoint_url` parameter overrides it).
- fixture `moto_server` (session) -> str: the URL, without the reset; rarely needed directly.
- fixture `moto_managed_policies` -> str: like `moto_url`, and AWS-managed IAM policies (such as
  `arn:aws:iam::aws:policy/AdministratorAccess`) exist in every account. Opt-in, because loading
  them costs ~1.5 s per test (moto reads the variable whenever it creates an account's IAM backend).
- `boto(service, region="us-east-1", account=None, **client_kwargs)`: a boto3 client on the running
  server with the test credentials, for seeding data; in `ACCOUNT`, or with `account="111111111111"`
  in that account (moto switches account on an assumed role, which need not exist). Call it inside
  a test that uses `moto_url`.
- `enforce_iam(url)`: from now until the next reset, moto checks every request's signature and IAM
  policies (`POST /moto-api/reset-auth 0`): the moto-native way to get a real `AccessDenied`. Seed
  first, including an IAM user with an access key and a policy, then use that user's keys (below).
  Caveat: moto renders this AccessDenied as an XML body for every protocol. botocore reads it
  correctly for query-protocol services (IAM, STS, EC2...: code `AccessDenied`), but for JSON and
  REST-JSON services (sso-admin, identitystore, organizations, sagemaker, bedrock...) it cannot parse
  the body and the error code becomes `"403"`, which `common.is_access_denied` does not match.
- `identity_with_policy(statements, user="auditor", account=None)` -> dict: creates an IAM user with
  that inline policy and an access key; returns `{"AWS_ACCESS_KEY_ID": ..., "AWS_SECRET_ACCESS_KEY":
  ...}` to `aws_env.setenv` (or merge into `cli_env_for`), so the code under test runs as that user.
- `role_with_policy(account, role_name, statements)`: creates a role (trusting `ACCOUNT`) with that
  inline policy in `account`, e.g. the audit role a multi-account collector assumes.
- `ALLOW_ALL`: the statement list `[{"Effect": "Allow", "Action": "*", "Resource": "*"}]`.

  Example (AccessDenied on one call)::

      creds = identity_with_policy([*ALLOW_ALL, {"Effect": "Deny", "Action": "iam:GetCredentialReport",
                                                 "Resource": "*"}])
      for name, value in creds.items():
          aws_env.setenv(name, value)
      enforce_iam(moto_url)
- `cli_env_for(url, **extra)` -> dict: the environment for `python -m evidentia ...` subprocesses
  (tests/support.py's `cli_env()` plus the same AWS variables), to pass as `run_cli(..., env=...)`.
- `aws_variables(url)` -> dict: just the AWS variables that `aws_env` and `cli_env_for` set.
- `reset_moto(url)`: wipe every backend and end `enforce_iam` (what `moto_url` does before each test).
- `ACCOUNT` ("123456789012", moto's default account), `REGION` ("us-east-1").

PYTEST_DONT_REWRITE: it holds no asserts, and test modules import it before pytest loads the plugin.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import tempfile
from collections.abc import Iterator
from typing import Any

import pytest
import requests

ACCOUNT = "123456789012"
ALLOW_ALL: list[dict[str, Any]] = [{"Effect": "Allow", "Action": "*", "Resource": "*"}]
REGION = "us-east-1"
_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
_SERVER_ENV = {"MOTO_IAM_LOAD_MANAGED_POLICIES": "false"}
# Variables that could point boto3 at real accounts or change its behaviour behind a test's back.
_SCRUBBED = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    "AWS_REGION",
)
_state: dict[str, str] = {}


def _empty_file() -> str:
    """An empty file standing in for ~/.aws/config and ~/.aws/credentials (once per session)."""
    if "empty" not in _state:
        fd, path = tempfile.mkstemp(prefix="evidentia-aws-", suffix=".ini")
        os.close(fd)
        atexit.register(os.unlink, path)
        _state["empty"] = path
    return _state["empty"]


def aws_variables(url: str) -> dict[str, str]:
    """The AWS environment variables every test process gets: fake keys, one region, no files."""
    return {
        "AWS_ACCESS_KEY_ID": _CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": _CREDENTIALS["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": _empty_file(),
        "AWS_SHARED_CREDENTIALS_FILE": _empty_file(),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_ENDPOINT_URL": url,
    }


def reset_moto(url: str) -> None:
    """Wipe every moto backend and switch IAM enforcement off, so each test starts from an empty AWS."""
    requests.post(f"{url}/moto-api/reset-auth", data=b"inf", timeout=30).raise_for_status()
    requests.post(f"{url}/moto-api/reset", timeout=30).raise_for_status()


def enforce_iam(url: str) -> None:
    """Make moto authenticate and authorise every following request, until the next reset."""
    requests.post(f"{url}/moto-api/reset-auth", data=b"0", timeout=30).raise_for_status()


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """Start one ThreadedMotoServer for the whole session on a free loopback port."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one INFO line per request drowns failures
    with pytest.MonkeyPatch.context() as mp:
        for name, value in _SERVER_ENV.items():
            mp.setenv(name, value)
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        _state["url"] = f"http://{host}:{port}"
        try:
            yield _state["url"]
        finally:
            server.stop()
            _state.pop("url", None)


@pytest.fixture
def aws_env(moto_server: str, monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """This test's boto3 environment: only the test credentials and the moto endpoint."""
    for name in _SCRUBBED:
        monkeypatch.delenv(name, raising=False)
    for name, value in {**_SERVER_ENV, **aws_variables(moto_server)}.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


@pytest.fixture
def moto_url(moto_server: str, aws_env: pytest.MonkeyPatch) -> str:
    """The server's URL, freshly reset, with `aws_env` applied: what every AWS test asks for."""
    reset_moto(moto_server)
    return moto_server


@pytest.fixture
def moto_managed_policies(moto_url: str, aws_env: pytest.MonkeyPatch) -> str:
    """`moto_url`, with AWS-managed IAM policies loaded in each account this test touches."""
    aws_env.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    return moto_url


def boto(service: str, region: str = REGION, account: str | None = None, **client_kwargs: Any) -> Any:
    """A boto3 client on the running moto server, for seeding test data (in `account`, if given)."""
    import boto3

    if "url" not in _state:
        raise RuntimeError("the moto server is not running: use the `moto_url` fixture in this test")
    kwargs: dict[str, Any] = {"region_name": region, "endpoint_url": _state["url"], **_CREDENTIALS}
    if account is not None and account != ACCOUNT:
        kwargs.update(_assumed(account, region))
    kwargs.update(client_kwargs)
    return boto3.session.Session().client(service, **kwargs)


def identity_with_policy(
    statements: list[dict[str, Any]], user: str = "auditor", account: str | None = None
) -> dict[str, str]:
    """An IAM user allowed exactly `statements`, as the environment variables of its access key."""
    iam = boto("iam", account=account)
    iam.create_user(UserName=user)
    iam.put_user_policy(UserName=user, PolicyName="evidentia-test", PolicyDocument=_policy(statements))
    key = iam.create_access_key(UserName=user)["AccessKey"]
    return {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}


def role_with_policy(account: str, role_name: str, statements: list[dict[str, Any]]) -> str:
    """A role in `account` that `ACCOUNT` may assume, allowed exactly `statements`; returns its ARN."""
    iam = boto("iam", account=account)
    trust = [{"Effect": "Allow", "Principal": {"AWS": ACCOUNT}, "Action": "sts:AssumeRole"}]
    role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=_policy(trust))["Role"]
    iam.put_role_policy(RoleName=role_name, PolicyName="evidentia-test", PolicyDocument=_policy(statements))
    return str(role["Arn"])


def _policy(statements: list[dict[str, Any]]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": statements})


def _assumed(account: str, region: str) -> dict[str, str]:
    """Credentials in another moto account: moto files an assumed role's work under its ARN's account."""
    sts = boto("sts", region)
    role = f"arn:aws:iam::{account}:role/evidentia-test-seeder"
    creds = sts.assume_role(RoleArn=role, RoleSessionName="seed")["Credentials"]
    return {
        "aws_access_key_id": creds["AccessKeyId"],
        "aws_secret_access_key": creds["SecretAccessKey"],
        "aws_session_token": creds["SessionToken"],
    }


def cli_env_for(url: str, **extra: str) -> dict[str, str]:
    """The environment for an `evidentia` CLI subprocess that talks to the moto server at `url`."""
    from support import cli_env

    env = cli_env()
    for name in _SCRUBBED:
        env.pop(name, None)
    env.update({**_SERVER_ENV, **aws_variables(url)})
    env.update(extra)
    return env
