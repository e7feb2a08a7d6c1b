"""`mlflow.registry`: an MLflow model registry filed as an inventory of models with their provenance.

EN 304 223 asks for an inventory of models with owners (P5) and for documentation of models and the
data they were trained on (P8). The registry is where most teams keep that: every registered model
with its tags and aliases, every version with stage, status and source run, and, through the run,
the parameters and datasets that produced it.

Why P5 and P8 but not P13: P13 is disposal ("delete data and configuration on decommissioning").
A registry snapshot shows versions in stage Archived, which is a label, not disposal: archived
versions stay downloadable. The one retirement-related check, `archived-version-still-aliased`, is
filed as an inventory problem (an alias points at the wrong asset, P5). Disposal evidence needs the
artifact store and deletion records, which this collector does not read.

One snapshot artefact, `registry`, so the host's "unchanged" detection works: models and versions
are sorted, and nothing in it depends on when it was collected.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from evidentia import Artefact, CollectContext, Collector, Finding

from .client import (
    MAX_PAGE,
    MODELS_ENDPOINT,
    VERSIONS_ENDPOINT,
    MlflowApiError,
    MlflowRest,
    authenticate,
    public_uri,
    secret_value,
)
from .findings import is_production, registry_findings
from .records import model_record, run_record, version_record

DEFAULT_PRODUCTION_ALIASES = ["champion", "production", "prod"]
# A run the server refuses or does not have is a note on the model, not a failed collection.
NOTED_RUN_STATUSES = frozenset({400, 403, 404})


def _version_key(version: Mapping[str, Any]) -> tuple[int, str]:
    number = str(version["version"])
    return (int(number), "") if number.isdigit() else (2**63, number)


class RegistryCollector(Collector):
    name = "mlflow.registry"
    version = "1"
    description = (
        "MLflow model registry (open source or Databricks, REST API): every registered model with "
        "owner and risk tags and aliases, every version with stage, status and source run, and the "
        "run's parameters and dataset inputs; findings for ownerless models, undocumented or "
        "untraceable production versions, and archived versions still aliased."
    )
    principles = ("P5", "P8")
    kind = "snapshot"
    secret_params = ("token", "username", "password")
    permissions = (
        "MLflow: read (CAN_READ / READ) on the registered models to inventory",
        "MLflow: read on the experiments holding their source runs (runs/get), if include_runs",
        "Databricks: a token with the 'mlflow' API scope and the same read permissions",
    )
    # Run parameters and tags are written by training code and sometimes hold credentials.
    redact_fields = ("password", "passwd", "secret", "api_key", "apikey", "access_token", "client_secret")
    params_schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "additionalProperties": False,
        "required": ["tracking_uri"],
        "properties": {
            "tracking_uri": {
                "type": "string",
                "pattern": "^https?://[^/\\s]+",
                "description": "The tracking server's base URL (http or https), e.g. "
                "https://mlflow.example.com or a Databricks workspace URL.",
            },
            "token": {
                "type": "string",
                "default": "${MLFLOW_TRACKING_TOKEN:-}",
                "description": "Bearer token (MLflow auth or a Databricks token); used unless "
                "username and password are both set, as the MLflow client does.",
            },
            "username": {
                "type": "string",
                "default": "${MLFLOW_TRACKING_USERNAME:-}",
                "description": "Basic-auth user, with password (MLflow's basic-auth app).",
            },
            "password": {
                "type": "string",
                "default": "${MLFLOW_TRACKING_PASSWORD:-}",
                "description": "Basic-auth password, with username.",
            },
            "page_size": {
                "type": "integer",
                "minimum": 1,
                "default": MAX_PAGE[VERSIONS_ENDPOINT],
                "description": "Results per page (max_results), capped at each endpoint's maximum: "
                f"{MAX_PAGE[MODELS_ENDPOINT]} registered models, {MAX_PAGE[VERSIONS_ENDPOINT]} "
                "model versions. The default asks for the largest page each endpoint allows.",
            },
            "production_aliases": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "default": DEFAULT_PRODUCTION_ALIASES,
                "description": "Aliases that mean a version serves, like stage Production "
                "(compared case-insensitively).",
            },
            "include_runs": {
                "type": "boolean",
                "default": True,
                "description": "Read each linked run once (runs/get) for its parameters, dataset "
                "inputs and logged models: the training provenance P8 asks for.",
            },
        },
    }

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        params = ctx.params
        session = ctx.http_session()
        auth = authenticate(
            session,
            secret_value(params.get("token")),
            secret_value(params.get("username")),
            secret_value(params.get("password")),
        )
        rest = MlflowRest(session, params["tracking_uri"])
        page_size = int(params.get("page_size", MAX_PAGE[VERSIONS_ENDPOINT]))
        aliases = list(params.get("production_aliases", DEFAULT_PRODUCTION_ALIASES))
        models = list_models(rest, page_size)
        attach_versions(rest, models, page_size)
        runs, unreadable = read_runs(ctx, rest, models) if params.get("include_runs", True) else ({}, {})
        findings = list(registry_findings(models, aliases, unreadable))
        ordered = [models[name] for name in sorted(models)]
        yield Artefact.json(
            "registry",
            {
                "tracking_uri": public_uri(params["tracking_uri"]),
                "authentication": auth,
                "production_aliases": aliases,
                "include_runs": bool(params.get("include_runs", True)),
                "models": ordered,
                "runs": runs,
                "unreadable_runs": {run_id: error for run_id, (_, error) in unreadable.items()},
            },
            source=public_uri(params["tracking_uri"]),
            findings=findings,
            summary=summarise(ordered, aliases, runs, unreadable, findings),
        )


def list_models(rest: MlflowRest, page_size: int) -> dict[str, dict[str, Any]]:
    """Every registered model by name; a name seen twice (offset paging shifted) is kept once."""
    models: dict[str, dict[str, Any]] = {}
    for raw in rest.search(MODELS_ENDPOINT, "registered_models", page_size):
        record = model_record(raw)
        models.setdefault(record["name"], record)
    return models


def attach_versions(rest: MlflowRest, models: dict[str, dict[str, Any]], page_size: int) -> None:
    """Every version, under its model, once, in version order; aliases joined from the model."""
    seen: set[tuple[str, str]] = set()
    for raw in rest.search(VERSIONS_ENDPOINT, "model_versions", page_size):
        name = str(raw.get("name", ""))
        model = models.get(name)
        if model is None:  # registered while we were paging: still evidence, said as such
            model = models[name] = {**model_record({"name": name}), "listed": False}
            model["notes"].append({"note": "listed by model-versions/search only (created meanwhile?)"})
        number = str(raw.get("version", ""))
        if (name, number) in seen:
            continue
        seen.add((name, number))
        by_version = [alias for alias, v in model["aliases"].items() if v == number]
        model["versions"].append(version_record(raw, by_version))
    for model in models.values():
        model["versions"].sort(key=_version_key)


def read_runs(
    ctx: CollectContext, rest: MlflowRest, models: Mapping[str, dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, tuple[int, str]]]:
    """Each linked run read once: (runs by id, unreadable run id → (HTTP status, reason)).

    A run the server refuses (403) or no longer has (404) becomes a note on each model whose
    versions point at it; anything else (auth failure on every call, server down) fails the run.
    """
    runs: dict[str, Any] = {}
    unreadable: dict[str, tuple[int, str]] = {}
    for run_id in sorted({v["run_id"] for m in models.values() for v in m["versions"] if v["run_id"]}):
        try:
            runs[run_id] = run_record(rest.run(run_id))
        except MlflowApiError as exc:
            if exc.status not in NOTED_RUN_STATUSES:
                raise
            unreadable[run_id] = (exc.status, ctx.scrub(str(exc)))
            ctx.log.warning("could not read run %s: %s", run_id, unreadable[run_id][1])
    for model in models.values():
        for version in model["versions"]:
            if version["run_id"] in unreadable:
                error = unreadable[version["run_id"]][1]
                model["notes"].append(
                    {"version": version["version"], "run_id": version["run_id"], "could_not_read": error}
                )
    return runs, unreadable


def summarise(
    models: list[dict[str, Any]],
    aliases: list[str],
    runs: Mapping[str, Any],
    unreadable: Mapping[str, Any],
    findings: list[Finding],
) -> dict[str, Any]:
    versions = [v for m in models if m["type"] == "model" for v in m["versions"]]
    return {
        "models": sum(1 for m in models if m["type"] == "model"),
        "prompts": sum(1 for m in models if m["type"] == "prompt"),
        "versions": len(versions),
        "production_versions": sum(1 for v in versions if is_production(v, aliases)),
        "archived_versions": sum(1 for v in versions if (v["stage"] or "").lower() == "archived"),
        "runs_read": len(runs),
        "runs_unreadable": len(unreadable),
        "findings": len(findings),
    }
