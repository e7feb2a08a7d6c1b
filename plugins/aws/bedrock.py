"""`aws.bedrock`: Bedrock as an AI inventory: models, guardrails, prompts, logging and AI suppliers.

Evidence for the asset inventory (P5: custom, imported and provisioned models; the prompt inventory,
every version with its templates), the AI supply chain (P7: foundation models in use and their
providers), model documentation (P8: base model, job and training data of custom models) and
monitoring (P12: model invocation logging; guardrails with each version's policies).

A foundation model is *in use* when something references it: a custom model's base model, a
provisioned throughput or a prompt variant; on-demand calls leave no trace in the control plane. Only
those are filed, not the region's catalogue, which changes often and would defeat "unchanged" detection.
A denied call is a gap and its part `null`, never `[]` (read as "none"); `sections` leaves parts out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from evidentia import Artefact, CollectContext, Collector, Finding

from .common import Gaps, Target, or_gap, paginate, params_schema, raise_for_failed_targets, targets

IN_USE = "referenced by a custom model, a provisioned throughput or a prompt (on-demand calls are not seen)"
ARN_MODEL_MARKERS = ("foundation-model/", "inference-profile/")
ACTIONS = """ListCustomModels GetCustomModel ListImportedModels ListProvisionedModelThroughputs ListGuardrails
    GetGuardrail ListPrompts GetPrompt GetModelInvocationLoggingConfiguration ListFoundationModels"""


@dataclass
class Reader:
    """Reads one account and region; a denied call becomes a gap and `None`."""

    ctx: CollectContext
    target: Target
    gaps: Gaps
    details: bool
    _clients: dict[str, Any] = field(default_factory=dict)

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.target.client(self.ctx, service)
        return self._clients[service]

    def list(self, service: str, operation: str, key: str, order: str, **kwargs: Any) -> list[Any] | None:
        """Every item of a listing, sorted by `order` so the snapshot is stable across runs."""
        client = self.client(service)
        items = self._guard(operation, lambda: paginate(client, operation, key, **kwargs))
        return None if items is None else sorted(items, key=lambda item: str(item.get(order, "")))

    def get(self, service: str, operation: str, **kwargs: Any) -> dict[str, Any] | None:
        call = getattr(self.client(service), operation)
        response = self._guard(operation, lambda: call(**kwargs))
        return None if response is None else {k: v for k, v in response.items() if k != "ResponseMetadata"}

    def _guard(self, operation: str, fn: Callable[[], Any]) -> Any:
        action = "bedrock:" + "".join(part.title() for part in operation.split("_"))
        where = f"{self.target.account}/{self.target.region}"
        return utc(or_gap(self.gaps, where, action, fn, None))


def utc(value: Any) -> Any:
    """AWS timestamps are UTC; botocore leaves them naive when a response omits the offset (moto)."""
    if isinstance(value, dt.datetime) and value.tzinfo is None:
        return value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dict):
        return {k: utc(v) for k, v in value.items()}
    return [utc(v) for v in value] if isinstance(value, list) else value


@dataclass(frozen=True)
class Versioned:
    """Guardrails and prompts alike: listed as DRAFTs, versions listed by ARN, each read by ID."""

    service: str
    noun: str  # `guardrail`: list_guardrails, get_guardrail, guardrailIdentifier, guardrailVersion
    key: str

    def read(self, r: Reader, _: dict[str, Any]) -> list[Any] | None:
        drafts = r.list(self.service, f"list_{self.noun}s", self.key, "arn")
        return None if drafts is None else [{**d, "versions": self._versions(r, d)} for d in drafts]

    def _versions(self, r: Reader, draft: dict[str, Any]) -> list[Any] | None:
        ident = f"{self.noun}Identifier"
        versions = r.list(self.service, f"list_{self.noun}s", self.key, "version", **{ident: draft["arn"]})
        if versions is not None and r.details:
            versions = [self._detail(r, {ident: draft["id"]}, v) for v in versions]
        return None if versions is None else sorted(versions, key=_version_key)

    def _detail(self, r: Reader, by_id: dict[str, str], summary: dict[str, Any]) -> dict[str, Any]:
        ask = {**by_id, f"{self.noun}Version": summary["version"]}
        return r.get(self.service, f"get_{self.noun}", **ask) or summary


def _version_key(item: dict[str, Any]) -> tuple[int, int, str]:
    """DRAFT first, then numbered versions in order."""
    version = str(item.get("version", ""))
    return (0, 0, "") if version == "DRAFT" else (1, int(version) if version.isdigit() else 0, version)


def custom_models(r: Reader, _: dict[str, Any]) -> list[Any] | None:
    """Custom models; with `details`, each one's job, hyperparameters and training data (P8)."""
    models = r.list("bedrock", "list_custom_models", "modelSummaries", "modelArn")
    if models is None or not r.details:
        return models
    return [r.get("bedrock", "get_custom_model", modelIdentifier=m["modelArn"]) or m for m in models]


def invocation_logging(r: Reader, _: dict[str, Any]) -> dict[str, Any] | None:
    """Whether model invocations are logged: enabled means a CloudWatch or S3 destination is set."""
    response = r.get("bedrock", "get_model_invocation_logging_configuration")
    if response is None:
        return None
    config = response.get("loggingConfig") or {}
    return {"enabled": bool(config.get("cloudWatchConfig") or config.get("s3Config")), "config": config}


