"""OSCAL Assessment Results from real stores, validated against the OSCAL model (compliance-trestle)."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import shutil
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from support import provenance, run_cli

from evidentia.catalog import load_builtin
from evidentia.collector import Artefact, Finding, utc_iso
from evidentia.errors import StoreError
from evidentia.report.oscal import OSCAL_VERSION, assessment_results, oscal_json, oscal_token
from evidentia.store.local import LocalStore
from evidentia.store.records import Provenance, file_artefact, file_catalog_if_changed

UTC = dt.timezone.utc
# recent enough that the evidence is fresh at the last filing (the test's own wall-clock filing time)
T0 = dt.datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)


def prov(at: dt.datetime, instance: str, collector: str, kind: str = "snapshot") -> Provenance:
    return provenance(at, instance=instance, collector=collector, kind=kind)


def file_one(root: Path, artefact: Artefact, principles: Sequence[str], provenance: Provenance) -> None:
    catalog = load_builtin()
    with LocalStore(root) as store:
        file_catalog_if_changed(store, catalog, provenance.collected_at)
        file_artefact(store, catalog, artefact, principles, provenance)


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """An inventory (P5, P7) with a high finding, and a change population (P11) without findings."""
    root = tmp_path / "ev"
    finding = Finding("unowned-model", "model m1 has no owner", "high", subject="m1")
    inventory = Artefact.json("inventory", {"models": ["m1"]}, findings=[finding])
    file_one(root, inventory, ["P5", "P7"], prov(T0, "inv", "local.ai_inventory"))
    changes = Artefact.json("commits", {"commits": [{"sha": "abc"}]})
    file_one(root, changes, ["P11"], prov(T0 + HOUR, "repo", "local.git", kind="events"))
    return root


def validate(doc: dict[str, Any]) -> Any:
    """Validate with compliance-trestle's OSCAL model (pydantic, generated from NIST's schemas)."""
    model = pytest.importorskip(
        "trestle.oscal.assessment_results", reason="compliance-trestle is a test extra"
    )
    return model.Model.model_validate(doc)


def result_of(doc: dict[str, Any]) -> dict[str, Any]:
    [result] = doc["assessment-results"]["results"]
    return result


def observation_of(doc: dict[str, Any], instance: str) -> dict[str, Any]:
    [found] = [
        o
        for o in result_of(doc)["observations"]
        if {"name": "instance", "ns": "urn:evidentia:oscal", "value": instance} in o["props"]
    ]
    return found


def control_finding(doc: dict[str, Any], framework: str, control: str) -> dict[str, Any]:
    [found] = [
        f
        for f in result_of(doc)["findings"]
        if {"name": "framework", "ns": "urn:evidentia:oscal", "value": framework} in f["props"]
        and f["target"]["target-id"] == oscal_token(control)
    ]
    return found


# -- the model ----------------------------------------------------------------------------------------


def test_document_validates_against_the_oscal_model(store: Path) -> None:
    doc = assessment_results(store)
    model = validate(doc)
    assert model.assessment_results.metadata.oscal_version.root.root == OSCAL_VERSION
    assert list(doc) == ["assessment-results"]


def test_the_validator_rejects_what_oscal_forbids(store: Path) -> None:
    """The check is real: a version 1 UUID (OSCAL allows 4 and 5), an unknown key, no import-ap."""
    doc = assessment_results(store)
    bad_uuid = copy.deepcopy(doc)
    bad_uuid["assessment-results"]["uuid"] = str(uuid.uuid1())
    unknown_key = copy.deepcopy(doc)
    result_of(unknown_key)["observations"][0]["sha256"] = "x"
    no_plan = copy.deepcopy(doc)
    del no_plan["assessment-results"]["import-ap"]
    for broken in (bad_uuid, unknown_key, no_plan):
        with pytest.raises(ValueError):
            validate(broken)


def test_a_real_collected_store_validates(tmp_path: Path) -> None:
    """The shipped config's evidence (git history, documents, inventory, vendors) exports validly."""
    from support import REPO

    root = tmp_path / "ev"
    done = run_cli("collect", "-c", str(REPO / "collectors.yaml"), "--store", str(root), cwd=REPO)
    assert done.returncode == 0, done.stderr
    doc = assessment_results(root)
    validate(doc)
    assert len(result_of(doc)["observations"]) >= 5


# -- reproducibility -----------------------------------------------------------------------------------


def test_two_exports_of_the_same_store_are_identical_even_when_copied(store: Path, tmp_path: Path) -> None:
    first = oscal_json(store)
    copy_root = tmp_path / "elsewhere" / "copy"
    shutil.copytree(store, copy_root)
    assert oscal_json(store) == first
    assert oscal_json(copy_root) == first
    assert str(store) not in first


