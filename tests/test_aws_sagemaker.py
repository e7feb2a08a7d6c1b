"""`aws.sagemaker_registry` and `aws.sagemaker_deployments` against moto over real HTTP.

moto serves the model registry, model cards, models, endpoint configs and endpoints; it does not
implement `ListMonitoringSchedules` (nor keep a package's attached model card or lifecycle stage), so
those come from `AwsProtocolServer` with moto as its fallback: one `endpoint_url`, the collector
unchanged, boto3's own signing, paging and retries.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_moto import ACCOUNT, boto, cli_env_for
from aws_protocol_server import (
    AwsProtocolServer,
    AwsRequest,
    access_denied,
    error,
    fail_first,
    internal_failure,
    ok,
    paged,
    throttling,
)
from support import run_cli, write_config

from evidentia import Artefact, Collector
from evidentia.plugins.aws.common import iam_action
from evidentia.plugins.aws.sagemaker_deployments import SageMakerDeploymentsCollector as Deployments
from evidentia.plugins.aws.sagemaker_registry import SageMakerRegistryCollector as Registry
from evidentia.testing import make_context

pytest_plugins = ["aws_moto"]

ROLE = f"arn:aws:iam::{ACCOUNT}:role/sagemaker"
IMAGE = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/fraud:1"
LIST_SCHEDULES = "SageMaker.ListMonitoringSchedules"


def package_arn(group: str, version: int, region: str = "us-east-1") -> str:
    return f"arn:aws:sagemaker:{region}:{ACCOUNT}:model-package/{group}/{version}"


def endpoint_arn(name: str) -> str:
    return f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:endpoint/{name}"


def run(cls: type[Collector], **params: Any) -> tuple[Any, list[Artefact]]:
    ctx = make_context(cls, params)
    return ctx, list(cls().collect(ctx))


def data(artefact: Artefact) -> Any:
    return json.loads(artefact.content)


def findings(artefacts: list[Artefact]) -> set[tuple[str, str | None]]:
    return {(f.code, f.subject) for a in artefacts for f in a.findings}


def seed_registry(region: str = "us-east-1") -> None:
    """fraud (owned): v1 approved + card, v2 approved without one, v3 rejected; churn: no owner."""
    sm = boto("sagemaker", region)
    sm.create_model_package_group(ModelPackageGroupName="fraud", Tags=[{"Key": "Owner", "Value": "alice"}])
    sm.create_model_package_group(ModelPackageGroupName="churn", Tags=[{"Key": "team", "Value": "growth"}])
    container = {"Image": IMAGE, "ImageDigest": "sha256:abc", "ModelDataUrl": "s3://models/fraud.tar.gz"}
    spec = {
        "Containers": [container],
        "SupportedContentTypes": ["text/csv"],
        "SupportedResponseMIMETypes": [],
    }
    for status in ("Approved", "Approved", "Rejected"):
        sm.create_model_package(
            ModelPackageGroupName="fraud",
            ModelApprovalStatus=status,
            InferenceSpecification=spec,
            CustomerMetadataProperties={"model_sha256": "f00d", "framework": "xgboost"},
        )
    sm.create_model_package(ModelPackageGroupName="churn", ModelApprovalStatus="PendingManualApproval")
    card = {"model_package_details": {"model_package_arn": package_arn("fraud", 1, region)}}
    sm.create_model_card(ModelCardName="fraud-v1", Content=json.dumps(card), ModelCardStatus="Approved")
    stale = {"model_overview": {"model_id": package_arn("fraud", 2, region)}}
    sm.create_model_card(ModelCardName="old", Content=json.dumps(stale), ModelCardStatus="Archived")


def seed_endpoints() -> None:
    """captured (data capture on), plain (off), unwatched (on, but no schedule will name it)."""
    sm = boto("sagemaker")
    container = {"Image": IMAGE, "ModelDataUrl": "s3://models/fraud.tar.gz"}
    sm.create_model(ModelName="fraud", ExecutionRoleArn=ROLE, PrimaryContainer=container)
    variant = {
        "VariantName": "main",
        "ModelName": "fraud",
        "InitialInstanceCount": 1,
        "InstanceType": "ml.m5.large",
    }
    capture = {
        "EnableCapture": True,
        "InitialSamplingPercentage": 50,
        "DestinationS3Uri": "s3://capture/fraud",
        "CaptureOptions": [{"CaptureMode": "Input"}, {"CaptureMode": "Output"}],
    }
    sm.create_endpoint_config(
        EndpointConfigName="with-capture", ProductionVariants=[variant], DataCaptureConfig=capture
    )
    sm.create_endpoint_config(EndpointConfigName="no-capture", ProductionVariants=[variant])
    for name, config in (
        ("captured", "with-capture"),
        ("plain", "no-capture"),
        ("unwatched", "with-capture"),
    ):
        sm.create_endpoint(EndpointName=name, EndpointConfigName=config)


def schedule(name: str, endpoint: str, status: str = "Scheduled") -> dict[str, Any]:
    return {
        "MonitoringScheduleName": name,
        "MonitoringScheduleArn": f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:monitoring-schedule/{name}",
        "CreationTime": 1_700_000_000,
        "LastModifiedTime": 1_700_000_000,
        "MonitoringScheduleStatus": status,
        "EndpointName": endpoint,
        "MonitoringType": "DataQuality",
    }


SCHEDULES = [schedule("captured-quality", "captured"), schedule("plain-quality", "plain", "Stopped")]


@pytest.fixture
def aws(moto_url: str) -> Iterator[AwsProtocolServer]:
    """The protocol server in front of moto: scripted operations here, the rest forwarded."""
    with AwsProtocolServer(fallback=moto_url) as server:
        yield server
        assert not server.errors, server.errors


def test_registry_inventory_findings_and_retired_versions(moto_url: str) -> None:
    seed_registry()
    ctx, (registry, retired) = run(Registry, endpoint_url=moto_url)
    assert findings([registry, retired]) == {
        ("model-group-without-owner", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package-group/churn"),
        ("approved-version-without-model-card", package_arn("fraud", 2)),
    }
    assert registry.principles == ("P5", "P8") and retired.principles == ("P13",)
    groups = {g["name"]: g for g in data(registry)["model_package_groups"]}
    assert groups["fraud"]["owner"] == "alice" and groups["churn"]["owner"] is None
    v1, v2, v3 = groups["fraud"]["versions"]
    assert (v1["approval_status"], v1["documented_by"], v2["documented_by"]) == ("Approved", "fraud-v1", None)
    assert v1["created"] and v1["created_by"].endswith("user-profile/fake-domain-id/fake-user-profile-name")
    assert v1["containers"] == [
        {
            "image": IMAGE,
            "model_data_url": "s3://models/fraud.tar.gz",
            "hashes": {"image_digest": "sha256:abc"},
        }
    ]
    assert v1["metadata_hashes"] == {"model_sha256": "f00d"}
    assert v3["retired"] == "rejected" and not v1["retired"]
    cards = {c["name"]: c for c in data(registry)["model_cards"]}
    assert cards["fraud-v1"]["documents"] == [package_arn("fraud", 1)]
    assert [(r["group"], r["version"]) for r in data(retired)["retired_versions"]] == [("fraud", 3)]
    assert data(registry)["gaps"] == []
    assert {iam_action(c) for c in ctx.calls} <= set(Registry.permissions)


def test_attached_card_and_archived_stage_come_from_describe(aws: AwsProtocolServer) -> None:
    """moto drops `ModelCard` and `ModelLifeCycle`: DescribeModelPackage answers them for two versions."""
    seed_registry()

    def describe(request: AwsRequest) -> tuple[int, dict[str, Any]] | None:
        arn = request.body["ModelPackageName"]
        group, version = arn.split("/")[-2:]
        base = {"ModelPackageGroupName": group, "ModelPackageVersion": int(version), "ModelPackageArn": arn}
        base |= {"ModelPackageName": group, "ModelApprovalStatus": "Approved", "CreationTime": 1_700_000_000}
        base |= {"ModelPackageStatus": "Completed", "ModelPackageStatusDetails": {"ValidationStatuses": []}}
        if arn == package_arn("fraud", 2):
            return 200, base | {"ModelCard": {"ModelCardContent": "{}", "ModelCardStatus": "Draft"}}
        if arn == package_arn("churn", 1):
            return 200, base | {"ModelLifeCycle": {"Stage": "Archived", "StageStatus": "Done"}}
        return None  # moto answers the others

    aws.json_target("SageMaker.DescribeModelPackage", describe, service="sagemaker")
    _, (registry, retired) = run(Registry, endpoint_url=aws.url, owner_tag="team")
    assert findings([registry]) == {
        ("model-group-without-owner", f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:model-package-group/fraud")
    }
    groups = {g["name"]: g for g in data(registry)["model_package_groups"]}
    assert groups["fraud"]["versions"][1]["documented_by"] == "attached"
    assert {(r["group"], r["retired"]) for r in data(retired)["retired_versions"]} == {
        ("fraud", "rejected"),
        ("churn", "lifecycle stage Archived"),
    }


def test_registry_pages_through_230_versions(moto_url: str) -> None:
    sm = boto("sagemaker")
    sm.create_model_package_group(ModelPackageGroupName="big", Tags=[{"Key": "owner", "Value": "ml"}])
    for _ in range(230):
        sm.create_model_package(ModelPackageGroupName="big", ModelApprovalStatus="PendingManualApproval")
    ctx, (registry, _) = run(Registry, endpoint_url=moto_url)
    versions = data(registry)["model_package_groups"][0]["versions"]
    assert [v["version"] for v in versions] == list(range(1, 231))
    assert ctx.calls.count("sagemaker:ListModelPackages") == 3  # pages of 100, 100, 30
    assert ctx.calls.count("sagemaker:DescribeModelPackage") == 230


def test_registry_in_two_regions(moto_url: str) -> None:
    seed_registry("us-east-1")
    boto("sagemaker", "eu-west-1").create_model_package_group(ModelPackageGroupName="eu-only")
    _, (registry, _) = run(Registry, endpoint_url=moto_url, regions=["us-east-1", "eu-west-1"])
    groups = {(g["region"], g["name"]) for g in data(registry)["model_package_groups"]}
    assert groups == {("us-east-1", "fraud"), ("us-east-1", "churn"), ("eu-west-1", "eu-only")}
    assert (
        "model-group-without-owner",
        f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:model-package-group/eu-only",
    ) in (findings([registry]))


def test_denied_model_cards_are_a_gap_not_false_findings(aws: AwsProtocolServer) -> None:
    seed_registry()
    aws.json_target("SageMaker.ListModelCards", access_denied())
    _, (registry, _) = run(Registry, endpoint_url=aws.url)
    (gap,) = data(registry)["gaps"]
    assert gap["call"] == "sagemaker:ListModelCards" and gap["error"].startswith("AccessDeniedException")
    assert {code for code, _ in findings([registry])} == {"model-group-without-owner"}


def test_deployments_findings_name_exactly_the_culprits(aws: AwsProtocolServer) -> None:
    seed_endpoints()
    aws.json_target(LIST_SCHEDULES, ok({"MonitoringScheduleSummaries": SCHEDULES}), service="sagemaker")
    ctx, (artefact,) = run(Deployments, endpoint_url=aws.url)
    assert findings([artefact]) == {
        ("endpoint-without-data-capture", endpoint_arn("plain")),
        ("endpoint-without-monitoring", endpoint_arn("plain")),
        ("endpoint-without-monitoring", endpoint_arn("unwatched")),
    }
    endpoints = {e["name"]: e for e in data(artefact)["endpoints"]}
    captured = endpoints["captured"]
    assert captured["data_capture"]["enabled"] and captured["data_capture"]["capture_modes"] == [
        "Input",
        "Output",
    ]
    assert captured["monitored"] and captured["monitoring_schedules"][0]["name"] == "captured-quality"
    (variant,) = captured["variants"]
    assert variant["model"]["containers"] == [
        {"image": IMAGE, "model_data_url": "s3://models/fraud.tar.gz", "model_package": None}
    ]
    assert endpoints["plain"]["monitored"] is False and endpoints["plain"]["data_capture"]["enabled"] is False
    assert ctx.calls.count("sagemaker:DescribeModel") == 1  # one model behind three endpoints
    assert {iam_action(c) for c in ctx.calls} <= set(Deployments.permissions)


def test_throttled_and_paged_schedules_are_retried_and_counted(aws: AwsProtocolServer) -> None:
    seed_endpoints()
    many = SCHEDULES + [schedule(f"other-{i}", "elsewhere") for i in range(250)]
    pages = paged("MonitoringScheduleSummaries", many)
    aws.json_target(LIST_SCHEDULES, fail_first(2, throttling(), pages), service="sagemaker")
    ctx, (artefact,) = run(Deployments, endpoint_url=aws.url)
    assert len(aws.requests_for(LIST_SCHEDULES)) == 2 + 3  # two throttled, then pages of 100, 100, 52
    assert ctx.calls.count("sagemaker:ListMonitoringSchedules") == 3
    assert ctx.request_count == len(ctx.calls) + 2  # each retry attempt counted
    assert {s for _, s in findings([artefact])} == {endpoint_arn("plain"), endpoint_arn("unwatched")}


def test_server_error_is_retried(aws: AwsProtocolServer) -> None:
    seed_endpoints()
    aws.json_target(
        LIST_SCHEDULES, fail_first(1, internal_failure(), ok({"MonitoringScheduleSummaries": []}))
    )
    ctx, (artefact,) = run(Deployments, endpoint_url=aws.url)
    assert len(aws.requests_for(LIST_SCHEDULES)) == 2 and ctx.request_count == len(ctx.calls) + 1
    assert data(artefact)["gaps"] == []


def test_access_denied_on_one_call_is_a_gap_in_the_artefact(aws: AwsProtocolServer) -> None:
    seed_endpoints()
    aws.json_target(LIST_SCHEDULES, ok({"MonitoringScheduleSummaries": SCHEDULES}))
    denied = access_denied()
    aws.json_target(
        "SageMaker.DescribeEndpoint",
        lambda r: denied(r) if r.body["EndpointName"] == "captured" else None,
    )
    _, (artefact,) = run(Deployments, endpoint_url=aws.url)
    (gap,) = data(artefact)["gaps"]
    assert gap == {
        "where": f"{ACCOUNT}/us-east-1",
        "call": "sagemaker:DescribeEndpoint captured",
        "error": "AccessDeniedException: User: arn:aws:iam::123456789012:user/test is not authorized "
        "to perform this action",
    }
    captured = next(e for e in data(artefact)["endpoints"] if e["name"] == "captured")
    assert captured["data_capture"] == {"enabled": None} and captured["variants"] == []
    assert endpoint_arn("captured") not in {s for _, s in findings([artefact])}


def test_unsupported_schedule_listing_is_a_gap_and_no_monitoring_findings(aws: AwsProtocolServer) -> None:
    seed_endpoints()
    aws.json_target(LIST_SCHEDULES, error("UnknownOperationException", "not offered by this endpoint"))
    _, (artefact,) = run(Deployments, endpoint_url=aws.url)
    assert [g["call"] for g in data(artefact)["gaps"]] == ["sagemaker:ListMonitoringSchedules"]
    assert {e["monitored"] for e in data(artefact)["endpoints"]} == {None}
    assert findings([artefact]) == {("endpoint-without-data-capture", endpoint_arn("plain"))}


def test_protocol_server_names_what_was_not_scripted_and_bad_scripts() -> None:
    import boto3

    with AwsProtocolServer() as server:
        server.json_target("SageMaker.ListEndpoints", ok({"Endpoint": []}), service="sagemaker")
        sm = boto3.client(
            "sagemaker",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="k",
            aws_secret_access_key="s",
        )
        with pytest.raises(Exception, match=r"nothing scripted for SageMaker\.ListModels"):
            sm.list_models()
        with pytest.raises(Exception, match="unknown key 'Endpoint'"):
            sm.list_endpoints()
        assert [r.name for r in server.requests] == ["SageMaker.ListModels", "SageMaker.ListEndpoints"]


def test_cli_collects_both_into_their_principle_folders(aws: AwsProtocolServer, tmp_path: Path) -> None:
    seed_registry()
    seed_endpoints()
    aws.json_target(LIST_SCHEDULES, ok({"MonitoringScheduleSummaries": SCHEDULES}), service="sagemaker")
    cfg = write_config(
        tmp_path,
        f"""
        collectors:
          - {{id: registry, plugin: aws.sagemaker_registry, params: {{endpoint_url: "{aws.url}"}}}}
          - {{id: endpoints, plugin: aws.sagemaker_deployments, params: {{endpoint_url: "{aws.url}"}}}}
        """,
    )
    done = run_cli("collect", "-c", str(cfg), "--json", cwd=tmp_path, env=cli_env_for(aws.fallback or ""))
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    assert {i["id"]: i["status"] for i in summary["instances"]} == {"registry": "ok", "endpoints": "ok"}
    store = tmp_path / "evidence"
    artefacts = [p for p in store.glob("P*/*/*") if not p.name.endswith(".meta.json")]
    filed = {(p.parent.parent.name[:3], p.parent.name, p.name.split("--")[1]) for p in artefacts}
    assert filed == {
        ("P05", "registry", "model-registry.json"),
        ("P08", "registry", "model-registry.json"),
        ("P13", "registry", "retired-model-versions.json"),
        ("P06", "endpoints", "endpoints.json"),
        ("P12", "endpoints", "endpoints.json"),
    }
    assert run_cli("verify", str(store), cwd=tmp_path).returncode == 0
