"""Helpers for testing collectors, for plugin authors (like pytest's `pytester` or tox's fixtures).

`run_collector` does what the host does before `collect()`: validates the parameters against the
collector's schema, fills defaults, and builds the context with a period; then it returns the
artefacts, so a plugin's test exercises the same contract the runner enforces.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .collector import Artefact, CollectContext, Collector, Period


def make_context(
    collector: type[Collector],
    params: Mapping[str, Any] | None = None,
    *,
    period: Period | None = None,
    base_dir: Path | None = None,
    instance_id: str = "test",
    cache_dir: Path | None = None,
) -> CollectContext:
    """A context with validated parameters (defaults filled), as the runner would build it."""
    from jsonschema import Draft202012Validator

    from .config import resolve_env

    values = dict(params or {})
    for name, prop in collector.params_schema.get("properties", {}).items():
        if name not in values and isinstance(prop, dict) and "default" in prop:
            values[name] = prop["default"]
    values = resolve_env(values, os.environ, (), [])  # `${VAR:-default}` as the runner resolves it
    errors = [e.message for e in Draft202012Validator(collector.params_schema).iter_errors(values)]
    if errors:
        raise ValueError(f"invalid params for {collector.name}: {'; '.join(errors)}")
    now = dt.datetime.now(dt.timezone.utc)
    return CollectContext(
        instance_id=instance_id,
        params=values,
        period=period or Period(now - collector.default_lookback, now),
        logger=logging.getLogger(f"evidentia.test.{instance_id}"),
        is_first_run=True,
        base_dir=base_dir,
        cache_dir=cache_dir,
    )


def run_collector(
    collector: type[Collector],
    params: Mapping[str, Any] | None = None,
    *,
    period: Period | None = None,
    base_dir: Path | None = None,
    cache_dir: Path | None = None,
) -> list[Artefact]:
    """Run a collector to completion with validated parameters and return what it yielded."""
    ctx = make_context(collector, params, period=period, base_dir=base_dir, cache_dir=cache_dir)
    return list(collector().collect(ctx))