def test_uuids_are_version_5_unique_and_stable_as_the_store_grows(store: Path) -> None:
    doc = assessment_results(store)
    text = json.dumps(doc)
    uuids = [u for key in ("uuid", "observation-uuid", "actor-uuid") for u in _values(doc, key)]
    assert all(uuid.UUID(u).version == 5 for u in uuids)
    defined = _values(doc, "uuid")
    assert len(defined) == len(set(defined))
    assert set(_values(doc, "observation-uuid")) <= set(defined)  # every reference resolves
    before = {o["title"]: o["uuid"] for o in result_of(doc)["observations"]}

    file_one(store, Artefact.json("vendors", {"v": 1}), ["P7"], prov(T0 + 2 * HOUR, "vend", "local.vendors"))
    grown = assessment_results(store)
    after = {o["title"]: o["uuid"] for o in result_of(grown)["observations"]}
    assert len(after) == len(before) + 1
    assert {t: after[t] for t in before} == before
    assert grown["assessment-results"]["uuid"] == doc["assessment-results"]["uuid"]
    assert json.dumps(grown) != text


def test_other_stores_get_other_uuids(store: Path, tmp_path: Path) -> None:
    twin = tmp_path / "twin"
    file_one(
        twin,
        Artefact.json("commits", {"commits": [{"sha": "abc"}]}),
        ["P11"],
        prov(T0, "repo", "local.git", "events"),
    )
    assert (
        assessment_results(twin)["assessment-results"]["uuid"]
        != assessment_results(store)["assessment-results"]["uuid"]
    )


def test_timestamps_come_from_the_ledger(store: Path) -> None:
    doc = assessment_results(store)
    ledger = [json.loads(line) for line in (store / "ledger.jsonl").read_text().splitlines()]
    result = result_of(doc)
    assert result["start"] == ledger[0]["recorded_at"]
    assert result["end"] == ledger[-1]["recorded_at"]
    assert doc["assessment-results"]["metadata"]["last-modified"] == ledger[-1]["recorded_at"]
    collected = {o["collected"] for o in result["observations"]}
    assert collected == {utc_iso(T0), utc_iso(T0 + HOUR)}


# -- observations, findings and controls ----------------------------------------------------------------


def test_one_observation_per_artefact_with_its_hash_and_relative_link(store: Path) -> None:
    doc = assessment_results(store)
    observations = result_of(doc)["observations"]
    assert len(observations) == 2
    resources = {r["uuid"]: r for r in doc["assessment-results"]["back-matter"]["resources"]}
    for observation in observations:
        [evidence] = observation["relevant-evidence"]
        path = store / unquote(evidence["href"])
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert {"name": "sha256", "ns": "urn:evidentia:oscal", "value": digest} in observation["props"]
        [link] = observation["links"]
        resource = resources[link["href"].lstrip("#")]
        for rlink in resource["rlinks"]:
            [hashed] = rlink["hashes"]
            assert hashed["algorithm"] == "SHA-256"
            assert (
                hashlib.sha256((store / unquote(rlink["href"])).read_bytes()).hexdigest() == hashed["value"]
            )
    inventory = observation_of(doc, "inv")
    assert len(resources[inventory["links"][0]["href"][1:]]["rlinks"]) == 4  # P5 and P7 copies, 2 metadata
    assert inventory["title"] == f"inv: inventory, as of {utc_iso(T0)}"
    changes = observation_of(doc, "repo")
    assert changes["title"] == f"repo: commits, covering [{utc_iso(T0 + HOUR - DAY)}, {utc_iso(T0 + HOUR)})"


def hrefs(doc: dict[str, Any]) -> list[str]:
    result = result_of(doc)
    found = [e["href"] for o in result["observations"] for e in o["relevant-evidence"]]
    resources = doc["assessment-results"]["back-matter"]["resources"]
    return found + [link["href"] for r in resources for link in r.get("rlinks", [])]


