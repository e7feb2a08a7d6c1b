"""`aws.sagemaker_registry`: the SageMaker Model Registry filed as the inventory of models (P5, P8, P13).

EN 304 223 asks for an inventory of models with owners (P5), documentation of each model put into
use (P8), and evidence of what was taken out of use (P13). In SageMaker that is the Model Registry:
model package groups (one per model, tagged with an owner), their versions (approval status, who
registered them, the model data and its hash), and model cards (the documentation).

A version is *documented* when a model card is attached to the package itself (`ModelCard` in
`DescribeModelPackage`) or a standalone card names its ARN in `model_package_details.
model_package_arn` or `model_overview.model_id`. Archived cards do not count. A version is *retired*
when rejected or its lifecycle stage says archived/retired: evidence of the decision to take it out
of use (P13), not of the deletion of its model data.

Versions come from one paginated sweep per region (`ModelPackageType=Versioned`), not a listing per
group; each is then described (only that gives the creator and an attached card).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, ClassVar

from evidentia import Artefact, CollectContext, Collector, Finding

from .common import Gaps, Target, params_schema, raise_for_failed_targets, targets
from .sagemaker_deployments import SageMakerReader

Record = dict[str, Any]
RETIRED_STAGES = frozenset({"archived", "retired", "deprecated", "decommissioned"})
HASH_KEY = re.compile(r"sha|hash|checksum|md5|etag|digest", re.IGNORECASE)
ACTIONS = (
    "ListModelPackageGroups ListTags ListModelPackages DescribeModelPackage ListModelCards DescribeModelCard"
)
OWNER_TAG = {"type": "string", "minLength": 1, "default": "owner", "description": "Tag key naming the owner"}


class SageMakerRegistryCollector(Collector):
    name = "aws.sagemaker_registry"
    description = (
        "SageMaker Model Registry: model package groups, every version (approval, creator, model data "
        "and hash) and model cards; findings for approved versions without a model card and groups "
        "without an owner tag; rejected or archived versions filed as retired (P13)."
    )
    principles = ("P5", "P8", "P13")
    kind = "snapshot"
    permissions = ("sts:GetCallerIdentity", *(f"sagemaker:{action}" for action in ACTIONS.split()))
    params_schema: ClassVar[dict[str, Any]] = params_schema({"owner_tag": OWNER_TAG})

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        gaps = Gaps()
        groups: list[Record] = []
        cards: list[Record] = []
        owner_tag = str(ctx.params.get("owner_tag") or "owner")
        for target in targets(ctx, gaps):
            ctx.check_cancelled()
            reader = SageMakerReader(ctx, target, gaps)
            target_cards, complete = _cards(ctx, reader)
            groups += _groups(ctx, reader, owner_tag, complete)
            cards += target_cards
        _link_cards(groups, cards)
        yield _registry_artefact(groups, cards, gaps, owner_tag)
        yield _retired_artefact(groups, gaps)
        raise_for_failed_targets(gaps)


def _cards(ctx: CollectContext, reader: SageMakerReader) -> tuple[list[Record], bool]:
    """The region's model cards, and whether every one could be read (else "no card" is unknown)."""
    listed = reader.list("ListModelCards", "ModelCardSummaries")
    cards, complete = [], listed is not None
    for summary in listed or []:
        ctx.check_cancelled()
        described = reader.describe("ModelCard", summary["ModelCardName"])
        complete = complete and described is not None
        cards.append(_card_record(reader.target, described or summary))
    return cards, complete


