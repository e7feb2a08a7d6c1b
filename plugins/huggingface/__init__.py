"""Collectors for the Hugging Face Hub: the third-party models and datasets a machine has cached.

`huggingface.cache` reads the cache folder as `huggingface_hub` lays it out, so it needs neither
network, credentials, nor the library itself.
"""

from __future__ import annotations

from collections.abc import Callable

from evidentia import Collector, hookimpl

from .cache import HuggingFaceCacheCollector

COLLECTORS: tuple[type[Collector], ...] = (HuggingFaceCacheCollector,)


@hookimpl
def evidentia_register_collectors(register: Callable[[type[Collector]], None]) -> None:
    for cls in COLLECTORS:
        register(cls)
