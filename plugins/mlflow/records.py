"""MLflow's REST JSON turned into the registry evidence: models, versions and training runs.

The REST API gives key/value lists, epoch milliseconds and empty strings for "not set"; evidence
wants mappings an auditor can read, timezone-aware instants (rendered as UTC ISO 8601) and `None`.
Fields are copied, never guessed: what a server leaves out stays out.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)
LOGGED_MODELS_TAG = "mlflow.log-model.history"  # JSON list the client writes for each log_model
PROMPT_TAG = "mlflow.prompt.is_prompt"
LOGGED_MODEL_FIELDS = ("artifact_path", "model_uuid", "model_id", "utc_time_created", "signature")


def instant(millis: Any) -> dt.datetime | None:
    """Epoch milliseconds (int or numeric string) as an aware UTC datetime; 0 or absent is `None`."""
    try:
        value = int(millis)
        return EPOCH + dt.timedelta(milliseconds=value) if value > 0 else None
    except (TypeError, ValueError, OverflowError):
        return None


def text(value: Any) -> str | None:
    """A string field, with MLflow's empty string for "not set" as `None`."""
    if value is None:
        return None
    out = str(value)
    return out if out.strip() else None


def pairs(items: Any, key: str = "key", value: str = "value") -> dict[str, Any]:
    """MLflow's `[{"key": k, "value": v}, ...]` lists as a mapping (a repeated key keeps its last value)."""
    if not isinstance(items, list):
        return {}
    return {str(i[key]): i.get(value) for i in items if isinstance(i, dict) and key in i}


def model_record(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A registered model: who and what it is, its tags (owner, risk tier) and alias → version map.

    `type` tells models from prompts: MLflow 3 keeps prompts in the same registry, marked by a tag.
    Its unfiltered searches leave them out, but a server that lists them gets them filed as prompts
    (evidence too: P8 names prompts) without the model findings, which do not apply to them.
    """
    tags = pairs(raw.get("tags"))
    return {
        "name": str(raw.get("name", "")),
        "type": "prompt" if str(tags.get(PROMPT_TAG, "")).lower() == "true" else "model",
        "description": text(raw.get("description")),
        "user_id": text(raw.get("user_id")),
        "created": instant(raw.get("creation_timestamp")),
        "last_updated": instant(raw.get("last_updated_timestamp")),
        "tags": tags,
        "aliases": {str(k): str(v) for k, v in pairs(raw.get("aliases"), "alias", "version").items()},
        "versions": [],
        "notes": [],
    }


def version_record(raw: Mapping[str, Any], aliases: Iterable[str]) -> dict[str, Any]:
    """A model version with its stage, aliases and source run.

    `aliases` comes from the registered model: open-source MLflow leaves `aliases` out of
    `model-versions/search` results (only `model-versions/get` has them), so the model's
    alias → version map is the one complete source; any the version carries itself are merged in.
    """
    own = _list(raw.get("aliases"), str)
    return {
        "version": str(raw.get("version", "")),
        "stage": text(raw.get("current_stage")),
        "aliases": sorted({*aliases, *own}),
        "status": text(raw.get("status")),
        "status_message": text(raw.get("status_message")),
        "source": text(raw.get("source")),
        "run_id": text(raw.get("run_id")),
        "run_link": text(raw.get("run_link")),
        "model_id": text(raw.get("model_id")),
        "created": instant(raw.get("creation_timestamp")),
        "last_updated": instant(raw.get("last_updated_timestamp")),
        "user_id": text(raw.get("user_id")),
        "description": text(raw.get("description")),
        "tags": pairs(raw.get("tags")),
    }


def run_record(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A training run as provenance: parameters, dataset inputs (P8) and the models it logged."""
    info, data = _object(raw.get("info")), _object(raw.get("data"))
    inputs, outputs = _object(raw.get("inputs")), _object(raw.get("outputs"))
    tags = pairs(data.get("tags"))
    history = tags.pop(LOGGED_MODELS_TAG, None)
    return {
        "run_id": text(info.get("run_id") or info.get("run_uuid")),
        "run_name": text(info.get("run_name")),
        "experiment_id": text(info.get("experiment_id")),
        "user": text(tags.get("mlflow.user") or info.get("user_id")),
        "status": text(info.get("status")),
        "lifecycle_stage": text(info.get("lifecycle_stage")),
        "started": instant(info.get("start_time")),
        "ended": instant(info.get("end_time")),
        "artifact_uri": text(info.get("artifact_uri")),
        "params": pairs(data.get("params")),
        "metrics": pairs(data.get("metrics")),
        "tags": tags,
        "dataset_inputs": [dataset_input(d) for d in _list(inputs.get("dataset_inputs"))],
        "model_inputs": _list(inputs.get("model_inputs")),
        "model_outputs": _list(outputs.get("model_outputs")),
        "logged_models": logged_models(history),
    }


def dataset_input(raw: Mapping[str, Any]) -> dict[str, Any]:
    """A dataset the run consumed: name, digest, source and its schema/profile, plus context tags."""
    dataset = _object(raw.get("dataset"))
    fields = ("name", "digest", "source_type", "source", "schema", "profile")
    out: dict[str, Any] = {f: text(dataset.get(f)) for f in fields}
    out["tags"] = pairs(raw.get("tags"))
    return out


def logged_models(history: Any) -> list[dict[str, Any]]:
    """The `mlflow.log-model.history` tag: each logged model's path, flavours and, if kept, signature.

    Recent clients strip the signature from this tag (it lives in the MLmodel artifact, which this
    collector does not read), so it is filed when the tag has it and is otherwise absent.
    """
    try:
        entries = json.loads(history) if isinstance(history, str) else []
    except ValueError:
        return [{"unparsed": history}]
    out = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict):
            continue
        model = {f: entry[f] for f in LOGGED_MODEL_FIELDS if f in entry}
        flavors = entry.get("flavors")
        model["flavors"] = sorted(flavors) if isinstance(flavors, dict) else []
        out.append(model)
    return out


def _object(value: Any) -> dict[str, Any]:
    """A JSON object field, or `{}` when the server left it out or sent something else."""
    return value if isinstance(value, dict) else {}


def _list(value: Any, kind: type = dict) -> list[Any]:
    """The items of a JSON array field that have the expected type; `[]` for anything else."""
    return [v for v in value if isinstance(v, kind)] if isinstance(value, list) else []
