"""The folder store: layout by principle, dedup of unchanged snapshots, the chain, and verify."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import os
from pathlib import Path

import pytest

from evidentia.catalog import load_builtin
from evidentia.collector import Artefact, Finding, Period
from evidentia.errors import StoreError
from evidentia.store.ledger import GENESIS, line_hash
from evidentia.store.local import LocalStore
from evidentia.store.records import Provenance, file_artefact, file_catalog_if_changed
from evidentia.store.verify import verify_store

NOW = dt.datetime(2026, 11, 23, 20, 0, tzinfo=dt.timezone.utc)
CATALOG = load_builtin()


def prov(instance: str = "inv", kind: str = "snapshot", at: dt.datetime = NOW) -> Provenance:
    return Provenance(
        instance=instance,
        collector="test.echo",
        collector_version="1",
        plugin="tests",
        plugin_version="0",
        tool_version="0.1.0",
        run_id="r1",
        kind=kind,
        collected_at=at,
        period=Period(at - dt.timedelta(days=1), at),
        calls=["GET /x"],
        params={"a": 1},
        stale_after_seconds=86400,
    )


def file_one(root: Path, artefact: Artefact, principles: list[str], p: Provenance | None = None) -> bool:
    with LocalStore(root) as store:
        file_catalog_if_changed(store, CATALOG, NOW)
        unchanged, _ = file_artefact(store, CATALOG, artefact, principles, p or prov())
    return unchanged


def ledger(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "ledger.jsonl").read_text().splitlines()]


def problems(root: Path) -> list[str]:
    return [str(d) for d in verify_store(root).discrepancies]


def test_artefact_is_filed_under_each_principle_with_metadata(tmp_path: Path) -> None:
    art = Artefact.json(
        "inventory",
        {"models": ["a"]},
        source="file:///srv/models",
        findings=[Finding("unsafe", "pickle", "high", "a.pkl")],
    )
    file_one(tmp_path, art, ["P8", "P5"])
    entry = next(e for e in ledger(tmp_path) if e["type"] == "artefact")
    assert [p.split("/")[0] for p in entry["paths"]] == [
        "P05-identify-track-and-protect-the-assets",
        "P08-document-data-models-and-prompts",
    ]
    assert all(p.endswith("/inv/20261123T200000Z--inventory.json") for p in entry["paths"])
    for rel in entry["paths"]:
        assert (tmp_path / rel).read_bytes() == art.content
    meta = json.loads((tmp_path / entry["meta_path"]).read_bytes())
    assert meta["artefact"]["sha256"] == hashlib.sha256(art.content).hexdigest()
    assert meta["provenance"]["calls"] == ["GET /x"]
    assert meta["provenance"]["collector"] == {"name": "test.echo", "version": "1"}
    assert "A.5.9" in meta["controls"]["iso27001"] and "CC2.1" in meta["controls"]["soc2"]
    assert meta["findings"][0]["code"] == "unsafe"
    assert ":" not in "".join(entry["paths"])
    assert verify_store(tmp_path).ok


def test_identical_snapshot_is_recorded_unchanged_not_stored_twice(tmp_path: Path) -> None:
    art = Artefact.json("state", {"x": 1})
    assert file_one(tmp_path, art, ["P5"]) is False
    assert file_one(tmp_path, art, ["P5"], prov(at=NOW + dt.timedelta(days=1))) is True
    assert file_one(tmp_path, Artefact.json("state", {"x": 2}), ["P5"]) is False
    types = [e["type"] for e in ledger(tmp_path)]
    assert types == ["catalog", "artefact", "unchanged", "artefact"]
    unchanged = ledger(tmp_path)[2]
    assert unchanged["same_as"] == 2 and unchanged["paths"] == ledger(tmp_path)[1]["paths"]
    files = [f for f in tmp_path.rglob("*--state*.json") if not f.name.endswith(".meta.json")]
    assert len(files) == 2
    assert verify_store(tmp_path).ok


def test_chain_links_each_line_to_the_previous_lines_bytes(tmp_path: Path) -> None:
    for i in range(3):
        file_one(tmp_path, Artefact.json(f"a{i}", {"i": i}), ["P1"])
    lines = (tmp_path / "ledger.jsonl").read_bytes().splitlines(keepends=True)
    assert json.loads(lines[0])["prev"] == GENESIS
    for before, line in itertools.pairwise(lines):
        assert json.loads(line)["prev"] == line_hash(before)
    assert [json.loads(x)["seq"] for x in lines] == [1, 2, 3, 4]


@pytest.fixture
def filled(tmp_path: Path) -> Path:
    file_one(tmp_path, Artefact.json("one", {"v": 1}), ["P5", "P7"])
    file_one(tmp_path, Artefact.json("two", {"v": 2}), ["P6"])
    assert verify_store(tmp_path).ok
    return tmp_path


def artefact_paths(root: Path) -> list[str]:
    return [p for e in ledger(root) if e["type"] == "artefact" for p in e["paths"]]


def test_verify_names_a_changed_byte(filled: Path) -> None:
    target = filled / artefact_paths(filled)[-1]
    data = bytearray(target.read_bytes())
    data[3] ^= 1
    os.chmod(target, 0o644)
    target.write_bytes(bytes(data))
    found = problems(filled)
    assert len(found) == 1 and found[0].startswith(f"changed: {artefact_paths(filled)[-1]}")


def test_verify_names_a_deleted_file_and_a_planted_one(filled: Path) -> None:
    gone = artefact_paths(filled)[0]
    (filled / gone).unlink()
    planted = filled / "P05-identify-track-and-protect-the-assets" / "inv" / "backdated.json"
    planted.write_text("{}")
    found = problems(filled)
    assert any(p.startswith(f"missing: {gone}") for p in found)
    assert any(
        p.startswith("unrecorded: P05-identify-track-and-protect-the-assets/inv/backdated.json")
        for p in found
    )


def test_verify_names_an_edited_metadata_record(filled: Path) -> None:
    meta = next(e["meta_path"] for e in ledger(filled) if e["type"] == "artefact")
    path = filled / meta
    path.write_text(path.read_text().replace('"P5"', '"P6"'))
    assert any(p.startswith(f"changed: {meta}: metadata record") for p in problems(filled))


def test_verify_names_an_edited_ledger_line(filled: Path) -> None:
    ledger_path = filled / "ledger.jsonl"
    lines = ledger_path.read_text().splitlines(keepends=True)
    entry = json.loads(lines[1])
    entry["principles"] = ["P1"]  # rewriting history, hashes left alone
    lines[1] = json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
    ledger_path.write_text("".join(lines))
    found = problems(filled)
    assert found == ["chain: ledger.jsonl line 3: 'prev' does not match the SHA-256 of the line before"]


def test_verify_names_a_removed_ledger_line(filled: Path) -> None:
    ledger_path = filled / "ledger.jsonl"
    lines = ledger_path.read_text().splitlines(keepends=True)
    ledger_path.write_text(lines[0] + lines[2])
    found = problems(filled)
    assert any(p.startswith("chain: ledger.jsonl line 2") for p in found)
    assert any(p.startswith("unrecorded: ") for p in found)  # the removed entry's files


def test_verify_rejects_ledger_paths_outside_the_store(filled: Path) -> None:
    ledger_path = filled / "ledger.jsonl"
    lines = ledger_path.read_text().splitlines(keepends=True)
    entry = json.loads(lines[-1])
    entry.update(paths=["../../etc/passwd"], prev=line_hash(lines[-2].encode()))
    lines[-1] = json.dumps(entry, sort_keys=True, separators=(",", ":")) + "\n"
    ledger_path.write_text("".join(lines))
    assert any("outside the evidence folders" in p for p in problems(filled))


def test_second_writer_is_refused_while_the_lock_is_held(tmp_path: Path) -> None:
    with LocalStore(tmp_path), pytest.raises(StoreError, match="another run holds the lock"):
        LocalStore(tmp_path, lock_timeout=0.3).open()


def test_same_second_same_name_gets_distinct_paths(tmp_path: Path) -> None:
    with LocalStore(tmp_path) as store:
        file_catalog_if_changed(store, CATALOG, NOW)
        file_artefact(store, CATALOG, Artefact.json("x", {"a": 1}), ["P5"], prov())
        file_artefact(store, CATALOG, Artefact.json("x", {"a": 2}), ["P5"], prov())
    paths = artefact_paths(tmp_path)
    assert len(set(paths)) == 2 and paths[1].endswith("--x-2.json")
    assert verify_store(tmp_path).ok


def test_torn_ledger_tail_is_repaired_and_pending_batch_rolled_forward(tmp_path: Path) -> None:
    """The state a crash leaves between moving files into place and appending the ledger."""
    file_one(tmp_path, Artefact.json("kept", {"v": 1}), ["P5"])
    store = LocalStore(tmp_path)
    store.open()
    file_artefact(store, CATALOG, Artefact.json("late", {"v": 2}), ["P5"], prov())
    batch = store._batch
    items = [store._stage(item) for item in batch]
    (store.tool_dir / "pending.json").write_text(json.dumps({"items": items}))
    for item in items:
        store._place_files(item["body"], item["staged"])
    with (tmp_path / "ledger.jsonl").open("ab") as fh:
        fh.write(b'{"seq": 3, "torn')
    store._batch = []
    store.close()
    interim = verify_store(tmp_path)
    assert interim.ok, interim.discrepancies
    assert {d.kind for d in interim.discrepancies} == {"ledger", "interrupted"}
    with LocalStore(tmp_path) as reopened:
        assert reopened.recovered == 1
    assert verify_store(tmp_path).discrepancies == []
    assert [e["name"] for e in ledger(tmp_path) if e["type"] == "artefact"] == ["kept", "late"]
