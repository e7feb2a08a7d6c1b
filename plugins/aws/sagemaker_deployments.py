"""`aws.sagemaker_deployments`: which models serve on which SageMaker endpoints, and who watches them.

EN 304 223 asks that access to deployed models be controlled (P6) and that their behaviour in use be
monitored (P12). For a SageMaker endpoint the evidence is: the endpoint and its configuration, the
model (image, model data, model package) behind each variant, whether data capture records the
requests and responses, and whether a Model Monitor schedule checks them.

Data capture is *on* when the endpoint reports `EnableCapture` (and capture is not `Stopped`); when
the endpoint does not report it, the endpoint configuration decides. An endpoint is *monitored* when
a monitoring schedule for it is `Scheduled` or `Pending` (a stopped or failed schedule watches
nothing). Endpoints being deleted or failed are filed but raise no findings: they serve nothing.

Schedules are listed in one sweep per region, not per endpoint. If they cannot be listed (access
denied, or an endpoint without `ListMonitoringSchedules`), that is a gap in the artefact and
monitoring is "unknown" (None) for the region's endpoints: no finding on what could not be seen.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, TypeVar

from evidentia import Artefact, CollectContext, Collector, Finding

from . import common
from .common import Gaps, Target, params_schema

T = TypeVar("T")
PAGE = {"PageSize": 100}  # the largest page every SageMaker listing accepts
ACTIONS = "ListEndpoints DescribeEndpoint DescribeEndpointConfig DescribeModel ListMonitoringSchedules"
ACTIVE_SCHEDULES = frozenset({"Scheduled", "Pending"})
NOT_SERVING = frozenset({"Deleting", "Failed"})
# Answers meaning "this endpoint does not offer the operation" (not every region has every feature).
UNSUPPORTED = frozenset({"UnknownOperationException", "UnknownOperation", "NotImplemented", "InvalidAction"})
VANISHED = re.compile(r"not (be )?found|does not exist|could not find", re.IGNORECASE)


class SageMakerReader:
    """One account and region's SageMaker API, where refusals become gaps (both collectors use it).

    Access denied, an operation the endpoint does not offer, or a resource deleted between being
    listed and described is recorded as a gap and answered with None: what could be seen is filed,
    and what could not is named in the artefact. Anything else (throttling beyond boto3's retries,
    a server error) fails the collection. Each resource is described once.
    """

    def __init__(self, ctx: CollectContext, target: Target, gaps: Gaps) -> None:
        self.sm = target.client(ctx, "sagemaker")
        self.target, self.gaps = target, gaps
        self._described: dict[tuple[str, str], dict[str, Any] | None] = {}

    def list(self, operation: str, key: str, subject: str = "", **kwargs: Any) -> list[Any] | None:
        """Every item of `operation` (`ListModelCards`) in the largest pages, or None if refused."""
        call = f"sagemaker:{operation} {subject}".rstrip()
        method = _snake(operation)
        return self._call(
            call, lambda: common.paginate(self.sm, method, key, PaginationConfig=PAGE, **kwargs)
        )

    def describe(self, resource: str, name: str) -> dict[str, Any] | None:
        """`Describe<resource>(<resource>Name=name)`, or None if refused or since deleted."""
        if (resource, name) not in self._described:
            method = getattr(self.sm, f"describe_{_snake(resource)}")
            call = f"sagemaker:Describe{resource} {name}"
            self._described[(resource, name)] = self._call(call, lambda: method(**{f"{resource}Name": name}))
        return self._described[(resource, name)]

    def _call(self, call: str, fn: Callable[[], T]) -> T | None:
        try:
            return fn()
        except Exception as exc:
            code = common.error_code(exc)
            gone = code in ("ValidationException", "ResourceNotFound") and VANISHED.search(str(exc))
            if not (common.is_access_denied(exc) or gone or code in UNSUPPORTED):
                raise
            self.gaps.add(f"{self.target.account}/{self.target.region}", call, exc)
            return None


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class SageMakerDeploymentsCollector(Collector):
    name = "aws.sagemaker_deployments"
    description = (
        "SageMaker endpoints with their configuration, the models behind each variant, data capture "
        "and Model Monitor schedules; findings for endpoints without data capture or monitoring."
    )
    principles = ("P6", "P12")
    kind = "snapshot"
    permissions = ("sts:GetCallerIdentity", *(f"sagemaker:{action}" for action in ACTIONS.split()))
    params_schema: ClassVar[dict[str, Any]] = params_schema()

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        gaps = Gaps()
        endpoints: list[dict[str, Any]] = []
        for target in common.targets(ctx, gaps):
            ctx.check_cancelled()
            endpoints += _collect_target(ctx, SageMakerReader(ctx, target, gaps))
        yield _artefact(endpoints, gaps)
        common.raise_for_failed_targets(gaps)


def _collect_target(ctx: CollectContext, reader: SageMakerReader) -> list[dict[str, Any]]:
    """One account and region: each endpoint with its config, models and schedules."""
    listed = reader.list("ListEndpoints", "Endpoints")
    if not listed:
        return []
    schedules = reader.list("ListMonitoringSchedules", "MonitoringScheduleSummaries")
    out = []
    for summary in listed:
        ctx.check_cancelled()
        endpoint = reader.describe("Endpoint", summary["EndpointName"])
        config = reader.describe("EndpointConfig", endpoint["EndpointConfigName"]) if endpoint else None
        variants = [
            _variant_record(v, reader.describe("Model", v["ModelName"]) if v.get("ModelName") else None)
            for v in _variants(config)
        ]
        record = _endpoint_record(reader.target, endpoint or summary, config, variants)
        record["monitoring_schedules"] = _schedules_for(record["name"], schedules)
        out.append(record)
    return out


def _schedules_for(endpoint: str, schedules: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    """The endpoint's monitoring schedules, or None when they could not be listed."""
    if schedules is None:
        return None
    mine = sorted(
        (s for s in schedules if s.get("EndpointName") == endpoint), key=lambda s: s["MonitoringScheduleName"]
    )
    keys = {"name": "MonitoringScheduleName", "status": "MonitoringScheduleStatus", "type": "MonitoringType"}
    keys |= {"arn": "MonitoringScheduleArn", "job_definition": "MonitoringJobDefinitionName"}
    return [{k: s.get(source) for k, source in keys.items()} for s in mine]


