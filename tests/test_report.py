"""Coverage reports built from real stores, written with the real store code."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from support import provenance

from evidentia.catalog import Catalog, add_framework_file, apply_mapping_overrides, load_builtin
from evidentia.collector import Artefact, Finding, Period
from evidentia.errors import StoreError
from evidentia.report import build_coverage, catalog_from_document, render
from evidentia.report.populations import holes_between, merge_periods
from evidentia.store.local import LocalStore
from evidentia.store.records import (
    Provenance,
    file_artefact,
    file_catalog_if_changed,
    file_run_record,
)

UTC = dt.timezone.utc
T0 = dt.datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
DAY = dt.timedelta(days=1)
TWO_DAYS = 172800


def prov(at: dt.datetime = T0, **fields: Any) -> Provenance:
    return provenance(at, **fields)


def file_one(
    root: Path,
    artefact: Artefact,
    principles: Sequence[str],
    provenance: Provenance,
    catalog: Catalog | None = None,
) -> None:
    """One run's filing: the catalogue (if changed) and the artefact, in a fresh store session."""
    cat = catalog or load_builtin()
    with LocalStore(root) as store:
        file_catalog_if_changed(store, cat, provenance.collected_at)
        file_artefact(store, cat, artefact, principles, provenance)
        store.flush()


def inventory(findings: Sequence[Finding] = (), data: Any = None) -> Artefact:
    return Artefact.json("inventory", data or {"models": ["m1"]}, findings=findings)


def events(root: Path, start: dt.datetime, end: dt.datetime, instance: str = "logs") -> None:
    artefact = Artefact.json("requests", {"from": start, "to": end})
    span = Period(start, end)
    p = prov(end, instance=instance, collector="local.logs", kind="events", period=span)
    file_one(root, artefact, ["P12"], p)


