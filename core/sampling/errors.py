"""The one error `evidentia sample` raises: a `StoreError`, so the CLI shows it without a traceback."""

from __future__ import annotations

from ..errors import StoreError


class SamplingError(StoreError):
    """The population cannot be sampled as asked (unknown instance, snapshots, nothing in the window)."""
