"""`evidentia collect` with a github.changes instance against the loopback GitHub, then `verify`.

The token travels from the environment to the server and nowhere else: not into artefacts,
metadata, the ledger, the run record or the command's output.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from github_server import UTC, GitHubServer, synthetic_org
from support import cli_env, run_cli, write_config

TOKEN = "ghp_cliSecretToken0123456789abcdefghijk"


def test_collect_then_verify_and_the_token_is_nowhere_in_the_store(tmp_path: Path) -> None:
    now = dt.datetime.now(UTC)
    org = synthetic_org(repos=4, members=5, pulls=12, days=3, end=now - dt.timedelta(minutes=5))
    with GitHubServer(org, TOKEN, page_cap=5) as gh:
        config = write_config(
            tmp_path,
            f"""
            store: evidence
            collectors:
              - id: org-changes
                plugin: github.changes
                params:
                  org: acme
                  base_url: {gh.base_url}
                  token: ${{GH_LOOPBACK_TOKEN}}
            """,
        )
        env = cli_env(GH_LOOPBACK_TOKEN=TOKEN)
        collected = run_cli("collect", "-c", str(config), "--json", cwd=tmp_path, env=env)
        served = len(gh.seen)
    assert collected.returncode == 0, collected.stderr
    summary = json.loads(collected.stdout)
    [instance] = [i for i in summary["instances"] if i["id"] == "org-changes"]
    assert instance["status"] == "ok" and instance["requests"] == served >= 2
    verified = run_cli("verify", str(tmp_path / "evidence"), cwd=tmp_path, env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr
    store = tmp_path / "evidence"
    [changes] = [p for p in store.rglob("*--changes.json") if "P09" in str(p)]
    items = json.loads(changes.read_text())["items"]
    assert sum(i["type"] == "pull_request" for i in items) == 12
    for path in store.rglob("*"):
        if path.is_file():
            assert TOKEN not in path.read_text(encoding="utf-8", errors="replace"), path
    assert TOKEN not in collected.stdout + collected.stderr + verified.stdout + verified.stderr