def foundation_models(r: Reader, region: dict[str, Any]) -> list[Any] | None:
    """Foundation models in use (see the module docstring), with provider from the catalogue."""
    refs = model_references(region)
    catalogue = r.get("bedrock", "list_foundation_models") if refs else {}
    known = {m["modelId"]: m for m in (catalogue or {}).get("modelSummaries", [])}
    keep = ("modelArn", "modelName", "providerName", "modelLifecycle")
    out = []
    for model_id in sorted(refs):
        # a cross-region inference profile ID (`us.anthropic.claude-...`) names its model after the dot
        entry = known.get(model_id) or known.get(model_id.partition(".")[2]) or {}
        out.append({"modelId": model_id, **{k: entry.get(k) for k in keep}, "used_by": refs[model_id]})
    return out


def model_references(region: dict[str, Any]) -> dict[str, list[str]]:
    """Foundation model ID -> the ARNs of what references it, from the parts already read."""
    pairs = [(m.get("baseModelArn"), m["modelArn"]) for m in region.get("custom_models") or []]
    throughput = region.get("provisioned_throughput") or []
    pairs += [(p.get("foundationModelArn"), p["provisionedModelArn"]) for p in throughput]
    for prompt in region.get("prompts") or []:
        for version in prompt.get("versions") or []:
            pairs += [(v.get("modelId"), version["arn"]) for v in version.get("variants") or []]
    refs: dict[str, set[str]] = {}
    for ref, user in pairs:
        model_id = _model_id(ref)
        if model_id:
            refs.setdefault(model_id, set()).add(user)
    return {k: sorted(v) for k, v in refs.items()}


def _model_id(ref: str | None) -> str | None:
    """`anthropic.claude-v2` from a model ID or a foundation-model / inference-profile ARN."""
    if not ref:
        return None
    for marker in ARN_MODEL_MARKERS:
        if marker in ref:
            return ref.split(marker, 1)[1]
    return None if ref.startswith("arn:") else ref  # custom or provisioned model ARNs: not foundation


# In dependency order: foundation models are resolved from what the earlier parts reference.
READERS: dict[str, Callable[[Reader, dict[str, Any]], Any]] = {
    "custom_models": custom_models,
    "imported_models": lambda r, _: r.list("bedrock", "list_imported_models", "modelSummaries", "modelArn"),
    "provisioned_throughput": lambda r, _: r.list(
        "bedrock", "list_provisioned_model_throughputs", "provisionedModelSummaries", "provisionedModelArn"
    ),
    "guardrails": Versioned("bedrock", "guardrail", "guardrails").read,
    "prompts": Versioned("bedrock-agent", "prompt", "promptSummaries").read,
    "invocation_logging": invocation_logging,
    "foundation_models": foundation_models,
}
SECTIONS = tuple(READERS)


def findings_for(region: dict[str, Any]) -> list[Finding]:
    """Logging off or no guardrail, only where the part was read (a gap is not a finding)."""
    where, out = f"{region['account']}/{region['region']}", []
    logging = region.get("invocation_logging")
    if logging is not None and not logging["enabled"]:
        text = f"Bedrock model invocation logging is disabled in {where}"
        out.append(Finding("invocation-logging-disabled", text, "medium", subject=where))
    if region.get("guardrails") == []:
        text = f"no Bedrock guardrail is defined in {where}"
        out.append(Finding("no-guardrail", text, "medium", subject=where))
    return out


class BedrockCollector(Collector):
    name = "aws.bedrock"
    version = "1"
    description = (
        "Amazon Bedrock: custom and imported models, provisioned throughput, guardrails with their "
        "versions, Bedrock Agent prompts, model invocation logging, and the foundation models in use "
        "with their providers; findings for invocation logging disabled and no guardrail."
    )
    principles = ("P5", "P7", "P8", "P12")
    kind = "snapshot"
    permissions = ("sts:GetCallerIdentity", *(f"bedrock:{action}" for action in ACTIONS.split()))
    params_schema: ClassVar[dict[str, Any]] = params_schema(
        {
            "sections": {
                "type": "array",
                "items": {"enum": list(SECTIONS)},
                "uniqueItems": True,
                "default": list(SECTIONS),
                "description": "Parts to collect (default all); foundation_models resolves the models "
                "referenced by the other parts chosen",
            },
            "details": {
                "type": "boolean",
                "default": True,
                "description": "Read each custom model, guardrail version and prompt version "
                "(training data, policies, templates); false lists names and versions only",
            },
        }
    )

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        chosen = [s for s in SECTIONS if s in ctx.params.get("sections", SECTIONS)]
        gaps, regions = Gaps(), []
        for target in targets(ctx, gaps):
            reader = Reader(ctx, target, gaps, bool(ctx.params.get("details", True)))
            region: dict[str, Any] = {"account": target.account, "region": target.region}
            for section in chosen:
                region[section] = READERS[section](reader, region)
            regions.append(region)
        findings = [f for region in regions for f in findings_for(region)]
        yield Artefact.json(
            "bedrock",
            {
                "sections": chosen,
                "foundation_models_in_use_means": IN_USE,
                "regions": regions,
                "suppliers": suppliers(regions),
                "gaps": gaps.to_list(),
            },
            source="bedrock",
            findings=findings,
            summary={"regions": len(regions), "findings": len(findings), "gaps": len(gaps.items)},
        )
        raise_for_failed_targets(gaps)


def suppliers(regions: list[dict[str, Any]]) -> list[str]:
    """The third-party AI suppliers: providers of the foundation models in use anywhere."""
    names = {m.get("providerName") for r in regions for m in r.get("foundation_models") or []}
    return sorted(n for n in names if n)


COLLECTORS: tuple[type[Collector], ...] = (BedrockCollector,)