def test_links_resolve_from_wherever_the_document_is_written(store: Path, tmp_path: Path) -> None:
    """OSCAL resolves hrefs against the document's location; --output elsewhere must not break them."""
    out = tmp_path / "for the auditor" / "ar.json"
    out.parent.mkdir()
    done = run_cli("report", "--store", str(store), "--format", "oscal", "--output", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(out.read_text(encoding="utf-8"))
    validate(doc)
    links = hrefs(doc)
    assert links and all(h.startswith("../ev/") for h in links)
    for href in links:  # each is a relative URI reference that resolves to the file it hashes
        assert not Path(unquote(href)).is_absolute()
        assert (out.parent / unquote(href)).resolve().is_file(), href
    assert str(tmp_path) not in out.read_text(encoding="utf-8")
    metadata = doc["assessment-results"]["metadata"]
    assert {"name": "evidence-base", "ns": "urn:evidentia:oscal", "value": "../ev/"} in metadata["props"]
    beside = assessment_results(store)  # printed, or written into the store's top folder
    assert all(not h.startswith("..") and (store / unquote(h)).is_file() for h in hrefs(beside))
    assert _without_links(beside) == _without_links(doc)  # only the links moved


def _without_links(doc: dict[str, Any]) -> str:
    text = json.dumps(doc, sort_keys=True)
    for href in hrefs(doc):
        text = text.replace(json.dumps(href), '"HREF"')
    metadata = doc["assessment-results"]["metadata"]
    return text.replace(json.dumps(metadata["remarks"]), '"R"').replace('"../ev/"', '"."')


def test_a_collector_finding_appears_under_the_controls_its_principle_maps_to(store: Path) -> None:
    doc = assessment_results(store)
    catalog = load_builtin()
    p5_iso = {c.id for c in catalog.principle("P5").mappings["iso27001"]}
    p11_soc2 = {c.id for c in catalog.principle("P11").mappings["soc2"]}
    evidenced = {c.id for p in ("P5", "P7") for c in catalog.principle(p).mappings["soc2"]}
    inventory_uuid = observation_of(doc, "inv")["uuid"]
    for control in sorted(p5_iso):
        finding = control_finding(doc, "iso27001", control)
        assert finding["target"]["status"] == {"state": "not-satisfied", "reason": "fail"}
        assert "[high] unowned-model: 1" in finding["description"]
        assert {"observation-uuid": inventory_uuid} in finding["related-observations"]
    for control in sorted(p11_soc2 - evidenced):  # only the finding-free change population speaks to these
        finding = control_finding(doc, "soc2", control)
        assert finding["target"]["status"] == {"state": "satisfied", "reason": "pass"}
        assert "unowned-model" not in finding["description"]
    principle = control_finding(doc, "en304223", "P5")
    assert principle["target"]["status"]["reason"] == "fail"
    assert control_finding(doc, "en304223", "P1")["target"]["status"] == {
        "state": "not-satisfied",
        "reason": "other",
    }
    assert "related-observations" not in control_finding(doc, "en304223", "P1")


def test_reviewed_controls_cover_the_three_frameworks(store: Path) -> None:
    doc = assessment_results(store)
    catalog = load_builtin()
    selections = result_of(doc)["reviewed-controls"]["control-selections"]
    by_framework = {
        s["props"][0]["value"]: {c["control-id"] for c in s["include-controls"]} for s in selections
    }
    assert set(by_framework) == {"en304223", "iso27001", "soc2"}
    assert by_framework["en304223"] == set(catalog.principles)
    iso = {oscal_token(c.id) for p in catalog.principles.values() for c in p.mappings.get("iso27001", ())}
    assert by_framework["iso27001"] == iso
    assert "_6.1.2" in iso  # an ISO clause is not an OSCAL token as written: it is prefixed
    findings = result_of(doc)["findings"]
    assert len(findings) == sum(len(ids) for ids in by_framework.values())


def test_import_ap_points_at_the_filed_catalogue(store: Path) -> None:
    doc = assessment_results(store)["assessment-results"]
    resources = {r["uuid"]: r for r in doc["back-matter"]["resources"]}
    catalogue = resources[doc["import-ap"]["href"].lstrip("#")]
    [rlink] = catalogue["rlinks"]
    assert rlink["href"].startswith("catalog/")
    assert (
        hashlib.sha256((Path(store) / rlink["href"]).read_bytes()).hexdigest() == rlink["hashes"][0]["value"]
    )
    assert "does not author an OSCAL assessment plan" in doc["import-ap"]["remarks"]


def test_oscal_tokens() -> None:
    assert oscal_token("A.5.9") == "A.5.9"
    assert oscal_token("CC6.1") == "CC6.1"
    assert oscal_token("6.1.2") == "_6.1.2"
    assert oscal_token("GOVERN 1.1") == "GOVERN-1.1"


def test_an_empty_store_is_a_clear_error(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    root.mkdir()
    (root / "ledger.jsonl").write_bytes(b"")
    with pytest.raises(StoreError, match="holds no filings yet"):
        assessment_results(root)


# -- the command ----------------------------------------------------------------------------------------


def test_cli_report_format_oscal(store: Path, tmp_path: Path) -> None:
    out = tmp_path / "ar.json"
    done = run_cli("report", "--store", str(store), "--format", "oscal", "--output", str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8") == oscal_json(store, tmp_path)
    again = run_cli("report", "--store", str(store), "--format", "oscal", "--output", str(out), cwd=tmp_path)
    assert again.returncode == 0 and out.read_text(encoding="utf-8") == oscal_json(store, tmp_path)
    printed = run_cli("report", "--store", str(store), "--format", "oscal", cwd=tmp_path)
    assert printed.returncode == 0 and printed.stdout == oscal_json(store)


def _values(node: Any, key: str) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == key and isinstance(v, str)] + [
            x for v in node.values() for x in _values(v, key)
        ]
    if isinstance(node, list):
        return [x for v in node for x in _values(v, key)]
    return []
