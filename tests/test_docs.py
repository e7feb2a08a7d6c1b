"""The README is tested against the code: quick start, CLI table, hooks, and the plugin example runs."""

from __future__ import annotations

import datetime as dt
import logging
import re
import types

from http_server import LoopbackServer, Reply
from support import REPO

from evidentia import hookspecs
from evidentia.cli import cli
from evidentia.collector import CollectContext, Period

README = (REPO / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n{title}\n")
    rest = README[start + len(title) + 2 :]
    level = title.split(" ")[0]
    end = re.search(rf"\n{level} ", rest)
    return rest[: end.start()] if end else rest


def test_quick_start_is_exactly_two_commands_and_ci_runs_the_second() -> None:
    blocks = re.findall(r"```sh\n(.*?)```", section("## Quick start"), re.S)
    commands = [b.strip() for b in blocks]
    assert len(commands) == 2 and all("\n" not in c for c in commands)
    install_and_collect, install_and_test = commands
    assert install_and_collect.endswith("evidentia collect")
    assert install_and_test.endswith("python -m pytest")
    ci = (REPO / ".ci" / "run").read_text()
    install = re.search(r"pip install (-e '\.\[test\]' -e \./examples/\S+)", install_and_test)
    assert install and f"pip install -q {install.group(1)}" in ci
    assert "python -m pytest" in ci


def test_every_cli_command_has_a_row_in_the_cli_table() -> None:
    table = section("## The CLI")
    for name in cli.commands:
        assert f"`evidentia {name}" in table, name


def test_every_hook_is_documented() -> None:
    hooks = [n for n in dir(hookspecs) if n.startswith("evidentia_")]
    assert len(hooks) >= 3
    documented = section("### Hooks")
    for name in hooks:
        assert f"`{name}(" in documented, name
        assert getattr(hookspecs, name).__doc__.strip(), f"{name} has no contract docstring"


def test_the_readme_plugin_example_runs_against_a_real_server() -> None:
    code = re.search(r"```python\n(.*?)```", section("## Writing a plugin"), re.S)
    assert code
    module = types.ModuleType("readme_example")
    exec(compile(code.group(1), "README.md", "exec"), module.__dict__)
    users = [
        {"login": "ada", "admin": True, "mfa": False, "api_key": "k-123456"},
        {"login": "bob", "admin": False, "mfa": False, "api_key": "k-654321"},
    ]
    with LoopbackServer() as server:
        base = server.base_url
        server.script("/api/users", Reply.json(users))
        now = dt.datetime.now(dt.timezone.utc)
        ctx = CollectContext(
            instance_id="console",
            params={"url": server.base_url, "token": "t0ken-value"},
            period=Period(now - dt.timedelta(days=1), now),
            logger=logging.getLogger("readme"),
            is_first_run=True,
        )
        [artefact] = list(module.Users().collect(ctx))
        assert server.requests_to("/api/users")[0].header("Authorization") == "Bearer t0ken-value"
    assert [f.subject for f in artefact.findings] == ["ada"]
    assert ctx.calls == [f"GET {base}/api/users"]
    assert module.Users.redact_fields == ("api_key",)
