"""The CLI end to end: collect, verify, tamper, report; exit codes; crashes; stock-tools verification."""

from __future__ import annotations

import json
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from support import REPO, cli_env, run_cli, write_config

from evidentia.store.readme import STORE_README


def ledger(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "ledger.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """The shipped collectors.yaml, run on this repository into a temporary store."""
    store = tmp_path_factory.mktemp("default") / "evidence"
    done = run_cli("collect", "-c", str(REPO / "collectors.yaml"), "--store", str(store), "--json", cwd=REPO)
    return store, done


def test_default_config_collects_real_evidence_offline(
    default_run: tuple[Path, subprocess.CompletedProcess],
) -> None:
    store, done = default_run
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["exit_code"] == 0
    statuses = {i["id"]: i["status"] for i in summary["instances"]}
    assert statuses and set(statuses.values()) == {"ok"}
    assert summary["totals"]["artefacts"] >= 5
    plugins = {i["collector"] for i in summary["instances"]}
    assert {"local.git", "local.files", "local.ai_inventory", "local.vendors"} <= plugins
    verified = run_cli("verify", str(store), cwd=REPO)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_report_json_lists_artefacts_and_principles(
    default_run: tuple[Path, subprocess.CompletedProcess],
) -> None:
    store, _ = default_run
    out = run_cli("report", "--store", str(store), "--format", "json", cwd=REPO)
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["artefacts"]
    for art in report["artefacts"]:
        assert {"path", "sha256", "instance", "collector", "collected_at", "principles", "findings"} <= set(
            art
        )
        assert set(art["controls"]) >= {"iso27001", "soc2"}
        assert (store / art["path"]).is_file()
    principles = {p["id"]: p for p in report["principles"]}
    assert len(principles) == 13
    assert principles["P5"]["status"] == "fresh" and principles["P5"]["artefacts"]
    assert any(p["status"] == "missing" for p in principles.values())


def test_tampering_of_each_kind_is_named_by_verify(tmp_path: Path) -> None:
    cfg = write_config(tmp_path, "collectors:\n  - {id: echo, plugin: test.echo, params: {count: 3}}\n")
    assert run_cli("collect", "-c", str(cfg), cwd=tmp_path).returncode == 0
    store = tmp_path / "evidence"
    arts = [e for e in ledger(store) if e["type"] == "artefact"]
    changed, deleted = arts[0]["paths"][0], arts[1]["paths"][1]
    target = store / changed
    target.write_bytes(target.read_bytes().replace(b'"i": 0', b'"i": 9'))
    (store / deleted).unlink()
    lines = (store / "ledger.jsonl").read_text().splitlines(keepends=True)
    third = next(i for i, line in enumerate(lines) if '"name":"item-2"' in line)
    edited = lines[third].replace('"severity":"low"', '"severity":"info"').replace('"item-2"', '"item-9"')
    assert edited != lines[third]
    lines[third] = edited  # rewriting history in the middle of the ledger
    (store / "ledger.jsonl").write_text("".join(lines))
    out = run_cli("verify", str(store), cwd=tmp_path)
    assert out.returncode == 1
    found = out.stdout.splitlines()
    assert any(line.startswith(f"changed: {changed}: content SHA-256") for line in found)
    assert any(line.startswith(f"missing: {deleted}") for line in found)
    assert f"chain: ledger.jsonl line {third + 2}: 'prev' does not match" in out.stdout
    # the tampered bytes are hard-linked under both of item-0's principles: both copies are named
    assert sorted(line.split(": ")[0] + ": " + line.split(": ")[1] for line in found) == sorted(
        [
            *(f"changed: {p}" for p in arts[0]["paths"]),
            f"missing: {deleted}",
            "chain: ledger.jsonl line " + str(third + 2),
        ]
    )


def test_exit_codes_distinguish_partial_failure_from_config_error(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        """
        collectors:
          - {id: ok, plugin: test.echo}
          - {id: bad, plugin: test.fail}
    """,
    )
    partial = run_cli("collect", "-c", str(cfg), "--json", cwd=tmp_path)
    assert partial.returncode == 1
    assert {i["id"]: i["status"] for i in json.loads(partial.stdout)["instances"]} == {
        "ok": "ok",
        "bad": "failed",
    }
    broken = write_config(
        tmp_path, "collectors:\n  - {id: x, plugin: test.echo, params: {count: -1}}\n", "b.yaml"
    )
    refused = run_cli("collect", "-c", str(broken), cwd=tmp_path)
    assert refused.returncode == 2
    assert (
        f"{broken}:2: collector 'x': key 'params.count': -1 is less than the minimum of 0" in refused.stderr
    )
    assert not (tmp_path / "evidence" / "ledger.jsonl").read_text().count('"run":"') > 2
    checked = run_cli("check", "-c", str(broken), cwd=tmp_path)
    assert checked.returncode == 2 and "params.count" in checked.stderr


def test_stock_tools_procedure_in_the_store_readme_detects_tampering(tmp_path: Path) -> None:
    if not (shutil.which("jq") and shutil.which("sha256sum") and shutil.which("bash")):
        pytest.skip("jq, sha256sum and bash are needed to run the documented stock-tools procedure")
    cfg = write_config(tmp_path, "collectors:\n  - {id: echo, plugin: test.echo, params: {count: 3}}\n")
    run_cli("collect", "-c", str(cfg), cwd=tmp_path)
    run_cli("collect", "-c", str(cfg), "--force", cwd=tmp_path)  # adds "unchanged" entries too
    store = tmp_path / "evidence"
    script = STORE_README.split("from inside this folder:", 1)[1]
    script = "\n".join(line[4:] for line in script.splitlines())

    def stock() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["bash", "-c", script], cwd=store, capture_output=True, text=True, timeout=60)

    clean = stock()
    assert clean.returncode == 0 and clean.stdout == "" and clean.stderr == "", clean
    victim = store / next(e for e in ledger(store) if e["type"] == "artefact")["paths"][1]
    victim.write_bytes(victim.read_bytes() + b" ")
    (store / "P05-identify-track-and-protect-the-assets" / "echo" / "planted.json").write_text("{}")
    lines = (store / "ledger.jsonl").read_text().splitlines(keepends=True)
    (store / "ledger.jsonl").write_text(
        lines[0] + lines[1].replace('"item-0"', '"item-7"') + "".join(lines[2:])
    )
    dirty = stock()
    assert f"{victim.relative_to(store)}: FAILED" in dirty.stdout
    assert "chain broken before:" in dirty.stdout
    assert "P05-identify-track-and-protect-the-assets/echo/planted.json" in dirty.stdout


def test_sigkill_at_any_moment_leaves_a_store_that_verifies(tmp_path: Path) -> None:
    """Kill collect at several points of a long filing run; verify after each and after recovery."""
    cfg = write_config(
        tmp_path,
        """
        collectors:
          - id: echo
            plugin: test.echo
            params: {count: 5000, size: 300, content: "${NONCE}"}
    """,
    )
    store = tmp_path / "evidence"
    rng = random.Random(2026)
    kills = 0
    for round_no in range(6):
        env = cli_env(NONCE=str(round_no))
        proc = subprocess.Popen(
            [sys.executable, "-m", "evidentia", "collect", "-c", str(cfg), "--force"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.6 + rng.random() * 2.0)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        if not (store / "ledger.jsonl").exists():
            continue
        out = run_cli("verify", str(store), "--json", cwd=tmp_path)
        result = json.loads(out.stdout)
        assert out.returncode == 0, result["discrepancies"]
        assert all(not d["fatal"] for d in result["discrepancies"])
    assert kills >= 3, "the run finished too fast to be interrupted; raise count"
    final = run_cli("collect", "-c", str(cfg), "--force", cwd=tmp_path, env=cli_env(NONCE="final"))
    assert final.returncode == 0, final.stderr
    out = run_cli("verify", str(store), "--json", cwd=tmp_path)
    assert json.loads(out.stdout)["discrepancies"] == []
    entries = ledger(store)
    paths = [p for e in entries if e["type"] == "artefact" for p in e["paths"]]
    assert len(paths) == len(set(paths)), "no file is recorded twice"
    assert not list((store / ".evidentia" / "staging").iterdir())


def test_sigterm_ends_the_run_cleanly_filing_what_was_collected(tmp_path: Path) -> None:
    cfg = write_config(
        tmp_path,
        """
        collectors:
          - {id: slow, plugin: test.echo, params: {count: 200, delay: 0.05}}
          - {id: ev, plugin: test.hang, timeout: 1h}
    """,
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "evidentia", "collect", "-c", str(cfg), "--json"],
        cwd=tmp_path,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(2.0)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    store = tmp_path / "evidence"
    run = [e for e in ledger(store) if e["type"] == "run"][-1]
    assert {i["id"]: i["status"] for i in run["instances"]} == {"slow": "interrupted", "ev": "interrupted"}
    filed = [e for e in ledger(store) if e["type"] == "artefact"]
    assert 0 < len(filed) < 200
    assert run_cli("verify", str(store), cwd=tmp_path).returncode == 0