def ledger_entries(root: Path) -> list[dict[str, Any]]:
    lines = (root / "ledger.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture
def store(tmp_path: Path) -> Path:
    """A store with one P5+P7 inventory (with a finding) and one P12 events artefact."""
    root = tmp_path / "ev"
    finding = Finding("unowned-model", "model m1 has no owner", "high", subject="m1")
    file_one(root, inventory([finding]), ["P7", "P5"], prov())
    events(root, T0 - DAY, T0)
    return root


# -- freshness -------------------------------------------------------------------------------------


def test_principle_with_evidence_is_fresh_and_one_without_is_missing(store: Path) -> None:
    cov = build_coverage(store, T0 + DAY)
    assert cov.principle("P5").status == "fresh"
    assert cov.principle("P7").status == "fresh"
    assert cov.principle("P1").status == "missing"
    assert cov.principle("P1").artefacts == ()
    assert "P1" in [p.id for p in cov.gaps()] and "P5" not in [p.id for p in cov.gaps()]


def test_multi_principle_artefact_links_each_principle_to_its_own_folder(store: Path) -> None:
    cov = build_coverage(store, T0)
    [p5_path] = cov.principle("P5").paths()
    [p7_path] = cov.principle("P7").paths()
    assert p5_path.startswith("P05-") and p7_path.startswith("P07-")
    assert (store / p5_path).read_bytes() == (store / p7_path).read_bytes()


def test_evidence_older_than_stale_after_is_stale(store: Path) -> None:
    assert build_coverage(store, T0 + dt.timedelta(seconds=TWO_DAYS)).principle("P5").status == ("fresh")
    later = build_coverage(store, T0 + dt.timedelta(seconds=TWO_DAYS + 1))
    assert later.principle("P5").status == "stale"
    assert later.principle("P5").stale == 1 and later.principle("P5").fresh == 0
    assert later.principle("P1").status == "missing"


def test_unchanged_observation_refreshes_the_artefact(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    file_one(root, inventory(), ["P5"], prov(T0))
    file_one(root, inventory(), ["P5"], prov(T0 + 2 * DAY, run="r2"))
    assert [e["type"] for e in ledger_entries(root)] == ["catalog", "artefact", "unchanged"]

    cov = build_coverage(root, T0 + 3 * DAY)
    [artefact] = cov.artefacts
    assert artefact.observations == 2
    assert artefact.last_observed_at == T0 + 2 * DAY
    assert artefact.collected_at == T0
    assert cov.principle("P5").status == "fresh"
    assert build_coverage(root, T0 + 5 * DAY).principle("P5").status == "stale"


def test_unchanged_observation_carries_the_latest_findings(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    file_one(root, inventory(), ["P5"], prov(T0))
    again = inventory([Finding("expired", "owner left", "medium")])
    file_one(root, again, ["P5"], prov(T0 + DAY, run="r2"))
    [finding] = build_coverage(root, T0 + DAY).principle("P5").findings
    assert finding.code == "expired"


def test_changed_snapshot_supersedes_the_old_one_and_its_findings(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    file_one(root, inventory([Finding("old", "fixed since", "high")]), ["P5"], prov(T0))
    file_one(root, inventory(data={"models": ["m2"]}), ["P5"], prov(T0 + DAY, run="r2"))
    cov = build_coverage(root, T0 + DAY)
    first, second = cov.artefacts
    assert first.superseded_by == second.seq and second.superseded_by is None
    assert len(cov.principle("P5").artefacts) == 2  # history stays evidence
    assert cov.principle("P5").findings == ()


# -- controls and themes ---------------------------------------------------------------------------


def test_controls_of_p5_show_the_artefact(store: Path) -> None:
    cov = build_coverage(store, T0)
    [artefact] = [a for a in cov.artefacts if a.name == "inventory"]
    for fw, cid in (("iso27001", "A.5.9"), ("soc2", "CC6.1")):
        control = cov.control(fw, cid)
        assert control.status == "fresh"
        assert artefact.path in control.artefacts
    a59 = cov.control("iso27001", "A.5.9")
    assert {(m.principle, m.fit, m.status) for m in a59.links} == {
        ("P5", "primary", "fresh"),
        ("P8", "supporting", "missing"),
    }
    assert cov.control("soc2", "CC8.1").status == "missing"
    assert cov.control("soc2", "CC8.1").artefacts == ()


def test_control_is_stale_when_its_only_evidence_is(store: Path) -> None:
    cov = build_coverage(store, T0 + 10 * DAY)
    assert cov.control("iso27001", "A.5.9").status == "stale"


def test_weak_only_support_is_visible(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    file_one(root, inventory(), ["P13"], prov())
    cc53 = build_coverage(root, T0).control("soc2", "CC5.3")
    assert cc53.status == "fresh" and cc53.evidenced_fit == "weak"
    assert "(weak fit only)" in render(build_coverage(root, T0), "markdown")


def test_extra_framework_and_filed_overrides_are_used(tmp_path: Path) -> None:
    fw_file = tmp_path / "nist.yaml"
    fw_file.write_text(
        "framework: {id: nist-ai-rmf, title: NIST AI RMF}\n"
        "controls:\n  - {id: MAP-4.1, title: Map third-party risks, principles: [P5]}\n",
        encoding="utf-8",
    )
    cat = add_framework_file(load_builtin(), fw_file)
    add = [{"principle": "P5", "framework": "soc2", "control": "CC9.9", "title": "Custom"}]
    cat = apply_mapping_overrides(cat, add, [], "collectors.yaml")
    root = tmp_path / "ev"
    file_one(root, inventory(), ["P5"], prov(), catalog=cat)
    fw_file.unlink()  # the report must not need the config or its files

    cov = build_coverage(root, T0)
    assert cov.control("nist-ai-rmf", "MAP-4.1").status == "fresh"
    assert cov.control("soc2", "CC9.9").status == "fresh"
    doc = json.loads(render(cov, "json"))
    [artefact] = doc["artefacts"]
    assert artefact["controls"]["nist-ai-rmf"] == ["MAP-4.1"]
    assert doc["controls"]["nist-ai-rmf"][0]["principles"] == ["P5"]


def test_themes_keep_every_correction(store: Path) -> None:
    cov = build_coverage(store, T0)
    assert len(cov.themes) == 11
    eol = next(t for t in cov.themes if t.id == "T-end-of-life")
    assert eol.status == "missing" and eol.principles == (("P13", "missing"),)
    cc83 = next(g for g in eol.as_given if g.id == "CC8.3")
    assert cc83.status is None and cc83.correction and "CC8 holds only CC8.1" in cc83.correction
    incident = next(t for t in cov.themes if t.id == "T-incident-management")
    assert [cid for cid, _ in incident.corrections] == ["CC4.2", "A.5.27"]
    supply = next(t for t in cov.themes if t.id == "T-supply-chain")
    assert supply.status == "fresh"


# -- populations and runs --------------------------------------------------------------------------


def test_event_periods_merge_when_contiguous_and_show_the_hole(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    events(root, T0, T0 + DAY)
    events(root, T0 + DAY, T0 + 2 * DAY)
    events(root, T0 + 3 * DAY, T0 + 4 * DAY)
    [pop] = build_coverage(root, T0 + 4 * DAY).populations
    assert pop.instance == "logs" and pop.collector == "local.logs" and pop.artefacts == 3
    assert pop.covered == (Period(T0, T0 + 2 * DAY), Period(T0 + 3 * DAY, T0 + 4 * DAY))
    assert pop.holes == (Period(T0 + 2 * DAY, T0 + 3 * DAY),)


def test_snapshot_instances_have_no_population(store: Path) -> None:
    assert [p.instance for p in build_coverage(store, T0).populations] == ["logs"]


def _run(root: Path, run_id: str, status: str, start: dt.datetime, end: dt.datetime) -> None:
    inst = {"id": "logs", "collector": "local.logs", "status": status}
    summary = {"instances": [{**inst, "period": Period(start, end).to_dict()}]}
    with LocalStore(root) as store:
        file_run_record(store, summary, run_id, end)


def test_successful_run_without_events_covers_its_period(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    events(root, T0, T0 + DAY)
    events(root, T0 + 3 * DAY, T0 + 4 * DAY)
    _run(root, "r-fail", "failed", T0 + DAY, T0 + 2 * DAY)
    _run(root, "r-empty", "ok", T0 + 2 * DAY, T0 + 3 * DAY)
    cov = build_coverage(root, T0 + 4 * DAY)
    [pop] = cov.populations
    assert pop.holes == (Period(T0 + DAY, T0 + 2 * DAY),)
    assert [(r.run, r.count("ok")) for r in cov.runs] == [("r-fail", 0), ("r-empty", 1)]
    text = render(cov, "text")
    assert "not ok: logs (failed)" not in text  # the latest run succeeded
    assert "hole 2026-03-02T12:00:00Z to 2026-03-03T12:00:00Z" in text


@pytest.mark.parametrize(
    ("periods", "covered", "holes"),
    [
        ([], [], []),
        ([(0, 1), (1, 2)], [(0, 2)], []),
        ([(2, 3), (0, 1)], [(0, 1), (2, 3)], [(1, 2)]),
        ([(0, 3), (1, 2), (2, 5)], [(0, 5)], []),
        ([(0, 1), (1, 1), (4, 5)], [(0, 1), (4, 5)], [(1, 4)]),
    ],
)
def test_merge_periods(
    periods: list[tuple[int, int]], covered: list[tuple[int, int]], holes: list[tuple[int, int]]
) -> None:
    def mk(pairs: list[tuple[int, int]]) -> list[Period]:
        return [Period(T0 + a * DAY, T0 + b * DAY) for a, b in pairs]

    merged = merge_periods(mk(periods))
    assert merged == mk(covered)
    assert holes_between(merged) == mk(holes)


# -- the catalogue in the store --------------------------------------------------------------------


def test_catalog_document_round_trips() -> None:
    cat = load_builtin()
    rebuilt = catalog_from_document(json.loads(cat.content()))
    assert rebuilt.sha256() == cat.sha256()
    assert rebuilt.principle("P4").notes == cat.principle("P4").notes


def test_report_uses_the_filed_catalogue(store: Path) -> None:
    cov = build_coverage(store, T0)
    [entry] = [e for e in ledger_entries(store) if e["type"] == "catalog"]
    assert cov.catalog.source == entry["paths"][0]
    assert cov.catalog.sha256 == entry["sha256"]
    assert cov.warnings == ()


def test_store_without_catalogue_falls_back_to_builtin(tmp_path: Path) -> None:
    root = tmp_path / "ev"
    cat = load_builtin()
    with LocalStore(root) as store:
        file_artefact(store, cat, inventory(), ["P5"], prov())
    cov = build_coverage(root, T0)
    assert cov.catalog.source == "builtin"
    assert cov.principle("P5").status == "fresh"
    assert any("built-in" in w for w in cov.warnings)


def test_tampered_catalogue_is_flagged(store: Path) -> None:
    [entry] = [e for e in ledger_entries(store) if e["type"] == "catalog"]
    path = store / entry["paths"][0]
    path.write_bytes(path.read_bytes().replace(b"Inventory of", b"Inventory for"))
    cov = build_coverage(store, T0)
    assert any("does not match its ledger SHA-256" in w for w in cov.warnings)


def test_not_a_store(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        build_coverage(tmp_path, T0)


def test_report_reads_while_a_run_holds_the_lock(store: Path) -> None:
    with LocalStore(store, lock_timeout=0.1):
        assert build_coverage(store, T0).principle("P5").status == "fresh"


def test_naive_now_is_refused(store: Path) -> None:
    with pytest.raises(ValueError):
        build_coverage(store, dt.datetime(2026, 3, 1))


# -- rendering -------------------------------------------------------------------------------------


def test_json_has_the_required_keys_and_real_paths(store: Path) -> None:
    doc = json.loads(render(build_coverage(store, T0), "json"))
    for key in ("artefacts", "principles", "controls", "populations", "themes", "runs"):
        assert key in doc
    assert doc["generated_at"] == "2026-03-01T12:00:00Z"
    assert doc["store"] == str(store)
    lines = (store / "ledger.jsonl").read_bytes().splitlines(keepends=True)
    assert doc["ledger"] == {"entries": len(lines), "head": hashlib.sha256(lines[-1]).hexdigest()}

    inv = next(a for a in doc["artefacts"] if a["instance"] == "inv")
    assert inv["collector"] == "local.ai_inventory"
    assert inv["collected_at"] == "2026-03-01T12:00:00Z"
    assert inv["principles"] == ["P5", "P7"]
    assert inv["path"] == inv["paths"][0] and len(inv["paths"]) == 2
    for rel in inv["paths"]:
        assert hashlib.sha256((store / rel).read_bytes()).hexdigest() == inv["sha256"]
    assert "A.5.9" in inv["controls"]["iso27001"] and "CC6.1" in inv["controls"]["soc2"]
    assert inv["findings"][0]["code"] == "unowned-model"

    p5 = next(p for p in doc["principles"] if p["id"] == "P5")
    assert p5["status"] == "fresh" and p5["title"] == "Identify, track and protect the assets"
    assert all((store / rel).is_file() for rel in p5["artefacts"])
    a59 = next(c for c in doc["controls"]["iso27001"] if c["id"] == "A.5.9")
    assert a59["status"] == "fresh" and a59["principles"] == ["P5", "P8"]
    assert a59["artefacts"] == [inv["path"]]
    assert set(doc["controls"]) == {"iso27001", "soc2"}
    [pop] = doc["populations"]
    assert pop["covered"] == [{"start": "2026-02-28T12:00:00Z", "end": "2026-03-01T12:00:00Z"}]


def test_findings_are_listed_per_principle(store: Path) -> None:
    cov = build_coverage(store, T0)
    for pid, folder in (("P5", "P05-"), ("P7", "P07-")):
        [finding] = cov.principle(pid).findings
        assert finding.code == "unowned-model" and finding.subject == "m1"
        assert finding.path.startswith(folder)
    assert cov.principle("P12").findings == ()
    text = render(cov, "text")
    findings_section = text.split("\nFindings\n", 1)[1].split("\n\n", 1)[0]
    assert "P5 Identify" in findings_section and "unowned-model: model m1 has no owner" in text


def test_markdown_links_evidence_and_shows_corrections(store: Path) -> None:
    cov = build_coverage(store, T0)
    md = render(cov, "markdown")
    inv = next(a for a in cov.artefacts if a.instance == "inv")
    assert "### P5: Identify, track and protect the assets" in md
    assert f"]({inv.path_for('P5')})" in md and f"]({inv.path_for('P7')})" in md
    assert "### ISO/IEC 27001:2022 (`iso27001`)" in md
    assert "no such criterion: CC8 holds only CC8.1" in md
    assert "**CC8.3**" in md
    assert "**high** `unowned-model`: model m1 has no owner" in md
    assert "_No evidence filed: a gap._" in md


def test_text_lists_gaps_and_counts(store: Path) -> None:
    text = render(build_coverage(store, T0 + 10 * DAY), "text")
    gaps = text.split("Gaps: no evidence for\n", 1)[1].split("Stale:", 1)[0]
    assert "P1   Raise awareness" in gaps and "P5" not in gaps
    assert "Stale: evidence older than its freshness window for" in text
    assert "  P5   stale        0     1        1  Identify" in text


def test_output_is_deterministic(store: Path) -> None:
    for fmt in ("text", "markdown", "json"):
        assert render(build_coverage(store, T0), fmt) == render(build_coverage(store, T0), fmt)


def test_unknown_format_is_refused(store: Path) -> None:
    with pytest.raises(ValueError, match="unknown report format"):
        render(build_coverage(store, T0), "pdf")