def _groups(ctx: CollectContext, reader: SageMakerReader, owner_tag: str, complete: bool) -> list[Record]:
    """The region's model package groups with their tags and every version, sorted."""
    groups: dict[str, Record] = {}
    for summary in reader.list("ListModelPackageGroups", "ModelPackageGroupSummaryList") or []:
        arn = summary["ModelPackageGroupArn"]
        tags = reader.list("ListTags", "Tags", subject=arn, ResourceArn=arn)
        groups[summary["ModelPackageGroupName"]] = _group_record(reader.target, summary, tags, owner_tag)
    versions = reader.list("ListModelPackages", "ModelPackageSummaryList", ModelPackageType="Versioned")
    for summary in versions or []:
        ctx.check_cancelled()
        described = reader.describe("ModelPackage", summary["ModelPackageArn"])
        name = summary["ModelPackageGroupName"]
        unlisted = {"ModelPackageGroupName": name}  # its group could not be listed (a gap)
        group = groups.setdefault(name, _group_record(reader.target, unlisted, None, ""))
        # "No model card" is only known when everything was seen: no finding on what was not.
        known = described is not None and complete
        group["versions"].append(_version_record(described or summary) | {"documentation_known": known})
    for group in groups.values():
        group["versions"].sort(key=lambda v: (v.get("version") or 0, v["arn"]))
    return sorted(groups.values(), key=lambda g: g["name"])


def _group_record(target: Target, summary: Record, tag_list: list[Record] | None, owner_tag: str) -> Record:
    tags = None if tag_list is None else {t["Key"]: t.get("Value", "") for t in tag_list}
    owners = [v for k, v in (tags or {}).items() if k.lower() == owner_tag.lower() and v.strip()]
    return _where(target) | {
        "name": summary["ModelPackageGroupName"],
        "arn": summary.get("ModelPackageGroupArn"),
        "description": summary.get("ModelPackageGroupDescription"),
        "created": summary.get("CreationTime"),
        "status": summary.get("ModelPackageGroupStatus"),
        "tags": tags,  # None: the tags could not be read (see gaps)
        "owner": owners[0] if owners else None,
        "versions": [],
    }


def _who(user: Record | None) -> str | None:
    """The most specific identity SageMaker gives for who did something."""
    user = user or {}
    return user.get("IamIdentity", {}).get("Arn") or user.get("UserProfileArn") or user.get("UserProfileName")


def _container(container: Record) -> Record:
    """A container's image and model data, with every hash the registry holds for them."""
    s3 = (container.get("ModelDataSource") or {}).get("S3DataSource") or {}
    hashes = {"image_digest": container.get("ImageDigest"), "model_data_etag": container.get("ModelDataETag")}
    hashes |= {"s3_etag": s3.get("ETag"), "manifest_etag": s3.get("ManifestEtag")}
    return {
        "image": container.get("Image"),
        "model_data_url": container.get("ModelDataUrl") or s3.get("S3Uri"),
        "hashes": {k: v for k, v in hashes.items() if v},
    }


def _retirement(described: Record) -> str | None:
    """Why a version is out of use, or None while it is not."""
    if described.get("ModelApprovalStatus") == "Rejected":
        return "rejected"
    stage = str((described.get("ModelLifeCycle") or {}).get("Stage") or "")
    return f"lifecycle stage {stage}" if stage.lower() in RETIRED_STAGES else None


def _version_record(described: Record) -> Record:
    specs = [
        described.get("InferenceSpecification") or {},
        *(described.get("AdditionalInferenceSpecifications") or []),
    ]
    attached = described.get("ModelCard")
    metadata = described.get("CustomerMetadataProperties") or {}
    return {
        "arn": described["ModelPackageArn"],
        "version": described.get("ModelPackageVersion"),
        "description": described.get("ModelPackageDescription"),
        "approval_status": described.get("ModelApprovalStatus"),
        "approval_description": described.get("ApprovalDescription"),
        "status": described.get("ModelPackageStatus"),
        "created": described.get("CreationTime"),
        "created_by": _who(described.get("CreatedBy")),
        "last_modified": described.get("LastModifiedTime"),
        "last_modified_by": _who(described.get("LastModifiedBy")),
        "lifecycle": described.get("ModelLifeCycle"),
        "source_uri": described.get("SourceUri"),
        "containers": [_container(c) for spec in specs for c in spec.get("Containers") or []],
        "metadata_hashes": {k: v for k, v in metadata.items() if HASH_KEY.search(k)},
        "attached_model_card_status": attached.get("ModelCardStatus") if attached else None,
        "retired": _retirement(described),
        "documented_by": None,  # filled by _link_cards
    }


