"""`evidentia new-plugin`: the package it writes passes its own test and is found by the host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from support import cli_env, run_cli


def test_scaffolded_plugin_passes_its_test_and_registers(tmp_path: Path) -> None:
    made = run_cli("new-plugin", "acme_console", "--dir", str(tmp_path), cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    root = tmp_path / "evidentia-acme-console"
    assert (root / "pyproject.toml").read_text().count('acme_console = "evidentia_acme_console"') == 1
    env = cli_env(PYTHONPATH=os.pathsep.join([str(root), cli_env()["PYTHONPATH"]]))
    tested = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(root / "tests")],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert tested.returncode == 0 and "1 passed" in tested.stdout, tested.stdout + tested.stderr
    env["EVIDENTIA_PLUGIN_MODULES"] = "evidentia_acme_console"
    listed = run_cli("plugins", "acme_console.inventory", "--json", cwd=root, env=env)
    [info] = json.loads(listed.stdout)["collectors"]
    assert info["principles"] == ["P5"] and info["parameters"][0]["name"] == "path"
    again = run_cli("new-plugin", "acme_console", "--dir", str(tmp_path), cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr
    bad = run_cli("new-plugin", "Acme-Console", cwd=tmp_path)
    assert bad.returncode == 2 and "not a valid module name" in bad.stderr
