"""Collectors that behave in controlled ways (fail, hang, echo secrets), for runner and CLI tests.

Loaded as a real plugin: in-process through `build_plugin_host(extra=...)`, and by the CLI through
EVIDENTIA_PLUGIN_MODULES=collectors_for_tests with tests/ on PYTHONPATH.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator

from evidentia import Artefact, CollectContext, Collector, Finding, hookimpl

RELEASE = threading.Event()


class Echo(Collector):
    """Files `count` JSON snapshots whose content is `content` (so tests control dedup)."""

    name = "test.echo"
    principles = ("P5", "P8")
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "count": {"type": "integer", "minimum": 0, "default": 1},
            "content": {"type": "string", "default": "same"},
            "size": {"type": "integer", "minimum": 0, "default": 0},
            "delay": {"type": "number", "default": 0},
        },
    }

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        for i in range(ctx.params["count"]):
            ctx.record_call(f"GET /items/{i}")
            if ctx.params["delay"]:
                time.sleep(ctx.params["delay"])
            yield Artefact.json(
                f"item-{i}",
                {"i": i, "content": ctx.params["content"], "pad": "x" * ctx.params["size"]},
                source="test://echo",
                findings=[Finding("odd-item", f"item {i} is odd", "low", subject=str(i))] if i % 2 else [],
            )


class Events(Collector):
    """An event population: one artefact holding the period it was asked for."""

    name = "test.events"
    kind = "events"
    principles = ("P11",)
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {"fail": {"type": "boolean", "default": False}},
    }

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        yield Artefact.json("changes", {"period": ctx.period.to_dict()})
        if ctx.params["fail"]:
            raise RuntimeError("source went away mid-population")


class Fail(Collector):
    name = "test.fail"
    principles = ("P6",)

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        raise ConnectionError("source unreachable: connection refused")
        yield  # pragma: no cover


class Hang(Collector):
    """Blocks without ever checking for cancellation, like a client stuck on a dead socket."""

    name = "test.hang"
    principles = ("P6",)

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        RELEASE.wait(3600)
        yield Artefact.json("late", {"too": "late"})


class Secret(Collector):
    """Echoes its token back, as a careless API might, to prove it never reaches the store."""

    name = "test.secret"
    principles = ("P6",)
    secret_params = ("token",)
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "required": ["token"],
        "properties": {"token": {"type": "string"}},
    }

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        token = ctx.params["token"]
        ctx.log.warning("calling the API with token %s", token)
        ctx.record_call(f"GET /me?access_token={token}")
        yield Artefact.json("me", {"login": "octo", "echoed_token": token, "header": f"Bearer {token}"})
        raise RuntimeError(f"server rejected token {token}")


class Cloudish(Collector):
    """Declares IAM actions and a prose permission, for `evidentia aws-policy`."""

    name = "test.cloudish"
    principles = ("P6",)
    permissions = ("iam:ListUsers", "sts:GetCallerIdentity", "read access to the audit bucket")
    params_schema = {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "accounts": {"type": "array", "items": {"type": "string"}},
            "role_name": {"type": "string"},
            "organization": {"type": "boolean"},
        },
    }

    def collect(self, ctx: CollectContext) -> Iterator[Artefact]:
        yield Artefact.json("nothing", {})


@hookimpl
def evidentia_register_collectors(register: Callable[[type[Collector]], None]) -> None:
    for cls in (Echo, Events, Fail, Hang, Secret, Cloudish):
        register(cls)
