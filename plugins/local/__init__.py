"""Offline collectors: a local git repository, document folders, AI assets, a vendor register.

They need no network and no credentials, so a first run works on any laptop, and the demo in
`examples/demo-ai-system` exercises all four.
"""

from __future__ import annotations

from collections.abc import Callable

from evidentia import Collector, hookimpl

from .ai_inventory import AiInventoryCollector
from .files import FilesCollector
from .git import GitCollector
from .vendors import VendorsCollector

COLLECTORS: tuple[type[Collector], ...] = (
    GitCollector,
    FilesCollector,
    AiInventoryCollector,
    VendorsCollector,
)


@hookimpl
def evidentia_register_collectors(register: Callable[[type[Collector]], None]) -> None:
    for cls in COLLECTORS:
        register(cls)
