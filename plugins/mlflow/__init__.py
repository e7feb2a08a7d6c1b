"""MLflow: the model registry as an inventory of models, versions and their training provenance.

Talks to the tracking server's REST API with plain HTTP (no `mlflow` package in the core install),
so it reads open-source MLflow and Databricks-hosted registries alike.
"""

from __future__ import annotations

from collections.abc import Callable

from evidentia import Collector, hookimpl

from .registry import RegistryCollector

COLLECTORS: tuple[type[Collector], ...] = (RegistryCollector,)


@hookimpl
def evidentia_register_collectors(register: Callable[[type[Collector]], None]) -> None:
    for cls in COLLECTORS:
        register(cls)
