"""What gets written for each kind of ledger entry: artefacts, unchanged observations, runs, catalogues.

This turns an artefact and its provenance into metadata bytes and a ledger body, chooses its paths
(one per principle folder) and decides when a snapshot is "observed unchanged" instead of stored again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..catalog import Catalog
from ..collector import Artefact, Period, canonical_json, utc_iso
from . import layout
from .local import LocalStore

METADATA_VERSION = 1


@dataclass(frozen=True)
class Provenance:
    """Everything about how an artefact came to be, except its bytes."""

    instance: str
    collector: str
    collector_version: str
    plugin: str
    plugin_version: str
    tool_version: str
    run_id: str
    kind: str
    collected_at: dt.datetime
    period: Period
    calls: Sequence[str]
    params: Mapping[str, Any]
    stale_after_seconds: int


def file_artefact(
    store: LocalStore,
    catalog: Catalog,
    artefact: Artefact,
    principles: Sequence[str],
    prov: Provenance,
) -> tuple[bool, list[dict[str, Any]]]:
    """Queue an artefact filing, or an "unchanged" observation of the last identical snapshot.

    Returns whether it was unchanged, and the ledger entries a full batch flushed meanwhile.
    """
    digest = hashlib.sha256(artefact.content).hexdigest()
    ordered = sorted(set(principles), key=lambda p: catalog.principle(p).number)
    controls = catalog.controls_for(ordered)
    findings = [f.to_dict() for f in artefact.findings]
    common = {
        "instance": prov.instance,
        "collector": prov.collector,
        "name": artefact.name,
        "sha256": digest,
        "run": prov.run_id,
        "kind": prov.kind,
        "principles": ordered,
        "controls": controls,
        "findings": findings,
        "collected_at": utc_iso(prov.collected_at),
        "stale_after_seconds": prov.stale_after_seconds,
        **_coverage(prov),
    }
    last = store.index.last_snapshot.get((prov.instance, artefact.name))
    if (
        prov.kind == "snapshot"
        and last is not None
        and last["sha256"] == digest
        and last["principles"] == ordered
    ):
        body = {
            **common,
            "type": "unchanged",
            "same_as": last["seq"],
            "paths": last["paths"],
            "calls": list(prov.calls),
        }
        return True, store.add(body)
    filename = layout.artefact_filename(prov.collected_at, artefact.name, artefact.extension)
    folders = [f"{catalog.principle(pid).folder}/{prov.instance}" for pid in ordered]
    paths = store.unique_paths(folders, filename)
    meta_paths = [layout.meta_name(p) for p in paths]
    meta = canonical_json(
        {
            "evidentia_metadata": METADATA_VERSION,
            "artefact": {
                "name": artefact.name,
                "media_type": artefact.media_type,
                "sha256": digest,
                "size": len(artefact.content),
                "paths": paths,
                "summary": dict(artefact.summary),
            },
            "provenance": {
                "source": artefact.source,
                "calls": list(prov.calls),
                "params": dict(prov.params),
                "instance": prov.instance,
                "collector": {"name": prov.collector, "version": prov.collector_version},
                "plugin": {"package": prov.plugin, "version": prov.plugin_version},
                "tool": {"name": "evidentia", "version": prov.tool_version},
                "run": prov.run_id,
                "kind": prov.kind,
                "collected_at": utc_iso(prov.collected_at),
                **_coverage(prov),
            },
            "principles": ordered,
            "controls": controls,
            "catalog": {"version": catalog.version, "sha256": catalog.sha256()},
            "findings": findings,
        }
    )
    body = {
        **common,
        "type": "artefact",
        "size": len(artefact.content),
        "media_type": artefact.media_type,
        "paths": paths,
        "meta_path": meta_paths[0],
        "meta_paths": meta_paths,
        "meta_sha256": hashlib.sha256(meta).hexdigest(),
    }
    return False, store.add(body, artefact.content, meta)


def _coverage(prov: Provenance) -> dict[str, Any]:
    """Event evidence covers a period; a snapshot describes an instant."""
    if prov.kind == "events":
        return {"period": prov.period.to_dict()}
    return {"instant": utc_iso(prov.period.end)}


def file_catalog_if_changed(store: LocalStore, catalog: Catalog, moment: dt.datetime) -> list[dict[str, Any]]:
    """File the effective catalogue when it differs from the last one filed."""
    digest = catalog.sha256()
    if store.index.catalog_sha256 == digest:
        return []
    filename = layout.artefact_filename(moment, f"catalog-{catalog.version}", "json")
    [path] = store.unique_paths([layout.CATALOG_DIR], filename)
    body = {"type": "catalog", "version": catalog.version, "sha256": digest, "paths": [path]}
    entries = store.add(body, catalog.content())
    store.index.catalog_sha256 = digest  # a second call in the same batch must not file it twice
    return entries


def file_run_record(
    store: LocalStore,
    summary: Mapping[str, Any],
    run_id: str,
    moment: dt.datetime,
    signing_key_sha256: str | None = None,
) -> list[dict[str, Any]]:
    """File the run's summary; its `instances` (status and period) are what cursors derive from.

    `signing_key_sha256` is the promise, made before signing, that this run signs its own record
    with that key: `verify` then holds a store whose signature of this line (or a later one) is
    missing to be tampered with, rather than merely unsigned.
    """
    content = canonical_json(summary)
    filename = layout.artefact_filename(moment, f"run-{run_id}", "json")
    [path] = store.unique_paths([layout.RUNS_DIR], filename)
    body = {
        "type": "run",
        "run": run_id,
        "sha256": hashlib.sha256(content).hexdigest(),
        "paths": [path],
        "instances": [
            {k: inst[k] for k in ("id", "collector", "kind", "status", "period", "finished_at") if k in inst}
            for inst in summary.get("instances", [])
        ],
    }
    if signing_key_sha256 is not None:
        body["signing_key_sha256"] = signing_key_sha256
    store.add(body, content)
    return store.flush()
