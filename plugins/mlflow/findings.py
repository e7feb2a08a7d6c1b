"""The registry's findings: ownerless models, undocumented or unprovenanced production versions,
and retired versions that consumers can still reach through an alias.

Severities follow what goes wrong if nobody acts:
- `production-version-without-description` and `production-version-without-run` are **high**: the
  version is what serves (stage Production or a production alias), and without a description or a
  training run nobody can say what it was trained on or why it was promoted (P8's audit trail).
- `model-without-owner` is **medium**: no accountable owner for an asset (P5), but the model may
  not serve anything yet.
- `archived-version-still-aliased` is **medium**: someone retired the version, yet anything that
  loads `models:/<name>@<alias>` still gets it; serious when that alias serves, but the stage
  already says it is retired, so it is a stale pointer rather than an unknown model.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from evidentia import Finding

OWNER_TAG = "owner"
PRODUCTION_STAGE = "production"
ARCHIVED_STAGE = "archived"


def is_production(version: Mapping[str, Any], production_aliases: Iterable[str]) -> bool:
    """In stage Production, or carrying one of the aliases that mean "serves" (case-insensitive)."""
    wanted = {a.lower() for a in production_aliases}
    stage = (version.get("stage") or "").lower()
    return stage == PRODUCTION_STAGE or any(a.lower() in wanted for a in version["aliases"])


def owner(model: Mapping[str, Any]) -> str | None:
    """The value of the model's `owner` tag (any case of the key), if it says anything."""
    for key, value in model["tags"].items():
        if key.lower() == OWNER_TAG and value is not None and str(value).strip():
            return str(value)
    return None


def registry_findings(
    models: Mapping[str, dict[str, Any]], aliases: list[str], unreadable: Mapping[str, tuple[int, str]]
) -> Iterator[Finding]:
    """Every finding, model by model; `unreadable` maps run ids to (HTTP status, reason)."""
    missing = {run_id for run_id, (status, _) in unreadable.items() if status == 404}
    for name in sorted(models):
        if models[name]["type"] != "model":
            continue  # a prompt has versions and aliases too, but is not a model that serves
        if models[name].get("listed", True):  # a model seen only through its versions: tags unknown
            yield from model_findings(models[name])
        for version in models[name]["versions"]:
            yield from version_findings(name, version, aliases, missing)


def model_findings(model: Mapping[str, Any]) -> Iterator[Finding]:
    if owner(model) is None:
        yield Finding(
            "model-without-owner",
            f"registered model {model['name']} has no '{OWNER_TAG}' tag: nobody is accountable for it",
            "medium",
            subject=model["name"],
        )


def version_findings(
    name: str, version: Mapping[str, Any], production_aliases: Iterable[str], missing_runs: set[str]
) -> Iterator[Finding]:
    """Findings for one version; `missing_runs` are run ids the server answered 404 for."""
    subject = f"{name}/{version['version']}"
    label = _label(version, production_aliases)
    if is_production(version, production_aliases):
        if version["description"] is None:
            yield Finding(
                "production-version-without-description",
                f"{subject} ({label}) has no description of what it is or why it was promoted",
                "high",
                subject=subject,
            )
        run_id = version["run_id"]
        if run_id is None or run_id in missing_runs:
            why = "no linked run" if run_id is None else f"its run {run_id} no longer exists"
            yield Finding(
                "production-version-without-run",
                f"{subject} ({label}) has {why}: its training data and parameters cannot be traced",
                "high",
                subject=subject,
            )
    if (version["stage"] or "").lower() == ARCHIVED_STAGE and version["aliases"]:
        reachable = ", ".join(f"{name}@{a}" for a in version["aliases"])
        yield Finding(
            "archived-version-still-aliased",
            f"{subject} is archived but still reachable as {reachable}",
            "medium",
            subject=subject,
        )


def _label(version: Mapping[str, Any], production_aliases: Iterable[str]) -> str:
    wanted = {a.lower() for a in production_aliases}
    serving = [f"@{a}" for a in version["aliases"] if a.lower() in wanted]
    stage = [f"stage {version['stage']}"] if (version["stage"] or "").lower() == PRODUCTION_STAGE else []
    return ", ".join(stage + serving)
