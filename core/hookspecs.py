"""Every hook Evidentia calls, each documented as a contract.

Hooks only hand things to the host or are told about events; the host does the work. Implement them
with `evidentia.hookimpl` in a module named by an entry point in the group ``evidentia``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from .collector import Collector
    from .runner import RunSummary
    from .store.filing import Filing

PROJECT = "evidentia"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def evidentia_register_collectors(register: Callable[[type[Collector]], None]) -> None:
    """Register collector classes by calling ``register(CollectorClass)`` once for each.

    :param register: takes a `Collector` subclass. The host validates it (a name, principles that
        exist in the catalogue, a parameter schema) and rejects a name already registered by another
        plugin, naming both plugins.

    Called once, when the plugin manager is built, for every loaded plugin. Return value ignored.
    Do no I/O here: this runs for ``evidentia plugins``, ``check`` and ``schema`` too, which must
    stay fast. Import heavy SDKs inside ``collect``.

    .. versionadded:: 0.1
    """


@hookspec
def evidentia_artefact_filed(filing: Filing) -> None:
    """Be told about each artefact as it is filed in the store.

    :param filing: the ledger entry just written: instance, collector, paths relative to the store,
        SHA-256, principles, mapped controls, findings, and whether it was "unchanged".

    Called in the runner's filing thread after the ledger entry is durable, once per artefact, in
    filing order. Exceptions are logged and do not stop the run. Return value ignored.

    .. versionadded:: 0.1
    """


@hookspec
def evidentia_run_finished(summary: RunSummary) -> None:
    """Be told that a run has ended, with its summary (for notifiers: Slack, e-mail, a ticket).

    :param summary: per-instance status, artefacts filed, requests made, durations, errors (scrubbed
        of secrets), and the run's exit code.

    Called once at the end of ``evidentia collect``, after the run record is filed, also when some
    instances failed. Exceptions are logged and do not change the exit code. Return value ignored.

    .. versionadded:: 0.1
    """
