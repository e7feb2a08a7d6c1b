"""`aws.bedrock`: the AI inventory, its findings and gaps, over real HTTP.

moto implements custom models and the invocation-logging configuration but not guardrails, prompts,
imported models, provisioned throughput or the foundation-model catalogue. So the whole collector runs
against the loopback protocol server (Bedrock and Bedrock Agent reached through boto3's own
`AWS_ENDPOINT_URL_BEDROCK` / `AWS_ENDPOINT_URL_BEDROCK_AGENT`, STS on moto), and the parts moto has run
against moto itself, with the others left out through `sections`. (moto's IAM enforcement cannot
provide the AccessDenied case: it rejects Bedrock's REST signatures as SignatureDoesNotMatch.)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from aws_moto import ACCOUNT, boto, cli_env_for
from aws_protocol_server import AwsProtocolServer, AwsRequest, access_denied, ok, paged
from support import run_cli, write_config

from evidentia.plugins.aws.bedrock import BedrockCollector
from evidentia.plugins.aws.common import iam_action
from evidentia.testing import make_context

pytest_plugins = ["aws_moto"]

ARN = f"arn:aws:bedrock:us-east-1:{ACCOUNT}"
FM = "arn:aws:bedrock:us-east-1::foundation-model"
WHEN = "2025-03-01T09:30:00Z"
WHERE = f"{ACCOUNT}/us-east-1"
TITAN, COMMAND = "amazon.titan-text-express-v1", "cohere.command-r-v1:0"
HAIKU = "anthropic.claude-3-haiku-20240307-v1:0"


def foundation(model_id: str, provider: str) -> dict[str, Any]:
    return {"modelArn": f"{FM}/{model_id}", "modelId": model_id, "providerName": provider}


def custom(name: str, base: str, suffix: str) -> dict[str, Any]:
    arn = f"{ARN}:custom-model/{base}/{suffix}"
    return {"modelArn": arn, "modelName": name, "baseModelArn": f"{FM}/{base}"}


CATALOGUE = [
    *(foundation(m, p) for m, p in ((TITAN, "Amazon"), (HAIKU, "Anthropic"), (COMMAND, "Cohere"))),
    foundation("meta.llama3-8b-instruct-v1:0", "Meta"),  # offered, not in use
]
CUSTOM = [custom("support-ft", TITAN, "abcdef123456"), custom("triage-ft", HAIKU, "123456abcdef")]
GUARDRAIL = {"id": "gr0pii0001", "arn": f"{ARN}:guardrail/gr0pii0001", "name": "pii", "status": "READY"}
PROMPT = {"id": "PRMPT00001", "arn": f"{ARN}:prompt/PRMPT00001", "name": "triage"}


def custom_model(request: AwsRequest) -> Any:
    [model] = [m for m in CUSTOM if m["modelArn"] == unquote(request.path_params["modelIdentifier"])]
    data = {"s3Uri": f"s3://training/{model['modelName']}.jsonl"}
    job = f"{ARN}:model-customization-job/{model['modelName']}"
    body = {**model, "creationTime": WHEN, "jobArn": job, "trainingDataConfig": data}
    return 200, {**body, "outputDataConfig": {"s3Uri": "s3://training/out/"}}


def versioned(draft: dict[str, Any], ident: str, versions: list[str]) -> Any:
    """A DRAFT listing, or with `ident` in the query, every version of that resource (as AWS lists)."""

    def handler(request: AwsRequest) -> Any:
        times = {"createdAt": WHEN, "updatedAt": WHEN}
        if request.param(ident) is None:
            items = [{**draft, **times, "version": "DRAFT"}]
        else:
            assert request.param(ident) == draft["arn"]  # versions are listed by ARN, as documented
            items = [{**draft, **times, "version": v} for v in versions]
        key = "guardrails" if ident == "guardrailIdentifier" else "promptSummaries"
        return paged(key, items, token="nextToken", limit="maxResults")(request)

    return handler


def guardrail(request: AwsRequest) -> Any:
    version = request.param("guardrailVersion")
    names = {"name": GUARDRAIL["name"], "guardrailId": GUARDRAIL["id"], "guardrailArn": GUARDRAIL["arn"]}
    hate = {"type": "HATE", "inputStrength": "HIGH", "outputStrength": "HIGH"}
    body = {**names, "status": "READY", "version": version, "contentPolicy": {"filters": [hate]}}
    messages = dict.fromkeys(("blockedInputMessaging", "blockedOutputsMessaging"), "Blocked.")
    return 200, {**body, **messages, "createdAt": WHEN, "updatedAt": WHEN}


def prompt(request: AwsRequest) -> Any:
    version = request.param("promptVersion")
    model = HAIKU if version == "DRAFT" else f"us.{HAIKU}"  # version 1 calls a cross-region profile
    template = {"text": {"text": "Classify this ticket: {{ticket}}", "inputVariables": [{"name": "ticket"}]}}
    variant = {"name": "main", "templateType": "TEXT", "templateConfiguration": template, "modelId": model}
    arn = PROMPT["arn"] if version == "DRAFT" else f"{PROMPT['arn']}:{version}"
    body = {**PROMPT, "arn": arn, "version": version, "variants": [variant], "defaultVariant": "main"}
    return 200, {**body, "createdAt": WHEN, "updatedAt": WHEN}


def script(aws: AwsProtocolServer, *, logging: Any = None, guardrails: bool = True, denied: Any = ()) -> None:
    """Every Bedrock and Bedrock Agent operation the collector calls, in the documented shapes."""

    def route(path: str, handler: Any, operation: str, service: str = "bedrock") -> None:
        handler = access_denied(403) if operation in denied else handler  # REST services deny with 403
        aws.rest("GET", path, handler, service=service, operation=operation)

    models = [
        {**m, "creationTime": WHEN, "baseModelName": m["baseModelArn"].rpartition("/")[2]} for m in CUSTOM
    ]
    route("/custom-models", paged("modelSummaries", models, 1, "nextToken", "maxResults"), "ListCustomModels")
    route("/custom-models/{modelIdentifier}", custom_model, "GetCustomModel")
    imported = [
        {"modelArn": f"{ARN}:imported-model/x1y2z3", "modelName": "llama-import", "creationTime": WHEN}
    ]
    route("/imported-models", ok({"modelSummaries": imported}), "ListImportedModels")
    throughput = {
        **dict.fromkeys(("modelArn", "desiredModelArn", "foundationModelArn"), f"{FM}/{COMMAND}"),
        **{"provisionedModelName": "command-pt", "provisionedModelArn": f"{ARN}:provisioned-model/pt0001"},
        **{"modelUnits": 1, "desiredModelUnits": 1, "status": "InService"},
        **dict.fromkeys(("creationTime", "lastModifiedTime"), WHEN),
    }
    throughputs = ok({"provisionedModelSummaries": [throughput]})
    route("/provisioned-model-throughputs", throughputs, "ListProvisionedModelThroughputs")
    rails = versioned(GUARDRAIL, "guardrailIdentifier", ["DRAFT", "2", "1"]) if guardrails else None
    route("/guardrails", rails or ok({"guardrails": []}), "ListGuardrails")
    route("/guardrails/{guardrailIdentifier}", guardrail, "GetGuardrail")
    config = ok({"loggingConfig": logging} if logging else {})
    route("/logging/modelinvocations", config, "GetModelInvocationLoggingConfiguration")
    route("/foundation-models", ok({"modelSummaries": CATALOGUE}), "ListFoundationModels")
    route("/prompts/", versioned(PROMPT, "promptIdentifier", ["DRAFT", "1"]), "ListPrompts", "bedrock-agent")
    route("/prompts/{promptIdentifier}/", prompt, "GetPrompt", "bedrock-agent")


@pytest.fixture
def aws(moto_url: str, aws_env: pytest.MonkeyPatch) -> Iterator[AwsProtocolServer]:
    """The protocol server as the Bedrock and Bedrock Agent endpoints; STS stays on moto."""
    with AwsProtocolServer() as server:
        aws_env.setenv("AWS_ENDPOINT_URL_BEDROCK", server.url)
        aws_env.setenv("AWS_ENDPOINT_URL_BEDROCK_AGENT", server.url)
        yield server
        assert server.errors == []


def run(params: dict[str, Any] | None = None) -> tuple[dict[str, Any], Any, set[str]]:
    """Run the collector; its artefact parsed, the artefact, and the IAM actions it called."""
    ctx = make_context(BedrockCollector, params)
    [artefact] = BedrockCollector().collect(ctx)
    called = {iam_action(c) for c in ctx.calls}
    assert called <= set(BedrockCollector.permissions)  # nothing called beyond what is declared
    return json.loads(artefact.content), artefact, called


def test_inventory_suppliers_prompts_guardrail_versions_and_logging_off(aws: AwsProtocolServer) -> None:
    script(aws)

    data, artefact, called = run({"regions": ["us-east-1"]})

    assert called == set(BedrockCollector.permissions)  # every part read: every declared action used
    [region] = data["regions"]
    assert [m["modelName"] for m in region["custom_models"]] == ["support-ft", "triage-ft"]  # two pages
    assert region["custom_models"][0]["trainingDataConfig"]["s3Uri"] == "s3://training/support-ft.jsonl"
    assert region["custom_models"][0]["creationTime"] == WHEN
    assert [m["modelName"] for m in region["imported_models"]] == ["llama-import"]
    [rail] = region["guardrails"]
    assert [v["version"] for v in rail["versions"]] == ["DRAFT", "1", "2"]
    assert rail["versions"][1]["contentPolicy"]["filters"][0]["type"] == "HATE"
    [inventory] = region["prompts"]
    assert [v["version"] for v in inventory["versions"]] == ["DRAFT", "1"]
    template = inventory["versions"][1]["variants"][0]["templateConfiguration"]
    assert template["text"]["text"].startswith("Classify")
    in_use = {m["modelId"]: (m["providerName"], m["used_by"]) for m in region["foundation_models"]}
    assert in_use == {
        TITAN: ("Amazon", [CUSTOM[0]["modelArn"]]),
        HAIKU: ("Anthropic", sorted([CUSTOM[1]["modelArn"], PROMPT["arn"]])),
        f"us.{HAIKU}": ("Anthropic", [f"{PROMPT['arn']}:1"]),
        COMMAND: ("Cohere", [f"{ARN}:provisioned-model/pt0001"]),
    }
    assert data["suppliers"] == ["Amazon", "Anthropic", "Cohere"]  # Meta is in the catalogue, not in use
    assert region["invocation_logging"] == {"enabled": False, "config": {}}
    assert [(f.code, f.subject) for f in artefact.findings] == [("invocation-logging-disabled", WHERE)]
    assert data["gaps"] == []
    assert len(aws.requests_for("GET /foundation-models")) == 1  # the catalogue once per region


def test_no_guardrail_is_a_finding_and_logging_on_is_not(aws: AwsProtocolServer) -> None:
    logging = {"s3Config": {"bucketName": "bedrock-logs"}, "textDataDeliveryEnabled": True}
    script(aws, logging=logging, guardrails=False)

    data, artefact, _ = run({"details": False})

    [region] = data["regions"]
    assert region["guardrails"] == []
    assert region["invocation_logging"]["enabled"] is True
    assert [(f.code, f.subject) for f in artefact.findings] == [("no-guardrail", WHERE)]
    assert not aws.requests_for("GET /prompts/PRMPT00001/")  # details off: listed, not read one by one


def test_access_denied_on_one_call_is_a_gap_in_the_artefact(aws: AwsProtocolServer) -> None:
    script(aws, denied=("ListPrompts",))

    data, _, _ = run()

    [region] = data["regions"]
    assert region["prompts"] is None  # unknown, not "no prompts"
    assert region["guardrails"] and region["custom_models"]
    [gap] = data["gaps"]
    assert gap["where"] == WHERE and gap["call"] == "bedrock:ListPrompts"
    assert gap["error"].startswith("AccessDeniedException: User: ")
    assert f"us.{HAIKU}" not in {m["modelId"] for m in region["foundation_models"]}


def test_the_parts_moto_has_against_moto(moto_url: str) -> None:
    bedrock = boto("bedrock")
    bedrock.create_model_customization_job(
        jobName="support-job",
        customModelName="support-ft",
        roleArn=f"arn:aws:iam::{ACCOUNT}:role/bedrock-ft",
        baseModelIdentifier=TITAN,
        trainingDataConfig={"s3Uri": "s3://training/support.jsonl"},
        outputDataConfig={"s3Uri": "s3://training/out/"},
        hyperParameters={"epochCount": "2"},
    )
    bedrock.put_model_invocation_logging_configuration(
        loggingConfig={"s3Config": {"bucketName": "bedrock-logs"}, "textDataDeliveryEnabled": True}
    )
    params = {"sections": ["custom_models", "invocation_logging"], "endpoint_url": moto_url}

    data, artefact, called = run(params)

    [region] = data["regions"]
    assert set(region) == {"account", "region", "custom_models", "invocation_logging"}
    [model] = region["custom_models"]
    assert model["baseModelArn"].endswith(f"foundation-model/{TITAN}")
    assert model["trainingDataConfig"] == {"s3Uri": "s3://training/support.jsonl"}
    assert model["creationTime"].endswith("Z")  # moto's offset-less timestamp taken as the UTC it is
    assert region["invocation_logging"]["enabled"] is True and artefact.findings == ()
    read = ("ListCustomModels", "GetCustomModel", "GetModelInvocationLoggingConfiguration")
    assert called == {"sts:GetCallerIdentity", *(f"bedrock:{action}" for action in read)}

    bedrock.delete_model_invocation_logging_configuration()

    data, artefact, _ = run(params)

    assert data["regions"][0]["invocation_logging"] == {"enabled": False, "config": {}}
    assert [f.code for f in artefact.findings] == ["invocation-logging-disabled"]


def test_cli_files_the_inventory_under_its_principles_and_verifies(
    aws: AwsProtocolServer, moto_url: str, tmp_path: Path
) -> None:
    script(aws)
    cfg = write_config(
        tmp_path, "collectors:\n  - {id: bedrock, plugin: aws.bedrock, params: {regions: [us-east-1]}}\n"
    )
    env = cli_env_for(moto_url, AWS_ENDPOINT_URL_BEDROCK=aws.url, AWS_ENDPOINT_URL_BEDROCK_AGENT=aws.url)

    for _ in range(2):
        done = run_cli("collect", "-c", str(cfg), "--force", "--json", cwd=tmp_path, env=env)
        assert done.returncode == 0, done.stdout + done.stderr

    store = tmp_path / "evidence"
    entries = [json.loads(line) for line in (store / "ledger.jsonl").read_text().splitlines()]
    filed = [e for e in entries if e.get("instance") == "bedrock"]
    assert [e["type"] for e in filed] == ["artefact", "unchanged"]  # a stable snapshot
    assert {p.split("/")[0][:3] for p in filed[0]["paths"]} == {"P05", "P07", "P08", "P12"}
    assert [f["code"] for f in filed[0]["findings"]] == ["invocation-logging-disabled"]
    verified = run_cli("verify", str(store), cwd=tmp_path, env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
