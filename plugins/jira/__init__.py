"""Jira collectors: change tickets with approvals, access reviews, vendors, incidents, risks, any JQL.

Each module lists its collector classes in `COLLECTORS`; the `jira` client is imported only inside
`collect()`, so loading this plugin costs nothing for `evidentia --help` or `evidentia plugins`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from evidentia import Collector, hookimpl

MODULES = ("query", "changes", "access_reviews", "vendors", "incidents", "risks")


@hookimpl
def evidentia_register_collectors(register: Callable[[type[Collector]], None]) -> None:
    for name in MODULES:
        module = importlib.import_module(f"{__name__}.{name}")
        for cls in module.COLLECTORS:
            register(cls)
