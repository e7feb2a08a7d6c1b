"""Collectors for mlflow (being written)."""

from __future__ import annotations

from collections.abc import Callable

from evidentia import Collector, hookimpl


@hookimpl
def evidentia_register_collectors(register: Callable[[type[Collector]], None]) -> None:
    pass
