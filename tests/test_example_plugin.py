"""The third-party path, end to end: a separately installed package found through its entry point.

`examples/evidentia-http-json` is pip-installed like any plugin from PyPI would be; nothing here
imports or registers it. The CLI, in a subprocess with a clean plugin environment, must discover it,
run it against a loopback server that throttles first (so the shared retry policy is exercised
through a real plugin), file what was served with provenance naming the call, and leave a store
that verifies.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from http_server import LoopbackServer, Reply
from support import run_cli, write_config

from evidentia import canonical_json

PACKAGE = "evidentia-http-json"
TOKEN = "inventory-reader-7f3a9c"
DOCUMENT = {"models": [{"id": "fraud-v7", "owner": "ml-risk", "risk": "high"}], "count": 1}


def _installed() -> bool:
    return any(ep.value == "evidentia_http_json" for ep in metadata.entry_points(group="evidentia"))


pytestmark = pytest.mark.skipif(
    not _installed(),
    reason=f"the example plugin is not installed: pip install -e examples/{PACKAGE}",
)


def plugin_env(**extra: str) -> dict[str, str]:
    """Our environment minus EVIDENTIA_* (they add or hide plugins): entry points only."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVIDENTIA_")}
    env.update(extra)
    return env


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


def test_the_plugin_is_discovered_through_its_entry_point(tmp_path: Path) -> None:
    done = run_cli("plugins", "--json", cwd=tmp_path, env=plugin_env(), timeout=60)

    assert done.returncode == 0, done.stderr
    listing = json.loads(done.stdout)
    by_name = {c["name"]: c for c in listing["collectors"]}
    assert "http.json" in by_name, f"not listed; failed plugins: {listing['failed_plugins']}"
    assert by_name["http.json"]["plugin"]["package"] == PACKAGE
    assert by_name["http.json"]["plugin"]["name"] == "http_json"
    assert "http_json" not in listing["failed_plugins"]


def test_a_full_run_files_what_was_served_and_verifies(tmp_path: Path, server: LoopbackServer) -> None:
    server.script("/v1/inventory", Reply.rate_limited(retry_after=1), Reply.json(DOCUMENT))
    url = server.url("/v1/inventory")
    config = write_config(
        tmp_path,
        f"""
        store: evidence
        collectors:
          - id: model-inventory
            plugin: http.json
            principles: [P8]
            params:
              url: {url}
              name: inventory
              token: ${{INVENTORY_TOKEN}}
        """,
    )
    env = plugin_env(INVENTORY_TOKEN=TOKEN)

    done = run_cli("collect", "-c", str(config), "--json", cwd=tmp_path, env=env, timeout=60)

    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(done.stdout)
    [result] = summary["instances"]
    assert (result["id"], result["status"]) == ("model-inventory", "ok"), result["reason"]
    assert result["requests"] == 2  # the 429 and the retry
    assert result["artefacts"] == 1
    served = server.requests_to("/v1/inventory")
    assert [r.header("Authorization") for r in served] == [f"Bearer {TOKEN}"] * 2

    store = tmp_path / "evidence"
    copies = sorted(store.rglob("*--inventory.json"))
    assert len(copies) == 2  # filed under P5 (declared) and P8 (added by the instance)
    for artefact in copies:
        assert artefact.read_bytes() == canonical_json(DOCUMENT)
        meta: dict[str, Any] = json.loads(Path(f"{artefact}.meta.json").read_text("utf-8"))
        assert meta["provenance"]["calls"] == [f"GET {url}"]
        assert meta["provenance"]["source"] == url
        assert meta["provenance"]["plugin"] == {"package": PACKAGE, "version": "0.1.0"}
        assert meta["provenance"]["params"]["token"] != TOKEN
        assert meta["principles"] == ["P5", "P8"]
    leaked = [p for p in store.rglob("*") if p.is_file() and TOKEN.encode() in p.read_bytes()]
    assert leaked == []

    verified = run_cli("verify", str(store), cwd=tmp_path, env=env, timeout=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr
