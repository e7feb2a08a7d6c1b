"""`aws.cloudtrail`: the AI-service change population, paced and exact to the period, and trail posture.

moto has no `LookupEvents`, so CloudTrail is served by the loopback protocol server (reached through
boto3's own `AWS_ENDPOINT_URL_CLOUDTRAIL`) while STS stays on moto; trail posture is also checked
against moto itself with the event population switched off.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from aws_moto import ACCOUNT, boto, cli_env_for
from aws_protocol_server import (
    AwsProtocolServer,
    AwsRequest,
    access_denied,
    fail_first,
    ok,
    paged,
    throttling,
)
from support import run_cli, write_config

from evidentia.collector import Period
from evidentia.plugins.aws.cloudtrail import CloudTrailCollector, TokenBucket
from evidentia.plugins.aws.common import iam_action
from evidentia.testing import make_context

pytest_plugins = ["aws_moto"]

API = "com.amazonaws.cloudtrail.v20131101.CloudTrail_20131101."
BEDROCK, SAGEMAKER = "bedrock.amazonaws.com", "sagemaker.amazonaws.com"
T0 = 1_700_000_000  # a whole second, so "exactly at the period start" is expressible in epoch seconds
PERIOD = Period(
    dt.datetime.fromtimestamp(T0, dt.timezone.utc), dt.datetime.fromtimestamp(T0 + 3600, dt.timezone.utc)
)
GOOD = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/org"
BAD = f"arn:aws:cloudtrail:us-east-1:{ACCOUNT}:trail/local"


def event(event_id: str, when: float, source: str = BEDROCK, read_only: bool = False) -> dict[str, Any]:
    """A LookupEvents item as AWS returns it, with the CloudTrail record as a JSON string."""
    name = "ListGuardrails" if read_only else "CreateGuardrail"
    record = {"eventID": event_id, "eventName": name, "eventSource": source, "requestParameters": {"n": 1}}
    return {
        "EventId": event_id,
        "EventName": name,
        "ReadOnly": "true" if read_only else "false",
        "EventTime": when,
        "EventSource": source,
        "Username": "alice",
        "Resources": [{"ResourceType": "AWS::Bedrock::Guardrail", "ResourceName": "g1"}],
        "CloudTrailEvent": json.dumps(record),
    }


def region_of(request: AwsRequest) -> str:
    """The region a request was signed for (SigV4 credential scope)."""
    match = re.search(r"Credential=[^/]+/\d+/([a-z0-9-]+)/", request.headers.get("authorization", ""))
    return match.group(1) if match else "?"


def lookup(events: list[dict[str, Any]], page_size: int = 50, seen: list[Any] | None = None) -> Callable:
    """LookupEvents as AWS answers it: one EventSource attribute, both time bounds inclusive, newest first."""

    def handler(request: AwsRequest) -> Any:
        if seen is not None:
            seen.append((region_of(request), time.monotonic()))
        [attribute] = request.body["LookupAttributes"]
        start, end = request.body["StartTime"], request.body["EndTime"]
        chosen = [e for e in events if e["EventSource"] == attribute["AttributeValue"]]
        chosen = sorted((e for e in chosen if start <= e["EventTime"] <= end), key=lambda e: -e["EventTime"])
        return paged("Events", chosen, page_size=page_size)(request)

    return handler


def script_trails(aws: AwsProtocolServer, status: Callable | None = None) -> None:
    """A validated multi-region trail that logs, and a local one that neither logs nor validates."""
    trails = [
        {"Name": "org", "TrailARN": GOOD, "IsMultiRegionTrail": True, "LogFileValidationEnabled": True},
        {"Name": "local", "TrailARN": BAD, "IsMultiRegionTrail": False, "LogFileValidationEnabled": False},
    ]
    aws.json_target(API + "DescribeTrails", ok({"trailList": trails}), service="cloudtrail")

    def trail_status(request: AwsRequest) -> Any:
        return 200, {"IsLogging": request.body["Name"] == GOOD, "LatestDeliveryTime": T0}

    aws.json_target(API + "GetTrailStatus", status or trail_status, service="cloudtrail")


@pytest.fixture
def aws(moto_url: str, aws_env: pytest.MonkeyPatch) -> Iterator[AwsProtocolServer]:
    """The protocol server as CloudTrail's endpoint (boto3's service-specific variable); STS on moto."""
    with AwsProtocolServer() as server:
        aws_env.setenv("AWS_ENDPOINT_URL_CLOUDTRAIL", server.url)
        yield server
        assert server.errors == []


def run(params: dict[str, Any], period: Period = PERIOD) -> tuple[Any, list[Any]]:
    ctx = make_context(CloudTrailCollector, params, period=period)
    return ctx, list(CloudTrailCollector().collect(ctx))


def test_population_is_paged_retried_and_exact_to_the_half_open_period(aws: AwsProtocolServer) -> None:
    bedrock = [event(f"b-{i}", T0 + i) for i in range(1, 10)]
    edges = [event("at-start", T0), event("at-end", T0 + 3600), event("before", T0 - 1)]
    population = [
        *bedrock,
        *edges,
        event("read-only", T0 + 5, read_only=True),
        event("s-1", T0 + 9, SAGEMAKER),
    ]
    script_trails(aws)
    aws.json_target(API + "LookupEvents", fail_first(2, throttling(), lookup(population, page_size=4)))

    ctx, [artefact] = run({"regions": ["us-east-1"]})

    data = json.loads(artefact.content)
    ids = [e["EventId"] for e in data["events"]]
    assert ids == ["at-start", *(f"b-{i}" for i in range(1, 10)), "s-1"]  # sorted by time; end excluded
    assert data["events"][0]["CloudTrailEvent"]["requestParameters"] == {"n": 1}
    assert data["events"][0]["EventTime"] == "2023-11-14T22:13:20Z"
    assert artefact.summary["read_only_skipped"] == 1
    requests = aws.requests_for(API + "LookupEvents")
    assert len(requests) == 2 + 3 + 1  # two throttled, three bedrock pages (12 in bounds), one sagemaker
    assert {(r.body["StartTime"], r.body["EndTime"]) for r in requests} == {(T0, T0 + 3600)}
    sources = [r.body["LookupAttributes"][0]["AttributeValue"] for r in requests[2:]]
    assert sources == [SAGEMAKER] + [BEDROCK] * 3  # one query per source, in the configured order
    # every attempt counted: sts, DescribeTrails, GetTrailStatus x2, LookupEvents incl. the 2 retries
    assert ctx.request_count == 1 + 1 + 2 + len(requests)
    assert {iam_action(c) for c in ctx.calls} <= set(CloudTrailCollector.permissions)
    assert {(f.code, f.subject) for f in artefact.findings} == {
        ("trail-not-logging", BAD),
        ("log-file-validation-off", BAD),
    }


def test_lookups_are_paced_to_two_per_second_in_each_region(aws: AwsProtocolServer) -> None:
    seen: list[tuple[str, float]] = []
    population = [event("b-1", T0 + 1), event("b-2", T0 + 2), event("s-1", T0 + 1, SAGEMAKER)]
    script_trails(aws)
    aws.json_target(API + "LookupEvents", lookup(population, page_size=1, seen=seen))

    run({"regions": ["us-east-1", "eu-west-1"]})

    for region in ("us-east-1", "eu-west-1"):
        times = [t for r, t in seen if r == region]
        assert len(times) == 3  # two bedrock pages, one sagemaker page
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.45, gaps  # 0.5 s by the client's clock; the server sees it a hair later


def test_token_bucket_spaces_requests_without_saving_up_a_burst() -> None:
    clock = [0.0]
    taken: list[float] = []

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    bucket = TokenBucket(2.0, clock=lambda: clock[0], sleep=sleep)
    for at in (0.0, 0.1, 0.2, 5.0, 5.0):
        clock[0] = max(clock[0], at)
        bucket.take()
        taken.append(clock[0])
    assert taken == [0.0, 0.5, 1.0, 5.0, 5.5]


def test_denied_trail_status_is_a_gap_but_a_denied_lookup_fails_the_population(
    aws: AwsProtocolServer,
) -> None:
    script_trails(aws, status=access_denied())
    aws.json_target(API + "LookupEvents", lookup([event("b-1", T0 + 1)]))

    _, [artefact] = run({"regions": ["us-east-1"]})

    data = json.loads(artefact.content)
    assert [g["call"] for g in data["gaps"]] == [
        f"cloudtrail:GetTrailStatus {GOOD}",
        f"cloudtrail:GetTrailStatus {BAD}",
    ]
    assert data["gaps"][0]["error"].startswith("AccessDeniedException: ")
    assert [t["Status"] for t in data["trails"]] == [None, None]
    assert {f.code for f in artefact.findings} == {"log-file-validation-off"}  # no status: no guess
    assert [e["EventId"] for e in data["events"]] == ["b-1"]

    aws.json_target(API + "LookupEvents", access_denied())
    with pytest.raises(Exception, match="AccessDeniedException"):
        run({"regions": ["us-east-1"]})


def test_trail_posture_against_moto(moto_url: str) -> None:
    boto("s3").create_bucket(Bucket="trail-logs")
    cloudtrail = boto("cloudtrail")
    cloudtrail.create_trail(
        Name="org", S3BucketName="trail-logs", IsMultiRegionTrail=True, EnableLogFileValidation=True
    )
    cloudtrail.start_logging(Name="org")
    cloudtrail.create_trail(Name="local", S3BucketName="trail-logs")
    params = {"regions": ["us-east-1", "eu-west-1"], "event_sources": [], "endpoint_url": moto_url}

    ctx, [artefact] = run(params)

    data = json.loads(artefact.content)
    assert [t["Name"] for t in data["trails"]] == ["local", "org"]  # org seen in both regions, kept once
    assert ctx.calls.count("cloudtrail:GetTrailStatus") == 2  # its status asked once, not per region
    assert data["trails"][1]["Status"]["IsLogging"] is True
    assert {(f.code, f.subject) for f in artefact.findings} == {
        ("trail-not-logging", BAD),
        ("log-file-validation-off", BAD),
    }
    cloudtrail.delete_trail(Name="org")
    _, [artefact] = run(params)
    assert ("no-multi-region-trail", ACCOUNT) in {(f.code, f.subject) for f in artefact.findings}


def every_second(request: AwsRequest) -> Any:
    """One bedrock change per second of the asked window (both bounds inclusive, as AWS)."""
    if request.body["LookupAttributes"][0]["AttributeValue"] != BEDROCK:
        return 200, {"Events": []}
    # botocore sends epoch seconds, with a fraction in newer releases (1.44+): whole seconds inside
    start, end = math.ceil(request.body["StartTime"]), math.floor(request.body["EndTime"])
    return paged("Events", [event(f"ev-{s}", s) for s in range(end, start - 1, -1)], page_size=50)(request)


def filed(store: Path, run_id: str) -> dict[str, Any]:
    entries = [json.loads(line) for line in (store / "ledger.jsonl").read_text().splitlines()]
    [entry] = [e for e in entries if e.get("type") == "artefact" and e["run"] == run_id]
    assert {p.split("/")[0][:3] for p in entry["paths"]} >= {"P08", "P11", "P12"}
    return json.loads((store / entry["paths"][0]).read_text())


def test_two_nights_chain_with_no_gap_and_no_duplicate(
    aws: AwsProtocolServer, moto_url: str, tmp_path: Path
) -> None:
    script_trails(aws)
    aws.json_target(API + "LookupEvents", every_second)
    cfg = write_config(
        tmp_path,
        """
        collectors:
          - id: ai-changes
            plugin: aws.cloudtrail
            lookback: 2m
            params: {regions: [us-east-1], event_sources: [bedrock.amazonaws.com, sagemaker.amazonaws.com]}
        """,
    )
    env = cli_env_for(moto_url, AWS_ENDPOINT_URL_CLOUDTRAIL=aws.url)
    nights = []
    for night in range(2):
        time.sleep(1.2 * night)  # the second night: at least one whole new second of events
        done = run_cli("collect", "-c", str(cfg), "--force", "--json", cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        nights.append(json.loads(done.stdout))
    periods = [n["instances"][0]["period"] for n in nights]
    assert periods[1]["start"] == periods[0]["end"]
    store = tmp_path / "evidence"
    first, second = (filed(store, n["run_id"]) for n in nights)
    assert [first["period"], second["period"]] == periods  # each artefact states the period it covers
    ids = [e["EventId"] for e in first["events"] + second["events"]]
    assert len(ids) == len(set(ids)) and second["events"]
    start, end = (
        dt.datetime.fromisoformat(p.replace("Z", "+00:00")).timestamp()
        for p in (periods[0]["start"], periods[1]["end"])
    )
    assert sorted(ids) == sorted(f"ev-{s}" for s in range(math.ceil(start), math.ceil(end)))
    verified = run_cli("verify", str(store), cwd=tmp_path, env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
