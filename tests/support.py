"""Shared helpers for the core tests: a plugin host with the test collectors, configs, the CLI."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import collectors_for_tests

from evidentia.collector import Period
from evidentia.plugin_manager import PluginHost, PluginInfo, build_plugin_host
from evidentia.store.records import Provenance

TESTS_DIR = Path(__file__).parent
REPO = TESTS_DIR.parent
TEST_PLUGIN = PluginInfo("tests", "collectors_for_tests", "evidentia-tests", "0")


def make_host() -> PluginHost:
    return build_plugin_host(extra=[(collectors_for_tests, TEST_PLUGIN)])


def write_config(folder: Path, text: str, name: str = "collectors.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def cli_env(**extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS_DIR), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["EVIDENTIA_PLUGIN_MODULES"] = "collectors_for_tests"
    env.update(extra)
    return env


def run_cli(
    *args: str,
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "evidentia", *args],
        cwd=cwd,
        env=env or cli_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def provenance(
    at: dt.datetime,
    *,
    instance: str = "inv",
    collector: str = "local.ai_inventory",
    kind: str = "snapshot",
    period: Period | None = None,
    run: str = "r1",
    stale_after: int = 2 * 86400,
) -> Provenance:
    """What the runner records for a filing, for tests that file through the store directly."""
    return Provenance(
        instance=instance,
        collector=collector,
        collector_version="1",
        plugin="evidentia",
        plugin_version="0.1.0",
        tool_version="0.1.0",
        run_id=run,
        kind=kind,
        collected_at=at,
        period=period or Period(at - dt.timedelta(days=1), at),
        calls=[],
        params={},
        stale_after_seconds=stale_after,
    )
