"""The evidence store: where artefacts are filed, and the ledger that makes them tamper-evident.

`LocalStore` is the folder store (the default). It knows nothing of any source: it takes finished
artefacts with their provenance and files them; `verify` replays the ledger against the folder.
"""

from .filing import Filing
from .local import LocalStore, StoreIndex
from .verify import Discrepancy, verify_store

__all__ = ["Discrepancy", "Filing", "LocalStore", "StoreIndex", "verify_store"]