def _card_links(content: Any) -> list[str]:
    """The model package ARNs a model card's content names (lower-cased: SageMaker ARNs are)."""
    if not isinstance(content, dict):
        return []
    package = (content.get("model_package_details") or {}).get("model_package_arn")
    overview = (content.get("model_overview") or {}).get("model_id")
    return sorted({str(v).lower() for v in (package, overview) if v and ":model-package/" in str(v)})


def _card_record(target: Target, described: Record) -> Record:
    try:
        content = json.loads(described["Content"]) if described.get("Content") else None
    except ValueError:
        content = described["Content"]  # kept as filed
    return _where(target) | {
        "name": described["ModelCardName"],
        "arn": described.get("ModelCardArn"),
        "version": described.get("ModelCardVersion"),
        "status": described.get("ModelCardStatus"),
        "created": described.get("CreationTime"),
        "created_by": _who(described.get("CreatedBy")),
        "last_modified": described.get("LastModifiedTime"),
        "documents": _card_links(content),
        "content": content,
    }


def _link_cards(groups: list[Record], cards: list[Record]) -> None:
    """Set each version's `documented_by`: "attached", or the name of a card naming it."""
    by_arn: dict[str, str] = {}
    for card in sorted(cards, key=lambda c: c["name"]):
        for arn in card["documents"] if card["status"] != "Archived" else []:
            by_arn.setdefault(arn, card["name"])
    for version in (v for g in groups for v in g["versions"]):
        attached = version["attached_model_card_status"] not in (None, "Archived")
        version["documented_by"] = "attached" if attached else by_arn.get(version["arn"].lower())


def _findings(groups: list[Record], owner_tag: str) -> list[Finding]:
    found = []
    for group in groups:
        if group["tags"] is not None and group["owner"] is None and group["arn"]:
            message = f"model package group {group['name']} has no {owner_tag!r} tag naming its owner"
            found.append(Finding("model-group-without-owner", message, "medium", group["arn"]))
        for v in group["versions"]:
            undocumented = v["documentation_known"] and not v["documented_by"]
            if v["approval_status"] == "Approved" and not v["retired"] and undocumented:
                message = f"{group['name']} version {v['version']} is approved but no model card documents it"
                found.append(Finding("approved-version-without-model-card", message, "medium", v["arn"]))
    return found


def _registry_artefact(groups: list[Record], cards: list[Record], gaps: Gaps, owner_tag: str) -> Artefact:
    versions = [v for g in groups for v in g["versions"]]
    approved = sum(v["approval_status"] == "Approved" for v in versions)
    summary = dict(groups=len(groups), versions=len(versions), approved=approved, model_cards=len(cards))
    cards = sorted(cards, key=lambda c: (c["account"], c["region"], c["name"]))
    data = dict(owner_tag=owner_tag, model_package_groups=groups, model_cards=cards, gaps=gaps.to_list())
    findings = _findings(groups, owner_tag)
    return Artefact.json("model-registry", data, findings=findings, principles=("P5", "P8"), summary=summary)


def _retired_artefact(groups: list[Record], gaps: Gaps) -> Artefact:
    """P13: versions taken out of use, with who changed them last and the reason given."""
    versions = ((g, v) for g in groups for v in g["versions"] if v["retired"])
    retired = [{"account": g["account"], "region": g["region"], "group": g["name"], **v} for g, v in versions]
    data, summary = {"retired_versions": retired, "gaps": gaps.to_list()}, {"retired": len(retired)}
    return Artefact.json("retired-model-versions", data, principles=("P13",), summary=summary)


def _where(target: Target) -> Record:
    return {"account": target.account, "region": target.region}
