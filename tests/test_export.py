"""`evidentia export`: the audit pack for a window, verified on its own, by Evidentia and stock tools."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from support import cli_env, run_cli, write_config

from evidentia.export.pack import sha256_file
from evidentia.export.verify_pack import _refuse
from evidentia.store.ledger import GENESIS, line_hash

ECHO = "  - {id: echo, plugin: test.echo, params: {count: 2, content: '${NONCE}'}}\n"
EVENTS = "  - {id: ev, plugin: test.events}\n"
UNMAP = "catalog:\n  unmap:\n    - {principle: P11, framework: soc2, control: CC2.3}\n"


def ledger(store: Path) -> list[dict]:
    return [json.loads(line) for line in (store / "ledger.jsonl").read_text().splitlines()]


def run_starts(store: Path) -> list[str]:
    """The first `recorded_at` of each run, in order (catalogue lines belong to the run after them)."""
    starts: dict[str, str] = {}
    for entry in ledger(store):
        if "run" in entry:
            starts.setdefault(entry["run"], entry["recorded_at"])
    return list(starts.values())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    """Three runs: 1 signed; 2 signed, new content and a changed catalogue; 3 unsigned, unchanged.

    Returns the folder, the owner's public key and the three runs' start times.
    """
    tmp = tmp_path_factory.mktemp("export")
    assert run_cli("keygen", "--out", str(tmp / "keys"), cwd=tmp).returncode == 0
    key = str(tmp / "keys" / "evidentia-signing.key")
    first = write_config(tmp, "collectors:\n" + ECHO + EVENTS, "one.yaml")
    later = write_config(tmp, UNMAP + "collectors:\n" + ECHO + EVENTS, "two.yaml")
    for cfg, nonce, signing in ((first, "a", key), (later, "b", key), (later, "b", None)):
        env = cli_env(NONCE=nonce, **({"EVIDENTIA_SIGNING_KEY": signing} if signing else {}))
        done = run_cli("collect", "-c", str(cfg), "--force", cwd=tmp, env=env)
        assert done.returncode == 0, done.stderr
    return tmp, tmp / "keys" / "evidentia-signing.pub", run_starts(tmp / "evidence")


def export(store: Path, out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli("export", "--store", str(store), "--out", str(out), *args, cwd=out.parent)


def pack_manifest(pack: Path) -> dict:
    with zipfile.ZipFile(pack) as zf:
        return json.loads(zf.read("pack.json"))


def unzip(pack: Path, folder: Path) -> Path:
    with zipfile.ZipFile(pack) as zf:
        zf.extractall(folder)
    return folder


def verify(target: Path, *extra: str, cwd: Path) -> tuple[int, dict]:
    done = run_cli("verify", str(target), "--json", *extra, cwd=cwd)
    return done.returncode, json.loads(done.stdout)


def fatal(result: dict) -> list[str]:
    return [f"{d['kind']}: {d['where']}: {d['message']}" for d in result["discrepancies"] if d["fatal"]]


def test_a_window_holds_its_filings_the_snapshots_in_force_and_the_catalogue_and_links_to_the_chain(
    built: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    tmp, public, starts = built
    store = tmp / "evidence"
    pack = tmp_path / "pack.zip"
    done = export(store, pack, "--from", starts[2], "--to", "2100-01-01")
    assert done.returncode == 0, done.stderr
    entries = ledger(store)
    run_ids = list(dict.fromkeys(e["run"] for e in entries if "run" in e))
    by_seq = {e["seq"]: e for e in entries}
    manifest = pack_manifest(pack)
    why = {e["seq"]: e["why"] for e in manifest["entries"]}

    in_run = {r: {e["seq"] for e in entries if e.get("run") == r} for r in run_ids}
    assert in_run[run_ids[2]] <= set(why), "everything run 3 filed is in the window"
    echo_run2 = {s for s in in_run[run_ids[1]] if by_seq[s].get("instance") == "echo"}
    assert len(echo_run2) == 2
    assert {s: why[s] for s in echo_run2} == dict.fromkeys(
        echo_run2, "snapshot in force at the window's start"
    )
    catalogues = [e["seq"] for e in entries if e["type"] == "catalog"]
    assert len(catalogues) == 2 and why[catalogues[1]] == "catalogue in force at the window's start"
    left_out = in_run[run_ids[0]] | {s for s in in_run[run_ids[1]] if by_seq[s].get("instance") == "ev"}
    assert not left_out & set(why), "run 1 and run 2's event population are outside the window"
    assert catalogues[0] not in why

    segment = manifest["segment"]
    assert segment["first_seq"] == catalogues[1] > 1
    lines = (store / "ledger.jsonl").read_bytes().splitlines(keepends=True)
    assert segment["prev"] == line_hash(lines[segment["first_seq"] - 2]) != GENESIS
    with zipfile.ZipFile(pack) as zf:
        assert zf.read("ledger.jsonl") == b"".join(lines[segment["first_seq"] - 1 : segment["last_seq"]])
        names = set(zf.namelist())
        assert all(
            i.date_time == (1980, 1, 1, 0, 0, 0) and i.external_attr >> 16 == 0o100644 for i in zf.infolist()
        )
    evidence = {f for e in manifest["entries"] for f in e["files"]}
    generated = {"README.md", "pack.json", "SHA256SUMS", "index.html", "index.json", "ledger.jsonl"}
    run2_signed = max(s for s in in_run[run_ids[1]])  # run 2's record: the last line it signed
    signature = manifest["signature"]
    assert signature["state"] == "partly signed" and signature["covers_seq"] is None
    [statement] = [f for f in signature["files"] if f.endswith(".json")]
    assert statement.startswith(f"signatures/{run2_signed:010d}-"), "run 2's signature, inside the segment"
    assert names - generated - evidence == set(signature["files"])

    empty = tmp_path / "cwd"
    empty.mkdir()
    code, result = verify(pack, "--public-key", str(public), cwd=empty)
    assert code == 0, fatal(result)
    assert list(empty.iterdir()) == [], "verify unpacks privately, never into the working folder"
    warning, still_open = result["discrepancies"]
    assert warning["kind"] == "unsigned" and not warning["fatal"]
    assert warning["where"] == f"ledger.jsonl lines {run2_signed + 1}-{segment['last_seq']}"
    assert result["signature"]["signed_seq"] == run2_signed
    assert still_open["kind"] == "window" and not still_open["fatal"]
    assert still_open["message"].startswith(
        f"the newest signature was made at {result['signature']['signed_at']}, before the window's end "
        "2100-01-01T00:00:00Z: the pack cannot show that nothing more was filed in between"
    )


def test_a_signed_window_verifies_with_the_owners_key_by_evidentia_and_by_stock_tools(
    built: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    tmp, public, starts = built
    pack = tmp_path / "pack.zip"
    assert export(tmp / "evidence", pack, "--from", starts[1], "--to", starts[2]).returncode == 0
    manifest = pack_manifest(pack)
    run2_record = max(e["seq"] for e in manifest["entries"] if e["type"] == "run")
    assert manifest["signature"]["state"] == "signed" and manifest["signature"]["covers_seq"] == run2_record
    assert manifest["segment"]["last_seq"] == run2_record
    code, result = verify(pack, "--public-key", str(public), cwd=tmp_path)
    assert code == 0, result["discrepancies"]
    [still_open] = result["discrepancies"]  # run 3, after the window, did not sign
    assert (still_open["kind"], still_open["fatal"]) == ("window", False)
    assert result["signature"]["origin"] == "public key given"
    folder = unzip(pack, tmp_path / "pack")
    code, result = verify(folder, "--public-key", str(public), cwd=tmp_path)
    assert code == 0 and result["signature"]["state"] == "valid"
    assert run_cli("keygen", "--out", str(tmp_path / "other"), cwd=tmp_path).returncode == 0
    code, result = verify(
        pack, "--public-key", str(tmp_path / "other" / "evidentia-signing.pub"), cwd=tmp_path
    )
    assert code == 1 and any("not by the given public key" in m for m in fatal(result))

    missing = [t for t in ("bash", "jq", "sha256sum", "openssl") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed: the pack README's stock procedure cannot run")
    readme = (folder / "README.md").read_text()
    script = re.search(r"```sh\n(.*?)```", readme, re.S)
    assert script is not None

    def stock() -> subprocess.CompletedProcess[str]:
        env = {**cli_env(), "KEY": str(public)}
        return subprocess.run(
            ["bash", "-c", script.group(1)], cwd=folder, env=env, capture_output=True, text=True
        )

    clean = stock()
    assert clean.returncode == 0 and clean.stdout == "" and clean.stderr == "", clean
    victim = next(folder.glob("P05-*/echo/*.json.meta.json"))
    victim.write_bytes(victim.read_bytes().replace(b'"size"', b'"Size"'))
    planted = folder / "P05-identify-track-and-protect-the-assets" / "echo" / "planted.json"
    planted.write_text("{}")
    lines = (folder / "ledger.jsonl").read_bytes().splitlines(keepends=True)
    (folder / "ledger.jsonl").write_bytes(b"".join([lines[0].replace(b'"type"', b'"type" '), *lines[1:]]))
    dirty = stock()
    assert f"{victim.relative_to(folder)}: FAILED" in dirty.stdout
    assert "P05-identify-track-and-protect-the-assets/echo/planted.json" in dirty.stdout
    assert "chain broken before:" in dirty.stdout
    assert f"ledger line {manifest['signature']['covers_seq']} is not the line signed" not in dirty.stdout
    assert "signature does not verify" not in dirty.stdout  # the statement itself is untouched


@pytest.mark.parametrize("flag", [("--principle", "p11"), ("--control", "A.8.8")])
def test_principle_and_control_filters_pick_only_their_evidence(
    built: tuple[Path, Path, list[str]], tmp_path: Path, flag: tuple[str, str]
) -> None:
    tmp, _, starts = built
    store = tmp / "evidence"
    entries = ledger(store)
    echo_controls = {
        c for e in entries if e.get("instance") == "echo" for ids in e["controls"].values() for c in ids
    }
    assert "A.8.8" not in echo_controls, "the control filter test needs a control only P11 maps to"
    pack = tmp_path / "pack.zip"
    assert export(store, pack, "--from", starts[1], "--to", "2100-01-01", *flag).returncode == 0
    manifest = pack_manifest(pack)
    picked = {e["seq"]: e for e in manifest["entries"]}
    by_seq = {e["seq"]: e for e in entries}
    artefacts = {s for s in picked if by_seq[s]["type"] in ("artefact", "unchanged")}
    ev_in_window = {e["seq"] for e in entries if e.get("instance") == "ev" and e["recorded_at"] >= starts[1]}
    assert artefacts == ev_in_window and len(ev_in_window) == 2
    assert (
        manifest["filters"] == {"principles": ["P11"], "controls": []}
        if flag[0] == "--principle"
        else {
            "principles": [],
            "controls": ["A.8.8"],
        }
    )
    with zipfile.ZipFile(pack) as zf:
        assert not [n for n in zf.namelist() if n.startswith(("P05-", "P08-"))]
    code, result = verify(pack, cwd=tmp_path)
    assert code == 0, fatal(result)


def test_export_is_byte_identical_and_never_overwrites(
    built: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    tmp, _, starts = built
    store = tmp / "evidence"
    one, two = tmp_path / "one.zip", tmp_path / "two.zip"
    assert export(store, one, "--from", starts[0][:10], "--to", "2100-01-01").returncode == 0
    old = os.umask(0o077)  # the child inherits it: another user's shell, another time zone
    try:
        args = ("--store", str(store), "--out", str(two), "--from", starts[0][:10], "--to", "2100-01-01")
        assert run_cli("export", *args, cwd=tmp_path, env=cli_env(TZ="Pacific/Chatham")).returncode == 0
    finally:
        os.umask(old)
    assert one.read_bytes() == two.read_bytes()
    with zipfile.ZipFile(one) as zf:
        infos = zf.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    assert {(i.date_time, i.external_attr >> 16, i.compress_type, i.extra) for i in infos} == {
        ((1980, 1, 1, 0, 0, 0), 0o100644, zipfile.ZIP_DEFLATED, b"")
    }
    again = export(store, one, "--from", starts[0][:10], "--to", "2100-01-01")
    assert again.returncode == 2 and "already exists; refusing to overwrite it" in again.stderr
    bad = export(store, tmp_path / "x.zip", "--from", "last tuesday", "--to", "2100-01-01")
    assert bad.returncode == 2 and "--from 'last tuesday' is not a date" in bad.stderr
    empty = export(store, tmp_path / "y.zip", "--from", "2000-01-01", "--to", "2000-02-01")
    assert empty.returncode == 2 and "nothing was filed between 2000-01-01T00:00:00Z" in empty.stderr


def _tamper(folder: Path, how: str) -> str:
    """Change the unzipped pack one way; return what verify must then say."""
    manifest = json.loads((folder / "pack.json").read_bytes())
    item = next(
        e for e in manifest["entries"] if e["why"] == "filed in the window" and e["type"] == "artefact"
    )
    content = item["files"][0]
    if how == "evidence":
        (folder / content).write_bytes((folder / content).read_bytes() + b" ")
        return f"changed: {content}: content SHA-256"
    if how == "dropped":  # leave an artefact out, and cover the tracks in pack.json and SHA256SUMS
        for rel in item["files"]:
            (folder / rel).unlink()
        manifest["entries"].remove(item)
        (folder / "pack.json").write_text(json.dumps(manifest))
        sums = (folder / "SHA256SUMS").read_text().splitlines(keepends=True)
        kept = [
            line for line in sums if line.split("  ", 1)[1].strip() not in set(item["files"]) | {"pack.json"}
        ]
        (folder / "SHA256SUMS").write_text("".join(kept))
        return (
            f"pack: ledger.jsonl line {item['seq']}: filed in the window, but its files are not in the pack"
        )
    if how == "extra":
        (folder / "P11-extra.txt").write_text("planted")
        return "unrecorded: P11-extra.txt: in the pack but not part of it"
    if how == "ledger":
        lines = (folder / "ledger.jsonl").read_bytes().splitlines(keepends=True)
        lines[1] = lines[1].replace(b'"type"', b'"type" ')
        (folder / "ledger.jsonl").write_bytes(b"".join(lines))
        return f"chain: ledger.jsonl line {manifest['segment']['first_seq'] + 2}: 'prev' does not match"
    if how == "link":  # claim the segment links to a different earlier chain
        manifest["segment"]["prev"] = "1" * 64
        (folder / "pack.json").write_text(json.dumps(manifest))
        return f"chain: ledger.jsonl line {manifest['segment']['first_seq']}: 'prev' does not match"
    if how == "filters":  # pack.json claims a narrower pack than the one exported (SHA256SUMS redone)
        manifest["filters"]["principles"] = ["P11"]
        (folder / "pack.json").write_text(json.dumps(manifest))
        sums = [
            line if not line.endswith("  pack.json") else f"{sha256_file(folder / 'pack.json')}  pack.json"
            for line in (folder / "SHA256SUMS").read_text().splitlines()
        ]
        (folder / "SHA256SUMS").write_text("\n".join(sums) + "\n")
        return f"pack: pack.json: lists ledger line {item['seq']}, which its window and filters do not pick"
    assert how == "readme"
    (folder / "README.md").write_text("all is well, do not check anything")
    return "changed: README.md: SHA-256 differs from SHA256SUMS"


@pytest.mark.parametrize("how", ["evidence", "dropped", "extra", "ledger", "link", "filters", "readme"])
def test_tampering_inside_the_pack_is_named(
    built: tuple[Path, Path, list[str]], tmp_path: Path, how: str
) -> None:
    tmp, _, starts = built
    pack = tmp_path / "pack.zip"
    assert export(tmp / "evidence", pack, "--from", starts[1], "--to", starts[2]).returncode == 0
    folder = unzip(pack, tmp_path / "pack")
    expected = _tamper(folder, how)
    code, result = verify(folder, cwd=tmp_path)
    assert code == 1
    assert any(m.startswith(expected) for m in fatal(result)), fatal(result)
    rezipped = tmp_path / "tampered.zip"
    with zipfile.ZipFile(rezipped, "w") as zf:
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            zf.write(path, path.relative_to(folder).as_posix())
    code, result = verify(rezipped, cwd=tmp_path)
    assert code == 1 and any(m.startswith(expected) for m in fatal(result))


def test_a_zip_with_an_unsafe_path_is_refused_without_extracting(tmp_path: Path) -> None:
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("pack.json", "{}")
        zf.writestr("../escaped.txt", "x")
    code, result = verify(evil, cwd=tmp_path)
    assert code == 1
    assert fatal(result) == ["pack: ../escaped.txt: unsafe path in the zip; nothing was extracted"]
    assert not (tmp_path.parent / "escaped.txt").exists()


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize(
    "names",
    [["pack.json", "/etc/passwd"], ["pack.json", "a/./b"], ["pack.json", "a//b"], ["pack.json", "pack.json"]],
)
def test_a_zip_with_an_absolute_odd_or_duplicate_name_is_refused(tmp_path: Path, names: list[str]) -> None:
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        for name in names:
            info = zipfile.ZipInfo("x")
            info.filename = name  # ZipInfo() would strip a leading '/': write what a hostile tool writes
            zf.writestr(info, "{}")
    code, result = verify(evil, cwd=tmp_path)
    assert code == 1
    [problem] = fatal(result)
    assert problem.startswith(f"pack: {names[1]}: ") and problem.endswith("; nothing was extracted")
    assert ("twice" in problem) == (names[1] == "pack.json")


def test_a_zip_bomb_and_a_link_are_refused_before_extraction(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("pack.json", b"\0" * (4 << 20))  # 4 MiB of zeros deflate to a few KiB
    assert bomb.stat().st_size < 64 << 10
    with zipfile.ZipFile(bomb) as zf:
        problem = _refuse(zf.infolist(), free=1 << 20)
    assert (
        problem is not None and "would unpack to 4194304 bytes, more than the 1048576 free" in problem.message
    )
    link = tmp_path / "link.zip"
    with zipfile.ZipFile(link, "w") as zf:
        info = zipfile.ZipInfo("ledger.jsonl")
        info.external_attr = (0o120777) << 16
        zf.writestr(info, "/etc/passwd")
    code, result = verify(link, cwd=tmp_path)
    assert code == 1 and fatal(result) == ["pack: ledger.jsonl: a link in the zip; nothing was extracted"]


def test_an_unzipped_pack_with_a_file_swapped_for_a_link_is_named(
    built: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    """Same bytes, elsewhere: SHA256SUMS still matches, but the pack is no longer what was exported."""
    tmp, _, starts = built
    pack = tmp_path / "pack.zip"
    assert export(tmp / "evidence", pack, "--from", starts[1], "--to", starts[2]).returncode == 0
    folder = unzip(pack, tmp_path / "pack")
    outside = tmp_path / "README-elsewhere.md"
    shutil.move(folder / "README.md", outside)
    (folder / "README.md").symlink_to(outside)
    code, result = verify(folder, cwd=tmp_path)
    assert code == 1 and fatal(result) == ["changed: README.md: is a link, not a file of the pack"]


def test_a_signature_made_after_the_window_closes_it_and_a_widened_window_is_named(
    built: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    """Run 2 signed after window [run 1, run 2): the segment reaches its head, so nothing can be missing.

    pack.json is not signed: stretching its window past that signature is then the one warning.
    """
    tmp, public, starts = built
    pack = tmp_path / "pack.zip"
    assert export(tmp / "evidence", pack, "--from", starts[0], "--to", starts[1]).returncode == 0
    manifest = pack_manifest(pack)
    run2_record = sorted(e["seq"] for e in ledger(tmp / "evidence") if e["type"] == "run")[1]
    assert manifest["signature"]["covers_seq"] == manifest["segment"]["last_seq"] == run2_record
    assert manifest["segment"]["window_last_seq"] < run2_record
    code, result = verify(pack, "--public-key", str(public), cwd=tmp_path)
    assert code == 0 and result["discrepancies"] == [], result["discrepancies"]
    text = run_cli("verify", str(pack), "--public-key", str(public), cwd=tmp_path)
    window, segment = manifest["window"], manifest["segment"]
    assert (
        f"audit pack: window {window['from']} to {window['to']} (excluded), "
        f"ledger lines {segment['first_seq']}-{segment['last_seq']}"
    ) in text.stderr

    folder = unzip(pack, tmp_path / "pack")
    manifest["window"]["to"] = "2100-01-01T00:00:00Z"
    (folder / "pack.json").write_text(json.dumps(manifest))
    code, result = verify(folder, "--public-key", str(public), cwd=tmp_path)
    assert code == 1, "SHA256SUMS still names the exported pack.json"
    warnings = [d for d in result["discrepancies"] if d["kind"] == "window"]
    assert [d["fatal"] for d in warnings] == [False]
    assert "before the window's end 2100-01-01T00:00:00Z" in warnings[0]["message"]
