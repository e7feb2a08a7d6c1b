"""Evidentia: tamper-evident audit evidence for AI systems, filed by ETSI EN 304 223 principle.

The public API for plugin authors is what this module exports; everything else is internal.
"""

from .collector import Artefact, CollectContext, Collector, Finding, Kind, Period, Severity, canonical_json
from .hookspecs import hookimpl

__version__ = "0.1.0"

__all__ = [
    "Artefact",
    "CollectContext",
    "Collector",
    "Finding",
    "Kind",
    "Period",
    "Severity",
    "__version__",
    "canonical_json",
    "hookimpl",
]
