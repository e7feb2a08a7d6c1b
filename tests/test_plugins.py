"""The plugin host: each plugin in its own error boundary, typos caught, duplicates refused."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest
from support import cli_env, run_cli

from evidentia.errors import PluginError
from evidentia.plugin_manager import build_plugin_host

GOOD = """
from evidentia import Collector, hookimpl

class Users(Collector):
    name = "acme.users"
    principles = ("P6",)
    permissions = ("read:users",)

@hookimpl
def evidentia_register_collectors(register):
    register(Users)
"""
TYPO = """
from evidentia import hookimpl

@hookimpl
def evidentia_register_colectors(register):
    pass
"""
RAISES_ON_IMPORT = "raise ImportError('needs libacme 2, found 1')\n"
RAISES_IN_HOOK = """
from evidentia import hookimpl

@hookimpl
def evidentia_register_collectors(register):
    raise RuntimeError("boom")
"""
NOT_A_COLLECTOR = """
from evidentia import hookimpl

@hookimpl
def evidentia_register_collectors(register):
    register(dict)
"""


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, body in {
        "acme_good": GOOD,
        "acme_typo": TYPO,
        "acme_broken": RAISES_ON_IMPORT,
        "acme_hook": RAISES_IN_HOOK,
        "acme_dup": GOOD,
        "acme_wrong": NOT_A_COLLECTOR,
    }.items():
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def host_with(monkeypatch: pytest.MonkeyPatch, *modules: str):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("EVIDENTIA_PLUGIN_MODULES", ",".join(modules))
    return build_plugin_host()


def test_builtin_collectors_come_through_the_entry_point(monkeypatch: pytest.MonkeyPatch) -> None:
    host = host_with(monkeypatch)
    local = [r for r in host.collectors.values() if r.plugin.name == "local"]
    assert local and all(r.plugin.package == "evidentia" for r in local)


def test_each_broken_plugin_is_reported_by_name_and_the_rest_load(
    plugin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    host = host_with(
        monkeypatch, "acme_broken", "acme_typo", "acme_hook", "acme_wrong", "acme_good", "acme_missing"
    )
    assert "acme.users" in host.collectors
    assert host.failures["acme_broken"] == "ImportError: needs libacme 2, found 1"
    assert "invalid hook implementation" in host.failures["acme_typo"]
    assert "evidentia_register_colectors" in host.failures["acme_typo"]
    assert host.failures["acme_hook"] == "evidentia_register_collectors failed: RuntimeError: boom"
    assert "not a Collector subclass" in host.failures["acme_wrong"]
    assert host.failures["acme_missing"].startswith("ModuleNotFoundError")


def test_duplicate_collector_names_are_refused_naming_both(
    plugin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(
        PluginError,
        match=r"'acme.users' is registered by two plugins: acme_good "
        r"\(acme_good\) and acme_dup \(acme_dup\)",
    ):
        host_with(monkeypatch, "acme_good", "acme_dup")


def test_disable_env_var_skips_a_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVIDENTIA_DISABLE_PLUGINS", "local")
    assert not any(r.plugin.name == "local" for r in build_plugin_host().collectors.values())


def test_help_works_and_plugins_lists_failures_with_a_broken_plugin(plugin_dir: Path) -> None:
    env = cli_env(
        EVIDENTIA_PLUGIN_MODULES="acme_broken,acme_good",
        PYTHONPATH=os.pathsep.join([str(plugin_dir), cli_env()["PYTHONPATH"]]),
    )
    helped = run_cli("--help", cwd=plugin_dir, env=env)
    assert helped.returncode == 0 and "collect" in helped.stdout
    listed = run_cli("plugins", "--json", cwd=plugin_dir, env=env)
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    names = {c["name"]: c for c in data["collectors"]}
    assert names["acme.users"]["permissions"] == ["read:users"]
    assert names["acme.users"]["plugin"]["package"] == "acme_good"
    assert data["failed_plugins"] == {"acme_broken": "ImportError: needs libacme 2, found 1"}
    text = run_cli("plugins", cwd=plugin_dir, env=env)
    assert "FAILED plugin acme_broken" in text.stdout


def test_plugins_json_describes_parameters_and_secrets(tmp_path: Path) -> None:
    out = run_cli("plugins", "test.secret", "--json", cwd=tmp_path)
    [info] = json.loads(out.stdout)["collectors"]
    assert info["parameters"] == [{"name": "token", "type": "string", "required": True, "secret": True}]
    assert info["principles"] == ["P6"]
