"""`mlflow.registry` against a real MLflow tracking server on loopback, seeded through its REST API.

One server per module (it takes ~7 s to start). The seeded registry has one culprit per finding and
clean look-alikes next to each, so every finding is checked for where it must and must not appear.
What MLflow cannot be made to do on demand (refuse one run, repeat a page token, list a prompt,
shift pages while a model is added) is scripted on the loopback server instead; those tests run
without the mlflow package.
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from http_server import LoopbackServer, Reply
from mlflow_server import MlflowServer, call, running_mlflow
from support import cli_env, run_cli, write_config

from evidentia.plugins.mlflow.registry import RegistryCollector
from evidentia.testing import make_context, run_collector

TOKEN = "mlflow-test-token-7Qx2Lw9pZk"
MISSING_RUN = "0123456789abcdef0123456789abcdef"
MODELS = ["churn", "fraud", "sentiment", "vision", "zeta-ranker"]
VERSIONS = {"churn": 3, "fraud": 3, "sentiment": 2, "vision": 0, "zeta-ranker": 1}
PROMPT = {"mlflow.prompt.is_prompt": "true"}


def _skip_reason() -> str | None:
    if importlib.util.find_spec("mlflow") is None:
        return "the mlflow package is not installed (test-only dependency: pip install mlflow)"
    return None


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    """A seeded MLflow server for the whole module; tests that need it skip if mlflow is missing."""
    reason = _skip_reason()
    if reason:
        pytest.skip(reason)
    with running_mlflow(tmp_path_factory.mktemp("mlflow")) as running:
        seed(running)
        yield running


def seed(s: MlflowServer) -> dict[str, str]:
    """The registry under test; returns the run ids by name."""
    experiment = call(s, "experiments/create", {"name": "training"})["experiment_id"]
    runs = {name: _run(s, experiment, name) for name in ("fraud-train", "churn-train")}
    fraud, churn = runs["fraud-train"], runs["churn-train"]
    _model(s, "churn", "Churn prediction", {"owner": "alice", "risk_tier": "high"})
    _version(s, "churn", churn, "baseline", stage="Archived", alias="champion")  # archived + aliased
    _version(s, "churn", churn, "retrained", stage="Staging", alias="challenger")
    _version(s, "churn", None, "hand-tuned", alias="prod")  # production without a run
    _model(s, "fraud", "Card fraud", {"owner": "bob"})
    _version(s, "fraud", fraud, "first cut")
    _version(s, "fraud", fraud, None, stage="Production")  # production without a description
    _version(s, "fraud", MISSING_RUN, "experimental")  # its run does not exist: a note
    _model(s, "sentiment", "Review sentiment", {"risk_tier": "low"})  # no owner
    _version(s, "sentiment", churn, "distilled", stage="Staging")
    _version(s, "sentiment", None, None)  # neither, but not in production: no finding
    _model(s, "support-prompt", "", PROMPT)  # an MLflow 3 prompt: unfiltered searches leave it out
    prompt = {"mlflow.prompt.text": "Answer {{question}} politely.", **PROMPT}
    _version(s, "support-prompt", None, None, alias="production", source="dummy-source", tags=prompt)
    _model(s, "vision", "", {"owner": "carol"})
    _model(s, "zeta-ranker", "Search ranking", {"Owner": "dan"})
    _version(s, "zeta-ranker", fraud, "clean production version", stage="Production")
    return runs


def _run(s: MlflowServer, experiment: str, name: str) -> str:
    now = int(time.time() * 1000)
    run = call(s, "runs/create", {"experiment_id": experiment, "run_name": name, "start_time": now})
    run_id = str(run["run"]["info"]["run_id"])
    call(s, "runs/log-parameter", {"run_id": run_id, "key": "learning_rate", "value": "0.1"})
    call(s, "runs/log-metric", {"run_id": run_id, "key": "auc", "value": 0.91, "timestamp": now})
    call(s, "runs/set-tag", {"run_id": run_id, "key": "mlflow.user", "value": "trainer"})
    call(s, "runs/set-tag", {"run_id": run_id, "key": "note", "value": f"deployed with {TOKEN}"})
    dataset = {
        "name": f"{name}-data",
        "digest": "d41d8cd9",
        "source_type": "s3",
        "source": json.dumps({"uri": f"s3://data/{name}.parquet"}),
        "schema": json.dumps({"mlflow_colspec": [{"type": "double", "name": "amount"}]}),
        "profile": json.dumps({"num_rows": 1000}),
    }
    tags = [{"key": "mlflow.data.context", "value": "training"}]
    call(s, "runs/log-inputs", {"run_id": run_id, "datasets": [{"tags": tags, "dataset": dataset}]})
    model = {
        "run_id": run_id,
        "artifact_path": "model",
        "utc_time_created": "2025-01-01 00:00:00.000000",
        "flavors": {"python_function": {}, "sklearn": {}},
        "model_uuid": f"uuid-{name}",
    }
    call(s, "runs/log-model", {"run_id": run_id, "model_json": json.dumps(model)})
    call(s, "runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": now + 1})
    return run_id


def _model(s: MlflowServer, name: str, description: str, tags: dict[str, str]) -> None:
    body = {
        "name": name,
        "description": description,
        "tags": [{"key": k, "value": v} for k, v in tags.items()],
    }
    call(s, "registered-models/create", body)


def _version(
    s: MlflowServer,
    name: str,
    run_id: str | None,
    description: str | None,
    *,
    stage: str | None = None,
    alias: str | None = None,
    source: str | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    body: dict[str, Any] = {"name": name, "source": source or f"s3://models/{name}/{run_id or 'manual'}"}
    if tags:
        body["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    if run_id:
        body["run_id"] = run_id
    if description:
        body["description"] = description
    version = call(s, "model-versions/create", body)["model_version"]["version"]
    if stage:
        transition = {"name": name, "version": version, "stage": stage, "archive_existing_versions": False}
        call(s, "model-versions/transition-stage", transition)
    if alias:
        call(s, "registered-models/alias", {"name": name, "alias": alias, "version": version})


def collect(params: dict[str, Any]) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    """Run the collector as the host would: (registry document, findings, context)."""
    ctx = make_context(RegistryCollector, params)
    [artefact] = list(RegistryCollector().collect(ctx))
    assert artefact.name == "registry"
    return json.loads(artefact.content), [f.to_dict() for f in artefact.findings], ctx


def test_every_model_and_version_exactly_once_across_small_pages(server: MlflowServer) -> None:
    doc, _, ctx = collect({"tracking_uri": server.url, "page_size": 2, "token": ""})
    assert [m["name"] for m in doc["models"]] == MODELS
    for model in doc["models"]:
        numbers = [v["version"] for v in model["versions"]]
        assert numbers == [str(n) for n in range(1, VERSIONS[model["name"]] + 1)], model["name"]
    # 5 models in pages of 2 (3 calls), 9 versions (5 calls), 3 distinct runs each read once; the
    # server leaves the prompt and its version out of unfiltered searches (MLflow 3 behaviour)
    assert ctx.request_count == 3 + 5 + 3
    calls = ctx.calls
    assert sum("/api/2.0/mlflow/registered-models/search?max_results=2" in c for c in calls) == 3
    assert sum("/api/2.0/mlflow/model-versions/search?max_results=2" in c for c in calls) == 5
    assert sum("page_token=" in c for c in calls) == 2 + 4
    run_calls = [c for c in calls if "/api/2.0/mlflow/runs/get?run_id=" in c]
    assert len(run_calls) == len(set(run_calls)) == 3
    assert all(c.startswith("GET http://127.0.0.1:") for c in calls)
    whole, _, one_page = collect({"tracking_uri": server.url, "token": ""})
    assert whole == doc, "paging changed the evidence"
    assert one_page.request_count == 1 + 1 + 3


def test_versions_carry_stage_aliases_and_run_provenance(server: MlflowServer) -> None:
    doc, _, _ = collect({"tracking_uri": server.url, "token": ""})
    models = {m["name"]: m for m in doc["models"]}
    churn = models["churn"]
    assert churn["tags"] == {"owner": "alice", "risk_tier": "high"}
    assert churn["aliases"] == {"champion": "1", "challenger": "2", "prod": "3"}
    assert churn["created"].endswith("Z") and churn["last_updated"].endswith("Z")
    v1, v2, v3 = churn["versions"]
    assert (v1["stage"], v1["aliases"], v1["description"]) == ("Archived", ["champion"], "baseline")
    assert (v2["stage"], v2["aliases"], v3["aliases"]) == ("Staging", ["challenger"], ["prod"])
    assert v3["run_id"] is None and v1["run_id"] == v2["run_id"]
    assert v1["status"] == "READY" and v1["source"].startswith("s3://models/churn/")
    run = doc["runs"][v1["run_id"]]
    assert run["params"] == {"learning_rate": "0.1"} and run["metrics"] == {"auc": 0.91}
    assert run["run_name"] == "churn-train" and run["user"] == "trainer" and run["status"] == "FINISHED"
    [dataset] = run["dataset_inputs"]
    assert dataset["name"] == "churn-train-data" and dataset["digest"] == "d41d8cd9"
    assert json.loads(dataset["source"]) == {"uri": "s3://data/churn-train.parquet"}
    assert dataset["tags"] == {"mlflow.data.context": "training"}
    [logged] = run["logged_models"]
    assert logged["artifact_path"] == "model" and logged["flavors"] == ["python_function", "sklearn"]
    assert "mlflow.log-model.history" not in run["tags"]
    assert set(doc["runs"]) == {v1["run_id"], models["fraud"]["versions"][0]["run_id"]}
    assert {m["type"] for m in doc["models"]} == {"model"}


def test_a_missing_run_is_a_note_on_its_model_not_a_failure(server: MlflowServer) -> None:
    doc, _, _ = collect({"tracking_uri": server.url, "token": ""})
    fraud = next(m for m in doc["models"] if m["name"] == "fraud")
    [note] = fraud["notes"]
    assert note["version"] == "3" and note["run_id"] == MISSING_RUN
    assert "HTTP 404" in note["could_not_read"] and "not found" in note["could_not_read"]
    assert set(doc["unreadable_runs"]) == {MISSING_RUN}
    assert all(not m["notes"] for m in doc["models"] if m["name"] != "fraud")


def test_each_finding_names_exactly_its_culprit(server: MlflowServer) -> None:
    _, findings, _ = collect({"tracking_uri": server.url, "token": ""})
    by_code: dict[str, list[tuple[str, str]]] = {}
    for f in findings:
        by_code.setdefault(f["code"], []).append((f["subject"], f["severity"]))
    assert by_code == {
        "model-without-owner": [("sentiment", "medium")],
        "archived-version-still-aliased": [("churn/1", "medium")],
        "production-version-without-run": [("churn/3", "high")],
        "production-version-without-description": [("fraud/2", "high")],
    }


def test_production_aliases_and_runs_are_configurable(server: MlflowServer) -> None:
    doc, findings, ctx = collect(
        {"tracking_uri": server.url, "token": "", "production_aliases": ["challenger"], "include_runs": False}
    )
    codes = {(f["code"], f["subject"]) for f in findings}
    assert ("production-version-without-run", "churn/3") not in codes  # @prod no longer serves
    assert ("production-version-without-description", "fraud/2") in codes  # stage Production still does
    assert doc["runs"] == {} and ctx.request_count == 2
    assert not any("runs/get" in c for c in ctx.calls)


def test_cli_collects_verifies_and_files_under_p5_and_p8(server: MlflowServer, tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        f"""
        collectors:
          - id: registry
            plugin: mlflow.registry
            params: {{tracking_uri: "{server.url}", page_size: 3}}
        """,
    )
    env = cli_env(MLFLOW_TRACKING_TOKEN=TOKEN)
    done = run_cli("collect", "-c", str(cfg), "--json", cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    [instance] = json.loads(done.stdout)["instances"]
    assert instance["status"] == "ok" and instance["requests"] == 2 + 3 + 3
    store = tmp_path / "evidence"
    verified = run_cli("verify", str(store), cwd=tmp_path, env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    for folder in ("P05-*", "P08-*"):
        filed = list(store.glob(f"{folder}/registry/*--registry.json"))
        assert len(filed) == 1, f"no registry artefact under {folder}: {sorted(store.iterdir())}"
    leaked = [p for p in store.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]
    assert leaked == []
    assert TOKEN not in done.stdout + done.stderr
    again = run_cli("collect", "-c", str(cfg), "--json", "--force", cwd=tmp_path, env=env)
    [instance] = json.loads(again.stdout)["instances"]
    assert (instance["status"], instance["unchanged"], instance["artefacts"]) == ("ok", 1, 0)


def test_credentials_are_sent_as_the_mlflow_client_sends_them() -> None:
    with LoopbackServer() as fake:
        for path in ("registered-models/search", "model-versions/search"):
            fake.always(f"/api/2.0/mlflow/{path}", Reply.json({}))
        run_collector(RegistryCollector, {"tracking_uri": fake.base_url, "token": "tok-123"})
        run_collector(
            RegistryCollector,
            {"tracking_uri": fake.base_url, "token": "tok-123", "username": "u", "password": "p"},
        )
        run_collector(RegistryCollector, {"tracking_uri": fake.base_url})  # unresolved ${...} defaults
        sent = [
            r.header("Authorization") for r in fake.requests_to("/api/2.0/mlflow/registered-models/search")
        ]
    assert sent == ["Bearer tok-123", "Basic dTpw", None]


def test_a_refused_run_is_noted_but_a_refused_listing_fails() -> None:
    version = {"name": "m", "version": "1", "run_id": "r1", "current_stage": "Production", "description": "d"}
    with LoopbackServer() as fake:
        fake.always(
            "/api/2.0/mlflow/registered-models/search", Reply.json({"registered_models": [{"name": "m"}]})
        )
        fake.always("/api/2.0/mlflow/model-versions/search", Reply.json({"model_versions": [version]}))
        denied = {"error_code": "PERMISSION_DENIED", "message": "no READ on experiment 7"}
        fake.always("/api/2.0/mlflow/runs/get", Reply.json(denied, status=403))
        doc, findings, _ = collect({"tracking_uri": fake.base_url, "token": ""})
        [note] = doc["models"][0]["notes"]
        assert "HTTP 403 PERMISSION_DENIED: no READ on experiment 7" in note["could_not_read"]
        assert [f["code"] for f in findings] == ["model-without-owner"]  # a 403 is not a missing run
        gone = {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Run with id=r1 not found"}
        fake.always("/api/2.0/mlflow/runs/get", Reply.json(gone, status=404))
        _, findings, _ = collect({"tracking_uri": fake.base_url, "token": ""})
        [lost] = [f for f in findings if f["code"] == "production-version-without-run"]
        assert "its run r1 no longer exists" in lost["message"]
        fake.always("/api/2.0/mlflow/registered-models/search", Reply.json(denied, status=403))
        with pytest.raises(RuntimeError, match="registered-models/search: HTTP 403 PERMISSION_DENIED"):
            collect({"tracking_uri": fake.base_url, "token": ""})


def test_a_repeated_page_token_is_an_error_not_a_hang() -> None:
    with LoopbackServer() as fake:
        page = {"registered_models": [{"name": "m"}], "next_page_token": "same"}
        fake.always("/api/2.0/mlflow/registered-models/search", Reply.json(page))
        with pytest.raises(RuntimeError, match="repeated a page token"):
            collect({"tracking_uri": fake.base_url, "token": ""})
        assert len(fake.requests_to("/api/2.0/mlflow/registered-models/search")) == 2


def test_a_prompt_listed_with_the_models_is_filed_without_model_findings() -> None:
    """Servers that list prompts among models (the tag marks them) get them inventoried, not judged."""
    prompt = {"name": "p", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]}
    prompt["aliases"] = [{"alias": "production", "version": "1"}]
    version = {"name": "p", "version": "1", "source": "dummy-source", "current_stage": "None"}
    with LoopbackServer() as fake:
        fake.always("/api/2.0/mlflow/registered-models/search", Reply.json({"registered_models": [prompt]}))
        fake.always("/api/2.0/mlflow/model-versions/search", Reply.json({"model_versions": [version]}))
        ctx = make_context(RegistryCollector, {"tracking_uri": fake.base_url, "token": ""})
        [artefact] = list(RegistryCollector().collect(ctx))
    [filed] = json.loads(artefact.content)["models"]
    assert filed["type"] == "prompt" and filed["versions"][0]["aliases"] == ["production"]
    assert artefact.findings == ()
    assert (artefact.summary["models"], artefact.summary["prompts"]) == (0, 1)


def test_registry_changes_while_paging_file_each_item_once() -> None:
    """Offset page tokens shift when a model is added mid-listing: duplicates and late models."""
    a, b, c = ({"name": n, "tags": [{"key": "owner", "value": "x"}]} for n in "abc")
    v = [{"name": n, "version": "1", "description": "d"} for n in ("a", "b", "late")]
    with LoopbackServer() as fake:
        models = "/api/2.0/mlflow/registered-models/search"
        fake.script(models, Reply.json({"registered_models": [a, b], "next_page_token": "t1"}))
        fake.script(models, Reply.json({"registered_models": [b, c]}))
        versions = "/api/2.0/mlflow/model-versions/search"
        fake.script(versions, Reply.json({"model_versions": v[:2], "next_page_token": "t1"}))
        fake.script(versions, Reply.json({"model_versions": v[1:]}))
        doc, findings, ctx = collect({"tracking_uri": fake.base_url, "token": "", "page_size": 2})
        assert "page_token=t1" in fake.requests_to(models)[1].path
    assert [(m["name"], len(m["versions"])) for m in doc["models"]] == [
        ("a", 1),
        ("b", 1),
        ("c", 0),
        ("late", 1),
    ]
    late = doc["models"][3]
    assert late["listed"] is False and "created meanwhile" in late["notes"][0]["note"]
    assert findings == [] and ctx.request_count == 4