def _variants(config: dict[str, Any] | None) -> list[dict[str, Any]]:
    shadows = [{**v, "Shadow": True} for v in (config or {}).get("ShadowProductionVariants") or []]
    return list((config or {}).get("ProductionVariants") or []) + shadows


def _variant_record(variant: dict[str, Any], model: dict[str, Any] | None) -> dict[str, Any]:
    serverless = variant.get("ServerlessConfig")
    return {
        "name": variant.get("VariantName"),
        "shadow": bool(variant.get("Shadow")),
        "instance_type": variant.get("InstanceType"),
        "instance_count": variant.get("InitialInstanceCount"),
        "serverless": serverless or None,
        "model_name": variant.get("ModelName"),
        "model": _model_record(model) if model else None,
    }


def _model_record(model: dict[str, Any]) -> dict[str, Any]:
    containers = [model["PrimaryContainer"]] if model.get("PrimaryContainer") else []
    containers += list(model.get("Containers") or [])
    return {
        "arn": model.get("ModelArn"),
        "created": model.get("CreationTime"),
        "execution_role": model.get("ExecutionRoleArn"),
        "network_isolation": model.get("EnableNetworkIsolation"),
        "vpc": bool(model.get("VpcConfig")),
        "containers": [
            {
                "image": c.get("Image"),
                "model_data_url": c.get("ModelDataUrl")
                or ((c.get("ModelDataSource") or {}).get("S3DataSource") or {}).get("S3Uri"),
                "model_package": c.get("ModelPackageName"),
            }
            for c in containers
        ],
    }


def _data_capture(endpoint: dict[str, Any], config: dict[str, Any] | None) -> dict[str, Any]:
    """Whether requests and responses are recorded: the endpoint's live state, else its config."""
    live = endpoint.get("DataCaptureConfig") or {}
    configured = (config or {}).get("DataCaptureConfig") or {}
    if "EnableCapture" in live:
        enabled: bool | None = bool(live["EnableCapture"]) and live.get("CaptureStatus") != "Stopped"
    else:
        enabled = bool(configured.get("EnableCapture")) if config is not None else None
    return {
        "enabled": enabled,
        "capture_status": live.get("CaptureStatus"),
        "sampling_percentage": live.get(
            "CurrentSamplingPercentage", configured.get("InitialSamplingPercentage")
        ),
        "destination": live.get("DestinationS3Uri") or configured.get("DestinationS3Uri"),
        "kms_key": live.get("KmsKeyId") or configured.get("KmsKeyId"),
        "capture_modes": sorted(o.get("CaptureMode", "") for o in configured.get("CaptureOptions") or []),
    }


def _endpoint_record(
    target: Target, endpoint: dict[str, Any], config: dict[str, Any] | None, variants: list[dict[str, Any]]
) -> dict[str, Any]:
    described = "EndpointConfigName" in endpoint
    return {
        "account": target.account,
        "region": target.region,
        "name": endpoint["EndpointName"],
        "arn": endpoint.get("EndpointArn"),
        "status": endpoint.get("EndpointStatus"),
        "created": endpoint.get("CreationTime"),
        "last_modified": endpoint.get("LastModifiedTime"),
        "endpoint_config": endpoint.get("EndpointConfigName"),
        "data_capture": _data_capture(endpoint, config) if described else {"enabled": None},
        "variants": variants,
    }


def _monitored(record: dict[str, Any]) -> bool | None:
    schedules = record["monitoring_schedules"]
    return None if schedules is None else any(s["status"] in ACTIVE_SCHEDULES for s in schedules)


def _findings(endpoints: list[dict[str, Any]]) -> list[Finding]:
    found = []
    for e in endpoints:
        if e["status"] in NOT_SERVING:
            continue
        if e["data_capture"]["enabled"] is False:
            message = f"endpoint {e['name']} ({e['region']}) does not capture requests and responses"
            found.append(Finding("endpoint-without-data-capture", message, "medium", e["arn"]))
        if _monitored(e) is False:
            message = f"endpoint {e['name']} ({e['region']}) has no active model monitoring schedule"
            found.append(Finding("endpoint-without-monitoring", message, "medium", e["arn"]))
    return found


def _artefact(endpoints: list[dict[str, Any]], gaps: Gaps) -> Artefact:
    endpoints = sorted(endpoints, key=lambda e: (e["account"], e["region"], e["name"]))
    for e in endpoints:
        e["monitored"] = _monitored(e)
    summary = {
        "endpoints": len(endpoints),
        "with_data_capture": sum(e["data_capture"]["enabled"] is True for e in endpoints),
        "monitored": sum(e["monitored"] is True for e in endpoints),
        "gaps": len(gaps.items),
    }
    data = {"endpoints": endpoints, "gaps": gaps.to_list()}
    return Artefact.json("endpoints", data, findings=_findings(endpoints), summary=summary)
