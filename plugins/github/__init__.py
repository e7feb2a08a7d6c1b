"""GitHub: change records, branch protection, access review, third-party apps and supply chain.

Every collector speaks to github.com or GitHub Enterprise Server through PyGithub's `Requester`
(see `client.py` for why), preferring GraphQL and the largest pages so a large organisation's
nightly run costs tens of requests, not thousands.
"""

from __future__ import annotations

from collections.abc import Callable

from evidentia import Collector, hookimpl

from .access import Access
from .apps import Apps
from .branch_protection import BranchProtection
from .changes import Changes
from .dependencies import Dependencies

COLLECTORS: tuple[type[Collector], ...] = (Changes, Access, Apps, BranchProtection, Dependencies)


@hookimpl
def evidentia_register_collectors(register: Callable[[type[Collector]], None]) -> None:
    for cls in COLLECTORS:
        register(cls)
