"""The one user-facing error type, turned into a clean message and exit code at the CLI edge.

Anything that is the user's to fix (a bad config, a missing store, a broken plugin) is raised as an
`EvidentiaError`; the CLI prints its message and exits with `exit_code`. Real bugs keep their
traceback, so they are not dressed up as user errors.
"""

from __future__ import annotations

EXIT_USAGE = 2


class EvidentiaError(Exception):
    """An error the user can act on; its message is shown as is, without a traceback."""

    exit_code: int = EXIT_USAGE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        text = super().__str__()
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class ConfigError(EvidentiaError):
    """One or more problems in collectors.yaml, each naming file, line and key."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("\n".join(problems))


class CatalogError(EvidentiaError):
    """A malformed catalogue file or mapping."""


class PluginError(EvidentiaError):
    """A plugin could not be loaded or registers something invalid."""


class StoreError(EvidentiaError):
    """The evidence store cannot be used (locked, missing, not a store)."""


class CollectionCancelled(Exception):
    """Raised inside a collector's thread when its time-out has passed; the collector should stop."""
