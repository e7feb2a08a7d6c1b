"""Jira: collectors being built (placeholder registering none, so the entry point resolves)."""

from __future__ import annotations

from collections.abc import Callable

from evidentia import Collector, hookimpl

COLLECTORS: tuple[type[Collector], ...] = ()


@hookimpl
def evidentia_register_collectors(register: Callable[[type[Collector]], None]) -> None:
    for cls in COLLECTORS:
        register(cls)
